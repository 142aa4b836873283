package scenarios

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process the tests start, stop and restart; its output goes to E2E_TMP/<name>.log
// (appended across restarts, so a fault test can count what KEDA logged over all of them).
type proc struct {
	name string
	args []string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	procsMu sync.Mutex
	procs   []*proc
)

func (p *proc) logPath() string { return filepath.Join(e.tmp, p.name+".log") }

func (p *proc) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("starting %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		log.Close()
		close(done)
	}(p.cmd, p.done)
	procsMu.Lock()
	defer procsMu.Unlock()
	for _, q := range procs {
		if q == p {
			return
		}
	}
	procs = append(procs, p)
}

// stop sends SIGTERM, then SIGKILL after 10 s; it returns once the process has exited.
func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// logText is everything the process wrote so far.
func (p *proc) logText() string {
	b, _ := os.ReadFile(p.logPath())
	return string(b)
}

// logTail is for failure messages.
func (p *proc) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(p.logText(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func stopAll() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// awaitListening waits until addr accepts TCP connections (or the process died).
func awaitListening(t *testing.T, p *proc, addr string, timeout time.Duration) {
	t.Helper()
	await(t, fmt.Sprintf("%s listening on %s", p.name, addr), timeout, func() (bool, error) {
		if !p.running() {
			t.Fatalf("%s exited:\n%s", p.name, p.logTail(30))
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
}

package scenarios

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// loopbackNetns is a network namespace the test creates, with only its loopback interface up,
// for a program that listens on every interface (Crossplane core binds its metrics and health
// ports to ":port") or would reach the Internet (its package manager pulls images): inside it
// those reach nothing but the namespace's own loopback. One listener in it, on 127.0.0.1,
// forwards each connection to an address on the host's loopback (the API server).
type loopbackNetns struct {
	file *os.File     // the namespace, open for nsenter --net=/proc/<pid>/fd/<fd>
	ln   net.Listener // in the namespace
	wg   sync.WaitGroup
}

// nsenterArgs runs a command in the namespace (nsenter execs it: the process is the command).
func (n *loopbackNetns) nsenterArgs(cmd ...string) []string {
	return append([]string{"nsenter", fmt.Sprintf("--net=/proc/%d/fd/%d", os.Getpid(), n.file.Fd()), "--"}, cmd...)
}

// addr is the forwarding listener's address, as seen from inside the namespace.
func (n *loopbackNetns) addr() string { return n.ln.Addr().String() }

// newLoopbackNetns makes the namespace on a thread of its own: unshare(CLONE_NEWNET) changes only
// the calling thread, which stays locked and ends with its goroutine, so no other goroutine of
// the test ever runs in the namespace. Sockets keep the namespace they were made in.
func newLoopbackNetns(t *testing.T, forwardTo string) *loopbackNetns {
	t.Helper()
	type made struct {
		file *os.File
		ln   net.Listener
		err  error
	}
	ch := make(chan made, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime discards the thread when this returns
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- made{err: fmt.Errorf("unshare(CLONE_NEWNET): %w (needs root)", err)}
			return
		}
		if err := linkUp("lo"); err != nil {
			ch <- made{err: err}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			ch <- made{err: err}
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Close()
			ch <- made{err: fmt.Errorf("listening in the namespace: %w", err)}
			return
		}
		ch <- made{file: f, ln: ln}
	}()
	m := <-ch
	if m.err != nil {
		t.Fatalf("network namespace: %v", m.err)
	}
	n := &loopbackNetns{file: m.file, ln: m.ln}
	n.wg.Add(1)
	go n.forward(forwardTo)
	t.Cleanup(func() {
		n.ln.Close()
		n.wg.Wait()
		n.file.Close()
	})
	return n
}

// forward copies bytes both ways (TLS passes through: the client checks the API server's
// certificate, whose SAN 127.0.0.1 is the listener's address too). It returns when the
// listener is closed; connections still open end with their peers.
func (n *loopbackNetns) forward(to string) {
	defer n.wg.Done()
	for {
		in, err := n.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer out.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(out, in); done <- struct{}{} }()
			go func() { io.Copy(in, out); done <- struct{}{} }()
			<-done // one direction ended: close both, which ends the other
		}()
	}
}

// linkUp sets IFF_UP on an interface of the calling thread's network namespace.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading the flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting %s up: %w", name, err)
	}
	return nil
}

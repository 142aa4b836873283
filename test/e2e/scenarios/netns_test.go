package scenarios

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// netns is a network namespace the test creates, holding nothing but its own loopback, for a
// program that listens on every interface or would reach beyond the machine: KEDA's metrics
// adapter serves its Prometheus /metrics on ":<port>" (no flag takes a host), Crossplane core
// binds its metrics and health ports to ":port" and its package manager pulls images. Inside it
// those reach nothing but the namespace's own loopback. Its traffic crosses into the machine's
// loopback only through forwards, each one TCP port on 127.0.0.1 at both ends.
type netns struct {
	fd   *os.File // /proc/thread-self/ns/net of the namespace, kept open so it lives on
	root *os.File // the namespace the test binary runs in
}

// inNS runs f on an OS thread switched into ns (sockets keep the namespace they were made in).
// A thread that cannot be switched back is never reused: it is left locked, so it exits.
func inNS(ns *os.File, root *os.File, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := setns(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err := f()
		if rerr := setns(root); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("returning to the test's network namespace: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

func setns(f *os.File) error {
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns %s: %w", f.Name(), err)
	}
	return nil
}

// newNetns creates a network namespace (root needed, which scripts/e2e.sh already is) and sets
// its loopback up.
func newNetns() (*netns, error) {
	type result struct {
		ns  *netns
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		root, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			res <- result{err: err}
			return
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			root.Close()
			runtime.UnlockOSThread()
			res <- result{err: fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := os.Open("/proc/thread-self/ns/net")
		if err == nil {
			err = loopbackUp()
		}
		if rerr := setns(root); rerr != nil {
			res <- result{err: errors.Join(err, rerr)} // this thread stays locked and exits
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			if fd != nil {
				fd.Close()
			}
			root.Close()
			res <- result{err: err}
			return
		}
		res <- result{ns: &netns{fd: fd, root: root}}
	}()
	r := <-res
	return r.ns, r.err
}

// loopbackUp sets IFF_UP on "lo" of the calling thread's namespace (a new one starts with it down).
func loopbackUp() error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS lo up: %w", err)
	}
	return nil
}

// path names the namespace for nsenter --net=.
func (n *netns) path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), n.fd.Fd()) }

// nsenterArgs runs a command in the namespace (nsenter execs it: the process is the command).
func (n *netns) nsenterArgs(cmd ...string) []string {
	return append([]string{"nsenter", "--net=" + n.path(), "--"}, cmd...)
}

// newTestNetns is newNetns for a test: it fails the test if the namespace cannot be made, and
// closes the namespace when the test ends.
func newTestNetns(t *testing.T) *netns {
	t.Helper()
	ns, err := newNetns()
	if err != nil {
		t.Fatalf("network namespace: %v (needs root)", err)
	}
	t.Cleanup(func() { ns.fd.Close(); ns.root.Close() })
	return ns
}

// forward accepts on 127.0.0.1:port in one namespace and connects each connection to
// 127.0.0.1:port in the other (into: the test's namespace -> n; else n -> the test's). It
// stops when the returned listener is closed; at most maxConns connections are open at once.
func (n *netns) forward(port int, into bool) (net.Listener, error) {
	listenNS, dialNS := n.root, n.fd
	if !into {
		listenNS, dialNS = n.fd, n.root
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var l net.Listener
	if err := inNS(listenNS, n.root, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("forward %s: listen: %w", addr, err)
	}
	const maxConns = 64
	slots := make(chan struct{}, maxConns)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			slots <- struct{}{}
			go func() {
				defer func() { <-slots }()
				defer c.Close()
				var d net.Conn
				if err := inNS(dialNS, n.root, func() (err error) {
					d, err = net.Dial("tcp", addr)
					return err
				}); err != nil {
					return
				}
				defer d.Close()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					io.Copy(d, c)
					d.(*net.TCPConn).CloseWrite()
				}()
				io.Copy(c, d)
				c.(*net.TCPConn).CloseWrite()
				wg.Wait()
			}()
		}
	}()
	return l, nil
}

package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/faultline-dev/faultline/control"
)

// adopted is a process in a node that this process did not start. It is
// reached through a pidfd, which cannot name a recycled pid.
type adopted struct {
	node string
	pid  int
	done chan struct{}

	mu    sync.Mutex
	pidfd int // -1 once the process has gone
}

// Adopt implements control.Adopter: pid must be running in node's
// namespace.
func (c *Cluster) Adopt(ctx context.Context, node string, pid int) (control.Process, error) {
	procs, err := c.Processes(node)
	if err != nil {
		return nil, err
	}
	found := false
	for _, p := range procs {
		found = found || p.Pid == pid
	}
	if !found {
		return nil, fmt.Errorf("adopting pid %d on %s: not running in %s: %w", pid, node, NamespaceName(c.id, node), control.ErrExited)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("adopting pid %d on %s: pidfd_open: %w", pid, node, err)
	}
	a := &adopted{node: node, pid: pid, pidfd: fd, done: make(chan struct{})}
	go a.watch()
	return a, nil
}

// watch closes done when the process exits (its pidfd becomes readable),
// and then the pidfd. It ends with the process: an adopted process lives
// no longer than its node, which Teardown kills.
func (a *adopted) watch() {
	for {
		fds := []unix.PollFd{{Fd: int32(a.pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n > 0 {
			break
		}
	}
	a.mu.Lock()
	unix.Close(a.pidfd)
	a.pidfd = -1
	a.mu.Unlock()
	close(a.done)
}

func (a *adopted) Node() string          { return a.node }
func (a *adopted) Pid() int              { return a.pid }
func (a *adopted) Done() <-chan struct{} { return a.done }

func (a *adopted) Signal(sig syscall.Signal) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pidfd < 0 {
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, a.pid, a.node, control.ErrExited)
	}
	if err := unix.PidfdSendSignal(a.pidfd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %v to pid %d on %s: %w", sig, a.pid, a.node, control.ErrExited)
		}
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, a.pid, a.node, err)
	}
	_ = syscall.Kill(-a.pid, sig)
	if sig == syscall.SIGSTOP {
		return waitStopped(a.pid, a.done)
	}
	return nil
}

func (a *adopted) Wait(ctx context.Context) (control.ExitStatus, error) {
	select {
	case <-a.done:
		return control.ExitStatus{Code: -1}, nil
	case <-ctx.Done():
		return control.ExitStatus{}, fmt.Errorf("waiting for pid %d on %s: %w", a.pid, a.node, ctx.Err())
	}
}

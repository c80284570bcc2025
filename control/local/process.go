package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/procfs"
)

// process is a process this cluster started; a goroutine waits for it from
// the moment it starts, so it is reaped as soon as it exits.
type process struct {
	node string
	pid  int
	cmd  *exec.Cmd

	// The error of the exit is from Wait, other than a non-zero exit.
	control.Exit
}

var _ control.Process = (*process)(nil)

// Start implements control.Cluster.
func (c *Cluster) Start(ctx context.Context, node string, spec control.Cmd) (control.Process, error) {
	if err := c.checkNode(node); err != nil {
		return nil, err
	}
	if spec.LogPath == "" {
		return nil, fmt.Errorf("starting %s on %s: no log path", spec.Path, node)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", spec.Path, node, err)
	}
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", spec.Path, node, err)
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s on %s: opening log: %w", spec.Path, node, err)
	}
	defer logf.Close() // the child has its own copy

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	cmd.Stdin = spec.Stdin
	// Its own session: terminal signals reach the controller only, and a
	// signal to -pid reaches the process's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.torn {
		return nil, fmt.Errorf("starting %s on %s: %w", spec.Path, node, control.ErrTornDown)
	}
	if c.detached && c.lock != nil {
		// The process holds the run's lock on after this process exits.
		cmd.ExtraFiles = []*os.File{c.lock}
	}
	ns := NamespaceName(c.id, node)
	if err := inNamespace(ns, cmd.Start); err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", spec.Path, node, err)
	}
	p := &process{node: node, pid: cmd.Process.Pid, cmd: cmd}
	c.procs[p] = struct{}{}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = nil
		}
		p.Finish(exitStatus(cmd.ProcessState), err)
		c.mu.Lock()
		delete(c.procs, p)
		c.mu.Unlock()
	}()
	return p, nil
}

func exitStatus(ps *os.ProcessState) control.ExitStatus {
	if ps == nil {
		return control.ExitStatus{Code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return control.ExitStatus{Code: -1, Signal: ws.Signal()}
	}
	return control.ExitStatus{Code: ps.ExitCode()}
}

func (p *process) Node() string { return p.node }
func (p *process) Pid() int     { return p.pid }

// Signal delivers sig to the process and then to its process group (its
// children), so that pausing or killing a node's service pauses or kills
// all of it. The process itself is signalled through its pidfd, which
// cannot hit a recycled pid.
func (p *process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.node, control.ErrExited)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.node, control.ErrExited)
		}
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.node, err)
	}
	_ = syscall.Kill(-p.pid, sig) // the group may be just the process: ESRCH is fine
	if sig == syscall.SIGSTOP {
		return waitStopped(p.pid, p.Done())
	}
	return nil
}

// waitStopped returns once every thread of pid is stopped, so that a pause
// has taken effect when Signal returns: signals are delivered
// asynchronously, and a request sent just after SIGSTOP may otherwise
// still be served.
func waitStopped(pid int, done <-chan struct{}) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if allStopped(pid) {
			return nil
		}
		select {
		case <-done:
			return nil
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d not stopped 2 s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

func allStopped(pid int) bool {
	states, err := procfs.ThreadStates(pid)
	if err != nil {
		return false
	}
	for _, st := range states {
		if st != 'T' && st != 't' {
			return false
		}
	}
	return true
}

func (p *process) Wait(ctx context.Context) (control.ExitStatus, error) {
	return p.WaitExit(ctx, fmt.Sprintf("pid %d on %s", p.pid, p.node))
}

// Exec implements control.Cluster.
func (c *Cluster) Exec(ctx context.Context, node string, spec control.Cmd) ([]byte, error) {
	if err := c.checkNode(node); err != nil {
		return nil, err
	}
	c.mu.Lock()
	torn := c.torn
	c.mu.Unlock()
	if torn {
		return nil, fmt.Errorf("running %s on %s: %w", spec.Path, node, control.ErrTornDown)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = &out, &out
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	if spec.Stderr != nil {
		cmd.Stderr = spec.Stderr
	}
	cmd.Stdin = spec.Stdin
	if err := inNamespace(NamespaceName(c.id, node), cmd.Start); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", control.ErrNotFound, err)
		}
		return nil, fmt.Errorf("running %s on %s: %w", spec.Path, node, err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.Bytes(), nil
	case errors.As(err, &ee):
		if ctx.Err() != nil {
			return out.Bytes(), fmt.Errorf("running %s on %s: %w", spec.Path, node, ctx.Err())
		}
		return out.Bytes(), &control.ExitError{Node: node, Path: spec.Path, Status: exitStatus(ee.ProcessState), Output: out.Bytes()}
	default:
		return out.Bytes(), fmt.Errorf("running %s on %s: %w", spec.Path, node, err)
	}
}

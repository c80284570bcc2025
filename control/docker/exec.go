package docker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"golang.org/x/sys/unix"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/hostnet"
)

// netnsPath is the network namespace of n's container, through its first
// process.
func (c *Cluster) netnsPath(ctx context.Context, n *node) (string, error) {
	pid, err := c.ContainerPid(ctx, n.name)
	if err != nil {
		return "", err
	}
	if pid == 0 {
		return "", fmt.Errorf("docker: container %s is not running", n.cname)
	}
	return "/proc/" + strconv.Itoa(pid) + "/ns/net", nil
}

// hostCmd is the host-side command of an agent verb: the controller's own
// executable (the agent), with cmd's arguments and streams.
func (c *Cluster) hostCmd(cmd control.Cmd) *exec.Cmd {
	x := exec.Command(c.hostBin, cmd.Args...)
	x.Env = append(os.Environ(), cmd.Env...)
	x.Dir = cmd.Dir
	return x
}

func (c *Cluster) checkTorn(what, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.torn {
		return fmt.Errorf("%s on %s: %w", what, node, control.ErrTornDown)
	}
	return nil
}

// Exec implements control.Cluster. An agent command runs on the host, in
// the container's network namespace; any other runs in the container
// through the engine's exec API.
func (c *Cluster) Exec(ctx context.Context, name string, cmd control.Cmd) ([]byte, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, err
	}
	if err := c.checkTorn("running "+cmd.Path, name); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	stdout, stderr := io.Writer(&out), io.Writer(&out)
	if cmd.Stdout != nil {
		stdout = cmd.Stdout
	}
	if cmd.Stderr != nil {
		stderr = cmd.Stderr
	}
	if cmd.Agent {
		return c.execHost(ctx, n, cmd, stdout, stderr, &out)
	}
	code, err := c.execIn(ctx, n, cmd, stdout, stderr)
	if err != nil {
		return out.Bytes(), err
	}
	if code != 0 {
		err := &control.ExitError{Node: name, Path: cmd.Path, Status: control.ExitStatus{Code: code}, Output: out.Bytes()}
		if code == 127 || code == 126 {
			return out.Bytes(), fmt.Errorf("%w: %w", control.ErrNotFound, err)
		}
		return out.Bytes(), err
	}
	return out.Bytes(), nil
}

func (c *Cluster) execHost(ctx context.Context, n *node, cmd control.Cmd, stdout, stderr io.Writer, out *bytes.Buffer) ([]byte, error) {
	ns, err := c.netnsPath(ctx, n)
	if err != nil {
		return nil, err
	}
	x := c.hostCmd(cmd)
	x.Stdin, x.Stdout, x.Stderr = cmd.Stdin, stdout, stderr
	if err := hostnet.InNamespaceFile(ns, x.Start); err != nil {
		return nil, fmt.Errorf("running the agent for %s: %w", n.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- x.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = x.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("running the agent for %s: %w", n.name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), &control.ExitError{Node: n.name, Path: "faultline agent", Status: exitStatus(ee.ProcessState), Output: out.Bytes()}
	}
	return out.Bytes(), err
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

// execIn runs cmd in n's container and returns its exit code.
func (c *Cluster) execIn(ctx context.Context, n *node, cmd control.Cmd, stdout, stderr io.Writer) (int, error) {
	argv := append([]string{cmd.Path}, cmd.Args...)
	cr, err := c.cli.ContainerExecCreate(ctx, n.id, container.ExecOptions{Cmd: argv, Env: cmd.Env, WorkingDir: cmd.Dir,
		AttachStdout: true, AttachStderr: true, AttachStdin: cmd.Stdin != nil})
	if err != nil {
		return 0, fmt.Errorf("running %s in %s: %w", cmd.Path, n.cname, err)
	}
	att, err := c.cli.ContainerExecAttach(ctx, cr.ID, container.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("running %s in %s: %w", cmd.Path, n.cname, err)
	}
	defer att.Close()
	if cmd.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, cmd.Stdin)
			_ = att.CloseWrite()
		}()
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		att.Close()
		<-copied
		return 0, fmt.Errorf("running %s in %s: %w", cmd.Path, n.cname, ctx.Err())
	}
	if err != nil {
		return 0, fmt.Errorf("running %s in %s: %w", cmd.Path, n.cname, err)
	}
	ins, err := c.cli.ContainerExecInspect(ctx, cr.ID)
	if err != nil {
		return 0, fmt.Errorf("running %s in %s: %w", cmd.Path, n.cname, err)
	}
	return ins.ExitCode, nil
}

// Start implements control.Cluster. An agent command (the session's
// agent, piped) runs on the host in the container's network namespace; any
// other starts in the container through `agent spawn`, which reports its
// pid (the host's: containers share the host's PID namespace) and, later,
// its exit status.
func (c *Cluster) Start(ctx context.Context, name string, cmd control.Cmd) (control.Process, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, err
	}
	if err := c.checkTorn("starting "+cmd.Path, name); err != nil {
		return nil, err
	}
	if cmd.LogPath == "" {
		return nil, fmt.Errorf("starting %s on %s: no log path", cmd.Path, name)
	}
	if cmd.Agent {
		return c.startHost(ctx, n, cmd)
	}
	if !n.created {
		return nil, fmt.Errorf("starting %s on %s: faultline starts nothing in a container it did not make", cmd.Path, name)
	}
	args := []string{"/faultline", "agent", "spawn", "--log", cmd.LogPath, "--dir", n.dir}
	if cmd.Dir != "" {
		args = append(args, "--cwd", cmd.Dir)
	}
	for _, e := range cmd.Env {
		args = append(args, "--env", e)
	}
	args = append(append(args, "--", cmd.Path), cmd.Args...)
	cr, err := c.cli.ContainerExecCreate(ctx, n.id, container.ExecOptions{Cmd: args, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return nil, fmt.Errorf("starting %s in %s: %w", cmd.Path, n.cname, err)
	}
	att, err := c.cli.ContainerExecAttach(c.bg, cr.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("starting %s in %s: %w", cmd.Path, n.cname, err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, io.Discard, att.Reader)
		pw.CloseWithError(err)
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		att.Close()
		return nil, fmt.Errorf("starting %s in %s: the spawner said nothing: %v", cmd.Path, n.cname, lines.Err())
	}
	first := lines.Text()
	if msg, ok := strings.CutPrefix(first, "error "); ok {
		att.Close()
		if m, nf := strings.CutPrefix(msg, "not-found "); nf {
			return nil, fmt.Errorf("starting %s in %s: %w: %s", cmd.Path, n.cname, control.ErrNotFound, m)
		}
		return nil, fmt.Errorf("starting %s in %s: %s", cmd.Path, n.cname, msg)
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(first, "started %d %d", &pid, &start); err != nil {
		att.Close()
		return nil, fmt.Errorf("starting %s in %s: the spawner said %q", cmd.Path, n.cname, first)
	}
	p := c.newProcess(n, pid, start)
	go func() {
		defer att.Close()
		for lines.Scan() {
			var code, sig int
			if _, err := fmt.Sscanf(lines.Text(), "exited %d %d", &code, &sig); err == nil {
				p.finish(control.ExitStatus{Code: code, Signal: syscall.Signal(sig)}, nil)
				return
			}
		}
		// The exec's stream ended without an exit line: the container
		// went, or the engine dropped us. Look at the process itself.
		p.poll()
	}()
	return p, nil
}

// startHost starts an agent on the host in n's container's network
// namespace (the session's agent: piped).
func (c *Cluster) startHost(ctx context.Context, n *node, cmd control.Cmd) (control.Process, error) {
	ns, err := c.netnsPath(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cmd.LogPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(cmd.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting the agent for %s: %w", n.name, err)
	}
	defer logf.Close()
	x := c.hostCmd(cmd)
	x.Stdin, x.Stdout, x.Stderr = cmd.Stdin, logf, logf
	if cmd.Stdout != nil {
		x.Stdout = cmd.Stdout
	}
	// Its own session: Ctrl-C at the controller's terminal is the
	// controller's alone.
	x.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := hostnet.InNamespaceFile(ns, x.Start); err != nil {
		return nil, fmt.Errorf("starting the agent for %s: %w", n.name, err)
	}
	p := c.newProcess(n, x.Process.Pid, 0)
	p.host = x
	go func() {
		err := x.Wait()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.finish(exitStatus(x.ProcessState), err)
			return
		}
		p.finish(exitStatus(x.ProcessState), nil)
	}()
	return p, nil
}

// Adopt implements control.Cluster: a process by its host pid.
func (c *Cluster) Adopt(ctx context.Context, name string, pid int) (control.Process, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, err
	}
	start, gone, err := c.stat(ctx, n, pid)
	if err != nil {
		return nil, err
	}
	if gone {
		return nil, fmt.Errorf("adopting pid %d on %s: %w", pid, name, control.ErrExited)
	}
	p := c.newProcess(n, pid, start)
	go p.poll()
	return p, nil
}

// stat asks the host's agent about pid.
func (c *Cluster) stat(ctx context.Context, n *node, pid int) (start uint64, gone bool, err error) {
	out, err := c.Exec(ctx, n.name, control.AgentCmd(c, n.name, "stat", "--pid", strconv.Itoa(pid)))
	var ee *control.ExitError
	if errors.As(err, &ee) && ee.Status.Code == 3 {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return 0, false, fmt.Errorf("agent stat on %s: %q", n.name, out)
	}
	start, err = strconv.ParseUint(f[1], 10, 64)
	return start, false, err
}

// process is a process on a node: spawned in a container, adopted, or an
// agent on the host.
type process struct {
	c     *Cluster
	n     *node
	pid   int
	start uint64
	host  *exec.Cmd // an agent on the host, our child

	control.Exit
}

func (c *Cluster) newProcess(n *node, pid int, start uint64) *process {
	p := &process{c: c, n: n, pid: pid, start: start}
	c.mu.Lock()
	c.procs[p] = struct{}{}
	c.mu.Unlock()
	return p
}

func (p *process) finish(st control.ExitStatus, err error) {
	if p.Finish(st, err) {
		p.c.mu.Lock()
		delete(p.c.procs, p)
		p.c.mu.Unlock()
	}
}

// poll looks at p every second until it has gone (or the cluster is torn
// down), then closes Done with code -1: its status cannot be learnt.
func (p *process) poll() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(p.c.bg, 10*time.Second)
		start, gone, err := p.c.stat(ctx, p.n, p.pid)
		cancel()
		if gone || (err == nil && p.start != 0 && start != p.start) {
			p.finish(control.ExitStatus{Code: -1}, nil)
			return
		}
		select {
		case <-p.c.bg.Done():
			return
		case <-t.C:
		}
	}
}

func (p *process) Node() string { return p.n.name }
func (p *process) Pid() int     { return p.pid }

func (p *process) Wait(ctx context.Context) (control.ExitStatus, error) {
	return p.WaitExit(ctx, fmt.Sprintf("pid %d on %s", p.pid, p.n.name))
}

// Signal implements control.Process through the host's agent (`agent
// signal --group`, which refuses a recycled pid and waits for SIGSTOP to
// take effect); an agent of ours on the host is signalled directly.
func (p *process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.n.name, control.ErrExited)
	}
	if p.host != nil {
		if err := p.host.Process.Signal(sig); err != nil {
			return fmt.Errorf("signal %v to the agent for %s: %w", sig, p.n.name, control.ErrExited)
		}
		return nil
	}
	args := []string{"signal", "--sig", strings.TrimPrefix(unix.SignalName(sig), "SIG"), "--pid", strconv.Itoa(p.pid), "--group"}
	if p.start != 0 {
		args = append(args, "--start", strconv.FormatUint(p.start, 10))
	}
	ctx, cancel := context.WithTimeout(p.c.bg, 30*time.Second)
	defer cancel()
	_, err := p.c.Exec(ctx, p.n.name, control.AgentCmd(p.c, p.n.name, args...))
	var ee *control.ExitError
	if errors.As(err, &ee) && ee.Status.Code == 3 {
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.n.name, control.ErrExited)
	}
	if err != nil {
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.n.name, err)
	}
	return nil
}

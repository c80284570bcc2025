package ssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/faultline-dev/faultline/control"
)

// pollInterval is how often a process whose session has gone (or an
// adopted one) is looked at with `agent stat`.
const pollInterval = time.Second

// process is a process on a node: started (through `agent spawn`, or
// piped), or adopted.
type process struct {
	c     *Cluster
	node  *nodeConn
	pid   int
	start uint64 // /proc/PID/stat start time; 0 if unknown
	piped bool

	control.Exit
}

var _ control.Process = (*process)(nil)

func (c *Cluster) newProcess(n *nodeConn, pid int, start uint64) *process {
	p := &process{c: c, node: n, pid: pid, start: start}
	c.mu.Lock()
	c.procs[p] = struct{}{}
	c.mu.Unlock()
	return p
}

// finish records how p ended and closes Done (once).
func (p *process) finish(st control.ExitStatus, err error) {
	if p.Finish(st, err) {
		p.c.mu.Lock()
		delete(p.c.procs, p)
		p.c.mu.Unlock()
	}
}

func (p *process) Node() string { return p.node.name }
func (p *process) Pid() int     { return p.pid }

func (p *process) Wait(ctx context.Context) (control.ExitStatus, error) {
	return p.WaitExit(ctx, fmt.Sprintf("pid %d on %s", p.pid, p.node.name))
}

// Signal implements control.Process with `agent signal --group`, which
// refuses a recycled pid (by start time) and, for SIGSTOP, returns once
// the process and its children have stopped.
func (p *process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("signal %v to pid %d on %s: %w", sig, p.pid, p.node.name, control.ErrExited)
	}
	if _, err := p.c.node(p.node.name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(p.c.bg, 30*time.Second)
	defer cancel()
	return p.signal(ctx, signalName(sig))
}

func (p *process) signal(ctx context.Context, name string) error {
	args := []string{"signal", "--sig", name, "--pid", strconv.Itoa(p.pid), "--group"}
	if p.start != 0 {
		args = append(args, "--start", strconv.FormatUint(p.start, 10))
	}
	_, err := p.c.run(ctx, p.node, p.c.agentCmd(p.node, args...))
	var ee *control.ExitError
	if errors.As(err, &ee) && ee.Status.Code == agentExitGone {
		return fmt.Errorf("signal %s to pid %d on %s: %w", name, p.pid, p.node.name, control.ErrExited)
	}
	if err != nil {
		return fmt.Errorf("signal %s to pid %d on %s: %w", name, p.pid, p.node.name, err)
	}
	return nil
}

// agentExitGone is the agent's exit code for "no such process"
// (agent.ExitGone).
const agentExitGone = 3

// stat runs `agent stat --pid PID`: gone reports that the process has
// exited (exit code 3).
func (c *Cluster) stat(ctx context.Context, n *nodeConn, pid int) (start uint64, gone bool, err error) {
	out, err := c.run(ctx, n, c.agentCmd(n, "stat", "--pid", strconv.Itoa(pid)))
	var ee *control.ExitError
	if errors.As(err, &ee) && ee.Status.Code == agentExitGone {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	f := strings.Fields(string(out)) // PID START PPID STATE
	if len(f) < 2 {
		return 0, false, fmt.Errorf("agent stat on %s: unexpected output %q", n.name, out)
	}
	start, err = strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("agent stat on %s: unexpected output %q", n.name, out)
	}
	return start, false, nil
}

// poll looks at p every pollInterval (reconnecting as needed) until it has
// gone (or its pid names another process), then closes Done with code -1:
// its exit status cannot be learnt. It stops when the cluster is torn down
// or disconnected.
func (p *process) poll() {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(p.c.bg, reconnectBudget)
		start, gone, err := p.c.stat(ctx, p.node, p.pid)
		cancel()
		if err == nil && (gone || p.start != 0 && start != p.start) {
			p.finish(control.ExitStatus{Code: -1}, nil)
			return
		}
		select {
		case <-p.Done():
			return
		case <-p.c.bg.Done():
			return
		case <-t.C:
		}
	}
}

// Start implements control.Cluster. Without Stdin or Stdout it runs
// `<agent> spawn`, which starts the process detached (own session, output
// appended to cmd.LogPath, recorded under NodeDir for reap) and reports
// its pid and, later, its exit status over the session; if the session
// breaks first, the process is polled. With Stdin or Stdout (the
// long-running agent that the controller talks to) the process runs in
// the session itself, its stdio piped.
func (c *Cluster) Start(ctx context.Context, node string, cmd control.Cmd) (control.Process, error) {
	n, err := c.node(node)
	if err != nil {
		return nil, err
	}
	if cmd.Stdin != nil || cmd.Stdout != nil {
		return c.startPiped(ctx, n, cmd)
	}
	if cmd.LogPath == "" {
		return nil, fmt.Errorf("starting %s on %s: no log path", cmd.Path, node)
	}
	if cmd.Path == "" {
		return nil, fmt.Errorf("starting on %s: no command", node)
	}
	args := []string{"spawn", "--log", cmd.LogPath, "--dir", c.dirs[n.name]}
	if cmd.Dir != "" {
		args = append(args, "--cwd", cmd.Dir)
	}
	for _, kv := range cmd.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("starting %s on %s: environment entry %q: want KEY=VALUE", cmd.Path, node, kv)
		}
		args = append(args, "--env", kv)
	}
	args = append(args, "--", cmd.Path)
	args = append(args, cmd.Args...)
	ac := c.agentCmd(n, args...)
	line, err := n.commandLine("", nil, ac.Path, ac.Args, false)
	if err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, node, err)
	}
	sess, release, err := n.session(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, node, err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		release()
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, node, err)
	}
	stderr := &tailBuffer{max: 4096}
	sess.Stderr = stderr
	if err := sess.Start(line); err != nil {
		sess.Close()
		release()
		return nil, fmt.Errorf("starting %s on %s (%s): %w: %v; if it started, Teardown reaps it", cmd.Path, node, n.target, ErrOutcomeUnknown, err)
	}
	lines := make(chan string)
	go func() {
		br := bufio.NewReader(stdout)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- strings.TrimSpace(l)
		}
	}()
	end := func() error { // the session's end, after its output
		err := sess.Wait()
		sess.Close()
		release()
		return err
	}
	fail := func(err error) (control.Process, error) {
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, node, err)
	}
	var first string
	select {
	case l, ok := <-lines:
		if !ok {
			err := end()
			_, rerr := c.result(n, ac.Path, []byte(stderr.String()), err)
			if errors.Is(rerr, control.ErrNotFound) {
				// The agent is missing, not the command.
				rerr = fmt.Errorf("faultline's agent %s cannot run on %s: %s", ac.Path, node, stderr.String())
			}
			if rerr == nil {
				rerr = fmt.Errorf("agent spawn said nothing: %s", stderr.String())
			}
			return fail(rerr)
		}
		first = l
	case <-ctx.Done():
		go func() {
			stopSession(sess, n.sudo, true)
			for range lines {
			}
			_ = end()
		}()
		return fail(fmt.Errorf("%w (the process may have started; Teardown reaps it)", ctx.Err()))
	}
	verb, rest, _ := strings.Cut(first, " ")
	switch verb {
	case "started":
		f := strings.Fields(rest)
		var pid int
		var start uint64
		if len(f) == 2 {
			pid, err = strconv.Atoi(f[0])
			if err == nil {
				start, err = strconv.ParseUint(f[1], 10, 64)
			}
		}
		if len(f) != 2 || err != nil {
			go func() {
				for range lines {
				}
				_ = end()
			}()
			return fail(fmt.Errorf("agent spawn: unexpected %q", first))
		}
		p := c.newProcess(n, pid, start)
		go p.follow(lines, end)
		return p, nil
	case "error":
		go func() {
			for range lines {
			}
			_ = end()
		}()
		if msg, ok := strings.CutPrefix(rest, "not-found "); ok {
			return fail(fmt.Errorf("%w: %s", control.ErrNotFound, msg))
		}
		return fail(errors.New(rest))
	default:
		go func() {
			for range lines {
			}
			_ = end()
		}()
		return fail(fmt.Errorf("agent spawn: unexpected %q: %s", first, stderr.String()))
	}
}

// follow reads the rest of spawn's report: "exited CODE SIGNAL" ends the
// process; a session that ends without it leaves the process to poll.
func (p *process) follow(lines <-chan string, end func() error) {
	for l := range lines {
		rest, ok := strings.CutPrefix(l, "exited ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 {
			code, err1 := strconv.Atoi(f[0])
			sig, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				p.finish(control.ExitStatus{Code: code, Signal: syscall.Signal(sig)}, nil)
			}
		}
	}
	_ = end()
	if p.Exited() {
		return
	}
	p.c.logf("ssh: lost the session of pid %d on %s before it exited: polling it", p.pid, p.node.name)
	p.poll()
}

// startPiped runs cmd in a session of its own with its stdin and stdout
// piped to cmd.Stdin and cmd.Stdout: a shell prints its pid, then execs
// the command with stderr (and stdout, if cmd.Stdout is nil) appended to
// cmd.LogPath. The process is Done when the session ends: with its exit
// status, or, if the connection broke, with code -1 and an error wrapping
// ErrOutcomeUnknown (the controller then knows at once that its pipes have
// gone).
func (c *Cluster) startPiped(ctx context.Context, n *nodeConn, cmd control.Cmd) (control.Process, error) {
	logPath := cmd.LogPath
	if logPath == "" {
		logPath = "/dev/null"
	}
	if !path.IsAbs(logPath) {
		return nil, fmt.Errorf("starting %s on %s: log path %q is not absolute", cmd.Path, n.name, logPath)
	}
	// The brief's script, `printf "started %s\n" "$$"; exec "$@" 2>>"$0"`,
	// with two steps before it: the log's directory is made (as spawn
	// does), and a missing command is reported as such.
	const prelude = `case $0 in /dev/*) ;; */*) mkdir -p -- "${0%/*}" ;; esac; ` +
		`command -v -- "$1" >/dev/null 2>&1 || { printf "error not-found %s\n" "$1"; exit 127; }; `
	script := prelude + `printf "started %s\n" "$$"; exec "$@" 2>>"$0"`
	if cmd.Stdout == nil {
		script = prelude + `printf "started %s\n" "$$"; exec "$@" >>"$0" 2>&1`
	}
	args := append([]string{"-c", script, logPath, cmd.Path}, cmd.Args...)
	line, err := n.commandLine(cmd.Dir, cmd.Env, "/bin/sh", args, false)
	if err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, n.name, err)
	}
	sess, release, err := n.session(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, n.name, err)
	}
	stdout, err := sess.StdoutPipe()
	if err == nil {
		err = feedStdin(sess, cmd.Stdin)
	}
	if err != nil {
		sess.Close()
		release()
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, n.name, err)
	}
	stderr := &tailBuffer{max: 4096}
	sess.Stderr = stderr
	if err := sess.Start(line); err != nil {
		sess.Close()
		release()
		return nil, fmt.Errorf("starting %s on %s (%s): %w: %v", cmd.Path, n.name, n.target, ErrOutcomeUnknown, err)
	}
	br := bufio.NewReader(stdout)
	type first struct {
		line string
		err  error
	}
	firstc := make(chan first, 1)
	go func() {
		l, err := br.ReadString('\n')
		firstc <- first{l, err}
	}()
	end := func() error {
		err := sess.Wait()
		sess.Close()
		release()
		return err
	}
	var fl first
	select {
	case fl = <-firstc:
	case <-ctx.Done():
		go func() {
			stopSession(sess, n.sudo, true)
			_ = end()
		}()
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, n.name, ctx.Err())
	}
	if msg, ok := strings.CutPrefix(strings.TrimSpace(fl.line), "error not-found "); ok {
		_ = end()
		return nil, fmt.Errorf("starting %s on %s: %w: %s", cmd.Path, n.name, control.ErrNotFound, msg)
	}
	pidStr, ok := strings.CutPrefix(strings.TrimSpace(fl.line), "started ")
	pid, perr := strconv.Atoi(pidStr)
	if fl.err != nil || !ok || perr != nil {
		err := end()
		_, rerr := c.result(n, "/bin/sh", []byte(stderr.String()), err)
		if rerr == nil {
			rerr = fmt.Errorf("no pid reported (%q)", fl.line)
		}
		return nil, fmt.Errorf("starting %s on %s: %w", cmd.Path, n.name, rerr)
	}
	// Its start time, so that signals never reach a recycled pid.
	var start uint64
	if st, gone, err := c.stat(ctx, n, pid); err == nil && !gone {
		start = st
	}
	p := c.newProcess(n, pid, start)
	p.piped = true
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if cmd.Stdout != nil {
			_, _ = io.Copy(cmd.Stdout, br)
		} else {
			_, _ = io.Copy(io.Discard, br)
		}
	}()
	go func() {
		<-copied
		err := end()
		var ee *ssh.ExitError
		switch {
		case err == nil:
			p.finish(control.ExitStatus{Code: 0}, nil)
		case errors.As(err, &ee):
			st := control.ExitStatus{Code: ee.ExitStatus()}
			if sig := ee.Signal(); sig != "" {
				st = control.ExitStatus{Code: -1, Signal: signalNum(sig)}
			}
			p.finish(st, nil)
		default:
			// The connection broke: the process has lost its stdin and
			// stdout (a well-behaved one, like the agent, sees EOF and
			// ends). Its status cannot be learnt.
			p.finish(control.ExitStatus{Code: -1}, fmt.Errorf("pid %d on %s (%s): the session ended without an exit status (%v): %w", p.pid, n.name, n.target, err, ErrOutcomeUnknown))
		}
	}()
	return p, nil
}

// Adopt implements control.Cluster: a handle on a process this cluster did
// not start, found with `agent stat`. Its end is found by polling, so Wait
// reports code -1.
func (c *Cluster) Adopt(ctx context.Context, node string, pid int) (control.Process, error) {
	n, err := c.node(node)
	if err != nil {
		return nil, err
	}
	start, gone, err := c.stat(ctx, n, pid)
	if err != nil {
		return nil, fmt.Errorf("adopting pid %d on %s: %w", pid, node, err)
	}
	if gone {
		return nil, fmt.Errorf("adopting pid %d on %s: %w", pid, node, control.ErrExited)
	}
	p := c.newProcess(n, pid, start)
	go p.poll()
	return p, nil
}

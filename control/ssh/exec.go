package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/faultline-dev/faultline/control"
)

// ErrOutcomeUnknown is wrapped by the error of a command whose connection
// broke while it ran: it may or may not have run, or run to completion.
// Such a command is never run again by the backend.
var ErrOutcomeUnknown = errors.New("the connection broke while the command ran: its outcome is unknown")

// Every command runs in an environment of these and cmd.Env only.
const (
	envPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	envLang = "LANG=C.UTF-8"
)

// shellQuote is s as one POSIX shell word: single-quoted, each ' as '\”.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// commandLine is the string sshd hands to the login shell's -c for a
// command: `[cd DIR && ]exec [sudo -n --] /usr/bin/env -i PATH=… LANG=…
// [K=V…] PATH ARGS…`, every word quoted. The shell execs away at once, so
// none of its aliases or the login user's environment reach the command
// (a start-up file the shell reads before -c, ~/.bashrc or ~/.zshenv, still
// runs: see the package doc).
//
// With reportPid, the shell first writes its pid and a newline to stderr
// (pidPrefix), which run takes off before anyone sees stderr: the command
// keeps that pid and leads its own process group (sshd makes every
// session's child a session leader), so a cancelled command can be killed
// by a second session even where sshd refuses signal requests (OpenSSH
// does for root logins: "session signalling requires privilege
// separation").
func (n *nodeConn) commandLine(dir string, env []string, path string, args []string, reportPid bool) (string, error) {
	if path == "" {
		return "", errors.New("no command")
	}
	words := []string{}
	if n.sudo {
		words = append(words, "sudo", "-n", "--")
	}
	words = append(words, "/usr/bin/env", "-i", envPath, envLang)
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(k, " \t\n") {
			return "", fmt.Errorf("environment entry %q: want KEY=VALUE", kv)
		}
		words = append(words, kv)
	}
	if strings.Contains(path, "=") {
		return "", fmt.Errorf("command %q: env(1) would take a path containing '=' for a variable", path)
	}
	words = append(words, path)
	words = append(words, args...)
	var b strings.Builder
	if reportPid {
		b.WriteString(`printf '` + pidPrefix + `%s\n' "$$" >&2; `)
	}
	if dir != "" {
		b.WriteString("cd " + shellQuote(dir) + " && ")
	}
	b.WriteString("exec")
	for _, w := range words {
		b.WriteString(" " + shellQuote(w))
	}
	return b.String(), nil
}

// syncBuffer is a bytes.Buffer safe for the two goroutines that copy a
// session's stdout and stderr.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = b.buf[len(b.buf)-b.max:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

// feedStdin copies r to the session's stdin and then closes it (EOF on
// the node). The session's Wait does not wait for this copy, so a reader
// that never ends does not hold a finished command.
func feedStdin(s *ssh.Session, r io.Reader) error {
	if r == nil {
		return nil
	}
	w, err := s.StdinPipe()
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(w, r)
		w.Close()
	}()
	return nil
}

// pidPrefix starts the line a command's shell writes to stderr first.
const pidPrefix = "faultline-pid "

// pidCatcher takes the shell's pid line (see commandLine) off a stream
// and passes everything else on to w. Lines before it (sshd's "Could not
// chdir to home directory", say) pass through; after a few lines without
// it, it stops looking.
type pidCatcher struct {
	w     io.Writer
	mu    sync.Mutex
	line  []byte
	lines int
	done  bool
	pid   int
}

func (p *pidCatcher) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	for !p.done && len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			return n, nil
		}
		line := append(p.line, b[:i+1]...)
		p.line, b = nil, b[i+1:]
		if v, ok := strings.CutPrefix(string(line[:len(line)-1]), pidPrefix); ok {
			p.pid, _ = strconv.Atoi(v)
			p.done = true
			break
		}
		if p.lines++; p.lines >= 8 {
			p.done = true
		}
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
	}
	if len(b) > 0 {
		if _, err := p.w.Write(b); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// flush passes on what is left of an unfinished line (a stream that ended
// before the pid line).
func (p *pidCatcher) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.line) > 0 {
		_, _ = p.w.Write(p.line)
		p.line = nil
	}
}

func (p *pidCatcher) get() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// run runs cmd on n and waits for it (Exec, and the backend's own agent
// calls). If ctx ends first, the command is killed with its process group.
func (c *Cluster) run(ctx context.Context, n *nodeConn, cmd control.Cmd) ([]byte, error) {
	line, err := n.commandLine(cmd.Dir, cmd.Env, cmd.Path, cmd.Args, true)
	if err != nil {
		return nil, fmt.Errorf("running %s on %s: %w", cmd.Path, n.name, err)
	}
	sess, release, err := n.session(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("running %s on %s: %w", cmd.Path, n.name, err)
	}
	var out syncBuffer
	var stdout, stderr io.Writer = &out, &out
	if cmd.Stdout != nil {
		stdout = cmd.Stdout
	}
	if cmd.Stderr != nil {
		stderr = cmd.Stderr
	}
	pc := &pidCatcher{w: stderr}
	sess.Stdout, sess.Stderr = stdout, pc
	if err := feedStdin(sess, cmd.Stdin); err != nil {
		sess.Close()
		release()
		return nil, fmt.Errorf("running %s on %s: %w", cmd.Path, n.name, err)
	}
	if err := sess.Start(line); err != nil {
		sess.Close()
		release()
		return nil, fmt.Errorf("running %s on %s (%s): %w: %v", cmd.Path, n.name, n.target, ErrOutcomeUnknown, err)
	}
	waitc := make(chan error, 1)
	go func() { waitc <- sess.Wait() }()
	select {
	case err = <-waitc:
		sess.Close()
		release()
		pc.flush()
	case <-ctx.Done():
		go func() {
			n.kill(sess, pc, waitc)
			release()
		}()
		return out.Bytes(), fmt.Errorf("running %s on %s: %w", cmd.Path, n.name, ctx.Err())
	}
	return c.result(n, cmd.Path, out.Bytes(), err)
}

// kill ends a session's command whose caller has given up: a signal
// request (which sshd may refuse), then SIGKILL to the command's process
// group from a second session, then the session is closed. It returns once
// the session has ended (or after a while).
func (n *nodeConn) kill(sess *ssh.Session, pc *pidCatcher, waitc <-chan error) {
	stopSession(sess, n.sudo, false)
	// The pid line may still be on its way when the caller gave up early.
	pid := pc.get()
	for deadline := time.Now().Add(time.Second); pid == 0 && time.Now().Before(deadline); pid = pc.get() {
		select {
		case <-waitc:
			sess.Close()
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	if pid > 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		line, _ := n.commandLine("", nil, "/bin/kill", []string{"-KILL", "--", "-" + strconv.Itoa(pid)}, false)
		if s, err := n.extraSession(ctx); err == nil {
			_ = s.Run(line)
			s.Close()
		}
	}
	sess.Close()
	select {
	case <-waitc:
	case <-time.After(10 * time.Second):
	}
}

// stopSession asks sshd to signal a session's command: SIGKILL, after
// SIGTERM under sudo (sudo passes TERM on to the command but cannot pass
// KILL; sshd signals the whole process group, so KILL reaches both where
// it is allowed). With close, the session is closed after.
func stopSession(s *ssh.Session, sudo, close bool) {
	if sudo {
		_ = s.Signal(ssh.SIGTERM)
		time.Sleep(100 * time.Millisecond)
	}
	_ = s.Signal(ssh.SIGKILL)
	if close {
		s.Close()
	}
}

// result maps a session's Wait error onto control's errors.
func (c *Cluster) result(n *nodeConn, path string, out []byte, err error) ([]byte, error) {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &ee):
		st := control.ExitStatus{Code: ee.ExitStatus()}
		if sig := ee.Signal(); sig != "" {
			st = control.ExitStatus{Code: -1, Signal: signalNum(sig)}
		}
		xe := &control.ExitError{Node: n.name, Path: path, Status: st, Output: out}
		if st.Code == 127 {
			return out, &notFoundError{xe}
		}
		return out, xe
	default:
		// *ssh.ExitMissingError (the channel closed without an exit
		// status) or a transport error.
		return out, fmt.Errorf("running %s on %s (%s): %w (%v); it was not run again", path, n.name, n.target, ErrOutcomeUnknown, err)
	}
}

// notFoundError is an exit status of 127: the executable was not found.
// It is a *control.ExitError that also wraps control.ErrNotFound.
type notFoundError struct{ *control.ExitError }

func (e *notFoundError) Error() string {
	msg := e.Path + " on " + e.Node + ": " + control.ErrNotFound.Error()
	if out := control.Tail(e.Output, 200); out != "" {
		msg += ": " + out
	}
	return msg
}

func (e *notFoundError) Unwrap() []error { return []error{control.ErrNotFound, e.ExitError} }

// signalNum maps an SSH signal name ("KILL") to its number.
func signalNum(name string) syscall.Signal {
	if s := unix.SignalNum("SIG" + strings.TrimPrefix(name, "SIG")); s != 0 {
		return s
	}
	return syscall.Signal(0)
}

// signalName is sig's name without SIG ("KILL"), as the agent takes it.
func signalName(sig syscall.Signal) string {
	return strings.TrimPrefix(unix.SignalName(sig), "SIG")
}

package clock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Why a helper process: the kernel reports a tracee's ptrace stops to every
// thread of the tracer's process, including a goroutine blocked in
// (*os.Process).Wait for that tracee. When the target is our own child (as
// with control/local, which Waits for every process it starts), tracing it
// from this process would let that Wait collect our stops and return early
// with a "stopped" status, and the controller would take the node for dead.
// A tracee whose tracer is another process shows its real parent no ptrace
// stops at all. So for targets that are our children, the ptrace work runs in
// a helper: this same executable (/proc/self/exe) started with helperEnv set,
// which package init below turns into a tracer that serves requests, one JSON
// object per line on stdin, one reply per line on stdout, until stdin closes.
// Targets that are not our children are traced in this process.
const helperEnv = "FAULTLINE_CLOCK_TRACER"

func init() {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(serveHelper(os.Stdin, os.Stdout))
	}
}

const (
	opSkew  = "skew"
	opReset = "reset"
)

type request struct {
	Op     string `json:"op"`
	Pid    int    `json:"pid"`
	Offset int64  `json:"offset,omitempty"`
	Mask   uint64 `json:"mask,omitempty"`
}

type reply struct {
	Err  string `json:"err,omitempty"`
	Kind string `json:"kind,omitempty"`
}

var errKinds = map[string]error{
	"noprocess":   ErrNoProcess,
	"permission":  ErrPermission,
	"unsupported": ErrUnsupported,
	"foreign":     ErrForeign,
}

func toReply(err error) reply {
	if err == nil {
		return reply{}
	}
	r := reply{Err: err.Error()}
	for k, e := range errKinds {
		if errors.Is(err, e) {
			r.Kind = k
		}
	}
	return r
}

// remoteError is an error that happened in the helper, with its sentinel.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func (r reply) err() error {
	if r.Err == "" {
		return nil
	}
	return &remoteError{msg: r.Err, kind: errKinds[r.Kind]}
}

func serveHelper(in io.Reader, out io.Writer) int {
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	for {
		var r request
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "clock tracer: reading a request: %v\n", err)
			return 2
		}
		if err := enc.Encode(toReply(local(r))); err != nil {
			fmt.Fprintf(os.Stderr, "clock tracer: writing a reply: %v\n", err)
			return 2
		}
	}
}

// local performs a request with this process as the tracer.
func local(r request) error {
	switch r.Op {
	case opSkew:
		return skewLocal(r.Pid, r.Offset, r.Mask)
	case opReset:
		return resetLocal(r.Pid)
	}
	return fmt.Errorf("clock: unknown request %q", r.Op)
}

// tracerMode selects where ptrace runs; tests force one or the other.
type mode int

const (
	modeAuto   mode = iota // a helper for our own children, this process otherwise
	modeLocal              // always this process
	modeHelper             // always a helper
)

var tracerMode = modeAuto

func useHelper(pid int) bool {
	switch {
	case os.Getenv(helperEnv) == "1" || tracerMode == modeLocal:
		return false
	case tracerMode == modeHelper:
		return true
	}
	st, err := processStat(pid)
	return err == nil && st.PPid == os.Getpid()
}

// session performs requests; a helper session keeps one helper process for
// many requests (Strobe).
type session struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	dec    *json.Decoder
	stderr bytes.Buffer
}

// do performs one request, in a helper if the target is our child.
func (s *session) do(r request) error {
	defer lockPid(r.Pid)()
	if !useHelper(r.Pid) {
		return local(r)
	}
	if s.cmd == nil {
		if err := s.start(); err != nil {
			return err
		}
	}
	if err := json.NewEncoder(s.in).Encode(r); err != nil {
		return s.died(err)
	}
	var rep reply
	if err := s.dec.Decode(&rep); err != nil {
		return s.died(err)
	}
	return rep.err()
}

func (s *session) start() error {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = &s.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("clock: starting the tracer helper: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("clock: starting the tracer helper: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clock: starting the tracer helper (/proc/self/exe): %w", err)
	}
	s.cmd, s.in, s.dec = cmd, in, json.NewDecoder(out)
	return nil
}

func (s *session) died(err error) error {
	_ = s.close()
	msg := strings.TrimSpace(s.stderr.String())
	return fmt.Errorf("clock: the tracer helper failed: %w (its stderr: %q)", err, msg)
}

// close ends the helper, if one was started, and waits for it.
func (s *session) close() error {
	if s.cmd == nil {
		return nil
	}
	s.in.Close()
	err := s.cmd.Wait()
	s.cmd = nil
	if err != nil {
		return fmt.Errorf("clock: tracer helper: %w", err)
	}
	return nil
}

package control

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// Node is one host of a cluster as the controller sees it.
type Node struct {
	// Name is short and unique within the cluster, e.g. "n1".
	Name string
	// Addr is the address other nodes and the controller reach the node at.
	Addr netip.Addr

	_ struct{}
}

// Cmd describes a process to run on a node.
type Cmd struct {
	// Path is the executable; Args are its arguments, without argv[0].
	Path string
	Args []string
	// Env is added to the controller's environment.
	Env []string
	// Dir is the working directory; empty means the backend's default.
	Dir string
	// LogPath receives the process's stdout and stderr (appended). For
	// Start it is required; Exec ignores it.
	LogPath string

	_ struct{}
}

// Cluster is a set of nodes the controller can run processes on.
//
// Every method that names a node returns an error wrapping ErrNoNode when the
// cluster has no node of that name.
type Cluster interface {
	// Nodes lists the cluster's nodes in a stable order.
	Nodes() []Node
	// Start starts a long-running process on node and returns at once. The
	// process is detached from the controller's terminal (its own session),
	// so only the controller's explicit signals reach it.
	Start(ctx context.Context, node string, cmd Cmd) (Process, error)
	// Exec runs a short command on node and returns its combined output.
	// The error is an *ExitError when the command ran and failed.
	Exec(ctx context.Context, node string, cmd Cmd) ([]byte, error)
	// Teardown stops every process the cluster started and removes every
	// resource it created. It is safe to call more than once.
	Teardown(ctx context.Context) error
}

// Process is a long-running process started by Cluster.Start.
type Process interface {
	// Node is the name of the node it runs on.
	Node() string
	// Pid is its process id as the node sees it.
	Pid() int
	// Signal delivers sig to the process (and to its process group where
	// the backend supports it, so children stop and die with it). Signalling
	// a process that has exited returns an error wrapping ErrExited. After
	// SIGSTOP, Signal returns once the process has stopped, where the
	// backend can tell, so that a pause is in effect when it returns.
	Signal(sig syscall.Signal) error
	// Wait blocks until the process exits or ctx is done.
	Wait(ctx context.Context) (ExitStatus, error)
	// Done is closed when the process has exited.
	Done() <-chan struct{}
}

// Transferer is an optional capability of a Cluster: copying files between
// the controller and a node. Backends whose nodes share the controller's
// filesystem implement it as a plain copy.
type Transferer interface {
	Upload(ctx context.Context, node, localPath, remotePath string) error
	Download(ctx context.Context, node, remotePath, localPath string) error
}

// Adopter is an optional capability of a Cluster: a handle on a process
// that this controller process did not start (one started by an earlier
// faultline process, e.g. `faultline cluster up`), found by its pid on the
// node. The handle's Wait cannot learn the exit status of a process that is
// not its child: it reports only that the process has gone, with Code -1.
type Adopter interface {
	Adopt(ctx context.Context, node string, pid int) (Process, error)
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code, or -1 if the process was killed by a signal.
	Code int
	// Signal is the signal that killed the process, or 0.
	Signal syscall.Signal

	_ struct{}
}

// Success reports whether the process exited with code 0.
func (s ExitStatus) Success() bool { return s.Code == 0 && s.Signal == 0 }

// ExitError is returned by Exec when the command ran but did not succeed.
type ExitError struct {
	Node   string
	Path   string
	Status ExitStatus
	Output []byte
}

func (e *ExitError) Error() string {
	what := "exit code " + strconv.Itoa(e.Status.Code)
	if e.Status.Signal != 0 {
		what = "signal " + e.Status.Signal.String()
	}
	msg := e.Path + " on " + e.Node + ": " + what
	if out := tail(e.Output, 200); out != "" {
		msg += ": " + out
	}
	return msg
}

// Errors shared by every backend.
var (
	ErrNoNode   = errors.New("no such node")
	ErrExited   = errors.New("process has exited")
	ErrTornDown = errors.New("cluster has been torn down")
)

// tail returns the last n bytes of b without trailing white space, so an
// error can quote what a failed command printed last.
func tail(b []byte, n int) string {
	s := strings.TrimRight(string(b), " \t\r\n")
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

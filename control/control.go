package control

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// Node is one host of a cluster as the controller sees it.
type Node struct {
	// Name is short and unique within the cluster, e.g. "n1".
	Name string
	// Addr is the address other nodes and the controller reach the node
	// at: partition rules name it, clients connect to it.
	Addr netip.Addr

	_ struct{}
}

// Cmd describes a process to run on a node.
type Cmd struct {
	// Path is the executable; Args are its arguments, without argv[0].
	Path string
	Args []string
	// Env is added to the node's environment for the command.
	Env []string
	// Dir is the working directory; empty means the backend's default.
	Dir string
	// LogPath is a file on the node that receives the process's stdout and
	// stderr (appended). Start requires it (Stdout, if set, takes stdout
	// instead); Exec ignores it.
	LogPath string
	// Stdin, if set, is the command's standard input. For Start it is
	// read until EOF or the process exits; closing it is how the
	// controller tells a long-running agent that it has gone.
	Stdin io.Reader
	// Stdout, if set, receives the command's standard output as it is
	// written: for Exec instead of the returned bytes, for Start instead
	// of LogPath. Stderr does the same for standard error with Exec.
	Stdout, Stderr io.Writer
	// Agent marks a command of faultline's node agent (AgentCmd): a
	// backend runs it where faults are applied to the node. For most
	// backends that is the node itself; for containers it is the host, in
	// the container's network namespace, seeing host pids.
	Agent bool

	_ struct{}
}

// AgentCmd is the command that runs faultline's agent verb on node.
func AgentCmd(c Cluster, node string, args ...string) Cmd {
	return Cmd{Path: c.Binary(node), Args: append([]string{"agent"}, args...), Agent: true}
}

// Cluster is a set of nodes the controller can reach. It is the only way
// anything in faultline touches a node: processes, files and the node
// agent all go through it, so targets and faults run unchanged on every
// backend.
//
// Every method that names a node returns an error wrapping ErrNoNode when
// the cluster has no node of that name.
type Cluster interface {
	// Backend is the name the backend is registered under ("local",
	// "ssh").
	Backend() string
	// RunID identifies the run the cluster belongs to; it names what the
	// run makes on the nodes.
	RunID() string
	// Nodes lists the cluster's nodes in a stable order.
	Nodes() []Node
	// Start starts a long-running process on node and returns at once.
	// The process is detached from the controller's terminal (its own
	// session), so only the controller's explicit signals reach it.
	Start(ctx context.Context, node string, cmd Cmd) (Process, error)
	// Exec runs a short command on node and returns its combined output
	// (or streams it to cmd.Stdout and cmd.Stderr). The error is an
	// *ExitError when the command ran and failed.
	Exec(ctx context.Context, node string, cmd Cmd) ([]byte, error)
	// Adopt returns a handle on a process running on node that this
	// process did not start (e.g. one started by `faultline cluster up`),
	// by its pid as the node sees it. Its Wait cannot learn the exit
	// status: it reports only that the process has gone, with Code -1.
	Adopt(ctx context.Context, node string, pid int) (Process, error)
	// Files reaches node's filesystem.
	FileSystem
	// NodeDir is a directory on node that faultline owns for this run:
	// targets keep their data and logs under it and the agent its ledger.
	// It may not exist yet.
	NodeDir(node string) string
	// Binary is the path of faultline's own executable on node: the node
	// agent (Binary agent …) and the etcd member (Binary etcd-member …).
	Binary(node string) string
	// Ref describes the cluster so that the backend's Attach can reach it
	// again from another process (faultline heal, cluster down). It
	// holds no secret.
	Ref() Ref
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

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code, or -1 if the process was killed by a signal
	// or its status is unknown (an adopted process).
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
	if out := Tail(e.Output, 200); out != "" {
		msg += ": " + out
	}
	return msg
}

// Errors shared by every backend.
var (
	ErrNoNode   = errors.New("no such node")
	ErrExited   = errors.New("process has exited")
	ErrTornDown = errors.New("cluster has been torn down")
	// ErrNotFound is wrapped by Exec's error when the command's
	// executable does not exist on the node.
	ErrNotFound = errors.New("executable not found")
)

// Tail returns the last n bytes of b without trailing white space, so an
// error can quote what a failed command printed last.
func Tail(b []byte, n int) string {
	s := strings.TrimRight(string(b), " \t\r\n")
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// NodeNames lists the names of c's nodes, in c's order.
func NodeNames(c Cluster) []string {
	var out []string
	for _, n := range c.Nodes() {
		out = append(out, n.Name)
	}
	return out
}

// FindNode returns c's node called name.
func FindNode(c Cluster, name string) (Node, error) {
	for _, n := range c.Nodes() {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, &NodeError{Backend: c.Backend(), Node: name}
}

// NodeError says a cluster has no node of that name.
type NodeError struct {
	Backend, Node string
}

func (e *NodeError) Error() string {
	return e.Backend + " cluster: node " + strconv.Quote(e.Node) + ": no such node"
}
func (e *NodeError) Unwrap() error { return ErrNoNode }

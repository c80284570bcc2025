package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/internal/options"
)

// NodeSpec is a node as a plan names it. Backends say which fields they
// use: the local backend only Name; SSH Host, Port, User and Addr.
type NodeSpec struct {
	// Name is how faultline calls the node (histories, reports, grudges).
	Name string `json:"name" yaml:"name"`
	// Host is what the backend connects to (an SSH host or ~/.ssh/config
	// alias); empty means Name.
	Host string `json:"host,omitempty" yaml:"host,omitempty"`
	// Port is the SSH port (0: from ~/.ssh/config, else 22).
	Port int `json:"port,omitempty" yaml:"port,omitempty"`
	// User is the SSH user (empty: the backend's default).
	User string `json:"user,omitempty" yaml:"user,omitempty"`
	// Addr is the address other nodes and clients reach the node at, used
	// in partition rules (empty: Host, resolved).
	Addr string `json:"addr,omitempty" yaml:"addr,omitempty"`
}

// Config is what a backend's New gets.
type Config struct {
	// RunID names what the run makes; New picks one when empty.
	RunID string
	// Nodes are the nodes to make or reach.
	Nodes []NodeSpec
	// Options are the backend's options, resolved against its Specs.
	Options options.Values
	// StoreDir is the run's directory in the store. Backends whose nodes
	// share this host's filesystem keep node directories under it
	// (nodes/<node>), so that logs are in place without a download.
	StoreDir string
	// Detached makes the cluster outlive this process (cluster up).
	Detached bool
	// Image names the image a backend that makes containers runs the
	// target's nodes from (images.Names: "etcd", "postgres").
	Image string
	// Logf, if set, receives a line per step worth knowing; Progress, if
	// set, receives progress on long steps (uploads) for people.
	Logf     func(format string, args ...any)
	Progress io.Writer

	_ struct{}
}

// Ref is what a journal records of a cluster: enough for the backend's
// Attach to reach its nodes again from another process, and never a
// secret (an SSH key's path, not the key or its passphrase).
type Ref struct {
	Backend string            `json:"backend"`
	RunID   string            `json:"run_id"`
	Nodes   []NodeRef         `json:"nodes"`
	Options map[string]string `json:"options,omitempty"`
}

// NodeRef is one node of a Ref.
type NodeRef struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	// Dir is the node's NodeDir.
	Dir string `json:"dir"`
	// Binary is faultline's executable on the node.
	Binary string `json:"binary,omitempty"`
	// Locator is the backend's own way to reach the node, e.g. for SSH
	// {"host":…, "port":…, "user":…}.
	Locator json.RawMessage `json:"locator,omitempty"`
}

// SweepReport says what a backend's Sweep removed or left alone.
type SweepReport struct {
	Removed []string
	Skipped []string

	_ struct{}
}

// String is the report as people read it, one line per thing.
func (r SweepReport) String() string {
	var b strings.Builder
	for _, s := range r.Removed {
		b.WriteString(s + "\n")
	}
	for _, s := range r.Skipped {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// SweepOptions say what Sweep may remove besides leftovers of runs whose
// controller is gone.
type SweepOptions struct {
	// Detached also removes clusters made to outlive their creator
	// (faultline cluster up).
	Detached bool

	_ struct{}
}

// Backend is a way to reach nodes, registered by name.
type Backend struct {
	// Name is what plans call it (--control NAME).
	Name string
	// Doc is one line for `faultline list`.
	Doc string
	// Options are the backend's options (--control-opt KEY=VALUE).
	Options []options.Spec
	// Containers says its clusters implement Containers (faults that only
	// an engine can do: unplug).
	Containers bool
	// HostDirs says its nodes' directories (NodeRef.Dir) are on the
	// controller's host, so that heal can remove a dead run's data even
	// when its nodes are gone.
	HostDirs bool
	// Defaults fill in a plan that names no nodes: the local backend
	// makes n1…n5, others need an inventory (nil).
	DefaultNodes func(n int) []NodeSpec
	// FindsNodes, if set, says whether New finds the cluster's nodes by
	// itself with these options (docker's attach mode: the Compose
	// services), so that a plan's node names are not the cluster's and
	// faults naming nodes are checked against the cluster only.
	FindsNodes func(opts options.Values) bool
	// New makes the cluster (local namespaces) or connects to its nodes
	// (SSH), ready to run commands and faultline's agent.
	New func(ctx context.Context, cfg Config) (Cluster, error)
	// Attach reaches a cluster again from its Ref, for faultline heal and
	// cluster down. Detached clusters must survive it.
	Attach func(ctx context.Context, ref Ref, cfg Config) (Cluster, error)
	// Sweep removes, without a journal, what crashed runs of this backend
	// left on this host (nil: the backend leaves nothing a journal does not
	// name).
	Sweep func(ctx context.Context, opts SweepOptions) (SweepReport, error)

	_ struct{}
}

var registry struct {
	mu       sync.Mutex
	backends []Backend
}

// Register adds a backend; each backend's package calls it from init.
func Register(b Backend) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for _, o := range registry.backends {
		if o.Name == b.Name {
			panic("control: backend " + b.Name + " registered twice")
		}
	}
	registry.backends = append(registry.backends, b)
	slices.SortFunc(registry.backends, func(a, b Backend) int { return strings.Compare(a.Name, b.Name) })
}

// Backends lists the registered backends by name.
func Backends() []Backend {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return slices.Clone(registry.backends)
}

// BackendNames lists the registered backends' names.
func BackendNames() []string {
	var out []string
	for _, b := range Backends() {
		out = append(out, b.Name)
	}
	return out
}

// Lookup finds a backend by name.
func Lookup(name string) (Backend, error) {
	for _, b := range Backends() {
		if b.Name == name {
			return b, nil
		}
	}
	return Backend{}, fmt.Errorf("unknown control backend %q (known: %s)", name, strings.Join(BackendNames(), ", "))
}

// New makes a cluster with the named backend, resolving its options.
func New(ctx context.Context, backend string, cfg Config, given map[string]string) (Cluster, error) {
	b, err := Lookup(backend)
	if err != nil {
		return nil, err
	}
	if cfg.Options == nil {
		if cfg.Options, err = options.Resolve("control backend "+b.Name, b.Options, given); err != nil {
			return nil, err
		}
	}
	return b.New(ctx, cfg)
}

// Attach reaches the cluster ref names again.
func Attach(ctx context.Context, ref Ref, cfg Config) (Cluster, error) {
	b, err := Lookup(ref.Backend)
	if err != nil {
		return nil, err
	}
	if cfg.Options == nil {
		if cfg.Options, err = options.Resolve("control backend "+b.Name, b.Options, ref.Options); err != nil {
			return nil, err
		}
	}
	return b.Attach(ctx, ref, cfg)
}

// ErrGone is wrapped by a backend's Attach when the cluster no longer
// exists (its namespaces were removed): nothing of it is left to heal.
var ErrGone = errors.New("cluster has gone")

// Containers is an optional capability of a Cluster whose nodes are
// containers on an engine (control/docker): what the engine does to a
// node as a whole. Pids are the host's: the agent of such a cluster runs
// on the host.
type Containers interface {
	// ContainerPid is the host pid of the first process of node's
	// container, 0 when it does not run.
	ContainerPid(ctx context.Context, node string) (int, error)
	// KillContainer kills node's container through the engine (SIGKILL)
	// and returns once it has stopped; StartContainer starts it again.
	KillContainer(ctx context.Context, node string) error
	StartContainer(ctx context.Context, node string) error
	// Unplug disconnects node's container from its network; Replug
	// connects it again with the address it had. CanReplug says why
	// Replug could not give node's container its address back (nil: it
	// can), before anything is unplugged.
	Unplug(ctx context.Context, node string) error
	Replug(ctx context.Context, node string) error
	CanReplug(ctx context.Context, node string) error
	// Freeze and Thaw pause and resume node's container with the
	// engine's freezer (docker pause). UseFreezer says whether the pause
	// fault should (the backend's pause option).
	Freeze(ctx context.Context, node string) error
	Thaw(ctx context.Context, node string) error
	UseFreezer() bool
	// EngineCommand is argv, run by node's agent, that asks the engine
	// for op (start, unpause, connect) on node's container when the
	// controller cannot (its lease ran out).
	EngineCommand(node, op string) []string
	// Logs writes the output of node's container since a time.
	Logs(ctx context.Context, node string, since time.Time, w io.Writer) error
}

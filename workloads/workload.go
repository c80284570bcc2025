package workloads

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
)

// Invocation is an operation to perform: what the generator asks for.
type Invocation struct {
	F     string
	Key   string
	Value any
}

// Completion is how an operation ended.
type Completion struct {
	// Type is OK, Fail or Info.
	Type  histories.Type
	Value any
	// Error says why an op failed or is unknown; empty for OK and for a
	// fail that is an answer (a cas whose compare did not match).
	Error string
}

// Generator yields the sequence of operations of a test. It is
// deterministic for a seed: the same seed gives the same sequence. Next is
// called under the controller's lock, never concurrently.
type Generator interface {
	Next() Invocation
	// Done is told when an operation completed, so that generators can
	// retire keys that have had enough operations.
	Done(inv Invocation, c Completion)
}

// KeyRetirer is an optional capability of a Workload whose keys retire:
// each key is given exactly KeyOps invocations and never another, so that
// once a key has had them all, each completed, its part of the history is
// final. An online checker checks such a key while the run goes on (the
// register workload's keys, checked for linearizability one by one).
type KeyRetirer interface {
	KeyOps() int
}

// FinalGenerator is an optional capability of a Generator: the operations
// to run once the workload is over, every fault healed and the cluster
// healthy again (Jepsen's final generator: a set's final reads of every
// key it used, a queue's drain). They are recorded in the history like
// any other operation, one worker each, before the check.
type FinalGenerator interface {
	Final() []Invocation
}

// ProcessGenerator is an optional capability of a Generator whose
// operations form a sequence per process rather than one shared stream: a
// lock's acquire, hold and release must come from the process (and so the
// client, which holds the lock's session) that acquired it. The controller
// calls NextFor instead of Next, under the same lock, with the process
// that will perform the operation, and lets wait pass before invoking it
// (the time a lock is held); a run that ends during the wait does not
// invoke it. A process whose operation ends in info is retired and its
// worker goes on as a new process, so a sequence starts afresh then.
type ProcessGenerator interface {
	NextFor(p histories.Process) (inv Invocation, wait time.Duration)
	// Finish is what process p must still do once the run is over, before
	// its client closes, recorded like any operation: a lock's release,
	// so that the history does not end with p holding a lock that its
	// closed client let go of (Jepsen's lock client records a release as
	// it closes, for the same reason). nil when p holds nothing.
	Finish(p histories.Process) []Invocation
}

// Initializer is an optional capability of a Workload: state to make once
// per run before any operation (the bank's accounts). The controller calls
// Init once, with a client of the first node that serves, after the
// cluster is up and healthy and before the workers and the nemesis start;
// an error fails the run's setup. Init may be called again on a later run
// against the same data, so it must be idempotent.
type Initializer interface {
	Init(ctx context.Context, client any) error
}

// Workload is one kind of load.
type Workload interface {
	Name() string
	Doc() string
	// NewGenerator starts a generator for a seed.
	NewGenerator(seed int64) Generator
	// Supports says whether a target client can run this workload.
	Supports(client any) error
	// Invoke performs inv with client and classifies the outcome: ok, fail
	// (certainly not applied) or info (unknown).
	Invoke(ctx context.Context, client any, inv Invocation) Completion
	// Check is what the recorded history must be checked for.
	Check() suite.Options
}

var registry = map[string]Workload{}

// Register adds a workload to the registry; sub-packages call it from init.
func Register(w Workload) {
	if _, dup := registry[w.Name()]; dup {
		panic("workloads: duplicate " + w.Name())
	}
	registry[w.Name()] = w
}

// Get finds a workload by name.
func Get(name string) (Workload, error) {
	if w, ok := registry[name]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the registered workloads, sorted.
func Names() []string {
	var ns []string
	for n := range registry {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// All lists the registered workloads, sorted by name.
func All() []Workload {
	var ws []Workload
	for _, n := range Names() {
		ws = append(ws, registry[n])
	}
	return ws
}

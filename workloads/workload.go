package workloads

import (
	"context"
	"fmt"
	"sort"
	"strings"

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

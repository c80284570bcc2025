package set

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Name is the workload's name in plans and histories.
const Name = "set"

// Defaults of the Workload's knobs.
const (
	DefaultActiveKeys = 3
	DefaultAddsPerKey = 500
	DefaultReadEvery  = 4
)

// Workload is the set workload with its knobs; zero values mean the
// defaults.
type Workload struct {
	// ActiveKeys is how many sets are in play at once.
	ActiveKeys int
	// AddsPerKey is how many adds a set gets before it retires.
	AddsPerKey int
	// ReadEvery is how many adds there are per read, on average.
	ReadEvery int

	_ struct{}
}

var (
	_ workloads.Workload       = (*Workload)(nil)
	_ workloads.FinalGenerator = (*generator)(nil)
)

// Default is the registered instance.
var Default = &Workload{}

func init() { workloads.Register(Default) }

func (w *Workload) config() (active, perKey, readEvery int) {
	active, perKey, readEvery = w.ActiveKeys, w.AddsPerKey, w.ReadEvery
	if active < 1 {
		active = DefaultActiveKeys
	}
	if perKey < 1 {
		perKey = DefaultAddsPerKey
	}
	if readEvery < 1 {
		readEvery = DefaultReadEvery
	}
	return
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	active, perKey, readEvery := w.config()
	return fmt.Sprintf("grow-only sets (Jepsen's set-full): adds of unique integers to %d sets at a time, each retired after %d adds, one whole-set read per %d adds, a final read of every set",
		active, perKey, readEvery)
}

// Check implements workloads.Workload.
func (w *Workload) Check() suite.Options { return suite.Options{Workload: Name} }

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no set operations (SetAdd, SetRead)")
	}
	return nil
}

// NewGenerator implements workloads.Workload.
func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	active, perKey, readEvery := w.config()
	rng := rand.New(rand.NewSource(seed))
	return &generator{rng: rng, keys: workloads.NewKeys(rng, active, perKey), readEvery: readEvery}
}

// generator is deterministic for a seed: elements are 0, 1, 2, … across
// every key, so each is unique in the run; keys retire by adds generated.
type generator struct {
	rng       *rand.Rand
	keys      *workloads.Keys
	readEvery int
	nextElem  int64
}

// Next implements workloads.Generator.
func (g *generator) Next() workloads.Invocation {
	slot, key := g.keys.Pick()
	if g.rng.Intn(g.readEvery+1) == 0 {
		return workloads.Invocation{F: "read", Key: key}
	}
	e := g.nextElem
	g.nextElem++
	g.keys.Wrote(slot)
	return workloads.Invocation{F: "add", Key: key, Value: e}
}

// Done implements workloads.Generator.
func (g *generator) Done(workloads.Invocation, workloads.Completion) {}

// Final implements workloads.FinalGenerator: a read of every key used.
func (g *generator) Final() []workloads.Invocation { return g.keys.Final("read") }

// Invoke implements workloads.Workload.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	switch inv.F {
	case "add":
		e, ok := inv.Value.(int64)
		if !ok {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: fmt.Sprintf("set: add of %T, want an int64", inv.Value)}
		}
		if err := c.SetAdd(ctx, inv.Key, e); err != nil {
			return workloads.Failed(c.Definite, err, inv.Value)
		}
		return workloads.Completion{Type: histories.OK, Value: inv.Value}
	case "read":
		es, err := c.SetRead(ctx, inv.Key)
		if err != nil {
			return workloads.Completion{Type: histories.Fail, Error: err.Error()}
		}
		slices.Sort(es)
		return workloads.Completion{Type: histories.OK, Value: list(es)}
	}
	return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("set: unknown f %q", inv.F)}
}

// list is es as a history value: a list ([]any) of int64, never nil.
func list(es []int64) []any {
	out := make([]any, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

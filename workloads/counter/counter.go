package counter

import (
	"context"
	"errors"
	"fmt"
	"math/rand"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Name is the workload's name in plans and histories.
const Name = "counter"

// Defaults of the Workload's knobs.
const (
	DefaultActiveKeys = 3
	DefaultAddsPerKey = 200
	DefaultMaxDelta   = 5
)

// Workload is the counter workload with its knobs; zero values mean the
// defaults.
type Workload struct {
	// ActiveKeys is how many counters are in play at once.
	ActiveKeys int
	// AddsPerKey is how many adds a counter gets before it retires.
	AddsPerKey int
	// MaxDelta is the largest delta an add adds (the smallest is 1).
	MaxDelta int

	_ struct{}
}

var (
	_ workloads.Workload       = (*Workload)(nil)
	_ workloads.FinalGenerator = (*generator)(nil)
)

// Default is the registered instance.
var Default = &Workload{}

func init() { workloads.Register(Default) }

func (w *Workload) config() (active, perKey, maxDelta int) {
	active, perKey, maxDelta = w.ActiveKeys, w.AddsPerKey, w.MaxDelta
	if active < 1 {
		active = DefaultActiveKeys
	}
	if perKey < 1 {
		perKey = DefaultAddsPerKey
	}
	if maxDelta < 1 {
		maxDelta = DefaultMaxDelta
	}
	return
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	active, perKey, maxDelta := w.config()
	return fmt.Sprintf("counters (Jepsen's counter): adds of 1-%d and reads, half each, over %d counters at a time, each retired after %d adds, a final read of every counter",
		maxDelta, active, perKey)
}

// Check implements workloads.Workload.
func (w *Workload) Check() suite.Options { return suite.Options{Workload: Name} }

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no counter operations (CounterAdd, CounterRead)")
	}
	return nil
}

// NewGenerator implements workloads.Workload.
func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	active, perKey, maxDelta := w.config()
	rng := rand.New(rand.NewSource(seed))
	return &generator{rng: rng, keys: workloads.NewKeys(rng, active, perKey), maxDelta: maxDelta}
}

// generator is deterministic for a seed: keys retire by adds generated.
type generator struct {
	rng      *rand.Rand
	keys     *workloads.Keys
	maxDelta int
}

// Next implements workloads.Generator.
func (g *generator) Next() workloads.Invocation {
	slot, key := g.keys.Pick()
	if g.rng.Intn(2) == 0 {
		return workloads.Invocation{F: "read", Key: key}
	}
	delta := 1 + g.rng.Int63n(int64(g.maxDelta))
	g.keys.Wrote(slot)
	return workloads.Invocation{F: "add", Key: key, Value: delta}
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
		delta, ok := inv.Value.(int64)
		if !ok {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: fmt.Sprintf("counter: add of %T, want an int64", inv.Value)}
		}
		if err := c.CounterAdd(ctx, inv.Key, delta); err != nil {
			return workloads.Failed(c.Definite, err, inv.Value)
		}
		return workloads.Completion{Type: histories.OK, Value: inv.Value}
	case "read":
		n, err := c.CounterRead(ctx, inv.Key)
		if err != nil {
			return workloads.Completion{Type: histories.Fail, Error: err.Error()}
		}
		return workloads.Completion{Type: histories.OK, Value: n}
	}
	return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("counter: unknown f %q", inv.F)}
}

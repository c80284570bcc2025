package queue

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
const Name = "queue"

// ErrorEmpty is the error of a dequeue that found its queue empty.
const ErrorEmpty = "empty"

// Defaults of the Workload's knobs.
const (
	DefaultActiveKeys     = 2
	DefaultEnqueuesPerKey = 500
)

// Workload is the queue workload with its knobs; zero values mean the
// defaults.
type Workload struct {
	// ActiveKeys is how many queues are in play at once.
	ActiveKeys int
	// EnqueuesPerKey is how many enqueues a queue gets before it retires.
	EnqueuesPerKey int

	_ struct{}
}

var (
	_ workloads.Workload       = (*Workload)(nil)
	_ workloads.FinalGenerator = (*generator)(nil)
)

// Default is the registered instance.
var Default = &Workload{}

func init() { workloads.Register(Default) }

func (w *Workload) config() (active, perKey int) {
	active, perKey = w.ActiveKeys, w.EnqueuesPerKey
	if active < 1 {
		active = DefaultActiveKeys
	}
	if perKey < 1 {
		perKey = DefaultEnqueuesPerKey
	}
	return
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	active, perKey := w.config()
	return fmt.Sprintf("FIFO queues (Jepsen's queue): enqueues of unique integers and dequeues, half each, over %d queues at a time, each retired after %d enqueues, a final drain of every queue",
		active, perKey)
}

// Check implements workloads.Workload.
func (w *Workload) Check() suite.Options { return suite.Options{Workload: Name} }

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no queue operations (Enqueue, Dequeue, Drain)")
	}
	return nil
}

// NewGenerator implements workloads.Workload.
func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	active, perKey := w.config()
	rng := rand.New(rand.NewSource(seed))
	return &generator{rng: rng, keys: workloads.NewKeys(rng, active, perKey)}
}

// generator is deterministic for a seed: values are 0, 1, 2, … across
// every queue; keys retire by enqueues generated.
type generator struct {
	rng   *rand.Rand
	keys  *workloads.Keys
	nextV int64
}

// Next implements workloads.Generator.
func (g *generator) Next() workloads.Invocation {
	slot, key := g.keys.Pick()
	if g.rng.Intn(2) == 0 {
		return workloads.Invocation{F: "dequeue", Key: key}
	}
	v := g.nextV
	g.nextV++
	g.keys.Wrote(slot)
	return workloads.Invocation{F: "enqueue", Key: key, Value: v}
}

// Done implements workloads.Generator.
func (g *generator) Done(workloads.Invocation, workloads.Completion) {}

// Final implements workloads.FinalGenerator: a drain of every key used.
func (g *generator) Final() []workloads.Invocation { return g.keys.Final("drain") }

// Invoke implements workloads.Workload.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	failed := func(err error) workloads.Completion { return workloads.Failed(c.Definite, err, inv.Value) }
	switch inv.F {
	case "enqueue":
		v, ok := inv.Value.(int64)
		if !ok {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: fmt.Sprintf("queue: enqueue of %T, want an int64", inv.Value)}
		}
		if err := c.Enqueue(ctx, inv.Key, v); err != nil {
			return failed(err)
		}
		return workloads.Completion{Type: histories.OK, Value: inv.Value}
	case "dequeue":
		v, ok, err := c.Dequeue(ctx, inv.Key)
		switch {
		case err != nil && ok && !c.Definite(err):
			// It may have taken v: the history says which.
			return workloads.Completion{Type: histories.Info, Value: v, Error: err.Error()}
		case err != nil:
			return failed(err)
		case !ok:
			return workloads.Completion{Type: histories.Fail, Error: ErrorEmpty}
		}
		return workloads.Completion{Type: histories.OK, Value: v}
	case "drain":
		vs, err := c.Drain(ctx, inv.Key)
		if err != nil {
			return failed(err)
		}
		out := make([]any, len(vs))
		for i, v := range vs {
			out[i] = v
		}
		return workloads.Completion{Type: histories.OK, Value: out}
	}
	return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("queue: unknown f %q", inv.F)}
}

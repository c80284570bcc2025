package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"

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
	g := &generator{rng: rand.New(rand.NewSource(seed)), perKey: perKey}
	for range active {
		g.slots = append(g.slots, g.newKey())
	}
	return g
}

// key is a queue in play: its id and how many enqueues it has been given.
type key struct {
	id       int
	enqueues int
}

// generator is deterministic for a seed: keys retire by enqueues
// generated.
type generator struct {
	rng     *rand.Rand
	perKey  int
	slots   []*key
	nextKey int
	nextV   int64
}

func (g *generator) newKey() *key {
	k := &key{id: g.nextKey}
	g.nextKey++
	return k
}

// Next implements workloads.Generator.
func (g *generator) Next() workloads.Invocation {
	slot := g.rng.Intn(len(g.slots))
	k := g.slots[slot]
	if g.rng.Intn(2) == 0 {
		return workloads.Invocation{F: "dequeue", Key: strconv.Itoa(k.id)}
	}
	v := g.nextV
	g.nextV++
	k.enqueues++
	if k.enqueues >= g.perKey {
		g.slots[slot] = g.newKey()
	}
	return workloads.Invocation{F: "enqueue", Key: strconv.Itoa(k.id), Value: v}
}

// Done implements workloads.Generator.
func (g *generator) Done(workloads.Invocation, workloads.Completion) {}

// Final implements workloads.FinalGenerator: a drain of every key used.
func (g *generator) Final() []workloads.Invocation {
	out := make([]workloads.Invocation, 0, g.nextKey)
	for id := range g.nextKey {
		out = append(out, workloads.Invocation{F: "drain", Key: strconv.Itoa(id)})
	}
	return out
}

// Invoke implements workloads.Workload.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	failed := func(err error) workloads.Completion {
		if c.Definite(err) {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: err.Error()}
		}
		return workloads.Completion{Type: histories.Info, Value: inv.Value, Error: err.Error()}
	}
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

// Package register is Jepsen's independent CAS register workload: per key, a
// mix of read, write and cas with unique written values. Keys rotate after a
// bounded number of operations, so each key's history stays small enough for
// the linearizability search; the history is checked per key with the
// cas-register model.
//
// Decisions: a cas whose compare did not match is recorded as fail with no
// error — the checker reads that as "observed a value other than the
// expected one", which is what a failed etcd Txn compare means. Values
// written to a key are 1, 2, 3, … in generation order, so they are unique
// per key. Ops are generated with a mix of 50% reads, 25% writes, 25% cas.
package register

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

// Client is what a target must offer for this workload. Read returns nil
// for a missing key.
type Client interface {
	Read(ctx context.Context, key string) (*int64, error)
	Write(ctx context.Context, key string, v int64) error
	CAS(ctx context.Context, key string, old, new int64) (bool, error)
	// Definite says whether err means the operation certainly did not take
	// effect (e.g. the request was never sent); otherwise the outcome is
	// unknown and the op is recorded as info.
	Definite(err error) bool
}

// Workload is the register workload with its knobs.
type Workload struct {
	// OpsPerKey bounds each key's history; ActiveKeys is how many keys are
	// in play at once.
	OpsPerKey  int
	ActiveKeys int
}

// Default is the registered instance.
var Default = &Workload{OpsPerKey: 200, ActiveKeys: 10}

func init() { workloads.Register(Default) }

func (w *Workload) Name() string { return "register" }

// KeyOps implements workloads.KeyRetirer: a key is given OpsPerKey
// invocations, then retired.
func (w *Workload) KeyOps() int { return w.OpsPerKey }
func (w *Workload) Doc() string {
	return "independent CAS registers: read/write/cas per key, keys rotate every " + strconv.Itoa(w.OpsPerKey) + " ops; checked per key as cas-register"
}

func (w *Workload) Check() suite.Options { return suite.Options{Model: "cas-register"} }

func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no register operations (read, write, cas)")
	}
	return nil
}

// keyState is a key in play: how many ops it has been given and the last
// value written to it.
type keyState struct {
	id    int
	given int
	nextV int64
}

type generator struct {
	w      *Workload
	rng    *rand.Rand
	active []*keyState
	nextID int
}

func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	g := &generator{w: w, rng: rand.New(rand.NewSource(seed))}
	for i := 0; i < max(1, w.ActiveKeys); i++ {
		g.active = append(g.active, g.newKey())
	}
	return g
}

func (g *generator) newKey() *keyState {
	k := &keyState{id: g.nextID, nextV: 1}
	g.nextID++
	return k
}

func (g *generator) Next() workloads.Invocation {
	slot := g.rng.Intn(len(g.active))
	k := g.active[slot]
	k.given++
	if k.given >= g.w.OpsPerKey {
		// Retire the key: it has been given enough ops.
		g.active[slot] = g.newKey()
	}
	key := strconv.Itoa(k.id)
	switch r := g.rng.Intn(4); {
	case r < 2:
		return workloads.Invocation{F: "read", Key: key}
	case r == 2:
		v := k.nextV
		k.nextV++
		return workloads.Invocation{F: "write", Key: key, Value: v}
	default:
		// Compare against a recent value, so that some cas succeed.
		old := k.nextV - 1 - int64(g.rng.Intn(2))
		if old < 1 {
			old = 1
		}
		v := k.nextV
		k.nextV++
		return workloads.Invocation{F: "cas", Key: key, Value: []any{old, v}}
	}
}

func (g *generator) Done(workloads.Invocation, workloads.Completion) {}

func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	fail := func(err error) workloads.Completion { return workloads.Failed(c.Definite, err, inv.Value) }
	switch inv.F {
	case "read":
		v, err := c.Read(ctx, inv.Key)
		if err != nil {
			// A read changes nothing: a failed read is a fail whatever the
			// cause, and its process need not be retired.
			return workloads.Completion{Type: histories.Fail, Error: err.Error()}
		}
		if v == nil {
			return workloads.Completion{Type: histories.OK}
		}
		return workloads.Completion{Type: histories.OK, Value: *v}
	case "write":
		if err := c.Write(ctx, inv.Key, inv.Value.(int64)); err != nil {
			return fail(err)
		}
		return workloads.Completion{Type: histories.OK, Value: inv.Value}
	case "cas":
		vs := inv.Value.([]any)
		ok, err := c.CAS(ctx, inv.Key, vs[0].(int64), vs[1].(int64))
		if err != nil {
			return fail(err)
		}
		if !ok {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value}
		}
		return workloads.Completion{Type: histories.OK, Value: inv.Value}
	}
	return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("register: unknown f %q", inv.F)}
}

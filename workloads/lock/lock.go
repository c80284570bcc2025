package lock

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Name is the workload's name in plans and histories.
const Name = "lock"

// ErrorFenced is the error of a write the resource refused.
const ErrorFenced = "fenced"

// Defaults of the Workload's knobs.
const (
	DefaultLocks           = 1
	DefaultHold            = 100 * time.Millisecond
	DefaultMaxReleaseTries = 3
)

// Workload is the lock workload with its knobs; zero values mean the
// defaults.
type Workload struct {
	// Locks is how many locks there are, named "0", "1", ….
	Locks int
	// Hold is how long a process holds a lock it acquired before its
	// fenced write or its release.
	Hold time.Duration
	// NoFencing leaves the fenced writes out even when the target has
	// them.
	NoFencing bool
	// MaxReleaseTries is how many releases in a row may fail before a
	// process takes its lock as lost.
	MaxReleaseTries int

	_ struct{}
}

var (
	_ workloads.Workload         = (*Workload)(nil)
	_ workloads.ProcessGenerator = (*generator)(nil)
)

// Default is the registered instance.
var Default = &Workload{}

func init() { workloads.Register(Default) }

// config is the Workload with defaults filled.
type config struct {
	locks, maxReleaseTries int
	hold                   time.Duration
	fencing                bool
}

func (w *Workload) config() config {
	c := config{locks: w.Locks, hold: w.Hold, fencing: !w.NoFencing, maxReleaseTries: w.MaxReleaseTries}
	if c.locks < 1 {
		c.locks = DefaultLocks
	}
	if c.hold <= 0 {
		c.hold = DefaultHold
	}
	if c.maxReleaseTries < 1 {
		c.maxReleaseTries = DefaultMaxReleaseTries
	}
	return c
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	c := w.config()
	fenced := ", a fenced write with the lock's token where the target has tokens"
	if !c.fencing {
		fenced = ""
	}
	which := "the lock"
	if c.locks > 1 {
		which = fmt.Sprintf("one of %d locks", c.locks)
	}
	return fmt.Sprintf("locks (after Jepsen's etcd lock test): each process acquires %s, holds it %s%s, and releases it",
		which, c.hold, fenced)
}

// Check implements workloads.Workload.
func (w *Workload) Check() suite.Options { return suite.Options{Workload: Name} }

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no lock (Acquire, Release)")
	}
	return nil
}

// Owner is process p as a lock owner: its number.
func Owner(p histories.Process) string { return strconv.Itoa(int(p)) }

// NewGenerator implements workloads.Workload.
func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	return &generator{c: w.config(), rng: rand.New(rand.NewSource(seed)),
		owners: map[histories.Process]*owner{}, writes: map[int64]histories.Process{}}
}

// What a process does next.
const (
	fAcquire = "acquire"
	fWrite   = "write"
	fRelease = "release"
)

// owner is one process's place in its loop.
type owner struct {
	next  string        // the next op's f
	wait  time.Duration // the pause before it
	lock  string        // the lock it acquires or holds
	token int64         // the token of its acquisition
	// releaseFails counts the releases in a row that failed.
	releaseFails int
}

// generator keeps each process's loop. Its sequence per process is
// deterministic for a seed (the locks acquired are drawn from it); how
// the processes interleave is the run's.
type generator struct {
	c      config
	rng    *rand.Rand
	owners map[histories.Process]*owner
	// writes maps a write in flight (by its n) to its process.
	writes    map[int64]histories.Process
	nextWrite int64
}

// Next implements workloads.Generator: NextFor process 0, for a caller
// that does not know processes (the controller asks NextFor).
func (g *generator) Next() workloads.Invocation {
	inv, _ := g.NextFor(0)
	return inv
}

// NextFor implements workloads.ProcessGenerator.
func (g *generator) NextFor(p histories.Process) (workloads.Invocation, time.Duration) {
	o := g.owners[p]
	if o == nil {
		o = &owner{next: fAcquire}
		g.owners[p] = o
	}
	wait := o.wait
	o.wait = 0
	switch o.next {
	case fWrite:
		n := g.nextWrite
		g.nextWrite++
		g.writes[n] = p
		return workloads.Invocation{F: fWrite, Key: o.lock, Value: []any{o.token, n}}, wait
	case fRelease:
		return workloads.Invocation{F: fRelease, Key: o.lock, Value: Owner(p)}, wait
	}
	o.lock = strconv.Itoa(g.rng.Intn(g.c.locks))
	return workloads.Invocation{F: fAcquire, Key: o.lock, Value: Owner(p)}, wait
}

// Finish implements workloads.ProcessGenerator: a release of the lock p
// holds, if it holds one (its fenced write, if still to come, is left
// out).
func (g *generator) Finish(p histories.Process) []workloads.Invocation {
	o := g.owners[p]
	if o == nil || (o.next != fWrite && o.next != fRelease) {
		return nil
	}
	o.next, o.wait = fRelease, 0
	return []workloads.Invocation{{F: fRelease, Key: o.lock, Value: Owner(p)}}
}

// Done implements workloads.Generator: it moves the op's process along
// its loop.
func (g *generator) Done(inv workloads.Invocation, c workloads.Completion) {
	p, ok := g.process(inv)
	if !ok {
		return
	}
	o := g.owners[p]
	if o == nil {
		return
	}
	if c.Type == histories.Info {
		// The process is retired; its worker goes on as a new one.
		delete(g.owners, p)
		return
	}
	switch inv.F {
	case fAcquire:
		if c.Type != histories.OK {
			o.next = fAcquire
			return
		}
		o.token, _ = c.Value.(int64)
		o.wait = g.c.hold
		o.next = fRelease
		if g.c.fencing && o.token > 0 {
			o.next = fWrite
		}
	case fWrite:
		o.next = fRelease
	case fRelease:
		if c.Type == histories.OK {
			o.next, o.releaseFails = fAcquire, 0
			return
		}
		o.releaseFails++
		o.next = fRelease
		if o.releaseFails >= g.c.maxReleaseTries {
			o.next, o.releaseFails = fAcquire, 0
		}
	}
}

// process finds the process of an invocation NextFor made.
func (g *generator) process(inv workloads.Invocation) (histories.Process, bool) {
	if inv.F == fWrite {
		vs, _ := inv.Value.([]any)
		if len(vs) != 2 {
			return 0, false
		}
		n, _ := vs[1].(int64)
		p, ok := g.writes[n]
		delete(g.writes, n)
		return p, ok
	}
	s, _ := inv.Value.(string)
	n, err := strconv.Atoi(s)
	return histories.Process(n), err == nil
}

// Invoke implements workloads.Workload.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	failed := func(err error) workloads.Completion { return workloads.Failed(c.Definite, err, inv.Value) }
	switch inv.F {
	case fAcquire:
		owner, _ := inv.Value.(string)
		token, err := c.Acquire(ctx, inv.Key, owner)
		if err != nil {
			return failed(err)
		}
		return workloads.Completion{Type: histories.OK, Value: token}
	case fWrite:
		vs, _ := inv.Value.([]any)
		var token, n int64
		if len(vs) == 2 {
			token, _ = vs[0].(int64)
			n, _ = vs[1].(int64)
		}
		if token <= 0 {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: fmt.Sprintf("lock: write of %v, want [token > 0, n]", inv.Value)}
		}
		f, ok := client.(Fenced)
		if !ok {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: "lock: the target's lock gives tokens but has no fenced resource (FencedWrite)"}
		}
		err := f.FencedWrite(ctx, inv.Key, token, n)
		switch {
		case err == nil:
			return workloads.Completion{Type: histories.OK, Value: inv.Value}
		case errors.Is(err, ErrFenced):
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: ErrorFenced}
		}
		return failed(err)
	case fRelease:
		owner, _ := inv.Value.(string)
		if err := c.Release(ctx, inv.Key, owner); err != nil {
			return failed(err)
		}
		return workloads.Completion{Type: histories.OK, Value: inv.Value}
	}
	return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("lock: unknown f %q", inv.F)}
}

package lock

import (
	"context"
	"errors"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// step is one operation of a simulated run: which process asked, what it
// got, how long it was to wait, and how it ended.
type step struct {
	p    histories.Process
	inv  workloads.Invocation
	wait time.Duration
	c    workloads.Completion
}

// simulate drives g as the controller does, with workers taking turns and
// outcomes drawn from rng: acquires give increasing tokens (or 0 when
// tokens is false); any op may fail or end in info. A worker whose op
// ended in info goes on as a new process.
func simulate(g workloads.Generator, workers, n int, rng *rand.Rand, tokens bool) []step {
	procs := make([]histories.Process, workers)
	for w := range procs {
		procs[w] = histories.Process(w)
	}
	var out []step
	token := int64(100)
	for i := range n {
		w := i % workers
		inv, wait := g.(workloads.ProcessGenerator).NextFor(procs[w])
		c := workloads.Completion{Type: histories.OK, Value: inv.Value}
		switch r := rng.Intn(10); {
		case r == 0:
			c = workloads.Completion{Type: histories.Info, Value: inv.Value, Error: "timeout"}
		case r <= 2:
			c = workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: "refused"}
		case inv.F == "acquire":
			token++
			c.Value = token
			if !tokens {
				c.Value = int64(0)
			}
		}
		g.Done(inv, c)
		out = append(out, step{procs[w], inv, wait, c})
		if c.Type == histories.Info {
			procs[w] += histories.Process(workers)
		}
	}
	return out
}

// Each process runs acquire, hold, write, release in a loop: a release
// only after its own acquire succeeded, a write only with that
// acquisition's token, the hold before the first op after an acquire, a
// failed release tried again at most MaxReleaseTries times, and nothing
// after an info.
func TestPerProcessSequence(t *testing.T) {
	for _, c := range []struct {
		name      string
		w         *Workload
		tokens    bool
		wantWrite bool
	}{
		{"fenced", &Workload{Hold: 50 * time.Millisecond}, true, true},
		{"no fencing", &Workload{NoFencing: true}, true, false},
		{"no tokens", &Workload{}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.w.config()
			steps := simulate(c.w.NewGenerator(1), 4, 4000, rand.New(rand.NewSource(2)), c.tokens)
			type state struct {
				next             string // what may come next: acquire, write|release, release
				token            int64
				lock             string
				retired          bool
				releaseFails     int
				waitBeforeNextOp bool
			}
			states := map[histories.Process]*state{}
			writes := map[int64]bool{}
			sawWrite := false
			for i, s := range steps {
				st := states[s.p]
				if st == nil {
					st = &state{next: "acquire"}
					states[s.p] = st
				}
				if st.retired {
					t.Fatalf("step %d: process %d runs %s after an info", i, s.p, s.inv.F)
				}
				wantWait := time.Duration(0)
				if st.waitBeforeNextOp {
					wantWait = cfg.hold
				}
				if s.wait != wantWait {
					t.Fatalf("step %d: %s of process %d waits %v, want %v", i, s.inv.F, s.p, s.wait, wantWait)
				}
				st.waitBeforeNextOp = false
				switch s.inv.F {
				case "acquire":
					if st.next != "acquire" {
						t.Fatalf("step %d: process %d acquires; want %s", i, s.p, st.next)
					}
					if s.inv.Value != Owner(s.p) {
						t.Fatalf("step %d: acquire value %v, want owner %q", i, s.inv.Value, Owner(s.p))
					}
					st.lock = s.inv.Key
					if s.c.Type == histories.OK {
						st.token = s.c.Value.(int64)
						st.next, st.waitBeforeNextOp = "release", true
						if c.wantWrite {
							st.next = "write"
						}
					}
				case "write":
					sawWrite = true
					vs := s.inv.Value.([]any)
					if st.next != "write" || vs[0] != st.token || s.inv.Key != st.lock {
						t.Fatalf("step %d: process %d writes %v to %s; want %s (token %d, lock %s)", i, s.p, vs, s.inv.Key, st.next, st.token, st.lock)
					}
					if writes[vs[1].(int64)] {
						t.Fatalf("step %d: write number %v twice", i, vs[1])
					}
					writes[vs[1].(int64)] = true
					st.next = "release"
				case "release":
					if st.next != "release" || s.inv.Key != st.lock || s.inv.Value != Owner(s.p) {
						t.Fatalf("step %d: process %d releases %s (%v); want %s of %s", i, s.p, s.inv.Key, s.inv.Value, st.next, st.lock)
					}
					switch s.c.Type {
					case histories.OK:
						st.next, st.releaseFails = "acquire", 0
					case histories.Fail:
						st.releaseFails++
						if st.releaseFails >= cfg.maxReleaseTries {
							st.next, st.releaseFails = "acquire", 0
						}
					}
				default:
					t.Fatalf("step %d: f %q", i, s.inv.F)
				}
				if s.c.Type == histories.Info {
					st.retired = true
				}
			}
			if sawWrite != c.wantWrite {
				t.Errorf("writes made: %v, want %v", sawWrite, c.wantWrite)
			}
			if len(states) < 10 {
				t.Errorf("only %d processes: infos do not retire processes", len(states))
			}
		})
	}
}

// A process that holds a lock when the run ends releases it; one that
// holds nothing does nothing.
func TestFinish(t *testing.T) {
	g := Default.NewGenerator(1).(*generator)
	if inv := g.Finish(4); inv != nil {
		t.Fatalf("Finish of a process that never ran: %+v", inv)
	}
	acq, _ := g.NextFor(4)
	g.Done(acq, workloads.Completion{Type: histories.OK, Value: int64(9)})
	want := []workloads.Invocation{{F: "release", Key: acq.Key, Value: "4"}}
	if got := g.Finish(4); !reflect.DeepEqual(got, want) {
		t.Fatalf("Finish of a holder = %+v, want %+v", got, want)
	}
	g.Done(want[0], workloads.Completion{Type: histories.OK, Value: "4"})
	if got := g.Finish(4); got != nil {
		t.Fatalf("Finish after the release = %+v, want nothing", got)
	}
	// Asked for its next op (an acquire) but stopped before running it:
	// it holds nothing.
	g.NextFor(4)
	if got := g.Finish(4); got != nil {
		t.Fatalf("Finish of a process about to acquire = %+v, want nothing", got)
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	w := &Workload{Locks: 3}
	a := simulate(w.NewGenerator(7), 3, 2000, rand.New(rand.NewSource(1)), true)
	b := simulate(w.NewGenerator(7), 3, 2000, rand.New(rand.NewSource(1)), true)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generators of seed 7 differ")
	}
	locks := map[string]bool{}
	for _, s := range a {
		locks[s.inv.Key] = true
	}
	if len(locks) != 3 {
		t.Errorf("locks used: %v, want 0, 1 and 2", locks)
	}
	if reflect.DeepEqual(a, simulate(w.NewGenerator(8), 3, 2000, rand.New(rand.NewSource(1)), true)) {
		t.Fatal("seeds 7 and 8 give the same sequence")
	}
}

type fakeClient struct {
	token int64
	err   error
	def   bool
}

func (f *fakeClient) Acquire(context.Context, string, string) (int64, error) { return f.token, f.err }
func (f *fakeClient) Release(context.Context, string, string) error          { return f.err }
func (f *fakeClient) Definite(error) bool                                    { return f.def }

type fencedClient struct {
	fakeClient
	writeErr error
}

func (f *fencedClient) FencedWrite(context.Context, string, int64, int64) error { return f.writeErr }

func TestInvoke(t *testing.T) {
	boom := errors.New("boom")
	acq := workloads.Invocation{F: "acquire", Key: "0", Value: "3"}
	rel := workloads.Invocation{F: "release", Key: "0", Value: "3"}
	wr := workloads.Invocation{F: "write", Key: "0", Value: []any{int64(17), int64(0)}}
	for _, c := range []struct {
		name   string
		client any
		inv    workloads.Invocation
		want   workloads.Completion
	}{
		{"acquire", &fakeClient{token: 17}, acq, workloads.Completion{Type: histories.OK, Value: int64(17)}},
		{"acquire refused", &fakeClient{err: boom, def: true}, acq, workloads.Completion{Type: histories.Fail, Value: "3", Error: "boom"}},
		{"acquire timed out", &fakeClient{err: context.DeadlineExceeded}, acq, workloads.Completion{Type: histories.Info, Value: "3", Error: "context deadline exceeded"}},
		{"write", &fencedClient{}, wr, workloads.Completion{Type: histories.OK, Value: wr.Value}},
		{"write fenced", &fencedClient{writeErr: ErrFenced}, wr, workloads.Completion{Type: histories.Fail, Value: wr.Value, Error: "fenced"}},
		{"write unknown", &fencedClient{writeErr: boom}, wr, workloads.Completion{Type: histories.Info, Value: wr.Value, Error: "boom"}},
		{"write unfenced", &fakeClient{}, wr, workloads.Completion{Type: histories.Fail, Value: wr.Value, Error: "lock: the target's lock gives tokens but has no fenced resource (FencedWrite)"}},
		{"release", &fakeClient{}, rel, workloads.Completion{Type: histories.OK, Value: "3"}},
		{"release refused", &fakeClient{err: boom, def: true}, rel, workloads.Completion{Type: histories.Fail, Value: "3", Error: "boom"}},
		{"release unknown", &fakeClient{err: boom}, rel, workloads.Completion{Type: histories.Info, Value: "3", Error: "boom"}},
	} {
		if got := Default.Invoke(context.Background(), c.client, c.inv); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if err := Default.Supports(struct{}{}); err == nil {
		t.Error("Supports accepts a client without a lock")
	}
}

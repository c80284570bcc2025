package set

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/checker/internal/wltest"
	"github.com/faultline-dev/faultline/histories"
)

var _ checker.Checker = (*Checker)(nil)

// Each case of testdata/workloads/set, classified exactly, in both its
// JSONL and its EDN form.
func TestCases(t *testing.T) {
	cases := []struct {
		name      string
		opts      Options
		valid     checker.Validity
		anomalies []string
		counts    map[string]float64
		lists     map[string]string // a Details list, as FormatValue shows it
		summary   []string
	}{
		{name: "valid", valid: checker.Valid,
			counts: map[string]float64{"attempt-count": 5, "acknowledged-count": 2, "ok-count": 3, "lost-count": 0, "stale-count": 0, "never-read-count": 2, "recovered-count": 1, "duplicated-count": 0, "unexpected-count": 0, "read-count": 3},
			lists:  map[string]string{"lost": "[]", "never-read": "[3 4]", "recovered": "[2]"}},
		{name: "valid", opts: Options{Linearizable: true}, valid: checker.Valid},
		{name: "lost", valid: checker.Invalid, anomalies: []string{AnomalyLost},
			counts:  map[string]float64{"lost-count": 1, "ok-count": 1, "stale-count": 0},
			lists:   map[string]string{"lost": "[1]"},
			summary: []string{"1 acknowledged element lost: 1 (add ok at op 1 (process 0, n1, 0.001 s); last seen by the read invoked at op 2 (process 1, n2, 0.002 s); missing from the read invoked at op 9 (process 1, n3, 0.009 s)"}},
		{name: "lost", opts: Options{Linearizable: true}, valid: checker.Invalid, anomalies: []string{AnomalyLost}},
		{name: "stale", valid: checker.Valid,
			counts:  map[string]float64{"stale-count": 1, "ok-count": 1, "lost-count": 0},
			lists:   map[string]string{"stale": "[1]"},
			summary: []string{"1 element stale (allowed", "missed by the read invoked at op 2 (process 1, n2, 0.002 s)"}},
		{name: "stale", opts: Options{Linearizable: true}, valid: checker.Invalid, anomalies: []string{AnomalyStale},
			summary: []string{"1 element stale (the set claims linearizability)"}},
		{name: "duplicated", valid: checker.Invalid, anomalies: []string{AnomalyDuplicated},
			counts:  map[string]float64{"duplicated-count": 1, "ok-count": 2},
			summary: []string{"1 element duplicated: 1 2 times in the read op 5 (process 1, n2, 0.005 s)"}},
		{name: "unexpected", valid: checker.Invalid, anomalies: []string{AnomalyUnexpected},
			counts:  map[string]float64{"unexpected-count": 2},
			summary: []string{"3 (add failed) read by op 5", "99 (never added) read by op 5 (process 1, n2, 0.005 s)"}},
		{name: "no-read", valid: checker.Unknown,
			counts:  map[string]float64{"read-count": 0, "attempt-count": 1, "never-read-count": 1},
			summary: []string{"the set was never read"}},
		{name: "keyed", valid: checker.Invalid, anomalies: []string{AnomalyLost},
			counts:  map[string]float64{"keys": 2, "lost-count": 1, "ok-count": 1},
			lists:   map[string]string{"lost": `[["2" 20]]`, "failed-keys": `["2"]`},
			summary: []string{"key 2: 20 (add ok at op 3"}},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "set", c.name) {
			t.Run(fmt.Sprintf("%s%s/linearizable=%v", c.name, f.Ext, c.opts.Linearizable), func(t *testing.T) {
				r := wltest.Check(t, New(c.opts), f.H)
				wltest.Expect(t, r, c.valid, c.anomalies...)
				d := wltest.JSON(t, r)
				for k, want := range c.counts {
					if got, _ := d[k].(float64); got != want {
						t.Errorf("%s = %v, want %v", k, d[k], want)
					}
				}
				for k, want := range c.lists {
					if got := histories.FormatValue(d[k]); got != want {
						t.Errorf("%s = %s, want %s", k, got, want)
					}
				}
				for _, s := range c.summary {
					if !strings.Contains(r.Summary, s) {
						t.Errorf("summary lacks %q:\n%s", s, r.Summary)
					}
				}
			})
		}
	}
}

func TestBadRead(t *testing.T) {
	for _, f := range wltest.Load(t, "set", "bad-read") {
		_, err := New(Options{}).Check(context.Background(), f.H)
		var oe *wl.OpError
		if !errors.As(err, &oe) || oe.Line != 4 || oe.Index != 3 {
			t.Fatalf("%s: want an OpError at line 4, op 3; got %v", f.Ext, err)
		}
		if !strings.Contains(err.Error(), "line 4 (op index 3): set: a read returns the whole set, a list of elements, not the string") {
			t.Errorf("%s: %v", f.Ext, err)
		}
	}
}

func TestBadShapes(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "add", nil).Op(0, histories.OK, "add", nil)
	if _, err := New(Options{}).Check(context.Background(), b.H); err == nil || !strings.Contains(err.Error(), "op index 0: set: an add's value") {
		t.Errorf("add of nil: %v", err)
	}
	b = &wltest.Builder{}
	b.Op(0, histories.Invoke, "read", nil).Op(0, histories.OK, "read", map[string]any{"a": int64(1)})
	if _, err := New(Options{}).Check(context.Background(), b.H); err == nil || !strings.Contains(err.Error(), "not a map") {
		t.Errorf("read of a map: %v", err)
	}
	// A completion without an invocation is the history's error, not a
	// panic.
	b = &wltest.Builder{}
	b.Op(0, histories.OK, "read", []any{})
	if _, err := New(Options{}).Check(context.Background(), b.H); err == nil {
		t.Error("a completion with no invocation: no error")
	}
}

func TestEmptyAndNemesisOnly(t *testing.T) {
	for _, h := range []histories.History{nil, {{Index: 0, Process: histories.Nemesis, Type: histories.Info, F: "start"}}} {
		r := wltest.Check(t, New(Options{}), h)
		if r.Valid != checker.Unknown {
			t.Errorf("%v: %s", h, r.Summary)
		}
	}
}

func TestInterrupted(t *testing.T) {
	h := bigHistory(rand.New(rand.NewPCG(1, 2)), 200000, 4, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := wltest.Check(t, New(Options{}), h)
	if r.Valid != checker.Valid {
		t.Fatalf("the big history is not valid: %s", r.Summary)
	}
	r, err := New(Options{}).Check(ctx, h)
	if err != nil || r.Valid != checker.Unknown || !strings.Contains(r.Summary, "interrupted") {
		t.Errorf("cancelled: %v %s", err, r.Summary)
	}
}

// reference is set-full as Jepsen reduces it: every ok read updates every
// element whose add was invoked before the read completed. O(reads ×
// elements); it gives each element's outcome and whether it is stale.
func reference(h histories.History) map[any]string {
	type st struct {
		known, lp, la int // positions, -1 for none
	}
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		panic(err)
	}
	invOf := map[int]int{}
	for _, p := range pairs {
		if p.Complete != histories.Open {
			invOf[p.Complete] = p.Invoke
		}
	}
	els := map[any]*st{}
	var order []any
	for i, op := range h {
		switch {
		case op.F == "add" && op.Type == histories.Invoke:
			if _, ok := els[op.Value]; !ok {
				els[op.Value] = &st{-1, -1, -1}
				order = append(order, op.Value)
			}
		case op.F == "add" && op.Type == histories.OK:
			if e := els[op.Value]; e.known < 0 {
				e.known = i
			}
		case op.F == "read" && op.Type == histories.OK:
			seen := map[any]bool{}
			for _, v := range op.Value.([]any) {
				seen[v] = true
			}
			inv := invOf[i]
			for _, k := range order {
				e := els[k]
				if seen[k] {
					if e.known < 0 {
						e.known = i
					}
					e.lp = max(e.lp, inv)
				} else {
					e.la = max(e.la, inv)
				}
			}
		}
	}
	out := map[any]string{}
	for _, k := range order {
		e := els[k]
		switch {
		case e.lp >= 0 && e.la < e.lp:
			out[k] = "stable"
			if e.la >= 0 && e.la > e.known {
				out[k] = "stale"
			}
		case e.known >= 0 && e.la >= 0 && e.lp < e.la && e.known < e.la:
			out[k] = "lost"
		default:
			out[k] = "never-read"
		}
	}
	return out
}

// randomHistory is a small history of adds and reads by a few processes,
// whose reads see a random subset of what was added so far, so that every
// outcome happens.
func randomHistory(rng *rand.Rand) histories.History {
	const procs = 4
	var h histories.History
	type pending struct {
		f string
		v any
	}
	open := map[histories.Process]*pending{}
	next := int64(0)
	var added []int64
	emit := func(p histories.Process, typ histories.Type, f string, v any) {
		h = append(h, histories.Op{Index: int64(len(h)), Time: int64(len(h)+1) * 1e6, Process: p, Type: typ, F: f, Value: v})
	}
	proc := [procs]histories.Process{0, 1, 2, 3}
	nextProc := histories.Process(procs)
	for range 20 + rng.IntN(40) {
		slot := rng.IntN(procs)
		p := proc[slot]
		if o := open[p]; o != nil {
			delete(open, p)
			switch o.f {
			case "add":
				typ := []histories.Type{histories.OK, histories.OK, histories.Fail, histories.Info}[rng.IntN(4)]
				emit(p, typ, "add", o.v)
				if typ == histories.Info {
					proc[slot], nextProc = nextProc, nextProc+1
				}
			case "read":
				if rng.IntN(6) == 0 {
					emit(p, histories.Fail, "read", nil)
					continue
				}
				var vs []any
				for _, x := range added {
					if rng.IntN(4) != 0 {
						vs = append(vs, x)
					}
				}
				emit(p, histories.OK, "read", vs)
			}
			continue
		}
		if rng.IntN(2) == 0 {
			v := next
			next++
			added = append(added, v)
			open[p] = &pending{"add", v}
			emit(p, histories.Invoke, "add", v)
		} else {
			open[p] = &pending{"read", nil}
			emit(p, histories.Invoke, "read", nil)
		}
	}
	return h
}

// The list-walking search for the last read that missed each element
// agrees with Jepsen's reduction, element by element.
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for n := range 3000 {
		h := randomHistory(rng)
		want := reference(h)
		r, err := New(Options{}).Check(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		d := r.Details.(Details)
		got := map[any]string{}
		for k := range want {
			got[k] = "stable"
		}
		mark := func(l []any, what string) {
			for _, v := range l {
				got[v] = what
			}
		}
		mark(d.Lost, "lost")
		mark(d.NeverRead, "never-read")
		mark(d.Stale, "stale")
		if !reflect.DeepEqual(got, want) {
			var b strings.Builder
			for _, op := range h {
				fmt.Fprintf(&b, "  %d %s\n", op.Index, op)
			}
			t.Fatalf("history %d: got %v, want %v\n%s", n, got, want, b.String())
		}
		wantOK := 0
		for _, o := range want {
			if o == "stable" || o == "stale" {
				wantOK++
			}
		}
		if d.OKCount != wantOK {
			t.Fatalf("history %d: ok-count %d, want %d", n, d.OKCount, wantOK)
		}
	}
}

// bigHistory is a valid history of n ops by procs processes: each adds the
// next element and, one op in readEvery, reads everything added so far
// (readEvery 0: reads are spaced so that the history holds about 20).
func bigHistory(rng *rand.Rand, n, procs, readEvery int) histories.History {
	if readEvery == 0 {
		readEvery = n / 40
	}
	h := make(histories.History, 0, n)
	var acked []any
	type pend struct {
		f string
		v any
	}
	open := make([]*pend, procs)
	next := int64(0)
	for len(h) < n {
		p := rng.IntN(procs)
		t := int64(len(h)+1) * 1000
		if o := open[p]; o != nil {
			open[p] = nil
			if o.f == "add" {
				h = append(h, histories.Op{Index: int64(len(h)), Time: t, Process: histories.Process(p), Type: histories.OK, F: "add", Value: o.v})
				acked = append(acked, o.v)
			} else {
				h = append(h, histories.Op{Index: int64(len(h)), Time: t, Process: histories.Process(p), Type: histories.OK, F: "read", Value: slices.Clone(acked)})
			}
			continue
		}
		if rng.IntN(readEvery) == 0 {
			open[p] = &pend{"read", nil}
			h = append(h, histories.Op{Index: int64(len(h)), Time: t, Process: histories.Process(p), Type: histories.Invoke, F: "read"})
		} else {
			open[p] = &pend{"add", next}
			h = append(h, histories.Op{Index: int64(len(h)), Time: t, Process: histories.Process(p), Type: histories.Invoke, F: "add", Value: next})
			next++
		}
	}
	// A final read of everything.
	h = append(h, histories.Op{Index: int64(len(h)), Time: int64(len(h)+1) * 1000, Process: histories.Process(procs), Type: histories.Invoke, F: "read"})
	h = append(h, histories.Op{Index: int64(len(h)), Time: int64(len(h)+1) * 1000, Process: histories.Process(procs), Type: histories.OK, F: "read", Value: slices.Clone(acked)})
	return h
}

// A million ops, one set, twenty-odd reads of everything added so far
// (about 10 million elements read in all).
func BenchmarkSetMillion(b *testing.B) {
	h := bigHistory(rand.New(rand.NewPCG(3, 4)), 1_000_000, 10, 0)
	b.ResetTimer()
	for b.Loop() {
		r, err := New(Options{}).Check(context.Background(), h)
		if err != nil || r.Valid != checker.Valid {
			b.Fatal(err, r.Summary)
		}
	}
}

// A million ops over 5,000 independent sets (Jepsen's independent keys).
func BenchmarkSetMillionKeyed(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h histories.History
	for k := 0; len(h) < 1_000_000; k++ {
		sub := bigHistory(rng, 200, 4, 10)
		for _, op := range sub {
			op.Key = fmt.Sprint(k)
			op.Index = int64(len(h))
			op.Time = int64(len(h)+1) * 1000
			op.Process += histories.Process(5 * k) // each key its own processes
			h = append(h, op)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := New(Options{}).Check(context.Background(), h)
		if err != nil || r.Valid != checker.Valid {
			b.Fatal(err, r.Summary)
		}
	}
}

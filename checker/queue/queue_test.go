package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/checker/internal/wltest"
	"github.com/faultline-dev/faultline/histories"
)

var (
	_ checker.Checker = (*Total)(nil)
	_ checker.Checker = (*Unordered)(nil)
)

func TestTotalCases(t *testing.T) {
	cases := []struct {
		name      string
		opts      Options
		valid     checker.Validity
		anomalies []string
		counts    map[string]float64
		lists     map[string]string
		summary   []string
	}{
		{name: "valid", valid: checker.Valid,
			counts: map[string]float64{"attempt-count": 4, "acknowledged-count": 2, "dequeued-count": 3, "ok-count": 3, "lost-count": 0, "recovered-count": 1, "duplicated-count": 0, "unexpected-count": 0},
			lists:  map[string]string{"lost": "[]", "recovered": "[2]"}},
		{name: "valid", opts: Options{ExactlyOnce: true}, valid: checker.Valid},
		{name: "lost", valid: checker.Invalid, anomalies: []string{AnomalyLost},
			counts:  map[string]float64{"lost-count": 1, "lost-certain": 1},
			lists:   map[string]string{"lost": "[2]"},
			summary: []string{"1 element lost (acknowledged, never dequeued): 2 (enqueued ok at op 3 (process 0, n1, 0.003 s))"}},
		{name: "lost-uncertain", valid: checker.Unknown,
			counts:  map[string]float64{"lost-count": 1, "lost-certain": 0, "indeterminate-dequeues": 1},
			summary: []string{"not certainly lost: 1 dequeue crashed and may have taken it"}},
		{name: "duplicated", valid: checker.Valid,
			counts:  map[string]float64{"duplicated-count": 1},
			summary: []string{"1 element duplicated (allowed: not exactly-once): 1 dequeued 2 times for 1 enqueue (by dequeue op 3 (process 1, n2, 0.003 s), dequeue op 5 (process 2, n3, 0.005 s))"}},
		{name: "duplicated", opts: Options{ExactlyOnce: true}, valid: checker.Invalid, anomalies: []string{AnomalyDuplicated}},
		{name: "unexpected", valid: checker.Invalid, anomalies: []string{AnomalyUnexpected},
			counts:  map[string]float64{"unexpected-count": 1, "ok-count": 1},
			lists:   map[string]string{"unexpected": "[7]"},
			summary: []string{"7 (never enqueued; dequeued by dequeue op 3 (process 1, n2, 0.003 s))"}},
		{name: "impossible-dequeue", valid: checker.Valid},
		{name: "keyed", valid: checker.Invalid, anomalies: []string{AnomalyLost},
			counts: map[string]float64{"keys": 2, "lost-count": 1},
			lists:  map[string]string{"lost": `[["2" 2]]`, "failed-keys": `["2"]`}},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "queue", c.name) {
			t.Run(fmt.Sprintf("%s%s/exactly-once=%v", c.name, f.Ext, c.opts.ExactlyOnce), func(t *testing.T) {
				r := wltest.Check(t, NewTotal(c.opts), f.H)
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

func TestUnorderedCases(t *testing.T) {
	cases := []struct {
		name    string
		valid   checker.Validity
		summary string
	}{
		{"valid", checker.Valid, "3 enqueues, 3 elements dequeued, 0 left in the queue"},
		{"lost", checker.Valid, "1 left in the queue"},
		{"lost-uncertain", checker.Valid, ""},
		{"duplicated", checker.Invalid, "1 by dequeue op 5 (process 2, n3, 0.005 s) (dequeued already as often as enqueues of it had begun: 1)"},
		{"unexpected", checker.Invalid, "7 by dequeue op 3"},
		{"impossible-dequeue", checker.Invalid, "1 by dequeue op 1 (process 1, n2, 0.001 s) (no enqueue of it had begun)"},
		{"keyed", checker.Valid, "2 keys"},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "queue", c.name) {
			t.Run(c.name+f.Ext, func(t *testing.T) {
				r := wltest.Check(t, NewUnordered(), f.H)
				var anomalies []string
				if c.valid == checker.Invalid {
					anomalies = []string{AnomalyImpossibleDequeue}
				}
				wltest.Expect(t, r, c.valid, anomalies...)
				if !strings.Contains(r.Summary, c.summary) {
					t.Errorf("summary lacks %q:\n%s", c.summary, r.Summary)
				}
			})
		}
	}
}

func TestBadDrain(t *testing.T) {
	for _, f := range wltest.Load(t, "queue", "bad-drain") {
		for _, c := range []checker.Checker{NewTotal(Options{}), NewUnordered()} {
			_, err := c.Check(context.Background(), f.H)
			var oe *wl.OpError
			if !errors.As(err, &oe) || oe.Line != 4 || !strings.Contains(err.Error(), "a drain returns the list of elements it dequeued, not the integer 1") {
				t.Errorf("%s %s: %v", c.Name(), f.Ext, err)
			}
		}
	}
}

// A crashed drain may have taken any number of elements: what is missing
// is not certainly lost.
func TestCrashedDrain(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "enqueue", int64(1)).Op(0, histories.OK, "enqueue", int64(1))
	b.Op(0, histories.Invoke, "enqueue", int64(2)).Op(0, histories.OK, "enqueue", int64(2))
	b.Op(1, histories.Invoke, "drain", nil).Op(1, histories.Info, "drain", nil)
	r := wltest.Check(t, NewTotal(Options{}), b.H)
	wltest.Expect(t, r, checker.Unknown)
	if d := r.Details.(Details); d.LostCount != 2 || d.LostCertain != 0 || d.IndeterminateDrains != 1 {
		t.Errorf("%+v", d)
	}
	// Three lost and one crashed dequeue: two certainly lost.
	b = &wltest.Builder{}
	for v := range int64(3) {
		b.Op(0, histories.Invoke, "enqueue", v).Op(0, histories.OK, "enqueue", v)
	}
	b.Op(1, histories.Invoke, "dequeue", nil).Op(1, histories.Info, "dequeue", nil)
	b.Op(2, histories.Invoke, "drain", nil).Op(2, histories.OK, "drain", []any{})
	r = wltest.Check(t, NewTotal(Options{}), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyLost)
	if d := r.Details.(Details); d.LostCount != 3 || d.LostCertain != 2 {
		t.Errorf("%+v", d)
	}
}

// A crashed dequeue that names the element it tried to take leaves only
// that element in doubt: not lost, and no other element is uncertain.
func TestCrashedDequeueNamesItsElement(t *testing.T) {
	b := &wltest.Builder{}
	for v := range int64(3) {
		b.Op(0, histories.Invoke, "enqueue", v).Op(0, histories.OK, "enqueue", v)
	}
	b.Op(1, histories.Invoke, "dequeue", nil).Op(1, histories.Info, "dequeue", int64(0))
	b.Op(2, histories.Invoke, "drain", nil).Op(2, histories.OK, "drain", []any{int64(1), int64(2)})
	r := wltest.Check(t, NewTotal(Options{}), b.H)
	wltest.Expect(t, r, checker.Valid)
	if d := r.Details.(Details); d.LostCount != 0 || d.PossiblyDequeued != 1 || d.IndeterminateDequeues != 0 {
		t.Errorf("%+v", d)
	}
	// It named 0, but 1 is missing: 1 is certainly lost.
	b = &wltest.Builder{}
	for v := range int64(3) {
		b.Op(0, histories.Invoke, "enqueue", v).Op(0, histories.OK, "enqueue", v)
	}
	b.Op(1, histories.Invoke, "dequeue", nil).Op(1, histories.Info, "dequeue", int64(0))
	b.Op(2, histories.Invoke, "drain", nil).Op(2, histories.OK, "drain", []any{int64(2)})
	r = wltest.Check(t, NewTotal(Options{}), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyLost)
	if d := r.Details.(Details); d.LostCount != 1 || d.LostCertain != 1 {
		t.Errorf("%+v", d)
	}
}

// Values repeat: counts are multisets, as Jepsen's.
func TestMultiset(t *testing.T) {
	b := &wltest.Builder{}
	for range 3 {
		b.Op(0, histories.Invoke, "enqueue", "x").Op(0, histories.OK, "enqueue", "x")
	}
	b.Op(1, histories.Invoke, "drain", nil).Op(1, histories.OK, "drain", []any{"x", "x"})
	r := wltest.Check(t, NewTotal(Options{}), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyLost)
	if d := r.Details.(Details); d.LostCount != 1 || d.OKCount != 2 || d.AttemptCount != 3 {
		t.Errorf("%+v", d)
	}
}

// queueHistory is n ops of 10 processes enqueueing unique elements and
// dequeueing them in order, with a final drain of the rest.
func queueHistory(n int) histories.History {
	rng := rand.New(rand.NewPCG(1, 2))
	h := make(histories.History, 0, n+2)
	const procs = 10
	type pend struct {
		f string
		v any
	}
	open := make([]*pend, procs)
	var queue []int64
	next := int64(0)
	for len(h) < n {
		p := rng.IntN(procs)
		t := int64(len(h)+1) * 1000
		op := histories.Op{Index: int64(len(h)), Time: t, Process: histories.Process(p)}
		if o := open[p]; o != nil {
			open[p] = nil
			op.Type, op.F = histories.OK, o.f
			if o.f == "enqueue" {
				op.Value = o.v
				queue = append(queue, o.v.(int64))
			} else if len(queue) > 0 {
				op.Value = queue[0]
				queue = queue[1:]
			}
			h = append(h, op)
			continue
		}
		op.Type = histories.Invoke
		if rng.IntN(2) == 0 {
			op.F, op.Value = "enqueue", next
			next++
		} else {
			op.F = "dequeue"
		}
		open[p] = &pend{op.F, op.Value}
		h = append(h, op)
	}
	// Complete what is open, then drain.
	for p, o := range open {
		if o == nil {
			continue
		}
		op := histories.Op{Index: int64(len(h)), Time: int64(len(h)+1) * 1000, Process: histories.Process(p), Type: histories.OK, F: o.f}
		if o.f == "enqueue" {
			op.Value = o.v
			queue = append(queue, o.v.(int64))
		} else if len(queue) > 0 {
			op.Value = queue[0]
			queue = queue[1:]
		}
		h = append(h, op)
	}
	rest := make([]any, len(queue))
	for i, v := range queue {
		rest[i] = v
	}
	h = append(h, histories.Op{Index: int64(len(h)), Time: int64(len(h)+1) * 1000, Process: procs, Type: histories.Invoke, F: "drain"})
	h = append(h, histories.Op{Index: int64(len(h)), Time: int64(len(h)+1) * 1000, Process: procs, Type: histories.OK, F: "drain", Value: rest})
	return h
}

func BenchmarkTotalQueueMillion(b *testing.B) {
	h := queueHistory(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		r, err := NewTotal(Options{ExactlyOnce: true}).Check(context.Background(), h)
		if err != nil || r.Valid != checker.Valid {
			b.Fatal(err, r.Summary)
		}
	}
}

func BenchmarkUnorderedQueueMillion(b *testing.B) {
	h := queueHistory(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		r, err := NewUnordered().Check(context.Background(), h)
		if err != nil || r.Valid != checker.Valid {
			b.Fatal(err, r.Summary)
		}
	}
}

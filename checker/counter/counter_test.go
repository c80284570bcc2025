package counter

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/checker/internal/wltest"
	"github.com/faultline-dev/faultline/histories"
)

var _ checker.Checker = (*Checker)(nil)

func TestCases(t *testing.T) {
	cases := []struct {
		name      string
		valid     checker.Validity
		anomalies []string
		counts    map[string]float64
		summary   []string
	}{
		{name: "valid", valid: checker.Valid,
			counts:  map[string]float64{"add-count": 4, "acknowledged-count": 2, "read-count": 3, "error-count": 0},
			summary: []string{"the last read returned 2 within [2, 4]"}},
		{name: "too-low", valid: checker.Invalid, anomalies: []string{AnomalyTooLow},
			counts:  map[string]float64{"error-count": 1, "too-low-count": 1, "too-high-count": 0},
			summary: []string{"1 read out of bounds (1 too low, 0 too high): the read op 5 (process 1, n2, 0.005 s) returned 1, below its bounds [2, 2]"}},
		{name: "too-high", valid: checker.Invalid, anomalies: []string{AnomalyTooHigh},
			counts:  map[string]float64{"error-count": 1, "too-high-count": 1},
			summary: []string{"the read op 5 (process 1, n2, 0.005 s) returned 6, above its bounds [1, 1]"}},
		{name: "no-read", valid: checker.Unknown,
			summary: []string{"no read completed ok"}},
		{name: "keyed", valid: checker.Invalid, anomalies: []string{AnomalyTooHigh},
			counts:  map[string]float64{"keys": 2, "error-count": 1},
			summary: []string{"key 2: the read op 7 (process 2, 0.007 s) returned 3, above its bounds [2, 2]"}},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "counter", c.name) {
			t.Run(c.name+f.Ext, func(t *testing.T) {
				r := wltest.Check(t, New(), f.H)
				wltest.Expect(t, r, c.valid, c.anomalies...)
				d := wltest.JSON(t, r)
				for k, want := range c.counts {
					if got, _ := d[k].(float64); got != want {
						t.Errorf("%s = %v, want %v", k, d[k], want)
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

func TestBadShapes(t *testing.T) {
	for _, c := range []struct{ name, msg string }{
		{"bad-add", "line 1 (op index 0): counter: add of -1: the counter checker takes increments only"},
		{"bad-read", "line 4 (op index 3): counter: a read returns the counter's value, an integer, not the string"},
	} {
		for _, f := range wltest.Load(t, "counter", c.name) {
			_, err := New().Check(context.Background(), f.H)
			var oe *wl.OpError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s%s: %v", c.name, f.Ext, err)
			}
		}
	}
}

// A read's bounds follow the history's order exactly: an add ok just
// after a read's invocation does not raise its lower bound, an add invoked
// just before its completion raises its upper bound, and a pending add at
// the end of the history counts as attempted.
func TestBoundsEdges(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "add", int64(3))
	b.Op(1, histories.Invoke, "read", nil)
	b.Op(0, histories.OK, "add", int64(3)) // after the read began: not in its lower bound
	b.Op(2, histories.Invoke, "add", int64(4))
	b.Op(1, histories.OK, "read", int64(0)) // bounds [0, 7]
	b.Op(3, histories.Invoke, "read", nil)
	b.Op(3, histories.OK, "read", int64(7)) // [3, 7]: the pending add of 4 may have happened
	r := wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Valid)
	d := r.Details.(Details)
	if f := d.Final[0]; f.Lower != 3 || f.Upper != 7 {
		t.Errorf("final bounds %+v", f)
	}
	b.Op(4, histories.Invoke, "read", nil)
	b.Op(4, histories.OK, "read", int64(8))
	r = wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyTooHigh)
}

func BenchmarkCounterMillion(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := make(histories.History, 0, 1_000_000)
	var sum int64
	const procs = 10
	open := make([]string, procs)
	for len(h) < 1_000_000 {
		p := rng.IntN(procs)
		t := int64(len(h)+1) * 1000
		op := histories.Op{Index: int64(len(h)), Time: t, Process: histories.Process(p)}
		switch open[p] {
		case "add":
			op.Type, op.F, op.Value = histories.OK, "add", int64(1)
			sum++
		case "read":
			op.Type, op.F, op.Value = histories.OK, "read", sum
		default:
			op.Type = histories.Invoke
			if rng.IntN(2) == 0 {
				op.F, op.Value = "add", int64(1)
			} else {
				op.F = "read"
			}
			open[p] = op.F
			h = append(h, op)
			continue
		}
		open[p] = ""
		h = append(h, op)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := New().Check(context.Background(), h)
		if err != nil || r.Valid != checker.Valid {
			b.Fatal(err, r.Summary)
		}
	}
}

package lock

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
			counts: map[string]float64{"acquire-count": 5, "acquired-count": 3, "crashed-acquires": 1, "release-count": 3, "write-count": 3, "overlap-count": 0}},
		{name: "overlapping-holders", valid: checker.Invalid, anomalies: []string{AnomalyOverlappingHolders},
			counts:  map[string]float64{"overlap-count": 1},
			summary: []string{"1 overlap of holders: process 0 (n1) held it with token 1 from op 1 at 0.001 s to op 4 at 0.004 s (its release) while process 1 (n2) held it with token 2 from op 3 at 0.003 s to op 6 at 0.006 s (its release)"}},
		{name: "stale-token-accepted", valid: checker.Invalid, anomalies: []string{AnomalyStaleToken},
			counts:  map[string]float64{"stale-token-count": 1, "overlap-count": 0},
			summary: []string{"the write op 13 (process 0, n1, 0.013 s) with token 1 was accepted after the write op 9 (process 1, n2, 0.009 s) with token 2 had completed"}},
		{name: "duplicate-token", valid: checker.Invalid, anomalies: []string{AnomalyDuplicateToken},
			counts:  map[string]float64{"duplicate-token-count": 1, "overlap-count": 0},
			summary: []string{"token 7 from the acquires op 1 (process 0, n1, 0.001 s) and op 5 (process 1, n2, 0.005 s)"}},
		{name: "keyed", valid: checker.Invalid, anomalies: []string{AnomalyOverlappingHolders},
			counts:  map[string]float64{"keys": 2, "overlap-count": 1},
			summary: []string{"key b: process 1 held it from op 3 at 0.003 s to the end of the history while process 2 held it from op 5"}},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "lock", c.name) {
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

func TestBadWrite(t *testing.T) {
	for _, f := range wltest.Load(t, "lock", "bad-write") {
		_, err := New().Check(context.Background(), f.H)
		var oe *wl.OpError
		if !errors.As(err, &oe) || oe.Line != 3 || !strings.Contains(err.Error(), "a protected write's value is [token value], not the string") {
			t.Errorf("%s: %v", f.Ext, err)
		}
	}
}

// Only certain holds count. An acquire that completes after the other's
// release began does not overlap it, nor does a crashed acquire; a
// process that crashed holding the lock held it certainly only until it
// invoked the op it crashed in.
func TestCertainOnly(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "acquire", nil).Op(0, histories.OK, "acquire", nil)
	b.Op(1, histories.Invoke, "acquire", nil)
	b.Op(0, histories.Invoke, "release", nil)
	b.Op(1, histories.OK, "acquire", nil) // completes after 0's release began
	b.Op(0, histories.OK, "release", nil)
	b.Op(2, histories.Invoke, "acquire", nil).Op(2, histories.Info, "acquire", nil) // a possible holder
	b.Op(1, histories.Invoke, "write", []any{nil, "x"}).Op(1, histories.Info, "write", []any{nil, "x"})
	b.Op(3, histories.Invoke, "acquire", nil).Op(3, histories.OK, "acquire", nil) // after 1 crashed
	r := wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Valid)

	// The same with 0's release invoked after 1's acquire completed: an
	// overlap.
	b = &wltest.Builder{}
	b.Op(0, histories.Invoke, "acquire", nil).Op(0, histories.OK, "acquire", nil)
	b.Op(1, histories.Invoke, "acquire", nil)
	b.Op(1, histories.OK, "acquire", nil)
	b.Op(0, histories.Invoke, "release", nil)
	b.Op(0, histories.OK, "release", nil)
	r = wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyOverlappingHolders)
	o := r.Details.(Details).Overlaps[0]
	if o.A.Process != 0 || o.B.Process != 1 || o.A.EndedBy != "release" || o.B.EndedBy != "end of history" {
		t.Errorf("%+v", o)
	}
}

// A write concurrent with a newer one may be ordered before it: not
// stale. Nor is a write without a token.
func TestFencingConcurrent(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "write", []any{int64(1), "a"})
	b.Op(1, histories.Invoke, "write", []any{int64(2), "b"}).Op(1, histories.OK, "write", []any{int64(2), "b"})
	b.Op(0, histories.OK, "write", []any{int64(1), "a"})
	b.Op(2, histories.Invoke, "write", []any{nil, "c"}).Op(2, histories.OK, "write", []any{nil, "c"})
	r := wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Valid)
}

func TestNoAcquire(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "acquire", nil).Op(0, histories.Fail, "acquire", nil)
	r := wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Unknown)
}

// Many processes all holding at once: overlaps are counted whole and
// listed up to the cap, without going quadratic in what is listed.
func TestManyOverlaps(t *testing.T) {
	b := &wltest.Builder{}
	const n = 300
	for p := range histories.Process(n) {
		b.Op(p, histories.Invoke, "acquire", nil).Op(p, histories.OK, "acquire", nil)
	}
	r := wltest.Check(t, New(), b.H)
	d := r.Details.(Details)
	if d.OverlapCount != n*(n-1)/2 || len(d.Overlaps) != wl.MaxListed {
		t.Errorf("overlaps %d listed %d", d.OverlapCount, len(d.Overlaps))
	}
}

func BenchmarkLockMillion(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	bl := &wltest.Builder{}
	bl.H = make(histories.History, 0, 1_000_000)
	tok := int64(0)
	for len(bl.H) < 1_000_000 {
		p := histories.Process(rng.IntN(10))
		tok++
		bl.Op(p, histories.Invoke, "acquire", nil).Op(p, histories.OK, "acquire", tok)
		bl.Op(p, histories.Invoke, "write", []any{tok, "x"}).Op(p, histories.OK, "write", []any{tok, "x"})
		bl.Op(p, histories.Invoke, "release", nil).Op(p, histories.OK, "release", nil)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := New().Check(context.Background(), bl.H)
		if err != nil || r.Valid != checker.Valid {
			b.Fatal(err, r.Summary)
		}
	}
}

// faultline's lock workload: acquires and releases carry the owner, a
// lock without tokens returns 0, which is no token (not a duplicate).
func TestWorkloadShapes(t *testing.T) {
	b := &wltest.Builder{}
	for p := range histories.Process(3) {
		owner := string(rune('0' + p))
		b.KeyOp(p, histories.Invoke, "acquire", "0", owner).KeyOp(p, histories.OK, "acquire", "0", int64(0))
		b.KeyOp(p, histories.Invoke, "write", "0", []any{int64(0), int64(p)}).KeyOp(p, histories.OK, "write", "0", []any{int64(0), int64(p)})
		b.KeyOp(p, histories.Invoke, "release", "0", owner).KeyOp(p, histories.OK, "release", "0", owner)
	}
	r := wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Valid)
	if d := r.Details.(Details); d.AcquiredCount != 3 || d.DuplicateTokenCount != 0 || d.Keys != 1 {
		t.Errorf("%+v", d)
	}
}

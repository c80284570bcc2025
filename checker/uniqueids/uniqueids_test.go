package uniqueids

import (
	"context"
	"errors"
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
		rng       string
		summary   []string
	}{
		{name: "valid", valid: checker.Valid, counts: map[string]float64{"attempted-count": 6, "acknowledged-count": 3, "duplicated-count": 0}, rng: "[1 3]"},
		{name: "duplicate-id", valid: checker.Invalid, anomalies: []string{AnomalyDuplicateID},
			counts: map[string]float64{"attempted-count": 3, "acknowledged-count": 3, "duplicated-count": 1}, rng: "[1 2]",
			summary: []string{"1 id generated more than once: 2 2 times (op 3 (process 1, n2, 0.003 s), op 5 (process 0, n1, 0.005 s))"}},
		{name: "no-id", valid: checker.Unknown, summary: []string{"no generate returned an id"}},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "uniqueids", c.name) {
			t.Run(c.name+f.Ext, func(t *testing.T) {
				r := wltest.Check(t, New(), f.H)
				wltest.Expect(t, r, c.valid, c.anomalies...)
				d := wltest.JSON(t, r)
				for k, want := range c.counts {
					if got, _ := d[k].(float64); got != want {
						t.Errorf("%s = %v, want %v", k, d[k], want)
					}
				}
				if c.rng != "" {
					if got := histories.FormatValue(d["range"]); got != c.rng {
						t.Errorf("range %s, want %s", got, c.rng)
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

func TestBadGenerate(t *testing.T) {
	for _, f := range wltest.Load(t, "uniqueids", "bad-generate") {
		_, err := New().Check(context.Background(), f.H)
		var oe *wl.OpError
		if !errors.As(err, &oe) || oe.Line != 2 {
			t.Errorf("%s: %v", f.Ext, err)
		}
	}
}

// Ids of different keys are different generators'; string and integer
// ids are different ids; the most repeated come first.
func TestKeysAndKinds(t *testing.T) {
	b := &wltest.Builder{}
	b.KeyOp(0, histories.Invoke, "generate", "a", nil).KeyOp(0, histories.OK, "generate", "a", int64(1))
	b.KeyOp(0, histories.Invoke, "generate", "b", nil).KeyOp(0, histories.OK, "generate", "b", int64(1))
	b.KeyOp(0, histories.Invoke, "generate", "b", nil).KeyOp(0, histories.OK, "generate", "b", "1")
	r := wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Valid)
	for range 3 {
		b.KeyOp(1, histories.Invoke, "generate", "b", nil).KeyOp(1, histories.OK, "generate", "b", "x")
	}
	b.KeyOp(1, histories.Invoke, "generate", "a", nil).KeyOp(1, histories.OK, "generate", "a", int64(1))
	r = wltest.Check(t, New(), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyDuplicateID)
	d := r.Details.(Details)
	if d.DuplicatedCount != 2 || d.Duplicated[0].ID != "x" || d.Duplicated[0].Count != 3 || d.Duplicated[1].Key != "a" {
		t.Errorf("%+v", d.Duplicated)
	}
}

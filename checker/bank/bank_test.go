package bank

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/internal/wl"
	"github.com/faultline-dev/faultline/checker/internal/wltest"
	"github.com/faultline-dev/faultline/histories"
)

var _ checker.Checker = (*Checker)(nil)

var given = Options{Total: 100, Accounts: []string{"0", "1", "2", "3"}}

func TestCases(t *testing.T) {
	cases := []struct {
		name      string
		opts      Options
		valid     checker.Validity
		anomalies []string
		counts    map[string]float64
		summary   []string
	}{
		{name: "valid", opts: given, valid: checker.Valid,
			counts:  map[string]float64{"read-count": 2, "transfer-count": 3, "error-count": 0},
			summary: []string{"checked against the total 100 and the accounts 0 1 2 3"}},
		{name: "valid", valid: checker.Valid,
			summary: []string{"no total given: 100 is the total of the first ok read, op 3 (process 1, n2, 0.003 s)", "no accounts given"}},
		{name: "wrong-total", opts: given, valid: checker.Invalid, anomalies: []string{AnomalyWrongTotal},
			counts:  map[string]float64{"error-count": 1},
			summary: []string{`1 read of 2 wrong: the read op 5 (process 0, n1, 0.005 s) saw {"0":20,"1":25,"2":25,"3":25}: total 95, not 100`}},
		{name: "wrong-total", valid: checker.Invalid, anomalies: []string{AnomalyWrongTotal}},
		{name: "negative-value", opts: given, valid: checker.Invalid, anomalies: []string{AnomalyNegativeValue},
			summary: []string{"the read op 3 (process 1, n2, 0.003 s)", "negative balances 0 at -5"}},
		{name: "negative-value", opts: Options{Total: 100, NegativeBalances: true}, valid: checker.Valid},
		{name: "unexpected-key", opts: given, valid: checker.Invalid, anomalies: []string{AnomalyUnexpectedKey},
			summary: []string{"unexpected accounts 9"}},
		{name: "unexpected-key", valid: checker.Invalid, anomalies: []string{AnomalyUnexpectedKey}},
		{name: "nil-balance", opts: given, valid: checker.Invalid, anomalies: []string{AnomalyNilBalance},
			summary: []string{"nil balances for 1"}},
		{name: "no-read", opts: given, valid: checker.Unknown,
			summary: []string{"no read completed ok"}},
	}
	for _, c := range cases {
		for _, f := range wltest.Load(t, "bank", c.name) {
			t.Run(fmt.Sprintf("%s%s/%v", c.name, f.Ext, c.opts.Total), func(t *testing.T) {
				r := wltest.Check(t, New(c.opts), f.H)
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
				if c.valid == checker.Invalid {
					if d["first-error"] == nil || d["errors"] == nil {
						t.Errorf("no first-error or errors: %v", d)
					}
				}
			})
		}
	}
}

func TestBadShapes(t *testing.T) {
	for _, c := range []struct{ name, msg string }{
		{"bad-transfer", "line 1 (op index 0): bank: the transfer {\"amount\":5,\"to\":1} has no :from"},
		{"bad-read", "line 2 (op index 1): bank: a read returns a map of account to balance, not a list of 4"},
	} {
		for _, f := range wltest.Load(t, "bank", c.name) {
			_, err := New(given).Check(context.Background(), f.H)
			var oe *wl.OpError
			if !errors.As(err, &oe) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s%s: %v", c.name, f.Ext, err)
			}
		}
	}
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "read", nil).Op(0, histories.OK, "read", map[string]any{"a": "lots"})
	if _, err := New(given).Check(context.Background(), b.H); err == nil || !strings.Contains(err.Error(), "account a's balance is the string") {
		t.Errorf("string balance: %v", err)
	}
}

// A read that is wrong in several ways counts under each type; the worst
// of each type is Jepsen's err-badness.
func TestSeveralErrors(t *testing.T) {
	b := &wltest.Builder{}
	b.Op(0, histories.Invoke, "read", nil).Op(0, histories.OK, "read", map[string]any{"0": int64(-10), "1": int64(50), "7": int64(1)})
	b.Op(0, histories.Invoke, "read", nil).Op(0, histories.OK, "read", map[string]any{"0": int64(-1), "1": int64(50)})
	r := wltest.Check(t, New(Options{Total: 100, Accounts: []string{"0", "1"}}), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyNegativeValue, AnomalyUnexpectedKey, AnomalyWrongTotal)
	d := r.Details.(Details)
	if d.ErrorCount != 2 || d.Errors[AnomalyWrongTotal].Count != 2 || d.Errors[AnomalyUnexpectedKey].Count != 1 {
		t.Errorf("%+v", d)
	}
	if w := d.Errors[AnomalyNegativeValue].Worst; w.Read.Index != 1 {
		t.Errorf("worst negative read %d, want 1", w.Read.Index)
	}
	if lo, hi := d.Errors[AnomalyWrongTotal].Lowest, d.Errors[AnomalyWrongTotal].Highest; *lo.Total != 41 || *hi.Total != 49 {
		t.Errorf("lowest %d highest %d", *lo.Total, *hi.Total)
	}
}

// Independent banks, one per key, each with its own inferred total.
func TestKeyed(t *testing.T) {
	b := &wltest.Builder{}
	b.KeyOp(0, histories.Invoke, "read", "a", nil).KeyOp(0, histories.OK, "read", "a", map[string]any{"0": int64(10), "1": int64(10)})
	b.KeyOp(1, histories.Invoke, "read", "b", nil).KeyOp(1, histories.OK, "read", "b", map[string]any{"0": int64(50), "1": int64(50)})
	b.KeyOp(0, histories.Invoke, "read", "b", nil).KeyOp(0, histories.OK, "read", "b", map[string]any{"0": int64(50), "1": int64(49)})
	r := wltest.Check(t, New(Options{}), b.H)
	wltest.Expect(t, r, checker.Invalid, AnomalyWrongTotal)
	d := r.Details.(Details)
	if d.Keys != 2 || len(d.FailedKeys) != 1 || d.FailedKeys[0] != "b" || d.Banks[0].Total != 20 || d.Banks[1].Total != 100 {
		t.Errorf("%+v", d)
	}
}

package txnwl

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

func TestGeneratorShape(t *testing.T) {
	for _, kind := range []Kind{ListAppend, RWRegister} {
		t.Run(string(kind), func(t *testing.T) {
			w := New(kind, Options{})
			g := w.NewGenerator(7)
			const n = 20000
			lastV := map[int64]int64{}  // key -> last value written
			writes := map[int64]int{}   // key -> writes
			keyCount := map[int64]int{} // key -> micro-ops
			lengths := map[int]int{}    // txn length -> count
			var readThenWrite, reads, all int
			for range n {
				inv := g.Next()
				if inv.F != "txn" || inv.Key != "" {
					t.Fatalf("invocation %+v: want f txn and no key", inv)
				}
				mops, err := Decode(kind, inv.Value)
				if err != nil {
					t.Fatal(err)
				}
				if len(mops) < 1 || len(mops) > DefaultMaxTxnLen {
					t.Fatalf("txn of %d micro-ops, want 1..%d: %v", len(mops), DefaultMaxTxnLen, inv.Value)
				}
				lengths[len(mops)]++
				read := map[int64]bool{}
				for _, m := range mops {
					all++
					keyCount[m.Key]++
					if m.F == FRead {
						reads++
						read[m.Key] = true
						continue
					}
					// Values are 1, 2, 3, … per key: unique.
					if m.Value != lastV[m.Key]+1 {
						t.Fatalf("key %d: wrote %d after %d", m.Key, m.Value, lastV[m.Key])
					}
					lastV[m.Key] = m.Value
					writes[m.Key]++
					if read[m.Key] {
						readThenWrite++
					} else if kind == RWRegister {
						t.Fatalf("rw-register write without a read of its key first: %v", inv.Value)
					}
				}
				// Invocations carry no read results.
				for _, e := range inv.Value.([]any) {
					if m := e.([]any); m[0] == FRead && m[2] != nil {
						t.Fatalf("invocation with a read result: %v", inv.Value)
					}
				}
			}
			for k, c := range writes {
				if c > DefaultWritesPerKey {
					t.Errorf("key %d got %d writes, want at most %d", k, c, DefaultWritesPerKey)
				}
			}
			for l := 1; l <= DefaultMaxTxnLen; l++ {
				if lengths[l] == 0 {
					t.Errorf("no transaction of length %d", l)
				}
			}
			if f := float64(reads) / float64(all); f < 0.4 || f > 0.75 {
				t.Errorf("reads are %.2f of micro-ops", f)
			}
			// Keys rotate: many keys over the run, but few at a time.
			if len(keyCount) < 100 {
				t.Errorf("only %d keys in %d txns: keys do not rotate", len(keyCount), n)
			}
			t.Logf("%d txns: %d keys, lengths %v, %d reads of %d micro-ops, %d writes after a read of their key", n, len(keyCount), lengths, reads, all, readThenWrite)
		})
	}
}

func TestGeneratorIsDeterministicAndSkewed(t *testing.T) {
	a, b := New(ListAppend, Options{}).NewGenerator(1), New(ListAppend, Options{}).NewGenerator(1)
	c := New(ListAppend, Options{}).NewGenerator(2)
	differs := false
	for range 500 {
		x, y, z := a.Next(), b.Next(), c.Next()
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("same seed, different txns: %v and %v", x.Value, y.Value)
		}
		differs = differs || !reflect.DeepEqual(x, z)
	}
	if !differs {
		t.Error("seeds 1 and 2 gave the same txns")
	}
	// The hottest slot gets about 1/Σ0.7^i ≈ 32% of micro-ops; with
	// uniform picks over 8 keys it would be 12.5%.
	g := New(ListAppend, Options{}).NewGenerator(3).(*generator)
	counts := make([]int, len(g.slots))
	for range 100000 {
		counts[g.pick()]++
	}
	if counts[0] < 28000 || counts[0] > 36000 || counts[7] > counts[0]/5 {
		t.Errorf("slot picks %v: want slot 0 ≈ 32%%, the last ≈ 3%%", counts)
	}
}

func TestEncodeDecode(t *testing.T) {
	v3 := int64(3)
	cases := []struct {
		kind Kind
		mops []Mop
		inv  []any
		ok   []any
	}{
		{ListAppend,
			[]Mop{{F: FAppend, Key: 1, Value: 3}, {F: FRead, Key: 2, List: []int64{1, 2}}, {F: FRead, Key: 4}},
			[]any{[]any{"append", int64(1), int64(3)}, []any{"r", int64(2), nil}, []any{"r", int64(4), nil}},
			[]any{[]any{"append", int64(1), int64(3)}, []any{"r", int64(2), []any{int64(1), int64(2)}}, []any{"r", int64(4), []any{}}}},
		{RWRegister,
			[]Mop{{F: FRead, Key: 1, Reg: &v3}, {F: FWrite, Key: 1, Value: 4}, {F: FRead, Key: 2}},
			[]any{[]any{"r", int64(1), nil}, []any{"w", int64(1), int64(4)}, []any{"r", int64(2), nil}},
			[]any{[]any{"r", int64(1), int64(3)}, []any{"w", int64(1), int64(4)}, []any{"r", int64(2), nil}}},
	}
	for _, c := range cases {
		if got := Encode(c.kind, c.mops, false); !reflect.DeepEqual(got, c.inv) {
			t.Errorf("%s invocation = %v, want %v", c.kind, got, c.inv)
		}
		if got := Encode(c.kind, c.mops, true); !reflect.DeepEqual(got, c.ok) {
			t.Errorf("%s completion = %v, want %v", c.kind, got, c.ok)
		}
		back, err := Decode(c.kind, c.inv)
		if err != nil {
			t.Fatal(err)
		}
		for i := range back {
			if back[i].F != c.mops[i].F || back[i].Key != c.mops[i].Key || back[i].Value != c.mops[i].Value {
				t.Errorf("%s decoded %+v, want %+v", c.kind, back[i], c.mops[i])
			}
		}
	}
	for _, bad := range []any{
		"x",
		[]any{[]any{"w", int64(1), int64(2)}}, // a register write in list-append
		[]any{[]any{"append", "k", int64(2)}}, // a string key
		[]any{[]any{"append", int64(1), "v"}}, // a string value
		[]any{[]any{"append", int64(1)}},      // too short
	} {
		if _, err := Decode(ListAppend, bad); err == nil {
			t.Errorf("Decode(%v): no error", bad)
		}
	}
}

// fakeClient answers with a canned result or error.
type fakeClient struct {
	err      error
	definite bool
}

func (f fakeClient) Txn(_ context.Context, _ Kind, mops []Mop) ([]Mop, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := append([]Mop(nil), mops...)
	for i := range out {
		if out[i].F == FRead {
			out[i].List = []int64{9}
		}
	}
	return out, nil
}
func (f fakeClient) Definite(error) bool { return f.definite }

func TestInvokeClassifies(t *testing.T) {
	w := New(ListAppend, Options{ConsistencyModel: "serializable"})
	if got := w.Check(); got.Workload != "append" || got.ConsistencyModel != "serializable" {
		t.Errorf("Check() = %+v", got)
	}
	if err := w.Supports(struct{}{}); err == nil {
		t.Error("Supports of a client without Txn: no error")
	}
	write := workloads.Invocation{F: "txn", Value: []any{[]any{"append", int64(1), int64(1)}, []any{"r", int64(1), nil}}}
	read := workloads.Invocation{F: "txn", Value: []any{[]any{"r", int64(1), nil}}}
	boom := errors.New("boom")
	cases := []struct {
		name string
		c    fakeClient
		inv  workloads.Invocation
		want histories.Type
	}{
		{"committed", fakeClient{}, write, histories.OK},
		{"definite", fakeClient{err: boom, definite: true}, write, histories.Fail},
		{"unknown write", fakeClient{err: boom}, write, histories.Info},
		{"unknown read-only", fakeClient{err: boom}, read, histories.Fail},
	}
	for _, c := range cases {
		got := w.Invoke(context.Background(), c.c, c.inv)
		if got.Type != c.want {
			t.Errorf("%s: %v, want %v", c.name, got.Type, c.want)
		}
		if c.want == histories.OK {
			want := []any{[]any{"append", int64(1), int64(1)}, []any{"r", int64(1), []any{int64(9)}}}
			if !reflect.DeepEqual(got.Value, want) {
				t.Errorf("%s: value %v, want %v", c.name, got.Value, want)
			}
		} else if got.Error == "" || !reflect.DeepEqual(got.Value, c.inv.Value) {
			t.Errorf("%s: %+v: want the invocation's value and an error", c.name, got)
		}
	}
}

package wl

import (
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

func TestQuantiles(t *testing.T) {
	if Quantiles(nil) != nil {
		t.Error("no values: want nil")
	}
	vs := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	q := Quantiles(vs)
	// Jepsen's frequency-distribution: index min(n-1, floor(n·p)).
	want := map[string]float64{"0": 1, "0.5": 6, "0.95": 10, "0.99": 10, "1": 10}
	for k, v := range want {
		if q[k] != v {
			t.Errorf("q[%s] = %v, want %v", k, q[k], v)
		}
	}
}

func TestCompare(t *testing.T) {
	ks := []string{"b", "10", "2", "a", "-1"}
	slices.SortFunc(ks, CompareKeys)
	if !slices.Equal(ks, []string{"-1", "2", "10", "a", "b"}) {
		t.Errorf("keys %v", ks)
	}
	es := []any{"x", int64(10), 2.5, int64(2), true, textKey("[1]")}
	slices.SortFunc(es, CompareElems)
	if FormatElem(es[0]) != "2" || FormatElem(es[1]) != "2.5" || FormatElem(es[2]) != "10" || es[3] != "x" {
		t.Errorf("elements %v", es)
	}
	a, _ := Elem(3.0)
	b, _ := Elem(int64(3))
	if a != b {
		t.Error("3.0 and 3 are one element")
	}
	l, _ := Elem([]any{int64(1)})
	s, _ := Elem("[1]")
	if l == s {
		t.Error("a list and the string of its text are different elements")
	}
}

func TestTimeline(t *testing.T) {
	h := histories.History{{Index: 0, Time: 5e9}, {Index: 1, Time: 6_500_000_000}}
	tl := NewTimeline(h)
	if tl.Positions || *tl.Seconds(h[1].Time) != 1.5 {
		t.Errorf("%+v", tl)
	}
	if got := tl.Describe(&histories.Op{Index: 1, Time: 6_500_000_000, Process: 2, Node: "n1"}); got != "op 1 (process 2, n1, 1.5 s)" {
		t.Error(got)
	}
	// Times that are positions are not seconds.
	h = histories.History{{Index: 0, Time: 0}, {Index: 1, Time: 1}}
	if tl := NewTimeline(h); !tl.Positions || tl.Seconds(1) != nil || tl.Describe(&h[1]) != "op 1 (process 0)" {
		t.Errorf("%+v", tl)
	}
}

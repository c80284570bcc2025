package checker

import (
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// ev is one event of a hand-written history: process, type, f, value, and
// optionally a key and an error.
type ev struct {
	p   int
	t   string
	f   string
	v   any
	key string
	err string
}

// hist builds a history from events, indexed and lined from 0 and 1; a
// process of -1 is the nemesis.
func hist(t testing.TB, evs ...ev) histories.History {
	t.Helper()
	h := make(histories.History, len(evs))
	for i, e := range evs {
		typ, err := histories.ParseType(e.t)
		if err != nil {
			t.Fatal(err)
		}
		h[i] = histories.Op{Index: int64(i), Time: int64(i) * 1000, Process: histories.Process(e.p), Type: typ, F: e.f, Key: e.key, Value: norm(e.v), Error: e.err, Line: int32(i + 1)}
	}
	return h
}

// norm turns ints into int64, as the readers do.
func norm(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	}
	return v
}

func l(vs ...any) []any { return vs }

func check(t *testing.T, h histories.History, opts LinearizableOptions) (Result, *Linearization) {
	t.Helper()
	r, lin, err := Linearizable(h, opts)
	if err != nil {
		t.Fatalf("Linearizable: %v", err)
	}
	if (r.Valid == Invalid) != (lin != nil) {
		t.Errorf("verdict %v but linearization %v", r.Valid, lin)
	}
	return r, lin
}

func wantValid(t *testing.T, h histories.History, opts LinearizableOptions, want Validity) Result {
	t.Helper()
	r, _ := check(t, h, opts)
	if r.Valid != want {
		t.Fatalf("want %v, got %v: %s", want, r.Valid, r.Summary)
	}
	return r
}

func wantContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

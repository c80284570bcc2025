// Package wltest loads the workload checkers' test histories: each case
// of testdata/workloads/<checker>/ is a JSONL history and the same history
// as Jepsen EDN, read with histories.ReadFile and checked to read alike.
package wltest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// Dir is testdata/workloads/<name> at the repository's root.
func Dir(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "workloads", name)
}

// Format is one of the forms a case is stored in.
type Format struct {
	Ext string
	H   histories.History
}

// Load reads case name of checker dir in both forms and fails the test
// unless they hold the same ops.
func Load(t testing.TB, dir, name string) []Format {
	t.Helper()
	var out []Format
	for _, ext := range []string{".jsonl", ".edn"} {
		h, err := histories.ReadFile(filepath.Join(Dir(dir), name+ext))
		if err != nil {
			t.Fatalf("%s%s: %v", name, ext, err)
		}
		out = append(out, Format{ext, h})
	}
	a, b := out[0].H, out[1].H
	if len(a) != len(b) {
		t.Fatalf("%s: the JSONL has %d ops, the EDN %d", name, len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Index != y.Index || x.Time != y.Time || x.Process != y.Process || x.Type != y.Type || x.F != y.F ||
			x.Key != y.Key || x.Node != y.Node || x.Error != y.Error || !reflect.DeepEqual(x.Value, y.Value) {
			t.Fatalf("%s: op %d differs:\n jsonl %+v\n edn   %+v", name, i, x, y)
		}
	}
	return out
}

// Check runs c on h and fails the test on an error, or if the Result does
// not encode as JSON.
func Check(t testing.TB, c checker.Checker, h histories.History) checker.Result {
	t.Helper()
	r, err := c.Check(context.Background(), h)
	if err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("%s: the result does not encode: %v", c.Name(), err)
	}
	return r
}

// Expect fails the test unless r has the verdict and exactly the anomaly
// types given.
func Expect(t testing.TB, r checker.Result, valid checker.Validity, anomalies ...string) {
	t.Helper()
	if r.Valid != valid {
		t.Errorf("valid = %s, want %s; summary: %s", r.Valid, valid, r.Summary)
	}
	got := slices.Clone(r.AnomalyTypes)
	slices.Sort(got)
	want := slices.Clone(anomalies)
	slices.Sort(want)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("anomaly types = %v, want %v; summary: %s", got, want, r.Summary)
	}
}

// JSON is r's Details as a map, as results.json holds them.
func JSON(t testing.TB, r checker.Result) map[string]any {
	t.Helper()
	b, err := json.Marshal(r.Details)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Builder writes a history op by op: indexes count up from 0 and times
// by a millisecond from 1 ms.
type Builder struct {
	H histories.History
}

// Op appends an op.
func (b *Builder) Op(p histories.Process, typ histories.Type, f string, v any) *Builder {
	n := int64(len(b.H))
	b.H = append(b.H, histories.Op{Index: n, Time: (n + 1) * 1e6, Process: p, Type: typ, F: f, Value: v})
	return b
}

// KeyOp appends an op on a key.
func (b *Builder) KeyOp(p histories.Process, typ histories.Type, f, key string, v any) *Builder {
	b.Op(p, typ, f, v)
	b.H[len(b.H)-1].Key = key
	return b
}

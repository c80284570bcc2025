// Package workloadtest holds helpers for the tests of workload generators.
package workloadtest

import (
	"reflect"
	"testing"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Take draws n invocations from g, telling it each completed ok.
func Take(g workloads.Generator, n int) []workloads.Invocation {
	out := make([]workloads.Invocation, n)
	for i := range out {
		out[i] = g.Next()
		g.Done(out[i], workloads.Completion{Type: histories.OK})
	}
	return out
}

// Deterministic fails t unless w's generators give the same 3,000
// invocations for one seed and different ones for another.
func Deterministic(t *testing.T, w workloads.Workload) {
	t.Helper()
	a, b := Take(w.NewGenerator(7), 3000), Take(w.NewGenerator(7), 3000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two generators of seed 7 differ")
	}
	if reflect.DeepEqual(a, Take(w.NewGenerator(8), 3000)) {
		t.Fatal("seeds 7 and 8 give the same sequence")
	}
}

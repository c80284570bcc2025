package checker

import (
	"context"
	"time"

	"github.com/faultline-dev/faultline/histories"
)

// Checker is one analysis of a history (Jepsen's Checker protocol): a
// history in, a Result with its explanation out. Workloads declare the
// checkers their histories need; `faultline check --workload W` and
// `faultline run` run exactly those, plus Stats, and compose the results
// with Compose. A Checker returns an error only for a history it cannot
// interpret at all (the op shapes of another workload); what it cannot
// decide is an Unknown Result, never an error and never Valid.
type Checker interface {
	// Name is the checker's key in results.json's checkers map (e.g.
	// "set", "linearizable").
	Name() string
	Check(ctx context.Context, h histories.History) (Result, error)
}

// Func adapts a function to Checker.
type Func struct {
	N string
	F func(ctx context.Context, h histories.History) (Result, error)
}

// Name implements Checker.
func (f Func) Name() string { return f.N }

// Check implements Checker.
func (f Func) Check(ctx context.Context, h histories.History) (Result, error) { return f.F(ctx, h) }

// RunAll runs checkers on h, one after another, and returns their results
// by name, each with the time it took (Seconds). The first error stops it.
func RunAll(ctx context.Context, h histories.History, checkers ...Checker) (map[string]Result, error) {
	out := make(map[string]Result, len(checkers))
	for _, c := range checkers {
		t0 := time.Now()
		r, err := c.Check(ctx, h)
		if err != nil {
			return nil, err
		}
		r.Seconds = time.Since(t0).Seconds()
		out[c.Name()] = r
	}
	return out, nil
}

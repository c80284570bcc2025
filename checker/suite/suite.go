// Package suite picks and runs the checkers a history needs — from the
// workload or model the user names, or inferred from the history itself —
// and composes their results into results.json's shape. It exists apart
// from package checker because it ties together checkers that live in their
// own packages (checker/txn imports checker, so checker cannot import it).
//
// Every history gets the stats checker besides its consistency checker.
// Inference: transactions of append/r micro-ops are list-append; of w/r
// micro-ops rw-register; anything else is left to checker.InferModel.
package suite

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
)

// Options say what to check for.
type Options struct {
	// Workload is "append" or "rw-register" for transactional checks, or
	// "register" (cas-register model) — optional.
	Workload string
	// Model is a linearizability model name (see checker.Models) — optional.
	Model string
	// Initial is the register models' initial value; HasInitial says it
	// was given.
	Initial    any
	HasInitial bool
	// ConsistencyModel is what a transactional system claims.
	ConsistencyModel string
	// Timeout bounds each checker; 0 means none.
	Timeout time.Duration
	// Anomalies and WFRKeys are the transactional checker's
	// txn.Options.Anomalies and WFRKeys.
	Anomalies []string
	WFRKeys   bool
	// Also is txn.Options.Also: anomalies searched for and reported
	// without bearing on the verdict.
	Also []string
}

// Outcome is what checking one history produced.
type Outcome struct {
	Results checker.Results
	// What was checked: a model name or a workload name.
	Checked string
	// Linearization is set for linearizability checks, to write porcupine's
	// visualization of failing keys.
	Linearization *checker.Linearization
	// Counts are the history's client ops, nemesis events and lines.
	Counts  histories.Counts
	Elapsed time.Duration
}

// Workloads are the workloads check understands.
func Workloads() []string { return []string{"append", "register", "rw-register"} }

// Check validates h and runs its checkers. file names the source in errors.
// An error means the history could not be checked at all (bad input, no
// model); a checker that could not decide yields unknown, not an error.
func Check(h histories.History, file string, opts Options) (Outcome, error) {
	start := time.Now()
	if _, err := histories.Pairs(h, file); err != nil {
		return Outcome{}, err
	}
	out := Outcome{Counts: histories.Count(h)}
	t0 := time.Now()
	results := map[string]checker.Result{"stats": checker.Stats(h)}
	results["stats"] = timed(results["stats"], t0)

	workload := opts.Workload
	if workload == "" && opts.Model == "" {
		workload = InferWorkload(h)
	}
	switch workload {
	case "append", "rw-register":
		t0 := time.Now()
		res, err := txn.Check(h, txn.Options{Workload: workload, ConsistencyModel: opts.ConsistencyModel, Timeout: opts.Timeout,
			Anomalies: opts.Anomalies, WFRKeys: opts.WFRKeys, Also: opts.Also})
		if err != nil {
			return Outcome{}, prefix(file, err)
		}
		results[workload] = timed(res, t0)
		out.Checked = workload
	case "", "register":
		model := opts.Model
		if workload == "register" && model == "" {
			model = "cas-register"
		}
		if model == "" {
			m, err := checker.InferModel(h)
			if err != nil {
				return Outcome{}, prefix(file, err)
			}
			model = m
		}
		t0 := time.Now()
		res, lin, err := checker.Linearizable(h, checker.LinearizableOptions{
			Model: model, Initial: opts.Initial, HasInitial: opts.HasInitial, Timeout: opts.Timeout,
		})
		if err != nil {
			return Outcome{}, prefix(file, err)
		}
		results["linearizable"] = timed(res, t0)
		out.Linearization = lin
		out.Checked = model
	default:
		return Outcome{}, fmt.Errorf("unknown workload %q (known: %s)", workload, strings.Join(Workloads(), ", "))
	}
	out.Results = checker.Compose(results, results["stats"].Details)
	out.Results.Faults = histories.SummarizeFaults(h)
	out.Elapsed = time.Since(start)
	return out, nil
}

// timed sets r's Seconds to the time since t0 (junit.xml's test case time).
func timed(r checker.Result, t0 time.Time) checker.Result {
	r.Seconds = time.Since(t0).Seconds()
	return r
}

func prefix(file string, err error) error {
	if file == "" || strings.HasPrefix(err.Error(), file) {
		return err
	}
	return fmt.Errorf("%s: %w", file, err)
}

// InferWorkload returns "append" or "rw-register" when the history's
// transactions make it clear, and "" otherwise.
func InferWorkload(h histories.History) string {
	for i := range h {
		op := &h[i]
		if op.Process == histories.Nemesis || op.F != "txn" {
			continue
		}
		mops, ok := op.Value.([]any)
		if !ok {
			continue
		}
		for _, m := range mops {
			mop, ok := m.([]any)
			if !ok || len(mop) == 0 {
				continue
			}
			switch mop[0] {
			case "append":
				return "append"
			case "w":
				return "rw-register"
			}
		}
	}
	return ""
}

// ParseValue reads a value given on the command line (e.g. --initial): nil
// or null is nil, an integer is int64, anything else a string.
func ParseValue(s string) any {
	switch s {
	case "nil", "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	return strings.Trim(s, `"`)
}

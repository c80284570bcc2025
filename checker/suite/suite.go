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
	"context"
	"fmt"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/bank"
	"github.com/faultline-dev/faultline/checker/counter"
	"github.com/faultline-dev/faultline/checker/lock"
	"github.com/faultline-dev/faultline/checker/queue"
	"github.com/faultline-dev/faultline/checker/set"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/checker/uniqueids"
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
	// Txn is the history's transactions as txn.ReadFile ingested them
	// (the history then carries no value for them); nil if it was read
	// otherwise.
	Txn *txn.Ingested
	// TxnStream is the history's transactions as a run's online check
	// parsed them while they were recorded (txn.Stream); nil if not.
	TxnStream *txn.Stream
	// Known are keys already found linearizable, as an online check during
	// a run found them (checker.LinearizableOptions.Known).
	Known map[string]checker.KnownKey
	// Passes is what a run's online check computed of the history op by
	// op while it was recorded (nil if nothing): Check then makes none of
	// its own passes over the whole history.
	Passes *Passes
}

// Passes are Check's passes over a history (pairing, grouping by key,
// counts, stats, fault summary) made op by op as it is recorded: Add each op in order, and
// give the result to Check as Options.Passes.
type Passes struct {
	pairer  *histories.Pairer
	counter histories.Counter
	stats   checker.StatsBuilder
	keys    checker.KeyPartition
	nemesis histories.History
	last    histories.Op
	n       int
}

// NewPasses starts the passes over a history.
func NewPasses() *Passes { return &Passes{pairer: histories.NewPairer("", 0)} }

// Add takes op i of h (h[:i] having been added).
func (ps *Passes) Add(h histories.History, i int) {
	if ps == nil {
		return
	}
	op := &h[i]
	if ps.pairer.Add(h, i) == nil && op.Process != histories.Nemesis && op.Type == histories.Invoke {
		ps.keys.Add(op.Key)
	}
	ps.counter.Add(op)
	ps.stats.Add(op)
	if op.Process == histories.Nemesis {
		ps.nemesis = append(ps.nemesis, *op)
	}
	ps.last = *op
	ps.n++
}

// faults is histories.SummarizeFaults of the history: only its nemesis
// events and its last op's time count.
func (ps *Passes) faults() []histories.FaultStat {
	h := ps.nemesis
	if ps.n > 0 && ps.last.Process != histories.Nemesis {
		h = append(h[:len(h):len(h)], ps.last)
	}
	return histories.SummarizeFaults(h)
}

// LinearizableFor is the linearizability check Check runs for opts when
// the options alone name it (a workload checked for linearizability with
// its model, or a model); ok is false when they do not (a workload with
// other checkers, or a model to infer from the history).
func LinearizableFor(opts Options) (lin checker.LinearizableOptions, ok bool) {
	entry := Entry{Linearizable: true}
	if opts.Workload != "" {
		e, err := Lookup(opts.Workload)
		if err != nil {
			return lin, false
		}
		entry = e
	}
	model := opts.Model
	if model == "" {
		model = entry.Model
	}
	if !entry.Linearizable || model == "" {
		return lin, false
	}
	return linearizableOptions(opts, model), true
}

func linearizableOptions(opts Options, model string) checker.LinearizableOptions {
	return checker.LinearizableOptions{Model: model, Initial: opts.Initial, HasInitial: opts.HasInitial, Timeout: opts.Timeout, Known: opts.Known}
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

// A Factory builds the checkers a workload's histories need (besides
// stats, which every history gets) from the options. Linearizability is
// the one checker that is not a checker.Checker: it also returns
// porcupine's linearization for the visualisation, so the factory of a
// linearizability workload returns none and sets Entry.Linearizable.
type Factory func(opts Options) ([]checker.Checker, error)

// Entry is a workload in the checker registry.
type Entry struct {
	Name string
	// Doc is one line for help text: what the checkers look for.
	Doc string
	// Checkers builds the workload's checkers; nil for Linearizable.
	Checkers Factory
	// Linearizable, with Model, says the history is checked for
	// linearizability with that porcupine model (Options.Model wins).
	Linearizable bool
	Model        string
}

var registry = map[string]Entry{}

// TxnOptions are the transactional checker's options for a check of
// workload w (append, rw-register) with o.
func TxnOptions(o Options, w string) txn.Options {
	return txn.Options{Workload: w, ConsistencyModel: o.ConsistencyModel, Timeout: o.Timeout,
		Anomalies: o.Anomalies, WFRKeys: o.WFRKeys, Also: o.Also}
}

// Register adds a workload's checkers to the registry, from an init
// function: `faultline check --workload NAME` and a run of workload NAME
// find them here, and nothing else names a workload.
func Register(e Entry) {
	if _, dup := registry[e.Name]; dup {
		panic("suite: workload " + e.Name + " registered twice")
	}
	registry[e.Name] = e
}

// Workloads lists the registered workload names, sorted.
func Workloads() []string {
	return slices.Sorted(maps.Keys(registry))
}

// Lookup finds a workload's entry.
func Lookup(name string) (Entry, error) {
	e, ok := registry[name]
	if !ok {
		return e, fmt.Errorf("unknown workload %q (known: %s)", name, strings.Join(Workloads(), ", "))
	}
	return e, nil
}

func init() {
	for _, w := range []string{"append", "rw-register"} {
		Register(Entry{Name: w, Doc: "Elle's " + w + " transactions, checked for the consistency model's anomalies",
			Checkers: func(o Options) ([]checker.Checker, error) {
				return []checker.Checker{checker.Func{N: w, F: func(ctx context.Context, h histories.History) (checker.Result, error) {
					to := TxnOptions(o, w)
					if o.TxnStream != nil {
						return txn.CheckStreamContext(ctx, h, o.TxnStream, to)
					}
					return txn.CheckIngestedContext(ctx, h, o.Txn, to)
				}}}, nil
			}})
	}
	Register(Entry{Name: "register", Doc: "independent registers, linearizable per key (cas-register model)", Linearizable: true, Model: "cas-register"})
	Register(Entry{Name: "set", Doc: "Jepsen's set-full: lost, stale, never-read and recovered elements of grow-only sets",
		Checkers: one(func(Options) checker.Checker { return set.New(set.Options{}) })})
	Register(Entry{Name: "counter", Doc: "Jepsen's counter: every read within the acknowledged and attempted increments",
		Checkers: one(func(Options) checker.Checker { return counter.New() })})
	Register(Entry{Name: "bank", Doc: "Jepsen's bank: every read sees the total, and no negative balance",
		Checkers: one(func(Options) checker.Checker { return bank.New(bank.Options{}) })})
	Register(Entry{Name: "queue", Doc: "Jepsen's total-queue: lost, duplicated and unexpected elements of a queue",
		Checkers: one(func(Options) checker.Checker { return queue.NewTotal(queue.Options{}) })})
	Register(Entry{Name: "lock", Doc: "mutual exclusion in real time, and fencing tokens",
		Checkers: one(func(Options) checker.Checker { return lock.New() })})
	Register(Entry{Name: "unique-ids", Doc: "Jepsen's unique-ids: no id generated twice",
		Checkers: one(func(Options) checker.Checker { return uniqueids.New() })})
}

func one(f func(Options) checker.Checker) Factory {
	return func(o Options) ([]checker.Checker, error) { return []checker.Checker{f(o)}, nil }
}

// Check validates h and runs its checkers. file names the source in errors.
// An error means the history could not be checked at all (bad input, no
// model); a checker that could not decide yields unknown, not an error.
func Check(h histories.History, file string, opts Options) (Outcome, error) {
	start := time.Now()
	ps := opts.Passes
	if ps != nil && (ps.n != len(h) || ps.pairer.Err() != nil) {
		ps = nil // the passes again, and Pairs's error
	}
	var pairs []histories.Pair
	var out Outcome
	t0 := time.Now()
	var stats checker.Result
	if ps != nil {
		pairs, out.Counts, stats = ps.pairer.Pairs(), ps.counter.Counts(), ps.stats.Result()
	} else {
		var err error
		if pairs, err = histories.Pairs(h, file); err != nil {
			return Outcome{}, err
		}
		out.Counts, stats, ps = histories.Count(h), checker.Stats(h), nil
	}
	results := map[string]checker.Result{"stats": timed(stats, t0)}

	workload := opts.Workload
	if workload == "" && opts.Model == "" {
		workload = InferWorkload(h)
	}
	entry := Entry{Linearizable: true}
	if workload != "" {
		e, err := Lookup(workload)
		if err != nil {
			return Outcome{}, err
		}
		entry = e
	}
	if entry.Linearizable {
		model := opts.Model
		if model == "" {
			model = entry.Model
		}
		if model == "" {
			m, err := checker.InferModel(h)
			if err != nil {
				return Outcome{}, prefix(file, err)
			}
			model = m
		}
		t0 := time.Now()
		lo := linearizableOptions(opts, model)
		lo.Pairs = pairs
		if ps != nil {
			lo.Keys = &ps.keys
		}
		res, lin, err := checker.Linearizable(h, lo)
		if err != nil {
			return Outcome{}, prefix(file, err)
		}
		results["linearizable"] = timed(res, t0)
		out.Linearization = lin
		out.Checked = model
	} else {
		cs, err := entry.Checkers(opts)
		if err != nil {
			return Outcome{}, prefix(file, err)
		}
		ctx := context.Background()
		if opts.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
			defer cancel()
		}
		rs, err := checker.RunAll(ctx, h, cs...)
		if err != nil {
			return Outcome{}, prefix(file, err)
		}
		maps.Copy(results, rs)
		out.Checked = workload
	}
	out.Results = checker.Compose(results, results["stats"].Details)
	if ps != nil {
		out.Results.Faults = ps.faults()
	} else {
		out.Results.Faults = histories.SummarizeFaults(h)
	}
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

// BatchGC sets the garbage collector for a process that reads and checks
// one large history and exits (faultline check): a collection when the
// heap has grown by half since the last, not doubled (GOGC=50), and by no
// more than batchHeadroom however large the heap (see capHeadroom). What a
// check holds is mostly live until it ends, so the default lets the heap
// reach twice the history's size; this keeps the peak near one and a half
// times it (a million-op register history: about 510 MB instead of 630)
// for a few per cent more CPU, and within batchHeadroom of it for the
// largest (ten million transactions: several GB less). A GOGC in the
// environment wins; a GOMEMLIMIT keeps the cap off.
func BatchGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(50)
	if os.Getenv("GOMEMLIMIT") == "" {
		capHeadroom()
	}
}

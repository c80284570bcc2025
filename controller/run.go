package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/reports"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/workloads"
)

// Options are how a run reports, beside its plan.
type Options struct {
	// Progress receives the live progress line (a terminal) or periodic
	// plain lines; nil for none.
	Progress io.Writer
	// Terminal says Progress is a terminal (redraw one line in place).
	Terminal bool
}

// Result is what a run produced.
type Result struct {
	Dir     string
	Results checker.Results
	Outcome suite.Outcome
	// Ops are the client operations invoked; Events the history's lines
	// (each op's invocation and completion, and the nemesis events).
	Ops, Events int64
	// Duration is the workload's, without the final phase; OpsPerSecond
	// its throughput (the operations completed in it over Duration), as
	// results.json says.
	Duration     time.Duration
	OpsPerSecond float64
	// Recovery is how long the cluster took to answer again in the final
	// phase.
	Recovery time.Duration
	// Verdict is how long the verdict took after the final phase ended:
	// teardown, log collection, reading the history back and the check.
	Verdict time.Duration
	// Interrupted is set when the run was stopped by a signal.
	Interrupted bool
}

// RunInfo is the controller's own section of results.json.
type RunInfo struct {
	// Ops are client operations invoked; HistoryEvents the history's
	// lines, of which NemesisEvents are the nemesis's.
	Ops             int64   `json:"ops"`
	NemesisEvents   int64   `json:"nemesis_events"`
	HistoryEvents   int64   `json:"history_events"`
	DurationSeconds float64 `json:"duration_seconds"`
	OpsPerSecond    float64 `json:"ops_per_second"`
	RecoverySeconds float64 `json:"recovery_seconds"`
	// VerdictSeconds is Result.Verdict: from the end of the final phase
	// to the verdict.
	VerdictSeconds   float64 `json:"verdict_seconds"`
	Interrupted      bool    `json:"interrupted,omitempty"`
	RecoveryError    string  `json:"recovery_error,omitempty"`
	TeardownError    string  `json:"teardown_error,omitempty"`
	CollectLogsError string  `json:"collect_logs_error,omitempty"`
	// ClaimedBy says what claims the consistency model checked (e.g.
	// "PostgreSQL's repeatable read"), when the target says.
	ClaimedBy string `json:"claimed_by,omitempty"`
}

// Run runs one test to the end. ctx cancelled (Ctrl-C) stops the workload
// early; the run still tears down, checks and writes its results. An error
// means the test could not be run (bad plan, cluster setup failed) or its
// results could not be written.
func Run(ctx context.Context, plan Plan, opts Options) (res *Result, err error) {
	plan.DefaultName()
	topts, err := plan.Resolve()
	if err != nil {
		return nil, fmt.Errorf("bad plan: %w", err)
	}
	if err := plan.Validate(TargetNames(), workloads.Names(), nemesis.Names()); err != nil {
		return nil, err
	}
	wl, err := workloads.Get(plan.Workload)
	if err != nil {
		return nil, err
	}
	if err := supports(wl, plan.Target); err != nil {
		return nil, err
	}
	dir, err := newRunDir(plan)
	if err != nil {
		return nil, err
	}
	res = &Result{Dir: dir}
	info := RunInfo{}
	// CI reads the store: a run that fails once its directory exists says
	// so there, whatever the step (results.json unknown, junit.xml with
	// an error test case), unless it wrote its results. Deferred first,
	// so that it runs after the teardown and the heal.
	logf := func(string, ...any) {}
	stage, wrote := "setup", false
	var logFile *os.File
	defer func() {
		if err != nil && !wrote {
			logf("%s failed: %v", stage, err)
			if werr := writeNotRun(dir, plan.Name, stage, err, info); werr != nil {
				logf("writing results: %v", werr)
			}
		}
		if logFile != nil {
			logFile.Close()
		}
	}()
	logFile, err = os.OpenFile(filepath.Join(dir, "faultline.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return res, err
	}
	lg := log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)
	logf = lg.Printf
	if err := writeJSON(filepath.Join(dir, "plan.json"), plan); err != nil {
		return res, err
	}
	logf("run %s: plan %+v", dir, plan)
	for _, w := range plan.Warnings() {
		logf("warning: %s", w)
		progress(opts, "warning: %s\n", w)
	}

	// Processes started in node namespaces are reaped here, not by PID 1.
	if err := control.BecomeSubreaper(); err != nil {
		logf("subreaper: %v", err)
	}
	sys, err := newSystem(SystemConfig{Plan: plan, Dir: dir, TargetOptions: topts, Logf: logf, Progress: opts.Progress})
	if err != nil {
		return res, err
	}
	// Teardown on every path out, panics included.
	tornDown := false
	teardown := func() {
		if tornDown {
			return
		}
		tornDown = true
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		// The target stops before its logs are collected, so they are
		// complete; the hosts go after.
		if err := sys.Teardown(tctx, filepath.Join(dir, "nodes")); err != nil {
			info.TeardownError = err.Error()
			logf("teardown: %v", err)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			logf("panic: %v\n%s", p, debug.Stack())
			teardown()
			panic(p)
		}
		teardown()
	}()

	progress(opts, "setting up %d %s nodes (%s)…\n", len(plan.Nodes), plan.Target, dir)
	setupCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err = sys.Start(setupCtx)
	cancel()
	if err != nil {
		return res, fmt.Errorf("cluster setup: %w", err)
	}
	logf("cluster up")
	if err := initWorkload(ctx, plan, wl, sys); err != nil {
		return res, fmt.Errorf("cluster setup: %w", err)
	}
	if fs, ok := sys.(faultable); ok && fs.Cluster() != nil {
		if sv, ok := fs.DB().(targets.Servers); ok && len(sv.Servers()) < len(fs.Cluster().Nodes()) {
			var idle []string
			for _, n := range control.NodeNames(fs.Cluster()) {
				if !slices.Contains(sv.Servers(), n) {
					idle = append(idle, n)
				}
			}
			w := fmt.Sprintf("%s serves from %s only: %s run nothing, and faults on them change nothing", plan.Target, strings.Join(sv.Servers(), ", "), strings.Join(idle, ", "))
			logf("warning: %s", w)
			progress(opts, "warning: %s\n", w)
		}
	}

	copts := wl.Check()
	if copts.ConsistencyModel == "" {
		// The target says what it promises (e.g. PostgreSQL's isolation).
		if c, ok := sys.(interface{ ConsistencyModel() string }); ok {
			copts.ConsistencyModel = c.ConsistencyModel()
		}
		if c, ok := sys.(interface{ ClaimedBy() string }); ok && copts.ConsistencyModel != "" {
			info.ClaimedBy = c.ClaimedBy()
		}
	}
	histPath := filepath.Join(dir, "history.jsonl")
	rec, err := histories.Create(histPath)
	if err != nil {
		return res, err
	}
	// The history is checked as it is recorded (see online).
	keyOps := 0
	lin, perKey := suite.LinearizableFor(copts)
	if kr, ok := wl.(workloads.KeyRetirer); ok && perKey {
		keyOps = kr.KeyOps()
	}
	on := newOnline(keyOps, lin, suite.TxnOptions(copts, copts.Workload))
	defer on.finish()
	rec.Tee(on.add)
	stats := &counters{}
	var sched *nemesis.Schedule
	if len(plan.Nemesis) > 0 {
		fs, ok := sys.(faultable)
		if !ok {
			rec.Close()
			return res, fmt.Errorf("nemesis: target %s has no hosts to inject faults into", plan.Target)
		}
		sched, err = nemesis.NewSchedule(nemesis.Config{
			Cluster: fs.Cluster(), Agents: fs.Agents(), DB: fs.DB(), Record: rec.Record,
			JournalPath: filepath.Join(dir, nemesis.JournalFile),
			Faults:      plan.Nemesis, Interval: time.Duration(plan.NemesisInterval), Overlap: plan.NemesisOverlap,
			Seed: plan.Seed, Logf: logf,
		})
		if err != nil {
			rec.Close()
			return res, fmt.Errorf("nemesis: %w", err)
		}
		// Faults are recovered on every path out, panics included; the
		// final phase heals them first in the normal case.
		defer func() {
			if err := sched.HealAll(context.WithoutCancel(ctx)); err != nil {
				logf("nemesis heal: %v", err)
			}
		}()
		stats.faults = sched.Current
	}
	// The run starts: store/latest moves to it (never to a run that
	// failed before its workload), and what fails from here fails the
	// run.
	if err := updateLatest(plan.Store, dir); err != nil {
		logf("store/latest: %v", err)
	}
	stage = "run"
	stopProgress := startProgress(opts, plan, stats, rec)
	// The nemesis stops at the time limit, as the workers do: the
	// operations still in flight then finish (each within its timeout)
	// with every fault healed, and no fault starts while they drain or
	// during the final phase.
	workCtx, stopNemesis := context.WithTimeout(ctx, time.Duration(plan.TimeLimit))
	var nemErr error
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		if sched != nil {
			nemErr = sched.Run(workCtx)
		}
	}()
	gen, nextProc, runErr := runWorkers(ctx, plan, wl, sys, rec, stats, logf)
	// The workload is over: stop scheduling, recover what is in effect.
	stopNemesis()
	<-nemDone
	if sched != nil {
		if err := sched.HealAll(context.WithoutCancel(ctx)); err != nil && nemErr == nil {
			nemErr = err
		}
	}
	if nemErr != nil {
		logf("nemesis: %v", nemErr)
		if runErr == nil {
			runErr = fmt.Errorf("nemesis: %w", nemErr)
		}
	}
	workTime := time.Duration(rec.Now())
	workOps := stats.completed.Load()

	// Final phase: the cluster must answer again (measure how long it
	// takes), then the workload's final operations (final reads, a
	// queue's drain) go into the history like any other.
	if runErr == nil && ctx.Err() == nil {
		progress(opts, "final phase: waiting for the cluster to recover…\n")
		t0 := time.Now()
		rctx, cancel := context.WithTimeout(ctx, time.Duration(plan.RecoveryTimeout))
		err := sys.WaitHealthy(rctx)
		cancel()
		res.Recovery = time.Since(t0)
		info.RecoverySeconds = res.Recovery.Seconds()
		if err != nil {
			info.RecoveryError = err.Error()
			logf("recovery: %v", err)
		}
		if _, ok := gen.(workloads.FinalGenerator); ok {
			progress(opts, "final phase: the workload's final operations…\n")
			if err := runFinal(ctx, plan, wl, gen, nextProc, sys, rec, stats, logf); err != nil {
				runErr = fmt.Errorf("final phase: %w", err)
			}
		}
	}
	stopProgress()
	finalEnd := time.Now()
	if cerr := rec.Close(); cerr != nil && runErr == nil {
		runErr = cerr
	}
	res.Events = rec.Count()
	res.Duration = workTime
	res.Interrupted = ctx.Err() != nil
	info.Interrupted = res.Interrupted
	info.DurationSeconds = res.Duration.Seconds()
	if res.Duration > 0 {
		info.OpsPerSecond = float64(workOps) / res.Duration.Seconds()
	}
	res.OpsPerSecond = info.OpsPerSecond
	// Check what was recorded while the cluster is torn down: the history
	// as the online checker decoded it from the lines written (the file
	// is the record), or read back from the file if that failed.
	progress(opts, "checking %d history events…\n", res.Events)
	var (
		h        histories.History
		out      suite.Outcome
		checkErr error
		checked  = make(chan struct{})
	)
	go func() {
		defer close(checked)
		defer func() {
			// Not a crash past the teardown: the error goes the usual way.
			if p := recover(); p != nil {
				logf("panic in the check: %v\n%s", p, debug.Stack())
				checkErr = fmt.Errorf("check: panic: %v", p)
			}
		}()
		var known map[string]checker.KnownKey
		var stream *txn.Stream
		var oerr error
		h, known, stream, oerr = on.finish()
		passes := on.passes
		if oerr != nil || int64(len(h)) != res.Events {
			logf("online check: %d of %d history events decoded (%v): reading the history back", len(h), res.Events, oerr)
			known, stream, passes = nil, nil, nil
			if h, checkErr = histories.ReadFile(histPath); checkErr != nil {
				checkErr = fmt.Errorf("read back history: %w", checkErr)
				return
			}
		}
		if len(known) > 0 {
			logf("online check: %d keys found linearizable during the run", len(known))
		}
		if n := stream.Parsed(); n > 0 {
			logf("online check: %d transactions parsed during the run", n)
		}
		copts.Known, copts.TxnStream, copts.Passes = known, stream, passes
		if out, checkErr = suite.Check(h, histPath, copts); checkErr != nil {
			checkErr = fmt.Errorf("check: %w", checkErr)
		}
		res.Verdict = time.Since(finalEnd)
	}()
	teardown()
	<-checked
	if checkErr != nil {
		return res, checkErr
	}
	counts := out.Counts
	res.Ops = int64(counts.Ops)
	info.Ops, info.NemesisEvents, info.HistoryEvents = res.Ops, int64(counts.Nemesis), int64(counts.Events)
	info.VerdictSeconds = res.Verdict.Seconds()
	out.Results.Run = info
	// Faults asked for that never took effect are in the summary too: a
	// schedule that injected nothing must not pass for one that did.
	for _, f := range plan.Nemesis {
		name := nemesis.SpecName(f)
		if !slices.ContainsFunc(out.Results.Faults, func(s histories.FaultStat) bool { return s.Fault == name }) {
			out.Results.Faults = append(out.Results.Faults, histories.FaultStat{Fault: name, Nodes: []string{}})
		}
	}
	switch {
	case res.Interrupted:
		// What was recorded is checked, but the run did not run its
		// course: never a pass (exit 3).
		out.Results.Checkers["run"] = checker.Result{Valid: checker.Unknown, Seconds: res.Duration.Seconds(),
			Summary: fmt.Sprintf("interrupted after %s: the history ends early, so the verdict of what it holds (%s) is not the run's", res.Duration.Round(time.Millisecond), out.Results.Valid)}
		out.Results.Valid = checker.Merge(out.Results.Valid, checker.Unknown)
	case runErr != nil:
		out.Results.Checkers["run"] = checker.Result{Valid: checker.Unknown, Seconds: res.Duration.Seconds(), Summary: "the run failed: " + runErr.Error()}
		out.Results.Valid = checker.Merge(out.Results.Valid, checker.Unknown)
	}
	if info.RecoveryError != "" {
		// A cluster that never recovered is not a pass.
		out.Results.Checkers["recovery"] = checker.Result{Valid: checker.Unknown, Summary: "the cluster did not answer again within " + plan.RecoveryTimeout.String() + ": " + info.RecoveryError}
		out.Results.Valid = checker.Merge(out.Results.Valid, checker.Unknown)
	}
	res.Outcome, res.Results = out, out.Results
	if _, err := WriteResults(dir, plan.Name, h, out); err != nil {
		return res, err
	}
	wrote = true
	logf("verdict %s", out.Results.Valid)
	return res, runErr
}

// writeNotRun writes results.json and junit.xml for a run that could not
// run (stage: setup) or whose history could not be checked (stage: run):
// the verdict is unknown, with the error as an error test case.
func writeNotRun(dir, name, stage string, err error, info RunInfo) error {
	res := checker.Compose(map[string]checker.Result{stage: {Valid: checker.Unknown, Summary: err.Error()}}, nil)
	res.Run = info
	if werr := writeJSON(filepath.Join(dir, "results.json"), res); werr != nil {
		return werr
	}
	f, werr := os.Create(filepath.Join(dir, reports.JUnitFile))
	if werr != nil {
		return werr
	}
	if werr := reports.WriteJUnit(f, name, res); werr != nil {
		f.Close()
		return werr
	}
	return f.Close()
}

func progress(o Options, format string, args ...any) {
	if o.Progress != nil {
		if o.Terminal {
			fmt.Fprint(o.Progress, "\r\033[K")
		}
		fmt.Fprintf(o.Progress, format, args...)
	}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// newRunDir makes store/<name>/<time>/, adding a suffix if two runs start
// in the same second.
func newRunDir(p Plan) (string, error) {
	base := filepath.Join(p.Store, p.Name, time.Now().Format("20060102T150405"))
	dir := base
	for i := 1; ; i++ {
		err := os.MkdirAll(filepath.Dir(dir), 0o755)
		if err == nil {
			err = os.Mkdir(dir, 0o755)
		}
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("store: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// updateLatest points store/latest at dir (relative, so the store can move).
func updateLatest(store, dir string) error {
	rel, err := filepath.Rel(store, dir)
	if err != nil {
		return err
	}
	tmp := filepath.Join(store, ".latest.tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(store, "latest"))
}

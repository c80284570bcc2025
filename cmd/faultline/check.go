package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/histories"
)

type checkFlags struct {
	model, workload, format, out, initial, consistency, independent string
	timeout                                                         time.Duration
	anomalies, also                                                 []string
	wfrKeys                                                         bool
	semantics                                                       string
}

func init() {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check [flags] PATH...",
		Short: "Check recorded histories against a consistency model",
		Long: `Check histories recorded by faultline or by Jepsen.

PATH is a history.jsonl (faultline), a history.edn (Jepsen/Knossos: a vector
of op maps or one map per line), a Jepsen log of jepsen.util lines, or a
directory holding one of history.jsonl, history.edn, jepsen.log; any of them
may be gzip-compressed.

Jepsen's independent workloads record values as [key value] tuples. With
--independent auto (the default) a history whose every client op has such a
value, with some reads or writes among them, is split into keys and checked
key by key; on insists (and says which op is not a tuple), off never splits.

Jepsen/Knossos input (EDN, jepsen.log) is read as Knossos reads it: a read of
nil is a read whose value is unknown, matching any state, and a failed op never
happened. faultline's JSONL is read strictly: a read of nil means the register
held nil, and a cas that failed without an error compared and saw another
value. --semantics faultline|knossos overrides; the output says which was used.

The model is inferred where the history makes it clear (cas ops: cas-register;
get/put/append: kv; acquire/release: mutex; txn micro-ops: multi-register, or
the append / rw-register transactional workloads); otherwise give --model.
The other workloads' histories (Jepsen's op shapes) need --workload: set
(:add / :read of the whole set), counter (:add / :read), bank (:transfer
{:from :to :amount} / :read of every balance), queue (:enqueue / :dequeue /
:drain), lock (:acquire / :release / :write [token value]) and unique-ids
(:generate).

Exit codes: 0 valid, 1 invalid, 2 unknown (e.g. --timeout hit), 3 error
(bad input, bad flags). With several PATHs, the worst verdict wins.`,
		Example: `  faultline check testdata/corpora/porcupine-jepsen-etcd/etcd_000.log
  faultline check --model register --initial 0 history.edn
  faultline check --workload append --consistency-model serializable store/latest
  faultline check --workload set history.edn
  faultline check --format json --out /tmp/result store/latest`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "linearizability model: "+strings.Join(modelNames(), ", "))
	fl.StringVar(&f.workload, "workload", "", "the workload whose checkers to run: "+strings.Join(suite.Workloads(), ", "))
	fl.StringVar(&f.consistency, "consistency-model", "strict-serializable", "what the system claims (transactional checks): invalid only if an anomaly rules it out")
	fl.StringSliceVar(&f.anomalies, "anomalies", nil, "transactional checks: anomalies to look for besides those the consistency model prohibits, comma-separated (e.g. G2-item; G2 brings its whole family, as Elle's :anomalies)")
	fl.StringSliceVar(&f.also, "also-anomalies", nil, "transactional checks: anomalies to look for and report without bearing on the verdict (e.g. G2 under --consistency-model snapshot-isolation: valid, but says whether it was serializable)")
	fl.BoolVar(&f.wfrKeys, "wfr-keys", false, "rw-register: assume writes follow reads within a transaction to infer version order (Elle's :wfr-keys?)")
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up after this long and report unknown (0: no limit)")
	fl.StringVar(&f.out, "out", "", "write results.json and visualizations of failures into this directory")
	fl.StringVar(&f.initial, "initial", "", "initial value of register models (default: none, a read before any write returns nil); for multi-register a map, as Knossos writes it ({:x 0 :y 0}) or JSON")
	fl.StringVar(&f.semantics, "semantics", "", "how register models read a nil read and a failed op: knossos (unknown value; never happened) or faultline (strict); default knossos for Jepsen/Knossos input, faultline for faultline's JSONL")
	fl.StringVar(&f.independent, "independent", "auto", "split Jepsen independent [key value] tuple values into keys: auto, on or off")
	_ = cmd.RegisterFlagCompletionFunc("model", fixedCompletions(modelNames()))
	_ = cmd.RegisterFlagCompletionFunc("workload", fixedCompletions(suite.Workloads()))
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletions([]string{"text", "json"}))
	_ = cmd.RegisterFlagCompletionFunc("consistency-model", fixedCompletions(txn.Models()))
	_ = cmd.RegisterFlagCompletionFunc("anomalies", listCompletions(txn.Anomalies(), nil))
	_ = cmd.RegisterFlagCompletionFunc("also-anomalies", listCompletions(txn.Anomalies(), nil))
	_ = cmd.RegisterFlagCompletionFunc("independent", fixedCompletions([]string{"auto", "on", "off"}))
	_ = cmd.RegisterFlagCompletionFunc("semantics", fixedCompletions([]string{"faultline", "knossos"}))
	rootCmd.AddCommand(cmd)
}

func fixedCompletions(vals []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// listCompletions completes the last element of a comma-separated list:
// the elements before it are kept, and those already given are not
// offered again. more, if set, gives the candidates for an element that
// already has a colon (a fault's parameters).
func listCompletions(vals []string, more func(name string) []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		i := strings.LastIndex(toComplete, ",")
		done, last := "", toComplete
		if i >= 0 {
			done, last = toComplete[:i+1], toComplete[i+1:]
		}
		given := strings.Split(done, ",")
		cands := vals
		if name, _, ok := strings.Cut(last, ":"); ok && more != nil {
			cands = more(name)
		}
		var out []string
		for _, v := range cands {
			if strings.HasPrefix(v, last) && !slices.Contains(given, v) {
				out = append(out, done+v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

func runCheck(stdout, stderr io.Writer, f checkFlags, paths []string) error {
	if f.format != "text" && f.format != "json" {
		return withCode(exitError, fmt.Errorf("--format %q: want text or json", f.format))
	}
	if !slices.Contains([]string{"auto", "on", "off"}, f.independent) {
		return withCode(exitError, fmt.Errorf("--independent %q: want auto, on or off", f.independent))
	}
	if f.model != "" && !slices.Contains(modelNames(), f.model) {
		return withCode(exitError, fmt.Errorf("--model %q: unknown model (known: %s)", f.model, strings.Join(modelNames(), ", ")))
	}
	if err := txn.ValidateAnomalies(f.anomalies); err != nil {
		return withCode(exitError, fmt.Errorf("--anomalies: %w", err))
	}
	if err := txn.ValidateAnomalies(f.also); err != nil {
		return withCode(exitError, fmt.Errorf("--also-anomalies: %w", err))
	}
	opts := suite.Options{Model: f.model, Workload: f.workload, Timeout: f.timeout, ConsistencyModel: f.consistency,
		Anomalies: f.anomalies, WFRKeys: f.wfrKeys, Also: f.also}
	if f.initial != "" {
		v, err := parseInitial(f.initial)
		if err != nil {
			return withCode(exitError, fmt.Errorf("--initial %q: %w", f.initial, err))
		}
		opts.Initial, opts.HasInitial = v, true
	}
	var sem histories.Semantics
	if f.semantics != "" {
		var err error
		if sem, err = histories.ParseSemantics(f.semantics); err != nil {
			return withCode(exitError, fmt.Errorf("--semantics: %w", err))
		}
	}
	suite.BatchGC()
	worst := checker.Valid
	failed := false
	for _, p := range paths {
		out := f.out
		if out != "" && len(paths) > 1 {
			out = filepath.Join(out, safeName(p))
		}
		v, err := checkOne(stdout, f.format, p, out, f.independent, opts, sem)
		if err != nil {
			fmt.Fprintln(stderr, "faultline:", err)
			failed = true
			continue
		}
		worst = checker.Merge(worst, v)
	}
	if failed {
		return withCode(exitError, nil)
	}
	return withCode(worst.ExitCode(), nil)
}

func checkOne(stdout io.Writer, format, path, out, independent string, opts suite.Options, sem histories.Semantics) (checker.Validity, error) {
	file, err := histories.Resolve(path)
	if err != nil {
		return 0, err
	}
	h, opts, err := readHistory(file, out, independent, opts)
	// A last line cut off mid-op (a writer that crashed) is dropped, and
	// said; a bad line anywhere else is an error.
	var trunc *histories.TruncatedError
	dropped := ""
	if errors.As(err, &trunc) {
		h, err = trunc.History, nil
		dropped = fmt.Sprintf("dropped line %d (%d bytes), the last, cut off mid-op as a writer that crashed leaves it; the %d complete lines before it were checked", trunc.Line, trunc.Bytes, len(h))
	}
	if err != nil {
		return 0, err
	}
	split := independent == "on" || independent == "auto" && histories.LooksIndependent(h)
	if split {
		if h, err = histories.SplitIndependent(h, file); err != nil {
			return 0, err
		}
	}
	// The reader marked the ops with its format's semantics; --semantics
	// overrides.
	if sem != histories.SemanticsUnset {
		h.SetSemantics(sem)
	}
	o, err := suite.Check(h, file, opts)
	if err != nil {
		return 0, err
	}
	// Which semantics the linearizability check read the history with.
	usedSem, semNote := "", ""
	if _, ok := o.Results.Checkers["linearizable"]; ok {
		usedSem, semNote = semanticsUsed(h, o.Checked, sem)
	}
	var files []string
	if out != "" {
		if files, err = controller.WriteResults(out, filepath.Base(file), h, o); err != nil {
			return 0, err
		}
	}
	if format == "json" {
		b, err := json.Marshal(struct {
			File string `json:"file"`
			// Independent: the values were split from Jepsen [key value]
			// tuples.
			Independent bool `json:"independent,omitempty"`
			// Dropped says what of the file was not checked.
			Dropped string `json:"dropped,omitempty"`
			// Semantics is how a linearizability check read nil reads
			// and failed ops: "knossos" or "faultline".
			Semantics string `json:"semantics,omitempty"`
			checker.Results
		}{file, split, dropped, usedSem, o.Results})
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printText(stdout, file, o, files)
		if dropped != "" {
			fmt.Fprintf(stdout, "  history: %s\n", dropped)
		}
		if split && independent == "auto" {
			fmt.Fprintln(stdout, "  (values were Jepsen independent [key value] tuples: checked key by key; --independent off checks them whole)")
		}
		if usedSem != "" {
			fmt.Fprintf(stdout, "  semantics: %s %s\n", usedSem, semNote)
		}
	}
	return o.Results.Valid, nil
}

// readHistory reads file; a transactional history (append or
// rw-register, given or inferred) of faultline's JSONL with its
// transactions in the compact form of txn.ReadFile, handed to the checker
// in opts.Txn. Written results (out) need the values in the history.
func readHistory(file, out, independent string, opts suite.Options) (histories.History, suite.Options, error) {
	if out != "" || independent == "on" || opts.Model != "" || !slices.Contains([]string{"", "append", "rw-register"}, opts.Workload) {
		h, err := histories.ReadFile(file)
		return h, opts, err
	}
	h, in, err := txn.ReadFile(file, opts.Workload)
	if in != nil {
		opts.Txn, opts.Workload = in, in.Workload()
	}
	return h, opts, err
}

// semanticsUsed names the semantics a linearizability check of h under
// model read it with, and says in a line what that meant and where it came
// from: given is --semantics (unset: the history's format decided).
func semanticsUsed(h histories.History, model string, given histories.Semantics) (name, note string) {
	s := h.Semantics()
	from := "the default for faultline's JSONL; --semantics knossos reads as Knossos does"
	switch {
	case given != histories.SemanticsUnset:
		from = "--semantics"
	case s == histories.SemanticsKnossos:
		from = "the default for Jepsen/Knossos input; --semantics faultline reads strictly"
	}
	what := checker.SemanticsNote(model, s)
	if what == "" {
		what = "the " + model + " model reads both semantics alike"
	}
	return s.String(), "(" + from + "): " + what
}

// parseInitial reads --initial: a map (multi-register's, as Knossos writes
// it, {:x 0 :y 0}, or JSON) or a single value (nil, an integer, a string).
func parseInitial(s string) (any, error) {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") {
		return histories.ParseValue(t)
	}
	return suite.ParseValue(s), nil
}

// printText is the human summary: one headline, then each checker's summary.
func printText(w io.Writer, file string, o suite.Outcome, files []string) {
	took := o.Elapsed.Round(time.Millisecond).String()
	if o.Elapsed < time.Millisecond {
		took = "under 1ms" // the check was made as the history was recorded
	}
	fmt.Fprintf(w, "%s: %s (%s, %s, checked in %s)\n", file, strings.ToUpper(o.Results.Valid.String()), o.Checked, countsText(o.Counts), took)
	for _, name := range slices.Sorted(maps.Keys(o.Results.Checkers)) {
		r := o.Results.Checkers[name]
		fmt.Fprintf(w, "  %s: %s — %s\n", name, r.Valid, indent(r.Summary, "    "))
		// For transactional anomalies, the first case of each type, step
		// by step: enough to follow without opening the report.
		if d, ok := r.Details.(*txn.Details); ok && r.Valid == checker.Invalid {
			for _, a := range d.Anomalies {
				if len(a.Cases) > 0 {
					fmt.Fprintf(w, "    %s, e.g.:\n      %s\n", a.Type, indent(a.Cases[0].Explanation, "      "))
				}
			}
		}
	}
	if len(o.Results.Not) > 0 {
		fmt.Fprintf(w, "  not: %s", strings.Join(o.Results.Not, ", "))
		if len(o.Results.AlsoNot) > 0 {
			fmt.Fprintf(w, "; also not: %s", strings.Join(o.Results.AlsoNot, ", "))
		}
		fmt.Fprintln(w)
	}
	if len(o.Results.Faults) > 0 {
		fmt.Fprintf(w, "  faults:")
		for _, f := range o.Results.Faults {
			fmt.Fprintf(w, "\n    %s", f)
			for _, e := range f.Errors {
				fmt.Fprintf(w, "\n      %s", e)
			}
		}
		fmt.Fprintln(w)
	}
	for _, f := range files {
		fmt.Fprintf(w, "  wrote %s\n", f)
	}
}

// countsText is "20730 ops, 4 nemesis events (41464 history events)": the
// same words in the check line and the run summary.
func countsText(c histories.Counts) string {
	s := fmt.Sprintf("%d ops", c.Ops)
	if c.Nemesis > 0 {
		s += fmt.Sprintf(", %d nemesis events", c.Nemesis)
	}
	return s + fmt.Sprintf(" (%d history events)", c.Events)
}

func indent(s, pad string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}

func safeName(p string) string {
	r := strings.NewReplacer("/", "_", "\\", "_", "..", "_")
	return r.Replace(strings.TrimLeft(p, "./"))
}

func modelNames() []string {
	var ns []string
	for _, m := range checker.Models() {
		ns = append(ns, m.Name)
	}
	return ns
}

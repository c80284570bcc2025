package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/reports"
)

type reportFlags struct {
	model, workload, consistency, title, initial string
	timeout                                      time.Duration
}

func init() {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report [flags] DIR",
		Short: "Write report.html and junit.xml for a run directory",
		Long: `Write DIR/report.html (one self-contained page: the verdict, the consistency
models held and ruled out, each anomaly explained, porcupine's visualization of
non-linearizable keys, latency, throughput and timeline plots with the fault
windows shaded, availability during each fault, links to the nodes' logs) and
DIR/junit.xml (one testcase per checker), and print a short summary.

DIR is a store directory (store/<test>/<time>, or store/latest) or any
directory holding a history (history.jsonl, history.edn or jepsen.log). Its
results.json is used when present; otherwise the history is checked first
(as 'faultline check' does, with the same --model / --workload flags) and
results.json is written too.

The exit code is 0 when the files were written, whatever the verdict
(use 'faultline check' for a verdict's exit code), and 3 on error.`,
		Example: `  faultline report store/latest
  faultline report --model cas-register testdata/corpora/porcupine-jepsen-etcd/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runReport(cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args[0]); err != nil {
				return withCode(exitError, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "linearizability model, when the history must be checked: "+strings.Join(linModelNames(), ", "))
	fl.StringVar(&f.workload, "workload", "", "the workload whose checkers to run, when the history must be checked: "+strings.Join(suite.Workloads(), ", "))
	fl.StringVar(&f.consistency, "consistency-model", "strict-serializable", "what the system claims (transactional checks)")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up checking after this long (0: no limit)")
	fl.StringVar(&f.initial, "initial", "", "initial value of register models, when the history must be checked")
	fl.StringVar(&f.title, "title", "", "the test's name on the page (default: from the directory or plan.json)")
	_ = cmd.RegisterFlagCompletionFunc("model", fixedCompletions(linModelNames()))
	_ = cmd.RegisterFlagCompletionFunc("consistency-model", fixedCompletions(txn.Models()))
	_ = cmd.RegisterFlagCompletionFunc("workload", fixedCompletions(suite.Workloads()))
	rootCmd.AddCommand(cmd)
}

func runReport(stdout, stderr io.Writer, f reportFlags, dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: no such directory (give a run's directory, e.g. store/latest)", dir)
	} else if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is a file: give the run's directory (the one holding its history), e.g. store/latest", dir)
	}
	file, err := histories.Resolve(dir)
	if err != nil {
		return err
	}
	h, err := histories.ReadFile(file)
	if err != nil {
		return err
	}
	opts := suite.Options{Model: f.model, Workload: f.workload, ConsistencyModel: f.consistency, Timeout: f.timeout}
	if f.initial != "" {
		opts.Initial, opts.HasInitial = suite.ParseValue(f.initial), true
	}

	resultsPath := filepath.Join(dir, "results.json")
	var res checker.Results
	var lin *checker.Linearization
	b, err := os.ReadFile(resultsPath)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s: %w (rerun 'faultline check --out %s' to rewrite it)", resultsPath, err, dir)
		}
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(stderr, "%s has no results.json: checking %s first…\n", dir, file)
		o, err := suite.Check(h, file, opts)
		if err != nil {
			return err
		}
		res, lin = o.Results, o.Linearization
		out, err := res.MarshalIndent()
		if err != nil {
			return err
		}
		if err := os.WriteFile(resultsPath, append(out, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", resultsPath)
	default:
		return err
	}

	// porcupine's visualization of each failing key: from this check, or,
	// when results.json came without the pages, by checking that key's
	// model again (the model is in the details).
	if lin == nil {
		if model, missing := missingVisualizations(dir, res); missing {
			fmt.Fprintf(stderr, "checking %s again (%s) to draw porcupine's visualization of the failing keys…\n", file, model)
			o, err := suite.Check(h, file, suite.Options{Model: model, Initial: opts.Initial, HasInitial: opts.HasInitial, Timeout: f.timeout})
			if err != nil {
				fmt.Fprintf(stderr, "faultline: no visualization: %v\n", err)
			} else {
				lin = o.Linearization
			}
		}
	}
	extra := reports.Extras{Title: f.title}
	if keys := lin.Keys(); len(keys) > 0 {
		annotations := checker.NemesisAnnotations(h)
		extra.Visualizations = map[string][]byte{}
		for _, k := range keys {
			var buf bytes.Buffer
			if err := lin.WriteVisualization(&buf, k, annotations); err != nil {
				return err
			}
			extra.Visualizations[k] = buf.Bytes()
		}
	}
	if err := reports.Write(dir, h, res, extra); err != nil {
		return err
	}
	fmt.Fprint(stdout, reports.Summary(res))
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(dir, reports.HTMLFile), filepath.Join(dir, reports.JUnitFile))
	return nil
}

// missingVisualizations says whether a linearizability checker in res
// failed on keys whose visualization file is not in dir, and with which
// model it checked.
func missingVisualizations(dir string, res checker.Results) (string, bool) {
	for _, r := range res.Checkers {
		if r.Valid != checker.Invalid || r.Details == nil {
			continue
		}
		b, err := json.Marshal(r.Details)
		if err != nil {
			continue
		}
		var d checker.LinearizableDetails
		if json.Unmarshal(b, &d) != nil || d.Model == "" {
			continue
		}
		for _, kf := range d.Failures {
			if !exists(dir, checker.VisualizationFile(kf.Key)) && !exists(dir, checker.LegacyVisualizationFile(kf.Key)) {
				return d.Model, true
			}
		}
	}
	return "", false
}

// exists says whether the file at rel (a slash path) is in dir.
func exists(dir, rel string) bool {
	_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil
}

// linModelNames are the linearizability models' names.
func linModelNames() []string {
	var names []string
	for _, m := range checker.Models() {
		names = append(names, m.Name)
	}
	return names
}

package main

// What CI reads of a run must be true (issue 15): one prefix on errors,
// an interrupted run never a pass, counts that agree everywhere, heal's
// report. None of these needs root.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/reports"
)

// Every error carries one prefix, the command that failed: never the
// command's name again after it ("faultline cluster up: cluster up: …").
func TestErrorMessagesOnePrefix(t *testing.T) {
	dir := t.TempDir()
	// A store whose cluster record is unreadable: every command that
	// reads it fails the same way, without a cluster or root.
	if err := os.MkdirAll(filepath.Join(dir, "bad", "cluster"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad", "cluster", controller.ClusterFile), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "up", "--target", "memory", "--store", "s"}, "faultline cluster up: target memory runs inside faultline"},
		{[]string{"cluster", "down", "--store", "bad"}, "faultline cluster down: bad/cluster/cluster.json: "},
		{[]string{"cluster", "status", "--store", "bad"}, "faultline cluster status: bad/cluster/cluster.json: "},
		{[]string{"nemesis", "status", "--store", "bad"}, "faultline nemesis status: bad/cluster/cluster.json: "},
		{[]string{"nemesis", "heal", "--store", "bad"}, "faultline nemesis heal: bad/cluster/cluster.json: "},
		{[]string{"nemesis", "kill", "--store", "bad"}, "faultline nemesis kill: bad/cluster/cluster.json: "},
		{[]string{"list", "bogus"}, `faultline list: unknown section "bogus" (its sections: targets, `},
		{[]string{"list", "targts"}, `faultline list: unknown section "targts"; did you mean targets?`},
		{[]string{"list", "nemeis"}, `faultline list: unknown section "nemeis"; did you mean nemeses?`},
		{[]string{"run", "--target", "memory", "--nemesis", "pause:nodes=n9", "--store", "s"}, "faultline run: bad plan: nemesis: target memory runs inside faultline"},
	} {
		code, _, errOut := faultline(t, dir, c.args...)
		if code != 3 || !strings.HasPrefix(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 3 and a message starting with %q", c.args, code, errOut, c.want)
		}
		// The words of the command path, once.
		head, rest, _ := strings.Cut(errOut, ": ")
		for _, w := range strings.Fields(head)[1:] {
			if strings.HasPrefix(rest, w+":") || strings.HasPrefix(rest, w+" ") {
				t.Errorf("%v: the command is named twice: %q", c.args, errOut)
			}
		}
		if n := strings.Count(errOut, "faultline ") - strings.Count(errOut, "'faultline "); n != 1 {
			t.Errorf("%v: more than one prefix: %q", c.args, errOut)
		}
	}
	// A plan refused for its faults is refused before anything is stored.
	if _, err := os.Stat(filepath.Join(dir, "s")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused plan left a store behind: %v", err)
	}
}

// `faultline heal` says "nothing to heal" once, and only when nothing at
// all was healed or removed, whatever the number of backends.
func TestHealSaysNothingOnce(t *testing.T) {
	sweep := func(removed ...string) func(context.Context, control.SweepOptions) (control.SweepReport, error) {
		return func(context.Context, control.SweepOptions) (control.SweepReport, error) {
			return control.SweepReport{Removed: removed}, nil
		}
	}
	for _, c := range []struct {
		name     string
		rep      nemesis.Report
		backends []control.Backend
		nothing  int
	}{
		{"nothing anywhere", nemesis.Report{}, []control.Backend{{Name: "a", Sweep: sweep()}, {Name: "b"}, {Name: "c", Sweep: sweep()}}, 1},
		{"the first backend removed something", nemesis.Report{}, []control.Backend{{Name: "a", Sweep: sweep("removed netns fl-x-n1")}, {Name: "b", Sweep: sweep()}}, 0},
		{"the last backend removed something", nemesis.Report{}, []control.Backend{{Name: "a", Sweep: sweep()}, {Name: "b", Sweep: sweep("removed container fl-x-n1")}}, 0},
		{"a journal healed", nemesis.Report{Undone: []string{"n1: emptied FAULTLINE-PARTITION"}}, []control.Backend{{Name: "a", Sweep: sweep()}, {Name: "b", Sweep: sweep()}}, 0},
		{"no backend sweeps", nemesis.Report{}, nil, 1},
	} {
		var out bytes.Buffer
		if err := healAll(context.Background(), &out, c.rep, nil, c.backends); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if n := strings.Count(out.String(), "nothing to heal"); n != c.nothing {
			t.Errorf("%s: %q says nothing to heal %d times, want %d", c.name, out.String(), n, c.nothing)
		}
	}
	var out bytes.Buffer
	err := healAll(context.Background(), &out, nemesis.Report{}, errors.New("store unreadable"), nil)
	if err == nil || strings.HasPrefix(err.Error(), "heal:") {
		t.Errorf("heal's error %v: want it, without its own prefix", err)
	}
}

// startRun starts faultline with args in dir, its output kept.
func startRun(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stdout, &stderr
}

// awaitHistory waits until the one run in dir's store has a history that
// ok accepts, failing with what after limit.
func awaitHistory(t *testing.T, dir string, limit time.Duration, stderr *bytes.Buffer, what string, ok func(h []byte) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "history.jsonl")); len(m) == 1 {
			if h, err := os.ReadFile(m[0]); err == nil && ok(h) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s:\n%s", what, limit, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// interruptRun sends the run SIGINT and wants it to exit 3 within limit.
func interruptRun(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer, limit time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		t.Fatalf("still running %s after SIGINT:\n%s", limit, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v after SIGINT, want 3\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
}

// Ctrl-C through the CLI: the run stops, exits 3, and says so everywhere
// CI reads: results.json unknown and interrupted, junit.xml with an error
// test case, the serve index; the history up to then is kept and checked.
func TestRunCtrlC(t *testing.T) {
	dir := t.TempDir()
	cmd, stdout, stderr := startRun(t, dir, "run", "--target", "memory", "--time-limit", "30s", "--store", "store")
	awaitHistory(t, dir, 20*time.Second, stderr, "no history", func(h []byte) bool { return len(h) > 0 })
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	interruptRun(t, cmd, stdout, stderr, 30*time.Second)
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("the run took %s to stop after SIGINT", d)
	}
	if !strings.Contains(stderr.String(), "faultline run: interrupted") {
		t.Errorf("stderr does not say the run was interrupted:\n%s", stderr.String())
	}
	run, err := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Valid    checker.Validity                  `json:"valid"`
		Checkers map[string]struct{ Valid string } `json:"checkers"`
		Run      controller.RunInfo                `json:"run"`
	}
	b, err := os.ReadFile(filepath.Join(run, "results.json"))
	if err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	if res.Valid != checker.Unknown || res.Checkers["run"].Valid != "unknown" || !res.Run.Interrupted {
		t.Errorf("results.json of an interrupted run: valid %s, run checker %q, interrupted %v", res.Valid, res.Checkers["run"].Valid, res.Run.Interrupted)
	}
	// What was recorded was checked, and kept.
	if res.Checkers["linearizable"].Valid != "true" || res.Run.Ops == 0 {
		t.Errorf("the history up to the interrupt was not checked: linearizable %q, %d ops", res.Checkers["linearizable"].Valid, res.Run.Ops)
	}
	if s := res.Run.DurationSeconds; s < 1.5 || s > 15 {
		t.Errorf("the workload ran %gs, want about 2 s (stopped by the interrupt)", s)
	}
	h, err := histories.ReadFile(filepath.Join(run, "history.jsonl"))
	if err != nil || int64(len(h)) != res.Run.HistoryEvents {
		t.Errorf("history.jsonl: %d events (%v), results.json says %d", len(h), err, res.Run.HistoryEvents)
	}
	if code, out, errOut := faultline(t, dir, "check", filepath.Join(run, "history.jsonl")); code != 0 {
		t.Errorf("check of the interrupted run's history: exit %d\n%s%s", code, out, errOut)
	}
	j, err := os.ReadFile(filepath.Join(run, reports.JUnitFile))
	if err != nil || !regexp.MustCompile(`<testcase name="run"[^>]*>\s*<error`).Match(j) {
		t.Errorf("junit.xml of an interrupted run has no error test case for the run (%v):\n%s", err, j)
	}
	rec := httptest.NewRecorder()
	reports.Handler(filepath.Join(dir, "store")).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(rec.Body.String(), "unknown (interrupted)") {
		t.Errorf("the serve index does not say the run was interrupted:\n%s", rec.Body.String())
	}
}

// The counts of one run agree everywhere: the run's text summary, its
// check line, results.json, the serve index, and `faultline check` of its
// history; and the throughput in the text is results.json's.
func TestRunCountsAgree(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--target", "memory", "--time-limit", "2s", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	counts := regexp.MustCompile(`(\d+) ops \((\d+) history events\)`)
	type pair struct{ ops, events string }
	find := func(what, s string, n int) []pair {
		t.Helper()
		var ps []pair
		for _, m := range counts.FindAllStringSubmatch(s, -1) {
			ps = append(ps, pair{m[1], m[2]})
		}
		if len(ps) < n {
			t.Fatalf("%s: %d counts, want %d:\n%s", what, len(ps), n, s)
		}
		return ps
	}
	// The check line, then the run line.
	text := find("run output", out, 2)
	var res struct {
		Run controller.RunInfo `json:"run"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "store", "latest", "results.json"))
	if err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	js := pair{strconv.FormatInt(res.Run.Ops, 10), strconv.FormatInt(res.Run.HistoryEvents, 10)}
	_, cout, _ := faultline(t, dir, "check", filepath.Join("store", "latest", "history.jsonl"))
	check := find("check output", cout, 1)
	if res.Run.Ops == 0 || text[0] != js || text[1] != js || check[0] != js {
		t.Errorf("counts disagree: check line %v, run line %v, results.json %v, faultline check %v", text[0], text[1], js, check[0])
	}
	rec := httptest.NewRecorder()
	reports.Handler(filepath.Join(dir, "store")).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !strings.Contains(rec.Body.String(), "<td>"+js.ops+"</td>") {
		t.Errorf("the serve index does not show %s ops:\n%s", js.ops, rec.Body.String())
	}
	m := regexp.MustCompile(`, (\d+) ops/s;`).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.FormatFloat(res.Run.OpsPerSecond, 'f', 0, 64) {
		t.Errorf("the text's throughput %v is not results.json's ops_per_second %g:\n%s", m, res.Run.OpsPerSecond, out)
	}
}

// The run line's throughput is the workload's, as results.json gives it,
// not every op over the workload's time: a final phase's ops are counted
// but take no part in it.
func TestRunSummaryThroughput(t *testing.T) {
	res := &controller.Result{Ops: 300, Duration: 2 * time.Second, OpsPerSecond: 100}
	res.Outcome.Counts = histories.Counts{Ops: 300, Events: 600}
	s := runSummary(res)
	if !strings.Contains(s, "300 ops (600 history events) in 2s, 100 ops/s;") {
		t.Errorf("run summary %q, want 300 ops and 100 ops/s", s)
	}
}

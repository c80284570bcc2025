package controller

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/targets/memory"
	"github.com/faultline-dev/faultline/workloads"
	_ "github.com/faultline-dev/faultline/workloads/register"
)

// brokenSystem cannot be set up.
type brokenSystem struct{ *memory.System }

func (brokenSystem) Start(ctx context.Context) error { return errors.New("broken on purpose") }

func init() {
	RegisterTarget(TargetSpec{Name: "memory-broken", Client: (*memory.Client)(nil), DefaultNodes: 3, InProcess: func(cfg SystemConfig) (System, error) {
		return brokenSystem{memory.New(cfg.Plan.Nodes.Names())}, nil
	}})
	// A deliberately broken target: nodes serve stale reads.
	RegisterTarget(TargetSpec{Name: "memory-stale", Client: (*memory.Client)(nil), DefaultNodes: 5, InProcess: func(cfg SystemConfig) (System, error) {
		s := memory.New(cfg.Plan.Nodes.Names())
		s.StaleReads = true
		s.Latency = time.Millisecond
		return s, nil
	}})
	// Targets that fail after the store directory exists: no system at
	// all, and one whose history cannot be created (a directory is in
	// its place once the cluster is up).
	RegisterTarget(TargetSpec{Name: "memory-nosystem", Client: (*memory.Client)(nil), DefaultNodes: 3, InProcess: func(cfg SystemConfig) (System, error) {
		return nil, errors.New("no system on purpose")
	}})
	RegisterTarget(TargetSpec{Name: "memory-nohistory", Client: (*memory.Client)(nil), DefaultNodes: 3, InProcess: func(cfg SystemConfig) (System, error) {
		return noHistorySystem{memory.New(cfg.Plan.Nodes.Names()), cfg.Dir}, nil
	}})
}

// noHistorySystem starts, then puts a directory where the run's history
// goes.
type noHistorySystem struct {
	*memory.System
	dir string
}

func (s noHistorySystem) Start(ctx context.Context) error {
	if err := s.System.Start(ctx); err != nil {
		return err
	}
	return os.Mkdir(filepath.Join(s.dir, "history.jsonl"), 0o755)
}

func memoryPlan(t *testing.T, target string) Plan {
	p := DefaultPlan()
	p.Target = target
	p.Name = "mem"
	p.Store = t.TempDir()
	p.TimeLimit = Duration(1500 * time.Millisecond)
	p.Concurrency = 6
	p.Seed = 3
	return p
}

// TestRunMemory runs the whole controller against the in-process target and
// checks the store it leaves.
func TestRunMemory(t *testing.T) {
	p := memoryPlan(t, "memory")
	res, err := Run(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results.Valid != checker.Valid {
		t.Fatalf("verdict %s: %+v", res.Results.Valid, res.Results.Checkers)
	}
	if res.Ops < 100 {
		t.Fatalf("only %d ops recorded", res.Ops)
	}
	for _, f := range []string{"plan.json", "history.jsonl", "results.json", "faultline.log", "nodes/n1/memory.log", "nodes/n5/memory.log"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("store lacks %s: %v", f, err)
		}
	}
	latest, err := filepath.EvalSymlinks(filepath.Join(p.Store, "latest"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(res.Dir); latest != want {
		t.Fatalf("latest -> %s, want %s", latest, want)
	}
	// Checking the stored history again gives the same verdict.
	h, err := histories.ReadFile(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(h)) != res.Events {
		t.Fatalf("history has %d events, run says %d", len(h), res.Events)
	}
	// The ops counted agree everywhere: the run, the stats checker (every
	// op of a run that ended completed) and results.json's run section,
	// which serve's index shows.
	statOps := 0
	for _, c := range res.Results.Checkers["stats"].Details.(map[string]checker.StatCounts) {
		statOps += c.OK + c.Fail + c.Info
	}
	b, _ := os.ReadFile(filepath.Join(res.Dir, "results.json"))
	var rj struct {
		Run RunInfo `json:"run"`
	}
	if err := json.Unmarshal(b, &rj); err != nil {
		t.Fatal(err)
	}
	if int64(statOps) != res.Ops || rj.Run.Ops != res.Ops || rj.Run.HistoryEvents != res.Events || res.Events != 2*res.Ops {
		t.Fatalf("counts disagree: run %d ops, %d events; stats %d ops; results.json %+v", res.Ops, res.Events, statOps, rj.Run)
	}
	out, err := suite.Check(h, "", suite.Options{Model: "cas-register"})
	if err != nil || out.Results.Valid != res.Results.Valid {
		t.Fatalf("recheck: %v %v", out.Results.Valid, err)
	}
	// The run checked retired keys while it went on; the result is the
	// offline check's, to the word.
	if got, want := res.Results.Checkers["linearizable"].Summary, out.Results.Checkers["linearizable"].Summary; got != want {
		t.Errorf("the run's linearizability summary %q differs from an offline check's %q", got, want)
	}
	log, _ := os.ReadFile(filepath.Join(res.Dir, "faultline.log"))
	if !strings.Contains(string(log), "keys found linearizable during the run") {
		t.Errorf("no key was checked online during the run (faultline.log):\n%s", log)
	}
}

// A workload the target's client cannot run is refused before anything is
// set up or stored, for every registered target: etcd and memory have no
// transactions, postgres no registers.
func TestRunRefusesUnsupportedWorkload(t *testing.T) {
	for _, c := range []struct{ target, workload, want string }{
		{"memory", "append", "no transactions"},
		{"etcd", "rw-register", "no transactions"},
		{"postgres", "register", "no register operations"},
	} {
		p := memoryPlan(t, c.target)
		p.Workload = c.workload
		_, err := Run(context.Background(), p, Options{})
		if err == nil || !strings.Contains(err.Error(), "does not run on target "+c.target) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s on %s: %v, want an error saying the workload does not run there (%s)", c.workload, c.target, err, c.want)
		}
		if ents, _ := os.ReadDir(p.Store); len(ents) > 0 {
			t.Errorf("%s on %s: the store was written to: %v", c.workload, c.target, ents)
		}
	}
	// And what does run is let through: the prototypes are right.
	for target, wls := range map[string][]string{
		"etcd": {"register"}, "memory": {"register"}, "postgres": {"append", "rw-register"},
	} {
		for _, name := range wls {
			wl, err := workloads.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := supports(wl, target); err != nil {
				t.Errorf("%s on %s refused: %v", name, target, err)
			}
		}
	}
}

func TestRunFindsStaleReads(t *testing.T) {
	p := memoryPlan(t, "memory-stale")
	res, err := Run(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results.Valid != checker.Invalid {
		t.Fatalf("stale reads not found: %s %+v", res.Results.Valid, res.Results.Checkers["linearizable"].Summary)
	}
}

func TestRunInterrupted(t *testing.T) {
	p := memoryPlan(t, "memory")
	p.TimeLimit = Duration(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || time.Since(start) > 20*time.Second {
		t.Fatalf("interrupted=%v after %s", res.Interrupted, time.Since(start))
	}
	if res.Results.Checkers["linearizable"].Valid != checker.Valid || res.Ops == 0 {
		t.Fatalf("what was recorded must still be checked: %s, %d ops", res.Results.Checkers["linearizable"].Valid, res.Ops)
	}
	// Never a pass anywhere: the verdict, results.json and junit.xml.
	if res.Results.Valid != checker.Unknown || res.Results.Checkers["run"].Valid != checker.Unknown {
		t.Errorf("an interrupted run's verdict is %s (run: %+v), want unknown", res.Results.Valid, res.Results.Checkers["run"])
	}
	b, _ := os.ReadFile(filepath.Join(res.Dir, "results.json"))
	if !strings.Contains(string(b), `"valid": "unknown"`) || !strings.Contains(string(b), `"interrupted": true`) {
		t.Errorf("results.json of an interrupted run:\n%.400s", b)
	}
	j, _ := os.ReadFile(filepath.Join(res.Dir, "junit.xml"))
	if !strings.Contains(string(j), `<testcase name="run"`) || !strings.Contains(string(j), "<error") {
		t.Errorf("junit.xml of an interrupted run has no error test case:\n%s", j)
	}
}

// A run whose cluster cannot be set up writes an unknown verdict and a
// junit.xml with an error, and store/latest stays where it was.
func TestRunSetupFails(t *testing.T) {
	good := memoryPlan(t, "memory")
	gres, err := Run(context.Background(), good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := memoryPlan(t, "memory-broken")
	p.Store, p.Name = good.Store, "broken"
	if _, err := Run(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), "cluster setup: broken on purpose") {
		t.Fatalf("Run = %v, want the setup error", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(p.Store, p.Name, "*"))
	if len(dirs) != 1 {
		t.Fatalf("run dirs %v", dirs)
	}
	b, _ := os.ReadFile(filepath.Join(dirs[0], "results.json"))
	if !strings.Contains(string(b), `"valid": "unknown"`) || !strings.Contains(string(b), "broken on purpose") {
		t.Errorf("results.json of a failed setup:\n%s", b)
	}
	j, _ := os.ReadFile(filepath.Join(dirs[0], "junit.xml"))
	if !strings.Contains(string(j), `<testcase name="setup"`) || !strings.Contains(string(j), "<error") {
		t.Errorf("junit.xml of a failed setup:\n%s", j)
	}
	latest, _ := filepath.EvalSymlinks(filepath.Join(p.Store, "latest"))
	if want, _ := filepath.EvalSymlinks(gres.Dir); latest != want {
		t.Errorf("store/latest -> %s after a failed setup, want the last run that started, %s", latest, want)
	}
}

func TestSameSeedSameOps(t *testing.T) {
	gen := func() []string {
		p := memoryPlan(t, "memory")
		p.Concurrency = 1
		p.TimeLimit = Duration(time.Second)
		res, err := Run(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := histories.ReadFile(res.Dir)
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, op := range h {
			if op.Type == histories.Invoke {
				ops = append(ops, op.F+" "+op.Key+" "+histories.FormatValue(op.Value))
			}
		}
		return ops
	}
	a, b := gen(), gen()
	n := min(len(a), len(b))
	if n < 20 {
		t.Fatalf("too few ops: %d %d", len(a), len(b))
	}
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			t.Fatalf("op %d differs: %q vs %q", i, a[i], b[i])
		}
	}
}

// A run that fails once its store directory exists, at any step before the
// workload starts, leaves an unknown verdict and a junit.xml with an error
// there, and store/latest stays at the last run that started.
func TestRunThatNeverStartedLeavesResults(t *testing.T) {
	good := memoryPlan(t, "memory")
	gres, err := Run(context.Background(), good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ target, want string }{
		{"memory-nosystem", "no system on purpose"},
		{"memory-nohistory", "create history"},
	} {
		p := memoryPlan(t, c.target)
		p.Store, p.Name = good.Store, c.target
		if _, err := Run(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Run = %v, want %q", c.target, err, c.want)
			continue
		}
		dirs, _ := filepath.Glob(filepath.Join(p.Store, p.Name, "*"))
		if len(dirs) != 1 {
			t.Fatalf("%s: run dirs %v", c.target, dirs)
		}
		b, err := os.ReadFile(filepath.Join(dirs[0], "results.json"))
		if err != nil || !strings.Contains(string(b), `"valid": "unknown"`) || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: results.json (%v):\n%s", c.target, err, b)
		}
		j, err := os.ReadFile(filepath.Join(dirs[0], "junit.xml"))
		if err != nil || !strings.Contains(string(j), `<testcase name="setup"`) || !strings.Contains(string(j), "<error") {
			t.Errorf("%s: junit.xml has no error test case (%v):\n%s", c.target, err, j)
		}
		latest, _ := filepath.EvalSymlinks(filepath.Join(p.Store, "latest"))
		if want, _ := filepath.EvalSymlinks(gres.Dir); latest != want {
			t.Errorf("%s: store/latest -> %s, want the last run that started, %s", c.target, latest, want)
		}
	}
}

// Faults the run could only refuse once the cluster is up are refused
// with the plan, naming the field and the node, before anything is set up
// or stored: faults for a target with no hosts, nodes the plan does not
// have, container faults on nodes that are not containers.
func TestRunRefusesFaultsBeforeSetup(t *testing.T) {
	// Through Run, where nothing needs root: the store stays empty.
	p := memoryPlan(t, "memory")
	p.Nemesis = FaultList{"pause:nodes=n9"}
	if _, err := Run(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), "bad plan: nemesis: target memory runs inside faultline") {
		t.Errorf("memory with faults: Run = %v", err)
	}
	if ents, _ := os.ReadDir(p.Store); len(ents) > 0 {
		t.Errorf("a plan refused for its faults wrote to the store: %v", ents)
	}
	// The plans of targets with nodes, as Run validates them.
	for _, c := range []struct {
		nodes   Nodes
		nemesis FaultList
		want    string
	}{
		{nil, FaultList{"partition", "pause:nodes=n9"}, `nemesis: fault "pause:nodes=n9" names node "n9", and the plan's nodes are n1, n2, n3, n4, n5`},
		{NodeNames(3), FaultList{"kill:nodes=n2+n4"}, `names node "n4", and the plan's nodes are n1, n2, n3`},
		{nil, FaultList{"unplug"}, "nemesis: unplug needs nodes that are containers (--control docker), and these are local nodes"},
	} {
		p := memoryPlan(t, "etcd")
		p.Nodes, p.Nemesis = c.nodes, c.nemesis
		if _, err := p.Resolve(); err != nil {
			t.Fatal(err)
		}
		err := p.Validate(TargetNames(), workloads.Names(), nemesis.Names())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.nemesis, err, c.want)
		}
	}
	ok := memoryPlan(t, "etcd")
	ok.Nemesis = FaultList{"pause:nodes=n1+n5", "kill:one"}
	if _, err := ok.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := ok.Validate(TargetNames(), workloads.Names(), nemesis.Names()); err != nil {
		t.Errorf("nodes the plan has: %v", err)
	}
	// A backend that finds its nodes (docker's attach mode) is not held
	// to the plan's names.
	attach := memoryPlan(t, "etcd")
	attach.Control, attach.ControlOptions, attach.Nemesis = "test-attach", map[string]string{"project": "p"}, FaultList{"pause:nodes=web"}
	if _, err := attach.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := attach.Validate(TargetNames(), workloads.Names(), nemesis.Names()); err != nil {
		t.Errorf("a backend that finds its nodes: %v", err)
	}
}

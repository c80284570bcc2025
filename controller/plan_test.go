package controller

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadPlan(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "plan.yaml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := LoadPlan(write("name: t1\nnodes: 3\ntime-limit: 5s\nconcurrency: 4\nseed: 9\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "t1" || len(p.Nodes) != 3 || p.Nodes[2].Name != "n3" || time.Duration(p.TimeLimit) != 5*time.Second || p.Seed != 9 || p.Target != "etcd" {
		t.Fatalf("plan %+v", p)
	}
	p, err = LoadPlan(write("nodes: [a, b]\n"))
	if err != nil || len(p.Nodes) != 2 || p.Nodes[1].Name != "b" {
		t.Fatalf("%v %+v", err, p.Nodes)
	}
	// nemesis: a list, or one string as --nemesis takes it, with
	// parameters; a bad one is refused naming the fault and parameter.
	for _, y := range []string{"nemesis: partition:halves, kill:one\n", "nemesis: [partition:halves, kill:one]\n"} {
		p, err = LoadPlan(write(y))
		if err != nil || strings.Join(p.Nemesis, ",") != "partition:halves,kill:one" {
			t.Fatalf("%q: %v %q", y, err, p.Nemesis)
		}
	}
	if p, err = LoadPlan(write("nemesis: partition:halfs\n")); err == nil {
		err = p.Validate([]string{"etcd"}, []string{"register"}, []string{"partition"})
	}
	if err == nil || !strings.Contains(err.Error(), `nemesis: fault "partition:halfs", parameter "halfs"`) {
		t.Fatalf("bad parameter: %v", err)
	}
	if p, err = LoadPlan(write("")); err != nil || p.Target != DefaultPlan().Target {
		t.Fatalf("empty plan: %v", err)
	}

	bad := []struct{ yaml, want string }{
		{"name: x\ntimelimit: 5s\n", "line 2: field timelimit not found"},
		{"time-limit: soon\n", `"soon" is not a duration`},
		{"nodes: 0\n", "nodes: 0: need at least one node"},
		{"concurrency: [1\n", "plan.yaml"},
	}
	for _, b := range bad {
		_, err := LoadPlan(write(b.yaml))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: got %v, want %q", b.yaml, err, b.want)
		}
	}
}

func TestValidate(t *testing.T) {
	targets, wls := []string{"etcd"}, []string{"register"}
	cases := []struct {
		edit func(*Plan)
		want string
	}{
		{func(p *Plan) { p.Target = "etdc" }, `target: unknown target "etdc" (known: etcd)`},
		{func(p *Plan) { p.Nodes = nil }, "nodes: need at least one node"},
		{func(p *Plan) { p.Nodes = Nodes{{Name: "n1"}, {Name: "n1"}} }, `nodes: "n1" appears twice`},
		{func(p *Plan) { p.Concurrency = 0 }, "concurrency: 0"},
		{func(p *Plan) { p.Workload = "bank" }, `workload: unknown workload "bank"`},
		{func(p *Plan) { p.TimeLimit = 0 }, "time-limit"},
		{func(p *Plan) { p.Name = "a/b" }, "name:"},
		{func(p *Plan) { p.Nemesis = []string{"meteor"} }, `nemesis: unknown fault "meteor"`},
	}
	for _, c := range cases {
		p := DefaultPlan()
		p.Nodes = NodeNames(5)
		p.DefaultName()
		c.edit(&p)
		err := p.Validate(targets, wls, []string{"partition"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	p := DefaultPlan()
	p.Nodes = NodeNames(5)
	p.DefaultName()
	if err := p.Validate(targets, wls, nil); err != nil {
		t.Fatalf("default plan: %v", err)
	}
}

// Resolve fills in the target's nodes and options, takes the shorthands,
// and refuses options the target or backend does not have, naming them.
func TestResolve(t *testing.T) {
	p := DefaultPlan()
	p.ReadConsistency = "serializable"
	vals, err := p.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Nodes) != 5 || p.Nodes[4].Name != "n5" || vals.Get("read-consistency") != "serializable" || vals.Get("client-port") != "2379" {
		t.Errorf("resolved: nodes %v, options %v", p.Nodes, vals)
	}
	p = DefaultPlan()
	p.Target = "postgres"
	if _, err := p.Resolve(); err != nil || len(p.Nodes) != 1 {
		t.Errorf("postgres: %v nodes, %v; want its one server node", len(p.Nodes), err)
	}
	for _, c := range []struct {
		edit func(*Plan)
		want string
	}{
		{func(p *Plan) { p.Isolation = "serializable" }, "isolation: target etcd has no such option"},
		{func(p *Plan) { p.TargetOptions = map[string]string{"read-consistancy": "x"} }, `target etcd has no option "read-consistancy" (its options: read-consistency`},
		{func(p *Plan) { p.TargetOptions = map[string]string{"read-consistency": "strong"} }, `read-consistency="strong": want one of linearizable, serializable`},
		{func(p *Plan) { p.Control = "ssh" }, "the ssh backend needs the nodes named"},
		{func(p *Plan) { p.ControlOptions = map[string]string{"key": "k"} }, `control backend local has no option "key"`},
		{func(p *Plan) { p.Control = "carrier-pigeon" }, `unknown control backend "carrier-pigeon"`},
	} {
		p := DefaultPlan()
		c.edit(&p)
		if _, err := p.Resolve(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// A nodes file is Jepsen's: one host[:port] a line, comments and blank
// lines skipped; a bad line is named.
func TestReadNodesFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "nodes")
	os.WriteFile(f, []byte("# staging\n10.0.0.1\n\n10.0.0.2:2222  # jump\ndb3.example.com\n"), 0o644)
	ns, err := ReadNodesFile(f)
	if err != nil {
		t.Fatal(err)
	}
	want := Nodes{{Name: "10.0.0.1"}, {Name: "10.0.0.2", Host: "10.0.0.2", Port: 2222}, {Name: "db3.example.com"}}
	if len(ns) != 3 || ns[0] != want[0] || ns[1] != want[1] || ns[2] != want[2] {
		t.Errorf("read %+v, want %+v", ns, want)
	}
	os.WriteFile(f, []byte("10.0.0.1\n10.0.0.2 10.0.0.3\n"), 0o644)
	if _, err := ReadNodesFile(f); err == nil || !strings.Contains(err.Error(), f+":2:") {
		t.Errorf("bad line: %v, want it named %s:2", err, f)
	}
	// In a plan: relative to the plan, and the nodes come out in plan.json
	// as given.
	os.WriteFile(f, []byte("10.0.0.1\n10.0.0.2:2222\n"), 0o644)
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("control: ssh\nnodes-file: nodes\ncontrol-options:\n  user: admin\n"), 0o644)
	p, err := LoadPlan(plan)
	if err != nil || len(p.Nodes) != 2 || p.Nodes[1].Port != 2222 || p.ControlOptions["user"] != "admin" {
		t.Fatalf("plan with a nodes file: %+v, %v", p, err)
	}
	b, err := json.Marshal(p.Nodes)
	if err != nil || string(b) != `["10.0.0.1",{"name":"10.0.0.2","host":"10.0.0.2","port":2222}]` {
		t.Errorf("nodes as JSON: %s, %v", b, err)
	}
	var back Nodes
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[1] != p.Nodes[1] {
		t.Errorf("nodes back from JSON: %+v, %v", back, err)
	}
	// Node maps in YAML, with typos refused.
	os.WriteFile(plan, []byte("control: ssh\nnodes:\n  - {name: a, host: 10.0.0.5, user: ops, addr: 192.168.1.5}\n  - host: 10.0.0.6\n"), 0o644)
	if p, err := LoadPlan(plan); err != nil || p.Nodes[0].Addr != "192.168.1.5" || p.Nodes[1].Name != "10.0.0.6" {
		t.Errorf("node maps: %+v, %v", p.Nodes, err)
	}
	os.WriteFile(plan, []byte("nodes:\n  - {name: a, hots: x}\n"), 0o644)
	if _, err := LoadPlan(plan); err == nil || !strings.Contains(err.Error(), "hots") {
		t.Errorf("a typo in a node map: %v", err)
	}
}

// plan.json is a plan -c reads as it is: the same fields, the same
// values; durations need a unit in YAML as on the command line; errors
// name the field, not a Go type.
func TestPlanJSONReruns(t *testing.T) {
	p := DefaultPlan()
	p.Name, p.Nodes, p.Seed, p.Nemesis = "again", NodeNames(3), 7, []string{"partition:halves", "kill", "packet:loss=0.2:nodes=n1+n2"}
	p.TargetOptions = map[string]string{"read-consistency": "serializable"}
	p.ControlOptions = map[string]string{}
	p.NemesisOverlap = true
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	if err := writeJSON(path, p); err != nil {
		t.Fatal(err)
	}
	back, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(back)
	if string(a) != string(b) {
		t.Errorf("plan.json read back differs:\n%s\n%s", a, b)
	}
	for _, c := range []struct{ yaml, want string }{
		{"time-limit: 30\n", "line 1: 30 has no unit: give one, e.g. 30s or 30ms"},
		{"concurrency: lots\n", "line 1: concurrency: cannot read the string `lots` into a whole number"},
	} {
		os.WriteFile(path, []byte(c.yaml), 0o644)
		if _, err := LoadPlan(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
	}
}

// A schedule with no room for every fault asked for says so before the
// run, with a way out; one with room says nothing.
func TestPlanWarnsWhenFaultsDoNotFit(t *testing.T) {
	p := DefaultPlan()
	p.Nemesis = []string{"kill", "pause"}
	p.NemesisInterval = Duration(10 * time.Second)
	p.TimeLimit = Duration(30 * time.Second)
	w := p.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "room for 1 of the 2 faults") || !strings.Contains(w[0], "lower --nemesis-interval to 7s") || !strings.Contains(w[0], "raise --time-limit to 31s") {
		t.Fatalf("warnings %q", w)
	}
	p.TimeLimit = Duration(31 * time.Second) // injections at 10s and 30s
	if w := p.Warnings(); len(w) != 0 {
		t.Fatalf("31s fits kill and pause: %q", w)
	}
	p.TimeLimit = Duration(30 * time.Second)
	p.NemesisOverlap = true // each fault its own timeline
	if w := p.Warnings(); len(w) != 0 {
		t.Fatalf("overlapping timelines fit: %q", w)
	}
	p.Nemesis = nil
	if w := p.Warnings(); len(w) != 0 {
		t.Fatalf("no faults: %q", w)
	}
}

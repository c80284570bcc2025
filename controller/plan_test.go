package controller

import (
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
	if p.Name != "t1" || len(p.Nodes) != 3 || p.Nodes[2] != "n3" || time.Duration(p.TimeLimit) != 5*time.Second || p.Seed != 9 || p.Target != "etcd" {
		t.Fatalf("plan %+v", p)
	}
	p, err = LoadPlan(write("nodes: [a, b]\n"))
	if err != nil || len(p.Nodes) != 2 || p.Nodes[1] != "b" {
		t.Fatalf("%v %+v", err, p.Nodes)
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
		{func(p *Plan) { p.Nodes = Nodes{"n1", "n1"} }, `nodes: "n1" appears twice`},
		{func(p *Plan) { p.Concurrency = 0 }, "concurrency: 0"},
		{func(p *Plan) { p.Workload = "bank" }, `workload: unknown workload "bank"`},
		{func(p *Plan) { p.ReadConsistency = "strong" }, "read-consistency"},
		{func(p *Plan) { p.TimeLimit = 0 }, "time-limit"},
		{func(p *Plan) { p.Name = "a/b" }, "name:"},
		{func(p *Plan) { p.Nemesis = []string{"meteor"} }, `nemesis: unknown fault "meteor"`},
	}
	for _, c := range cases {
		p := DefaultPlan()
		p.DefaultName()
		c.edit(&p)
		err := p.Validate(targets, wls, []string{"partition"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	p := DefaultPlan()
	p.DefaultName()
	if err := p.Validate(targets, wls, nil); err != nil {
		t.Fatalf("default plan: %v", err)
	}
}

package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Plan is everything needed to run (and rerun) one test. It is written to
// the store as plan.json; a YAML file of the same fields can be given with
// -c, and flags override it.
type Plan struct {
	Name        string   `json:"name" yaml:"name"`
	Target      string   `json:"target" yaml:"target"`
	Workload    string   `json:"workload" yaml:"workload"`
	Nodes       Nodes    `json:"nodes" yaml:"nodes"`
	Concurrency int      `json:"concurrency" yaml:"concurrency"`
	Rate        float64  `json:"rate" yaml:"rate"`
	TimeLimit   Duration `json:"time_limit" yaml:"time-limit"`
	Seed        int64    `json:"seed" yaml:"seed"`
	Store       string   `json:"store" yaml:"store"`
	// OpTimeout bounds each operation; an op that outlives it is info.
	OpTimeout Duration `json:"op_timeout" yaml:"op-timeout"`
	// RecoveryTimeout bounds the final phase's wait for the cluster to
	// answer again.
	RecoveryTimeout Duration `json:"recovery_timeout" yaml:"recovery-timeout"`
	// ReadConsistency is the etcd target's read mode: linearizable or
	// serializable.
	ReadConsistency string `json:"read_consistency" yaml:"read-consistency"`
	// Isolation is the PostgreSQL target's isolation level: serializable,
	// repeatable-read or read-committed. The transactional checkers hold
	// the target to the consistency model that level promises.
	Isolation string `json:"isolation" yaml:"isolation"`
	// Upsert is how the PostgreSQL target writes a key that may have no
	// row yet: update-insert (UPDATE, then INSERT if it changed no row)
	// or on-conflict (INSERT … ON CONFLICT DO UPDATE). See targets/postgres.
	Upsert string `json:"upsert" yaml:"upsert"`
	// Nemesis names the faults to schedule; NemesisInterval how often.
	Nemesis         []string `json:"nemesis" yaml:"nemesis"`
	NemesisInterval Duration `json:"nemesis_interval" yaml:"nemesis-interval"`
}

// DefaultName is a plan's name when it gives none: target-workload.
func (p *Plan) DefaultName() {
	if p.Name == "" {
		p.Name = p.Target + "-" + p.Workload
	}
}

// DefaultPlan is the main job: a 5-node etcd, the register workload, on
// local hosts.
func DefaultPlan() Plan {
	return Plan{
		Name:            "",
		Target:          "etcd",
		Workload:        "register",
		Nodes:           NodeNames(5),
		Concurrency:     10,
		TimeLimit:       Duration(30 * time.Second),
		Seed:            0,
		Store:           "store",
		OpTimeout:       Duration(5 * time.Second),
		RecoveryTimeout: Duration(60 * time.Second),
		ReadConsistency: "linearizable",
		Isolation:       "serializable",
		Upsert:          "update-insert",
		NemesisInterval: Duration(10 * time.Second),
	}
}

// Nodes are node names. In YAML and flags they are either a count ("5":
// n1..n5) or names ("a,b,c" or a list).
type Nodes []string

// NodeNames is n1..nN.
func NodeNames(n int) Nodes {
	ns := make(Nodes, n)
	for i := range ns {
		ns[i] = "n" + strconv.Itoa(i+1)
	}
	return ns
}

var nodeName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,7}$`)

// ParseNodes reads a count or a comma-separated list of names.
func ParseNodes(s string) (Nodes, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return nil, fmt.Errorf("nodes: %d: need at least one node", n)
		}
		if n > 50 {
			return nil, fmt.Errorf("nodes: %d: at most 50 local nodes", n)
		}
		return NodeNames(n), nil
	}
	var ns Nodes
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ns = append(ns, p)
		}
	}
	return ns, nil
}

// UnmarshalYAML accepts a count or a list of names.
func (n *Nodes) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		ns, err := ParseNodes(v.Value)
		if err != nil {
			return err
		}
		*n = ns
		return nil
	}
	var names []string
	if err := v.Decode(&names); err != nil {
		return fmt.Errorf("nodes: want a count or a list of names: %w", err)
	}
	*n = names
	return nil
}

// Duration is a time.Duration written as "30s" in YAML and JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// UnmarshalYAML reads "30s" (a bare number is seconds).
func (d *Duration) UnmarshalYAML(v *yaml.Node) error {
	if n, err := strconv.ParseFloat(v.Value, 64); err == nil {
		*d = Duration(n * float64(time.Second))
		return nil
	}
	t, err := time.ParseDuration(v.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 5m)", v.Line, v.Value)
	}
	*d = Duration(t)
	return nil
}

// LoadPlan reads a YAML plan over the defaults. Unknown fields are errors
// naming the line, so a typo never silently falls back to a default.
func LoadPlan(path string) (Plan, error) {
	p := DefaultPlan()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file is all defaults.
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return p, nil
}

// Validate checks a plan against what faultline knows, naming the field at
// fault.
func (p *Plan) Validate(knownTargets, knownWorkloads, knownNemeses []string) error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	if !validName.MatchString(p.Name) {
		bad("name", "%q: use letters, digits, '-', '_' and '.'", p.Name)
	}
	if !slices.Contains(knownTargets, p.Target) {
		bad("target", "unknown target %q (known: %s)", p.Target, strings.Join(knownTargets, ", "))
	}
	if !slices.Contains(knownWorkloads, p.Workload) {
		bad("workload", "unknown workload %q (known: %s)", p.Workload, strings.Join(knownWorkloads, ", "))
	}
	if len(p.Nodes) == 0 {
		bad("nodes", "need at least one node")
	}
	seen := map[string]bool{}
	for _, n := range p.Nodes {
		if !nodeName.MatchString(n) {
			bad("nodes", "%q: a node name is a lowercase letter then up to 7 letters, digits or '-'", n)
		}
		if seen[n] {
			bad("nodes", "%q appears twice", n)
		}
		seen[n] = true
	}
	if p.Concurrency < 1 {
		bad("concurrency", "%d: need at least one worker", p.Concurrency)
	}
	if p.Rate < 0 {
		bad("rate", "%g: must be 0 (unlimited) or positive", p.Rate)
	}
	if p.TimeLimit <= 0 {
		bad("time-limit", "%s: must be positive", p.TimeLimit)
	}
	if p.OpTimeout <= 0 {
		bad("op-timeout", "%s: must be positive", p.OpTimeout)
	}
	if p.RecoveryTimeout <= 0 {
		bad("recovery-timeout", "%s: must be positive", p.RecoveryTimeout)
	}
	if p.Store == "" {
		bad("store", "must not be empty")
	}
	switch p.ReadConsistency {
	case "linearizable", "serializable":
	default:
		bad("read-consistency", "%q: want linearizable or serializable", p.ReadConsistency)
	}
	switch p.Isolation {
	case "serializable", "repeatable-read", "read-committed":
	default:
		bad("isolation", "%q: want serializable, repeatable-read or read-committed", p.Isolation)
	}
	switch p.Upsert {
	case "", "update-insert", "on-conflict": // "": a plan from before the field, update-insert
	default:
		bad("upsert", "%q: want update-insert or on-conflict", p.Upsert)
	}
	for _, n := range p.Nemesis {
		if !slices.Contains(knownNemeses, n) {
			bad("nemesis", "unknown fault %q (known: %s)", n, strings.Join(knownNemeses, ", "))
		}
	}
	if len(p.Nemesis) > 0 && p.NemesisInterval <= 0 {
		bad("nemesis-interval", "%s: must be positive", p.NemesisInterval)
	}
	if len(errs) > 0 {
		return fmt.Errorf("bad plan: %s", strings.Join(errs, "; "))
	}
	return nil
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

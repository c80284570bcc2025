package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
	"github.com/faultline-dev/faultline/nemesis"
)

// Plan is everything needed to run (and rerun) one test. It is written to
// the store as plan.json, whose field names are the YAML plan's (JSON is
// YAML), so `faultline run -c store/…/plan.json` reruns it as it was; a
// YAML file of the same fields can be given with -c, and flags override
// it.
type Plan struct {
	Name     string `json:"name" yaml:"name"`
	Target   string `json:"target" yaml:"target"`
	Workload string `json:"workload" yaml:"workload"`
	// Control is the backend that reaches the nodes: local (network
	// namespaces on this host) or ssh.
	Control string `json:"control" yaml:"control"`
	// Nodes are the nodes: a count (local), names, or, for ssh, hosts
	// with their ports, users and peer addresses. Empty means the
	// target's default number of local nodes.
	Nodes Nodes `json:"nodes" yaml:"nodes"`
	// NodesFile is a Jepsen-style nodes file (one host[:port] a line),
	// read into Nodes when the plan is loaded.
	NodesFile   string   `json:"nodes-file,omitempty" yaml:"nodes-file"`
	Concurrency int      `json:"concurrency" yaml:"concurrency"`
	Rate        float64  `json:"rate" yaml:"rate"`
	TimeLimit   Duration `json:"time-limit" yaml:"time-limit"`
	Seed        int64    `json:"seed" yaml:"seed"`
	Store       string   `json:"store" yaml:"store"`
	// OpTimeout bounds each operation; an op that outlives it is info.
	OpTimeout Duration `json:"op-timeout" yaml:"op-timeout"`
	// RecoveryTimeout bounds the final phase's wait for the cluster to
	// answer again.
	RecoveryTimeout Duration `json:"recovery-timeout" yaml:"recovery-timeout"`
	// TargetOptions are the target's own options (faultline list shows
	// them): e.g. etcd's read-consistency, PostgreSQL's isolation.
	TargetOptions map[string]string `json:"target-options,omitempty" yaml:"target-options"`
	// ControlOptions are the backend's options: e.g. ssh's user, key,
	// known-hosts.
	ControlOptions map[string]string `json:"control-options,omitempty" yaml:"control-options"`
	// ReadConsistency, Isolation and Upsert are shorthands for the target
	// options of the same names (etcd's read-consistency, PostgreSQL's
	// isolation and upsert), kept so that older plans still run.
	ReadConsistency string `json:"read-consistency,omitempty" yaml:"read-consistency"`
	Isolation       string `json:"isolation,omitempty" yaml:"isolation"`
	Upsert          string `json:"upsert,omitempty" yaml:"upsert"`
	// Nemesis names the faults to schedule; NemesisInterval how often.
	Nemesis         FaultList `json:"nemesis" yaml:"nemesis"`
	NemesisInterval Duration  `json:"nemesis-interval" yaml:"nemesis-interval"`
	// NemesisOverlap gives each fault its own timeline, so that faults
	// overlap (a partition while a node is paused); otherwise one fault is
	// in effect at a time.
	NemesisOverlap bool `json:"nemesis-overlap,omitempty" yaml:"nemesis-overlap"`
	// FaultLease is how long a node's agent holds a fault without hearing
	// from the controller: if the controller dies or loses the network,
	// every node heals itself when it runs out.
	FaultLease Duration `json:"fault-lease" yaml:"fault-lease"`
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
		Control:         "local",
		Concurrency:     10,
		TimeLimit:       Duration(30 * time.Second),
		Seed:            0,
		Store:           "store",
		OpTimeout:       Duration(5 * time.Second),
		RecoveryTimeout: Duration(60 * time.Second),
		NemesisInterval: Duration(10 * time.Second),
		FaultLease:      Duration(30 * time.Second),
	}
}

// Nodes are the nodes of a plan. In YAML and flags they are a count ("5":
// n1..n5), names or hosts ("a,b,c" or a list), or, in YAML, a list of
// node maps (name, host, port, user, addr).
type Nodes []control.NodeSpec

// NodeNames is n1..nN.
func NodeNames(n int) Nodes {
	ns := make(Nodes, n)
	for i := range ns {
		ns[i] = control.NodeSpec{Name: "n" + strconv.Itoa(i+1)}
	}
	return ns
}

// Names are the nodes' names.
func (ns Nodes) Names() []string { return nodeNames(ns) }

func nodeNames(ns Nodes) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ParseNodes reads a count or a comma-separated list of names or
// host[:port]s (a node's name is its host).
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
			n, err := parseHost(p)
			if err != nil {
				return nil, fmt.Errorf("nodes: %w", err)
			}
			ns = append(ns, n)
		}
	}
	return ns, nil
}

// parseHost reads host or host:port ([v6]:port) as a node named by its
// host.
func parseHost(s string) (control.NodeSpec, error) {
	host, port := s, 0
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return control.NodeSpec{}, fmt.Errorf("%q: bad port", s)
		}
		host, port = h, n
	}
	n := control.NodeSpec{Name: host}
	if port != 0 || host != s {
		n.Host, n.Port = host, port
	}
	return n, nil
}

// ReadNodesFile reads a Jepsen-style nodes file: one host or host:port a
// line; blank lines and # comments are skipped.
func ReadNodesFile(path string) (Nodes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nodes file: %w", err)
	}
	var ns Nodes
	for i, line := range strings.Split(string(b), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.ContainsAny(line, " \t,") {
			return nil, fmt.Errorf("%s:%d: %q: want one host or host:port a line", path, i+1, line)
		}
		n, err := parseHost(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("%s: no nodes in it", path)
	}
	return ns, nil
}

// UnmarshalYAML accepts a count, or a list of names, hosts or node maps.
func (n *Nodes) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		ns, err := ParseNodes(v.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", v.Line, err)
		}
		*n = ns
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: nodes: want a count or a list", v.Line)
	}
	var out Nodes
	for _, item := range v.Content {
		switch item.Kind {
		case yaml.ScalarNode:
			ns, err := parseHost(item.Value)
			if err != nil {
				return fmt.Errorf("line %d: nodes: %w", item.Line, err)
			}
			out = append(out, ns)
		case yaml.MappingNode:
			var spec control.NodeSpec
			dec := item
			if err := decodeStrict(dec, &spec); err != nil {
				return fmt.Errorf("line %d: nodes: %w", item.Line, err)
			}
			if spec.Name == "" {
				spec.Name = spec.Host
			}
			out = append(out, spec)
		default:
			return fmt.Errorf("line %d: nodes: want names, hosts or maps of name, host, port, user, addr", item.Line)
		}
	}
	*n = out
	return nil
}

// decodeStrict decodes a YAML mapping into v, refusing unknown keys.
func decodeStrict(node *yaml.Node, v any) error {
	b, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// MarshalJSON writes nodes that are only names as names, others as maps.
func (n Nodes) MarshalJSON() ([]byte, error) {
	var out []any
	for _, s := range n {
		if s.Host == "" && s.Port == 0 && s.User == "" && s.Addr == "" {
			out = append(out, s.Name)
		} else {
			out = append(out, s)
		}
	}
	if out == nil {
		out = []any{}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes, or a count.
func (n *Nodes) UnmarshalJSON(b []byte) error {
	var count int
	if json.Unmarshal(b, &count) == nil {
		ns, err := ParseNodes(strconv.Itoa(count))
		*n = ns
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("nodes: want a count or a list: %w", err)
	}
	var out Nodes
	for _, r := range raw {
		var name string
		if json.Unmarshal(r, &name) == nil {
			out = append(out, control.NodeSpec{Name: name})
			continue
		}
		var spec control.NodeSpec
		if err := json.Unmarshal(r, &spec); err != nil {
			return fmt.Errorf("nodes: %w", err)
		}
		out = append(out, spec)
	}
	*n = out
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

// UnmarshalYAML reads "30s". A bare number is refused, as the flags
// refuse it: 30 could be seconds or milliseconds.
func (d *Duration) UnmarshalYAML(v *yaml.Node) error {
	if _, err := strconv.ParseFloat(v.Value, 64); err == nil && v.Value != "0" {
		return fmt.Errorf("line %d: %s has no unit: give one, e.g. %ss or %sms", v.Line, v.Value, v.Value, v.Value)
	}
	t, err := time.ParseDuration(v.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 5m)", v.Line, v.Value)
	}
	*d = Duration(t)
	return nil
}

// FaultList is a plan's nemesis: a list of fault specs (see
// nemesis.FaultSpec), written as a YAML or JSON list, or as one string
// separated by commas as --nemesis takes it ("partition:halves,kill").
type FaultList []string

// UnmarshalYAML reads a list or a comma-separated string.
func (f *FaultList) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		*f = splitFaults(v.Value)
		return nil
	}
	var l []string
	if err := v.Decode(&l); err != nil {
		return fmt.Errorf("line %d: want a list of faults, or one string like partition,kill:one", v.Line)
	}
	*f = l
	return nil
}

// UnmarshalJSON reads a list or a comma-separated string.
func (f *FaultList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = splitFaults(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("want a list of faults, or one string like partition,kill:one")
	}
	*f = l
	return nil
}

func splitFaults(s string) FaultList {
	out := FaultList{}
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// LoadPlan reads a YAML plan over the defaults. Unknown fields are errors
// naming the line, so a typo never silently falls back to a default. A
// nodes file is read relative to the plan's directory.
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
		return p, fmt.Errorf("%s: %s", path, yamlError(err, b))
	}
	if p.NodesFile != "" {
		f := p.NodesFile
		if !filepath.IsAbs(f) {
			f = filepath.Join(filepath.Dir(path), f)
		}
		ns, err := ReadNodesFile(f)
		if err != nil {
			return p, fmt.Errorf("%s: nodes-file: %w", path, err)
		}
		p.Nodes, p.NodesFile = ns, ""
	}
	return p, nil
}

// yamlTypes names what a field wants, for yaml's "into <Go type>".
var yamlTypes = strings.NewReplacer(
	"into int64", "into a whole number", "into int", "into a whole number",
	"into float64", "into a number", "into bool", "into true or false",
	"into string", "into a string", "into []string", "into a list of names",
	"into map[string]string", "into a map of KEY: VALUE",
	"!!str", "the string", "!!int", "the number", "!!float", "the number", "!!bool", "the boolean", "!!seq", "a list", "!!map", "a map")

var yamlLine = regexp.MustCompile(`line (\d+): cannot unmarshal`)

// yamlError rewords yaml's errors in a plan's terms: fields, not Go
// types. src is the plan, to name the field on the line at fault.
func yamlError(err error, src []byte) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.ReplaceAll(s, "unmarshal errors:\n  ", "")
	lines := strings.Split(string(src), "\n")
	s = yamlLine.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		field := ""
		if n >= 1 && n <= len(lines) {
			field, _, _ = strings.Cut(strings.TrimLeft(lines[n-1], " -"), ":")
		}
		if field == "" {
			return m
		}
		return fmt.Sprintf("line %d: %s: cannot unmarshal", n, strings.TrimSpace(field))
	})
	s = strings.ReplaceAll(s, "cannot unmarshal ", "cannot read ")
	return yamlTypes.Replace(s)
}

// Resolve fills in what the plan leaves to the target and the backend (the
// number of nodes), moves the shorthands into the target's options, and
// checks the target's and the backend's options, which it returns
// resolved.
func (p *Plan) Resolve() (options.Values, error) {
	spec, err := LookupTarget(p.Target)
	if err != nil {
		return nil, err
	}
	if p.TargetOptions == nil {
		p.TargetOptions = map[string]string{}
	}
	for _, sh := range []struct{ name, v string }{{"read-consistency", p.ReadConsistency}, {"isolation", p.Isolation}, {"upsert", p.Upsert}} {
		if sh.v == "" {
			continue
		}
		if !slices.ContainsFunc(spec.Options, func(o options.Spec) bool { return o.Name == sh.name }) {
			return nil, fmt.Errorf("%s: target %s has no such option (it is another target's)", sh.name, p.Target)
		}
		if prev, ok := p.TargetOptions[sh.name]; ok && prev != sh.v {
			return nil, fmt.Errorf("%s: given as %q and as target option %q", sh.name, sh.v, prev)
		}
		p.TargetOptions[sh.name] = sh.v
	}
	p.ReadConsistency, p.Isolation, p.Upsert = "", "", ""
	vals, err := options.Resolve("target "+p.Target, spec.Options, p.TargetOptions)
	if err != nil {
		return nil, err
	}
	if spec.InProcess != nil {
		if len(p.Nodes) == 0 {
			p.Nodes = NodeNames(spec.DefaultNodes)
		}
		return vals, nil
	}
	b, err := control.Lookup(p.Control)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if len(p.Nodes) == 0 {
		if b.DefaultNodes == nil {
			return nil, fmt.Errorf("nodes: the %s backend needs the nodes named: --nodes host1,host2,… or --nodes-file FILE (one host[:port] a line)", b.Name)
		}
		p.Nodes = b.DefaultNodes(max(spec.DefaultNodes, 1))
	}
	if _, err := options.Resolve("control backend "+b.Name, b.Options, p.ControlOptions); err != nil {
		return nil, err
	}
	return vals, nil
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
		if !nodeName.MatchString(n.Name) {
			bad("nodes", "%q: a node name is a letter or digit then up to 62 letters, digits, '.', '_' or '-'", n.Name)
		}
		if seen[n.Name] {
			bad("nodes", "%q appears twice", n.Name)
		}
		seen[n.Name] = true
	}
	if p.Control == "" {
		bad("control", "must not be empty (local or ssh)")
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
	if p.FaultLease < 0 {
		bad("fault-lease", "%s: must be positive, or 0 to hold faults until the run heals them", p.FaultLease)
	}
	var specs []nemesis.FaultSpec
	for _, n := range p.Nemesis {
		name := nemesis.SpecName(n)
		if !slices.Contains(knownNemeses, name) {
			bad("nemesis", "unknown fault %q (known: %s)", name, strings.Join(knownNemeses, ", "))
		} else if fs, err := nemesis.ParseFaultSpec(n); err != nil {
			bad("nemesis", "%v", err)
		} else {
			specs = append(specs, fs)
		}
	}
	if len(specs) > 0 {
		p.checkFaults(specs, bad)
	}
	if len(p.Nemesis) > 0 && p.NemesisInterval <= 0 {
		bad("nemesis-interval", "%s: must be positive", p.NemesisInterval)
	}
	if len(errs) > 0 {
		return fmt.Errorf("bad plan: %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkFaults refuses, with the plan, what the run would refuse only once
// its store and cluster exist: faults for a target with no hosts, nodes
// the plan does not have, faults only containers can take on a backend
// whose nodes are not containers.
func (p *Plan) checkFaults(specs []nemesis.FaultSpec, bad func(field, format string, args ...any)) {
	t, ok := targetRegistry[p.Target]
	if !ok {
		return // refused as an unknown target
	}
	if t.InProcess != nil {
		bad("nemesis", "target %s runs inside faultline, with no hosts to inject faults into (drop the faults, or test a target with nodes, such as etcd)", p.Target)
		return
	}
	b, err := control.Lookup(p.Control)
	if err != nil {
		return // refused by Resolve
	}
	seen := map[string]bool{}
	for _, fs := range specs {
		if spec, err := nemesis.Lookup(fs.Name); err == nil && spec.NeedsContainers && !b.Containers && !seen[fs.Name] {
			seen[fs.Name] = true
			bad("nemesis", "%s needs nodes that are containers (--control docker), and these are %s nodes", fs.Name, b.Name)
		}
	}
	if len(p.Nodes) == 0 || (b.FindsNodes != nil && b.FindsNodes(options.Values(p.ControlOptions))) {
		return // no nodes (refused), or the cluster's are not the plan's
	}
	names := p.Nodes.Names()
	for _, fs := range specs {
		for _, n := range fs.NamedNodes() {
			if !slices.Contains(names, n) {
				bad("nemesis", "fault %q names node %q, and the plan's nodes are %s", fs, n, strings.Join(names, ", "))
			}
		}
	}
}

// Warnings say what a valid plan will do that its author may not expect:
// a fault schedule with no room in the time limit for every fault asked
// for (each is in effect for one interval and healed for the next).
func (p *Plan) Warnings() []string {
	var out []string
	if len(p.Nemesis) == 0 || p.NemesisInterval <= 0 {
		return out
	}
	iv, limit := time.Duration(p.NemesisInterval), time.Duration(p.TimeLimit)
	// The k-th injection of a lane (from 0) comes at offset+(2k+1)·interval.
	fits := func(offset time.Duration, n int) int {
		if limit <= offset+iv {
			return 0
		}
		return min(n, int((limit-offset-iv-1)/(2*iv))+1)
	}
	lanes := [][]string{p.Nemesis}
	if p.NemesisOverlap {
		lanes = nil
		at := map[string]int{}
		for _, f := range p.Nemesis {
			name := nemesis.SpecName(f)
			if i, ok := at[name]; ok {
				lanes[i] = append(lanes[i], f)
				continue
			}
			at[name] = len(lanes)
			lanes = append(lanes, []string{f})
		}
	}
	for i, lane := range lanes {
		offset := iv * time.Duration(i) / time.Duration(len(lanes))
		n := fits(offset, len(lane))
		if n == len(lane) {
			continue
		}
		need := offset + time.Duration(2*len(lane)-1)*iv + time.Second
		maxIv := (limit - offset) / time.Duration(2*len(lane))
		fix := fmt.Sprintf("raise --time-limit to %s", need.Round(time.Second))
		if maxIv >= time.Second {
			fix = fmt.Sprintf("lower --nemesis-interval to %s or ", maxIv.Truncate(time.Second)) + fix
		}
		out = append(out, fmt.Sprintf("a %s run at a nemesis interval of %s has room for %d of the %d faults of %s (%s): each is in effect for one interval, then healed for one; %s",
			limit, iv, n, len(lane), map[bool]string{true: "this timeline", false: "the schedule"}[p.NemesisOverlap], strings.Join(lane, ", "), fix))
	}
	return out
}

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

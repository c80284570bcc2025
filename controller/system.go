package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/workloads"
)

// System is a target's cluster as the controller drives it.
type System interface {
	// Start creates or reaches the hosts, starts the target on each and
	// waits until the cluster serves.
	Start(ctx context.Context) error
	// Client opens a workload client bound to a node.
	Client(ctx context.Context, node string) (io.Closer, error)
	// WaitHealthy waits until every node answers a request that needs the
	// cluster (e.g. a linearizable read).
	WaitHealthy(ctx context.Context) error
	// Teardown stops the target, collects each node's logs into
	// logDir/<node>/, and removes every host and process Start made. It is
	// safe to call more than once and after a failed Start.
	Teardown(ctx context.Context, logDir string) error
}

// faultable is a System whose hosts and target the nemesis can reach.
type faultable interface {
	Cluster() control.Cluster
	Agents() *agent.Pool
	DB() targets.DB
}

// SystemConfig is what a target needs to build its System.
type SystemConfig struct {
	Plan Plan
	// Dir is the run's store directory.
	Dir string
	// TargetOptions are the plan's target options, resolved.
	TargetOptions options.Values
	// Detached makes the cluster outlive this process (cluster up).
	Detached bool
	// Logf writes to the run's faultline.log; Progress, if set, receives
	// progress for people on long steps.
	Logf     func(format string, args ...any)
	Progress io.Writer
}

// TargetConfig is what a target's New gets.
type TargetConfig struct {
	// Dir is where node data lives on every node: Dir/<node> is the
	// node's directory (control.Cluster.NodeDir).
	Dir string
	// Options are the target's options, resolved.
	Options options.Values
	// OpTimeout bounds each client request.
	OpTimeout time.Duration
}

// TargetSpec is a target in the registry.
type TargetSpec struct {
	Name string
	// Doc is one line for `faultline list`.
	Doc string
	// Client is a typed zero value of what the target's clients are (e.g.
	// (*postgres.Client)(nil)), so that a plan's workload can be matched
	// to the target before any cluster is set up.
	Client any
	// Options are the target's options (--target-opt KEY=VALUE).
	Options []options.Spec
	// DefaultNodes is how many nodes a run uses when the plan names none.
	DefaultNodes int
	// Image names the image a backend that makes containers runs the
	// target's nodes from (package images).
	Image string
	// New builds the target on a cluster; NewClient opens a workload
	// client bound to a node.
	New       func(c control.Cluster, cfg TargetConfig) (targets.DB, error)
	NewClient func(db targets.DB, node string) (io.Closer, error)
	// DataDirs are subdirectories of each node's directory that hold data
	// (not logs): removed at teardown.
	DataDirs []string
	// InProcess, set for a target with no hosts (memory), makes its whole
	// System; New is then nil.
	InProcess func(cfg SystemConfig) (System, error)

	_ struct{}
}

var targetRegistry = map[string]TargetSpec{}

// RegisterTarget adds a target; one line per target.
func RegisterTarget(s TargetSpec) {
	if _, dup := targetRegistry[s.Name]; dup {
		panic("controller: target " + s.Name + " registered twice")
	}
	targetRegistry[s.Name] = s
}

// Targets lists the registered targets by name.
func Targets() []TargetSpec {
	var out []TargetSpec
	for _, n := range TargetNames() {
		out = append(out, targetRegistry[n])
	}
	return out
}

// TargetNames lists the registered targets.
func TargetNames() []string {
	var ns []string
	for n := range targetRegistry {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// LookupTarget finds a target by name.
func LookupTarget(name string) (TargetSpec, error) {
	s, ok := targetRegistry[name]
	if !ok {
		return s, fmt.Errorf("target: unknown target %q (known: %s)", name, strings.Join(TargetNames(), ", "))
	}
	return s, nil
}

// TargetWorkloads lists the registered workloads the target's client can
// run.
func TargetWorkloads(target string) []string {
	var out []string
	for _, wl := range workloads.All() {
		if _, known := targetRegistry[target]; known && supports(wl, target) == nil {
			out = append(out, wl.Name())
		}
	}
	return out
}

// supports says whether the workload can run against the target's client,
// as far as its type tells (a target registered without a client type is
// given the benefit of the doubt; the workers check again).
func supports(wl workloads.Workload, target string) error {
	s, ok := targetRegistry[target]
	if !ok || s.Client == nil {
		return nil
	}
	if err := wl.Supports(s.Client); err != nil {
		return fmt.Errorf("workload %s does not run on target %s: %w", wl.Name(), target, err)
	}
	return nil
}

func newSystem(cfg SystemConfig) (System, error) {
	spec, err := LookupTarget(cfg.Plan.Target)
	if err != nil {
		return nil, err
	}
	if spec.InProcess != nil {
		return spec.InProcess(cfg)
	}
	return &clusterSystem{cfg: cfg, spec: spec}, nil
}

// ClusterFile is a run's record of its cluster in the store, written
// before anything is made on a node: `faultline heal` reaches the nodes of
// a run whose controller died through it.
const ClusterFile = "cluster.json"

// ClusterRecord is what ClusterFile holds.
type ClusterRecord struct {
	Cluster control.Ref `json:"cluster"`
	// Owner is the controller that made the cluster.
	Owner control.Owner `json:"owner"`
	// Target and its options, for cluster down and nemesis by hand.
	Target        string            `json:"target"`
	TargetOptions map[string]string `json:"target_options,omitempty"`
	OpTimeout     Duration          `json:"op_timeout,omitempty"`
	// Detached: made to outlive its controller (cluster up).
	Detached bool `json:"detached,omitempty"`
	// TornDown is set once the cluster has been torn down.
	TornDown bool      `json:"torn_down,omitempty"`
	Created  time.Time `json:"created"`
}

// WriteClusterRecord writes rec into dir, atomically.
func WriteClusterRecord(dir string, rec ClusterRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+ClusterFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ClusterFile))
}

// ReadClusterRecord reads dir's ClusterFile.
func ReadClusterRecord(dir string) (ClusterRecord, error) {
	var rec ClusterRecord
	b, err := os.ReadFile(filepath.Join(dir, ClusterFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, ClusterFile), err)
	}
	return rec, nil
}

// clusterSystem runs a targets.DB on a cluster of any control backend.
type clusterSystem struct {
	cfg  SystemConfig
	spec TargetSpec

	cluster control.Cluster
	agents  *agent.Pool
	db      targets.DB
	record  ClusterRecord
	torn    bool
}

func (s *clusterSystem) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *clusterSystem) Start(ctx context.Context) error {
	plan := s.cfg.Plan
	c, err := control.New(ctx, plan.Control, control.Config{
		Nodes: plan.Nodes, StoreDir: s.cfg.Dir, Detached: s.cfg.Detached, Image: s.spec.Image,
		Logf: s.cfg.Logf, Progress: s.cfg.Progress,
	}, plan.ControlOptions)
	if err != nil {
		return fmt.Errorf("%s nodes: %w", plan.Control, err)
	}
	s.cluster = c
	var addrs []string
	for _, n := range c.Nodes() {
		addrs = append(addrs, n.Name+"="+n.Addr.String())
	}
	s.logf("%s cluster %s: nodes %s", c.Backend(), c.RunID(), strings.Join(addrs, " "))
	s.record = ClusterRecord{Cluster: c.Ref(), Owner: control.Self(), Target: plan.Target, TargetOptions: s.cfg.TargetOptions,
		OpTimeout: plan.OpTimeout, Detached: s.cfg.Detached, Created: time.Now().UTC()}
	if err := WriteClusterRecord(s.cfg.Dir, s.record); err != nil {
		return fmt.Errorf("recording the cluster: %w", err)
	}
	s.agents = agent.NewPool(c, agent.PoolOptions{Lease: time.Duration(plan.FaultLease), Reap: !s.cfg.Detached, Logf: s.cfg.Logf})
	db, err := s.spec.New(c, TargetConfig{Dir: NodesDir(c), Options: s.cfg.TargetOptions, OpTimeout: time.Duration(plan.OpTimeout)})
	if err != nil {
		// Not kept: a target's New may return a typed nil with its error,
		// which Teardown must not call.
		return err
	}
	s.db = db
	// A fault a node cannot do is refused before the target is set up.
	if len(plan.Nemesis) > 0 {
		if _, err := nemesis.Check(ctx, c, s.agents, plan.Nemesis, true); err != nil {
			return err
		}
	}
	if err := s.db.Setup(ctx); err != nil {
		return fmt.Errorf("%s setup: %w", plan.Target, err)
	}
	if err := s.db.WaitHealthy(ctx); err != nil {
		return fmt.Errorf("%s did not become healthy: %w", plan.Target, err)
	}
	return nil
}

// NodesDir is the directory that holds every node's directory of c:
// control.Cluster.NodeDir(n) is NodesDir/<n>.
func NodesDir(c control.Cluster) string {
	for _, n := range c.Nodes() {
		return filepath.Dir(c.NodeDir(n.Name))
	}
	return ""
}

func (s *clusterSystem) Client(ctx context.Context, node string) (io.Closer, error) {
	if s.db == nil {
		return nil, errors.New("not started")
	}
	return s.spec.NewClient(s.db, node)
}

func (s *clusterSystem) WaitHealthy(ctx context.Context) error { return s.db.WaitHealthy(ctx) }

func (s *clusterSystem) Teardown(ctx context.Context, logDir string) error {
	if s.torn {
		return nil
	}
	s.torn = true
	var errs []error
	if s.db != nil {
		if err := s.db.Teardown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s teardown: %w", s.cfg.Plan.Target, err))
		}
		if err := CollectLogs(ctx, s.cluster, s.db, logDir); err != nil {
			errs = append(errs, fmt.Errorf("collecting logs: %w", err))
		}
	}
	if s.agents != nil {
		if err := s.agents.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("agents: %w", err))
		}
	}
	if s.cluster != nil {
		for _, n := range s.cluster.Nodes() {
			for _, d := range s.spec.DataDirs {
				if err := s.cluster.RemoveAll(ctx, n.Name, filepath.Join(s.cluster.NodeDir(n.Name), d)); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if err := s.cluster.Teardown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s nodes teardown: %w", s.cluster.Backend(), err))
		}
		if len(errs) == 0 {
			s.record.TornDown = true
			if err := WriteClusterRecord(s.cfg.Dir, s.record); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// CollectLogs brings every node's logs into dir/<node>/ on the controller.
func CollectLogs(ctx context.Context, c control.Cluster, db targets.DB, dir string) error {
	var errs []error
	for _, n := range c.Nodes() {
		dst := filepath.Join(dir, n.Name)
		if lc, ok := db.(targets.LogCollector); ok {
			if err := lc.CollectLogs(ctx, n.Name, dst); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		for _, f := range db.LogFiles(n.Name) {
			if err := c.Download(ctx, n.Name, f, filepath.Join(dst, filepath.Base(f))); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Cluster, Agents and DB let the nemesis reach the hosts and the target.
func (s *clusterSystem) Cluster() control.Cluster { return s.cluster }
func (s *clusterSystem) Agents() *agent.Pool      { return s.agents }
func (s *clusterSystem) DB() targets.DB           { return s.db }

// ConsistencyModel is what the target claims, when it says (e.g. a
// PostgreSQL isolation level's model); "" otherwise.
func (s *clusterSystem) ConsistencyModel() string {
	if c, ok := s.db.(interface{ ConsistencyModel() string }); ok {
		return c.ConsistencyModel()
	}
	return ""
}

// ClaimedBy says what makes the claim, e.g. "PostgreSQL's repeatable
// read", for the report's headline; "" when the target does not say.
func (s *clusterSystem) ClaimedBy() string {
	if c, ok := s.db.(interface{ ClaimedBy() string }); ok {
		return c.ClaimedBy()
	}
	return ""
}

package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
	"github.com/faultline-dev/faultline/nemesis"
	"github.com/faultline-dev/faultline/targets"
)

// ClusterDir is where `faultline cluster up` keeps its cluster's record,
// data and logs under a store: <store>/cluster/.
func ClusterDir(store string) string { return filepath.Join(store, "cluster") }

// Up makes a cluster for ad hoc work that outlives this process: the
// plan's target running on its nodes, through the plan's backend, recorded
// in dir (ClusterFile) for Down, `faultline nemesis` and heal.
func Up(ctx context.Context, plan Plan, dir string, progress io.Writer) (*Attached, error) {
	plan.DefaultName()
	topts, err := plan.Resolve()
	if err != nil {
		return nil, err
	}
	if err := plan.Validate(TargetNames(), []string{plan.Workload}, nemesis.Names()); err != nil {
		return nil, err
	}
	if rec, err := ReadClusterRecord(dir); err == nil && !rec.TornDown {
		return nil, fmt.Errorf("a cluster is already up (run %s, %s); run 'faultline cluster down' first", rec.Cluster.RunID, filepath.Join(dir, ClusterFile))
	}
	spec, err := LookupTarget(plan.Target)
	if err != nil {
		return nil, err
	}
	if spec.InProcess != nil {
		return nil, fmt.Errorf("target %s runs inside faultline: there is no cluster to bring up", plan.Target)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := control.BecomeSubreaper(); err != nil {
		return nil, err
	}
	sys := &clusterSystem{cfg: SystemConfig{Plan: plan, Dir: dir, TargetOptions: topts, Detached: true, Progress: progress}, spec: spec}
	if err := sys.Start(ctx); err != nil {
		// Leave nothing half-made behind.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if terr := sys.Teardown(tctx, filepath.Join(dir, "nodes")); terr != nil {
			err = errors.Join(err, fmt.Errorf("removing the half-made cluster: %w", terr))
		}
		return nil, err
	}
	// No fault is held: the agents can go.
	if err := sys.agents.Close(ctx); err != nil {
		return nil, err
	}
	return &Attached{Dir: dir, Record: sys.record, Cluster: sys.cluster, DB: sys.db, spec: spec, opts: topts}, nil
}

// Attached is a cluster reached again from its record: `faultline cluster
// down`, `faultline nemesis` and heal work on it.
type Attached struct {
	// Dir holds the record.
	Dir     string
	Record  ClusterRecord
	Cluster control.Cluster
	// DB is the target on it, nil when the record names none.
	DB   targets.DB
	spec TargetSpec
	opts options.Values
}

// Attach reaches the cluster recorded in dir again.
func Attach(ctx context.Context, dir string) (*Attached, error) {
	rec, err := ReadClusterRecord(dir)
	if err != nil {
		return nil, err
	}
	if rec.TornDown {
		return nil, fmt.Errorf("%s: cluster %s has been torn down", filepath.Join(dir, ClusterFile), rec.Cluster.RunID)
	}
	c, err := control.Attach(ctx, rec.Cluster, control.Config{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s (%s): %w", rec.Cluster.RunID, rec.Cluster.Backend, err)
	}
	a := &Attached{Dir: dir, Record: rec, Cluster: c}
	if spec, err := LookupTarget(rec.Target); err == nil && spec.New != nil {
		a.spec = spec
		if a.opts, err = options.Resolve("target "+rec.Target, spec.Options, rec.TargetOptions); err != nil {
			return nil, err
		}
		if a.DB, err = spec.New(c, TargetConfig{Dir: NodesDir(c), Options: a.opts, OpTimeout: time.Duration(rec.OpTimeout)}); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Agents starts a session with the cluster's agents; lease 0 holds faults
// until they are healed.
func (a *Attached) Agents(lease time.Duration) *agent.Pool {
	return agent.NewPool(a.Cluster, agent.PoolOptions{Lease: lease})
}

// Endpoint is a node's client endpoint, where the target says.
func (a *Attached) Endpoint(node string) string {
	if e, ok := a.DB.(interface {
		Endpoint(string) (string, error)
	}); ok {
		if s, err := e.Endpoint(node); err == nil {
			return s
		}
	}
	return ""
}

// Down tears the cluster down: faults healed, the target stopped (an
// existing cluster is left running), logs collected into Dir/nodes, the
// nodes removed. The record is marked torn down.
func (a *Attached) Down(ctx context.Context) (nemesis.Report, error) {
	var errs []error
	rep, err := nemesis.HealNodes(ctx, a.Cluster, nemesis.HealOptions{Sweep: true, ContStopped: a.Cluster.Backend() == "local"})
	if err != nil {
		errs = append(errs, err)
	}
	if a.DB != nil {
		if err := a.DB.Teardown(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := CollectLogs(ctx, a.Cluster, a.DB, filepath.Join(a.Dir, "nodes")); err != nil {
			errs = append(errs, err)
		}
		for _, n := range a.Cluster.Nodes() {
			for _, d := range a.spec.DataDirs {
				if err := a.Cluster.RemoveAll(ctx, n.Name, filepath.Join(a.Cluster.NodeDir(n.Name), d)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := a.Cluster.Teardown(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		a.Record.TornDown = true
		if err := WriteClusterRecord(a.Dir, a.Record); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

package controller

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/workloads"
)

// System is a target's cluster as the controller drives it.
type System interface {
	// Start creates the hosts, starts the target on each and waits until
	// the cluster serves.
	Start(ctx context.Context) error
	// Client opens a workload client bound to a node.
	Client(ctx context.Context, node string) (io.Closer, error)
	// WaitHealthy waits until every node answers a request that needs the
	// cluster (e.g. a linearizable read).
	WaitHealthy(ctx context.Context) error
	// CollectLogs copies each node's logs into dir/<node>/.
	CollectLogs(dir string) error
	// Teardown stops every process and removes every host Start made. It
	// is safe to call more than once and after a failed Start.
	Teardown(ctx context.Context) error
}

// faultable is a System whose hosts and target the nemesis can reach.
type faultable interface {
	Cluster() control.Cluster
	DB() targets.DB
}

// SystemConfig is what a target needs to build its System.
type SystemConfig struct {
	Plan Plan
	// Dir is the run's store directory; targets keep data under it.
	Dir string
	// Logf writes to the run's faultline.log.
	Logf func(format string, args ...any)
}

// TargetFactory builds a System for a plan.
type TargetFactory func(cfg SystemConfig) (System, error)

var (
	targetFactories = map[string]TargetFactory{}
	// targetClients holds, per target, a typed zero value of what its
	// System.Client returns, so that a plan's workload can be matched to
	// the target's client before any cluster is set up.
	targetClients = map[string]any{}
)

// RegisterTarget adds a target; one line per target. client is a typed
// zero value of what its System.Client returns (e.g. (*postgres.Client)(nil)).
func RegisterTarget(name string, client any, f TargetFactory) {
	targetFactories[name] = f
	targetClients[name] = client
}

// TargetWorkloads lists the registered workloads the target's client can
// run.
func TargetWorkloads(target string) []string {
	var out []string
	for _, wl := range workloads.All() {
		if _, known := targetClients[target]; known && supports(wl, target) == nil {
			out = append(out, wl.Name())
		}
	}
	return out
}

// supports says whether the workload can run against the target's client,
// as far as its type tells (a target registered without a client type is
// given the benefit of the doubt; the workers check again).
func supports(wl workloads.Workload, target string) error {
	c, ok := targetClients[target]
	if !ok || c == nil {
		return nil
	}
	if err := wl.Supports(c); err != nil {
		return fmt.Errorf("workload %s does not run on target %s: %w", wl.Name(), target, err)
	}
	return nil
}

// TargetNames lists the registered targets.
func TargetNames() []string {
	var ns []string
	for n := range targetFactories {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func newSystem(cfg SystemConfig) (System, error) {
	f, ok := targetFactories[cfg.Plan.Target]
	if !ok {
		return nil, fmt.Errorf("target: unknown target %q (known: %s)", cfg.Plan.Target, strings.Join(TargetNames(), ", "))
	}
	return f(cfg)
}

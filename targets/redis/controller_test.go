package redis_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/targets/redis"
	"github.com/faultline-dev/faultline/workloads"
)

// run runs plan as `faultline run` does, in a store the redis user can
// reach, and logs its outcome.
func run(t *testing.T, plan controller.Plan) *controller.Result {
	t.Helper()
	plan.Store = redis.SearchableTempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := controller.Run(ctx, plan, controller.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	t.Logf("%d ops in %v; verdict %s; anomalies %v; store %s", res.Ops, res.Duration.Round(time.Millisecond), r.Valid, r.AnomalyTypes, res.Dir)
	return res
}

func redisPlan(workload string, nodes int, timeLimit time.Duration) controller.Plan {
	plan := controller.DefaultPlan()
	plan.Name = "redis-" + workload
	plan.Target = "redis"
	plan.Workload = workload
	plan.Nodes = controller.NodeNames(nodes)
	plan.TimeLimit = controller.Duration(timeLimit)
	return plan
}

// TestController runs the register workload end to end through the
// controller (the registry's redis entry, a real server on a local node,
// the history checked, the server's log collected, its data removed).
func TestController(t *testing.T) {
	redis.RequireRedis(t)
	res := run(t, redisPlan("register", 1, 3*time.Second))
	if res.Results.Valid != checker.Valid {
		t.Errorf("verdict %s, want valid: one Redis server is linearizable", res.Results.Valid)
	}
	if res.Ops < 1000 {
		t.Errorf("only %d ops in 3 s", res.Ops)
	}
	for _, f := range []string{"history.jsonl", "results.json", "nodes/n1/redis.log"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("store: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "nodes/n1/data")); !os.IsNotExist(err) {
		t.Errorf("the server's data dir is still in the store: %v", err)
	}
}

// TestKilledSet is the "must show": one node, the set workload,
// kill faults. With the default persistence (RDB snapshots, none due
// within the run) each kill loses the acknowledged adds: invalid. With
// persistence=aof-always every acknowledged add survives: valid.
func TestKilledSet(t *testing.T) {
	redis.RequireRedis(t)
	if _, err := workloads.Get("set"); err != nil {
		t.Skipf("the set workload is not registered: %v", err)
	}
	for _, c := range []struct {
		persistence string
		want        checker.Validity
	}{{redis.RDB, checker.Invalid}, {redis.AOFAlways, checker.Valid}} {
		t.Run(c.persistence, func(t *testing.T) {
			// Kills from 2 to 4 s and from 6 to 8 s: the run ends with
			// the server up, so that the sets begun during the last kill
			// get acknowledged adds too (a set none of whose adds
			// succeeded is "unknown" to the set checker).
			plan := redisPlan("set", 1, 9*time.Second)
			plan.Name = "redis-set-kill-" + c.persistence
			plan.Nemesis = controller.FaultList{"kill"}
			plan.NemesisInterval = controller.Duration(2 * time.Second)
			plan.TargetOptions = map[string]string{"persistence": c.persistence}
			res := run(t, plan)
			if res.Results.Valid != c.want {
				t.Errorf("persistence %s, kill: verdict %s, want %s", c.persistence, res.Results.Valid, c.want)
				for name, r := range res.Results.Checkers {
					t.Logf("checker %s: %s: %s", name, r.Valid, r.Summary)
				}
			}
		})
	}
}

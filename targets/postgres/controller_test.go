package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/controller"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/targets/postgres"
)

// TestController runs both workloads end to end through the controller
// (controller.Run, as `faultline run --target postgres` does): the
// registry's postgres entry, a real server on local hosts, the history in
// the store, the check, the server's log collected, nothing left behind.
func TestController(t *testing.T) {
	postgres.RequirePostgres(t)
	store := postgres.SearchableTempDir(t)
	for _, wl := range []string{"append", "rw-register"} {
		t.Run(wl, func(t *testing.T) {
			plan := controller.DefaultPlan()
			plan.Name = "postgres-" + wl
			plan.Target = "postgres"
			plan.Workload = wl
			plan.Nodes = controller.NodeNames(2) // n2 runs nothing
			// Repeatable read claims snapshot isolation, which PostgreSQL
			// keeps (serializable has a rare finding: see TestAnomalies).
			plan.Isolation = "repeatable-read"
			if wl == "rw-register" {
				// The other way to write (--upsert on-conflict): never a
				// duplicate key, since INSERT … ON CONFLICT cannot race
				// another INSERT into one.
				plan.Upsert = "on-conflict"
			}
			plan.TimeLimit = controller.Duration(5 * time.Second)
			plan.Store = store
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			res, err := controller.Run(ctx, plan, controller.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := res.Results
			t.Logf("%d ops in %v; verdict %s; anomalies %v; store %s", res.Ops, res.Duration.Round(time.Millisecond), r.Valid, r.AnomalyTypes, res.Dir)
			if r.Valid != checker.Valid {
				t.Errorf("verdict %s, want valid (snapshot-isolation): %s", r.Valid, r.Checkers[wl].Summary)
			}
			if res.Ops < 1000 {
				t.Errorf("only %d ops in 5 s", res.Ops)
			}
			h, err := histories.ReadFile(filepath.Join(res.Dir, "history.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			dups := 0
			for _, o := range h {
				// Every op went to the server, none to n2, which runs
				// nothing.
				if o.Process != histories.Nemesis && o.Type != histories.Invoke && o.Node != "n1" {
					t.Fatalf("op %d attributed to %q, which runs no server", o.Index, o.Node)
				}
				if strings.Contains(o.Error, "duplicate key") {
					dups++
				}
			}
			t.Logf("upsert %s: %d transactions failed on a duplicate key", plan.Upsert, dups)
			// Hundreds of first writes race per 5 s under update-insert.
			if plan.Upsert == "on-conflict" && dups > 0 {
				t.Errorf("%d duplicate-key failures with INSERT … ON CONFLICT: is it in use?", dups)
			} else if plan.Upsert != "on-conflict" && dups == 0 {
				t.Errorf("no duplicate-key failure with UPDATE-then-INSERT: which upsert ran?")
			}
			for _, f := range []string{"history.jsonl", "results.json", "nodes/n1/postgres.log"} {
				if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
					t.Errorf("store: %v", err)
				}
			}
			if _, err := os.Stat(filepath.Join(res.Dir, "nodes/n1/data")); !os.IsNotExist(err) {
				t.Errorf("the server's data dir is still in the store: %v", err)
			}
		})
	}
}

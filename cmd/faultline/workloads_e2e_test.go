package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/controltest"
)

// requireServer skips (fails under CI=true) when a server binary a target
// runs on its nodes is not installed.
func requireServer(t *testing.T, glob, pkg string) {
	t.Helper()
	if m, _ := filepath.Glob(glob); len(m) > 0 {
		return
	}
	why := "no " + glob + ": install it (apt-get install " + pkg + ")"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true forbids skipping the test", why)
	}
	t.Skip(why)
}

// searchableTempDir is a t.TempDir that the server's own user (postgres,
// redis) can reach: the directories mktemp makes are 0700.
func searchableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// latestResults reads store/latest/results.json under dir.
func latestResults(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "store", "latest", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// checkerDetails is results.json's checkers[name].details.
func checkerDetails(t *testing.T, res map[string]any, name string) map[string]any {
	t.Helper()
	cs, _ := res["checkers"].(map[string]any)
	c, _ := cs[name].(map[string]any)
	d, _ := c["details"].(map[string]any)
	if d == nil {
		t.Fatalf("results.json has no details of checker %s: %v", name, res["checkers"])
	}
	return d
}

// No false alarm: etcd's set, counter, bank and queue under partitions,
// kills and pauses are valid, and each history holds its final reads (or
// drains) after the faults.
func TestWorkloadsNoFalseAlarmOnEtcd(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	for _, c := range []struct{ workload, checker, final string }{
		{"set", "set", `"f":"read"`},
		{"counter", "counter", `"f":"read"`},
		{"bank", "bank", `"f":"read"`},
		{"queue", "total-queue", `"f":"drain"`},
	} {
		t.Run(c.workload, func(t *testing.T) {
			dir := t.TempDir()
			code, out, errOut := faultline(t, dir, "run", "--workload", c.workload, "--nemesis", "partition,kill,pause",
				"--nemesis-interval", "2s", "--time-limit", "15s", "--seed", "3", "--store", "store")
			if code != 0 {
				t.Fatalf("etcd %s: exit %d, want 0 (valid)\n%s\n%s", c.workload, code, out, errOut)
			}
			res := latestResults(t, dir)
			d := checkerDetails(t, res, c.checker)
			t.Logf("%s: %v", c.workload, d)
			h, _ := os.ReadFile(filepath.Join(dir, "store", "latest", "history.jsonl"))
			lines := strings.Split(strings.TrimSpace(string(h)), "\n")
			if last := lines[len(lines)-1]; !strings.Contains(last, c.final) || !strings.Contains(last, `"type":"ok"`) {
				t.Errorf("the history does not end with the final phase's %s: %s", c.final, last)
			}
			// No fault starts after the time limit: the operations
			// still in flight, and the final phase, run without faults.
			for _, l := range lines {
				var op struct {
					Time    int64  `json:"time"`
					Process any    `json:"process"`
					F       string `json:"f"`
				}
				if json.Unmarshal([]byte(l), &op) == nil && op.Process == "nemesis" && strings.HasPrefix(op.F, "start-") && op.Time > 15e9 {
					t.Errorf("a fault started %v into a 15 s run: %s", time.Duration(op.Time), l)
				}
			}
			if left := leftovers(t); len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

// PostgreSQL's bank: transfers at serializable keep every read's total;
// at read committed, reads and transfers interleave and reads see wrong
// totals, which the checker names.
func TestPostgresBank(t *testing.T) {
	controltest.RequireRoot(t)
	requireServer(t, "/usr/lib/postgresql/*/bin/postgres", "postgresql")
	dir := searchableTempDir(t)
	code, out, errOut := faultline(t, dir, "run", "--target", "postgres", "--workload", "bank", "--time-limit", "10s",
		"--concurrency", "10", "--store", "store")
	if code != 0 {
		t.Fatalf("bank at serializable: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = faultline(t, dir, "run", "--target", "postgres", "--workload", "bank", "--time-limit", "10s",
		"--concurrency", "10", "--isolation", "read-committed", "--store", "store")
	if code != 1 {
		t.Fatalf("bank at read committed: exit %d, want 1 (invalid)\n%s\n%s", code, out, errOut)
	}
	res := latestResults(t, dir)
	if types, _ := res["anomaly_types"].([]any); len(types) == 0 || !strings.Contains(out, "wrong-total") && !strings.Contains(out, "total") {
		t.Errorf("read committed: anomalies %v; the output must name the broken reads:\n%s", res["anomaly_types"], out)
	}
}

// Redis on one node with its default persistence (RDB snapshots) loses
// what it acknowledged since the last snapshot when it is killed: the set
// workload finds the lost elements, counts them in results.json and names
// them in the report. With appendfsync always nothing acknowledged is lost.
func TestRedisSetLosesAcknowledgedAddsOnKill(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	requireServer(t, "/usr/bin/redis-server", "redis-server")
	dir := searchableTempDir(t)
	args := []string{"run", "--target", "redis", "--workload", "set", "--nemesis", "kill", "--nemesis-interval", "3s",
		"--time-limit", "12s", "--seed", "1", "--store", "store"}
	code, out, errOut := faultline(t, dir, args...)
	if code != 1 {
		t.Fatalf("redis set, default persistence, kill: exit %d, want 1 (invalid)\n%s\n%s", code, out, errOut)
	}
	res := latestResults(t, dir)
	d := checkerDetails(t, res, "set")
	lost, _ := d["lost-count"].(float64)
	if lost < 1 {
		t.Errorf("results.json set lost-count = %v, want some lost elements: %v", d["lost-count"], d)
	}
	report, err := os.ReadFile(filepath.Join(dir, "store", "latest", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "lost") {
		t.Errorf("report.html does not name the lost elements")
	}
	t.Logf("default persistence: %v elements lost", lost)

	code, out, errOut = faultline(t, dir, append(args, "--target-opt", "persistence=aof-always")...)
	if code != 0 {
		t.Fatalf("redis set, aof-always, kill: exit %d, want 0 (valid)\n%s\n%s", code, out, errOut)
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// etcd's lock recipe (concurrency.Mutex over a session lease) under
// partitions that cut one member off for longer than the lease TTL: the
// holder on the cut-off member keeps believing it holds the lock after its
// lease expired and another process took it, so the checker finds two
// holders whose holds overlap in real time. Whether a partition catches a
// holder depends on timing (each 3 s partition cuts off the holder's member
// about one time in three), so the test runs up to four seeds and wants an
// overlap in at least one; fencing (the lock key's revision as token, checked
// by the resource) must keep the protected writes consistent in every run.
func TestEtcdLockOverlapsUnderPartitions(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	dir := t.TempDir()
	runs, overlapping := 0, 0
	for _, seed := range []string{"1", "2", "3", "4"} {
		runs++
		code, out, errOut := faultline(t, dir, "run", "--workload", "lock", "--nodes", "3", "--nemesis", "partition:one",
			"--nemesis-interval", "3s", "--time-limit", "30s", "--seed", seed, "--target-opt", "lock-ttl=1s", "--store", "store")
		if code != 0 && code != 1 {
			t.Fatalf("etcd lock, seed %s: exit %d, want 0 or 1\n%s\n%s", seed, code, out, errOut)
		}
		d := checkerDetails(t, latestResults(t, dir), "lock")
		n, _ := d["overlap-count"].(float64)
		if code == 1 && n == 0 || code == 0 && n > 0 {
			t.Fatalf("seed %s: exit %d with overlap-count %v\n%s", seed, code, n, out)
		}
		if stale, dup := d["stale-token-count"].(float64), d["duplicate-token-count"].(float64); stale > 0 || dup > 0 {
			t.Errorf("seed %s: fencing let %v writes with a stale token and %v duplicate tokens through\n%s", seed, stale, dup, out)
		}
		if n > 0 {
			overlapping++
			if !strings.Contains(out, "overlap") {
				t.Errorf("seed %s: the output does not name the overlapping holds:\n%s", seed, out)
			}
			t.Logf("seed %s: %v overlapping holds", seed, n)
			break
		}
	}
	t.Logf("overlapping holders in %d of %d 30 s runs", overlapping, runs)
	if overlapping == 0 {
		t.Errorf("no run of %d found two holders of the lock at once under partitions longer than the lease", runs)
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// Redis with a primary, two replicas and sentinel on every node: a
// partition that cuts the primary off makes the sentinels fail over to a
// replica while the old primary, which does not know, keeps acknowledging
// adds; when it rejoins as a replica it drops them. The set workload finds
// the acknowledged adds lost (by hand: about a third of the adds of each
// of four 60 s runs).
func TestRedisSentinelLosesAcknowledgedAddsAfterFailover(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	requireServer(t, "/usr/bin/redis-server", "redis-server")
	requireServer(t, "/usr/bin/redis-sentinel", "redis-sentinel")
	dir := searchableTempDir(t)
	code, out, errOut := faultline(t, dir, "run", "--target", "redis", "--nodes", "3", "--workload", "set",
		"--nemesis", "partition:primaries", "--nemesis-interval", "8s", "--time-limit", "20s", "--seed", "1", "--store", "store")
	if code != 1 {
		t.Fatalf("redis sentinel, set, partition of the primary: exit %d, want 1 (invalid)\n%s\n%s", code, out, errOut)
	}
	d := checkerDetails(t, latestResults(t, dir), "set")
	lost, _ := d["lost-count"].(float64)
	if lost < 1 || !strings.Contains(out, "acknowledged elements lost") {
		t.Errorf("lost-count %v; want acknowledged adds lost and named:\n%s", d["lost-count"], out)
	}
	// The sentinels did fail over: a sentinel log tells.
	logs, _ := filepath.Glob(filepath.Join(dir, "store", "latest", "nodes", "*", "*sentinel*"))
	switched := false
	for _, l := range logs {
		if b, _ := os.ReadFile(l); strings.Contains(string(b), "+switch-master") {
			switched = true
		}
	}
	if !switched {
		t.Errorf("no sentinel log (%v) says +switch-master: the primary was never replaced", logs)
	}
	t.Logf("%v acknowledged adds lost after the failover", lost)
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

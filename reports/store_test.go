package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
)

// run is one run directory a test built, and what went into it.
type run struct {
	Dir     string
	History histories.History
	Results checker.Results
}

// copyFile copies src to dst, creating dst's directory.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, b)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeResults(t testing.TB, dir string, res checker.Results) {
	t.Helper()
	b, err := res.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "results.json"), b)
}

// readResults reads results.json back, as `faultline report` does: the
// report must work from the file, not only from the checker's Go values.
func readResults(t testing.TB, dir string) checker.Results {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res checker.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// etcdRun builds a store directory from one of the recorded etcd histories
// (a Jepsen log), checks it with the cas-register model, writes porcupine's
// visualization of a failure (annotated with the nemesis windows), and
// writes the report.
func etcdRun(t testing.TB, store, logName, test, stamp string) run {
	t.Helper()
	dir := filepath.Join(store, test, stamp)
	copyFile(t, filepath.Join("testdata", logName), filepath.Join(dir, "jepsen.log"))
	h, err := readHistory(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", logName, err)
	}
	lres, lin, err := checker.Linearizable(h, checker.LinearizableOptions{Model: "cas-register"})
	if err != nil {
		t.Fatal(err)
	}
	stats := checker.Stats(h)
	res := checker.Compose(map[string]checker.Result{"linearizable": lres, "stats": stats}, stats.Details)
	writeResults(t, dir, res)
	extra := Extras{Generated: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Visualizations: map[string][]byte{}}
	for _, key := range lin.Keys() {
		var b bytes.Buffer
		if err := lin.WriteVisualization(&b, key, checker.NemesisAnnotations(h)); err != nil {
			t.Fatal(err)
		}
		extra.Visualizations[key] = b.Bytes()
	}
	writeFile(t, filepath.Join(dir, "plan.json"), []byte(`{"name":"`+test+`","target":"etcd","workload":"register","nodes":["n1","n2","n3","n4","n5"],"concurrency":5}`))
	for _, n := range []string{"n1", "n2", "n3"} {
		writeFile(t, filepath.Join(dir, "nodes", n, "etcd.log"), []byte("2014-06-01 12:00:00 etcd started on "+n+"\n"))
	}
	if err := Write(dir, h, readResults(t, dir), extra); err != nil {
		t.Fatal(err)
	}
	return run{Dir: dir, History: h, Results: res}
}

// appendRun builds a store directory from a list-append history made by
// the txn checker's own simulator with a planted write skew (G2-item), a
// nemesis that partitions and kills (its windows shade the plots; the
// simulated database ignores them), the real transactional check, and the
// controller's run section.
func appendRun(t testing.TB, store string) run {
	t.Helper()
	dir := filepath.Join(store, "append", "20250101T000200")
	sim := txn.AppendHistoryWith(txn.GenOptions{Seed: 3, Txns: 2500, Procs: 8, Keys: 6, OpsPerTxn: 4, FailRate: 0.03, InfoRate: 0.01, PlantG2: true})
	// 8 ms between events: a 40 s run.
	const step = 8 * ms
	nemesis := map[int64][]histories.Op{
		600:  {{Process: histories.Nemesis, Type: histories.Info, F: "start-partition", Value: map[string]any{"n1": []any{"n2", "n3"}}}},
		1500: {{Process: histories.Nemesis, Type: histories.Info, F: "stop-partition"}},
		2500: {{Process: histories.Nemesis, Type: histories.Info, F: "start-kill", Value: []any{"n2"}}},
		3100: {{Process: histories.Nemesis, Type: histories.Info, F: "stop-kill", Value: []any{"n2"}}},
		4200: {{Process: histories.Nemesis, Type: histories.Info, F: "start-partition", Value: map[string]any{"n3": []any{"n1", "n2"}}}},
	}
	var h histories.History
	for i, op := range sim {
		for _, n := range nemesis[int64(i)] {
			n.Time = int64(i) * step
			h = append(h, n)
		}
		op.Time = int64(i)*step + 1
		h = append(h, op)
	}
	h.Renumber()
	var buf bytes.Buffer
	if err := histories.WriteJSONL(&buf, h); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "history.jsonl"), buf.Bytes())
	txnRes, err := txn.Check(h, txn.Options{Workload: "append", ConsistencyModel: "strict-serializable"})
	if err != nil {
		t.Fatal(err)
	}
	if txnRes.Valid != checker.Invalid {
		t.Fatalf("the planted G2-item was not found: %s", txnRes.Summary)
	}
	stats := checker.Stats(h)
	res := checker.Compose(map[string]checker.Result{"append": txnRes, "stats": stats}, stats.Details)
	res.Run = map[string]any{"ops": len(h), "duration_seconds": float64(h[len(h)-1].Time) / 1e9, "ops_per_second": float64(len(h)/2) / (float64(h[len(h)-1].Time) / 1e9), "recovery_seconds": 1.7}
	writeResults(t, dir, res)
	writeFile(t, filepath.Join(dir, "plan.json"), []byte(`{"name":"append","target":"postgres","workload":"append","nodes":["n1","n2","n3"],"concurrency":8,"nemesis":["partition","kill"]}`))
	for _, n := range []string{"n1", "n2", "n3"} {
		writeFile(t, filepath.Join(dir, "nodes", n, "postgresql.log"), []byte(strings.Repeat("LOG:  checkpoint complete\n", 20)))
	}
	writeFile(t, filepath.Join(dir, "faultline.log"), []byte("run started\n"))
	if err := Write(dir, h, readResults(t, dir), Extras{Generated: time.Date(2025, 1, 1, 0, 2, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return run{Dir: dir, History: h, Results: res}
}

// partitionRun builds a store directory from a generated register history
// under partitions (faultline's generator in gen_test.go: ops on the
// isolated node time out or fail, and it recovers 1.5 s after each heal),
// checked for stats only: the availability and recovery sections.
func partitionRun(t testing.TB, store string) run {
	t.Helper()
	dir := filepath.Join(store, "partition", "20250101T000300")
	h := genHistory(8000, 8, 50, 7, false)
	var buf bytes.Buffer
	if err := histories.WriteJSONL(&buf, h); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "history.jsonl"), buf.Bytes())
	stats := checker.Stats(h)
	res := checker.Compose(map[string]checker.Result{"stats": stats}, stats.Details)
	span := float64(h[len(h)-1].Time) / 1e9
	res.Run = map[string]any{"ops": len(h), "duration_seconds": span, "ops_per_second": float64(len(h)/2) / span, "recovery_seconds": 1.5}
	writeResults(t, dir, res)
	for _, n := range []string{"n1", "n2", "n3"} {
		writeFile(t, filepath.Join(dir, "nodes", n, "etcd.log"), []byte("started\n"))
	}
	if err := Write(dir, h, readResults(t, dir), Extras{Generated: time.Date(2025, 1, 1, 0, 3, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return run{Dir: dir, History: h, Results: res}
}

// The store is built once per test binary and shared, read-only, by the
// tests that look at it.
var (
	storeOnce   sync.Once
	sharedDir   string
	sharedRuns  map[string]run
	sharedError error
)

// buildStore returns the shared store with four runs (an invalid and a
// valid etcd history, a transactional run with an anomaly, and a run under
// partitions) and store/latest.
func buildStore(t testing.TB) (string, map[string]run) {
	t.Helper()
	storeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faultline-reports-store-")
		if err != nil {
			sharedError = err
			return
		}
		sharedDir = dir
		var ok bool
		ft := &fatalRecorder{TB: t}
		func() {
			defer func() {
				if r := recover(); r != nil && r != errFatal {
					panic(r)
				}
			}()
			sharedRuns = makeStore(ft, dir)
			ok = true
		}()
		if !ok {
			sharedError = fmt.Errorf("building the test store: %s", ft.msg)
		}
	})
	if sharedError != nil {
		t.Fatal(sharedError)
	}
	return sharedDir, sharedRuns
}

var errFatal = errors.New("fatal")

// fatalRecorder turns Fatal into a panic caught by buildStore, so that a
// store that failed to build fails every test that needs it, not only the
// first.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatal(args ...any) { f.msg = fmt.Sprint(args...); panic(errFatal) }
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(errFatal)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func makeStore(t testing.TB, store string) map[string]run {
	runs := map[string]run{
		"invalid":   etcdRun(t, store, "etcd_000.log", "etcd-000", "20250101T000000"),
		"valid":     etcdRun(t, store, "etcd_002.log", "etcd-002", "20250101T000100"),
		"append":    appendRun(t, store),
		"partition": partitionRun(t, store),
	}
	if err := os.Symlink(filepath.Join("partition", "20250101T000300"), filepath.Join(store, "latest")); err != nil {
		t.Fatal(err)
	}
	return runs
}

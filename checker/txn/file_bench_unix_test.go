//go:build unix

package txn

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// checkFileEnv makes the test binary a child that reads and checks one
// history file, as `faultline check --workload append` does, and exits 0
// (valid), 1 (invalid) or 3 (error): see TestMain.
const checkFileEnv = "FAULTLINE_TXN_CHECK_FILE"

func TestMain(m *testing.M) {
	if path := os.Getenv(checkFileEnv); path != "" {
		os.Exit(checkFileChild(path))
	}
	os.Exit(m.Run())
}

func checkFileChild(path string) int {
	h, err := histories.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	res, err := Check(h, Options{Workload: "append"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if res.Valid != checker.Valid {
		return 1
	}
	return 0
}

// BenchmarkAppend1MFromFile is BenchmarkAppend1M as a user meets it: the
// million-transaction history written to a history.jsonl (about 380 MB),
// then read and checked by a fresh process, whose wall time, CPU time and
// peak RSS are what the benchmark reports (the parent's own memory, which
// holds the generated history, does not count).
//
//	go test -run XXX -bench Append1MFromFile -benchtime 1x ./checker/txn
func BenchmarkAppend1MFromFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "history.jsonl")
	writeHistory(b, path, AppendHistoryWith(GenOptions{Seed: 7, Txns: 1_000_000, Procs: 100, Keys: 100, OpsPerTxn: 4}))
	var cpu time.Duration
	var rss int64
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), checkFileEnv+"="+path)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("checking %s in a child: %v\n%s", path, err, out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rss = max(rss, ru.Maxrss*1024)
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
}

func writeHistory(b *testing.B, path string, h histories.History) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := histories.WriteJSONL(w, h); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

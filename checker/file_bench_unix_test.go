//go:build unix

package checker_test

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
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/internal/gen"
)

// checkFileEnv makes the test binary a child that reads and checks one
// history file, as `faultline check` does (histories.ReadFile, then
// suite.Check with the model inferred), and exits 0 (valid), 1 (invalid),
// 2 (unknown) or 3 (error): see TestMain.
const checkFileEnv = "FAULTLINE_CHECK_FILE"

func TestMain(m *testing.M) {
	if path := os.Getenv(checkFileEnv); path != "" {
		os.Exit(checkFileChild(path))
	}
	os.Exit(m.Run())
}

func checkFileChild(path string) int {
	suite.BatchGC() // as faultline check
	h, err := histories.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	out, err := suite.Check(h, path, suite.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch out.Results.Valid {
	case checker.Valid:
		return 0
	case checker.Invalid:
		return 1
	}
	return 2
}

// BenchmarkRegister1MFromFile is BenchmarkRegister1M as a user meets it:
// the million-op register history (10,000 keys, 50 processes, 2% info)
// written to a history.jsonl (about 200 MB), then read and checked by a
// fresh process, as `faultline check history.jsonl` does; the child's wall
// time (ns/op), CPU time and peak RSS are what the benchmark reports (the
// parent's own memory, which holds the generated history, does not count).
//
// Measured at load 2: 2.0-2.2 s wall, 3.6-3.8 CPU-s, 507 MB peak RSS
// (GOGC=100, as before suite.BatchGC: 1.9-2.1 s, 640-655 MB).
//
//	go test -run '^$' -bench Register1MFromFile -benchtime 5x ./checker
func BenchmarkRegister1MFromFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "history.jsonl")
	writeHistory(b, path, gen.RegisterHistory(1, 1_000_000, 10_000, 50, 0.02))
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

//go:build unix

package txn_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
)

// checkFileEnv makes the test binary a child that reads and checks one
// history file as `faultline check --workload append` does (txn.ReadFile,
// then suite.Check: the stats, the fault summary and the txn checker),
// and exits 0 (valid), 1 (invalid) or 3 (error): see TestMain. With
// checkFileGenericEnv set it reads the file as histories.ReadFile does
// instead, for comparison.
const (
	checkFileEnv        = "FAULTLINE_TXN_CHECK_FILE"
	checkFileGenericEnv = "FAULTLINE_TXN_CHECK_GENERIC"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(checkFileEnv); path != "" {
		os.Exit(checkFileChild(path))
	}
	os.Exit(m.Run())
}

func checkFileChild(path string) int {
	suite.BatchGC()
	opts := suite.Options{Workload: "append"}
	var h histories.History
	var err error
	if os.Getenv(checkFileGenericEnv) != "" {
		h, err = histories.ReadFile(path)
	} else {
		h, opts.Txn, err = txn.ReadAppendFile(path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	o, err := suite.Check(h, path, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	fmt.Println(o.Results.Checkers["append"].Summary)
	if o.Results.Valid != checker.Valid {
		return 1
	}
	return 0
}

// benchFromFile writes a list-append history of txns transactions (with a
// planted G2-item if plant) to a history.jsonl, then has a fresh process
// read and check it, whose wall time, CPU time and peak RSS are what the
// benchmark reports (the parent's own memory, which holds the generated
// history, does not count). The verdict must be valid, or invalid for
// the planted G2-item.
func benchFromFile(b *testing.B, txns int, plant bool) {
	path := filepath.Join(b.TempDir(), "history.jsonl")
	writeHistory(b, path, txns, plant)
	var cpu time.Duration
	var rss int64
	want := 0
	if plant {
		want = 1
	}
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), checkFileEnv+"="+path)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != want {
			b.Fatalf("checking %s in a child: exit %d (%v), want %d\n%s", path, code, err, want, out)
		}
		if plant && !bytesContains(out, "found G2-item ×1") {
			b.Fatalf("the planted G2-item was not found:\n%s", out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rss = max(rss, ru.Maxrss*1024)
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
}

func bytesContains(b []byte, s string) bool {
	return len(s) == 0 || len(b) >= len(s) && (string(b[:len(s)]) == s || bytesContains(b[1:], s))
}

// BenchmarkAppend1MFromFile is BenchmarkAppend1M as a user meets it: the
// million-transaction history written to a history.jsonl (about 380 MB),
// then read and checked by a fresh process as `faultline check --workload
// append` does.
//
// Measured on the 2-core development machine while it was shared (load
// average 4-13, so wall time is at the mercy of the other work; CPU time
// is not): before the fast reader (histories.ReadFile, then the check)
// 20.5 CPU-s, 47.8 s wall at load 13, peak RSS 2709 MB; with it 5.7-5.9
// CPU-s, 6.0-6.9 s wall at load 5, peak RSS 862 MB, the planted G2-item
// found alike. Of that, reading is about 2.3 CPU-s over both cores, the
// check (parse, graph, search) about 3 CPU-s on one. With the check on
// both cores and suite.BatchGC (machine at load 2): 3.3 s wall, 5.7
// CPU-s, 858 MB; planted: 3.5 s, 858 MB. With the encoding dropped as
// it is parsed (see BenchmarkAppend10MFromFile): 3.1 s, 5.5 CPU-s, 793
// MB; planted: 3.1 s, 800 MB.
//
//	go test -run XXX -bench 'Append1M.*FromFile' -benchtime 1x ./checker/txn
//
// FAULTLINE_TXN_CHECK_GENERIC=1 measures the general reader instead.
func BenchmarkAppend1MFromFile(b *testing.B) { benchFromFile(b, 1_000_000, false) }

// BenchmarkAppend1MPlantedG2FromFile is the same with one write-skew pair
// planted, which must be found (G2-item).
func BenchmarkAppend1MPlantedG2FromFile(b *testing.B) { benchFromFile(b, 1_000_000, true) }

// BenchmarkAppend10MFromFile is ten million transactions (a history.jsonl
// of about 3.9 GB in b.TempDir: mind the space). It runs only with
// FAULTLINE_BENCH_10M=1. Measured as above (load 5): 60 CPU-s, 105 s wall,
// peak RSS 8604 MB, of which the history (20M ops of 120 bytes) is 2.3 GB
// and the check's own arrays and graph most of the rest; with the check on
// both cores, 80 s and 7.3 GB. Then the heap's growth past the live data
// capped (suite.BatchGC), the reader's encoding dropped while it is
// parsed, elements of 24 bytes and ops of 112: 48 s, 88 CPU-s, 5189 MB,
// whose peak is while the graph is built (the history 2.2 GB, the
// parsed transactions 1.4 GB, the graph 0.8 GB).
//
//	FAULTLINE_BENCH_10M=1 go test -run XXX -bench Append10MFromFile -benchtime 1x -timeout 1h ./checker/txn
func BenchmarkAppend10MFromFile(b *testing.B) {
	if ok, _ := strconv.ParseBool(os.Getenv("FAULTLINE_BENCH_10M")); !ok {
		b.Skip("writes a 3.9 GB history: set FAULTLINE_BENCH_10M=1")
	}
	benchFromFile(b, 10_000_000, false)
}

// writeHistory writes the generated history to path as it is generated
// (ten million transactions would take about 10 GB as a History).
func writeHistory(b *testing.B, path string, txns int, plant bool) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := txn.WriteAppendHistory(f, txn.GenOptions{Seed: 7, Txns: txns, Procs: 100, Keys: 100, OpsPerTxn: 4, PlantG2: plant}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

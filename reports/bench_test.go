package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// millionOps is a generated 1,000,000-op history (500,000 client
// operations over 32 workers, with partitions) and its stats result.
func millionOps(tb testing.TB) (histories.History, checker.Results) {
	tb.Helper()
	h := genHistory(1_000_000, 32, 1, 42, false)
	stats := checker.Stats(h)
	res := checker.Compose(map[string]checker.Result{"stats": stats, "linearizable": {Valid: checker.Valid, Summary: "linearizable (cas-register): 500000 ops on 5 keys"}}, stats.Details)
	return h, res
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkReport1M builds the report of a 1,000,000-op history: the issue
// asks for at most 10 s and 25 MB.
func BenchmarkReport1M(b *testing.B) {
	h, res := millionOps(b)
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		var cw countingWriter
		if err := WriteHTML(&cw, h, res, Extras{}); err != nil {
			b.Fatal(err)
		}
		size = cw.n
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB/report")
}

// TestMillionOpReportBudget holds the limits for a 1,000,000-op
// history: report.html (and junit.xml) written in at most 10 s, the page at
// most 25 MB, and the page saying that it was downsampled.
func TestMillionOpReportBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1,000,000-op history")
	}
	h, res := millionOps(t)
	if len(h) != 1_000_000 {
		t.Fatalf("generated %d ops", len(h))
	}
	dir := t.TempDir()
	start := time.Now()
	if err := Write(dir, h, res, Extras{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	b, err := readFileString(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1,000,000 ops: report.html %.1f MiB in %s", float64(len(b))/(1<<20), took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("took %s, budget 10 s", took)
	}
	if len(b) > 25_000_000 {
		t.Errorf("report.html is %d bytes, budget 25 MB", len(b))
	}
	for _, w := range []string{"Downsampled:", "Showing 3000 of 500000 operations"} {
		if !strings.Contains(b, w) {
			t.Errorf("the page does not say %q", w)
		}
	}
}

func readFileString(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

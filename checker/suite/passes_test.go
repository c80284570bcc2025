package suite

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// TestPassesSame: Check with the passes made op by op (a run's online
// check) gives exactly what Check makes of the history itself, on every
// history of the test data (faults, crashed and unfinished ops, every
// workload) and on cut-off ones; and a history the passes could not pair
// gets Pairs's own error.
func TestPassesSame(t *testing.T) {
	var files []string
	_ = filepath.WalkDir("../../testdata", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			files = append(files, p)
		}
		return nil
	})
	compared, errs := 0, 0
	for _, f := range files {
		full, err := histories.ReadFile(f)
		if err != nil {
			continue // bad on purpose
		}
		// The first invocation twice: Pairs refuses it.
		bad := append(histories.History{full[0], full[0]}, full[1:]...)
		bad.Renumber()
		for _, h := range []histories.History{full, full[:len(full)*2/3], bad} {
			opts := Options{Workload: InferWorkload(h)}
			if strings.Contains(f, "/workloads/") {
				opts.Workload = filepath.Base(filepath.Dir(f))
			}
			want, werr := Check(h, f, opts)
			ps := NewPasses()
			for i := range h {
				ps.Add(h, i)
			}
			opts.Passes = ps
			got, gerr := Check(h, f, opts)
			if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
				t.Fatalf("%s: error %v, want %v", f, gerr, werr)
			}
			if werr != nil {
				errs++
				continue
			}
			for _, o := range []*Outcome{&want, &got} {
				for k, r := range o.Results.Checkers {
					r.Seconds = 0
					o.Results.Checkers[k] = r
				}
				o.Elapsed = 0
			}
			wj, _ := json.Marshal(want.Results)
			gj, _ := json.Marshal(got.Results)
			if string(wj) != string(gj) || want.Counts != got.Counts {
				t.Fatalf("%s (%d ops): with the passes\n%s %+v\nwant\n%s %+v", f, len(h), gj, got.Counts, wj, want.Counts)
			}
			compared++
		}
	}
	if errs < 10 {
		t.Errorf("only %d histories refused", errs)
	}
	if compared < 20 {
		t.Errorf("only %d histories compared", compared)
	}
	t.Logf("%d histories compared", compared)
}

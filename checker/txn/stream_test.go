package txn

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// streamOf feeds h to a new stream of workload op by op, as a run's online
// check does.
func streamOf(h histories.History, workload string) *Stream {
	s := NewStream(workload)
	for i := range h {
		s.Add(h[:i+1], i)
	}
	return s
}

// TestStreamSameAsOffline: a history parsed op by op while it is recorded
// is checked exactly as the whole history is, on every transactional
// history of the test data and generated ones with every anomaly the
// generator plants (the stream must have been used for the generated
// ones, not fallen back to the offline parse).
func TestStreamSameAsOffline(t *testing.T) {
	type named struct {
		name    string
		h       histories.History
		mustUse bool
	}
	var hs []named
	for _, dir := range []string{"testdata", "../../testdata"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (filepath.Ext(p) == ".jsonl" || filepath.Ext(p) == ".gz" && filepath.Ext(p[:len(p)-3]) == ".jsonl") {
				if h, err := histories.ReadFile(p); err == nil {
					hs = append(hs, named{p, h, false})
				}
			}
			return nil
		})
	}
	gen := generatedHistories()
	names := slices.Sorted(maps.Keys(gen))
	for _, name := range names {
		hs = append(hs, named{name, gen[name], true})
	}
	used := 0
	for _, x := range hs {
		workload := inferWorkload(x.h)
		if workload != "append" && workload != "rw-register" {
			continue
		}
		if x.mustUse {
			pairs, err := histories.Pairs(x.h, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := streamOf(x.h, workload).finish(x.h, pairs); !ok {
				t.Fatalf("%s: the stream could not follow the history", x.name)
			}
		}
		for _, o := range sameOpts {
			o.Workload = workload
			wres, werr := CheckContext(context.Background(), x.h, o)
			gres, gerr := CheckStreamContext(context.Background(), x.h, streamOf(x.h, workload), o)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("%s %+v: check error %v, want %v", x.name, o, gerr, werr)
			}
			wj, _ := json.Marshal(wres)
			gj, _ := json.Marshal(gres)
			if string(wj) != string(gj) || wres.Summary != gres.Summary {
				t.Fatalf("%s %+v: the stream gives\n%s\nwant\n%s", x.name, o, gj, wj)
			}
		}
		used++
	}
	if used < 10 {
		t.Errorf("only %d histories were compared", used)
	}
}

// A history the stream cannot follow (a process invoking twice) is checked
// offline, with the offline parse's error.
func TestStreamFallsBack(t *testing.T) {
	h := AppendHistoryWith(GenOptions{Seed: 1, Txns: 50, Procs: 3, Keys: 2, OpsPerTxn: 2})
	// The first invocation again, before it completed.
	bad := append(histories.History{h[0], h[0]}, h[1:]...)
	bad.Renumber()
	s := streamOf(bad, "append")
	_, werr := CheckContext(context.Background(), bad, Options{Workload: "append"})
	_, gerr := CheckStreamContext(context.Background(), bad, s, Options{Workload: "append"})
	if werr == nil || fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("error %v, want %v (not nil)", gerr, werr)
	}
}

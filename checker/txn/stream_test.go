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

// streamOf feeds h to a new stream for opts op by op, as a run's online
// check does.
func streamOf(h histories.History, opts Options) *Stream {
	s := NewStream(opts)
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
	// Generated histories with no anomaly.
	valid := map[string]bool{}
	for name, o := range map[string]GenOptions{
		"valid-rt":     {Seed: 7, Txns: 4000, Procs: 20, Keys: 6, OpsPerTxn: 4},
		"valid-failed": {Seed: 8, Txns: 4000, Procs: 10, Keys: 4, OpsPerTxn: 5, FailRate: 0.05, InfoRate: 0.05},
		"valid-1key":   {Seed: 9, Txns: 2000, Procs: 30, Keys: 1, OpsPerTxn: 3, InfoRate: 0.1},
	} {
		hs = append(hs, named{name, AppendHistoryWith(o), true})
		valid[name] = true
	}
	// Snapshot isolation: write skew throughout.
	for name, o := range map[string]GenOptions{
		"skews":        {Seed: 10, Txns: 6000, Procs: 10, Keys: 6, OpsPerTxn: 4, WriteSkews: 150},
		"skews-failed": {Seed: 11, Txns: 6000, Procs: 20, Keys: 3, OpsPerTxn: 4, WriteSkews: 100, FailRate: 0.05, InfoRate: 0.02},
	} {
		hs = append(hs, named{name, AppendHistoryWith(o), true})
	}
	used, graphUsed, graphDone := 0, 0, 0
	// Components are searched as the run goes on once they are
	// searchWindow behind: here soon, so that most are, and some change
	// after (and are searched again at the end).
	defer func(w int32) { searchWindow = w }(searchWindow)
	for i, x := range hs {
		searchWindow = []int32{32, 1 << 14, 200}[i%3]
		workload := inferWorkload(x.h)
		if workload != "append" && workload != "rw-register" {
			continue
		}
		if x.mustUse {
			pairs, err := histories.Pairs(x.h, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := streamOf(x.h, Options{Workload: workload}).finish(x.h, pairs); !ok {
				t.Fatalf("%s: the stream could not follow the history", x.name)
			}
		}
		for _, o := range sameOpts {
			o.Workload = workload
			wres, werr := CheckContext(context.Background(), x.h, o)
			s := streamOf(x.h, o)
			gres, gerr := CheckStreamContext(context.Background(), x.h, s, o)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("%s %+v: check error %v, want %v", x.name, o, gerr, werr)
			}
			wj, _ := json.Marshal(wres)
			gj, _ := json.Marshal(gres)
			if string(wj) != string(gj) || wres.Summary != gres.Summary {
				t.Fatalf("%s %+v: the stream gives\n%s\nwant\n%s", x.name, o, gj, wj)
			}
			if s.graphUsed {
				graphUsed++
				graphDone += s.graphDone
			}
			// Histories of a correct database are checked by the graph
			// built online, whatever the model.
			if valid[x.name] && !s.graphUsed {
				t.Errorf("%s %+v: the online graph was not used", x.name, o)
			}
		}
		used++
	}
	if used < 10 {
		t.Errorf("only %d histories were compared", used)
	}
	if graphDone < 100 {
		t.Errorf("only %d components were searched as the history came", graphDone)
	}
	t.Logf("%d histories compared; the online graph gave %d of the results, with %d components searched as the history came", used, graphUsed, graphDone)
}

// A history the stream cannot follow (a process invoking twice) is checked
// offline, with the offline parse's error.
func TestStreamFallsBack(t *testing.T) {
	h := AppendHistoryWith(GenOptions{Seed: 1, Txns: 50, Procs: 3, Keys: 2, OpsPerTxn: 2})
	// The first invocation again, before it completed.
	bad := append(histories.History{h[0], h[0]}, h[1:]...)
	bad.Renumber()
	s := streamOf(bad, Options{Workload: "append"})
	_, werr := CheckContext(context.Background(), bad, Options{Workload: "append"})
	_, gerr := CheckStreamContext(context.Background(), bad, s, Options{Workload: "append"})
	if werr == nil || fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("error %v, want %v (not nil)", gerr, werr)
	}
}

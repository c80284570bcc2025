package txn

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// sameCheck checks the file both ways, as histories.ReadFile and Check and
// as ReadFile and CheckIngested, and fails unless both read the same
// history (but for the transactions' values) and give the same result.
// It says whether the fast path took the file.
func sameCheck(t *testing.T, path string, opts []Options) bool {
	t.Helper()
	want, werr := histories.ReadFile(path)
	got, in, gerr := ReadFile(path, "")
	if fmt.Sprint(werr) != fmt.Sprint(gerr) {
		t.Fatalf("%s: read error %v, want %v", path, gerr, werr)
	}
	// The readers return a cut-off last line as itself, unwrapped.
	wt, _ := werr.(*histories.TruncatedError)
	gt, _ := gerr.(*histories.TruncatedError)
	if (wt == nil) != (gt == nil) {
		t.Fatalf("%s: truncation %v, want %v", path, gerr, werr)
	}
	if wt != nil {
		want, got = wt.History, gt.History
	} else if werr != nil {
		return in != nil
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d ops, want %d", path, len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if in != nil && in.refs[i] != 0 {
			if g.Value != nil {
				t.Fatalf("%s: op %d kept its value", path, i)
			}
			g.Value = newEncValues(got, in).value(i)
		}
		if !reflect.DeepEqual(w, g) {
			t.Fatalf("%s: op %d is %#v, want %#v", path, i, g, w)
		}
	}
	for k, o := range opts {
		if k > 0 && in != nil {
			// CheckIngested used the last one up.
			var err error
			if got, in, err = ReadFile(path, ""); in == nil {
				t.Fatalf("%s: read again, the fast reader did not take it", path)
			}
			if wt != nil {
				got = err.(*histories.TruncatedError).History
			}
		}
		wres, werr := Check(want, o)
		gres, gerr := CheckIngested(got, in, o)
		if fmt.Sprint(werr) != fmt.Sprint(gerr) {
			t.Fatalf("%s %+v: check error %v, want %v", path, o, gerr, werr)
		}
		wj, _ := json.Marshal(wres)
		gj, _ := json.Marshal(gres)
		if string(wj) != string(gj) || wres.Summary != gres.Summary {
			t.Fatalf("%s %+v: fast path gives\n%s\nwant\n%s", path, o, gj, wj)
		}
	}
	return in != nil
}

var sameOpts = []Options{
	{},
	{ConsistencyModel: "serializable"},
	{ConsistencyModel: "read-committed", Also: []string{"G2"}},
	{ConsistencyModel: "snapshot-isolation", Anomalies: []string{"G1"}, WFRKeys: true, MaxCases: 2},
}

// TestIngestSameAsGeneric: for every transactional JSONL history of the
// test data, and generated ones with each anomaly the generator plants,
// the fast reader gives the checker exactly what the general reader
// does.
func TestIngestSameAsGeneric(t *testing.T) {
	files, gen := sameFiles(t)
	fast := 0
	for _, p := range files {
		if sameCheck(t, p, sameOpts) {
			fast++
		}
	}
	if fast < len(gen)+1 {
		t.Errorf("the fast reader took %d of %d files", fast, len(files))
	}
	// In pieces of a few lines, the encoding is dropped piece by piece
	// while the transactions are parsed.
	smallPieces(t)
	for _, p := range oddFiles(files) {
		sameCheck(t, p, sameOpts)
	}
}

// smallPieces makes the fast reader cut files into pieces of 4 KB for the
// rest of the test.
func smallPieces(t *testing.T) {
	old := pieceSize
	pieceSize = 4 << 10
	t.Cleanup(func() { pieceSize = old })
}

// TestRebuiltValues: once the fast reader's encoding is released, every
// transaction's micro-ops rebuilt from the parsed form are those of the
// history, as the general reader reads it, for every file of
// TestIngestSameAsGeneric the fast reader takes.
func TestRebuiltValues(t *testing.T) {
	files, _ := sameFiles(t)
	rebuiltValues(t, files)
	// In pieces of a few lines (dropped piece by piece while parsing).
	smallPieces(t)
	rebuiltValues(t, oddFiles(files))
}

// oddFiles are the generated histories of oddValues, and those with
// failed and crashed transactions.
func oddFiles(files []string) []string {
	var odd []string
	for _, f := range files {
		if b := filepath.Base(f); strings.Contains(b, "-odd") || strings.HasSuffix(b, "-2.jsonl") || strings.HasSuffix(b, "-3.jsonl") {
			odd = append(odd, f)
		}
	}
	return odd
}

func rebuiltValues(t *testing.T, files []string) {
	rebuilt := 0
	for _, path := range files {
		want, werr := histories.ReadFile(path)
		got, in, err := ReadFile(path, "")
		if tr, ok := err.(*histories.TruncatedError); ok {
			got, err, want = tr.History, nil, werr.(*histories.TruncatedError).History
		}
		if err != nil || in == nil {
			continue
		}
		p, err := parse(got, in.Workload(), newEncValues(got, in))
		if err != nil {
			continue // as the general reader's check says (TestIngestSameAsGeneric)
		}
		if !p.rebuilt || in.refs != nil {
			t.Fatalf("%s: the encoding was not released", path)
		}
		for ti := range p.txns {
			tx := &p.txns[ti]
			at := tx.inv
			if tx.st == stOK {
				at = tx.cmp
			}
			if got := p.txnValue(int32(ti)); !reflect.DeepEqual(got, want[at].Value) {
				t.Fatalf("%s: line %d: rebuilt %s, want %s", path, want[at].Line, histories.FormatValue(got), histories.FormatValue(want[at].Value))
			}
			for mi := tx.m0; mi < tx.m1; mi++ {
				w := want[at].Value.([]any)[mi-tx.m0].([]any)[2]
				if got := p.mopValue(int32(ti), mi); !reflect.DeepEqual(got, w) {
					t.Fatalf("%s: line %d, micro-op %d: rebuilt %s, want %s", path, want[at].Line, mi-tx.m0, histories.FormatValue(got), histories.FormatValue(w))
				}
			}
		}
		rebuilt++
	}
	if rebuilt < min(10, len(files)) {
		t.Errorf("only %d histories rebuilt", rebuilt)
	}
}

// sameFiles are the transactional JSONL histories of the test data, and
// generated ones (gen, written to a temporary directory) with each anomaly
// the generator plants, one of them gzip-compressed too.
func sameFiles(t *testing.T) (files []string, gen map[string]histories.History) {
	for _, dir := range []string{"testdata", "../../testdata", "../../../shared/corpora"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (filepath.Ext(p) == ".jsonl" || filepath.Ext(p) == ".gz" && filepath.Ext(p[:len(p)-3]) == ".jsonl") {
				files = append(files, p)
			}
			return nil
		})
	}
	dir := t.TempDir()
	gen = generatedHistories()
	for name, h := range gen {
		p := filepath.Join(dir, name+".jsonl")
		writeJSONLFile(t, p, h, false)
		files = append(files, p)
	}
	p := filepath.Join(dir, "append-1.jsonl.gz")
	writeJSONLFile(t, p, gen["append-1"], true)
	return append(files, p), gen
}

// generatedHistories are list-append and rw-register histories with each
// anomaly the generator plants, by name.
func generatedHistories() map[string]histories.History {
	gen := map[string]histories.History{}
	for _, reg := range []bool{false, true} {
		for i, o := range []GenOptions{
			{Seed: 1, Txns: 3000, Procs: 10, Keys: 8, OpsPerTxn: 4},
			{Seed: 2, Txns: 3000, Procs: 10, Keys: 5, OpsPerTxn: 6, FailRate: 0.1, InfoRate: 0.1},
			{Seed: 3, Txns: 3000, Procs: 20, Keys: 5, OpsPerTxn: 4, StaleReads: 0.05, MaxWritesPerKey: 8},
			{Seed: 4, Txns: 3000, Procs: 10, Keys: 8, OpsPerTxn: 4, PlantG2: true, InfoRate: 0.05},
			{Seed: 5, Txns: 20000, Procs: 50, Keys: 30, OpsPerTxn: 4, StaleReads: 0.01, FailRate: 0.02},
		} {
			h, name := AppendHistoryWith(o), fmt.Sprintf("append-%d", i)
			if reg {
				h, name = RWRegisterHistory(o), fmt.Sprintf("register-%d", i)
			}
			gen[name] = h
		}
	}
	// What a correct database never writes, and the checker must still
	// show as written: reads in an order that contradicts other reads of
	// the key (incompatible-order), and values read by transactions that
	// did not commit (their invocations carry them here).
	for _, reg := range []bool{false, true} {
		o := GenOptions{Seed: 6, Txns: 3000, Procs: 10, Keys: 5, OpsPerTxn: 4, FailRate: 0.1, InfoRate: 0.1}
		h, name := AppendHistoryWith(o), "append-odd"
		if reg {
			h, name = RWRegisterHistory(o), "register-odd"
		}
		gen[name] = oddValues(h)
	}
	return gen
}

// oddValues swaps the last two elements of every 40th list read, and
// gives the reads of invocations a value.
func oddValues(h histories.History) histories.History {
	h = slices.Clone(h)
	reads := 0
	for i := range h {
		op := &h[i]
		mops, ok := op.Value.([]any)
		if op.F != "txn" || !ok {
			continue
		}
		vals := make([]any, len(mops))
		for j, m := range mops {
			m := slices.Clone(m.([]any))
			if m[0] == "r" {
				switch l, _ := m[2].([]any); {
				case op.Type == histories.Invoke && j%2 == 0:
					m[2] = int64(-1)
				case op.Type == histories.Invoke:
					m[2] = []any{int64(-1), int64(-2)}
				case len(l) >= 2:
					if reads++; reads%40 == 0 {
						l = slices.Clone(l)
						l[len(l)-2], l[len(l)-1] = l[len(l)-1], l[len(l)-2]
						m[2] = l
					}
				}
			}
			vals[j] = m
		}
		op.Value = vals
	}
	return h
}

func writeJSONLFile(t testing.TB, path string, h histories.History, compress bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !compress {
		if err := histories.WriteJSONL(f, h); err != nil {
			t.Fatal(err)
		}
		return
	}
	zw := gzip.NewWriter(f)
	if err := histories.WriteJSONL(zw, h); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

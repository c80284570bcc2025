package checker

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

const corpora = "../testdata/corpora"

// expected reads a corpus folder's EXPECTED.txt: file -> verdict.
func expected(t testing.TB, dir string) map[string]Validity {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "EXPECTED.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]Validity{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("%s/EXPECTED.txt:%d: want FILE VERDICT, got %q", dir, n, line)
		}
		switch fields[1] {
		case "linearizable":
			out[fields[0]] = Valid
		case "not-linearizable":
			out[fields[0]] = Invalid
		default:
			t.Fatalf("%s/EXPECTED.txt:%d: unknown verdict %q", dir, n, fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCorpora checks every history of the recorded corpora against its
// known verdict: 102 Jepsen runs against etcd (a cas-register) and
// porcupine's kv histories; each under both semantics (faultline's strict
// reading of nil reads and failed ops, and Knossos', the default for these
// Jepsen formats), which must both give every verdict of EXPECTED.txt. (The
// etcd logs have reads of nil in 92 files and failed cas without an error
// in all 102, but no verdict depends on how they are read. The kv model
// reads both semantics alike.)
func TestCorpora(t *testing.T) {
	folders := []struct {
		dir   string
		model string
		skip  map[string]bool // files with no verdict
	}{
		{"porcupine-jepsen-etcd", "cas-register", map[string]bool{"etcd_095.log": true}},
		{"porcupine-kv", "kv", nil},
	}
	for _, folder := range folders {
		dir := filepath.Join(corpora, folder.dir)
		want := expected(t, dir)
		// Every history in the folder has a verdict.
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if n := e.Name(); n != "EXPECTED.txt" && !folder.skip[n] {
				if _, ok := want[n]; !ok {
					t.Errorf("%s/%s has no verdict in EXPECTED.txt", folder.dir, n)
				}
			}
		}
		files := make([]string, 0, len(want))
		for f := range want {
			files = append(files, f)
		}
		sort.Strings(files)
		counts := map[Validity]int{}
		for _, file := range files {
			t.Run(folder.dir+"/"+file, func(t *testing.T) {
				h, err := histories.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				model, err := InferModel(h)
				if err != nil || model != folder.model {
					t.Fatalf("inferred model %q (%v), want %s", model, err, folder.model)
				}
				if s := h.Semantics(); s != histories.SemanticsKnossos {
					t.Errorf("a Jepsen history reads with semantics %v, want knossos", s)
				}
				for _, sem := range []histories.Semantics{histories.SemanticsUnset, histories.SemanticsFaultline, histories.SemanticsKnossos} {
					r, lin, err := Linearizable(h, LinearizableOptions{Semantics: sem})
					if err != nil {
						t.Fatal(err)
					}
					if r.Valid != want[file] {
						t.Fatalf("semantics %q: verdict %v, want %v: %s", sem, r.Valid, want[file], r.Summary)
					}
					if knossos := strings.Contains(r.Summary, "Knossos semantics"); knossos != (sem != histories.SemanticsFaultline && folder.model == "cas-register") {
						t.Errorf("semantics %q: the summary does not say which: %s", sem, r.Summary)
					}
					if sem == histories.SemanticsUnset {
						counts[r.Valid]++
					}
					if r.Valid == Invalid {
						d := r.Details.(LinearizableDetails)
						if len(d.Failures) == 0 || len(d.Failures[0].Stuck) == 0 || lin == nil || len(lin.Keys()) != len(d.Failures) {
							t.Fatalf("an invalid verdict must name the ops that could not be linearized: %+v", d)
						}
						wantContains(t, r.Summary, "could not linearize: process ")
					}
				}
			})
		}
		t.Logf("%s: %d histories, %d linearizable, %d not", folder.dir, len(files), counts[Valid], counts[Invalid])
	}
}

// TestHandWritten checks the Knossos-style histories in
// testdata/linearizable: for each model, one with a known violation and the
// same history with the violating op removed.
func TestHandWritten(t *testing.T) {
	cases := []struct {
		model string
		// stuck is the op the bad history's summary must name.
		stuck string
	}{
		{"register", "process 0 read 1 (ok at index 8"},
		{"cas-register", `key x: no linearization of 4 ops; stuck after 2 (state 1) — could not linearize: process 2 read 0 (ok at index 9, line 10)`},
		{"multi-register", `process 1 txn [["read" "x" 2] ["read" "y" 1]] (ok at index 9, line 10)`},
		{"mutex", "process 1 acquire (ok at index 6, line 7)"},
		{"kv", `key a: no linearization of 4 ops; stuck after 3 (state "xy") — could not linearize: process 1 get "x" (ok at index 11, line 12)`},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			for _, variant := range []string{"bad", "ok"} {
				h, err := histories.ReadFile(filepath.Join("../testdata/linearizable", c.model+"-"+variant+".edn"))
				if err != nil {
					t.Fatal(err)
				}
				inferred, err := InferModel(h)
				if err != nil || inferred != c.model {
					t.Errorf("%s: inferred %q, %v", variant, inferred, err)
				}
				r, lin, err := Linearizable(h, LinearizableOptions{Model: c.model})
				if err != nil {
					t.Fatal(err)
				}
				if variant == "ok" {
					if r.Valid != Valid {
						t.Errorf("%s-ok: %v: %s", c.model, r.Valid, r.Summary)
					}
					continue
				}
				if r.Valid != Invalid || lin == nil {
					t.Fatalf("%s-bad: %v: %s", c.model, r.Valid, r.Summary)
				}
				wantContains(t, r.Summary, c.stuck)
			}
		})
	}
}

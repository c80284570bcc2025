package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Knossos-style histories written for these tests, on which Knossos'
// reading and faultline's strict one disagree.
const (
	// A read of nil after a write: Knossos reads the nil as unknown.
	knossosNilRead = `[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value nil}]
`
	// A cas that failed, without an error, while the register held its
	// old value: Knossos drops it, faultline reads a compare that saw
	// another value.
	knossosFailedCAS = `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :cas, :value [1 2]}
{:process 1, :type :fail, :f :cas, :value [1 2]}
{:process 2, :type :invoke, :f :read, :value nil}
{:process 2, :type :ok, :f :read, :value 1}
`
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckSemantics: Jepsen/Knossos input gets Knossos' verdict by
// default, the strict one with --semantics faultline; faultline's JSONL the
// other way round; the text and JSON output say which semantics was used.
func TestCheckSemantics(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, edn, model string }{
		{"nil-read.edn", knossosNilRead, "register"},
		{"failed-cas.edn", knossosFailedCAS, "cas-register"},
	} {
		file := writeFile(t, dir, c.name, c.edn)
		code, out, errOut := faultline(t, "", "check", file)
		if code != 0 || !strings.Contains(out, "VALID ("+c.model) || !strings.Contains(out, "semantics: knossos") || !strings.Contains(out, "Knossos semantics") {
			t.Errorf("%s: exit %d, want 0 under Knossos' semantics:\n%s%s", c.name, code, out, errOut)
		}
		code, out, errOut = faultline(t, "", "check", "--semantics", "faultline", file)
		if code != 1 || !strings.Contains(out, "INVALID ("+c.model) || !strings.Contains(out, "semantics: faultline") {
			t.Errorf("%s --semantics faultline: exit %d, want 1:\n%s%s", c.name, code, out, errOut)
		}
		code, out, _ = faultline(t, "", "check", "--semantics", "knossos", file)
		if code != 0 {
			t.Errorf("%s --semantics knossos: exit %d:\n%s", c.name, code, out)
		}
		for sem, want := range map[string]int{"": 0, "faultline": 1} {
			args := []string{"check", "--format", "json", file}
			if sem != "" {
				args = append(args, "--semantics", sem)
			} else {
				sem = "knossos"
			}
			code, out, errOut := faultline(t, "", args...)
			var res struct {
				Semantics string `json:"semantics"`
				Valid     string `json:"valid"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || code != want || res.Semantics != sem {
				t.Errorf("%s %v: exit %d (%v), semantics %q, want %d and %q:\n%s%s", c.name, args, code, err, res.Semantics, want, sem, out, errOut)
			}
		}
	}

	// The same ops as faultline's JSONL: strict by default.
	jsonl := writeFile(t, dir, "nil-read.jsonl", `{"process":0,"type":"invoke","f":"write","value":1}
{"process":0,"type":"ok","f":"write","value":1}
{"process":1,"type":"invoke","f":"read","value":null}
{"process":1,"type":"ok","f":"read","value":null}
`)
	if code, out, errOut := faultline(t, "", "check", jsonl); code != 1 || !strings.Contains(out, "semantics: faultline") {
		t.Errorf("jsonl: exit %d, want 1:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := faultline(t, "", "check", "--semantics", "knossos", jsonl); code != 0 || !strings.Contains(out, "semantics: knossos") {
		t.Errorf("jsonl --semantics knossos: exit %d, want 0:\n%s%s", code, out, errOut)
	}
	if code, _, errOut := faultline(t, "", "check", "--semantics", "elle", jsonl); code != 3 || !strings.Contains(errOut, "--semantics") {
		t.Errorf("--semantics elle: exit %d, want 3: %s", code, errOut)
	}
	// The kv model reads both alike, and says so.
	if code, out, _ := faultline(t, "", "check", repoPath("testdata/linearizable/kv-ok.edn")); code != 0 || !strings.Contains(out, "semantics: knossos (the default for Jepsen/Knossos input; --semantics faultline reads strictly): the kv model reads both semantics alike") {
		t.Errorf("kv: exit %d:\n%s", code, out)
	}
}

// TestCheckInitialMap: --initial takes a multi-register's map as Knossos
// writes it (or as JSON).
func TestCheckInitialMap(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "multi.edn", `[{:process 0, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}
 {:process 0, :type :ok, :f :txn, :value [[:read :x 0] [:read :y 0]]}
 {:process 1, :type :invoke, :f :txn, :value [[:write :x 1]]}
 {:process 1, :type :ok, :f :txn, :value [[:write :x 1]]}
 {:process 0, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}
 {:process 0, :type :ok, :f :txn, :value [[:read :x 1] [:read :y 0]]}]
`)
	if code, out, _ := faultline(t, "", "check", file); code != 1 {
		t.Errorf("registers start nil, 0 was read: exit %d, want 1:\n%s", code, out)
	}
	for _, init := range []string{"{:x 0 :y 0}", `{"x": 0, "y": 0}`} {
		if code, out, errOut := faultline(t, "", "check", "--initial", init, file); code != 0 || !strings.Contains(out, "VALID (multi-register") {
			t.Errorf("--initial %s: exit %d, want 0:\n%s%s", init, code, out, errOut)
		}
	}
	if code, out, _ := faultline(t, "", "check", "--initial", "{:x 1 :y 0}", file); code != 1 {
		t.Errorf("--initial {:x 1 :y 0}: exit %d, want 1:\n%s", code, out)
	}
	if code, _, errOut := faultline(t, "", "check", "--initial", "{:x", file); code != 3 || !strings.Contains(errOut, "--initial") {
		t.Errorf("--initial {:x: exit %d, want 3: %s", code, errOut)
	}
	// A register cannot start as a map.
	reg := writeFile(t, dir, "reg.edn", knossosNilRead)
	if code, _, errOut := faultline(t, "", "check", "--initial", "{:x 0}", reg); code != 3 || !strings.Contains(errOut, "initial value must be nil, an integer or a string") {
		t.Errorf("register --initial {:x 0}: exit %d, want 3: %s", code, errOut)
	}
}

// TestCheckJepsenElleInput: a real jepsen.log (its first lines are
// jepsen.core's, not ops), Knossos' tuple form, and Elle's histories of
// completions only, checked end to end.
func TestCheckJepsenElleInput(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, run, "jepsen.log", `INFO  jepsen.core - Command line:
lein run test --nemesis partition
INFO  jepsen.core - Running test with options:
{:concurrency 2,
 :nemesis :partition}
INFO  jepsen.util - 0	:invoke	:write	1
INFO  jepsen.util - 0	:ok	:write	1
INFO  jepsen.util - 1	:invoke	:read	nil
INFO  jepsen.util - 1	:ok	:read	1
INFO  jepsen.core - Run complete, writing
`)
	if code, out, errOut := faultline(t, "", "check", run); code != 0 || !strings.Contains(out, "VALID (register, 2 ops") {
		t.Errorf("jepsen.log: exit %d, want 0:\n%s%s", code, out, errOut)
	}
	tuples := writeFile(t, dir, "tuples.edn", `[0 :invoke :write 3]
[0 :ok :write 3]
[1 :invoke :cas [3 4]]
[1 :ok :cas [3 4]]
[2 :invoke :read nil]
[2 :ok :read 3]
`)
	if code, out, errOut := faultline(t, "", "check", tuples); code != 1 || !strings.Contains(out, "INVALID (cas-register") {
		t.Errorf("tuples: exit %d, want 1:\n%s%s", code, out, errOut)
	}
	// Elle's G2 example (list_append_test): two transactions each read the
	// initial state of the key the other appends to; completions only, no
	// :f.
	g2 := writeFile(t, dir, "g2.edn", `[{:process 0, :type :ok, :value [[:r :x nil] [:append :y 1]]}
 {:process 0, :type :ok, :value [[:r :y nil] [:append :x 1]]}
 {:process 0, :type :ok, :value [[:r :x [1]] [:r :y [1]]]}]
`)
	if code, out, errOut := faultline(t, "", "check", g2); code != 1 || !strings.Contains(out, "INVALID (append") || !strings.Contains(out, "G2") {
		t.Errorf("Elle's G2: exit %d, want 1:\n%s%s", code, out, errOut)
	}
}

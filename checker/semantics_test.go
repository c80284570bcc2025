package checker

import (
	"bytes"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// Knossos-style histories (EDN, as Knossos' and Jepsen's tests write them)
// on which Knossos' reading and faultline's strict one disagree: a read of
// nil, and a failed op. Knossos reads nil as a read of an unknown value and
// drops failed ops, so each of these is valid for Knossos; faultline reads
// the nil as the register's value and a failed cas without an error as a
// compare that saw another value, so each is invalid for faultline.
var semanticsCases = []struct {
	name, model, edn string
	// strict is what faultline's strict reading must name.
	strict string
}{
	{
		// Knossos' register: "(nil? (:value op)) ; We don't know what the
		// read was".
		name: "register: a read of nil after a write", model: "register",
		edn: `[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process 1, :type :ok, :f :read, :value 1}]`,
		strict: "could not linearize: process 1 read nil (ok at index 3, line 4)",
	},
	{
		// Knossos drops failed ops (history/without-failures).
		name: "cas-register: a cas that failed while its compare would match", model: "cas-register",
		edn: `{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :invoke, :f :cas, :value [1 2]}
{:process 1, :type :fail, :f :cas, :value [1 2]}
{:process 2, :type :invoke, :f :read, :value nil}
{:process 2, :type :ok, :f :read, :value 1}`,
		strict: "could not linearize: process 1 cas [1 2] (fail at index 3, line 4, compare did not match)",
	},
	{
		// Knossos' older tuple form, both at once: a read of nil and a
		// failed cas.
		name: "cas-register in Knossos' tuple form", model: "cas-register",
		edn: `[0 :invoke :write 3]
[0 :ok :write 3]
[1 :invoke :read nil]
[2 :invoke :cas [3 4]]
[1 :ok :read nil]
[2 :fail :cas [3 4]]
[:nemesis :info :start nil]
[3 :invoke :read nil]
[3 :ok :read 3]`,
		strict: "could not linearize: process",
	},
	{
		// Knossos' multi-register: "Nil reads are always legal".
		name: "multi-register: nil reads in an ok txn", model: "multi-register",
		edn: `[{:process 0, :type :invoke, :f :txn, :value [[:write :x 1] [:write :y 2]]}
 {:process 0, :type :ok, :f :txn, :value [[:write :x 1] [:write :y 2]]}
 {:process 1, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}
 {:process 1, :type :ok, :f :txn, :value [[:read :x nil] [:read :y 2]]}]`,
		strict: `could not linearize: process 1 txn [["read" "x" nil] ["read" "y" 2]]`,
	},
}

// TestKnossosSemantics: on EDN, the default is Knossos' verdict; with
// Semantics faultline, the strict one; faultline's JSONL of the same ops is
// strict by default and Knossos' when asked.
func TestKnossosSemantics(t *testing.T) {
	for _, c := range semanticsCases {
		t.Run(c.name, func(t *testing.T) {
			h, err := histories.ReadEDN(strings.NewReader(c.edn), "k.edn")
			if err != nil {
				t.Fatal(err)
			}
			if s := h.Semantics(); s != histories.SemanticsKnossos {
				t.Fatalf("EDN reads with semantics %v", s)
			}
			if m, err := InferModel(h); err != nil || m != c.model {
				t.Fatalf("inferred %q, %v", m, err)
			}
			r := wantValid(t, h, LinearizableOptions{}, Valid)
			wantContains(t, r.Summary, "("+c.model+", Knossos semantics)")
			wantValid(t, h, LinearizableOptions{Semantics: histories.SemanticsKnossos}, Valid)
			r = wantValid(t, h, LinearizableOptions{Semantics: histories.SemanticsFaultline}, Invalid)
			wantContains(t, r.Summary, c.strict)
			if strings.Contains(r.Summary, "Knossos") {
				t.Errorf("the strict summary says Knossos: %s", r.Summary)
			}

			// The same ops as faultline's JSONL: strict unless told.
			var b bytes.Buffer
			if err := histories.WriteJSONL(&b, h); err != nil {
				t.Fatal(err)
			}
			j, err := histories.ReadJSONL(&b, "k.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if s := j.Semantics(); s != histories.SemanticsFaultline {
				t.Fatalf("JSONL reads with semantics %v", s)
			}
			wantValid(t, j, LinearizableOptions{}, Invalid)
			wantValid(t, j, LinearizableOptions{Semantics: histories.SemanticsKnossos}, Valid)
			// SetSemantics, as faultline check --semantics does.
			j.SetSemantics(histories.SemanticsKnossos)
			wantValid(t, j, LinearizableOptions{}, Valid)
			h.SetSemantics(histories.SemanticsFaultline)
			wantValid(t, h, LinearizableOptions{}, Invalid)
		})
	}
}

// Under Knossos' semantics a violation that does not hang on a nil read or a
// failed op is still found, and a failed write is dropped under both.
func TestKnossosSemanticsStillFinds(t *testing.T) {
	h, err := histories.ReadEDN(strings.NewReader(`[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 1, :type :invoke, :f :write, :value 2}
 {:process 1, :type :fail, :f :write, :value 2}
 {:process 2, :type :invoke, :f :read, :value nil}
 {:process 2, :type :ok, :f :read, :value nil}
 {:process 2, :type :invoke, :f :read, :value nil}
 {:process 2, :type :ok, :f :read, :value 2}]`), "k.edn")
	if err != nil {
		t.Fatal(err)
	}
	r := wantValid(t, h, LinearizableOptions{}, Invalid)
	wantContains(t, r.Summary, "not linearizable (register, Knossos semantics)", "could not linearize: process 2 read 2")
	r = wantValid(t, h, LinearizableOptions{Semantics: histories.SemanticsFaultline}, Invalid)
	wantContains(t, r.Summary, "not linearizable (register)", "could not linearize: process 2 read nil")
	// Only nil reads: nothing to check under Knossos; the counts say so.
	h = h[:6]
	r = wantValid(t, h, LinearizableOptions{}, Valid)
	wantContains(t, r.Summary, "1 ops on 1 key (of 3; the other 2 failed, or are reads that returned nothing")
}

func TestSemanticsNote(t *testing.T) {
	for _, m := range []string{"register", "cas-register", "multi-register"} {
		if k, f := SemanticsNote(m, histories.SemanticsKnossos), SemanticsNote(m, histories.SemanticsFaultline); k == "" || f == "" || k == f {
			t.Errorf("%s: %q / %q", m, k, f)
		}
	}
	for _, m := range []string{"kv", "mutex", "nope"} {
		if n := SemanticsNote(m, histories.SemanticsKnossos); n != "" {
			t.Errorf("%s: %q", m, n)
		}
	}
}

package checker

import (
	"fmt"
	"hash/maphash"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/internal/gen"
)

// The linearizability checker prepares porcupine's input its own way (ops
// pointing into the history, hashed states, keys searched in turns, the
// partial linearizations only for a key found not linearizable). These
// tests check that none of it changes a verdict: every history is checked
// again by plain porcupine, with straightforward models written from the
// package doc (states compared with ==, no hashing), porcupine's own
// partitioning by key, and ops that never return made to return after the
// history's end, and both must agree, under both semantics.

// refOp is an op as the plain reference models see it.
type refOp struct {
	key     string
	f       string
	value   any // the invocation's value (write, cas [old new], put, append, txn)
	out     any // what an ok read, get or txn returned
	outcome histories.Type
}

// refOps turns a history into porcupine's ops by the package doc's rules;
// ok is false if it has an op the model has no meaning for (Linearizable
// reports an error for those).
func refOps(h histories.History, model string, knossos bool) (ops []porcupine.Operation, ok bool) {
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		return nil, false
	}
	for i, p := range pairs {
		inv := &h[p.Invoke]
		o := refOp{key: inv.Key, f: inv.F, value: inv.Value, outcome: h.Outcome(p)}
		ret := int64(len(h) + i) // never returns: after everything else
		if o.outcome != histories.Info {
			ret = int64(p.Complete)
			o.out = h[p.Complete].Value
		}
		switch {
		case o.outcome == histories.Fail && (knossos || model == "kv" || model == "mutex" || model == "multi-register"):
			continue // a failed op never happened
		case o.outcome == histories.Fail && o.f == "cas" && h[p.Complete].Error != "":
			continue // failed for another reason than the compare
		case o.outcome == histories.Fail && o.f != "cas":
			continue
		case o.outcome == histories.Info && (o.f == "read" || o.f == "get"):
			continue // tells nothing
		case knossos && o.f == "read" && o.out == nil:
			continue // a read of an unknown value
		}
		ops = append(ops, porcupine.Operation{ClientId: int(inv.Process), Input: o, Call: int64(p.Invoke), Return: ret})
	}
	return ops, true
}

func refPartition(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range ops {
		k := op.Input.(refOp).key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

var refSeed = maphash.MakeSeed()

// refModel is the plain porcupine model of a model name.
func refModel(model string, knossos bool) porcupine.Model {
	m := porcupine.Model{Partition: refPartition, Init: func() any { return nil }}
	switch model {
	case "register", "cas-register":
		m.Step = func(state, input, _ any) (bool, any) {
			o := input.(refOp)
			switch o.f {
			case "read":
				return state == o.out, state
			case "write":
				return true, o.value
			case "cas":
				pair := o.value.([]any)
				match := state == pair[0]
				switch o.outcome {
				case histories.OK:
					if match {
						return true, pair[1]
					}
					return false, state
				case histories.Fail:
					return !match, state
				}
				if match {
					return true, pair[1]
				}
				return true, state
			}
			return false, state
		}
	case "kv":
		// porcupine's cache needs the state's hash to tell apart the many
		// strings that concurrent appends leave (without it, the 50-client
		// history takes seconds).
		m.Init = func() any { return "" }
		m.Hash = func(state any) uint64 { return maphash.String(refSeed, state.(string)) }
		m.Step = func(state, input, _ any) (bool, any) {
			o, s := input.(refOp), state.(string)
			switch o.f {
			case "get":
				got, _ := o.out.(string)
				return got == s, s
			case "put":
				return true, o.value.(string)
			case "append":
				return true, s + o.value.(string)
			}
			return false, s
		}
	case "mutex":
		m.Init = func() any { return false }
		m.Step = func(state, input, _ any) (bool, any) {
			o, held := input.(refOp), state.(bool)
			want := o.f == "release" // release needs the lock held, acquire free
			if held != want {
				return o.outcome == histories.Info, held // an info op that cannot take effect did not
			}
			return true, !held
		}
	case "multi-register":
		// The state is the registers as a canonical string: k=v;k=v.
		m.Init = func() any { return "" }
		m.Step = func(state, input, _ any) (bool, any) {
			o := input.(refOp)
			regs := map[string]string{}
			for _, kv := range strings.Split(state.(string), ";") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					regs[k] = v
				}
			}
			outs, _ := o.out.([]any)
			for i, m := range o.value.([]any) {
				mop := m.([]any)
				k := fmt.Sprint(mop[1])
				if mop[0] == "write" {
					regs[k] = histories.FormatValue(mop[2])
					continue
				}
				if o.outcome != histories.OK {
					continue // an info txn's reads are unknown
				}
				got := outs[i].([]any)[2]
				if got == nil && knossos {
					continue
				}
				held, ok := regs[k]
				if !ok {
					held = "nil"
				}
				if held != histories.FormatValue(got) {
					return false, state
				}
			}
			var b strings.Builder
			for _, k := range slices.Sorted(maps.Keys(regs)) {
				fmt.Fprintf(&b, "%s=%s;", k, regs[k])
			}
			return true, b.String()
		}
	}
	return m
}

// agree checks h with Linearizable and with plain porcupine under both
// semantics, and fails the test if they disagree. It returns the verdict
// under faultline's semantics.
func agree(t *testing.T, name string, h histories.History, model string) Validity {
	t.Helper()
	var verdict Validity
	for _, sem := range []histories.Semantics{histories.SemanticsFaultline, histories.SemanticsKnossos} {
		r, _, err := Linearizable(h, LinearizableOptions{Model: model, Semantics: sem})
		ops, ok := refOps(h, model, sem == histories.SemanticsKnossos)
		if err != nil || !ok {
			if (err == nil) != ok {
				t.Errorf("%s (%v): faultline error %v, reference ok %v", name, sem, err, ok)
			}
			continue
		}
		want := porcupine.CheckOperations(refModel(model, sem == histories.SemanticsKnossos), ops)
		if (r.Valid == Valid) != want || r.Valid == Unknown {
			t.Errorf("%s (%v semantics, %s): faultline says %v, plain porcupine linearizable=%v: %s", name, sem, model, r.Valid, want, r.Summary)
		}
		if sem == histories.SemanticsFaultline {
			verdict = r.Valid
		}
	}
	return verdict
}

// TestAgreesWithPorcupineOnCorpora: every corpus and hand-written history.
func TestAgreesWithPorcupineOnCorpora(t *testing.T) {
	var files []string
	for _, dir := range []string{"porcupine-jepsen-etcd", "porcupine-kv"} {
		for f := range expected(t, filepath.Join(corpora, dir)) {
			files = append(files, filepath.Join(corpora, dir, f))
		}
	}
	// The shared corpora, if this checkout has them beside it, and the
	// hand-written histories.
	for _, glob := range []string{"../../shared/corpora/*/*", "../testdata/linearizable/*.edn"} {
		more, _ := filepath.Glob(glob)
		for _, f := range more {
			if filepath.Base(f) != "EXPECTED.txt" && !strings.HasSuffix(f, ".md") {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	checked := 0
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			continue // etcd_095.log is empty
		}
		h, err := histories.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if histories.LooksIndependent(h) {
			if h, err = histories.SplitIndependent(h, f); err != nil {
				t.Fatal(err)
			}
		}
		model, err := InferModel(h)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		agree(t, f, h, model)
		if model == "register" {
			agree(t, f, h, "cas-register")
		}
		checked++
	}
	if checked < 110 { // the repository's own: 101 etcd, 6 kv, 12 hand-written
		t.Errorf("only %d histories checked", checked)
	}
}

// TestAgreesWithPorcupineOnGenerated: generated register histories of many
// keys, linearizable by construction and then broken (a read's value
// changed), and random histories of few values, most of them not
// linearizable, with info ops, failed cas and reads of nil.
func TestAgreesWithPorcupineOnGenerated(t *testing.T) {
	counts := map[Validity]int{}
	for seed := range int64(40) {
		h := gen.RegisterHistory(seed, 200+int(seed)*10, 4+int(seed%8), 2+int(seed%9), 0.03)
		counts[agree(t, fmt.Sprintf("generated seed %d", seed), h, "cas-register")]++
		broken := slices.Clone(h)
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		for range 1 + seed%3 {
			i := rng.IntN(len(broken))
			for broken[i].Type != histories.OK || broken[i].F != "read" {
				i = (i + 1) % len(broken)
			}
			broken[i].Value = int64(rng.IntN(4))
		}
		counts[agree(t, fmt.Sprintf("generated seed %d, broken", seed), broken, "cas-register")]++
	}
	for seed := range uint64(300) {
		h := randomRegisterHistory(seed)
		counts[agree(t, fmt.Sprintf("random seed %d", seed), h, "cas-register")]++
	}
	t.Logf("verdicts under faultline's semantics: %v", counts)
	if counts[Valid] < 20 || counts[Invalid] < 20 {
		t.Errorf("the generated histories do not test both verdicts enough: %v", counts)
	}
}

// randomRegisterHistory is a history of reads, writes and cas on a few keys
// whose values are drawn from a handful, completed at random (ok, fail
// with or without an error, info, or never), so most are not linearizable
// and some are.
func randomRegisterHistory(seed uint64) histories.History {
	rng := rand.New(rand.NewPCG(seed, 2))
	vals := []any{nil, int64(1), int64(2), "x"}
	val := func() any { return vals[rng.IntN(len(vals))] }
	procs := 2 + rng.IntN(4)
	keys := 1 + rng.IntN(3)
	type open struct {
		f     string
		key   string
		value any
	}
	pending := map[int]*open{}
	next := procs
	ids := make([]int, procs)
	for i := range ids {
		ids[i] = i
	}
	var h histories.History
	emit := func(p int, t histories.Type, o *open, v any, errMsg string) {
		h = append(h, histories.Op{Index: int64(len(h)), Process: histories.Process(p), Type: t, F: o.f, Key: o.key, Value: v, Error: errMsg})
	}
	for range 6 + rng.IntN(14) {
		w := rng.IntN(procs)
		p := ids[w]
		if o, ok := pending[p]; ok {
			delete(pending, p)
			switch x := rng.IntN(10); {
			case x < 6:
				v := o.value
				if o.f == "read" {
					v = val()
				}
				emit(p, histories.OK, o, v, "")
			case x < 8:
				msg := ""
				if rng.IntN(2) == 0 {
					msg = "timeout"
				}
				emit(p, histories.Fail, o, o.value, msg)
			default:
				emit(p, histories.Info, o, o.value, "")
				ids[w] = next
				next++
			}
			continue
		}
		o := &open{key: fmt.Sprint(rng.IntN(keys))}
		switch rng.IntN(3) {
		case 0:
			o.f = "read"
		case 1:
			o.f, o.value = "write", val()
		default:
			o.f, o.value = "cas", []any{val(), val()}
		}
		pending[p] = o
		emit(p, histories.Invoke, o, o.value, "")
	}
	return h
}

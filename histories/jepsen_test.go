package histories

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// Jepsen, Elle and Knossos read histories more leniently than faultline's
// JSONL reader; these tests read what their own tools and tests write.

// Knossos' older op form, as in its data/cas-failure.edn: one
// [process type f value] tuple per line, an error after the value, the
// nemesis as :nemesis; also a vector of tuples, and lists.
func TestReadEDNKnossosTuples(t *testing.T) {
	in := `[70  :invoke :read nil]
[71  :invoke :cas  [2 1]]
[70  :ok :read 3]
[71 :fail :cas  [2 1] :conn-lost]
[:nemesis  :info :start  "Cut off [:n3 #[:n4 :n5 :n1]]"]
`
	want := knossos(History{
		{Index: 0, Time: 0, Process: 70, Type: Invoke, F: "read", Line: 1},
		{Index: 1, Time: 1, Process: 71, Type: Invoke, F: "cas", Value: []any{int64(2), int64(1)}, Line: 2},
		{Index: 2, Time: 2, Process: 70, Type: OK, F: "read", Value: int64(3), Line: 3},
		{Index: 3, Time: 3, Process: 71, Type: Fail, F: "cas", Value: []any{int64(2), int64(1)}, Error: "conn-lost", Line: 4},
		{Index: 4, Time: 4, Process: Nemesis, Type: Info, F: "start", Value: "Cut off [:n3 #[:n4 :n5 :n1]]", Line: 5},
	})
	if h := readEDNString(t, in); !reflect.DeepEqual(h, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", h, want)
	}
	// The same tuples in a vector, as lists, and on one line.
	for _, in := range []string{
		"[" + in + "]",
		strings.NewReplacer("[70", "(70", "[71", "(71", "[:nemesis", "(:nemesis", "]\n", ")\n").Replace(in),
		strings.ReplaceAll(in, "\n", " "),
	} {
		h := readEDNString(t, in)
		for i := range h {
			h[i].Line = want[i].Line
		}
		if !reflect.DeepEqual(h, want) {
			t.Errorf("%q:\ngot\n%#v\nwant\n%#v", in, h, want)
		}
	}
	if _, err := Pairs(readEDNString(t, in), "k.edn"); err != nil {
		t.Fatal(err)
	}
}

// Elle's tests write transactions as completions only, without :f, often
// without :process, :index or :time (or with :time 0): each gets an
// invocation at the start of the history, as Elle reads them (no real-time
// edge into an op that was never seen invoked; each process's ops in
// order).
func TestReadEDNCompletionsOnly(t *testing.T) {
	in := `[{:process 0, :type :ok, :value [[:append :x 1] [:r :y [1]]], :time 0}
 {:process 0, :type :ok, :value [[:r :x [1 2]]], :time 0}
 {:process nil, :type :info, :value [[:append :x 2] [:r :y nil]], :time 0}
 {:type :ok, :f :txn, :value [[:r :x]], :time 0}
 {:process :nemesis, :type :info, :f :kill, :value nil, :time 0}]`
	h := readEDNString(t, in)
	// Four synthetic invocations, then the five ops as written.
	if len(h) != 9 {
		t.Fatalf("%d ops: %v", len(h), h)
	}
	wantProcs := []Process{0, 0, 1, 2}
	for i := 0; i < 4; i++ {
		inv, c := h[i], h[4+i]
		if !inv.Synthetic || inv.Type != Invoke || c.Synthetic || c.Type == Invoke {
			t.Fatalf("op %d: %v; op %d: %v", i, inv, 4+i, c)
		}
		if inv.Process != wantProcs[i] || c.Process != wantProcs[i] || inv.F != "txn" || c.F != "txn" || inv.Line != c.Line {
			t.Errorf("pair %d: %#v / %#v", i, inv, c)
		}
	}
	if !reflect.DeepEqual(h[0].Value, []any{[]any{"append", "x", int64(1)}, []any{"r", "y", nil}}) {
		t.Errorf("an invocation's reads are not nil: %v", FormatValue(h[0].Value))
	}
	if !reflect.DeepEqual(h[4].Value, []any{[]any{"append", "x", int64(1)}, []any{"r", "y", []any{int64(1)}}}) {
		t.Errorf("the completion changed: %v", FormatValue(h[4].Value))
	}
	// [:r :x] reads as [:r :x nil].
	if !reflect.DeepEqual(h[7].Value, []any{[]any{"r", "x", nil}}) {
		t.Errorf("[:r :x] read as %v", FormatValue(h[7].Value))
	}
	for i, op := range h {
		// All the times were 0: unknown, so positions. Indexes too.
		if op.Index != int64(i) || op.Time != int64(i) || op.Semantics != SemanticsKnossos {
			t.Errorf("op %d: index %d time %d semantics %v", i, op.Index, op.Time, op.Semantics)
		}
	}
	pairs, err := Pairs(h, "e.edn")
	if err != nil {
		t.Fatal(err)
	}
	// Process 0's two ops pair in order.
	if len(pairs) != 4 || pairs[0] != (Pair{0, 4}) || pairs[1] != (Pair{1, 5}) || h.Outcome(pairs[2]) != Info {
		t.Errorf("pairs %v", pairs)
	}
	// A completion with no :process in a history with invocations cannot
	// be paired; nor can an invocation with none.
	for _, bad := range []string{
		"{:process 0 :type :invoke :f :txn :value [[:r :x nil]]}\n{:process 0 :type :ok :f :txn :value [[:r :x nil]]}\n{:type :ok :value [[:r :x nil]]}",
		"{:type :invoke :value [[:r :x nil]]}",
	} {
		if _, err := ReadEDN(strings.NewReader(bad), "e.edn"); err == nil || !strings.Contains(err.Error(), "no :process") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// A genuine invocation while synthetic ones wait is refused by Pairs.
	h = readEDNString(t, "{:process 0 :type :ok :f :read :value 1}")
	h = History{h[0], {Index: 1, Process: 0, Type: Invoke, F: "read", Line: 2}, h[1]}
	h[2].Index = 2
	if _, err := Pairs(h, "e.edn"); err == nil || !strings.Contains(err.Error(), "e.edn:2: process 0 invoked read while its read from line 1 has not completed") {
		t.Errorf("Pairs: %v", err)
	}
}

// Jepsen tags read-only and write-only transactions :f :read / :f :write
// (for its plots; Elle reads only the value); an invocation's read is
// [:r :x nil] or [:r :x].
func TestReadEDNTaggedTransactions(t *testing.T) {
	in := `[{:process 0, :type :invoke, :f :read, :value [[:r :x] [:r :y nil]], :time 10, :index 0}
 {:process 1, :type :invoke, :f :write, :value [[:append :x 1]], :time 11, :index 1}
 {:process 0, :type :ok, :f :read, :value [[:r :x [1]] [:r :y nil]], :time 12, :index 2}
 {:process 1, :type :fail, :f :write, :value nil, :time 13, :index 3}
 {:process 2, :type :invoke, :f :read, :value nil, :time 14, :index 4}
 {:process 2, :type :ok, :f :read, :value 5, :time 15, :index 5}]`
	h := readEDNString(t, in)
	fs := []string{"txn", "txn", "txn", "txn", "read", "read"}
	for i, op := range h {
		if op.F != fs[i] {
			t.Errorf("op %d: f %q, want %q", i, op.F, fs[i])
		}
	}
	if !reflect.DeepEqual(h[0].Value, []any{[]any{"r", "x", nil}, []any{"r", "y", nil}}) {
		t.Errorf("invocation %v", FormatValue(h[0].Value))
	}
	if !reflect.DeepEqual(h[2].Value, []any{[]any{"r", "x", []any{int64(1)}}, []any{"r", "y", nil}}) {
		t.Errorf("completion %v", FormatValue(h[2].Value))
	}
	if _, err := Pairs(h, "t.edn"); err != nil {
		t.Fatal(err)
	}
	// The same in a Jepsen log.
	log := "INFO  jepsen.util - 0\t:invoke\t:read\t[[:r :x] [:r :y nil]]\n" +
		"INFO  jepsen.util - 0\t:ok\t:read\t[[:r :x [1]] [:r :y nil]]\n" +
		"INFO  jepsen.util - 1\t:invoke\t:write\t[[:w :x 1]]\n" +
		"INFO  jepsen.util - 1\t:info\t:write\t[[:w :x 1]]\t:timeout\n"
	lh, err := ReadJepsenLog(strings.NewReader(log), "j.log")
	if err != nil {
		t.Fatal(err)
	}
	for i, op := range lh {
		if op.F != "txn" || op.Semantics != SemanticsKnossos {
			t.Errorf("log op %d: %v", i, op)
		}
	}
	if !reflect.DeepEqual(lh[0].Value, h[0].Value) {
		t.Errorf("log invocation %v", FormatValue(lh[0].Value))
	}
}

// What else Jepsen and Elle write: string keys, keys that are vectors or
// keywords, sets and maps as values, :index with gaps, times all -1 (what
// jepsen.history fills in) or absent.
func TestReadEDNLenientFields(t *testing.T) {
	in := `[{"process" 0, "type" "invoke", "f" "txn", "value" [[:r [:a 1] nil] [:append {:k 2} 3]], "index" 3, "time" -1}
 {:process 0, :type :ok, :f :txn, :value [[:r [:a 1] [1 2]] [:append {:k 2} 3]], :index 7, :time -1}
 {:process 1, :type :invoke, :f :add, :key [:x 1], :value #{3 1}, :index 8, :time -1}
 {:process 1, :type :ok, :f :add, :key :x, :value {:n1 #{:a}}, :index 20, :time -1}]`
	h := readEDNString(t, in)
	want := knossos(History{
		{Index: 3, Time: 0, Process: 0, Type: Invoke, F: "txn", Value: []any{[]any{"r", "[\"a\" 1]", nil}, []any{"append", `{"k":2}`, int64(3)}}, Line: 1},
		{Index: 7, Time: 1, Process: 0, Type: OK, F: "txn", Value: []any{[]any{"r", "[\"a\" 1]", []any{int64(1), int64(2)}}, []any{"append", `{"k":2}`, int64(3)}}, Line: 2},
		{Index: 8, Time: 2, Process: 1, Type: Invoke, F: "add", Key: `["x" 1]`, Value: []any{int64(1), int64(3)}, Line: 3},
		{Index: 20, Time: 3, Process: 1, Type: OK, F: "add", Key: "x", Value: map[string]any{"n1": []any{"a"}}, Line: 4},
	})
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", h, want)
	}
	if _, err := Pairs(h, "l.edn"); err != nil {
		t.Fatal(err)
	}
	// Real times are kept, even when some are equal.
	h = readEDNString(t, "{:process 0 :type :invoke :f :w :value 1 :time 5}\n{:process 0 :type :ok :f :w :value 1 :time 5}\n{:process 1 :type :invoke :f :w :value 1 :time 9}")
	if h[0].Time != 5 || h[1].Time != 5 || h[2].Time != 9 {
		t.Errorf("times %d %d %d", h[0].Time, h[1].Time, h[2].Time)
	}
	// An op without a :time among timed ones takes the time of the timed
	// op before it (the first timed op's, at the start), not its position.
	h = readEDNString(t, "{:process 0 :type :invoke :f :w :value 1}\n{:process 0 :type :ok :f :w :value 1 :time 5000000000}\n{:process 1 :type :invoke :f :r :value nil}\n{:process 1 :type :ok :f :r :value 1 :time 6000000000}")
	if got := []int64{h[0].Time, h[1].Time, h[2].Time, h[3].Time}; !reflect.DeepEqual(got, []int64{5e9, 5e9, 5e9, 6e9}) {
		t.Errorf("times %v, want [5e9 5e9 5e9 6e9]", got)
	}
}

// A real jepsen.log starts with jepsen.core's lines and the test's options
// over many lines before the first op: they are skipped, and the format is
// still detected.
func TestReadJepsenLogRealHeader(t *testing.T) {
	log := `INFO  jepsen.core - Command line:
lein run test --nodes n1,n2 --nemesis partition
INFO  jepsen.core - Running test with options:
{:concurrency 5,
 :nemesis :partition,
 3 :nodes
 :nemesis :kill
 :time-limit 60}

INFO  jepsen.util - 0	:invoke	:write	1
INFO  jepsen.util - :nemesis	:info	:start	nil
INFO  jepsen.util - 0	:ok	:write	1
WARN  jepsen.core - something
  at clojure.core$eval.invoke(core.clj:3)
1	:ok	:read	1
INFO  jepsen.util - 1	:invoke	:read	nil
INFO  jepsen.util - 1	:ok	:read	1
`
	for _, first := range []string{"", "\n\n"} {
		head := []byte(first + log)
		if f, err := Detect("jepsen.log", head); err != nil || f != FormatJepsenLog {
			t.Errorf("Detect: %v, %v", f, err)
		}
		if f, err := Detect("history", head[:len(first)+40]); err != nil || f != FormatJepsenLog {
			t.Errorf("Detect (no name): %v, %v", f, err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jepsen.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := []int{10, 11, 12, 16, 17} // not 15, a bare line after the logger's
	if len(h) != len(lines) {
		t.Fatalf("%d ops: %v", len(h), h)
	}
	for i, op := range h {
		if int(op.Line) != lines[i] {
			t.Errorf("op %d from line %d, want %d", i, op.Line, lines[i])
		}
	}
	if _, err := Pairs(h, "jepsen.log"); err != nil {
		t.Fatal(err)
	}
	// Logger lines are not mistaken for anything else.
	for _, l := range []string{"INFO  jepsen.core - Command line:", "2021-02-26 11:42:48,806{GMT}\tINFO\t[jepsen test runner] jepsen.core: Relative time begins now"} {
		if !isLoggerLine([]byte(l)) {
			t.Errorf("%q is a logger's line", l)
		}
	}
	for _, l := range []string{"0\t:ok\t:read\t1", "INFO", "lein run test", "{:concurrency 5,"} {
		if isLoggerLine([]byte(l)) {
			t.Errorf("%q is not a logger's line", l)
		}
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]any{
		`{:x 0 :y 0}`:         map[string]any{"x": int64(0), "y": int64(0)},
		`{"x" 1, :y "a"}`:     map[string]any{"x": int64(1), "y": "a"},
		`{"x": 1, "y": nil}`:  nil, // neither JSON nor EDN: an error
		`{"x": 1, "y": null}`: map[string]any{"x": int64(1), "y": nil},
		`[1 :a]`:              []any{int64(1), "a"},
		`7`:                   int64(7),
	} {
		got, err := ParseValue(in)
		if want == nil {
			if err == nil {
				t.Errorf("%s: %v, want an error", in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "{:x", "{:x 1} 2"} {
		if v, err := ParseValue(bad); err == nil {
			t.Errorf("%q: %v, want an error", bad, v)
		}
	}
}

// Op.Semantics, Op.Synthetic and Op.Line live in the word after Op.Type:
// an Op is no bigger for them (a history can hold tens of millions).
func TestOpSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && unsafe.Sizeof(Op{}) != 112 {
		t.Errorf("an Op is %d bytes, was 112", unsafe.Sizeof(Op{}))
	}
}

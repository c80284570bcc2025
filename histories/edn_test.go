package histories

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"olympos.io/encoding/edn"
)

// corporaDir finds the shared corpora of recorded histories (see their
// README): testdata/corpora if they were copied into the project, else the
// shared copy on the development machines.
func corporaDir(tb testing.TB) string {
	tb.Helper()
	for _, d := range []string{filepath.Join("..", "testdata", "corpora"), "/work/shared/corpora"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	tb.Skip("no corpora of recorded histories (testdata/corpora or /work/shared/corpora)")
	return ""
}

// knossos marks want's ops as the Jepsen readers mark theirs.
func knossos(want History) History {
	want.SetSemantics(SemanticsKnossos)
	return want
}

func readEDNString(t *testing.T, in string) History {
	t.Helper()
	h, err := ReadEDN(strings.NewReader(in), "t.edn")
	if err != nil {
		t.Fatalf("ReadEDN(%q): %v", in, err)
	}
	return h
}

func TestReadEDNValues(t *testing.T) {
	tests := []struct {
		edn  string
		want any
	}{
		{`nil`, nil},
		{`true`, true},
		{`false`, false},
		{`42`, int64(42)},
		{`-7`, int64(-7)},
		{`+7`, int64(7)},
		{`9223372036854775807`, int64(9223372036854775807)},
		{`5N`, int64(5)},
		{`1.5`, 1.5},
		{`2.0`, 2.0},
		{`1e3`, 1000.0},
		{`1.25M`, 1.25},
		{`"x 0 0 y"`, "x 0 0 y"},
		{`"quote \" bracket ] brace } semicolon ; \\ \n"`, "quote \" bracket ] brace } semicolon ; \\ \n"},
		{`"é"`, "é"},
		{`:timed-out`, "timed-out"},
		{`:a.b/c`, "a.b/c"},
		{`foo/bar`, "foo/bar"},
		{`\a`, "a"},
		{`\]`, "]"},
		{`\newline`, "\n"},
		{`\u00e9`, "é"},
		{`[1 4]`, []any{int64(1), int64(4)}},
		{`[]`, []any{}},
		{`(1 "two" :three)`, []any{int64(1), "two", "three"}},
		{`[0 nil]`, []any{int64(0), nil}},
		{`[[:append "x" 3] [:r "y" [1 2]]]`, []any{[]any{"append", "x", int64(3)}, []any{"r", "y", []any{int64(1), int64(2)}}}},
		{`#{3 1 2}`, []any{int64(1), int64(2), int64(3)}},
		{`#{:b :a}`, []any{"a", "b"}},
		{`{:n1 [:n2 :n3], "n4" #{}}`, map[string]any{"n1": []any{"n2", "n3"}, "n4": []any{}}},
		{`{1 :one, nil 0, [1 2] :v, {:a 1} :m}`, map[string]any{"1": "one", "nil": int64(0), "[1 2]": "v", `{"a":1}`: "m"}},
		{`#jepsen.independent.tuple [7 [1 4]]`, []any{int64(7), []any{int64(1), int64(4)}}},
		{`#inst "2024-01-02T03:04:05.000-00:00"`, "2024-01-02T03:04:05.000-00:00"},
		{`#inst "not a time"`, "not a time"},
		{`#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
		{`#foo #bar {:a #baz 1}`, map[string]any{"a": int64(1)}},
		{`[1 #_ 2 3 #_ #_ 4 5]`, []any{int64(1), int64(3)}},
		{"[1 ; a comment ]\n 2]", []any{int64(1), int64(2)}},
		{`[nil"x"]`, []any{nil, "x"}},
	}
	for _, tc := range tests {
		in := `{:process 0, :type :invoke, :f :w, :value ` + tc.edn + `}`
		h := readEDNString(t, in)
		if len(h) != 1 {
			t.Errorf("%s: %d ops", tc.edn, len(h))
			continue
		}
		if !reflect.DeepEqual(h[0].Value, tc.want) {
			t.Errorf("%s: value %#v, want %#v", tc.edn, h[0].Value, tc.want)
		}
	}
}

func TestReadEDNFields(t *testing.T) {
	in := `{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y", :node "n1"}
{:process :nemesis, :type :info, :f :start-partition, :value {:n1 [:n2]}}
{:process 12, :type :invoke, :f :read, :key 7, :value nil}
{:process 12, :type :fail, :f :read, :key 7, :value nil, :error :timeout, :node :n2}
{"process" 13, "type" "invoke", "f" "cas", :key :k, :value [1 2], :error "connection refused"}
{:process 13, :type :info, :f :cas, :value [1 2], :error [:duplicate-key "etcdserver: duplicate key"], :extra 5}
`
	h := readEDNString(t, in)
	want := History{
		{Index: 0, Time: 0, Process: 0, Type: Invoke, F: "append", Key: "0", Value: "x 0 0 y", Line: 1},
		{Index: 1, Time: 1, Process: 0, Type: OK, F: "append", Key: "0", Value: "x 0 0 y", Node: "n1", Line: 2},
		{Index: 2, Time: 2, Process: Nemesis, Type: Info, F: "start-partition", Value: map[string]any{"n1": []any{"n2"}}, Line: 3},
		{Index: 3, Time: 3, Process: 12, Type: Invoke, F: "read", Key: "7", Line: 4},
		{Index: 4, Time: 4, Process: 12, Type: Fail, F: "read", Key: "7", Error: "timeout", Node: "n2", Line: 5},
		{Index: 5, Time: 5, Process: 13, Type: Invoke, F: "cas", Key: "k", Value: []any{int64(1), int64(2)}, Error: "connection refused", Line: 6},
		{Index: 6, Time: 6, Process: 13, Type: Info, F: "cas", Value: []any{int64(1), int64(2)}, Error: `["duplicate-key" "etcdserver: duplicate key"]`, Line: 7},
	}
	if !reflect.DeepEqual(h, knossos(want)) {
		t.Fatalf("got\n%#v\nwant\n%#v", h, want)
	}
	if _, err := Pairs(h, "t.edn"); err != nil {
		t.Fatal(err)
	}
}

// jepsenVector is a history as Jepsen writes history.edn: one vector, an op
// per line, with times and indexes; here with a comment, an op over several
// lines, two ops on one line, a discarded op and brackets inside strings.
const jepsenVector = `; written by hand after jepsen's history.edn
[{:type :invoke, :f :write, :value 1, :process 0, :time 10, :index 0}
 {:type :ok,
  :f :write,
  :value 1, :process 0, :time 20, :index 1}

 {:type :invoke, :f :read, :value nil, :process 1, :time 30, :index 2} {:type :ok, :f :read, :value "]}", :process 1, :time 40, :index 3}
 #_{:type :ok, :f :read, :value 9, :process 1, :time 45, :index 9}
 {:type :info, :f :start, :value #{"n1"}, :process :nemesis, :time 50, :index 4, :node \}}
]
`

func TestReadEDNJepsenVector(t *testing.T) {
	h := readEDNString(t, jepsenVector)
	want := History{
		{Index: 0, Time: 10, Process: 0, Type: Invoke, F: "write", Value: int64(1), Line: 2},
		{Index: 1, Time: 20, Process: 0, Type: OK, F: "write", Value: int64(1), Line: 3},
		{Index: 2, Time: 30, Process: 1, Type: Invoke, F: "read", Line: 7},
		{Index: 3, Time: 40, Process: 1, Type: OK, F: "read", Value: "]}", Line: 7},
		{Index: 4, Time: 50, Process: Nemesis, Type: Info, F: "start", Value: []any{"n1"}, Node: "}", Line: 9},
	}
	knossos(want)
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", h, want)
	}
	// The same ops in a list, and all on one line, read the same apart from
	// the lines.
	for _, in := range []string{
		strings.Replace(strings.Replace(jepsenVector, "[", "(", 1), "\n]", "\n)", 1),
		strings.ReplaceAll(jepsenVector[strings.Index(jepsenVector, "\n")+1:], "\n", " "),
	} {
		got := readEDNString(t, in)
		for i := range got {
			got[i].Line = want[i].Line
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\ngot\n%#v\nwant\n%#v", in, got, want)
		}
	}
}

// TestReadEDNRecords reads ops printed as Clojure records, one per line,
// behind a byte-order mark.
func TestReadEDNRecords(t *testing.T) {
	in := "\ufeff#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :read, :value nil}\n" +
		"#jepsen.history.Op{:index 1, :time 9, :type :ok, :process 0, :f :read, :value 3}\n"
	h := readEDNString(t, in)
	want := History{
		{Index: 0, Time: 5, Process: 0, Type: Invoke, F: "read", Line: 1},
		{Index: 1, Time: 9, Process: 0, Type: OK, F: "read", Value: int64(3), Line: 2},
	}
	if !reflect.DeepEqual(h, knossos(want)) {
		t.Fatalf("got\n%#v\nwant\n%#v", h, want)
	}
}

func TestReadEDNEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "[]", "()", "; nothing\n[\n]\n", "#_ {:process 0}"} {
		h := readEDNString(t, in)
		if len(h) != 0 {
			t.Errorf("%q: %d ops", in, len(h))
		}
	}
}

func TestReadEDNErrors(t *testing.T) {
	const ok0 = `{:process 0, :type :invoke, :f :w, :value 1}`
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"no type", ok0 + "\n{:process 0, :f :w}", 2, "no :type"},
		{"bad type", "\n{:process 0, :type :done, :f :w}", 2, ":type :done is not :invoke"},
		{"type not keyword", `{:process 0, :type 3, :f :w}`, 1, ":type 3 is not a keyword"},
		{"no process", ok0 + "\n" + `{:type :ok, :f :w}`, 2, "no :process, so this completion cannot be paired"},
		{"no process invoke", `{:type :invoke, :f :w}` + "\n" + `{:process 0, :type :ok, :f :w}`, 1, "no :process, so this invocation cannot be paired"},
		{"process string", `{:process "x", :type :ok, :f :w}`, 1, `:process "x" is not an integer or :nemesis`},
		{"process float", `{:process 1.5, :type :ok, :f :w}`, 1, ":process 1.5 is not an integer"},
		{"process negative", `{:process -1, :type :ok, :f :w}`, 1, ":process -1 is not a non-negative integer"},
		{"no f", `{:process 0, :type :ok}`, 1, "no :f"},
		{"no f, not micro-ops", `{:process 0, :type :ok, :value [[:inc :x 1]]}`, 1, "no :f"},
		{"f number", `{:process 0, :type :ok, :f 3}`, 1, ":f 3 is not a keyword"},
		{"time", `{:process 0, :type :ok, :f :w, :time "now"}`, 1, `:time "now" is not an integer`},
		{"index", `{:process 0, :type :ok, :f :w, :index 1.0}`, 1, ":index 1 is not a non-negative integer"},
		{"negative index", `{:process 0, :type :ok, :f :w, :index -1}`, 1, ":index -1 is not a non-negative integer"},
		{"some indexes", ok0 + "\n" + `{:process 0, :type :ok, :f :w, :index 1}` + "\n" + ok0, 1, "no :index while others do"},
		{"not a map", ok0 + "\n[1 2]", 2, "op [1 2] is neither a map nor a Knossos [process type f value] tuple"},
		{"tuple of six", "[0 :invoke :read nil :e 6]", 1, "neither a map nor a Knossos"},
		{"tuple bad type", ok0 + "\n[0 :begin :read nil]", 2, ":type :begin is not :invoke"},
		{"tuple bad process", "[[:x :invoke :read nil]]", 1, ":process :x is not an integer"},
		{"map in vector of tuples", "[[0 :invoke :read nil]\n 5]", 2, "op is not a map but 5"},
		{"keyword op", ok0 + "\n:x", 2, `op is not a map but :x`},
		{"odd map", "\n\n{:process 0 :type}", 3, "bad EDN"},
		{"big integer", `{:process 0, :type :ok, :f :w, :value 99999999999999999999}`, 1, "bad EDN"},
		{"big N integer", `{:process 0, :type :ok, :f :w, :value 99999999999999999999N}`, 1, "integer of 68 bits does not fit in 64"},
		{"key clash", `{:process 0, :type :ok, :f :w, :value {:a 1 "a" 2}}`, 1, "two keys"},
		{"bad token", "[\n" + ok0 + "\n {:process 0, :type :ok, :f :w, :value 01}]", 3, "bad EDN"},
		{"bad string escape", `{:process 0, :type :ok, :f :w, :value "\q"}`, 1, "bad EDN"},
		{"mismatched", ok0 + "\n{:process 0, :type :ok,\n :f :w]", 2, "] at line 3 does not match"},
		{"stray closer", ok0 + "\n}", 2, "unexpected }"},
		{"container mismatch", "[" + ok0 + "\n)", 2, ") at line 2 does not match"},
		{"cut mid map", ok0 + "\n" + `{:process 0, :type :o`, 2, "ends inside the op"},
		{"cut mid map in vector", "[" + ok0 + "\n " + `{:process 0,` + "\n :type :ok", 2, "ends inside the op"},
		{"cut mid string", ok0 + "\n" + `{:process 0, :value "ab`, 2, "inside a string"},
		{"cut after backslash", ok0 + "\n" + `{:process 0, :value \`, 2, "inside a string"},
		{"vector not closed", "\n[" + ok0 + "\n " + ok0 + "\n", 2, "never closed"},
		{"cut in tag", ok0 + "\n#foo", 2, "bad EDN"},
		{"cut in discard", ok0 + "\n#_", 2, "bad EDN"},
		{"two values in one", `{:process 0, :type :ok, :f :w, :value #foo}`, 1, "bad EDN"},
		{"inst not a string", `{:process 0, :type :ok, :f :w, :value #inst 5}`, 1, "bad EDN"},
		{"huge exponent", "\n1e-2212211M", 2, "op is not a map but 0"},
		{"huge exponent in tag", `{:process 0, :type :ok, :f :w, :value #inst 1e-2212211M}`, 1, "bad EDN"},
		{"huge exponent op", `#jepsen.history.Op 1e2212211M`, 1, "bad EDN"},
		{"deep", "[" + strings.Repeat("[", 100000), 1, "nested more than"},
		{"deep tags", "[{:value " + strings.Repeat("#a ", 100000) + "1}]", 1, "nested more than"},
	}
	for _, tc := range tests {
		h, err := ReadEDN(strings.NewReader(tc.in), "h.edn")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %d ops and error %v, want a ParseError", tc.name, len(h), err)
			continue
		}
		if h != nil {
			t.Errorf("%s: %d ops along with the error", tc.name, len(h))
		}
		if pe.File != "h.edn" || pe.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q (line %d), want line %d and %q", tc.name, err, pe.Line, tc.line, tc.msg)
		}
	}
}

// writeEDN writes h as EDN with the library's encoder: as a vector over
// many lines (Jepsen's form) or one map per line.
func writeEDN(t *testing.T, h History, vector bool) string {
	t.Helper()
	var b strings.Builder
	if vector {
		b.WriteString("[")
	}
	for i, op := range h {
		m := map[edn.Keyword]any{
			"index": op.Index, "time": op.Time, "type": edn.Keyword(op.Type.String()),
			"f": edn.Keyword(op.F), "value": op.Value,
		}
		if op.Process == Nemesis {
			m["process"] = edn.Keyword("nemesis")
		} else {
			m["process"] = int64(op.Process)
		}
		if op.Key != "" {
			m["key"] = op.Key
		}
		if op.Node != "" {
			m["node"] = op.Node
		}
		if op.Error != "" {
			m["error"] = op.Error
		}
		text, err := edn.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && vector {
			b.WriteString(" ")
		}
		b.Write(text)
		b.WriteString("\n")
	}
	if vector {
		b.WriteString("]\n")
	}
	return b.String()
}

// TestReadEDNRoundTrip writes normalised values with the EDN library's
// encoder and reads them back unchanged, in both layouts.
func TestReadEDNRoundTrip(t *testing.T) {
	values := []any{
		nil, true, false, int64(0), int64(-3), int64(1) << 62, 2.5, 2.0, -1e-7, 1e300,
		"", "x 0 0 y", "quote \" backslash \\ newline \n tab \t é ] } ;",
		[]any{}, []any{int64(1), int64(4)}, []any{"append", "x", int64(3)},
		[]any{[]any{"r", "y", []any{int64(1), int64(2)}}, []any{"w", "z", nil}},
		map[string]any{}, map[string]any{"n1": []any{"n2", "n3"}, "b c": map[string]any{"d": 1.5}},
	}
	var h History
	for i, v := range values {
		h = append(h,
			Op{Index: int64(2 * i), Time: int64(100 * i), Process: Process(i), Type: Invoke, F: "f", Key: "k", Value: v},
			Op{Index: int64(2*i + 1), Time: int64(100*i + 50), Process: Process(i), Type: OK, F: "f", Value: v, Node: "n1", Error: "e"},
		)
	}
	h = append(h, Op{Index: int64(len(h)), Time: 1 << 40, Process: Nemesis, Type: Info, F: "kill", Value: []any{"n1"}})
	for _, vector := range []bool{false, true} {
		in := writeEDN(t, h, vector)
		got := readEDNString(t, in)
		for i := range got {
			if int(got[i].Line) != i+1 {
				t.Errorf("vector=%v: op %d read from line %d, want %d", vector, i, got[i].Line, i+1)
			}
			got[i].Line = 0
			got[i].Semantics = SemanticsUnset
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("vector=%v: round trip\n got %#v\nwant %#v", vector, got, h)
		}
	}
}

// TestReadEDNCorpus reads porcupine's key-value histories: one op per line,
// no indexes or times.
func TestReadEDNCorpus(t *testing.T) {
	dir := filepath.Join(corporaDir(t), "porcupine-kv")
	files, err := filepath.Glob(filepath.Join(dir, "c*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no kv histories in %s (%v)", dir, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				lines++
			}
		}
		h, err := ReadEDN(bytes.NewReader(data), file)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(h) != lines || len(h)%2 != 0 {
			t.Errorf("%s: %d ops from %d lines", file, len(h), lines)
		}
		for i, op := range h {
			if int(op.Line) != i+1 || op.Index != int64(i) || op.Time != int64(i) || op.Key == "" {
				t.Errorf("%s: op %d: %+v (line %d)", file, i, op, op.Line)
				break
			}
			if op.F != "get" && op.F != "put" && op.F != "append" {
				t.Errorf("%s:%d: f %q", file, op.Line, op.F)
				break
			}
		}
		pairs, err := Pairs(h, file)
		if err != nil {
			t.Errorf("Pairs: %v", err)
		} else if len(pairs) != len(h)/2 {
			t.Errorf("%s: %d pairs of %d ops", file, len(pairs), len(h))
		}
		// ReadFile detects the format from the content (.txt says nothing).
		h2, err := ReadFile(file)
		if err != nil || !reflect.DeepEqual(h2, h) {
			t.Errorf("ReadFile(%s): %d ops, %v", file, len(h2), err)
		}
	}
}

func BenchmarkReadEDN(b *testing.B) {
	file := filepath.Join(corporaDir(b), "porcupine-kv", "c50-ok.txt")
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	vector := append(append([]byte("["), data...), ']')
	for _, bc := range []struct {
		name string
		data []byte
	}{{"lines", data}, {"vector", vector}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadEDN(bytes.NewReader(bc.data), file); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

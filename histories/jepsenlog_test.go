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
)

func TestReadJepsenLogLines(t *testing.T) {
	type want struct {
		p     Process
		typ   Type
		f     string
		value any
		err   string
	}
	tests := []struct {
		line string
		want *want // nil: not an op line
	}{
		{"INFO  jepsen.util - 0\t:invoke\t:read\tnil", &want{0, Invoke, "read", nil, ""}},
		{"INFO  jepsen.util - 2\t:ok\t:write\t4", &want{2, OK, "write", int64(4), ""}},
		{"INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]", &want{2, Invoke, "cas", []any{int64(3), int64(0)}, ""}},
		{"INFO  jepsen.util - 4   :fail   :cas    [1 2]", &want{4, Fail, "cas", []any{int64(1), int64(2)}, ""}},
		{"INFO  jepsen.util - 13\t:info\t:write\t:timed-out", &want{13, Info, "write", "timed-out", ""}},
		{"INFO  jepsen.util - 1\t:ok\t:write\t-42\r", &want{1, OK, "write", int64(-42), ""}},
		{"INFO  jepsen.util - :nemesis\t:info\t:start\t{:n1 #{:n2 :n3}}", &want{Nemesis, Info, "start", map[string]any{"n1": []any{"n2", "n3"}}, ""}},
		{"INFO  jepsen.util - :nemesis\t:info\t:stop\tnil", &want{Nemesis, Info, "stop", nil, ""}},
		{"INFO  jepsen.util - 3\t:ok\t:echo\t\"tab\\there, [brackets]\"", &want{3, OK, "echo", "tab\there, [brackets]", ""}},
		{"INFO  jepsen.util - 3\t:ok\t:read\t1.5", &want{3, OK, "read", 1.5, ""}},
		{"INFO  jepsen.util - 3\t:ok\t:read\t007N", nil}, // replaced below: an error
		{"2021-02-26 23:39:01,300{GMT}\tINFO\t[jepsen worker 1] jepsen.util: 1\t:ok\t:write\t[0 2]", &want{1, OK, "write", []any{int64(0), int64(2)}, ""}},
		{"2021-02-26 11:42:48,813{GMT}\tINFO\t[jepsen worker 1] jepsen.util: 1\t:ok\t:txn\t[[:r 1 nil] [:append 9 11]]",
			&want{1, OK, "txn", []any{[]any{"r", int64(1), nil}, []any{"append", int64(9), int64(11)}}, ""}},
		{"INFO  jepsen.util - 5\t:info\t:cas\t[1 4]\t:timed-out", &want{5, Info, "cas", []any{int64(1), int64(4)}, "timed-out"}},
		{"INFO  jepsen.util - 5\t:fail\t:txn\t[[:w 1 2]]\t[:duplicate-key \"etcdserver: duplicate key\"]", &want{5, Fail, "txn", []any{[]any{"w", int64(1), int64(2)}}, "[:duplicate-key \"etcdserver: duplicate key\"]"}},
		{"0\t:invoke\t:read\tnil", &want{0, Invoke, "read", nil, ""}},
		{"  7 :ok :read 3", &want{7, OK, "read", int64(3), ""}},
		{":nemesis\t:info\t:kill\t[\"n1\"]", &want{Nemesis, Info, "kill", []any{"n1"}, ""}},
		// Not op lines.
		{"", nil},
		{"   ", nil},
		{"INFO  jepsen.core - Running test", nil},
		{"INFO  jepsen.util - Waiting for #<Fn@1> ...", nil},
		{"2021-02-26 11:42:48,806{GMT}\tINFO\t[jepsen test runner] jepsen.core: Relative time begins now", nil},
		{"2014-05-01 12:00:01 something else", nil},
		{"12:00:01 INFO startup", nil},
		{"  at clojure.core$eval.invoke(core.clj:3)", nil},
		{"INFO  jepsen.core - loading jepsen.util stuff", nil},
	}
	tests[10].line = "INFO  jepsen.util - 3\t:ok\t:read\t7N" // a big-int literal
	tests[10].want = &want{3, OK, "read", int64(7), ""}
	for _, tc := range tests {
		// A logger's line first, except before bare op lines: after a
		// logger's line, only jepsen.util lines are ops.
		first := "INFO  jepsen.core - start\n"
		if !strings.Contains(tc.line, "jepsen") {
			first = "\n"
		}
		h, err := ReadJepsenLog(strings.NewReader(first+tc.line+"\n"), "j.log")
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if tc.want == nil {
			if len(h) != 0 {
				t.Errorf("%q: read %v, want no op", tc.line, h[0])
			}
			continue
		}
		// A lone completion is a history of completions: it gets an
		// invocation first.
		if len(h) == 2 && h[0].Synthetic {
			h = h[1:]
			h[0].Index = 0
		}
		if len(h) != 1 {
			t.Errorf("%q: %d ops", tc.line, len(h))
			continue
		}
		w := tc.want
		got := h[0]
		wantOp := Op{Index: 0, Time: 2, Line: 2, Process: w.p, Type: w.typ, F: w.f, Value: w.value, Error: w.err, Semantics: SemanticsKnossos}
		if !reflect.DeepEqual(got, wantOp) {
			t.Errorf("%q:\n got %#v\nwant %#v", tc.line, got, wantOp)
		}
	}
}

func TestReadJepsenLogTimes(t *testing.T) {
	in := "INFO  jepsen.core - start\n" +
		"INFO  jepsen.util - 0\t:invoke\t:read\tnil\n" +
		"\n" +
		"INFO  jepsen.util - 1\t:invoke\t:write\t3\n" +
		"WARN  jepsen.core - something\n" +
		"INFO  jepsen.util - 0\t:ok\t:read\t3\n" +
		"INFO  jepsen.util - 1\t:info\t:write\t:timed-out" // no final newline
	h, err := ReadJepsenLog(strings.NewReader(in), "j.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := []int{2, 4, 6, 7}
	if len(h) != len(lines) {
		t.Fatalf("%d ops, want %d", len(h), len(lines))
	}
	for i, op := range h {
		if op.Index != int64(i) || int(op.Line) != lines[i] || op.Time != int64(lines[i]) {
			t.Errorf("op %d: index %d line %d time %d, want %d, %d, %d", i, op.Index, op.Line, op.Time, i, lines[i], lines[i])
		}
	}
	pairs, err := Pairs(h, "j.log")
	if err != nil || len(pairs) != 2 || h.Outcome(pairs[1]) != Info {
		t.Fatalf("pairs %v %v", pairs, err)
	}

	for _, in := range []string{"", "\n\n", "INFO  jepsen.core - nothing happened\n"} {
		h, err := ReadJepsenLog(strings.NewReader(in), "j.log")
		if err != nil || len(h) != 0 {
			t.Errorf("%q: %d ops, %v; want none and no error", in, len(h), err)
		}
	}
}

func TestReadJepsenLogErrors(t *testing.T) {
	const good = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
	tests := []struct {
		name, line, msg string
	}{
		{"cut after prefix", "INFO  jepsen.util - ", "nothing after the logger name"},
		{"cut after dash", "INFO  jepsen.util -", "nothing after the logger name"},
		{"cut after process", "INFO  jepsen.util - 3", "no op type"},
		{"cut in type", "INFO  jepsen.util - 3\t:inv", `op type ":inv" is not`},
		{"cut after type", "INFO  jepsen.util - 3\t:invoke\t", "no f after"},
		{"cut after f", "INFO  jepsen.util - 3\t:invoke\t:cas", "no value after :cas"},
		{"cut in value", "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4", `value "[1 4" is not EDN`},
		{"cut in string", "INFO  jepsen.util - 3\t:invoke\t:echo\t\"abc", "is not EDN"},
		{"two values", "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4] 5", "more than one value"},
		{"bad value", "INFO  jepsen.util - 3\t:invoke\t:cas\t01", "is not EDN"},
		{"negative process", "INFO  jepsen.util - -1\t:invoke\t:read\tnil", `process "-1" is neither`},
		{"keyword process", "INFO  jepsen.util - :worker\t:invoke\t:read\tnil", `process ":worker" is neither`},
		{"process with junk", "INFO  jepsen.util - 3x\t:invoke\t:read\tnil", `process "3x" is neither`},
		{"bad type", "INFO  jepsen.util - 3\t:done\t:read\tnil", `op type ":done"`},
		{"bare cut", "0\t:inv", `op type ":inv"`},
		{"bare cut value", "0\t:invoke\t:cas\t[1", "is not EDN"},
		{"logback cut", "2021-02-26 23:39:01,300{GMT}\tINFO\t[jepsen worker 1] jepsen.util: 1\t:ok", "no f after"},
	}
	for _, tc := range tests {
		in := good + "INFO  jepsen.core - other\n" + tc.line + "\n" + good
		if !strings.Contains(tc.line, "jepsen") {
			// A log of bare op lines (history.txt), where a bad line is
			// an error; after a logger's line it would be skipped.
			in = "0\t:invoke\t:read\tnil\n\n" + tc.line + "\n"
		}
		h, err := ReadJepsenLog(strings.NewReader(in), "j.log")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %d ops and error %v, want a ParseError", tc.name, len(h), err)
			continue
		}
		if pe.File != "j.log" || pe.Line != 3 || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "j.log:3: ") {
			t.Errorf("%s: error %q, want j.log:3 and %q", tc.name, err, tc.msg)
		}
	}
}

// TestReadJepsenLogCorpus reads the Jepsen etcd logs that porcupine tests
// with: 102 runs and etcd_095.log, which is empty (the cluster did not
// start). Every jepsen.util line must become an op, and every history must
// pair.
func TestReadJepsenLogCorpus(t *testing.T) {
	dir := filepath.Join(corporaDir(t), "porcupine-jepsen-etcd")
	files, err := filepath.Glob(filepath.Join(dir, "etcd_*.log"))
	if err != nil || len(files) != 103 {
		t.Fatalf("%d etcd logs in %s, want 103 (%v)", len(files), dir, err)
	}
	total, nemesis, infos := 0, 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		opLines := 0
		for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
			if bytes.Contains(sc.Bytes(), []byte("jepsen.util - ")) {
				opLines++
			}
		}
		h, err := ReadJepsenLog(bytes.NewReader(data), file)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(h) != opLines {
			t.Errorf("%s: %d ops from %d jepsen.util lines", file, len(h), opLines)
		}
		if empty := filepath.Base(file) == "etcd_095.log"; empty != (len(h) == 0) || !empty && len(h) < 10 {
			t.Errorf("%s: only %d ops", file, len(h))
		}
		for _, op := range h {
			switch op.F {
			case "read", "write", "cas":
			default:
				t.Errorf("%s:%d: f %q", file, op.Line, op.F)
			}
			if op.Process == Nemesis {
				nemesis++
			}
			if op.Type == Info {
				infos++
				if op.Value != "timed-out" && op.F == "read" {
					t.Errorf("%s:%d: info read with value %v", file, op.Line, op.Value)
				}
			}
		}
		if _, err := Pairs(h, file); err != nil {
			t.Errorf("Pairs: %v", err)
		}
		// ReadFile detects the format from the content.
		h2, err := ReadFile(file)
		if err != nil || len(h2) != len(h) {
			t.Errorf("ReadFile(%s): %d ops, %v", file, len(h2), err)
		}
		total += len(h)
	}
	// 17046 jepsen.util lines in all, 1283 of them :info (crashed ops).
	if total != 17046 || infos != 1283 || nemesis != 0 {
		t.Errorf("%d ops, %d info, %d nemesis; want 17046, 1283, 0", total, infos, nemesis)
	}
}

// BenchmarkReadJepsenLog reads all the etcd logs per iteration.
func BenchmarkReadJepsenLog(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corporaDir(b), "porcupine-jepsen-etcd", "etcd_*.log"))
	var logs [][]byte
	size := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		logs = append(logs, data)
		size += len(data)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for i, data := range logs {
			if _, err := ReadJepsenLog(bytes.NewReader(data), files[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

package histories

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The readers' contract, for any input: no panic; an error is a *ParseError
// whose line is in the file; ops come with their lines in order (but for
// synthetic invocations, which carry their completion's line); reading is
// deterministic; and Pairs can judge whatever was read without panicking.
// Crashers found are kept under testdata/fuzz/ as regression seeds.

func FuzzReadEDN(f *testing.F) {
	for _, s := range corpusSeeds("porcupine-kv", "c*.txt", 10) {
		f.Add(s)
	}
	for _, s := range []string{
		jepsenVector,
		`{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}`,
		`[{:type :invoke, :f :write, :value 1, :process 0, :time 123, :index 0}]`,
		"({:type :invoke, :f :write, :value 1, :process 0}\n {:type :ok, :f :write, :value 1, :process 0})",
		`{:process :nemesis, :type :info, :f :start, :value #jepsen.independent.tuple [1 #{2 3}], :node \a, :error #inst "2020"}`,
		`{:process 1 :type :ok :f :txn :value [[:append 9 11] [:r 1 [1 2]]] :key 5N :time 1.5M}`,
		`{:process 0 :type :ok :f :read :value {[1 2] {:a "}"}, nil #{} "s" \newline}}`,
		"; comment\n[\n#_ {:x 1}\n{:process 0 :type :invoke :f :r :value nil}\n{:process 0 :type :ok :f :r :value nil} ]",
		`{:process 0, :type :o`,
		`[{:process 0, :type :ok, :f :w}`,
		`{:process 0 :value "ab`,
		`{:process 0 :value \`,
		`#foo #_ 1 {:process 0 :type :invoke :f :x}`,
		`{:a 1]`,
		`}`,
		`[1 2 3]`,
		`#_`,
		"{:process 0 :type :invoke :f :x :value \"\\u00e9\" :key \"\u00a0\"}\u00a0{:process 0 :type :ok :f :x}",
		// Knossos' tuples, Elle's completions without invocations, :f or
		// :process, Jepsen's tagged transactions.
		"[70  :invoke :read nil]\n[70  :ok :read 3]\n[71 :fail :read nil :conn-lost]\n[:nemesis  :info :start  nil]",
		"[[0 :invoke :write 1] [0 :ok :write 1]]",
		"[{:type :ok, :value [[:append :x 1] [:r :y [1]]]}\n {:process 0, :type :info, :value [[:r :x]]}]",
		"{:process 0 :type :invoke :f :read :value [[:r [:a 1] nil] [:r :y]] :key [1 {:a #{2}}] :time 0}\n{:process 0 :type :ok :f :read :value [[:r [:a 1] [1]] [:r :y nil]] :time 0}",
		"[(0 :invoke :cas [1 2]) (\n0 :fail :cas [1 2])]",
		"[",
		"[ ]",
		"[ 1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReader(t, data, ReadEDN)
	})
}

func FuzzReadJepsenLog(f *testing.F) {
	for _, s := range corpusSeeds("porcupine-jepsen-etcd", "etcd_00*.log", 10) {
		f.Add(s)
	}
	for _, s := range []string{
		"INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 3\t:info\t:cas\t:timed-out\n",
		"INFO  jepsen.util - 1   :invoke :write  3\nINFO  jepsen.util - 1   :ok :write  3\n",
		"2021-02-26 23:39:01,300{GMT}\tINFO\t[jepsen worker 1] jepsen.util: 1\t:invoke\t:txn\t[[:r 1 nil] [:append 9 11]]\n",
		"INFO  jepsen.util - :nemesis\t:info\t:start\t{:n1 #{:n2 :n3}}\t:boom\n",
		"0\t:invoke\t:read\tnil\r\n0\t:ok\t:read\t\"s\"\r\n",
		"INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4",
		"INFO  jepsen.util - 3\t:inv",
		"INFO  jepsen.util - ",
		"INFO  jepsen.util - Waiting for node\n",
		"INFO  jepsen.util - 3\t:ok\t:read\t99999999999999999999\n",
		"INFO  jepsen.util - 3\t:ok\t:read\t[0 nil]\n",
		"INFO  jepsen.util - 3\t:ok\t:read\t[0  nil]\n",
		"INFO  jepsen.core - Command line:\nlein run test\n :nemesis :partition\n0\t:bad\nINFO  jepsen.util - 0\t:invoke\t:write\t[[:append 1 2]]\n",
		"0\t:ok\t:read\t[[:r 1 [2]]]\n1\t:ok\t:write\t[[:w 1 3]]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReader(t, data, ReadJepsenLog)
	})
}

func FuzzReadJSONL(f *testing.F) {
	// The corpora, converted to JSONL.
	for _, s := range corpusSeeds("porcupine-kv", "c01-*.txt", 10) {
		if h, err := ReadEDN(bytes.NewReader(s), ""); err == nil {
			var b bytes.Buffer
			if WriteJSONL(&b, h) == nil {
				f.Add(b.Bytes())
			}
		}
	}
	for _, s := range corpusSeeds("porcupine-jepsen-etcd", "etcd_00[0-3].log", 10) {
		if h, err := ReadJepsenLog(bytes.NewReader(s), ""); err == nil {
			var b bytes.Buffer
			if WriteJSONL(&b, h) == nil {
				f.Add(b.Bytes())
			}
		}
	}
	for _, s := range []string{
		`{"index":0,"time":1204551,"process":3,"type":"invoke","f":"cas","key":"7","value":[1,4]}
{"index":1,"time":9914022,"process":3,"type":"ok","f":"cas","key":"7","value":[1,4],"node":"n2"}
{"index":2,"time":10002111,"process":"nemesis","type":"info","f":"start-partition","value":{"n1":["n2","n3"]}}
`,
		`{"process":0,"type":"invoke","f":"txn","value":[["append","x",3],["r","y",[1,2]]]}` + "\n" +
			`{"process":0,"type":"ok","f":"txn","value":[["append","x",3],["r","y",[1,2]]],"error":{"a":1.5}}`,
		`{"process":0,"type":"invoke","f":"w","key":7,"value":1e400}`,
		`{"process":0,"type":"invoke","f":"w","value":1}` + "\n" + `{"process":0,"type":"ok","f":"w","val`,
		`{"process":-1,"type":"invoke","f":"w"}`,
		`{"process":0,"type":"invoke","f":"w","index":3}` + "\n" + `{"process":0,"type":"ok","f":"w"}`,
		"\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkReader(t, data, ReadJSONL)
	})
}

func checkReader(t *testing.T, data []byte, read func(io.Reader, string) (History, error)) {
	t.Helper()
	h, err := read(bytes.NewReader(data), "fuzz")
	lines := bytes.Count(data, []byte("\n")) + 1
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *ParseError", err, err)
		}
		if pe.Line < 0 || pe.Line > lines+1 {
			t.Fatalf("error %v names line %d of a %d-line input", err, pe.Line, lines)
		}
		if !strings.HasPrefix(err.Error(), "fuzz") {
			t.Fatalf("error %q does not start with the file name", err)
		}
		return
	}
	last := 0
	for i, op := range h {
		if line := int(op.Line); line < 1 || line > lines || line < last && !op.Synthetic {
			t.Fatalf("op %d (%v) read from line %d of %d, after line %d", i, op, op.Line, lines, last)
		}
		if !op.Synthetic {
			last = int(op.Line)
		}
		if op.Type < Invoke || op.Type > Info || op.Process < Nemesis {
			t.Fatalf("op %d at line %d is invalid: %#v", i, op.Line, op)
		}
		_ = op.String()
	}
	again, err := read(bytes.NewReader(data), "fuzz")
	if err != nil || !reflect.DeepEqual(again, h) {
		t.Fatalf("second read differs: %v", err)
	}
	if _, err := Pairs(h, "fuzz"); err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("Pairs error %v (%T) is not a *ParseError", err, err)
		}
	}
}

// corpusSeeds returns, from the shared corpora, each matching file's first
// lines and its single lines, as fuzz seeds; nothing if the corpora are not
// there.
func corpusSeeds(dir, pattern string, lines int) [][]byte {
	var seeds [][]byte
	for _, root := range []string{filepath.Join("..", "testdata", "corpora"), "/work/shared/corpora"} {
		files, _ := filepath.Glob(filepath.Join(root, dir, pattern))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				continue
			}
			ls := bytes.SplitAfter(data, []byte("\n"))
			if len(ls) > lines {
				ls = ls[:lines]
			}
			seeds = append(seeds, bytes.Join(ls, nil))
			seeds = append(seeds, ls[:min(len(ls), 3)]...)
		}
		if len(seeds) > 0 {
			break
		}
	}
	return seeds
}

// FuzzDecodeFast checks the fast line decoder against encoding/json's: where
// the fast one accepts a line, the strict one must accept it too and decode
// the same op.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"index":0,"time":1204551,"process":3,"type":"invoke","f":"cas","key":"7","value":[1,4]}`,
		`{"index":2,"time":10002111,"process":"nemesis","type":"info","f":"start-partition","value":["n2",true,null,-5]}`,
		`{"process":0,"type":"ok","f":"txn","value":[["append","x",3],["r","y",[1,2]]],"node":"n1","error":"timeout"}`,
		`{"process":0,"type":"invoke","f":"w","key":7,"value":99999999999999999999}`,
		` { "process" : 0 , "type" : "fail" , "f" : "é" , "value" : [ ] } `,
	} {
		f.Add([]byte(s))
	}
	// One decoder across inputs, as a reader's goroutine keeps one: its
	// interned strings and scratch stack must not leak from line to line.
	var shared fastDecoder
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow, again Op
		if !decodeFast(b, &fast) {
			if shared.decode(b, &again) {
				t.Fatalf("%q: a decoder with state accepted what a fresh one refused", b)
			}
			return
		}
		if err := slow.unmarshalSlow(b); err != nil {
			t.Fatalf("fast accepted %q, strict refused: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %#v, strict %#v", b, fast, slow)
		}
		if !shared.decode(b, &again) || !reflect.DeepEqual(again, slow) {
			t.Fatalf("%q: a decoder with state gave %#v, strict %#v", b, again, slow)
		}
	})
}

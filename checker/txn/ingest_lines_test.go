package txn

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// validLines is a small list-append history, one op a line.
var validLines = []string{
	`{"index":0,"time":10,"process":0,"type":"invoke","f":"txn","value":[["append",1,1],["r",2,null]],"node":"n1"}`,
	`{"index":1,"time":11,"process":1,"type":"invoke","f":"txn","value":[["append","k",1],["r",1,null]]}`,
	`{"index":2,"time":12,"process":0,"type":"ok","f":"txn","value":[["append",1,1],["r",2,[]]],"node":"n1"}`,
	`{"index":3,"time":13,"process":"nemesis","type":"info","f":"start-partition","value":["n1","n2"]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":5,"time":15,"process":2,"type":"invoke","f":"txn","value":[["r","k",null],["append",2,7]]}`,
	`{"index":6,"time":16,"process":2,"type":"info","f":"txn","value":[["r","k",null],["append",2,7]],"error":"timeout"}`,
}

// badLines are lines the fast scanner must leave to histories' decoder,
// or reject as it does; each replaces line 5 of validLines.
var badLines = []string{
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]],"bogus":1}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1.5],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k","x"],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k\"",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1.0,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[[1]]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1,]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1],2]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["w",1,1]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["x",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],[1,1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],"r"]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":null}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":{"a":1}}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn"}`,
	`{"index":4,"time":14,"process":1,"type":"ok","value":[]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"read","value":[]}`,
	`{"index":4,"time":14,"process":1,"type":":ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"okay","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":-1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":"nemesis","type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":"1","type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":014,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":1e3,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":99999999999999999999,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":-9223372036854775808,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[-0]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]],"error":{"x":1}}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]],"error":"a\nb"}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]],"node":"n\u00e9"}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]],"node":null}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","ké",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","key":"x","value":[["append","k",1],["r",1,[1]]]}`,
	` { "index" : 4 , "time" : 14 , "process" : 1 , "type" : "ok" , "f" : "txn" , "value" : [ [ "append" , "k" , 1 ] , [ "r" , 1 , [ 1 ] ] ] } `,
	`{"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]} x`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r","1",[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]`,
	`{"index":4,"time":14,"proc`,
	`{`,
	`[1]`,
	`not json`,
	"\x00",
	`{"index":3,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[1]]],"node":"n1","node":"n2"}`,
	`{"index":4,"time":14,"process":1,"type":"fail","f":"txn","value":[["append","k",1],["r",1,null]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",2],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append",1,1],["r",1,[1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[["append","k",1],["r",1,[2,1]]]}`,
	`{"index":4,"time":14,"process":1,"type":"ok","f":"txn","value":[]}`,
	``,
	`   `,
}

// TestIngestBadLines: each bad line, in the middle of a history or as its
// last line (with a newline or cut off without one), reads and checks as
// histories.ReadFile and Check do, with the same errors, never a panic.
func TestIngestBadLines(t *testing.T) {
	dir := t.TempDir()
	fast := 0
	for i, bad := range badLines {
		for _, last := range []bool{false, true} {
			for _, nl := range []bool{false, true} {
				lines := append([]string(nil), validLines...)
				if last {
					lines = append(lines, bad)
				} else {
					lines[4] = bad
				}
				text := strings.Join(lines, "\n")
				if nl {
					text += "\n"
				}
				p := filepath.Join(dir, fmt.Sprintf("bad-%d-%v-%v.jsonl", i, last, nl))
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				if sameCheck(t, p, sameOpts[:2]) {
					fast++
				}
			}
		}
	}
	// Most bad lines are decoded by histories or are cut off at the end.
	if fast < 2*len(badLines) {
		t.Errorf("the fast reader took %d of %d files", fast, 4*len(badLines))
	}
	t.Logf("the fast reader took %d of %d files", fast, 4*len(badLines))
}

// FuzzIngestLine: any line among valid ones reads and checks as
// histories.ReadFile and Check do.
func FuzzIngestLine(f *testing.F) {
	for _, l := range append(append([]string(nil), validLines...), badLines...) {
		f.Add(l, false)
		f.Add(l, true)
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, line string, last bool) {
		lines := append([]string(nil), validLines...)
		if last {
			lines = append(lines, line)
		} else {
			lines[4] = line
		}
		n++
		p := filepath.Join(dir, fmt.Sprintf("fuzz-%d.jsonl", n))
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		sameCheck(t, p, sameOpts[:1])
	})
}

// TestWriteAppendHistory: the streaming generator writes what
// AppendHistoryWith generates.
func TestWriteAppendHistory(t *testing.T) {
	for _, o := range []GenOptions{
		{Seed: 3, Txns: 20000, Procs: 30, Keys: 10, OpsPerTxn: 4, PlantG2: true},
		{Seed: 4, Txns: 5000, Procs: 7, Keys: 3, OpsPerTxn: 3, InfoRate: 0.1, FailRate: 0.1, StaleReads: 0.1},
	} {
		var want, got bytes.Buffer
		if err := histories.WriteJSONL(&want, AppendHistoryWith(o)); err != nil {
			t.Fatal(err)
		}
		if err := WriteAppendHistory(&got, o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%+v: WriteAppendHistory writes %d bytes unlike AppendHistoryWith's %d", o, got.Len(), want.Len())
		}
	}
}

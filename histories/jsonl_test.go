package histories

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestJSONLRoundTrip(t *testing.T) {
	h := History{
		{Index: 0, Time: 5, Process: 3, Type: Invoke, F: "cas", Key: "7", Value: []any{int64(1), int64(4)}},
		{Index: 1, Time: 9, Process: 3, Type: OK, F: "cas", Key: "7", Value: []any{int64(1), int64(4)}, Node: "n2"},
		{Index: 2, Time: 10, Process: Nemesis, Type: Info, F: "start-partition", Value: map[string]any{"n1": []any{"n2", "n3"}}},
		{Index: 3, Time: 11, Process: 0, Type: Invoke, F: "write", Key: "quote\"d\n", Value: "é"},
		{Index: 4, Time: 12, Process: 0, Type: Info, F: "write", Key: "quote\"d\n", Value: "é", Error: "timeout"},
		{Index: 5, Time: 13, Process: 1, Type: Invoke, F: "txn", Value: []any{[]any{"append", "x", int64(3)}, []any{"r", "y", nil}}},
	}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, h); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(&buf, "h.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Line = 0
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, h)
	}
}

func TestJSONLDesignExample(t *testing.T) {
	// The example from DESIGN.md must read as written there.
	in := `{"index":0,"time":1204551,"process":3,"type":"invoke","f":"cas","key":"7","value":[1,4]}
{"index":1,"time":9914022,"process":3,"type":"ok","f":"cas","key":"7","value":[1,4],"node":"n2"}
{"index":2,"time":10002111,"process":"nemesis","type":"info","f":"start-partition","value":{"n1":["n2","n3"]}}
`
	h, err := ReadJSONL(strings.NewReader(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[2].Process != Nemesis || h[1].Node != "n2" || h[0].Key != "7" {
		t.Fatalf("bad parse: %+v", h)
	}
	if !reflect.DeepEqual(h[0].Value, []any{int64(1), int64(4)}) {
		t.Fatalf("value %#v", h[0].Value)
	}
	pairs, err := Pairs(h, "x")
	if err != nil || len(pairs) != 1 || pairs[0] != (Pair{0, 1}) {
		t.Fatalf("pairs %v %v", pairs, err)
	}
}

func TestJSONLErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"truncated", `{"index":0,"process":0,"type":"invoke","f":"read","value":null}` + "\n" + `{"index":1,"process":0,"ty`, "h.jsonl:2: the last line (26 bytes) is cut off mid-op"},
		{"unknown type", `{"index":0,"process":0,"type":"invok","f":"read","value":null}`, `h.jsonl:1: bad op: unknown op type "invok"`},
		{"missing f", `{"index":0,"process":0,"type":"invoke","value":null}`, `h.jsonl:1: bad op: missing "f"`},
		{"bad process", `{"index":0,"process":"n1","type":"invoke","f":"r","value":null}`, `h.jsonl:1: bad op: process "n1"`},
		{"typo field", `{"index":0,"proces":0,"type":"invoke","f":"r","value":null}`, `h.jsonl:1: bad op: json: unknown field "proces"`},
		{"garbage", "\n\nnot json", "h.jsonl:3: bad op"},
		{"partial index", `{"index":0,"process":0,"type":"invoke","f":"r","value":null}` + "\n" + `{"process":0,"type":"ok","f":"r","value":null}`, "h.jsonl:2: op has no index"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadJSONL(strings.NewReader(c.in), "h.jsonl")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("want ParseError, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %q does not start with %q", err, c.want)
			}
		})
	}
}

func TestPairsErrors(t *testing.T) {
	op := func(p Process, ty Type, f string) Op { return Op{Process: p, Type: ty, F: f} }
	cases := []struct {
		name string
		h    History
		want string
	}{
		{"double invoke", History{op(0, Invoke, "read"), op(0, Invoke, "write")}, "x:2: process 0 invoked write while its read from line 1 has not completed"},
		{"orphan completion", History{op(1, OK, "read")}, "x:1: process 1 completed read (ok) with no invoke"},
		{"reuse after info", History{op(0, Invoke, "write"), op(0, Info, "write"), op(0, Invoke, "read")}, "x:3: process 0 invoked read after its op at line 2 ended in info"},
		{"f mismatch", History{op(0, Invoke, "write"), op(0, OK, "read")}, "x:2: process 0 completed read but invoked write at line 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.h.Renumber()
			_, err := Pairs(c.h, "x")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want prefix %q", err, c.want)
			}
		})
	}
	h := History{op(0, Invoke, "read"), op(0, OK, "read")}
	h[0].Index, h[1].Index = 5, 5
	if _, err := Pairs(h, "x"); err == nil || !strings.Contains(err.Error(), "does not increase") {
		t.Fatalf("index order not checked: %v", err)
	}
}

func TestPairsOpenAndFail(t *testing.T) {
	h := History{
		{Process: 0, Type: Invoke, F: "write"},
		{Process: 1, Type: Invoke, F: "read"},
		{Process: 1, Type: Fail, F: "read"},
		{Process: 1, Type: Invoke, F: "read"}, // a failed op does not retire
		{Process: Nemesis, Type: Info, F: "start"},
	}
	h.Renumber()
	pairs, err := Pairs(h, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{{0, Open}, {1, 2}, {3, Open}}
	if !reflect.DeepEqual(pairs, want) {
		t.Fatalf("got %v want %v", pairs, want)
	}
	if h.Outcome(pairs[0]) != Info || h.Outcome(pairs[1]) != Fail {
		t.Fatal("outcomes")
	}
}

// TestRecorderConcurrentCrashSafe records from many goroutines and reads the
// file back while the recorder is still open (as after a controller crash).
func TestRecorderConcurrentCrashSafe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	rec, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(p Process) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				inv, err := rec.Record(Op{Process: p, Type: Invoke, F: "write", Key: "k", Value: int64(i)})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := rec.Record(Op{Process: p, Type: OK, F: inv.F, Key: inv.Key, Value: inv.Value}); err != nil {
					t.Error(err)
					return
				}
			}
		}(Process(w))
	}
	wg.Wait()
	// No Close: the file must already hold everything.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := ReadJSONL(f, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != workers*each*2 {
		t.Fatalf("read %d ops, want %d", len(h), workers*each*2)
	}
	for i, op := range h {
		if op.Index != int64(i) || (i > 0 && op.Time < h[i-1].Time) {
			t.Fatalf("op %d: index %d time %d after %d", i, op.Index, op.Time, h[i-1].Time)
		}
	}
	if _, err := Pairs(h, path); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Record(Op{Process: 0, Type: Invoke, F: "x"}); err == nil {
		t.Fatal("record after close must fail")
	}
}

func BenchmarkRecorder(b *testing.B) {
	rec, err := Create(filepath.Join(b.TempDir(), "history.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	op := Op{Process: 7, Type: OK, F: "cas", Key: "1234", Value: []any{int64(17), int64(42)}, Node: "n3"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rec.Record(op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecorderParallel(b *testing.B) {
	rec, err := Create(filepath.Join(b.TempDir(), "history.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	b.RunParallel(func(pb *testing.PB) {
		op := Op{Process: 7, Type: OK, F: "read", Key: "1234", Value: int64(42), Node: "n3"}
		for pb.Next() {
			if _, err := rec.Record(op); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A last line cut off mid-op is a TruncatedError carrying the complete
// ops; the same bad line in the middle, or a bad last line that ends with
// a newline (a complete line that is wrong), is an error naming the line.
func TestReadJSONLTruncatedTail(t *testing.T) {
	good := "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n" +
		"{\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":3}\n"
	cut := "{\"index\":2,\"time\":3,\"proc"
	_, err := ReadJSONL(strings.NewReader(good+cut), "h.jsonl")
	var te *TruncatedError
	if !errors.As(err, &te) || te.Line != 3 || len(te.History) != 2 || te.History[1].Value != int64(3) {
		t.Fatalf("cut-off last line: %v, %+v", err, te)
	}
	if !strings.Contains(err.Error(), "h.jsonl:3: the last line") {
		t.Errorf("message: %v", err)
	}
	for _, bad := range []string{cut + "\n" + good, good + cut + "\n"} {
		_, err := ReadJSONL(strings.NewReader(bad), "h.jsonl")
		if err == nil || errors.As(err, &te) {
			t.Errorf("%q: %v, want a plain error", bad, err)
		}
	}
}

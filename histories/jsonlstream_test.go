package histories

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// bigJSONL is a history of n ops, long enough to span many of the reader's
// chunks, with blank lines, lines of white space, CRLF endings and a few
// lines much longer than a chunk among them.
func bigJSONL(n int) string {
	var b strings.Builder
	for i := range n {
		p := i % 7
		switch {
		case i%2 == 0:
			fmt.Fprintf(&b, `{"index":%d,"time":%d,"process":%d,"type":"invoke","f":"cas","key":"k%d","value":[%d,%d]}`, i, i*10, p, i%13, i%5, i%3)
		case i%10000 == 1:
			long := strings.Repeat("x", 3*maxChunk/2)
			fmt.Fprintf(&b, `{"index":%d,"process":%d,"type":"ok","f":"cas","value":"%s","node":"n1"}`, i, p, long)
		default:
			fmt.Fprintf(&b, `{"index":%d,"process":%d,"type":"fail","f":"cas","key":"k%d","value":[1,2],"error":"timed out"}`, i, p, i%13)
		}
		switch i % 11 {
		case 3:
			b.WriteString("\r\n")
		case 5:
			b.WriteString("\n\n  \t\n")
		default:
			b.WriteString("\n")
		}
	}
	return b.String()
}

// lineByLine is what the reader must give: each non-blank line decoded on
// its own by encoding/json.
func lineByLine(t *testing.T, in string) History {
	t.Helper()
	var h History
	for i, line := range strings.Split(in, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var o Op
		if err := o.unmarshalSlow([]byte(strings.TrimSpace(line))); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		o.Line = int32(i + 1)
		h = append(h, o)
	}
	return h
}

// TestReadJSONLChunks reads a history of many chunks, through every way in:
// a reader that gives half what is asked, a plain file (whose size sizes
// the history), a gzip-compressed one; all must decode every line as a
// line on its own decodes.
func TestReadJSONLChunks(t *testing.T) {
	in := bigJSONL(30_000)
	want := lineByLine(t, in)
	dir := t.TempDir()
	plain := filepath.Join(dir, "history.jsonl")
	if err := os.WriteFile(plain, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(in))
	zw.Close()
	compressed := filepath.Join(dir, "history.jsonl.gz")
	if err := os.WriteFile(compressed, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func() (History, error){
		"short reads": func() (History, error) {
			return ReadJSONL(iotest.HalfReader(strings.NewReader(in)), "h.jsonl")
		},
		"file":    func() (History, error) { return ReadFile(plain) },
		"gzip":    func() (History, error) { return ReadFile(compressed) },
		"stream":  func() (History, error) { return ReadJSONL(strings.NewReader(in), "h.jsonl") },
		"no tail": func() (History, error) { return ReadJSONL(strings.NewReader(strings.TrimRight(in, "\n")), "h.jsonl") },
	}
	for name, read := range reads {
		got, err := read()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d ops, want %d", name, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%s: op %d is %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
}

// TestReadJSONLChunksErrors: the first bad line in the file is the one
// named, wherever the chunks fall, and a last line cut off after many
// chunks is a TruncatedError with every op before it.
func TestReadJSONLChunksErrors(t *testing.T) {
	in := bigJSONL(30_000)
	lines := strings.Split(in, "\n")
	bad := func(at ...int) string {
		l := append([]string(nil), lines...)
		for _, i := range at {
			l[i] = `{"index":1,"process":0,"type":"invok","f":"r"}`
		}
		return strings.Join(l, "\n")
	}
	for _, at := range [][]int{{2}, {len(lines) - 40}, {len(lines) / 2, 7}, {len(lines) - 3, len(lines) / 3}} {
		first := min(at[0], at[len(at)-1])
		_, err := ReadJSONL(strings.NewReader(bad(at...)), "h.jsonl")
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != first+1 {
			t.Errorf("bad lines %v: %v, want an error at line %d", at, err, first+1)
		}
	}
	cut := strings.TrimRight(in, "\n")
	cut = cut[:len(cut)-10]
	_, err := ReadJSONL(strings.NewReader(cut), "h.jsonl")
	var te *TruncatedError
	want := lineByLine(t, in)
	if !errors.As(err, &te) || len(te.History) != len(want)-1 || te.Line != int(want[len(want)-1].Line) {
		t.Fatalf("cut-off last line: %v", err)
	}
	if !reflect.DeepEqual(te.History[len(te.History)-1], want[len(want)-2]) {
		t.Errorf("the last complete op is %+v, want %+v", te.History[len(te.History)-1], want[len(want)-2])
	}
}

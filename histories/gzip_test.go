package histories

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A gzip-compressed history reads as the plain one, by file or by
// directory, whatever the name; a damaged one is an error naming the file.
func TestReadFileGzip(t *testing.T) {
	plain := []byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"x","value":null}
{"index":1,"time":2,"process":0,"type":"ok","f":"read","key":"x","value":3}
`)
	edn := []byte(`{:type :invoke, :f :read, :value nil, :process 0, :index 0}
{:type :ok, :f :read, :value 3, :process 0, :index 1}
`)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want, err := ReadFile(write("plain.jsonl", plain))
	if err != nil {
		t.Fatal(err)
	}
	wantEDN, err := ReadFile(write("plain.edn", edn))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want History
	}{
		{write("a/history.jsonl.gz", gz(t, plain)), want},
		{filepath.Join(dir, "a"), want}, // the directory holding it
		{write("b/history.edn.gz", gz(t, edn)), wantEDN},
		{write("c/compressed", gz(t, plain)), want}, // known by content
	} {
		got, err := ReadFile(c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.path, got, c.want)
		}
	}

	// Truncated in the middle of the stream, and not gzip after the magic.
	z := gz(t, bytes.Repeat(plain, 200))
	for name, b := range map[string][]byte{
		"truncated.jsonl.gz": z[:len(z)/2],
		"bad.jsonl.gz":       append([]byte{0x1f, 0x8b}, []byte("not gzip at all")...),
	} {
		p := write(name, b)
		_, err := ReadFile(p)
		if err == nil {
			t.Errorf("%s: read without error", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		if name == "truncated.jsonl.gz" && !strings.Contains(err.Error(), "truncated") {
			t.Errorf("%s: error does not say it is truncated: %v", name, err)
		}
	}
}

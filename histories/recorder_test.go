package histories

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tee sees every op recorded, in index order, with the very line the file
// holds.
func TestRecorderTee(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	r, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var indexes []int64
	if _, err := r.Record(Op{Process: 0, Type: Invoke, F: "read"}); err != nil {
		t.Fatal(err)
	}
	r.Tee(func(op Op, line []byte) {
		indexes = append(indexes, op.Index)
		lines = append(lines, string(line))
	})
	for _, op := range []Op{{Process: 0, Type: OK, F: "read", Value: int64(3)}, {Process: Nemesis, Type: Info, F: "start-kill", Value: []any{"n1"}}} {
		if _, err := r.Record(op); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(file) != 3 || len(lines) != 2 || file[1] != lines[0] || file[2] != lines[1] || indexes[0] != 1 || indexes[1] != 2 {
		t.Fatalf("tee saw %q (indexes %v); the file holds %q", lines, indexes, file)
	}
}

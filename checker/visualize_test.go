package checker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

func TestVisualizationFile(t *testing.T) {
	cases := map[string]string{
		"":      "linearizability/history.html",
		"7":     "linearizability/key-7.html",
		"a_b-c": "linearizability/key-a_b-c.html",
	}
	for key, want := range cases {
		if got := VisualizationFile(key); got != want {
			t.Errorf("VisualizationFile(%q) = %q, want %q", key, got, want)
		}
		if got, want := LegacyVisualizationFile(key), strings.Replace(strings.Replace(want, "/key-", "-key-", 1), "/history.html", ".html", 1); got != want {
			t.Errorf("LegacyVisualizationFile(%q) = %q, want %q", key, got, want)
		}
	}
	// Keys that are not safe as file names get a hash: no path
	// separators, no dot-dot, no collisions between keys that sanitise the
	// same, bounded length.
	seen := map[string]string{}
	for _, key := range []string{"a/b", "a_b", "a\\b", "../../etc/passwd", "..", "ключ", "a b", "a\x00b", strings.Repeat("k", 500), strings.Repeat("k", 501)} {
		f, ok := strings.CutPrefix(VisualizationFile(key), VisualizationDir+"/")
		if !ok || strings.ContainsAny(f, "/\\\x00 ") || f == ".." || len(f) > 120 || !strings.HasSuffix(f, ".html") || !strings.HasPrefix(f, "key-") {
			t.Errorf("VisualizationFile(%q) = %q is not a safe file name", key, f)
		}
		if other, ok := seen[f]; ok {
			t.Errorf("keys %q and %q share the file %q", key, other, f)
		}
		seen[f] = key
	}
}

func TestWriteVisualizations(t *testing.T) {
	var evs []ev
	for i, k := range []string{"ok", "x/y", "z"} {
		evs = append(evs,
			ev{p: 0, t: "invoke", f: "write", v: 1, key: k},
			ev{p: 0, t: "ok", f: "write", v: 1, key: k},
			ev{p: 5 + i, t: "invoke", f: "cas", v: l(1, 2), key: k},
			ev{p: 5 + i, t: "info", f: "cas", v: l(1, 2), key: k},
		)
		bad := 3
		if k == "ok" {
			bad = 2
		}
		evs = append(evs, ev{p: 1, t: "invoke", f: "read", key: k}, ev{p: 1, t: "ok", f: "read", v: bad, key: k})
	}
	evs = append(evs, ev{p: -1, t: "info", f: "start-partition", v: "majority"}, ev{p: -1, t: "info", f: "stop-partition"})
	h := hist(t, evs...)
	r, lin := check(t, h, casReg)
	if r.Valid != Invalid {
		t.Fatalf("want invalid: %s", r.Summary)
	}
	if got := lin.Keys(); len(got) != 2 || got[0] != "x/y" || got[1] != "z" {
		t.Fatalf("failing keys %v", got)
	}
	ann := NemesisAnnotations(h)
	if len(ann) != 1 || ann[0].Tag != "nemesis" || ann[0].Start != 18 || ann[0].End != 19 || ann[0].Description != "partition" {
		t.Fatalf("annotations %+v", ann)
	}

	// Into the run directory's folder for them; a page of a key that no
	// longer fails is removed, other files are not.
	dir := filepath.Join(t.TempDir(), "run")
	stale := filepath.Join(dir, "linearizability", "key-gone.html")
	mine := filepath.Join(dir, "linearizability", "notes.txt")
	for _, p := range []string{stale, mine} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := lin.WriteVisualizations(dir, ann)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0] != filepath.Join(dir, filepath.FromSlash(VisualizationFile("x/y"))) || paths[1] != filepath.Join(dir, "linearizability", "key-z.html") {
		t.Fatalf("paths %v", paths)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the page of a key that no longer fails was kept")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a file that is not a page was removed: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		// porcupine's page, with our descriptions of ops and states, the
		// process/index tooltips and the nemesis annotation.
		wantContains(t, page, "<html", "read → 3", "cas 1 → 2 (info)", "write 1", "process 1 read 3 (ok at index", `"Tag":"nemesis"`)
	}

	// One key to a writer, for the HTML report to embed; the kept info is
	// not changed by the annotations given.
	var a, b bytes.Buffer
	if err := lin.WriteVisualization(&a, "z", nil); err != nil {
		t.Fatal(err)
	}
	if err := lin.WriteVisualization(&b, "z", []porcupine.Annotation{{Tag: "extra", Start: 1, Description: "mark"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a.String(), `"Tag":"extra"`) || !strings.Contains(b.String(), `"Tag":"extra"`) {
		t.Error("annotations should apply to one rendering only")
	}
	var c bytes.Buffer
	if err := lin.WriteVisualization(&c, "z", nil); err != nil || c.String() != a.String() {
		t.Error("a second rendering without annotations should equal the first")
	}
	if err := lin.WriteVisualization(&a, "ok", nil); err == nil {
		t.Error("a key that linearized has no visualization")
	}
}

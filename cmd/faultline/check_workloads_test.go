package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Jepsen's workload histories (testdata/workloads, one per anomaly of
// each checker) go through `faultline check --workload W` as JSONL and as
// Jepsen EDN alike: each gets its exit code, and the anomaly is named.
func TestCheckWorkloads(t *testing.T) {
	cases := []struct {
		workload, dir string
		exit          map[string]int
		names         map[string]string // case → a word the output must hold
	}{
		{"set", "set", map[string]int{"valid": 0, "stale": 0, "lost": 1, "duplicated": 1, "unexpected": 1, "keyed": 1, "no-read": 2, "bad-read": 3},
			map[string]string{"lost": "lost", "keyed": "lost"}},
		{"counter", "counter", map[string]int{"valid": 0, "too-high": 1, "too-low": 1, "keyed": 1, "no-read": 2, "bad-add": 3, "bad-read": 3},
			map[string]string{"too-high": "above its bounds", "too-low": "below its bounds"}},
		{"bank", "bank", map[string]int{"valid": 0, "wrong-total": 1, "negative-value": 1, "nil-balance": 1, "unexpected-key": 1, "no-read": 2, "bad-read": 3, "bad-transfer": 3},
			map[string]string{"wrong-total": "wrong-total", "negative-value": "negative-value"}},
		{"queue", "queue", map[string]int{"valid": 0, "duplicated": 0, "lost": 1, "unexpected": 1, "keyed": 1, "lost-uncertain": 2, "bad-drain": 3},
			map[string]string{"lost": "lost"}},
		{"lock", "lock", map[string]int{"valid": 0, "overlapping-holders": 1, "stale-token-accepted": 1, "duplicate-token": 1, "keyed": 1, "bad-write": 3},
			map[string]string{"overlapping-holders": "overlapping-holders", "stale-token-accepted": "stale-token-accepted"}},
		{"unique-ids", "uniqueids", map[string]int{"valid": 0, "duplicate-id": 1, "no-id": 2, "bad-generate": 3},
			map[string]string{"duplicate-id": "duplicate-id"}},
	}
	for _, c := range cases {
		for name, want := range c.exit {
			for _, ext := range []string{".jsonl", ".edn"} {
				file := repoPath(filepath.Join("testdata/workloads", c.dir, name+ext))
				code, out, errOut := faultline(t, "", "check", "--workload", c.workload, file)
				if code != want {
					t.Errorf("check --workload %s %s: exit %d, want %d\n%s%s", c.workload, file, code, want, out, errOut)
					continue
				}
				if w := c.names[name]; w != "" && !strings.Contains(out, w) {
					t.Errorf("check --workload %s %s does not name %q:\n%s", c.workload, file, w, out)
				}
				if want == 3 && !strings.Contains(errOut, "line ") {
					t.Errorf("check --workload %s %s: the error does not name the line: %s", c.workload, file, errOut)
				}
			}
		}
	}
	if code, _, errOut := faultline(t, "", "check", "--workload", "sett", repoPath("testdata/workloads/set/valid.jsonl")); code != 3 || !strings.Contains(errOut, "unknown workload") {
		t.Errorf("--workload sett: exit %d %s", code, errOut)
	}
}

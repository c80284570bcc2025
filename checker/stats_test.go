package checker

import (
	"encoding/json"
	"testing"
)

func TestStats(t *testing.T) {
	h := hist(t,
		ev{p: -1, t: "info", f: "start-partition"},
		ev{p: 0, t: "invoke", f: "write", v: 1},
		ev{p: 0, t: "ok", f: "write", v: 1},
		ev{p: 1, t: "invoke", f: "read"},
		ev{p: 1, t: "fail", f: "read", err: "timeout"},
		ev{p: 1, t: "invoke", f: "cas", v: l(1, 2)},
		ev{p: 1, t: "info", f: "cas", v: l(1, 2)},
		ev{p: 2, t: "invoke", f: "read"},
		ev{p: 2, t: "ok", f: "read", v: 1},
		ev{p: 3, t: "invoke", f: "write", v: 3}, // never completes: info
	)
	r := Stats(h)
	if r.Valid != Valid {
		t.Fatalf("%v: %s", r.Valid, r.Summary)
	}
	by := r.Details.(map[string]StatCounts)
	want := map[string]StatCounts{"write": {OK: 1, Info: 1}, "read": {OK: 1, Fail: 1}, "cas": {Info: 1}}
	if len(by) != len(want) {
		t.Fatalf("got %v, want %v", by, want)
	}
	for f, c := range want {
		if by[f] != c {
			t.Errorf("%s: got %+v, want %+v", f, by[f], c)
		}
	}
	wantContains(t, r.Summary, "5 ops: 2 ok, 1 fail, 2 info", "cas 0/0/1", "read 1/1/0", "write 1/0/1")
	js, _ := json.Marshal(r.Details)
	wantContains(t, string(js), `"cas":{"ok":0,"fail":0,"info":1}`)

	// Nothing succeeded: the test tells nothing.
	none := hist(t,
		ev{p: 0, t: "invoke", f: "write", v: 1},
		ev{p: 0, t: "fail", f: "write", v: 1},
		ev{p: 1, t: "invoke", f: "read"},
	)
	if r := Stats(none); r.Valid != Unknown {
		t.Errorf("no ok op: want unknown, got %v: %s", r.Valid, r.Summary)
	}
	if r := Stats(nil); r.Valid != Unknown {
		t.Errorf("empty history: want unknown, got %v", r.Valid)
	}
}

package checker

import (
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/histories"
)

var reg = LinearizableOptions{Model: "register"}
var casReg = LinearizableOptions{Model: "cas-register"}

func TestInfoWriteMayTakeEffectLate(t *testing.T) {
	// Process 1's write of 2 ends in info: it may take effect any time after
	// its invocation, here after process 2 read 1 and before it read 2.
	base := []ev{
		{p: 0, t: "invoke", f: "write", v: 1},
		{p: 0, t: "ok", f: "write", v: 1},
		{p: 1, t: "invoke", f: "write", v: 2},
		{p: 1, t: "info", f: "write", v: 2, err: "timeout"},
		{p: 2, t: "invoke", f: "read"},
		{p: 2, t: "ok", f: "read", v: 1},
		{p: 2, t: "invoke", f: "read"},
		{p: 2, t: "ok", f: "read", v: 2}, // only the info write wrote 2
	}
	wantValid(t, hist(t, base...), reg, Valid)

	// Once it took effect, it stays: reading 1 again is not linearizable.
	bad := append(append([]ev{}, base...), ev{p: 2, t: "invoke", f: "read"}, ev{p: 2, t: "ok", f: "read", v: 1})
	r := wantValid(t, hist(t, bad...), reg, Invalid)
	wantContains(t, r.Summary, "stuck after", "could not linearize: process 2 read 1 (ok at index 9, line 10)")

	// An op that never completed is the same as info.
	open := append([]ev{}, base[:3]...)
	open = append(open, base[4:]...)
	wantValid(t, hist(t, open...), reg, Valid)

	// But an info write cannot take effect before it was invoked.
	early := []ev{
		{p: 2, t: "invoke", f: "read"},
		{p: 2, t: "ok", f: "read", v: 2},
		{p: 1, t: "invoke", f: "write", v: 2},
		{p: 1, t: "info", f: "write", v: 2},
	}
	wantValid(t, hist(t, early...), reg, Invalid)
}

func TestInfoReadAndFailedOpsAreDropped(t *testing.T) {
	h := hist(t,
		ev{p: 0, t: "invoke", f: "write", v: 1},
		ev{p: 0, t: "ok", f: "write", v: 1},
		ev{p: 1, t: "invoke", f: "read"},
		ev{p: 1, t: "info", f: "read", v: 99}, // tells nothing
		ev{p: 2, t: "invoke", f: "read"},
		ev{p: 2, t: "fail", f: "read", v: "timed-out", err: "timed-out"},
		ev{p: 2, t: "invoke", f: "write", v: 5},
		ev{p: 2, t: "fail", f: "write", v: 5}, // certainly did not happen
		ev{p: 3, t: "invoke", f: "read"},
		ev{p: 3, t: "ok", f: "read", v: 1},
	)
	r := wantValid(t, h, reg, Valid)
	if d := r.Details.(LinearizableDetails); d.Ops != 2 || d.Keys != 1 {
		t.Errorf("want 2 ops (write, ok read) on 1 key, got %+v", d)
	}
	// A failed write that is read is a violation.
	h[9].Value = int64(5)
	wantValid(t, h, reg, Invalid)
}

func TestFailedCAS(t *testing.T) {
	write1 := []ev{{p: 0, t: "invoke", f: "write", v: 1}, {p: 0, t: "ok", f: "write", v: 1}}
	cases := []struct {
		name string
		cas  []ev
		want Validity
	}{
		{"compare did not match: it saw a value other than 2", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(2, 3)}, {p: 1, t: "fail", f: "cas", v: l(2, 3)},
			{p: 1, t: "invoke", f: "read"}, {p: 1, t: "ok", f: "read", v: 1},
		}, Valid},
		{"a failed compare of the value held is not linearizable", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(1, 3)}, {p: 1, t: "fail", f: "cas", v: l(1, 3)},
		}, Invalid},
		{"a cas failed with an error did nothing", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(1, 3)}, {p: 1, t: "fail", f: "cas", v: l(1, 3), err: "connection refused"},
			{p: 1, t: "invoke", f: "read"}, {p: 1, t: "ok", f: "read", v: 1},
		}, Valid},
		{"an ok cas took effect", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(1, 3)}, {p: 1, t: "ok", f: "cas", v: l(1, 3)},
			{p: 1, t: "invoke", f: "read"}, {p: 1, t: "ok", f: "read", v: 3},
		}, Valid},
		{"an ok cas needs its old value", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(2, 3)}, {p: 1, t: "ok", f: "cas", v: l(2, 3)},
		}, Invalid},
		{"an info cas may take effect", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(1, 3)}, {p: 1, t: "info", f: "cas", v: l(1, 3)},
			{p: 2, t: "invoke", f: "read"}, {p: 2, t: "ok", f: "read", v: 3},
		}, Valid},
		{"or not", []ev{
			{p: 1, t: "invoke", f: "cas", v: l(1, 3)}, {p: 1, t: "info", f: "cas", v: l(1, 3)},
			{p: 2, t: "invoke", f: "read"}, {p: 2, t: "ok", f: "read", v: 1},
		}, Valid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantValid(t, hist(t, append(append([]ev{}, write1...), c.cas...)...), casReg, c.want)
		})
	}
}

func TestInitialValue(t *testing.T) {
	readBeforeWrite := func(v any) histories.History {
		return hist(t,
			ev{p: 0, t: "invoke", f: "read"},
			ev{p: 0, t: "ok", f: "read", v: v},
			ev{p: 0, t: "invoke", f: "write", v: 1},
			ev{p: 0, t: "ok", f: "write", v: 1},
		)
	}
	wantValid(t, readBeforeWrite(nil), reg, Valid)
	wantValid(t, readBeforeWrite(0), reg, Invalid)
	wantValid(t, readBeforeWrite(0), LinearizableOptions{Model: "register", Initial: 0, HasInitial: true}, Valid)
	wantValid(t, readBeforeWrite(nil), LinearizableOptions{Model: "register", Initial: int64(0), HasInitial: true}, Invalid)
	wantValid(t, readBeforeWrite("a"), LinearizableOptions{Model: "cas-register", Initial: "a", HasInitial: true}, Valid)
	wantValid(t, readBeforeWrite(nil), LinearizableOptions{Model: "register", Initial: nil, HasInitial: true}, Valid)
	if _, _, err := Linearizable(readBeforeWrite(nil), LinearizableOptions{Model: "register", Initial: 1.5, HasInitial: true}); err == nil {
		t.Error("a float initial value should be an error")
	}
	// Every key starts with the initial value.
	h := hist(t,
		ev{p: 0, t: "invoke", f: "read", key: "a"}, ev{p: 0, t: "ok", f: "read", v: 7, key: "a"},
		ev{p: 0, t: "invoke", f: "read", key: "b"}, ev{p: 0, t: "ok", f: "read", v: 7, key: "b"},
	)
	wantValid(t, h, LinearizableOptions{Model: "register", Initial: 7, HasInitial: true}, Valid)
}

func TestPerKeyReport(t *testing.T) {
	var evs []ev
	for _, k := range []string{"1", "2", "10"} {
		evs = append(evs,
			ev{p: 0, t: "invoke", f: "write", v: 1, key: k},
			ev{p: 0, t: "ok", f: "write", v: 1, key: k},
		)
	}
	evs = append(evs,
		ev{p: 1, t: "invoke", f: "read", key: "10"},
		ev{p: 1, t: "ok", f: "read", v: 4, key: "10"},
		ev{p: 1, t: "invoke", f: "read", key: "2"},
		ev{p: 1, t: "ok", f: "read", v: 1, key: "2"},
		ev{p: 1, t: "invoke", f: "read", key: "1"},
		ev{p: 1, t: "ok", f: "read", v: nil, key: "1"},
	)
	r, lin := check(t, hist(t, evs...), reg)
	if r.Valid != Invalid {
		t.Fatalf("want invalid, got %v", r.Summary)
	}
	wantContains(t, r.Summary,
		"2 of 3 keys have no linearization",
		"key 1: no linearization of 2 ops; stuck after 1 (state 1) — could not linearize: process 1 read nil (ok at index 11, line 12)",
		"key 10: no linearization of 2 ops; stuck after 1 (state 1) — could not linearize: process 1 read 4 (ok at index 7, line 8)",
	)
	if strings.Index(r.Summary, "key 1:") > strings.Index(r.Summary, "key 10:") {
		t.Errorf("keys should be in numeric order: %s", r.Summary)
	}
	if got := lin.Keys(); len(got) != 2 || got[0] != "1" || got[1] != "10" {
		t.Errorf("failing keys %v, want [1 10]", got)
	}
	if len(r.AnomalyTypes) != 1 || r.AnomalyTypes[0] != "nonlinearizable" {
		t.Errorf("anomaly types %v", r.AnomalyTypes)
	}
	d := r.Details.(LinearizableDetails)
	if d.Keys != 3 || d.Decided != 3 || len(d.Failures) != 2 {
		t.Fatalf("details %+v", d)
	}
	f := d.Failures[1]
	if f.Key != "10" || f.Ops != 2 || f.Linearized != 1 || f.State != "1" || len(f.Stuck) != 1 || len(f.PrefixTail) != 1 {
		t.Fatalf("failure %+v", f)
	}
	s := f.Stuck[0]
	if s.Index != 7 || s.Line != 8 || s.InvokeIndex != 6 || s.Process != 1 || s.F != "read" || s.Value != int64(4) || s.Type != "ok" || s.Key != "10" {
		t.Errorf("stuck op %+v", s)
	}
	// The details are results.json material.
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, string(js), `"valid":"false"`, `"stuck":[{"index":7,"line":8,"invoke_index":6,"process":1,"type":"ok","f":"read","key":"10","value":4}]`)
}

func TestListsAreCapped(t *testing.T) {
	// 30 processes read a value no one wrote, concurrently: all are stuck,
	// the details list 20 and say 10 were cut.
	var evs []ev
	for p := range 30 {
		evs = append(evs, ev{p: p, t: "invoke", f: "read"})
	}
	for p := range 30 {
		evs = append(evs, ev{p: p, t: "ok", f: "read", v: 9})
	}
	r, lin := check(t, hist(t, evs...), reg)
	f := r.Details.(LinearizableDetails).Failures[0]
	if len(f.Stuck) != maxOpsListed || f.StuckCut != 30-maxOpsListed || f.Linearized != 0 || len(f.PrefixTail) != 0 {
		t.Errorf("stuck %d, cut %d, linearized %d", len(f.Stuck), f.StuckCut, f.Linearized)
	}
	wantContains(t, r.Summary, "no linearization of 30 ops; stuck after 0 (state nil)", "; and 27 more")
	// Nothing linearized at all: porcupine still draws the history.
	if err := lin.WriteVisualization(io.Discard, "", nil); err != nil {
		t.Error(err)
	}
}

func TestTimeoutIsUnknown(t *testing.T) {
	// 24 writes that never complete, then reads that see them one by one,
	// then a read of 1 again: not linearizable, but porcupine has to try
	// every subset of the writes before the first read to find out.
	evs := hardKey(24, "", 0)
	// A second, easy key is decided.
	evs = append(evs, ev{p: 100, t: "invoke", f: "write", v: 1, key: "easy"}, ev{p: 100, t: "ok", f: "write", v: 1, key: "easy"})
	h := hist(t, evs...)
	start := time.Now()
	r, lin, err := Linearizable(h, LinearizableOptions{Model: "register", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("timeout of 50ms took %v", el)
	}
	if r.Valid != Unknown || lin != nil {
		t.Fatalf("want unknown, got %v: %s", r.Valid, r.Summary)
	}
	// With two workers the easy key is decided while the hard one runs.
	if runtime.GOMAXPROCS(0) >= 2 {
		wantContains(t, r.Summary, "timed out after 50ms", "1 of 2 keys decided")
		if d := r.Details.(LinearizableDetails); !d.TimedOut || d.Decided != 1 || d.Undecided != 1 {
			t.Errorf("details %+v", d)
		}
	}
}

func TestTimeoutDoesNotHideViolations(t *testing.T) {
	// One key times out, another is certainly not linearizable: invalid.
	evs := hardKey(24, "", 0)
	evs = append(evs, ev{p: 100, t: "invoke", f: "read", key: "b"}, ev{p: 100, t: "ok", f: "read", v: 1, key: "b"})
	r, lin, err := Linearizable(hist(t, evs...), LinearizableOptions{Model: "register", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid != Invalid || lin == nil {
		t.Fatalf("want invalid, got %v: %s", r.Valid, r.Summary)
	}
	wantContains(t, r.Summary, "key b: no linearization", "timed out after 50ms with 1 of 2 keys decided")
}

func TestModelErrors(t *testing.T) {
	cases := []struct {
		name  string
		model string
		evs   []ev
		index int64
		line  int
		msg   string
	}{
		{"unknown f", "register", []ev{{p: 0, t: "invoke", f: "incr", v: 1}, {p: 0, t: "ok", f: "incr", v: 1}}, 0, 1, `unknown op f "incr"`},
		{"cas on a register", "register", []ev{{p: 0, t: "invoke", f: "cas", v: l(1, 2)}, {p: 0, t: "ok", f: "cas", v: l(1, 2)}}, 0, 1, "use the cas-register model"},
		{"cas value not a pair", "cas-register", []ev{{p: 0, t: "invoke", f: "write", v: 1}, {p: 0, t: "ok", f: "write", v: 1}, {p: 0, t: "invoke", f: "cas", v: 3}, {p: 0, t: "ok", f: "cas", v: 3}}, 2, 3, "not [old new]"},
		{"read of a list", "register", []ev{{p: 0, t: "invoke", f: "read"}, {p: 0, t: "ok", f: "read", v: l(1)}}, 1, 2, "read returned a list of 1"},
		{"kv put of an int", "kv", []ev{{p: 0, t: "invoke", f: "put", v: 1, key: "k"}, {p: 0, t: "ok", f: "put", v: 1, key: "k"}}, 0, 1, "put of an integer"},
		{"txn micro-op", "multi-register", []ev{{p: 0, t: "invoke", f: "txn", v: l(l("append", "x", 1))}, {p: 0, t: "ok", f: "txn", v: l(l("append", "x", 1))}}, 1, 2, "neither read nor write"},
		{"mutex f", "mutex", []ev{{p: 0, t: "invoke", f: "lock"}, {p: 0, t: "ok", f: "lock"}}, 0, 1, "a mutex knows acquire and release"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Linearizable(hist(t, c.evs...), LinearizableOptions{Model: c.model})
			var oe *OpError
			if !errors.As(err, &oe) {
				t.Fatalf("want an *OpError, got %v", err)
			}
			if oe.Index != c.index || oe.Line != c.line || !strings.Contains(oe.Msg, c.msg) {
				t.Errorf("got index %d line %d %q; want index %d line %d %q", oe.Index, oe.Line, oe.Msg, c.index, c.line, c.msg)
			}
			wantContains(t, err.Error(), "line ", "model "+c.model)
		})
	}
	if _, _, err := Linearizable(nil, LinearizableOptions{Model: "queue"}); err == nil || !strings.Contains(err.Error(), "cas-register") {
		t.Errorf("an unknown model should list the models: %v", err)
	}
	// A malformed history is the histories package's error.
	_, _, err := Linearizable(hist(t, ev{p: 0, t: "ok", f: "read"}), reg)
	var pe *histories.ParseError
	if !errors.As(err, &pe) {
		t.Errorf("want a ParseError, got %v", err)
	}
}

func TestInferModel(t *testing.T) {
	cases := []struct {
		name string
		evs  []ev
		want string // "" for an error
	}{
		{"read write", []ev{{p: 0, t: "invoke", f: "read"}, {p: 0, t: "invoke", f: "write", v: 1}}, "register"},
		{"cas", []ev{{p: 0, t: "invoke", f: "read"}, {p: 1, t: "invoke", f: "cas", v: l(1, 2)}}, "cas-register"},
		{"kv", []ev{{p: 0, t: "invoke", f: "get", key: "a"}, {p: 1, t: "invoke", f: "append", v: "x", key: "a"}}, "kv"},
		{"mutex", []ev{{p: 0, t: "invoke", f: "acquire"}, {p: -1, t: "info", f: "start-partition"}}, "mutex"},
		{"multi-register", []ev{{p: 0, t: "invoke", f: "txn", v: l(l("read", "x", nil), l("write", "y", 1))}}, "multi-register"},
		{"elle txn", []ev{{p: 0, t: "invoke", f: "txn", v: l(l("append", "x", 1))}}, ""},
		{"mixed", []ev{{p: 0, t: "invoke", f: "cas", v: l(1, 2)}, {p: 1, t: "invoke", f: "acquire"}}, ""},
		{"unknown", []ev{{p: 0, t: "invoke", f: "enqueue", v: 1}}, ""},
		{"empty", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := InferModel(hist(t, c.evs...))
			if c.want == "" {
				if err == nil || !strings.Contains(err.Error(), "--model is required") || !strings.Contains(err.Error(), "multi-register") {
					t.Errorf("want an error saying --model is required and listing the models, got %q, %v", got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if len(Models()) != 5 {
		t.Errorf("models: %v", Models())
	}
	for _, m := range Models() {
		if m.Name == "" || m.Description == "" {
			t.Errorf("model %+v needs a name and a description", m)
		}
	}
}

func TestEmptyModelInfers(t *testing.T) {
	h := hist(t, ev{p: 0, t: "invoke", f: "cas", v: l(nil, 1)}, ev{p: 0, t: "ok", f: "cas", v: l(nil, 1)})
	r := wantValid(t, h, LinearizableOptions{}, Valid)
	if r.Details.(LinearizableDetails).Model != "cas-register" {
		t.Errorf("details %+v", r.Details)
	}
}

func TestNemesisIgnored(t *testing.T) {
	h := hist(t,
		ev{p: -1, t: "info", f: "start-partition", v: "majority"},
		ev{p: 0, t: "invoke", f: "write", v: 1},
		ev{p: 0, t: "ok", f: "write", v: 1},
		ev{p: -1, t: "info", f: "stop-partition"},
	)
	wantValid(t, h, reg, Valid)
}

func TestMutexInfo(t *testing.T) {
	// An info acquire of a held lock never happened, or happened after
	// the release; an info release may free the lock.
	h := hist(t,
		ev{p: 0, t: "invoke", f: "acquire"},
		ev{p: 0, t: "ok", f: "acquire"},
		ev{p: 1, t: "invoke", f: "acquire"},
		ev{p: 1, t: "info", f: "acquire"},
		ev{p: 0, t: "invoke", f: "release"},
		ev{p: 0, t: "info", f: "release"},
		ev{p: 2, t: "invoke", f: "acquire"},
		ev{p: 2, t: "ok", f: "acquire"},
	)
	wantValid(t, h, LinearizableOptions{Model: "mutex"}, Valid)
	h[5].Type = histories.OK
	wantValid(t, h, LinearizableOptions{Model: "mutex"}, Valid)
	h = append(h, hist(t, ev{p: 3, t: "invoke", f: "release"}, ev{p: 3, t: "ok", f: "release"})...)
	h.Renumber()
	wantValid(t, h, LinearizableOptions{Model: "mutex"}, Valid) // process 3 released 2's lock: a mutex does not know owners
	h = append(h, hist(t, ev{p: 4, t: "invoke", f: "release"}, ev{p: 4, t: "ok", f: "release"})...)
	h.Renumber()
	// Two releases after process 2's acquire: fine only because process 1's
	// info acquire may have taken effect late, between them.
	wantValid(t, h, LinearizableOptions{Model: "mutex"}, Valid)
	h[3].Type = histories.Fail
	wantValid(t, h, LinearizableOptions{Model: "mutex"}, Invalid)
}

func TestMultiRegisterReadsOwnWrites(t *testing.T) {
	txn := func(p int, typ string, v ...any) ev { return ev{p: p, t: typ, f: "txn", v: v} }
	h := hist(t,
		txn(0, "invoke", l("write", "x", 1), l("read", "x", nil)),
		txn(0, "ok", l("write", "x", 1), l("read", "x", 1)),
		txn(1, "invoke", l("read", "x", nil), l("read", "y", nil)),
		txn(1, "ok", l("read", "x", 1), l("read", "y", nil)),
	)
	mr := LinearizableOptions{Model: "multi-register"}
	wantValid(t, h, mr, Valid)
	h[3].Value = norm(l(l("read", "x", 1), l("read", "y", 0)))
	wantValid(t, h, mr, Invalid)
	wantValid(t, h, LinearizableOptions{Model: "multi-register", Initial: map[string]any{"y": int64(0)}, HasInitial: true}, Valid)
}

func TestKVMissingKeyReadsEmpty(t *testing.T) {
	h := hist(t,
		ev{p: 0, t: "invoke", f: "get", key: "k"},
		ev{p: 0, t: "ok", f: "get", v: nil, key: "k"},
		ev{p: 0, t: "invoke", f: "get", key: "k"},
		ev{p: 0, t: "ok", f: "get", v: "", key: "k"},
		ev{p: 0, t: "invoke", f: "append", v: "a", key: "k"},
		ev{p: 0, t: "ok", f: "append", v: "a", key: "k"},
		ev{p: 0, t: "invoke", f: "append", v: "b", key: "k"},
		ev{p: 0, t: "ok", f: "append", v: "b", key: "k"},
		ev{p: 0, t: "invoke", f: "get", key: "k"},
		ev{p: 0, t: "ok", f: "get", v: "ab", key: "k"},
	)
	wantValid(t, h, LinearizableOptions{Model: "kv"}, Valid)
	h[9].Value = "ba"
	wantValid(t, h, LinearizableOptions{Model: "kv"}, Invalid)
}

// hardKey is a register history porcupine can only refute by trying every
// subset of n writes that never complete: exponential.
func hardKey(n int, key string, firstProcess int) []ev {
	var evs []ev
	for i := 1; i <= n; i++ {
		evs = append(evs, ev{p: firstProcess + i, t: "invoke", f: "write", v: i, key: key})
	}
	for i := 1; i <= n; i++ {
		evs = append(evs, ev{p: firstProcess, t: "invoke", f: "read", key: key}, ev{p: firstProcess, t: "ok", f: "read", v: i, key: key})
	}
	return append(evs, ev{p: firstProcess, t: "invoke", f: "read", key: key}, ev{p: firstProcess, t: "ok", f: "read", v: 1, key: key})
}

func TestHardKeysDoNotHideAViolation(t *testing.T) {
	// On one core, with two exponential keys checked first (they are the
	// biggest), the easy violation is still found: keys are searched in
	// turns. After it, the hard keys get ViolationGrace, then stop.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	evs := append(hardKey(26, "hard1", 100), hardKey(26, "hard2", 200)...)
	evs = append(evs, ev{p: 0, t: "invoke", f: "read", key: "easy"}, ev{p: 0, t: "ok", f: "read", v: 5, key: "easy"})
	start := time.Now()
	r, lin, err := Linearizable(hist(t, evs...), LinearizableOptions{Model: "register", ViolationGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*firstBudget+time.Second {
		t.Errorf("took %v", el)
	}
	if r.Valid != Invalid || len(lin.Keys()) != 1 || lin.Keys()[0] != "easy" {
		t.Fatalf("%v %v: %s", r.Valid, lin.Keys(), r.Summary)
	}
	d := r.Details.(LinearizableDetails)
	if d.StoppedAfterViolation != 2 || d.Decided != 1 || d.Undecided != 2 || d.TimedOut {
		t.Errorf("details %+v", d)
	}
	wantContains(t, r.Summary, "2 keys not decided: the search of other keys stops 100ms after the first violation", "key easy: no linearization of 1 ops")
}

func TestLongValuesAreClipped(t *testing.T) {
	long := strings.Repeat("ab", 500)
	h := hist(t,
		ev{p: 0, t: "invoke", f: "put", v: long, key: "k"},
		ev{p: 0, t: "ok", f: "put", v: long, key: "k"},
		ev{p: 0, t: "invoke", f: "get", key: "k"},
		ev{p: 0, t: "ok", f: "get", v: long + "c", key: "k"},
	)
	r := wantValid(t, h, LinearizableOptions{Model: "kv"}, Invalid)
	wantContains(t, r.Summary, "…(1002 bytes)", "…(1003 bytes)") // the state and the get's value, quoted
	for _, line := range strings.Split(r.Summary, "\n") {
		if len(line) > 400 {
			t.Errorf("summary line of %d bytes: %s", len(line), line)
		}
	}
	f := r.Details.(LinearizableDetails).Failures[0]
	if v := f.Stuck[0].Value.(string); len(v) > maxValueBytes+20 || !strings.HasSuffix(v, "…(1001 bytes)") {
		t.Errorf("stuck value %q", v)
	}
}

package checker

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

// tev is an event of a hand-written history with a time (seconds) and the
// node that served it, as faultline run records them.
type tev struct {
	at   float64
	p    int
	t, f string
	v    any
	node string
	err  string
}

// timed builds a history of tevs on key "k" (nemesis ops have none),
// starting 5 s into the controller's clock.
func timed(t *testing.T, evs ...tev) histories.History {
	t.Helper()
	h := make(histories.History, len(evs))
	for i, e := range evs {
		typ, err := histories.ParseType(e.t)
		if err != nil {
			t.Fatal(err)
		}
		key := "k"
		if e.p < 0 {
			key = ""
		}
		h[i] = histories.Op{Index: int64(i), Time: 5e9 + int64(e.at*1e9), Process: histories.Process(e.p), Type: typ, F: e.f, Key: key,
			Value: norm(e.v), Node: e.node, Error: e.err, Line: int32(i + 1)}
	}
	return h
}

// grudge5 is the partition {n1 n2 | n3 n4 n5} as faultline records it.
func grudge5() map[string]any {
	minority, majority := []any{"n1", "n2"}, []any{"n3", "n4", "n5"}
	return map[string]any{"n1": majority, "n2": majority, "n3": minority, "n4": minority, "n5": minority}
}

// onlyCause checks the history, which must fail on key k, and returns the
// first cause of its failure.
func onlyCause(t *testing.T, h histories.History, opts LinearizableOptions) (Result, Cause) {
	t.Helper()
	r := wantValid(t, h, opts, Invalid)
	d := r.Details.(LinearizableDetails)
	if len(d.Failures) != 1 || len(d.Failures[0].Causes) == 0 {
		t.Fatalf("want one failing key with a cause: %+v", d.Failures)
	}
	return r, d.Failures[0].Causes[0]
}

func TestCauseStaleReadUnderPartition(t *testing.T) {
	// n1 and n2 are cut off from the majority; process 1 writes 2 through
	// n3, then process 2 reads through n1 and still gets 1.
	h := timed(t,
		tev{at: 0, p: 0, t: "invoke", f: "write", v: 1},
		tev{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
		tev{at: 2, p: -1, t: "info", f: "start-partition", v: grudge5()},
		tev{at: 3, p: 1, t: "invoke", f: "write", v: 2},
		tev{at: 3.25, p: 1, t: "ok", f: "write", v: 2, node: "n3"},
		tev{at: 4, p: 2, t: "invoke", f: "read"},
		tev{at: 4.125, p: 2, t: "ok", f: "read", v: 1, node: "n1"},
		tev{at: 6, p: -1, t: "info", f: "stop-partition", v: grudge5()},
	)
	r, c := onlyCause(t, h, casReg)
	if c.Kind != CauseStaleRead {
		t.Errorf("kind %q, want stale-read: %s", c.Kind, c)
	}
	if c.Op.Node != "n1" || c.Op.F != "read" || c.Op.Process != 2 || c.Op.Invoked == nil || *c.Op.Invoked != 4 {
		t.Errorf("op %+v", c.Op)
	}
	if m := c.Missed; m == nil || m.Process != 1 || m.F != "write" || m.Value != int64(2) || m.Node != "n3" || m.Completed == nil || *m.Completed != 3.25 {
		t.Errorf("missed %+v, want process 1's write of 2 on n3, ok at 3.25 s", m)
	}
	if w := c.ReturnedBy; w == nil || w.Process != 0 || w.Value != int64(1) || w.Node != "n1" || w.Completed == nil || *w.Completed != 0.1 {
		t.Errorf("returned by %+v, want process 0's write of 1 on n1", w)
	}
	if len(c.Faults) != 1 || c.Faults[0].Fault != "partition" || c.Faults[0].Start == nil || *c.Faults[0].Start != 2 || c.Faults[0].HealedBefore {
		t.Fatalf("faults %+v", c.Faults)
	}
	wantContains(t, c.Text,
		"process 2 read 1 from n1 (invoked at 4.000 s, ok at 4.125 s)",
		"but process 1's write of 2 on n3 had completed at 3.250 s, before the read began",
		"1 was written earlier by process 0 on n1 (ok at 0.100 s)")
	if want := "n1 was on the minority side of partition {n1 n2 | n3 n4 n5} since 2.000 s, away from n3, which served the write it missed"; c.Faults[0].Text != want {
		t.Errorf("fault text\n%q, want\n%q", c.Faults[0].Text, want)
	}
	// The summary (faultline check's and run's text) says it all, on the
	// line below the key's.
	wantContains(t, r.Summary, "key k: no linearization", "could not linearize: process 2 read 1 on n1 (ok at index 6, line 7)",
		"\n  stale read: process 2 read 1 from n1", "before the read began", "n1 was on the minority side of partition {n1 n2 | n3 n4 n5} since 2.000 s")

	// results.json carries the same, structured.
	b, err := json.Marshal(r.Details)
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, string(b), `"causes":[{"kind":"stale-read"`, `"missed":{"index":4`, `"node":"n3"`, `"completed_seconds":3.25`,
		`"faults":[{"fault":"partition"`, `"start_seconds":2`, `"text":"n1 was on the minority side`)
}

func TestCauseReadOfUnknownWrite(t *testing.T) {
	// Process 1's write of 2 never says whether it took effect, but process
	// 2 read 2, so it did, before process 0 wrote 3; process 3 reads 2 after
	// that write completed. Whether the write of 2 ended in info or never
	// completed, it is what the stale read returned.
	for _, pending := range []bool{false, true} {
		evs := []tev{
			{at: 0, p: 0, t: "invoke", f: "write", v: 1},
			{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
			{at: 0.5, p: 1, t: "invoke", f: "write", v: 2},
		}
		if !pending {
			evs = append(evs, tev{at: 0.6, p: 1, t: "info", f: "write", v: 2, node: "n2", err: "timeout"})
		}
		evs = append(evs,
			tev{at: 0.7, p: 2, t: "invoke", f: "read"},
			tev{at: 0.8, p: 2, t: "ok", f: "read", v: 2, node: "n2"},
			tev{at: 1, p: 0, t: "invoke", f: "write", v: 3},
			tev{at: 1.1, p: 0, t: "ok", f: "write", v: 3, node: "n1"},
			tev{at: 1.5, p: -1, t: "info", f: "start-pause", v: []any{"n3"}},
			tev{at: 2, p: 3, t: "invoke", f: "read"},
			tev{at: 2.1, p: 3, t: "ok", f: "read", v: 2, node: "n2"},
		)
		_, c := onlyCause(t, timed(t, evs...), reg)
		if c.Kind != CauseStaleRead || c.Op.Process != 3 || c.Op.Node != "n2" {
			t.Errorf("pending %v: cause %+v", pending, c)
		}
		if m := c.Missed; m == nil || m.Process != 0 || m.Value != int64(3) || m.Node != "n1" {
			t.Errorf("pending %v: missed %+v, want process 0's write of 3", pending, m)
		}
		w := c.ReturnedBy
		if w == nil || w.Process != 1 || w.Value != int64(2) || w.Type != "info" || w.Completed != nil || w.Invoked == nil || *w.Invoked != 0.5 {
			t.Fatalf("pending %v: returned by %+v, want process 1's write of 2, outcome unknown", pending, w)
		}
		node := "n2"
		if pending {
			node = "" // it never completed: no node says where it went
		}
		if w.Node != node {
			t.Errorf("pending %v: the write's node %q, want %q", pending, w.Node, node)
		}
		wantContains(t, c.Text, "process 3 read 2 from n2", "but process 0's write of 3 on n1 had completed at 1.100 s, before the read began",
			"2 was written by process 1", "(outcome unknown: invoked at 0.500 s, never acknowledged), which overlapped that write and comes before it in the longest linearization found")
		if len(c.Faults) != 1 || c.Faults[0].Text != "n3 was paused since 1.500 s" || strings.Join(c.Faults[0].Nodes, ",") != "n3" {
			t.Errorf("pending %v: faults %+v", pending, c.Faults)
		}
	}
}

func TestCauseWitnessOfUnknownWrite(t *testing.T) {
	// The write the read missed never completed; another read had seen it
	// before the stale read began.
	h := timed(t,
		tev{at: 0, p: 0, t: "invoke", f: "write", v: 1},
		tev{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
		tev{at: 0.5, p: 1, t: "invoke", f: "write", v: 2},
		tev{at: 0.6, p: 1, t: "info", f: "write", v: 2, node: "n2"},
		tev{at: 1, p: 2, t: "invoke", f: "read"},
		tev{at: 1.1, p: 2, t: "ok", f: "read", v: 2, node: "n3"},
		tev{at: 2, p: 3, t: "invoke", f: "read"},
		tev{at: 2.1, p: 3, t: "ok", f: "read", v: 1, node: "n4"},
	)
	_, c := onlyCause(t, h, reg)
	if c.Kind != CauseStaleRead || c.Missed == nil || c.Missed.Process != 1 || c.Missed.Type != "info" || c.SeenBy == nil || c.SeenBy.Process != 2 {
		t.Fatalf("cause %+v", c)
	}
	wantContains(t, c.Text, "but process 1's write of 2 on n2 (outcome unknown: invoked at 0.500 s, never acknowledged) had taken effect: process 2 read 2 from n3 at 1.100 s, before the read began",
		"1 was written earlier by process 0 on n1")
	if len(c.Faults) != 0 {
		t.Errorf("no nemesis, but faults %+v", c.Faults)
	}
}

func TestCauseWithoutNodesOrTimes(t *testing.T) {
	// A Jepsen history: no nodes, and times that are positions. Nothing is
	// said about nodes; places are indexes.
	h := hist(t,
		ev{p: 0, t: "invoke", f: "write", v: 1},
		ev{p: 0, t: "ok", f: "write", v: 1},
		ev{p: -1, t: "info", f: "start-partition", v: grudge5()},
		ev{p: 1, t: "invoke", f: "write", v: 2},
		ev{p: 1, t: "ok", f: "write", v: 2},
		ev{p: 2, t: "invoke", f: "read"},
		ev{p: 2, t: "ok", f: "read", v: 1},
	)
	for i := range h {
		h[i].Time = int64(h[i].Line) // as a Jepsen log's lines
	}
	_, c := onlyCause(t, h, reg)
	if c.Kind != CauseStaleRead || c.Op.Node != "" || c.Op.Invoked != nil || c.Missed == nil || c.Missed.Completed != nil {
		t.Fatalf("cause %+v", c)
	}
	if strings.Contains(c.String(), " on n") || strings.Contains(c.String(), " from n") {
		t.Errorf("a history without nodes names one: %s", c)
	}
	wantContains(t, c.Text, "process 2 read 1 (invoked at index 5, ok at index 6), but process 1's write of 2 had completed at index 4, before the read began")
	if len(c.Faults) != 1 || c.Faults[0].Text != "partition {n1 n2 | n3 n4 n5} was in effect since index 2" {
		t.Errorf("faults %+v", c.Faults)
	}
}

func TestCauseFaultHealedBefore(t *testing.T) {
	// A partition healed shortly before the read is named as such; one in
	// effect while it ran would be named instead.
	h := timed(t,
		tev{at: 0, p: 0, t: "invoke", f: "write", v: 1},
		tev{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
		tev{at: 1, p: -1, t: "info", f: "start-partition", v: map[string]any{"n4": []any{"n1", "n2", "n3", "n5"}}},
		tev{at: 2, p: 1, t: "invoke", f: "write", v: 2},
		tev{at: 2.2, p: 1, t: "ok", f: "write", v: 2, node: "n1"},
		tev{at: 3, p: -1, t: "info", f: "stop-partition"},
		tev{at: 3.25, p: 2, t: "invoke", f: "read"},
		tev{at: 3.5, p: 2, t: "ok", f: "read", v: 1, node: "n4"},
	)
	_, c := onlyCause(t, h, reg)
	want := "n4 had been on the minority side of partition {n1 n2 n3 n5 | n4} from 1.000 s until 3.000 s, healed 0.250 s before the read began, away from n1, which served the write it missed"
	if len(c.Faults) != 1 || !c.Faults[0].HealedBefore || c.Faults[0].Text != want || c.Faults[0].End == nil || *c.Faults[0].End != 3 {
		t.Errorf("faults %+v\nwant %q", c.Faults, want)
	}
}

func TestCauseKinds(t *testing.T) {
	cases := []struct {
		name  string
		evs   []tev
		kind  string
		texts []string
	}{
		{"never written", []tev{
			{at: 0, p: 0, t: "invoke", f: "write", v: 1},
			{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
			{at: 1, p: 1, t: "invoke", f: "read"},
			{at: 1.1, p: 1, t: "ok", f: "read", v: 7, node: "n2"},
		}, CauseNeverWritten, []string{"process 1 read 7 from n2", "but no operation on this key wrote that value", "the last write it had to see was process 0's write of 1 on n1 (ok at 0.100 s)"}},
		{"future read", []tev{
			{at: 0, p: 1, t: "invoke", f: "read"},
			{at: 0.1, p: 1, t: "ok", f: "read", v: 7, node: "n2"},
			{at: 1, p: 0, t: "invoke", f: "write", v: 7},
			{at: 1.1, p: 0, t: "ok", f: "write", v: 7, node: "n1"},
		}, CauseFutureRead, []string{"but 7 was written only by process 0's write of 7 on n1, invoked at 1.000 s, after the read had returned"}},
		{"initial value", []tev{
			{at: 0, p: 0, t: "invoke", f: "write", v: 1},
			{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
			{at: 1, p: 1, t: "invoke", f: "read"},
			{at: 1.1, p: 1, t: "ok", f: "read", v: nil, node: "n2"},
		}, CauseStaleRead, []string{"process 1 read nil from n2", "but process 0's write of 1 on n1 had completed at 0.100 s", "nil is the initial value, from before any write"}},
		{"cas", []tev{
			{at: 0, p: 0, t: "invoke", f: "write", v: 1},
			{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
			{at: 0.2, p: 0, t: "invoke", f: "write", v: 3},
			{at: 0.3, p: 0, t: "ok", f: "write", v: 3, node: "n1"},
			{at: 1, p: 1, t: "invoke", f: "cas", v: []any{1, 2}},
			{at: 1.1, p: 1, t: "ok", f: "cas", v: []any{1, 2}, node: "n2"},
		}, CauseCAS, []string{"process 1's cas from 1 to 2 on n2 succeeded (invoked at 1.000 s, ok at 1.100 s), so the register held 1", "but process 0's write of 3 on n1 had completed at 0.300 s, before the cas began", "1 was written earlier by process 0 on n1"}},
		{"failed cas", []tev{
			{at: 0, p: 0, t: "invoke", f: "write", v: 1},
			{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
			{at: 1, p: 1, t: "invoke", f: "cas", v: []any{1, 2}},
			{at: 1.1, p: 1, t: "fail", f: "cas", v: []any{1, 2}, node: "n2"},
		}, CauseCAS, []string{"process 1's cas from 1 to 2 on n2 failed its compare (invoked at 1.000 s, fail at 1.100 s), so the register did not hold 1, but process 0's write of 1 on n1 had completed at 0.100 s, before the cas began"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got := onlyCause(t, timed(t, c.evs...), casReg)
			if got.Kind != c.kind {
				t.Errorf("kind %q, want %q: %s", got.Kind, c.kind, got)
			}
			wantContains(t, got.Text, c.texts...)
		})
	}
}

func TestFactsComputedOncePerHistory(t *testing.T) {
	h := timed(t,
		tev{at: 0, p: 0, t: "invoke", f: "write", v: 1},
		tev{at: 0.1, p: 0, t: "ok", f: "write", v: 1, node: "n1"},
	)
	a, b := factsOf(h), factsOf(h)
	if a != b {
		t.Error("the same history's facts were computed twice")
	}
	if c := factsOf(h[:1]); c == a {
		t.Error("a shorter history shares the facts of a longer one")
	}
	h[1].Time += 1e9 // changed in place: not the history cached
	if c := factsOf(h); c == a {
		t.Error("a history changed in place kept its old facts")
	}
	if got := strings.Join(a.nodes, ","); got != "n1" || a.positions || a.origin != 5e9 {
		t.Errorf("facts %+v", a)
	}
}

func TestCauseOverlappingWritesBeforeAnyFault(t *testing.T) {
	// The writes of 15 and 16 overlap; a read of 16 after both puts 15
	// first, so the later read of 15 is stale. It ran before the first
	// fault, and says so.
	h := timed(t,
		tev{at: 1.094, p: 3, t: "invoke", f: "write", v: 15},
		tev{at: 1.098, p: 0, t: "invoke", f: "write", v: 16},
		tev{at: 1.125, p: 3, t: "ok", f: "write", v: 15, node: "n4"},
		tev{at: 1.126, p: 0, t: "ok", f: "write", v: 16, node: "n1"},
		tev{at: 1.13, p: 1, t: "invoke", f: "read"},
		tev{at: 1.14, p: 1, t: "ok", f: "read", v: 16, node: "n2"},
		tev{at: 1.166, p: 8, t: "invoke", f: "read"},
		tev{at: 1.173, p: 8, t: "ok", f: "read", v: 15, node: "n4"},
		tev{at: 3, p: -1, t: "info", f: "start-kill", v: []any{"n3"}},
	)
	_, c := onlyCause(t, h, reg)
	if c.Kind != CauseStaleRead || c.Missed == nil || c.Missed.Value != int64(16) || c.SeenBy != nil || c.ReturnedBy == nil || c.ReturnedBy.Value != int64(15) {
		t.Fatalf("cause %+v", c)
	}
	wantContains(t, c.Text, "15 was written by process 3 on n4 (ok at 0.031 s), which overlapped that write and comes before it in the longest linearization found")
	if len(c.Faults) != 0 || !c.BeforeFaults || !strings.HasSuffix(c.String(), ". No fault had been injected yet.") {
		t.Errorf("before the first fault: %+v\n%s", c.Faults, c)
	}
}

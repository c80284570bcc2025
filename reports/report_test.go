package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/checker/txn"
	"github.com/faultline-dev/faultline/histories"
	junit "github.com/joshdk/go-junit"
)

const ms = int64(time.Millisecond)

func op(i int64, t int64, p histories.Process, ty histories.Type, f string, v any, node string) histories.Op {
	return histories.Op{Index: i, Time: t, Process: p, Type: ty, F: f, Value: v, Node: node}
}

// faultHistory: two partitions (one healed, one never), ops failing inside
// the first, and n1 answering again 300 ms after the heal while n2 answers
// at once.
func faultHistory() histories.History {
	N := histories.Nemesis
	h := histories.History{
		op(0, 0, 0, histories.Invoke, "read", nil, ""),
		op(1, 10*ms, 0, histories.OK, "read", int64(1), "n1"),
		op(2, 100*ms, N, histories.Invoke, "start-partition", nil, ""), // an invocation: skipped
		op(3, 110*ms, N, histories.Info, "start-partition", map[string]any{"n1": []any{"n2"}}, ""),
		op(4, 200*ms, 0, histories.Invoke, "read", nil, ""),
		op(5, 300*ms, 0, histories.Fail, "read", nil, "n1"),
		op(6, 310*ms, 1, histories.Invoke, "write", int64(2), ""),
		op(7, 320*ms, 1, histories.OK, "write", int64(2), "n2"),
		op(8, 330*ms, 0, histories.Invoke, "txn", []any{[]any{"r", "x", nil}, []any{"r", "y", nil}}, ""),
		op(9, 900*ms, 0, histories.Info, "txn", nil, "n1"),
		op(10, 1000*ms, N, histories.Info, "stop-partition", nil, ""),
		op(11, 1010*ms, 2, histories.Invoke, "read", nil, ""),
		op(12, 1100*ms, 2, histories.Fail, "read", nil, "n1"),
		op(13, 1110*ms, 1, histories.Invoke, "read", nil, ""),
		op(14, 1120*ms, 1, histories.OK, "read", int64(2), "n2"),
		op(15, 1200*ms, 2, histories.Invoke, "read", nil, ""),
		op(16, 1300*ms, 2, histories.OK, "read", int64(2), "n1"),
		op(17, 1400*ms, N, histories.Info, "kill", "n3", ""),
		op(18, 1500*ms, N, histories.Info, "start-clock", nil, ""),
		op(19, 1600*ms, 1, histories.Invoke, "read", nil, ""),
	}
	return h
}

func TestFaultWindowsAndAvailability(t *testing.T) {
	a := analyze(faultHistory())
	if len(a.faults) != 2 {
		t.Fatalf("want 2 windows, got %+v", a.faults)
	}
	p := a.faults[0]
	if p.Name != "partition" || p.Start != 110*ms || p.End != 1000*ms || !p.Healed {
		t.Fatalf("partition window %+v", p)
	}
	c := a.faults[1]
	if c.Name != "clock" || c.Healed || c.End != a.span {
		t.Fatalf("an unhealed window runs to the end: %+v", c)
	}
	if len(a.events) != 1 || a.events[0].F != "kill" {
		t.Fatalf("kill is a point event: %+v", a.events)
	}
	avs, base := a.availabilityOf()
	av := avs[0]
	// In the partition: read fail, write ok, txn info.
	if av.Ops != 3 || av.OK != 1 || av.Fail != 1 || av.Info != 1 {
		t.Fatalf("partition counts %+v", av)
	}
	// Reads: the failed read (1) and the txn's two reads (info): none complete.
	if av.Reads != 3 || av.ReadsComplete != 0 {
		t.Fatalf("harvest: %d of %d reads", av.ReadsComplete, av.Reads)
	}
	// After the heal: n2 answers at 1120 ms (120 ms), n1 at 1300 (300 ms).
	if av.Recovery != 300*ms || av.NotRecovered {
		t.Fatalf("recovery %d, nodes %+v", av.Recovery, av.RecoveryNodes)
	}
	if base.Ops != 4 || base.OK != 3 || base.Fail != 1 {
		t.Fatalf("outside the windows: %+v", base)
	}
	if !avs[1].NoHealed || avs[1].Ops != 1 || avs[1].Info != 1 {
		t.Fatalf("the clock window was never healed and holds the last, open op: %+v", avs[1])
	}
}

func TestLanesReuseRetiredWorkers(t *testing.T) {
	h := histories.History{
		op(0, 0, 0, histories.Invoke, "read", nil, ""),
		op(1, 1, 1, histories.Invoke, "read", nil, ""),
		op(2, 5, 0, histories.Info, "read", nil, ""),
		op(3, 6, 2, histories.Invoke, "read", nil, ""), // worker 0 continues as process 2
		op(4, 7, 2, histories.OK, "read", nil, ""),
		op(5, 8, 1, histories.OK, "read", nil, ""),
	}
	a := analyze(h)
	if a.procs != 3 || a.lanes != 2 {
		t.Fatalf("3 processes should fit 2 rows, got %d processes in %d rows", a.procs, a.lanes)
	}
	if a.ops[0].lane != a.ops[2].lane {
		t.Fatal("process 2 should take process 0's row")
	}
}

func TestSampleIsDeterministicAndKeepsFailures(t *testing.T) {
	idx := make([]int, 10000)
	for i := range idx {
		idx[i] = i
	}
	count := func(s []int, f func(int) bool) int {
		n := 0
		for _, i := range s {
			if f(i) {
				n++
			}
		}
		return n
	}
	// Few rare ops: all kept.
	rare := func(i int) bool { return i%100 == 7 }
	a, sampled := sample(idx, rare, 1000)
	b, _ := sample(idx, rare, 1000)
	if !sampled || len(a) != 1000 || !equalInts(a, b) {
		t.Fatalf("sampled=%v len=%d", sampled, len(a))
	}
	if n := count(a, rare); n != 100 {
		t.Fatalf("every one of the 100 rare ops must be kept, got %d", n)
	}
	// Many: thinned like the rest, so their share stays what it was.
	many := func(i int) bool { return (i*2654435761)%1000 < 200 }
	c, _ := sample(idx, many, 1000)
	if len(c) != 1000 || count(c, many) < 150 || count(c, many) > 250 {
		t.Fatalf("a 20%% share became %d of %d", count(c, many), len(c))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDegradesGracefully: a report renders from bare results (no
// history, no details, no run section, no directory) and says what it
// cannot show rather than failing.
func TestDegradesGracefully(t *testing.T) {
	cases := []struct {
		name string
		h    histories.History
		res  checker.Results
		want []string
		not  []string
	}{
		{"empty", nil, checker.Results{Valid: checker.Unknown}, []string{"Unknown", "no nemesis operations", "No run directory"}, []string{`id="models"`, `id="anomalies"`, `id="linearizability"`}},
		{"no faults", genHistory(400, 4, 1, 1, false)[:300], checker.Compose(map[string]checker.Result{"stats": {Valid: checker.Valid, Summary: "ok"}}, nil),
			[]string{"Valid", "no nemesis operations", `class="plot"`}, []string{`class="fault"`, `id="models"`}},
		{"unpairable", histories.History{op(0, 0, 0, histories.OK, "read", nil, "")}, checker.Results{Valid: checker.Invalid},
			[]string{"could not be paired", "Not valid"}, nil},
		{"txn without details", nil, checker.Compose(map[string]checker.Result{"append": {Valid: checker.Invalid, Summary: "bad", Not: []string{"serializable"}}}, nil),
			[]string{`id="models"`, "ruled out", "list no individual anomaly"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := renderTo(c.h, c.res, Extras{})
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(s, w) {
					t.Errorf("page should not have %q", w)
				}
			}
		})
	}
}

// external matches anything that would make the page reach the network.
var external = regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import`)

// TestStoreReports builds the store from real histories and checks each
// report's content and that it is self-contained.
func TestStoreReports(t *testing.T) {
	_, runs := buildStore(t)
	for name, r := range runs {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(r.Dir, HTMLFile))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if m := external.FindString(s); m != "" {
				t.Fatalf("report.html reaches outside itself: %q", m)
			}
			for _, w := range []string{`id="verdict"`, `id="latency"`, `id="throughput"`, `id="timeline"`, `id="logs"`, `href="nodes/n1/`} {
				if !strings.Contains(s, w) {
					t.Errorf("report lacks %s", w)
				}
			}
			switch name {
			case "invalid":
				for _, w := range []string{"Not valid", `id="linearizability"`, "data-srcdoc=", "could not linearize", "nonlinearizable"} {
					if !strings.Contains(s, w) {
						t.Errorf("invalid etcd report lacks %q", w)
					}
				}
			case "valid":
				if !strings.Contains(s, `<h1 class="verdict-text">Valid</h1>`) || strings.Contains(s, `id="linearizability"`) {
					t.Error("valid etcd report should say Valid and have no failure section")
				}
			case "append":
				for _, w := range []string{`id="models"`, `id="anomalies"`, `class="cycle"`, "G2-item", `<span class="tag">claimed</span>`, `<span class="pill ruled-out">ruled out</span>`, "kill", `class="fault"`} {
					if !strings.Contains(s, w) {
						t.Errorf("append report lacks %q", w)
					}
				}
			case "partition":
				for _, w := range []string{"outside every fault", `class="fault"`, "n1: 1.5", "recovery after heal"} {
					if !strings.Contains(s, w) {
						t.Errorf("partition report lacks %q", w)
					}
				}
				if strings.Contains(s, `id="models"`) || strings.Contains(s, `id="anomalies"`) {
					t.Error("a run without transactional details has no model table or anomalies")
				}
			}
		})
	}
}

func TestJUnitParsesWithCounts(t *testing.T) {
	_, runs := buildStore(t)
	unknown := runs["valid"].Results
	unknown.Checkers = map[string]checker.Result{"linearizable": {Valid: checker.Unknown, Summary: "timed out"}, "stats": {Valid: checker.Valid}}
	cases := []struct {
		name                     string
		res                      checker.Results
		passed, failed, errored  int
		failureContains, failure string
	}{
		{"invalid", runs["invalid"].Results, 1, 1, 0, "nonlinearizable", "linearizable"},
		{"valid", runs["valid"].Results, 2, 0, 0, "", ""},
		{"append", runs["append"].Results, 1, 1, 0, "G2-item", "append"},
		{"unknown", unknown, 1, 0, 1, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJUnit(&b, "etcd-000 / 20250101T000000", c.res); err != nil {
				t.Fatal(err)
			}
			suites, err := junit.Ingest(b.Bytes())
			if err != nil {
				t.Fatalf("go-junit cannot read it: %v\n%s", err, b.String())
			}
			if len(suites) != 1 {
				t.Fatalf("want one suite, got %d", len(suites))
			}
			tot := suites[0].Totals
			if tot.Tests != c.passed+c.failed+c.errored || tot.Passed != c.passed || tot.Failed != c.failed || tot.Error != c.errored {
				t.Fatalf("totals %+v, want passed %d failed %d error %d", tot, c.passed, c.failed, c.errored)
			}
			for _, tc := range suites[0].Tests {
				if tc.Name == c.failure {
					if tc.Status != junit.StatusFailed || tc.Error == nil || !strings.Contains(tc.Message+tc.Error.Error(), c.failureContains) {
						t.Fatalf("failure of %s: status %s message %q", tc.Name, tc.Status, tc.Message)
					}
				}
			}
		})
	}
	// Times are real: each test case the checker's, the suite the run's
	// and the checks' together.
	timed := checker.Compose(map[string]checker.Result{"stats": {Valid: checker.Valid, Seconds: 0.25}, "linearizable": {Valid: checker.Valid, Seconds: 1.5}}, nil)
	timed.Run = map[string]any{"duration_seconds": 30.0}
	var b bytes.Buffer
	if err := WriteJUnit(&b, "t", timed); err != nil {
		t.Fatal(err)
	}
	suites, err := junit.Ingest(b.Bytes())
	if err != nil || len(suites) != 1 || !strings.Contains(b.String(), `<testsuite name="t" time="31.750"`) {
		t.Fatalf("junit times: %v %+v\n%s", err, suites, b.String())
	}
	for _, tc := range suites[0].Tests {
		if want := map[string]time.Duration{"stats": 250 * time.Millisecond, "linearizable": 1500 * time.Millisecond}[tc.Name]; tc.Duration != want {
			t.Errorf("%s took %v, want %v", tc.Name, tc.Duration, want)
		}
	}
	// Write puts the same file in the run's directory.
	suites, err = junit.IngestFile(filepath.Join(runs["append"].Dir, JUnitFile))
	if err != nil || len(suites) != 1 || suites[0].Totals.Failed != 1 {
		t.Fatalf("junit.xml in the run directory: %v %+v", err, suites)
	}
}

func TestSummary(t *testing.T) {
	_, runs := buildStore(t)
	s := Summary(runs["append"].Results)
	for _, w := range []string{"INVALID", "G2-item", "append:", "ruled out: repeatable-read"} {
		if !strings.Contains(s, w) {
			t.Errorf("summary lacks %q:\n%s", w, s)
		}
	}
	if n := strings.Count(s, "\n"); n > 12 {
		t.Errorf("summary should be short, has %d lines:\n%s", n, s)
	}
	if !strings.HasPrefix(Summary(runs["valid"].Results), "VALID") {
		t.Error("valid summary")
	}
}

func TestCycleLayout(t *testing.T) {
	for n := 1; n <= 8; n++ {
		a := anomalyView{Type: "G2"}
		for i := 0; i < n; i++ {
			id := string(rune('A' + i))
			a.Ops = append(a.Ops, opView{ID: id, Process: "1", Value: "[append x 1]"})
			a.Steps = append(a.Steps, stepView{From: id, To: string(rune('A' + (i+1)%n)), Edge: "rw", Key: "x"})
		}
		s := cycleSVG(&a)
		if got := strings.Count(s, `class="txn"`); got != n {
			t.Fatalf("%d transactions drawn as %d boxes", n, got)
		}
		if got := strings.Count(s, "marker-end="); got != n {
			t.Fatalf("%d steps drawn as %d arrows", n, got)
		}
		if strings.Contains(s, "NaN") {
			t.Fatalf("n=%d: NaN in the layout", n)
		}
	}
}

// TestTxnDetailsFixture reads a transactional result with a three-way G1c
// and a G2-item (testdata/txn-result.json, in checker/txn's shape) into the
// anomaly sections: names, steps, operations, and a diagram per cycle.
func TestTxnDetailsFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "txn-result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r checker.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	v, ok := readTxnDetails(r.Details)
	if !ok || v.Claimed != "strict-serializable" || len(v.Anomalies) != 2 {
		t.Fatalf("read %+v", v)
	}
	g1c := v.Anomalies[0]
	if g1c.Type != "G1c" || len(g1c.Ops) != 3 || len(g1c.Steps) != 3 || g1c.Steps[2].From != "T3" || g1c.Steps[2].To != "T1" || g1c.Steps[0].Edge != "wr" {
		t.Fatalf("G1c: %+v", g1c)
	}
	if g1c.Ops[0].Value != "[append 2 9] [r 1 [57]]" || g1c.Ops[0].F != "txn" || g1c.Ops[0].Index != 1204 {
		t.Fatalf("T1: %+v", g1c.Ops[0])
	}
	if len(v.Unexplained) != 1 || !strings.Contains(v.Unexplained[0], "G2-item: 3 found; these are the earliest and the latest 1 in the history") {
		t.Fatalf("unexplained: %v", v.Unexplained)
	}
	res := checker.Compose(map[string]checker.Result{"append": r}, nil)
	page, err := renderTo(nil, res, Extras{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), `class="cycle"`); n != 2 {
		t.Fatalf("%d cycle diagrams, want 2", n)
	}
	if !strings.Contains(string(page), "T3 · process 1") {
		t.Fatal("the diagram names each transaction and its process")
	}
}

// renderTo is WriteHTML into a buffer.
func renderTo(h histories.History, res checker.Results, extra Extras) ([]byte, error) {
	var b bytes.Buffer
	err := WriteHTML(&b, h, res, extra)
	return b.Bytes(), err
}

// An anomaly's operations table says when each transaction was invoked and
// completed, to the microsecond, from the history's own times.
func TestAnomalyOpTimes(t *testing.T) {
	path := filepath.Join("..", "testdata", "txn", "G2-item-realtime.jsonl")
	h, err := histories.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The history's times start at 0 and step 1 ms per op; shift them so
	// that the report must count from the first.
	for i := range h {
		h[i].Time += 5e9 + 1500
	}
	txnRes, err := txn.Check(h, txn.Options{Workload: "append"})
	if err != nil {
		t.Fatal(err)
	}
	res := checker.Compose(map[string]checker.Result{"append": txnRes}, nil)
	var b strings.Builder
	if err := WriteHTML(&b, h, res, Extras{}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	// T1 appended x (invoked at index 1, completed at 2); T2 read y
	// (3, 4); T3 appended y and read x (0, 5).
	for _, row := range []string{
		`<td class="num">0.001000 s</td><td class="num">0.002000 s</td><td>0</td>`,
		`<td class="num">0.003000 s</td><td class="num">0.004000 s</td><td>2</td>`,
		`<td class="num">0.000000 s</td><td class="num">0.005000 s</td><td>1</td>`,
	} {
		if !strings.Contains(s, row) {
			t.Errorf("the operations table lacks the row %s", row)
		}
	}
}

// The report sums up each fault (how often, how long, where) and names a
// fault the run asked for that never took effect.
func TestFaultSummaryInReport(t *testing.T) {
	h := faultHistory()
	res := checker.Compose(map[string]checker.Result{"stats": {Valid: checker.Valid}}, nil)
	res.Faults = append(histories.SummarizeFaults(h), histories.FaultStat{Fault: "pause", Nodes: []string{}})
	b, err := renderTo(h, res, Extras{})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		"<strong>partition</strong></td><td class=\"num\">1</td><td class=\"num\">890 ms</td><td>n1, n2</td>",
		"<strong>pause</strong></td><td class=\"num low\">0</td>",
		"never in effect: asked for",
		"1 never healed within the history",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// The headline agrees with the body: valid for the claimed model, with
// anomalies that rule out stronger ones, says both.
func TestHeadline(t *testing.T) {
	run := map[string]any{"claimed_by": "PostgreSQL's repeatable read"}
	si := checker.Results{Valid: checker.Valid, AnomalyTypes: []string{"G2-item"}, Not: []string{"repeatable-read"}, AlsoNot: []string{"serializable", "strict-serializable"}}
	h, lead := headline(si, "snapshot-isolation", run)
	if h != "Valid for snapshot-isolation" || lead != "Valid for snapshot-isolation, which PostgreSQL's repeatable read provides; G2-item found, so not repeatable-read, hence not serializable." {
		t.Errorf("%q / %q", h, lead)
	}
	h, lead = headline(checker.Results{Valid: checker.Valid}, "serializable", nil)
	if h != "Valid" || !strings.Contains(lead, "No anomaly found: valid for serializable") {
		t.Errorf("%q / %q", h, lead)
	}
	h, lead = headline(checker.Results{Valid: checker.Invalid, AnomalyTypes: []string{"G2-item"}}, "serializable", map[string]any{"claimed_by": "PostgreSQL's serializable"})
	if h != "Not valid" || lead != "An anomaly was found: G2-item, which serializable rules out (PostgreSQL's serializable claims serializable)." {
		t.Errorf("%q / %q", h, lead)
	}
	if h, _ := headline(checker.Results{Valid: checker.Unknown}, "", nil); h != "Unknown" {
		t.Errorf("unknown: %q", h)
	}
}

package reports

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/internal/browsertest"
)

// staleReadHistory simulates faultline's register workload against a
// 5-node store whose reads are served from each node's local state (etcd's
// serializable reads): from 2 s to 5 s a partition cuts n1 and n2 off from
// the majority; there, writes and cas time out (info) and reads return the
// value the node had when the partition began, so they go stale as soon as
// the majority writes. Values written to a key are unique, as the
// workload's are.
func staleReadHistory(seed uint64) histories.History {
	rng := rand.New(rand.NewPCG(seed, 0xca05e))
	const (
		ms                    = int64(1e6)
		workers               = 5
		partStart, partEnd, T = 2000 * ms, 5000 * ms, 7000 * ms
	)
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	minority := func(n string) bool { return n == "n1" || n == "n2" }
	type op struct {
		proc       histories.Process
		node, f    string
		key        string
		v          any
		start, end int64
		out        any
		typ        histories.Type
	}
	var ops []*op
	next := map[string]int64{}
	for w := range workers {
		proc := histories.Process(w)
		for t := int64(rng.IntN(5)) * ms; t < T; {
			o := &op{proc: proc, node: nodes[w], key: strconv.Itoa(rng.IntN(3)), start: t, end: t + 2*ms + int64(rng.IntN(4))*ms}
			switch r := rng.IntN(4); {
			case r < 2:
				o.f = "read"
			case r == 2:
				next[o.key]++
				o.f, o.v = "write", next[o.key]
			default:
				next[o.key]++
				o.f, o.v = "cas", []any{max(1, next[o.key]-1-int64(rng.IntN(2))), next[o.key]}
			}
			cut := minority(o.node) && o.start >= partStart && o.start < partEnd
			if cut && o.f != "read" {
				o.typ, o.end = histories.Info, o.start+500*ms
				proc += workers // retired, as after any info
			}
			ops = append(ops, o)
			t = o.end + int64(rng.IntN(20))*ms
		}
	}
	// Apply the ops at their midpoints, in that order.
	byMid := append([]*op(nil), ops...)
	sort.SliceStable(byMid, func(i, j int) bool { return byMid[i].start+byMid[i].end < byMid[j].start+byMid[j].end })
	state := map[string]any{}
	var snapshot map[string]any
	for _, o := range byMid {
		mid := (o.start + o.end) / 2
		if snapshot == nil && mid >= partStart {
			snapshot = map[string]any{}
			for k, v := range state {
				snapshot[k] = v
			}
		}
		if o.typ == histories.Info {
			continue
		}
		o.typ = histories.OK
		switch o.f {
		case "read":
			o.out = state[o.key]
			if minority(o.node) && mid >= partStart && mid < partEnd {
				o.out = snapshot[o.key]
			}
		case "write":
			state[o.key] = o.v
		case "cas":
			pair := o.v.([]any)
			if state[o.key] == pair[0] {
				state[o.key] = pair[1]
			} else {
				o.typ = histories.Fail
			}
		}
	}
	type event struct {
		t  int64
		op histories.Op
	}
	var evs []event
	for _, o := range ops {
		evs = append(evs,
			event{o.start, histories.Op{Process: o.proc, Type: histories.Invoke, F: o.f, Key: o.key, Value: o.v}},
			event{o.end, histories.Op{Process: o.proc, Type: o.typ, F: o.f, Key: o.key, Value: o.v, Node: o.node}})
		if o.f == "read" && o.typ == histories.OK {
			evs[len(evs)-1].op.Value = o.out
		}
		if o.typ == histories.Info {
			evs[len(evs)-1].op.Error = "context deadline exceeded"
		}
	}
	grudge := map[string]any{"n1": []any{"n3", "n4", "n5"}, "n2": []any{"n3", "n4", "n5"}, "n3": []any{"n1", "n2"}, "n4": []any{"n1", "n2"}, "n5": []any{"n1", "n2"}}
	evs = append(evs,
		event{partStart - 1, histories.Op{Process: histories.Nemesis, Type: histories.Info, F: "start-partition", Value: grudge}},
		event{partEnd - 1, histories.Op{Process: histories.Nemesis, Type: histories.Info, F: "stop-partition", Value: grudge}})
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].t < evs[j].t })
	h := make(histories.History, len(evs))
	for i, e := range evs {
		h[i] = e.op
		h[i].Index, h[i].Time = int64(i), 1_000_000_000+e.t
	}
	return h
}

// staleReadRun writes a run directory for the simulated history as
// faultline run does: results.json, porcupine's pages in linearizability/,
// report.html and junit.xml.
func staleReadRun(t *testing.T) (string, checker.Results) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "register", "20250101T000400")
	h := staleReadHistory(1)
	lres, lin, err := checker.Linearizable(h, checker.LinearizableOptions{Model: "cas-register"})
	if err != nil {
		t.Fatal(err)
	}
	if lres.Valid != checker.Invalid {
		t.Fatalf("the simulated stale reads were not found: %s", lres.Summary)
	}
	stats := checker.Stats(h)
	res := checker.Compose(map[string]checker.Result{"linearizable": lres, "stats": stats}, stats.Details)
	res.Faults = histories.SummarizeFaults(h)
	writeResults(t, dir, res)
	if _, err := lin.WriteVisualizations(dir, checker.NemesisAnnotations(h)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "plan.json"), []byte(`{"name":"register","target":"etcd","workload":"register","nodes":["n1","n2","n3","n4","n5"],"concurrency":5,"nemesis":["partition"]}`))
	var b strings.Builder
	if err := histories.WriteJSONL(&b, h); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "history.jsonl"), []byte(b.String()))
	if err := Write(dir, h, readResults(t, dir), Extras{Generated: time.Date(2025, 1, 1, 0, 4, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return dir, res
}

// TestStaleReadReport: a failing key's section says why, in the history's
// terms: the read, the write it missed and the one it returned, the node
// of each, and the partition its node sat in; porcupine's page is in the
// linearizability folder, linked relatively; junit.xml says the same.
func TestStaleReadReport(t *testing.T) {
	dir, res := staleReadRun(t)
	d, ok := linearizableDetails(res.Checkers["linearizable"])
	if !ok || len(d.Failures) == 0 || len(d.Failures[0].Causes) == 0 {
		t.Fatalf("no cause in the details: %+v", d)
	}
	c := d.Failures[0].Causes[0]
	if c.Kind != checker.CauseStaleRead || c.Missed == nil || c.Op.Node == "" || c.Missed.Node == "" || len(c.Faults) == 0 {
		t.Fatalf("cause %+v", c)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	viz := checker.VisualizationFile(d.Failures[0].Key)
	for _, want := range []string{
		`<span class="kind kind-stale-read">stale read</span>`,
		"the write it missed", "wrote what it read",
		"<strong>" + c.Op.Node + "</strong>", "<strong>" + c.Missed.Node + "</strong>",
		c.Op.Node + " was on the minority side of partition {n1 n2 | n3 n4 n5} since ",
		`href="` + viz + `"`, `href="linearizability/"`,
		"Of these 3 keys, by the first operation that could not come next: 3 stale reads; 3 while a fault was in effect.",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(viz))); err != nil {
		t.Errorf("the linked page is not there: %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "linearizability-*.html")); len(matches) > 0 {
		t.Errorf("pages beside history.jsonl: %v", matches)
	}
	junit, err := os.ReadFile(filepath.Join(dir, JUnitFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(junit), "why: stale read: process ") {
		t.Errorf("junit.xml does not say why:\n%s", junit)
	}
}

// TestStaleReadReportInChromium renders that report: the failing key's
// cause, its faults and its operations table are on screen, no browser
// error; the link to porcupine's page works from the file and through
// `faultline serve`. The section's screenshot is kept in
// $FAULTLINE_ARTIFACTS/reports.
func TestStaleReadReportInChromium(t *testing.T) {
	bin := browsertest.Need(t)
	dir, _ := staleReadRun(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := browsertest.OpenPage(ctx, t, bin, "file://"+filepath.Join(dir, HTMLFile), 1500*time.Millisecond)
	var got struct {
		Kind, Cause, Faults string
		Rows                []string
		Height              float64
		Viz                 string
	}
	if err := p.Eval(ctx, `(function(){
		var a = document.querySelector("article.lin-key");
		var t = function(s){ var e = a.querySelector(s); return e ? e.textContent.trim() : ""; };
		return {
			Kind: t("h3 .kind"), Cause: t(".cause-text"), Faults: t("ul.cause-faults"),
			Rows: Array.from(a.querySelectorAll("table.cause-ops tbody tr")).map(function(r){ return r.textContent; }),
			Height: a.querySelector(".cause").getBoundingClientRect().height,
			Viz: a.querySelector("a.viz-link").href
		};
	})()`, &got); err != nil {
		t.Fatal(err)
	}
	art := browsertest.ArtifactsDir(t)
	shot := filepath.Join(art, "stale-read-linearizability.png")
	if err := p.ScreenshotElement(ctx, shot, "#linearizability"); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", shot)
	for _, e := range p.Report().Errors {
		t.Errorf("browser error: %s", e)
	}
	if got.Kind != "stale read" || !strings.HasPrefix(got.Cause, "Process ") || !strings.Contains(got.Cause, "before the read began") || got.Height < 100 {
		t.Errorf("cause on screen: %+v", got)
	}
	if !regexp.MustCompile(`^n[12] was on the minority side of partition \{n1 n2 \| n3 n4 n5\}`).MatchString(got.Faults) {
		t.Errorf("faults on screen: %q", got.Faults)
	}
	if len(got.Rows) < 3 || !strings.Contains(got.Rows[0], "the read") || !strings.Contains(got.Rows[1], "the write it missed") {
		t.Errorf("operations on screen: %q", got.Rows)
	}
	file, ok := strings.CutPrefix(got.Viz, "file://")
	if !ok {
		t.Fatalf("porcupine's link %q", got.Viz)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("porcupine's link from the file leads nowhere: %v", err)
	}
	// Through faultline serve: the report, then the page its link names.
	store := filepath.Dir(filepath.Dir(dir))
	srv := httptest.NewServer(Handler(store))
	defer srv.Close()
	base := srv.URL + "/register/20250101T000400/"
	if err := p.Open(ctx, base+HTMLFile, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var href string
	if err := p.Eval(ctx, `document.querySelector("article.lin-key a.viz-link").href`, &href); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(href, base+"linearizability/") {
		t.Errorf("link through serve: %s", href)
	}
	resp, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
		t.Errorf("GET %s: %s", href, resp.Status)
	}
}

// TestLegacyVisualizationLinked: a run made before the linearizability
// folder kept porcupine's pages beside history.jsonl; its report, written
// again, still finds and links them.
func TestLegacyVisualizationLinked(t *testing.T) {
	dir, res := staleReadRun(t)
	if err := os.RemoveAll(filepath.Join(dir, checker.VisualizationDir)); err != nil {
		t.Fatal(err)
	}
	d, _ := linearizableDetails(res.Checkers["linearizable"])
	key := d.Failures[0].Key
	legacy := checker.LegacyVisualizationFile(key)
	writeFile(t, filepath.Join(dir, legacy), []byte("<html><body>porcupine</body></html>"))
	h, err := readHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, h, readResults(t, dir), Extras{}); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if !strings.Contains(string(page), `href="`+legacy+`"`) || strings.Contains(string(page), `href="linearizability/"`) {
		t.Errorf("report.html does not link %s (or links a folder that is gone)", legacy)
	}
}

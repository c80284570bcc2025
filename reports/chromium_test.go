package reports

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/browsertest"
)

// TestReportInChromium opens each run's report.html in headless Chromium:
// no console error, no exception, no request beyond the file itself; the
// verdict, the plots and the anomaly sections are there and drawn (they
// have a size on screen); porcupine's visualization rendered inside its
// frame. Screenshots are kept in $FAULTLINE_ARTIFACTS/reports (or a
// temporary directory, logged).
func TestReportInChromium(t *testing.T) {
	bin := browsertest.Need(t)
	_, runs := buildStore(t)
	art := browsertest.ArtifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := browsertest.Start(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Kill()

	type shot struct{ file, selector string }
	cases := []struct {
		run      string
		verdict  string
		class    string
		sections []string
		shots    []shot
	}{
		{"invalid", "Not valid", "invalid", []string{"checkers", "linearizability", "faults", "latency", "throughput", "timeline", "logs"},
			[]shot{{"etcd-invalid-linearizability.png", "#linearizability"}, {"etcd-invalid-latency.png", "#latency"}, {"etcd-invalid-timeline.png", "#timeline"}}},
		{"valid", "Valid", "valid", []string{"checkers", "faults", "latency", "throughput", "timeline", "logs"},
			nil},
		{"append", "Not valid", "invalid", []string{"checkers", "models", "anomalies", "faults", "latency", "throughput", "timeline", "logs"},
			[]shot{{"append-models.png", "#models"}, {"append-anomalies.png", "#anomalies"}, {"append-faults.png", "#faults"}, {"append-timeline.png", "#timeline"}}},
		{"partition", "Valid", "valid", []string{"checkers", "faults", "latency", "throughput", "timeline", "logs"},
			[]shot{{"partition-faults.png", "#faults"}, {"partition-latency.png", "#latency"}, {"partition-throughput.png", "#throughput"}, {"partition-timeline.png", "#timeline"}}},
	}
	for _, c := range cases {
		t.Run(c.run, func(t *testing.T) {
			p, err := b.NewPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			url := "file://" + filepath.Join(runs[c.run].Dir, HTMLFile)
			if err := p.Open(ctx, url, 1500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Verdict, Banner string
				Missing         []string
				Plots, Drawn    int
				Anomalies       int
				Cycles          int
				VizSVG          bool
				FaultRows       int
			}
			ids, _ := jsonList(c.sections)
			expr := fmt.Sprintf(`(function(){
				var q = function(s){ return document.querySelector(s); };
				var plots = Array.from(document.querySelectorAll("svg.plot"));
				var viz = false;
				var f = q("iframe.viz");
				try { viz = !!(f && f.contentDocument && f.contentDocument.querySelector("svg")); } catch (e) { viz = false; }
				return {
					Verdict: q(".verdict-text").textContent.trim(),
					Banner: q("#verdict").className,
					Missing: %s.filter(function(id){ var e = document.getElementById(id); return !e || e.getBoundingClientRect().height < 20; }),
					Plots: plots.length,
					Drawn: plots.filter(function(s){ var r = s.getBoundingClientRect(); return r.width > 300 && r.height > 100; }).length,
					Anomalies: document.querySelectorAll("article.anomaly, article.lin-key").length,
					Cycles: document.querySelectorAll("svg.cycle").length,
					VizSVG: viz,
					FaultRows: document.querySelectorAll("#faults tbody tr").length
				};
			})()`, ids)
			if err := p.Eval(ctx, expr, &got); err != nil {
				t.Fatal(err)
			}
			// The top of the page: banner, facts and the checkers' verdicts.
			var bottom float64
			if err := p.Eval(ctx, `(function(){var b=document.getElementById("checkers").getBoundingClientRect(); return b.bottom+scrollY+10;})()`, &bottom); err != nil {
				t.Fatal(err)
			}
			if err := p.Screenshot(ctx, filepath.Join(art, c.run+"-top.png"), 0, 0, 1280, bottom); err != nil {
				t.Errorf("screenshot of the top: %v", err)
			}
			for _, s := range c.shots {
				if err := p.ScreenshotElement(ctx, filepath.Join(art, s.file), s.selector); err != nil {
					t.Errorf("screenshot %s: %v", s.file, err)
				}
			}
			full := filepath.Join(art, "report-"+c.run+"-full.png")
			if err := p.Screenshot(ctx, full, 0, 0, 1280, 0); err != nil {
				t.Errorf("full-page screenshot: %v", err)
			}
			t.Logf("screenshots of %s in %s", c.run, art)

			rep := p.Report()
			for _, e := range rep.Errors {
				t.Errorf("browser error: %s", e)
			}
			for _, u := range rep.OutsideRequests() {
				t.Errorf("the page requested %s: it must be self-contained", u)
			}
			if got.Verdict != c.verdict || !strings.Contains(got.Banner, c.class) {
				t.Errorf("verdict %q (banner %q), want %q (%s)", got.Verdict, got.Banner, c.verdict, c.class)
			}
			if len(got.Missing) > 0 {
				t.Errorf("sections missing or empty on screen: %v", got.Missing)
			}
			if got.Plots < 3 || got.Drawn != got.Plots {
				t.Errorf("%d plots, %d of them drawn with a size; want latency, throughput and timeline", got.Plots, got.Drawn)
			}
			switch c.run {
			case "invalid":
				if got.Anomalies < 1 || !got.VizSVG {
					t.Errorf("linearizability failure: %d keys shown, porcupine drew: %v", got.Anomalies, got.VizSVG)
				}
			case "append":
				if got.Anomalies < 1 || got.Cycles != got.Anomalies {
					t.Errorf("want each anomaly with its cycle diagram, got %d anomalies and %d diagrams", got.Anomalies, got.Cycles)
				}
				fallthrough
			case "partition":
				if got.FaultRows < 3 {
					t.Errorf("fault table has %d rows", got.FaultRows)
				}
			}
		})
	}
}

// TestChromiumHarnessSeesErrors makes sure the browser test is not blind: a
// page with a console error, an uncaught exception and a request for
// another host must produce all three.
func TestChromiumHarnessSeesErrors(t *testing.T) {
	bin := browsertest.Need(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "bad.html")
	writeFile(t, page, []byte(`<!doctype html><html><body><img src="http://127.0.0.1:9/x.png">
<script>console.error("deliberate console error"); undefinedFunction();</script></body></html>`))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := browsertest.OpenPage(ctx, t, bin, "file://"+page, 300*time.Millisecond)
	rep := p.Report()
	all := strings.Join(rep.Errors, "\n")
	for _, w := range []string{"deliberate console error", "undefinedFunction"} {
		if !strings.Contains(all, w) {
			t.Errorf("the harness missed %q; it saw:\n%s", w, all)
		}
	}
	external := false
	for _, u := range rep.OutsideRequests() {
		if strings.HasPrefix(u, "http://127.0.0.1:9/") {
			external = true
		}
	}
	if !external {
		t.Errorf("the harness missed the request for another host; it saw %v (outside: %v)", rep.Requests, rep.OutsideRequests())
	}
}

func jsonList(s []string) (string, error) {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ",") + "]", nil
}

// TestServeInChromium opens `faultline serve`'s list of runs and a report
// through it: no browser error, every run listed with its verdict colour.
func TestServeInChromium(t *testing.T) {
	bin := browsertest.Need(t)
	store, _ := serveStore(t)
	srv := httptest.NewServer(Handler(store))
	defer srv.Close()
	art := browsertest.ArtifactsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := browsertest.OpenPage(ctx, t, bin, srv.URL+"/", 300*time.Millisecond)
	var rows []string
	if err := p.Eval(ctx, `Array.from(document.querySelectorAll("tbody tr")).map(function(r){ return r.className; })`, &rows); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows, ",") != "valid,invalid,valid,invalid" {
		t.Errorf("rows newest first by verdict: %v, want partition valid, append invalid, etcd-002 valid, etcd-000 invalid", rows)
	}
	if err := p.Screenshot(ctx, filepath.Join(art, "serve-index.png"), 0, 0, 1280, 0); err != nil {
		t.Error(err)
	}
	if err := p.Open(ctx, srv.URL+"/etcd-000/20250101T000000/report.html", 800*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var verdict string
	if err := p.Eval(ctx, `document.querySelector(".verdict-text").textContent`, &verdict); err != nil || verdict != "Not valid" {
		t.Errorf("report through the server: %q %v", verdict, err)
	}
	for _, e := range p.Report().Errors {
		t.Errorf("browser error: %s", e)
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/internal/browsertest"
	"github.com/faultline-dev/faultline/reports"
)

// TestRealRunReportInChromium runs faultline for real (a 5-node etcd, no
// faults) and opens the report.html it wrote in headless Chromium: no
// console error, no uncaught exception, no request beyond the page's own
// files; the verdict is Valid, the latency, throughput and timeline plots
// are drawn (they have a size on screen), and every node's log is linked
// to a file that exists. A full-page screenshot is kept in
// $FAULTLINE_ARTIFACTS/cmd/faultline (or a temporary directory, logged).
func TestRealRunReportInChromium(t *testing.T) {
	controltest.RequireRoot(t)
	chromium := browsertest.Need(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--time-limit", "5s", "--store", "store")
	if code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	run, err := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(run, reports.HTMLFile)
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("the run wrote no report: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := browsertest.OpenPage(ctx, t, chromium, "file://"+page, 1500*time.Millisecond)

	// The same questions reports.TestReportInChromium asks of its fixtures:
	// the sections are there with a height on screen, and each plot
	// (svg.plot) is drawn with a size.
	sections := []string{"checkers", "faults", "latency", "throughput", "timeline", "logs"}
	plots := []string{"latency", "throughput", "timeline"}
	var got struct {
		Verdict, Banner string
		Missing         []string
		Undrawn         []string
		Plots           int
		Logs            []string
	}
	expr := fmt.Sprintf(`(function(){
		var q = function(s){ return document.querySelector(s); };
		var drawn = function(s){ var r = s.getBoundingClientRect(); return r.width > 300 && r.height > 100; };
		return {
			Verdict: q(".verdict-text").textContent.trim(),
			Banner: q("#verdict").className,
			Missing: %s.filter(function(id){ var e = document.getElementById(id); return !e || e.getBoundingClientRect().height < 20; }),
			Undrawn: %s.filter(function(id){ var s = document.querySelector("#" + id + " svg.plot"); return !s || !drawn(s); }),
			Plots: document.querySelectorAll("svg.plot").length,
			Logs: Array.from(document.querySelectorAll("#logs a")).map(function(a){ return a.getAttribute("href"); })
		};
	})()`, jsList(sections), jsList(plots))
	if err := p.Eval(ctx, expr, &got); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(browsertest.ArtifactsDir(t), "real-run-report.png")
	if err := p.Screenshot(ctx, shot, 0, 0, 1280, 0); err != nil {
		t.Errorf("full-page screenshot: %v", err)
	} else {
		t.Logf("screenshot: %s", shot)
	}

	rep := p.Report()
	for _, e := range rep.Errors {
		t.Errorf("browser error: %s", e)
	}
	for _, u := range rep.OutsideRequests() {
		t.Errorf("the page requested %s: it must be self-contained", u)
	}
	if got.Verdict != "Valid" || !strings.Contains(got.Banner, "valid") || strings.Contains(got.Banner, "invalid") {
		t.Errorf("verdict %q (banner %q), want %q (valid)", got.Verdict, got.Banner, "Valid")
	}
	if len(got.Missing) > 0 {
		t.Errorf("sections missing or empty on screen: %v", got.Missing)
	}
	if len(got.Undrawn) > 0 || got.Plots < len(plots) {
		t.Errorf("plots not drawn with a size: %v (%d plots on the page); want latency, throughput and timeline", got.Undrawn, got.Plots)
	}
	// Every node's etcd log is linked, relative to the run's directory, and
	// the link leads to the file.
	for i := 1; i <= 5; i++ {
		want := fmt.Sprintf("nodes/n%d/etcd.log", i)
		if !slices.Contains(got.Logs, want) {
			t.Errorf("no link to %s among the node logs %v", want, got.Logs)
		}
	}
	for _, href := range got.Logs {
		if st, err := os.Stat(filepath.Join(run, filepath.FromSlash(href))); err != nil || st.Size() == 0 {
			t.Errorf("node-log link %s leads to no file (or an empty one): %v", href, err)
		}
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind after the run: %v", left)
	}
}

// jsList is a JavaScript array literal of strings.
func jsList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

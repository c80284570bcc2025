package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/internal/browsertest"
	"github.com/faultline-dev/faultline/nemesis/clock"
	"github.com/faultline-dev/faultline/reports"
)

func requireIptables(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("iptables"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("iptables is not installed, and CI=true forbids skipping (apt-get install iptables)")
		}
		t.Skip("needs iptables (apt-get install iptables)")
	}
}

// TestNemesisFindsStaleReads: etcd's serializable reads are served from a
// member's local state, so under partitions they go stale, and faultline
// must say so: exit 1, naming the key and the read, and why — the write the
// read missed, the node that answered it and the partition that node sat
// in — in its output, in results.json and in report.html (rendered in
// Chromium; screenshots kept, see staleReadReportInChromium).
func TestNemesisFindsStaleReads(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--read-consistency", "serializable", "--nemesis", "partition",
		"--nemesis-interval", "3s", "--time-limit", "20s", "--seed", "1", "--store", "store")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (invalid)\n%s\n%s", code, out, errOut)
	}
	if !regexp.MustCompile(`key \d+: no linearization .* could not linearize: process \d+ read`).MatchString(out) {
		t.Fatalf("output does not name the key and the read:\n%s", out)
	}
	t.Logf("faultline run's output:\n%s", out)
	// Why, in the output: the read, from which node, the write it missed.
	if !regexp.MustCompile(`\n +stale read: process \d+ read \S+ from n\d+ \(invoked at [\d.]+ s, ok at [\d.]+ s\), but process \d+'s `).MatchString(out) {
		t.Errorf("output does not explain the stale read:\n%s", out)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	if !bytes.Contains(h, []byte(`"f":"start-partition"`)) || !bytes.Contains(h, []byte(`"f":"stop-partition"`)) {
		t.Fatal("the history has no partition ops")
	}
	key, cause := staleReadCause(t, run)
	t.Logf("key %s: %s", key, cause)
	// porcupine's pages are in their folder, not beside history.jsonl.
	if _, err := os.Stat(filepath.Join(run, filepath.FromSlash(checker.VisualizationFile(key)))); err != nil {
		t.Errorf("no visualization of key %s: %v", key, err)
	}
	if old, _ := filepath.Glob(filepath.Join(run, "linearizability-*.html")); len(old) > 0 {
		t.Errorf("visualizations beside history.jsonl: %v", old)
	}
	t.Run("report in Chromium", func(t *testing.T) { staleReadReportInChromium(t, run, key, cause) })
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// staleReadCause finds, in a run's results.json, a failing key whose first
// cause is a stale read that names the write it missed (with its node and
// when it completed), the node that answered the read, and the partition
// that node sat in.
func staleReadCause(t *testing.T, run string) (string, checker.Cause) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(run, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Checkers map[string]struct {
			Details checker.LinearizableDetails `json:"details"`
		} `json:"checkers"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	d := res.Checkers["linearizable"].Details
	// Of the keys that qualify, the plainest story is shown: a read on the
	// minority side, of a value written before the write it missed.
	key, best, score := "", checker.Cause{}, -1
	for _, kf := range d.Failures {
		if len(kf.Causes) == 0 {
			t.Errorf("key %s: no cause in results.json", kf.Key)
			continue
		}
		c := kf.Causes[0]
		if c.Kind != checker.CauseStaleRead || c.Missed == nil || c.Missed.Completed == nil || c.Missed.Node == "" || c.Op.Node == "" {
			continue
		}
		for _, f := range c.Faults {
			if f.Fault != "partition" || !strings.HasPrefix(f.Text, c.Op.Node+" ") || !strings.Contains(f.Text, " side of partition {") {
				continue
			}
			s := 0
			if strings.Contains(f.Text, " minority side ") {
				s += 2
			}
			if strings.Contains(c.Text, " was written earlier by ") {
				s++
			}
			if s > score {
				key, best, score = kf.Key, c, s
			}
		}
	}
	if score < 0 {
		t.Fatalf("no failing key in results.json explains a stale read by the write it missed, the read's node and its partition: %+v", d.Failures)
	}
	return key, best
}

// staleReadReportInChromium opens the run's report.html and finds the same
// explanation in the failing key's section: the write the read missed, the
// node that answered the read, the partition it sat in. Screenshots of the
// key's section (real-run-stale-read.png) and of the whole page are kept in
// $FAULTLINE_ARTIFACTS/cmd/faultline (or a temporary directory), logged.
func staleReadReportInChromium(t *testing.T, run, key string, c checker.Cause) {
	chromium := browsertest.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := browsertest.OpenPage(ctx, t, chromium, "file://"+filepath.Join(run, reports.HTMLFile), 1500*time.Millisecond)
	var got struct {
		Found             bool
		Kind, Text, Fault string
		Rows              [][]string
		Viz               string
	}
	expr := fmt.Sprintf(`(function(){
		var a = Array.from(document.querySelectorAll("article.lin-key")).find(function(a){ var c = a.querySelector("h3 code"); return c && c.textContent === %q; });
		if (!a) { return {Found: false}; }
		var t = function(s){ var e = a.querySelector(s); return e ? e.textContent.trim() : ""; };
		var link = a.querySelector("a.viz-link");
		return {
			Found: true, Kind: t("h3 .kind"), Text: t(".cause-text"), Fault: t("ul.cause-faults li"),
			Rows: Array.from(a.querySelector("table.cause-ops").querySelectorAll("tbody tr")).map(function(r){
				return Array.from(r.cells).map(function(c){ return c.textContent.trim(); });
			}),
			Viz: link ? link.getAttribute("href") : ""
		};
	})()`, key)
	if err := p.Eval(ctx, expr, &got); err != nil {
		t.Fatal(err)
	}
	art := browsertest.ArtifactsDir(t)
	section := filepath.Join(art, "real-run-stale-read.png")
	if err := p.ScreenshotElement(ctx, section, "#key-"+key); err != nil {
		t.Errorf("screenshot of key %s's section: %v", key, err)
	}
	full := filepath.Join(art, "real-run-stale-read-full.png")
	if err := p.Screenshot(ctx, full, 0, 0, 1280, 0); err != nil {
		t.Errorf("full-page screenshot: %v", err)
	}
	t.Logf("screenshots: %s, %s", section, full)
	for _, e := range p.Report().Errors {
		t.Errorf("browser error: %s", e)
	}
	if !got.Found {
		t.Fatalf("report.html has no section for key %s", key)
	}
	// The write the read missed, the node that answered the read, the
	// partition it sat in.
	missed := fmt.Sprintf("process %d's write of %s on %s had completed at", c.Missed.Process, histories.FormatValue(c.Missed.Value), c.Missed.Node)
	if pair, ok := c.Missed.Value.([]any); ok && c.Missed.F == "cas" && len(pair) == 2 {
		missed = fmt.Sprintf("process %d's cas from %s to %s on %s had completed at", c.Missed.Process, histories.FormatValue(pair[0]), histories.FormatValue(pair[1]), c.Missed.Node)
	}
	if got.Kind != "stale read" || !strings.Contains(got.Text, missed) || !strings.Contains(got.Text, " from "+c.Op.Node+" ") {
		t.Errorf("key %s's cause on screen: %q (%s), want the read from %s and %q", key, got.Text, got.Kind, c.Op.Node, missed)
	}
	if !strings.HasPrefix(got.Fault, c.Op.Node+" ") || !strings.Contains(got.Fault, " side of partition {") {
		t.Errorf("key %s's fault on screen: %q, want %s's side of the partition", key, got.Fault, c.Op.Node)
	}
	// Rows: role, process, node, op, invoked, completed, outcome, index.
	if len(got.Rows) < 2 || got.Rows[0][0] != "the read" || got.Rows[0][2] != c.Op.Node || got.Rows[1][0] != "the write it missed" || got.Rows[1][2] != c.Missed.Node {
		t.Errorf("key %s's operations on screen: %q", key, got.Rows)
	}
	if got.Viz != checker.VisualizationFile(key) {
		t.Errorf("porcupine's page is linked as %q, want %q", got.Viz, checker.VisualizationFile(key))
	}
}

// TestNemesisNoFalseAlarm: linearizable reads stay linearizable under every
// fault; a false alarm here would make faultline useless. The faults are
// given with parameters, every one of them is injected, and the run says
// which ran, how long and where.
func TestNemesisNoFalseAlarm(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--nemesis", "partition:halves,kill:one,pause:nodes=n2+n3,clock",
		"--nemesis-interval", "3s", "--time-limit", "25s", "--seed", "2", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d, want 0 (valid)\n%s\n%s", code, out, errOut)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	if n := bytes.Count(h, []byte(`"process":"nemesis","type":"info","f":"start-`)); n < 4 {
		t.Fatalf("only %d faults injected in 25 s", n)
	}
	var res struct {
		Faults []histories.FaultStat `json:"faults"`
	}
	b, _ := os.ReadFile(filepath.Join(run, "results.json"))
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]histories.FaultStat{}
	for _, f := range res.Faults {
		got[f.Fault] = f
	}
	t.Logf("faults: %+v", res.Faults)
	for _, f := range []string{"partition", "kill", "pause", "clock"} {
		if got[f].Injected == 0 || got[f].Seconds < 1 {
			t.Errorf("%s never ran (a schedule must cover every fault asked for): %+v", f, got[f])
		}
	}
	if p := got["pause"].Nodes; strings.Join(p, ",") != "n2,n3" {
		t.Errorf("pause:nodes=n2+n3 paused %v", p)
	}
	if p := got["partition"].Nodes; len(p) != 5 {
		t.Errorf("partition:halves cut %v, want every node", p)
	}
	if !strings.Contains(out, "  faults:\n    ") || !strings.Contains(out, "pause 1× for") {
		t.Errorf("the run's output does not sum up the faults:\n%s", out)
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestKilledMidFaultThenHeal kills the controller with SIGKILL while a
// partition, a pause or a clock bump is in effect, checks that the fault
// really is in effect, and that `faultline heal` undoes it and removes
// everything.
func TestKilledMidFaultThenHeal(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	cases := []struct {
		fault    string
		inEffect func(t *testing.T, pids []int) bool
		healed   string
	}{
		{"partition", func(t *testing.T, _ []int) bool { return faultlineChains(t) > 0 }, "iptables chain FAULTLINE-PARTITION"},
		{"pause", func(t *testing.T, pids []int) bool { return anyStopped(pids) }, "resumed stopped pid"},
		{"clock", func(t *testing.T, pids []int) bool { return anySkewed(t, pids) }, "reset the clock"},
	}
	for _, c := range cases {
		t.Run(c.fault, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, "run", "--nemesis", c.fault, "--nemesis-interval", "2s", "--time-limit", "60s", "--store", "store")
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			start := []byte(`"f":"start-` + c.fault + `"`)
			deadline := time.Now().Add(90 * time.Second)
			for {
				matches, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "history.jsonl"))
				if len(matches) == 1 {
					b, _ := os.ReadFile(matches[0])
					if i := bytes.LastIndex(b, start); i >= 0 && !bytes.Contains(b[i:], []byte(`"f":"stop-`+c.fault+`"`)) {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no %s fault started", c.fault)
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if !c.inEffect(t, memberPids()) {
				t.Fatalf("the %s fault is not in effect after the kill: the test proves nothing", c.fault)
			}
			code, out, errOut := faultline(t, dir, "heal")
			if code != 0 || !strings.Contains(out, c.healed) {
				t.Fatalf("heal exit %d, output lacks %q:\n%s\n%s", code, c.healed, out, errOut)
			}
			if left := leftovers(t); len(left) > 0 {
				t.Fatalf("left behind after heal: %v", left)
			}
		})
	}
}

func memberPids() []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("etcd-member")) && bytes.HasPrefix(b, []byte(bin)) {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func anyStopped(pids []int) bool {
	for _, pid := range pids {
		if st, err := control.ProcState(pid); err == nil && st == 'T' {
			return true
		}
	}
	return false
}

func anySkewed(t *testing.T, pids []int) bool {
	for _, pid := range pids {
		if off, ok, err := clock.Offset(pid); err == nil && ok && off != 0 {
			return true
		}
	}
	return false
}

// faultlineChains counts faultline's iptables chains in faultline's
// namespaces.
func faultlineChains(t *testing.T) int {
	n := 0
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "fl-") {
			continue
		}
		out, _ := exec.Command("ip", "netns", "exec", e.Name(), "iptables", "-S").CombinedOutput()
		n += strings.Count(string(out), "-N FAULTLINE")
	}
	return n
}

// faultlineRuleLines lists the FAULTLINE lines of `iptables -S` in
// faultline's namespaces.
func faultlineRuleLines(t *testing.T) []string {
	var out []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "fl-") {
			continue
		}
		b, _ := exec.Command("ip", "netns", "exec", e.Name(), "iptables", "-S").CombinedOutput()
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "FAULTLINE") {
				out = append(out, l)
			}
		}
	}
	return out
}

// Errors carry one prefix, the command that failed, and usage errors point
// at its help; without root, a run says how to go on (sudo, or the
// in-process target) and writes why into the store.
func TestErrorMessages(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--nemsis", "kill"}, "faultline run: unknown flag: --nemsis (see 'faultline run --help')\n"},
		{[]string{"check"}, "faultline check: requires at least 1 arg(s), only received 0 (see 'faultline check --help')\n"},
		{[]string{"run", "--nemesis", "kill:oen"}, `faultline run: bad plan: nemesis: fault "kill:oen", parameter "oen": unknown word "oen"`},
	} {
		code, _, errOut := faultline(t, t.TempDir(), c.args...)
		if code != 3 || !strings.HasPrefix(errOut, c.want) || strings.Count(errOut, "faultline") > 2 {
			t.Errorf("%v: exit %d, stderr %q, want it to start with %q", c.args, code, errOut, c.want)
		}
	}

	controltest.RequireRoot(t)
	// t.TempDir's parent is private; nobody needs a directory of its own.
	dir, err := os.MkdirTemp("", "faultline-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// The test binary's directory is private: nobody runs a copy.
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	nbin := filepath.Join(dir, "faultline")
	if err := os.WriteFile(nbin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nbin, "run", "--time-limit", "2s", "--store", filepath.Join(dir, "store"))
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("as nobody: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"faultline run: cluster setup:", "needs root", "sudo", "--target memory"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("no-root error lacks %q: %s", want, stderr.String())
		}
	}
	res, err := filepath.Glob(filepath.Join(dir, "store", "*", "*", "results.json"))
	if err != nil || len(res) != 1 {
		t.Fatalf("results.json of the run that could not start: %v %v", res, err)
	}
}

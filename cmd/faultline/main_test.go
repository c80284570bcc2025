package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/histories"
)

// bin is the faultline binary built once for these end-to-end tests: the
// tests drive it as a user would.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faultline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	bin = filepath.Join(dir, "faultline")
	// Built as the README builds it: static, so it is the binary the SSH
	// backend installs on nodes as it would on any host.
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build faultline: %v\n%s", err, out)
		os.Exit(3)
	}
	code := m.Run()
	closeSSHNodes()
	os.RemoveAll(dir)
	os.Exit(code)
}

// faultline runs the binary and returns its exit code, stdout and stderr.
func faultline(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("faultline %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

func repoPath(p string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", p)
}

func TestCheckCorpusExitCodes(t *testing.T) {
	cases := []struct {
		file string
		code int
		out  string
	}{
		{"testdata/corpora/porcupine-jepsen-etcd/etcd_000.log", 1, "INVALID (cas-register"},
		{"testdata/corpora/porcupine-jepsen-etcd/etcd_002.log", 0, "VALID (cas-register"},
		{"testdata/corpora/porcupine-kv/c10-bad.txt", 1, "INVALID (kv"},
		{"testdata/corpora/porcupine-kv/c10-ok.txt", 0, "VALID (kv"},
	}
	for _, c := range cases {
		code, out, errOut := faultline(t, "", "check", repoPath(c.file))
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("check %s: exit %d, want %d; out %q err %q", c.file, code, c.code, out, errOut)
		}
	}
	// The invalid etcd log names the key and the operations.
	_, out, _ := faultline(t, "", "check", repoPath("testdata/corpora/porcupine-jepsen-etcd/etcd_000.log"))
	if !strings.Contains(out, "could not") {
		t.Errorf("invalid output does not say which operations could not be linearized:\n%s", out)
	}
}

// Jepsen independent histories ([key value] tuple values) are split into
// keys by default and checked key by key; --independent on insists, off
// checks the values whole.
func TestCheckIndependent(t *testing.T) {
	bad := repoPath("testdata/linearizable/independent-cas-register-bad.edn")
	ok := repoPath("testdata/linearizable/independent-cas-register-ok.edn")
	plain := repoPath("testdata/linearizable/cas-register-ok.edn")
	code, out, errOut := faultline(t, "", "check", bad)
	if code != 1 || !strings.Contains(out, "key 0:") || !strings.Contains(out, "independent [key value] tuples") {
		t.Errorf("check independent bad: exit %d, want 1 naming key 0 and saying it split tuples; out %q err %q", code, out, errOut)
	}
	// The same verdict as the keyed original: the split is the only change.
	_, keyed, _ := faultline(t, "", "check", repoPath("testdata/linearizable/cas-register-bad.edn"))
	if strings.Contains(keyed, "key x:") != strings.Contains(out, "key 0:") || strings.Contains(keyed, "key y:") != strings.Contains(out, "key 1:") {
		t.Errorf("the split history fails on other keys than the keyed one:\n%s\n%s", keyed, out)
	}
	if code, out, errOut := faultline(t, "", "check", "--independent", "on", ok); code != 0 {
		t.Errorf("check --independent on ok: exit %d; out %q err %q", code, out, errOut)
	}
	if code, out, _ := faultline(t, "", "check", "--format", "json", ok); code != 0 || !strings.Contains(out, `"independent":true`) {
		t.Errorf("json output does not say the tuples were split: exit %d %s", code, out)
	}
	// A keyed history is not split by default and is an error with on.
	if code, out, errOut := faultline(t, "", "check", plain); code != 0 || strings.Contains(out, "independent") {
		t.Errorf("check keyed ok: exit %d; out %q err %q", code, out, errOut)
	}
	if code, _, errOut := faultline(t, "", "check", "--independent", "on", plain); code != 3 || !strings.Contains(errOut, "cas-register-ok.edn:1:") {
		t.Errorf("check --independent on keyed: exit %d, want 3 naming the line; err %q", code, errOut)
	}
	// Off: the tuples are values, which a register cannot hold.
	if code, _, errOut := faultline(t, "", "check", "--independent", "off", ok); code != 3 || !strings.Contains(errOut, "list of 2") {
		t.Errorf("check --independent off: exit %d, want 3; err %q", code, errOut)
	}
	if code, _, errOut := faultline(t, "", "check", "--independent", "maybe", ok); code != 3 || !strings.Contains(errOut, "--independent") {
		t.Errorf("check --independent maybe: exit %d; err %q", code, errOut)
	}
}

func TestCheckOutAndJSON(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := faultline(t, "", "check", "--format", "json", "--out", dir, repoPath("testdata/corpora/porcupine-jepsen-etcd/etcd_000.log"))
	if code != 1 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var res struct {
		File  string `json:"file"`
		Valid any    `json:"valid"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Valid != "false" {
		t.Fatalf("json output %q: %v", out, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil || !bytes.Contains(b, []byte(`"valid": "false"`)) {
		t.Fatalf("results.json: %v %s", err, b)
	}
	// porcupine's pages are in their folder, which report.html links.
	htmls, _ := filepath.Glob(filepath.Join(dir, "linearizability", "*.html"))
	if len(htmls) == 0 {
		t.Fatal("no visualization written in linearizability/")
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !bytes.Contains(report, []byte(`href="linearizability/`+filepath.Base(htmls[0])+`"`)) {
		t.Errorf("report.html does not link %s: %v", htmls[0], err)
	}
}

func TestCheckBadInput(t *testing.T) {
	dir := t.TempDir()
	trunc := filepath.Join(dir, "history.jsonl")
	// A bad line in the middle is an error naming it (a cut-off last line
	// is not: see TestCheckTruncatedTail).
	os.WriteFile(trunc, []byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":null}`+"\n"+`{"index":1,"time":2,"proc`+"\n"+`{"index":2,"time":3,"process":0,"type":"invoke","f":"read","value":null}`+"\n"), 0o644)
	garbled := filepath.Join(dir, "garbled.log")
	os.WriteFile(garbled, []byte("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:okay\t:read\tnil\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"check", trunc}, trunc + ":2:"},
		{[]string{"check", garbled}, garbled + ":2:"},
		{[]string{"check", "--model", "nope", trunc}, `--model "nope"`},
		{[]string{"check", "--format", "xml", trunc}, "--format"},
		{[]string{"check", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"check", "--timeout", "soon", trunc}, "timeout"},
		{[]string{"check"}, "requires at least 1 arg"},
	}
	for _, c := range cases {
		code, _, errOut := faultline(t, "", c.args...)
		if code != 3 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 3 and %q", c.args, code, errOut, c.want)
		}
	}
}

// A history whose last line was cut off (a writer that crashed) is checked
// up to it, and the output says what was dropped.
func TestCheckTruncatedTail(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "history.jsonl")
	os.WriteFile(file, []byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"write","value":1}`+"\n"+
		`{"index":1,"time":2,"process":0,"type":"ok","f":"write","value":1}`+"\n"+`{"index":2,"time":3,"proc`), 0o644)
	code, out, errOut := faultline(t, "", "check", "--model", "register", file)
	if code != 0 || !strings.Contains(out, "dropped line 3 (25 bytes), the last, cut off mid-op") || !strings.Contains(out, "2 history events") {
		t.Errorf("exit %d, want 0 saying what was dropped:\n%s%s", code, out, errOut)
	}
	code, out, _ = faultline(t, "", "check", "--model", "register", "--format", "json", file)
	if code != 0 || !strings.Contains(out, `"dropped":"dropped line 3`) {
		t.Errorf("json: exit %d:\n%s", code, out)
	}
}

func TestRunBadPlans(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "plan.yaml")
	os.WriteFile(typo, []byte("name: x\nconcurency: 5\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--target", "etdc"}, `target: unknown target "etdc"`},
		{[]string{"run", "--nodes", "0"}, "nodes: 0: need at least one node"},
		{[]string{"run", "-c", typo}, "line 2: field concurency not found"},
		{[]string{"run", "--concurrency", "0", "--target", "memory"}, "concurrency: 0"},
		{[]string{"run", "--read-consistency", "strong"}, "read-consistency"},
		{[]string{"run", "--target", "postgres", "--upsert", "merge"}, `option upsert="merge": want one of update-insert, on-conflict`},
		{[]string{"run", "--target", "memory", "--workload", "append"}, "workload append does not run on target memory"},
	}
	for _, c := range cases {
		code, _, errOut := faultline(t, dir, c.args...)
		if code != 3 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 3 and %q", c.args, code, errOut, c.want)
		}
	}
}

// leftovers lists faultline's namespaces and member processes still there.
func leftovers(t *testing.T) []string {
	t.Helper()
	var left []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "fl-") {
			left = append(left, "netns "+e.Name())
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if strings.HasPrefix(l.Name(), "fl-") || strings.HasPrefix(l.Name(), "flbr-") {
			left = append(left, "link "+l.Name())
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, "/netns/fl-") || strings.Contains(line, "faultline") {
			left = append(left, "mount "+line)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("etcd-member")) && bytes.HasPrefix(b, []byte(bin)) {
			left = append(left, "process "+filepath.Base(filepath.Dir(p)))
		}
	}
	return left
}

// TestRunEtcd is the main job end to end with a short time limit: a real
// 5-node etcd on local hosts, the register workload, exit 0 and valid; the
// store holds what it should; checking the history again agrees; nothing
// is left behind.
func TestRunEtcd(t *testing.T) {
	controltest.RequireRoot(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--time-limit", "5s", "--store", "store")
	if code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "VALID (cas-register") {
		t.Fatalf("no valid verdict in output:\n%s", out)
	}
	run, err := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"history.jsonl", "results.json", "plan.json", "faultline.log", "nodes/n1/etcd.log", "nodes/n5/etcd.log"} {
		if st, err := os.Stat(filepath.Join(run, f)); err != nil || st.Size() == 0 {
			t.Errorf("store lacks %s (or it is empty): %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(run, "nodes", "n1", "data")); err == nil {
		t.Error("etcd data directory left in the store")
	}
	code, out2, _ := faultline(t, dir, "check", filepath.Join(run, "history.jsonl"))
	if code != 0 || !strings.Contains(out2, "VALID") {
		t.Fatalf("recheck: exit %d %s", code, out2)
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind after the run: %v", left)
	}
}

// TestRunKilledThenHeal kills the controller mid-run with SIGKILL; `faultline
// heal` must then remove every namespace, link and process of that run, and
// the etcd data directories it left in the store (keeping the logs).
func TestRunKilledThenHeal(t *testing.T) {
	controltest.RequireRoot(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--time-limit", "60s", "--store", "store")
	cmd.Dir = dir
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait for the workload to be running: the history grows.
	deadline := time.Now().Add(90 * time.Second)
	go bufio.NewScanner(stderr).Scan()
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "history.jsonl"))
		if len(matches) == 1 {
			if st, err := os.Stat(matches[0]); err == nil && st.Size() > 10000 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started recording")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(leftovers(t)) == 0 {
		t.Fatal("a SIGKILLed run left nothing: the test does not test heal")
	}
	dataDirs := filepath.Join(dir, "store", "*", "*", "nodes", "*", "data")
	if data, _ := filepath.Glob(dataDirs); len(data) != 5 {
		t.Fatalf("the killed run left %d etcd data directories (%v), want one per node: the test does not test their removal", len(data), data)
	}
	code, out, errOut := faultline(t, dir, "heal")
	if code != 0 {
		t.Fatalf("heal exit %d: %s %s", code, out, errOut)
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind after heal: %v\nheal said: %s", left, out)
	}
	if data, _ := filepath.Glob(dataDirs); len(data) > 0 {
		t.Errorf("etcd data directories left after heal: %v\nheal said: %s", data, out)
	}
	if logs, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "nodes", "*", "etcd.log")); len(logs) != 5 {
		t.Errorf("heal kept %d of the 5 nodes' etcd logs: %v", len(logs), logs)
	}
	if strings.Contains(out, "nothing to heal") {
		t.Errorf("heal healed something and says there was nothing to heal:\n%s", out)
	}
	// The history up to the kill is readable and checkable.
	matches, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "history.jsonl"))
	code, out, errOut = faultline(t, dir, "check", matches[0])
	if code == 3 {
		t.Fatalf("history of a killed run is not checkable: %s %s", out, errOut)
	}
}

// TestCheckTransactional: a write skew is invalid for the default claim
// (strict-serializable), explained step by step in the text output, and
// valid when the system only claims snapshot isolation: there, as in Elle,
// G2-item is not even searched for, unless asked for with --anomalies
// (then it is invalid) or --also-anomalies (valid, and the output says
// which stronger models it rules out).
func TestCheckTransactional(t *testing.T) {
	file := repoPath("testdata/txn/G2-item.jsonl")
	code, out, errOut := faultline(t, "", "check", file)
	if code != 1 || !strings.Contains(out, "G2-item, e.g.:") || !strings.Contains(out, "(rw)") {
		t.Fatalf("exit %d, want 1 with an explained G2-item:\n%s%s", code, out, errOut)
	}
	code, out, _ = faultline(t, "", "check", "--consistency-model", "snapshot-isolation", file)
	if code != 0 || !strings.Contains(out, "no anomalies") || !strings.Contains(out, "Searched for") {
		t.Fatalf("under snapshot-isolation: exit %d, want 0, G2-item not searched:\n%s", code, out)
	}
	code, out, _ = faultline(t, "", "check", "--consistency-model", "snapshot-isolation", "--anomalies", "G2", file)
	if code != 1 || !strings.Contains(out, "G2-item") {
		t.Fatalf("under snapshot-isolation --anomalies G2: exit %d, want 1:\n%s", code, out)
	}
	code, out, _ = faultline(t, "", "check", "--consistency-model", "snapshot-isolation", "--also-anomalies", "G2", file)
	if code != 0 || !strings.Contains(out, "not: repeatable-read") || !strings.Contains(out, "G2-item") {
		t.Fatalf("under snapshot-isolation --also-anomalies G2: exit %d, want 0 naming G2-item and not repeatable-read:\n%s", code, out)
	}
	if code, _, errOut := faultline(t, "", "check", "--also-anomalies", "G3", file); code != 3 || !strings.Contains(errOut, "--also-anomalies") {
		t.Fatalf("--also-anomalies G3: exit %d: %s", code, errOut)
	}
	code, _, errOut = faultline(t, "", "check", "--workload", "append", repoPath("testdata/txn/valid-rw-register.jsonl"))
	if code != 3 {
		t.Fatalf("an rw-register history checked as append: exit %d, want 3: %s", code, errOut)
	}
}

func TestListAndVersion(t *testing.T) {
	code, out, _ := faultline(t, "", "list")
	for _, want := range []string{"etcd", "postgres", "register", "append", "partition", "clock", "cas-register", "snapshot-isolation"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("list: exit %d, no %q in:\n%s", code, want, out)
		}
	}
	// Each target says which workloads its client runs.
	code, out, _ = faultline(t, "", "list", "targets")
	if code != 0 || !regexp.MustCompile(`postgres\s+workloads: append, bank, counter, rw-register, set\n`).MatchString(out) ||
		!regexp.MustCompile(`etcd\s+workloads: bank, counter, lock, queue, register, set, unique-ids\n`).MatchString(out) ||
		!regexp.MustCompile(`redis\s+workloads: counter, lock, queue, register, set\n`).MatchString(out) {
		t.Errorf("list targets: exit %d, want each target's workloads:\n%s", code, out)
	}
	// Each backend says which faults it supports: unplug only where nodes
	// are containers.
	code, out, _ = faultline(t, "", "list", "backends")
	faults := map[string][]string{}
	for _, m := range regexp.MustCompile(`(?m)^  (\S+)  .*\n      faults: ([^(\n]*) \(`).FindAllStringSubmatch(out, -1) {
		faults[m[1]] = strings.Split(m[2], ", ")
	}
	for backend, unplug := range map[string]bool{"docker": true, "local": false, "ssh": false} {
		f, ok := faults[backend]
		if code != 0 || !ok || !slices.Contains(f, "partition") || !slices.Contains(f, "kill") || slices.Contains(f, "unplug") != unplug {
			t.Errorf("list backends: exit %d, %s's faults %q (listed: %v), want unplug listed: %v\n%s", code, backend, f, ok, unplug, out)
		}
	}
	if code, _, errOut := faultline(t, "", "list", "bogus"); code != 3 || !strings.Contains(errOut, `unknown section "bogus"`) {
		t.Errorf("list bogus: exit %d, %q", code, errOut)
	}
	if code, out, _ := faultline(t, "", "version"); code != 0 || !strings.HasPrefix(out, "faultline ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// Shell completion offers the values of the flags that take names, and
// completes the last element of a list of faults, parameters included.
func TestFlagCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
		not  []string
	}{
		{[]string{"run", "--nemesis", "kill,pa"}, []string{"kill,partition", "kill,pause", "kill,packet"}, []string{"kill,kill"}},
		{[]string{"run", "--nemesis", "partition:ha"}, []string{"partition:halves"}, []string{"partition:one"}},
		{[]string{"run", "--nemesis", "packet:"}, []string{"packet:loss=0.2", "packet:delay=50ms"}, nil},
		{[]string{"run", "--target", ""}, []string{"etcd", "postgres", "memory"}, nil},
		{[]string{"run", "--workload", ""}, []string{"register"}, nil},
		{[]string{"run", "--nodes", ""}, []string{"3", "5"}, nil},
		{[]string{"nemesis", "partition", "--grudge", ""}, []string{"halves", "majorities-ring", "isolate"}, nil},
		{[]string{"check", "--consistency-model", ""}, []string{"snapshot-isolation", "serializable", "repeatable-read"}, nil},
	} {
		_, out, errOut := faultline(t, "", append([]string{"__complete"}, c.args...)...)
		lines := strings.Split(out, "\n")
		for _, w := range c.want {
			if !slices.Contains(lines, w) {
				t.Errorf("%v: no %q in %q %s", c.args, w, out, errOut)
			}
		}
		for _, w := range c.not {
			if slices.Contains(lines, w) {
				t.Errorf("%v: %q offered: %q", c.args, w, out)
			}
		}
	}
}

// A reader that goes away (faultline run | head) does not kill the run:
// it still writes its results.
func TestRunSurvivesClosedOutput(t *testing.T) {
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // nobody reads: every write meets a closed pipe
	cmd := exec.Command(bin, "run", "--target", "memory", "--time-limit", "1s", "--store", "store")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	w.Close()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() < 0 {
		t.Fatalf("killed by a signal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", "latest", "results.json")); err != nil {
		t.Fatalf("no results.json: %v", err)
	}
}

// Nothing recorded is lost when the controller is SIGKILLed: the history
// on disk runs up to the kill, as every op is written when it completes.
func TestHistorySurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--target", "memory", "--time-limit", "30s", "--store", "store")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The first op on disk starts the clock.
	var hist string
	deadline := time.Now().Add(20 * time.Second)
	for hist == "" {
		if time.Now().After(deadline) {
			t.Fatal("no history after 20 s")
		}
		if m, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "history.jsonl")); len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() > 0 {
				hist = m[0]
			}
		}
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ran := time.Since(t0)
	_ = cmd.Wait()
	h, err := histories.ReadFile(hist)
	var te *histories.TruncatedError
	if errors.As(err, &te) {
		h, err = te.History, nil // a line cut mid-write is all a kill may cost
	}
	if err != nil || len(h) < 2 {
		t.Fatalf("history: %d ops, %v", len(h), err)
	}
	span := time.Duration(h[len(h)-1].Time - h[0].Time)
	t.Logf("killed %v after the first op was on disk; the history spans %v (%d events)", ran, span, len(h))
	if lost := ran - span; lost > 100*time.Millisecond {
		t.Errorf("the last %v before the kill are missing from the history", lost)
	}
}

// A run says how soon after its final phase the verdict came, in its
// summary and in results.json (run.verdict_seconds).
func TestRunSaysWhenTheVerdictCame(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--target", "memory", "--time-limit", "2s", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "the verdict came ") {
		t.Errorf("the summary does not say when the verdict came:\n%s", out)
	}
	res := latestResults(t, dir)
	run, _ := res["run"].(map[string]any)
	v, ok := run["verdict_seconds"].(float64)
	if !ok || v <= 0 || v > 30 {
		t.Errorf("results.json run.verdict_seconds = %v", run["verdict_seconds"])
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/nemesis/clock"
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
// must say so: exit 1, naming the key and the read.
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
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	if !bytes.Contains(h, []byte(`"f":"start-partition"`)) || !bytes.Contains(h, []byte(`"f":"stop-partition"`)) {
		t.Fatal("the history has no partition ops")
	}
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
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

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/control/controltest"
)

// run runs faultline in dir and fails the test unless it exits with want.
func mustRun(t *testing.T, dir string, want int, args ...string) string {
	t.Helper()
	code, out, errOut := faultline(t, dir, args...)
	if code != want {
		t.Fatalf("faultline %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out + errOut
}

// cluster up, faults by hand, heal and down on local nodes: the fault is
// in effect after the command returns, held by the nodes' agents, and
// nemesis heal undoes every one of them (restarting the killed member).
func TestClusterUpNemesisByHand(t *testing.T) {
	controltest.RequireRoot(t)
	requireIptables(t)
	dir := t.TempDir()
	out := mustRun(t, dir, 0, "cluster", "up", "--nodes", "3", "--store", "store")
	if !strings.Contains(out, "http://") || !strings.Contains(out, "n3") {
		t.Errorf("cluster up does not show the nodes' endpoints:\n%s", out)
	}
	if out := mustRun(t, dir, 3, "cluster", "up", "--nodes", "3", "--store", "store"); !strings.Contains(out, "already up") {
		t.Errorf("a second cluster up: %s", out)
	}
	mustRun(t, dir, 0, "cluster", "status", "--store", "store")
	mustRun(t, dir, 0, "nemesis", "partition", "--grudge", "halves", "--store", "store")
	if faultlineChains(t) == 0 {
		t.Error("no faultline chain after nemesis partition returned")
	}
	mustRun(t, dir, 0, "nemesis", "pause", "--nodes", "n2", "--store", "store")
	if !anyStopped(memberPids()) {
		t.Error("no member stopped after nemesis pause returned")
	}
	mustRun(t, dir, 0, "nemesis", "kill", "--nodes", "n3", "--store", "store")
	if n := len(memberPids()); n != 2 {
		t.Errorf("%d members run after killing n3, want 2", n)
	}
	st := mustRun(t, dir, 0, "nemesis", "status", "--store", "store")
	for _, want := range []string{"journal: partition", "journal: pause", "journal: kill", "n2: session", "resumed stopped pids", "emptied iptables chain FAULTLINE-PARTITION"} {
		if !strings.Contains(st, want) {
			t.Errorf("nemesis status lacks %q:\n%s", want, st)
		}
	}
	out = mustRun(t, dir, 0, "nemesis", "heal", "--store", "store")
	t.Logf("nemesis heal:\n%s", out)
	if !strings.Contains(out, "restarted") || !strings.Contains(out, "PARTITION") || !strings.Contains(out, "resumed") {
		t.Errorf("nemesis heal does not say it restarted n3, healed the partition and resumed n2:\n%s", out)
	}
	if faultlineChainsWithRules(t) > 0 || anyStopped(memberPids()) || len(memberPids()) != 3 {
		t.Errorf("after nemesis heal: %d chains with rules, stopped %v, %d members", faultlineChainsWithRules(t), anyStopped(memberPids()), len(memberPids()))
	}
	if st := mustRun(t, dir, 0, "nemesis", "status", "--store", "store"); !strings.Contains(st, "journal: no fault in effect") || strings.Contains(st, "session") {
		t.Errorf("nemesis status after heal:\n%s", st)
	}
	// Misspelled subcommands are refused with a suggestion.
	if code, _, errOut := faultline(t, dir, "nemesis", "partiton"); code != 3 || !strings.Contains(errOut, "did you mean partition?") {
		t.Errorf("nemesis partiton: exit %d, %s", code, errOut)
	}
	if code, _, errOut := faultline(t, dir, "cluster", "stauts"); code != 3 || !strings.Contains(errOut, "did you mean status?") {
		t.Errorf("cluster stauts: exit %d, %s", code, errOut)
	}
	before := leftovers(t)
	out = mustRun(t, dir, 0, "cluster", "down", "--store", "store")
	if left := leftovers(t); len(left) > 0 {
		t.Logf("before cluster down: %v\ncluster down said:\n%s", before, out)
		t.Errorf("left behind after cluster down: %v", left)
	}
	// The logs are kept, the members' data is not.
	if logs, _ := filepath.Glob(filepath.Join(dir, "store", "cluster", "nodes", "n1", "*.log")); len(logs) == 0 {
		t.Error("cluster down kept no log of n1")
	}
	if data, _ := filepath.Glob(filepath.Join(dir, "store", "cluster", "nodes", "*", "data")); len(data) > 0 {
		t.Errorf("cluster down left data directories: %v", data)
	}
	// Nothing to attach to any more.
	if code, _, errOut := faultline(t, dir, "nemesis", "pause", "--store", "store"); code != 3 || !strings.Contains(errOut, "torn down") {
		t.Errorf("nemesis after cluster down: exit %d %s", code, errOut)
	}
	// --purge removes the record and the logs too.
	if out := mustRun(t, dir, 0, "cluster", "down", "--purge", "--store", "store"); !strings.Contains(out, "removed") {
		t.Errorf("cluster down --purge: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "store", "cluster")); !os.IsNotExist(err) {
		t.Errorf("store/cluster after --purge: %v", err)
	}
}

// A PostgreSQL cluster over SSH by hand: up, a pause of the server's whole
// process tree, heal, down, and the node clean.
func TestSSHClusterUpPostgres(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	n1 := f.Nodes[0]
	args := []string{"--store", "store", "--target", "postgres", "--control", "ssh", "--nodes", n1.Addr.String(),
		"--ssh-key", f.Key, "--ssh-known-hosts", f.KnownHosts}
	out := mustRun(t, dir, 0, append([]string{"cluster", "up"}, args...)...)
	t.Logf("%s", out)
	mustRun(t, dir, 0, "nemesis", "pause", "--nodes", "all", "--store", "store")
	ps := onNode(t, f, n1.Name, "ps -o stat=,args= -u postgres")
	if !strings.Contains(ps, "postgres") || strings.Contains(ps, "\nS") || strings.HasPrefix(ps, "S") {
		t.Errorf("after nemesis pause the server's processes are not all stopped:\n%s", ps)
	}
	out = mustRun(t, dir, 0, "nemesis", "heal", "--store", "store")
	if ps := onNode(t, f, n1.Name, "ps -o stat= -u postgres"); strings.Contains(ps, "T") {
		t.Errorf("after nemesis heal:\n%s\n%s", out, ps)
	}
	mustRun(t, dir, 0, "cluster", "down", "--store", "store")
	if ps := onNode(t, f, n1.Name, "ps -o pid= -u postgres; true"); strings.TrimSpace(ps) != "" {
		t.Errorf("the server still runs after cluster down: %s", ps)
	}
	// A node without PostgreSQL (hidden under a tmpfs in the node's own
	// mount namespace) is refused, saying what is missing and where.
	onNode(t, f, n1.Name, "mount -t tmpfs sshfx-nopg /usr/lib/postgresql")
	out = mustRun(t, dir, 3, append([]string{"cluster", "up"}, args...)...)
	onNode(t, f, n1.Name, "umount /usr/lib/postgresql")
	if !strings.Contains(out, "no PostgreSQL server under /usr/lib/postgresql/*/bin on") || !strings.Contains(out, "apt-get install postgresql") {
		t.Errorf("a node without PostgreSQL: %s", out)
	}
	assertNodesClean(t, f)
}

// faultlineChainsWithRules counts faultline chains holding rules in
// faultline's namespaces.
func faultlineChainsWithRules(t *testing.T) int {
	n := 0
	for _, r := range faultlineRuleLines(t) {
		if strings.HasPrefix(r, "-A FAULTLINE-") {
			n++
		}
	}
	return n
}

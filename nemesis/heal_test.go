package nemesis

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// injectMix injects a partition, a pause of n2, a clock bump on every
// node and packet loss and delay on n3, through failers on journal j (nil:
// none), and checks that they are in effect.
func injectMix(t *testing.T, ctx context.Context, env *Env, j *Journal) {
	t.Helper()
	c := env.Cluster.(*local.Cluster)
	rng := rand.New(rand.NewPCG(11, 11))
	steps := []struct {
		f    Fault
		args Args
	}{
		{newPartition(env), PartitionArgs{Grudge: GrudgeOne}},
		{newPause(env), PauseArgs{Nodes: SelectNamed("n2")}},
		{newClock(env), ClockArgs{Mode: ClockBump, Offset: 2 * time.Minute, Nodes: Select(SelectAll)}},
		{newPacket(env), PacketArgs{Nodes: SelectNamed("n3"), Loss: 0.1, Delay: 5 * time.Millisecond, DelayMethod: DelayNfqueue}},
	}
	for _, s := range steps {
		if _, err := NewFailer(s.f, j).Inject(ctx, s.args, rng); err != nil {
			t.Fatal(err)
		}
	}
	// In effect: faultline rules everywhere, n2 stopped, clocks 2 min ahead.
	for _, n := range c.Nodes() {
		if len(faultlineRules(t, c, n.Name)) == 0 {
			t.Errorf("no faultline rules on %s", n.Name)
		}
		for _, pid := range members(t, env, n.Name) {
			if off, skewed, err := clockskew.Offset(pid); err != nil || !skewed || off != 2*time.Minute {
				t.Errorf("pid %d on %s: offset %v, skewed %v, %v; want 2m", pid, n.Name, off, skewed, err)
			}
			if s, _ := control.ProcState(pid); (s == 'T') != (n.Name == "n2") {
				t.Errorf("pid %d on %s in state %c", pid, n.Name, s)
			}
		}
	}
	if rules := strings.Join(faultlineRules(t, c, "n3"), "\n"); !strings.Contains(rules, "NFQUEUE") || !strings.Contains(rules, "statistic") {
		t.Errorf("n3 lacks the packet rules:\n%s", rules)
	}
}

func members(t *testing.T, env *Env, node string) []int {
	t.Helper()
	pids, err := env.DB.Processes(context.Background(), node)
	if err != nil || len(pids) == 0 {
		t.Fatalf("the target's processes on %s: %v, %v", node, pids, err)
	}
	return pids
}

// assertHealed checks that no faultline rule, stopped process or skewed
// clock is left in the cluster.
func assertHealed(t *testing.T, env *Env) {
	t.Helper()
	c := env.Cluster.(*local.Cluster)
	assertNoFaultlineRules(t, c)
	for _, n := range c.Nodes() {
		for _, pid := range members(t, env, n.Name) {
			if s, _ := control.ProcState(pid); s == 'T' {
				t.Errorf("pid %d on %s is still stopped", pid, n.Name)
			}
			if st, err := clockskew.Inspect(pid); err != nil || st.Skewed {
				t.Errorf("pid %d on %s: skewed %v, %v", pid, n.Name, st.Skewed, err)
			}
		}
	}
}

// killAgents kills the session's agents as if the machine had lost them
// (SIGKILL: they heal nothing).
func killAgents(t *testing.T, c control.Cluster) {
	t.Helper()
	for _, n := range c.Nodes() {
		files, _ := filepath.Glob(filepath.Join(c.NodeDir(n.Name), "agent", "warden-*.pid"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			var pid int
			for _, r := range strings.Fields(string(b))[:1] {
				pid = atoi(r)
			}
			if pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
}

// A controller that dies leaves its journal and its agents' ledgers:
// HealJournal reaches the cluster again from the journal and has the
// agents undo everything.
func TestHealJournalAfterControllerDeath(t *testing.T) {
	c := newCluster(t, 3)
	tg := newEtcd(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := newEnv(t, c, tg)
	path := journalPath(t)
	ref := c.Ref()
	j, err := OpenJournal(path, &ref, env.Agents.Session())
	if err != nil {
		t.Fatal(err)
	}
	injectMix(t, ctx, env, j)
	// The controller dies: its journal stays as it was and its agents
	// lose their controller (input closed), holding the faults under
	// their lease (a minute here).
	j.Close()
	env.Agents.Detach()
	entries, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if out := Outstanding(entries); len(out) != 4 {
		t.Fatalf("%d outstanding actions in the journal, want 4", len(out))
	}
	start := time.Now()
	rep, err := HealJournal(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HealJournal in %v:\n%s", time.Since(start).Round(time.Millisecond), rep)
	assertHealed(t, env)
	undone := strings.Join(rep.Undone, "\n")
	for _, want := range []string{"resumed stopped pid", "reset the clock", "emptied iptables chain FAULTLINE-PARTITION", "emptied iptables chain FAULTLINE-PACKET", "stopped the delayer"} {
		if !strings.Contains(undone, want) {
			t.Errorf("the report does not say %q:\n%s", want, undone)
		}
	}
	entries, _ = ReadJournal(path)
	if out := Outstanding(entries); len(out) != 0 {
		t.Errorf("journal still shows %d outstanding actions", len(out))
	}
	// A second heal finds nothing to do.
	if rep, err := HealJournal(ctx, path); err != nil || !rep.Empty() {
		t.Errorf("second HealJournal: %v, %v", rep, err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// Agents killed outright leave their ledgers; and where even the ledgers
// are gone, a sweep finds faultline's chains, skewed clocks and (in
// faultline's own namespaces) stopped processes anyway.
func TestHealNodesLedgerAndSweep(t *testing.T) {
	c := newCluster(t, 3)
	tg := newEtcd(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	env := newEnv(t, c, tg)
	injectMix(t, ctx, env, nil)
	killAgents(t, c)
	rep, err := HealNodes(ctx, c, HealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from the ledgers of killed agents:\n%s", rep)
	// The chains are left (empty) for the sweep: the ledger holds faults.
	for _, n := range c.Nodes() {
		for _, r := range faultlineRules(t, c, n.Name) {
			if strings.Contains(r, "DROP") || strings.Contains(r, "NFQUEUE") {
				t.Errorf("rule left on %s: %s", n.Name, r)
			}
		}
	}
	if _, err := HealNodes(ctx, c, HealOptions{Sweep: true}); err != nil {
		t.Fatal(err)
	}
	assertHealed(t, env)

	env = newEnv(t, c, tg)
	injectMix(t, ctx, env, nil)
	killAgents(t, c)
	for _, n := range c.Nodes() {
		os.RemoveAll(filepath.Join(c.NodeDir(n.Name), "agent"))
	}
	rep, err = HealNodes(ctx, c, HealOptions{Sweep: true, ContStopped: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("by a sweep, without ledgers:\n%s", rep)
	assertHealed(t, env)
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// HealJournal of a journal whose cluster has gone (its namespaces removed)
// has nothing to undo and says so.
func TestHealJournalClusterGone(t *testing.T) {
	requireHost(t)
	ctx := context.Background()
	c, err := local.New(ctx, local.Options{Nodes: local.NodeNames(2), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	path := journalPath(t)
	ref := c.Ref()
	j, err := OpenJournal(path, &ref, agent.NewSession())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Inject("partition", &partitionAction{Nodes: []string{"n1"}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := HealJournal(ctx, path)
	if err != nil || !strings.Contains(strings.Join(rep.Skipped, " "), "has gone") {
		t.Errorf("HealJournal of a gone cluster: %v, %v", rep, err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

package nemesis

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
	clockskew "github.com/faultline-dev/faultline/nemesis/clock"
)

// injectMix injects a partition, a pause of n2, a clock bump on every
// node and packet loss and delay on n3, through failers on journal j (nil:
// none), and checks that they are in effect. It returns the packet action,
// whose delayer lives in this process.
func injectMix(t *testing.T, ctx context.Context, env *Env, j *Journal) *packetAction {
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
		{newPacket(env), PacketArgs{Nodes: SelectNamed("n3"), Loss: 0.1, Delay: 5 * time.Millisecond}},
	}
	var pa *packetAction
	for _, s := range steps {
		act, err := NewFailer(s.f, j).Inject(ctx, s.args, rng)
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := act.(*packetAction); ok {
			pa = p
		}
	}
	// In effect: faultline rules everywhere, n2 stopped, clocks 2 min ahead.
	for _, n := range c.Nodes() {
		if len(faultlineRules(t, c, n.Name)) == 0 {
			t.Errorf("no faultline rules on %s", n.Name)
		}
		for _, pid := range nodePids(t, c, n.Name) {
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
	return pa
}

// assertHealed checks that no faultline rule, stopped process or skewed
// clock is left in the cluster.
func assertHealed(t *testing.T, c *local.Cluster) {
	t.Helper()
	assertNoFaultlineRules(t, c)
	for _, n := range c.Nodes() {
		for _, pid := range nodePids(t, c, n.Name) {
			if s, _ := control.ProcState(pid); s == 'T' {
				t.Errorf("pid %d on %s is still stopped", pid, n.Name)
			}
			if st, err := clockskew.Inspect(pid); err != nil || st.Skewed {
				t.Errorf("pid %d on %s: skewed %v, %v", pid, n.Name, st.Skewed, err)
			}
		}
	}
}

func TestHealJournalAfterControllerDeath(t *testing.T) {
	c := newCluster(t, 3)
	tg := newEtcd(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := &Env{Cluster: c, DB: tg, Logf: t.Logf}
	path := journalPath(t)
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	pa := injectMix(t, ctx, env, j)
	// The controller dies: its journal stays as it was, its failers and
	// their state are gone, and nothing is recovered. (Its NFQUEUE delayer
	// would die with it; here it lives on in the test process, and its
	// --queue-bypass rule is what HealJournal must remove.)
	j.Close()
	defer func() {
		for _, d := range pa.delayers {
			d.stop()
		}
	}()
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
	took := time.Since(start)
	t.Logf("HealJournal in %v:\n%s", took.Round(time.Millisecond), rep)
	assertHealed(t, c)
	// 3 partition chains, 1 packet chain, and the empty chains the packet
	// fault's Setup made on n1 and n2.
	if len(rep.Chains) != 6 || len(rep.Resumed) != 1 || len(rep.Reset) != 3 {
		t.Errorf("report: %d chains, %d resumed, %d reset; want 6, 1, 3", len(rep.Chains), len(rep.Resumed), len(rep.Reset))
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

func TestHealLeftoversSweepsWithoutJournal(t *testing.T) {
	c := newCluster(t, 3)
	tg := newEtcd(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := &Env{Cluster: c, DB: tg, Logf: t.Logf}
	pa := injectMix(t, ctx, env, nil)
	defer func() {
		for _, d := range pa.delayers {
			d.stop()
		}
	}()

	// A journal whose owner is alive (pid 1 here) is left alone.
	store := t.TempDir()
	live := filepath.Join(store, "test", "20250101T000000", JournalFile)
	os.MkdirAll(filepath.Dir(live), 0o755)
	st, err := readProcStat(1)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(live, []byte(`{"event":"inject","id":1,"fault":"pause","residue":{"stopped":[{"pid":1,"start":`+itoa(int(st.start))+`}]},"owner":{"pid":1,"start":`+itoa(int(st.start))+`}}`+"\n"), 0o644)

	start := time.Now()
	rep, err := HealLeftovers(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HealLeftovers in %v:\n%s", time.Since(start).Round(time.Millisecond), rep)
	assertHealed(t, c)
	if len(rep.Chains) < 4 || len(rep.Resumed) != 1 || len(rep.Reset) != 3 {
		t.Errorf("report: %d chains, %d resumed, %d reset", len(rep.Chains), len(rep.Resumed), len(rep.Reset))
	}
	if !strings.Contains(strings.Join(rep.Skipped, "\n"), live) {
		t.Errorf("the live controller's journal was not left alone: %v", rep.Skipped)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

package nemesis

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
)

func TestKillAndPauseOnEtcd(t *testing.T) {
	c := newCluster(t, 3)
	tg := newEtcd(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := newEnv(t, c, tg)
	rng := rand.New(rand.NewPCG(3, 3))
	member := func(node string) int {
		t.Helper()
		pids, _ := tg.Processes(ctx, node)
		if len(pids) != 1 {
			t.Fatalf("%s runs %v, want one etcd member", node, pids)
		}
		return pids[0]
	}

	t.Run("pause", func(t *testing.T) {
		fl := NewFailer(newPause(env), nil)
		defer fl.Cleanup(context.Background())
		pid := member("n2")
		if s, _ := control.ProcState(pid); s == 'T' {
			t.Fatalf("member of n2 (pid %d) stopped before the fault", pid)
		}
		act, err := fl.Inject(ctx, PauseArgs{Nodes: SelectNamed("n2")}, rng)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := control.ProcState(pid); s != 'T' {
			t.Errorf("after pause, member of n2 (pid %d) is in state %c, want T", pid, s)
		}
		if res := act.Residue(); len(res.Nodes) != 1 || res.Nodes[0] != "n2" {
			t.Errorf("residue %+v, want n2", res)
		}
		// Still paused a little later: nothing resumed it behind our back.
		time.Sleep(300 * time.Millisecond)
		if s, _ := control.ProcState(pid); s != 'T' {
			t.Errorf("300 ms after pause, state %c", s)
		}
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if s, _ := control.ProcState(pid); s == 'T' || s == 0 {
			t.Errorf("after resume, member of n2 (pid %d) is in state %c", pid, s)
		}
		start := time.Now()
		if err := tg.WaitHealthy(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("pause n2: pid %d stopped (T) and resumed; healthy %v after", pid, time.Since(start).Round(time.Millisecond))
	})

	t.Run("kill-primaries", func(t *testing.T) {
		fl := NewFailer(newKill(env), nil)
		defer fl.Cleanup(context.Background())
		leader, err := tg.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pid := member(leader)
		act, err := fl.Inject(ctx, KillArgs{Nodes: Select(SelectPrimaries)}, rng)
		if err != nil {
			t.Fatal(err)
		}
		killed := act.(*nodesAction).Nodes
		if !slices.Equal(killed, []string{leader}) {
			t.Errorf("killed %v, want the leader %s", killed, leader)
		}
		if s, _ := control.ProcState(pid); s != 0 && s != 'Z' {
			t.Errorf("after kill, the leader's member (pid %d) is in state %c", pid, s)
		}
		if pids, _ := tg.Processes(ctx, leader); len(pids) != 0 {
			t.Errorf("after kill, %s still runs %v", leader, pids)
		}
		start := time.Now()
		if err := fl.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		restarted := member(leader)
		if restarted == pid {
			t.Errorf("member of %s has its old pid %d after restart", leader, pid)
		}
		if err := tg.WaitHealthy(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill primaries: killed leader %s (pid %d); restarted as pid %d, healthy %v after", leader, pid, restarted, time.Since(start).Round(time.Millisecond))
	})
}

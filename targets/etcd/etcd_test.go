package etcd

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent/agenttest"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/control/local/localtest"
)

// newTarget makes a 5-node local cluster and the etcd target on it; the
// test's cleanup tears both down and checks that nothing is left.
func newTarget(t testing.TB, nodes int) (*local.Cluster, *Target) {
	t.Helper()
	controltest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	c, err := local.New(ctx, local.Options{Nodes: local.NodeNames(nodes), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-node cluster %s (%s) in %v", nodes, c.RunID(), c.Subnet(), time.Since(start).Round(time.Millisecond))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tg, err := New(c, Options{Dir: dir, Command: []string{exe, MemberCommand}, Env: []string{memberEnv + "=1"}, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range c.Nodes() {
			if p := tg.running(ctx, n.Name); p != nil {
				pids = append(pids, p.Pid())
			}
		}
		if err := tg.Teardown(ctx); err != nil {
			t.Errorf("target Teardown: %v", err)
		}
		if err := c.Teardown(ctx); err != nil {
			t.Errorf("cluster Teardown: %v", err)
		}
		localtest.AssertNoLeftovers(t, c.RunID(), pids)
		if t.Failed() {
			for _, n := range c.Nodes() {
				b, _ := os.ReadFile(tg.LogFiles(n.Name)[0])
				t.Logf("log of %s (last 3000 bytes):\n%s", n.Name, tailString(string(b), 3000))
			}
		}
	})
	return c, tg
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// retry runs op until it succeeds or d passes, for the moments when the
// cluster is electing a leader.
func retry(t *testing.T, d time.Duration, what string, op func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := op()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFiveMembersUnderKillPauseAndRestart(t *testing.T) {
	c, tg := newTarget(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := time.Now()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("5 members healthy %v after Setup", time.Since(start).Round(time.Millisecond))

	clients := map[string]*Client{}
	for _, n := range c.Nodes() {
		cl, err := tg.Client(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[n.Name] = cl
	}

	// Register operations through different members.
	if v, err := clients["n2"].Read(ctx, "r1"); err != nil || v != nil {
		t.Fatalf("Read of a missing key = %v, %v; want nil, nil", v, err)
	}
	if err := clients["n1"].Write(ctx, "r1", 1); err != nil {
		t.Fatal(err)
	}
	if v, err := clients["n3"].Read(ctx, "r1"); err != nil || v == nil || *v != 1 {
		t.Fatalf("Read on n3 after a write on n1 = %v, %v; want 1", v, err)
	}
	if ok, err := clients["n4"].CAS(ctx, "r1", 1, 2); err != nil || !ok {
		t.Fatalf("CAS 1→2 on n4 = %v, %v; want true", ok, err)
	}
	if ok, err := clients["n5"].CAS(ctx, "r1", 1, 3); err != nil || ok {
		t.Fatalf("CAS 1→3 on n5 after 1→2 = %v, %v; want false", ok, err)
	}
	if ok, err := clients["n5"].CAS(ctx, "missing", 0, 1); err != nil || ok {
		t.Fatalf("CAS on a missing key = %v, %v; want false", ok, err)
	}
	dead, cancelDead := context.WithCancel(ctx)
	cancelDead()
	if err := clients["n1"].Write(dead, "r1", 9); !Definite(err) || !errors.Is(err, ErrNotSent) {
		t.Errorf("Write with an ended context: %v, want a definite ErrNotSent", err)
	}

	// Sequential write throughput through one member.
	const writes = 200
	start = time.Now()
	for i := range writes {
		if err := clients["n2"].Write(ctx, "tput", int64(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	el := time.Since(start)
	t.Logf("%d sequential writes in %v: %.0f writes/s", writes, el.Round(time.Millisecond), writes/el.Seconds())

	leader, err := tg.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if prim, err := tg.Primaries(ctx); err != nil || !slices.Contains(prim, leader) {
		t.Fatalf("Primaries = %v, %v; want them to include the leader %s", prim, err, leader)
	}
	t.Logf("leader: %s", leader)

	// Kill the leader: its client fails definitely (nothing listens), the
	// others elect a new leader, and the old one restarts on its data.
	if err := tg.Kill(ctx, leader); err != nil {
		t.Fatal(err)
	}
	// The first request may still go out on the old connection and be lost
	// with it (indeterminate); once the client has seen the connection go,
	// requests fail definitely: nothing listens.
	var definite error
	for deadline := time.Now().Add(5 * time.Second); definite == nil && time.Now().Before(deadline); {
		err := clients[leader].Write(ctx, "r1", 10)
		if err == nil {
			t.Fatalf("Write to killed %s succeeded", leader)
		}
		if Definite(err) {
			definite = err
		} else {
			t.Logf("write to killed %s, indeterminate: %v", leader, err)
			time.Sleep(50 * time.Millisecond)
		}
	}
	if definite == nil {
		t.Errorf("writes to killed %s never failed definitely", leader)
	}
	t.Logf("write to killed %s, definite: %v", leader, definite)
	other := "n1"
	if leader == "n1" {
		other = "n2"
	}
	start = time.Now()
	retry(t, 20*time.Second, "write after the leader was killed", func() error { return clients[other].Write(ctx, "r1", 11) })
	t.Logf("writes resumed %v after killing the leader", time.Since(start).Round(time.Millisecond))
	if newLeader, err := tg.Leader(ctx); err != nil || newLeader == leader {
		t.Errorf("Leader after killing %s = %s, %v; want another node", leader, newLeader, err)
	}
	if err := tg.Start(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := clients[leader].Read(ctx, "r1"); err != nil || v == nil || *v != 11 {
		t.Fatalf("Read on restarted %s = %v, %v; want 11", leader, v, err)
	}

	// Pause a member: requests to it time out (indeterminate); the rest of
	// the cluster carries on; after Resume it serves again.
	paused := "n3"
	pauser := agenttest.NewPauser(t, c)
	if err := pauser.Pause(ctx, tg, paused); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	err = clients[paused].Write(short, "r1", 12)
	cancelShort()
	if err == nil || Definite(err) {
		t.Errorf("Write to a paused member: %v, want an indeterminate error", err)
	}
	retry(t, 20*time.Second, "write while n3 is paused", func() error { return clients["n4"].Write(ctx, "r1", 13) })
	if err := pauser.Resume(ctx, paused); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	// The write of 12 that timed out was indeterminate, and it is: the
	// paused member may find it in its socket after SIGCONT and apply it
	// after 13.
	if v, err := clients[paused].Read(ctx, "r1"); err != nil || v == nil || (*v != 13 && *v != 12) {
		t.Fatalf("Read on resumed %s = %v, %v; want 13 (or 12, the indeterminate write)", paused, deref(v), err)
	} else {
		t.Logf("r1 after resuming %s: %d", paused, *v)
	}

	// Stop (SIGTERM) exits cleanly; Wipe refuses a running member; Restart
	// brings a stopped one back.
	if err := tg.Wipe(ctx, "n5"); err == nil {
		t.Error("Wipe of a running member: no error")
	}
	start = time.Now()
	if err := tg.Stop(ctx, "n5"); err != nil {
		t.Fatal(err)
	}
	t.Logf("graceful stop of n5 took %v", time.Since(start).Round(time.Millisecond))
	if err := tg.Restart(ctx, "n5"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if logs := tg.LogFiles("n5"); len(logs) != 1 {
		t.Errorf("LogFiles(n5) = %v", logs)
	} else if b, err := os.ReadFile(logs[0]); err != nil || !strings.Contains(string(b), "signalled, stopping") {
		t.Errorf("n5's log does not show the graceful stop: %v", err)
	}
	// Wipe removes a killed member's data. (Starting it again makes etcd
	// panic, as it should: raft refuses a member whose log went back.)
	if err := tg.Kill(ctx, "n5"); err != nil {
		t.Fatal(err)
	}
	if err := tg.Wipe(ctx, "n5"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tg.dataDir("n5")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("n5's data dir after Wipe: %v, want it gone", err)
	}
}

func TestSerializableReads(t *testing.T) {
	c, tg := newTarget(t, 3)
	tg.opts.ReadConsistency = Serializable
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := tg.Client("n2")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if !cl.serializable {
		t.Fatal("client of a serializable target does not read serializably")
	}
	if err := cl.Write(ctx, "s", 5); err != nil {
		t.Fatal(err)
	}
	// A serializable read is served locally: it still answers while the
	// member has lost its quorum (both others paused).
	pauser := agenttest.NewPauser(t, c)
	for _, n := range []string{"n1", "n3"} {
		if err := pauser.Pause(ctx, tg, n); err != nil {
			t.Fatal(err)
		}
	}
	v, err := cl.Read(ctx, "s")
	if err != nil || v == nil || *v != 5 {
		t.Errorf("serializable Read without a quorum = %v, %v; want 5", v, err)
	}
	for _, n := range []string{"n1", "n3"} {
		if err := pauser.Resume(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

func deref(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

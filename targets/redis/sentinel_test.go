package redis

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestSentinel runs a primary, two replicas and three sentinels (quorum
// 2), with wait=1: writes are acknowledged once a replica has them, and
// reported unknown when none can; the primary is killed, a replica is
// promoted within seconds, and the clients follow it; the old primary
// comes back as a replica.
func TestSentinel(t *testing.T) {
	tg := newTarget(t, 3, Options{Sentinel: true, Wait: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Setup to healthy (primary, replicas linked, sentinels agreed): %v", time.Since(start).Round(time.Millisecond))
	if p, err := tg.Primaries(ctx); err != nil || !reflect.DeepEqual(p, []string{"n1"}) {
		t.Fatalf("Primaries = %v, %v; want [n1]", p, err)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if ps, err := tg.Processes(ctx, n); err != nil || len(ps) != 2 {
			t.Errorf("Processes(%s) = %v, %v; want the server and the sentinel", n, ps, err)
		}
		if logs := tg.LogFiles(n); len(logs) != 2 {
			t.Errorf("LogFiles(%s) = %v, want the server's and the sentinel's", n, logs)
		}
	}

	// Clients homed on any node reach the primary through the sentinels.
	c2 := newClient(t, tg, "n2")
	c3 := newClient(t, tg, "n3")
	for i, c := range []*Client{c2, c3} {
		if err := c.SetAdd(ctx, "s", int64(i+1)); err != nil {
			t.Fatalf("add from %s: %v", c.Node(), err)
		}
	}
	if got, err := c2.SetRead(ctx, "s"); err != nil || !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Fatalf("set = %v, %v; want [1 2]", got, err)
	}

	// No replica to acknowledge: the add is done on the primary, but WAIT
	// 1 says 0 after its timeout: unknown, not ok.
	for _, n := range []string{"n2", "n3"} {
		if err := tg.Kill(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	err := c2.SetAdd(ctx, "s", 3)
	if !errors.Is(err, ErrNotReplicated) || Definite(err) {
		t.Errorf("add with no replica up: %v, want an indeterminate ErrNotReplicated", err)
	} else {
		t.Logf("add with no replica up: %v", err)
	}
	for _, n := range []string{"n2", "n3"} {
		if err := tg.Start(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	// Kill the primary: a replica is promoted, and the clients follow it.
	// Until then, requests fail (nothing listens; the sentinels still name
	// n1) or are unknown; none succeeds on the dead primary.
	if err := tg.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var failures, unknown int
	for v := int64(10); ; v++ {
		err := c2.SetAdd(ctx, "s", v)
		if err == nil {
			break
		}
		if Definite(err) {
			failures++
		} else {
			unknown++
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("no add succeeded 20 s after the primary was killed; last: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("the client's first add after the kill succeeded %v later (%d definite failures, %d unknown before)", took.Round(time.Millisecond), failures, unknown)
	// Typically 3–5 s: down-after, the sentinels agreeing, an election, the
	// promotion. An election that splits the votes is tried again after
	// twice the failover-timeout, which makes 15 s the worst case.
	if limit := tg.opts.DownAfter + 2*tg.opts.FailoverTimeout + 5*time.Second; took > limit {
		t.Errorf("failover took %v, want it within %v (down-after %v, failover-timeout %v)", took, limit, tg.opts.DownAfter, tg.opts.FailoverTimeout)
	}
	p, err := tg.Primaries(ctx)
	if err != nil || len(p) != 1 || p[0] == "n1" {
		t.Fatalf("Primaries after the failover = %v, %v; want one of n2, n3", p, err)
	}
	t.Logf("%s was promoted", p[0])
	// Acknowledged adds before the kill were on a replica (WAIT 1); the
	// quiet replicas had them all, so the promoted one has them.
	if got, err := c3.SetRead(ctx, "s"); err != nil || !slices.Contains(got, 1) || !slices.Contains(got, 2) {
		t.Errorf("set after the failover = %v, %v; want 1 and 2 in it", got, err)
	}

	// The old primary comes back as a replica of the new one.
	if err := tg.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("the old primary rejoined as a replica in %v", time.Since(start).Round(time.Millisecond))
	if p2, err := tg.Primaries(ctx); err != nil || !reflect.DeepEqual(p2, p) {
		t.Errorf("Primaries after n1 rejoined = %v, %v; want %v", p2, err, p)
	}
	fresh := newClient(t, tg, "n1")
	if err := fresh.SetAdd(ctx, "s", 100); err != nil {
		t.Errorf("add from a new client homed on the old primary: %v", err)
	}
}

// TestReplicasWithoutSentinel: sentinel=off on three nodes, the first is
// the primary for good and the others replicate it; no sentinel runs.
func TestReplicasWithoutSentinel(t *testing.T) {
	tg := newTarget(t, 3, Options{Sentinel: false})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if ps, err := tg.Processes(ctx, "n2"); err != nil || len(ps) != 1 {
		t.Errorf("Processes(n2) = %v, %v; want the server alone", ps, err)
	}
	if p, err := tg.Primaries(ctx); err != nil || !reflect.DeepEqual(p, []string{"n1"}) {
		t.Errorf("Primaries = %v, %v; want [n1]", p, err)
	}
	c := newClient(t, tg, "n3")
	if err := c.CounterAdd(ctx, "c", 2); err != nil {
		t.Fatal(err)
	}
	if v, err := c.CounterRead(ctx, "c"); err != nil || v != 2 {
		t.Errorf("counter = %d, %v; want 2", v, err)
	}
	// Nothing fails the primary over: with it killed, requests fail.
	if err := tg.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.CounterAdd(ctx, "c", 1); !Definite(err) {
		t.Errorf("add with the primary killed: %v, want a definite failure", err)
	}
}

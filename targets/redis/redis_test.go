package redis

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/faultline-dev/faultline/agent/agenttest"
)

// TestOps round-trips every workload's operations through the shared
// server, with clients homed on the one node.
func TestOps(t *testing.T) {
	tg := singleServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newClient(t, tg, "n1")
	if _, err := tg.Client("n9"); err == nil {
		t.Error("Client of an unknown node: no error")
	}

	t.Run("set", func(t *testing.T) {
		if got, err := c.SetRead(ctx, "ops"); err != nil || len(got) != 0 {
			t.Fatalf("read of a missing set = %v, %v; want none", got, err)
		}
		for _, e := range []int64{3, 1, 2, 1} {
			if err := c.SetAdd(ctx, "ops", e); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := c.SetRead(ctx, "ops"); err != nil || !reflect.DeepEqual(got, []int64{1, 2, 3}) {
			t.Errorf("set = %v, %v; want [1 2 3]", got, err)
		}
	})
	t.Run("counter", func(t *testing.T) {
		if got, err := c.CounterRead(ctx, "ops"); err != nil || got != 0 {
			t.Fatalf("read of a missing counter = %d, %v; want 0", got, err)
		}
		for _, d := range []int64{5, 0, 7} {
			if err := c.CounterAdd(ctx, "ops", d); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := c.CounterRead(ctx, "ops"); err != nil || got != 12 {
			t.Errorf("counter = %d, %v; want 12", got, err)
		}
	})
	t.Run("queue", func(t *testing.T) {
		if _, ok, err := c.Dequeue(ctx, "ops"); err != nil || ok {
			t.Fatalf("dequeue of an empty queue: ok %v, %v", ok, err)
		}
		for v := range int64(5) {
			if err := c.Enqueue(ctx, "ops", v+10); err != nil {
				t.Fatal(err)
			}
		}
		v, ok, err := c.Dequeue(ctx, "ops")
		if err != nil || !ok || v != 10 {
			t.Fatalf("dequeue = %d, %v, %v; want the head, 10", v, ok, err)
		}
		if got, err := c.Drain(ctx, "ops"); err != nil || !reflect.DeepEqual(got, []int64{11, 12, 13, 14}) {
			t.Errorf("drain = %v, %v; want [11 12 13 14]", got, err)
		}
		if got, err := c.Drain(ctx, "ops"); err != nil || len(got) != 0 {
			t.Errorf("drain of a drained queue = %v, %v; want none", got, err)
		}
	})
	t.Run("lock", func(t *testing.T) {
		other := newClient(t, tg, "n1")
		if tok, err := c.Acquire(ctx, "ops", "w1"); err != nil || tok != 0 {
			t.Fatalf("acquire of a free lock = %d, %v; want token 0 (no fencing in Redis)", tok, err)
		}
		// Held: another owner waits until its context ends, definitely
		// without the lock.
		short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
		start := time.Now()
		_, err := other.Acquire(short, "ops", "w2")
		cancelShort()
		if !errors.Is(err, ErrNotAcquired) || !Definite(err) {
			t.Errorf("acquire of a held lock: %v, want a definite ErrNotAcquired", err)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Errorf("acquire of a held lock gave up after %v, before its context ended", took)
		}
		// A release by someone else changes nothing.
		if err := other.Release(ctx, "ops", "w2"); !errors.Is(err, ErrNotHeld) || !Definite(err) {
			t.Errorf("release by a non-owner: %v, want a definite ErrNotHeld", err)
		}
		// The waiter gets it once it is released.
		got := make(chan error, 1)
		go func() { _, err := other.Acquire(ctx, "ops", "w2"); got <- err }()
		time.Sleep(50 * time.Millisecond)
		if err := c.Release(ctx, "ops", "w1"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Errorf("acquire after the release: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("the waiter did not get the lock within 2 s of its release")
		}
		if err := c.Release(ctx, "ops", "w1"); !errors.Is(err, ErrNotHeld) {
			t.Errorf("second release by w1: %v, want ErrNotHeld", err)
		}
		// The lock expires (PX): after its TTL anyone gets it.
		raw := goredis.NewClient(&goredis.Options{Addr: tg.addr(tg.nodes[0])})
		defer raw.Close()
		if ttl, err := raw.PTTL(ctx, lockKey("ops")).Result(); err != nil || ttl <= 0 || ttl > tg.opts.LockTTL {
			t.Errorf("the lock's TTL = %v, %v; want at most %v", ttl, err, tg.opts.LockTTL)
		}
		if err := other.Release(ctx, "ops", "w2"); err != nil {
			t.Error(err)
		}
		// Closing a client frees the locks it holds (the lock workload
		// retires a process by closing its client).
		gone, err := tg.Client("n1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gone.Acquire(ctx, "ops", "w3"); err != nil {
			t.Fatal(err)
		}
		gone.Close()
		short, cancelShort = context.WithTimeout(ctx, time.Second)
		_, err = c.Acquire(short, "ops", "w4")
		cancelShort()
		if err != nil {
			t.Errorf("acquire after the holder's client closed: %v", err)
		} else if err := c.Release(ctx, "ops", "w4"); err != nil {
			t.Error(err)
		}
	})
	t.Run("register", func(t *testing.T) {
		if v, err := c.Read(ctx, "ops"); err != nil || v != nil {
			t.Fatalf("read of a missing register = %v, %v; want nil", v, err)
		}
		if ok, err := c.CAS(ctx, "ops", 0, 1); err != nil || ok {
			t.Errorf("cas of a missing register = %v, %v; want false", ok, err)
		}
		if err := c.Write(ctx, "ops", 1); err != nil {
			t.Fatal(err)
		}
		if ok, err := c.CAS(ctx, "ops", 2, 3); err != nil || ok {
			t.Errorf("cas 2→3 of 1 = %v, %v; want false", ok, err)
		}
		if ok, err := c.CAS(ctx, "ops", 1, 4); err != nil || !ok {
			t.Errorf("cas 1→4 of 1 = %v, %v; want true", ok, err)
		}
		if v, err := c.Read(ctx, "ops"); err != nil || v == nil || *v != 4 {
			t.Errorf("read = %v, %v; want 4", v, err)
		}
	})
	t.Run("ended context", func(t *testing.T) {
		dead, cancelDead := context.WithCancel(ctx)
		cancelDead()
		if err := c.SetAdd(dead, "ops", 9); !errors.Is(err, ErrNotSent) || !Definite(err) {
			t.Errorf("add with an ended context: %v, want a definite ErrNotSent", err)
		}
	})
}

// TestPersistence: the persistence option reaches the server, and decides
// what a crash (SIGKILL) keeps. With Redis's default snapshots an
// acknowledged add is lost (no snapshot was due yet); with an append-only
// file it is there after the restart, fsync'd every second or not (a
// process crash keeps what was written to the file, fsync'd or not: only a
// crash of the machine tells the two apart). A clean stop saves a
// snapshot.
func TestPersistence(t *testing.T) {
	requireRedis(t)
	for _, c := range []struct {
		persistence string
		kept        bool
	}{{RDB, false}, {AOFEverysec, true}, {AOFAlways, true}} {
		t.Run(c.persistence, func(t *testing.T) {
			tg := newTarget(t, 1, Options{Persistence: c.persistence})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := tg.Setup(ctx); err != nil {
				t.Fatal(err)
			}
			if err := tg.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			raw := goredis.NewClient(&goredis.Options{Addr: tg.addr(tg.nodes[0])})
			defer raw.Close()
			want := map[string]string{"save": defaultSave, "appendonly": "no"}
			switch c.persistence {
			case AOFEverysec:
				want["appendonly"], want["appendfsync"] = "yes", "everysec"
			case AOFAlways:
				want["appendonly"], want["appendfsync"] = "yes", "always"
			}
			for k, v := range want {
				if got, err := raw.ConfigGet(ctx, k).Result(); err != nil || got[k] != v {
					t.Errorf("CONFIG GET %s = %v, %v; want %q", k, got, err, v)
				}
			}

			cl := newClient(t, tg, "n1")
			if err := cl.SetAdd(ctx, "p", 1); err != nil {
				t.Fatal(err)
			}
			if err := tg.Kill(ctx, "n1"); err != nil {
				t.Fatal(err)
			}
			if ps, err := tg.Processes(ctx, "n1"); err != nil || len(ps) != 0 {
				t.Fatalf("processes after Kill: %v, %v", ps, err)
			}
			if err := tg.Start(ctx, "n1"); err != nil {
				t.Fatal(err)
			}
			if err := tg.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := cl.SetRead(ctx, "p")
			if err != nil {
				t.Fatal(err)
			}
			if kept := len(got) == 1; kept != c.kept {
				t.Errorf("persistence %s: after a kill and a restart the set is %v; kept %v, want %v", c.persistence, got, kept, c.kept)
			}

			if err := cl.SetAdd(ctx, "p", 2); err != nil {
				t.Fatal(err)
			}
			if err := tg.Restart(ctx, "n1"); err != nil {
				t.Fatal(err)
			}
			if err := tg.WaitHealthy(ctx); err != nil {
				t.Fatal(err)
			}
			if got, err := cl.SetRead(ctx, "p"); err != nil || !contains(got, 2) {
				t.Errorf("after a clean restart the set is %v, %v; want 2 in it", got, err)
			}
		})
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestLifecycle drives a one-node server through what a nemesis does to
// it, and checks how the client classifies what it meets: a killed server
// (nothing sent: fail), a paused one (sent, unanswered: unknown, and
// indeed applied once it resumes), a stop, a restart, and a wipe that
// brings it back empty.
func TestLifecycle(t *testing.T) {
	tg := newTarget(t, 1, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Setup to healthy: %v", time.Since(start).Round(time.Millisecond))
	if err := tg.Setup(ctx); err == nil {
		t.Error("Setup of a running target: no error")
	}
	if p, err := tg.Primaries(ctx); err != nil || !reflect.DeepEqual(p, []string{"n1"}) {
		t.Errorf("Primaries = %v, %v; want [n1]", p, err)
	}
	if logs := tg.LogFiles("n1"); len(logs) != 1 || !strings.HasSuffix(logs[0], "/n1/redis.log") {
		t.Errorf("LogFiles = %v, want the server's log", logs)
	}
	u, err := tg.user(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the server runs as %q", u)
	c := newClient(t, tg, "n1")
	if err := c.SetAdd(ctx, "l", 1); err != nil {
		t.Fatal(err)
	}

	// Killed: the pooled connection is found closed before anything is
	// written on it, and nothing listens: not sent, definite.
	if err := tg.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.Kill(ctx, "n1"); err != nil {
		t.Errorf("Kill of a killed node: %v", err)
	}
	if err := c.SetAdd(ctx, "l", 2); !errors.Is(err, ErrNotSent) || !Definite(err) {
		t.Errorf("add to a killed server: %v, want a definite ErrNotSent", err)
	} else {
		t.Logf("add to a killed server: %v", err)
	}
	// Requests keep failing at once, but they are paced: 10, 20, 40, 80,
	// 160, 200 ms apart, not a tight loop.
	start = time.Now()
	for range 6 {
		if err := c.SetAdd(ctx, "l", 2); !errors.Is(err, ErrNotSent) {
			t.Errorf("add to a killed server: %v, want ErrNotSent", err)
		}
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("6 adds to a killed server took %v: not paced", took)
	}
	if err := tg.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.Start(ctx, "n1"); err == nil {
		t.Error("Start of a running node: no error")
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	// Default persistence: the kill lost the add.
	if got, err := c.SetRead(ctx, "l"); err != nil || len(got) != 0 {
		t.Errorf("set after a kill = %v, %v; want it empty (no snapshot was due)", got, err)
	}

	// Paused: the add is written and never answered: not definite. It was
	// in the server's socket, so it is applied when the server resumes.
	pauser := agenttest.NewPauser(t, tg.cluster)
	if err := c.SetAdd(ctx, "l", 3); err != nil {
		t.Fatal(err)
	}
	if err := pauser.Pause(ctx, tg, "n1"); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err = c.SetAdd(short, "l", 4)
	cancelShort()
	if err == nil || Definite(err) {
		t.Errorf("add to a paused server: %v, want an indeterminate error", err)
	} else {
		t.Logf("add to a paused server: %v", err)
	}
	if err := pauser.Resume(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.SetRead(ctx, "l"); err != nil || !reflect.DeepEqual(got, []int64{3, 4}) {
		t.Errorf("set after the pause = %v, %v; want [3 4]: the unanswered add applied on resume", got, err)
	}

	// Pause, then Stop: SIGTERM and SIGCONT; a clean shutdown saves.
	if err := pauser.Pause(ctx, tg, "n1"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := tg.Stop(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop of a paused server: %v", time.Since(start).Round(time.Millisecond))
	if b, err := os.ReadFile(tg.serverLog("n1")); err != nil || !strings.Contains(string(b), "ready to exit, bye bye") {
		t.Errorf("the server's log does not show a clean shutdown: %v", err)
	}
	if err := tg.Stop(ctx, "n1"); err != nil {
		t.Errorf("Stop of a stopped node: %v", err)
	}
	if err := tg.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.Restart(ctx, "n1"); err != nil { // of a running node
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.SetRead(ctx, "l"); err != nil || !reflect.DeepEqual(got, []int64{3, 4}) {
		t.Errorf("set after clean restarts = %v, %v; want [3 4]", got, err)
	}

	// Another process's target (cluster up, then nemesis by hand) finds
	// the server by its pid file, and can kill it.
	adopter, err := New(tg.cluster, tg.opts)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := tg.Processes(ctx, "n1")
	if ps, err := adopter.Processes(ctx, "n1"); err != nil || !reflect.DeepEqual(ps, mine) || len(ps) != 1 {
		t.Errorf("Processes from another target = %v, %v; want %v", ps, err, mine)
	}

	// Wipe refuses a running node; after a kill it removes the data, and
	// Start brings the node back empty.
	if err := tg.Wipe(ctx, "n1"); err == nil {
		t.Error("Wipe of a running node: no error")
	}
	if err := adopter.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	// This target's handle learns of the exit once the process is reaped.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ps, err := tg.Processes(ctx, "n1")
		if err == nil && len(ps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Processes 5 s after another target's Kill = %v, %v; want none", ps, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tg.Wipe(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tg.dataDir("n1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir after Wipe: %v, want it gone", err)
	}
	if err := tg.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.SetRead(ctx, "l"); err != nil || len(got) != 0 {
		t.Errorf("set after Wipe = %v, %v; want it empty", got, err)
	}
	for name, f := range map[string]func(context.Context, string) error{"Start": tg.Start, "Stop": tg.Stop, "Kill": tg.Kill, "Wipe": tg.Wipe} {
		if err := f(ctx, "n9"); err == nil {
			t.Errorf("%s of an unknown node: no error", name)
		}
	}
}

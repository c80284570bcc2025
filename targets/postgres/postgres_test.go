package postgres

import (
	"context"
	"errors"
	"github.com/faultline-dev/faultline/agent/agenttest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/workloads/txnwl"
)

func appendTxn(k, v int64) []txnwl.Mop {
	return []txnwl.Mop{{F: txnwl.FAppend, Key: k, Value: v}, {F: txnwl.FRead, Key: k}}
}

func readList(t *testing.T, ctx context.Context, c *Client, k int64) []int64 {
	t.Helper()
	var res []txnwl.Mop
	var err error
	// The first transaction after a restart may meet the old connection.
	for range 3 {
		if res, err = c.Txn(ctx, txnwl.ListAppend, []txnwl.Mop{{F: txnwl.FRead, Key: k}}); err == nil {
			return res[0].List
		}
	}
	t.Fatalf("reading list %d: %v", k, err)
	return nil
}

// TestLifecycle drives a real server through everything a nemesis does to
// it: transactions from clients homed on both nodes, a crash and restart on
// its data, a pause (every server process stopped) and resume, a fast
// shutdown, a restart, and a wipe that brings it back empty.
func TestLifecycle(t *testing.T) {
	c, tg := newTarget(t, 2, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if tg.Server() != "n1" {
		t.Fatalf("server on %s, want n1 (the first node)", tg.Server())
	}

	start := time.Now()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Setup (initdb, start) to healthy: %v", time.Since(start).Round(time.Millisecond))

	c1, err := tg.Client("n1")
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := tg.Client("n2") // homed on a node that runs no server
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := tg.Client("n9"); err == nil {
		t.Error("Client of an unknown node: no error")
	}

	// Transactions: list-append and rw-register, reads filled.
	res, err := c1.Txn(ctx, txnwl.ListAppend, appendTxn(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res[1].List, []int64{1}) {
		t.Errorf("read after append 1 = %v, want [1]", res[1].List)
	}
	if res, err = c2.Txn(ctx, txnwl.ListAppend, appendTxn(1, 2)); err != nil || !reflect.DeepEqual(res[1].List, []int64{1, 2}) {
		t.Fatalf("append 2 from n2's client: %v, %v; want [1 2]", res, err)
	}
	if got := readList(t, ctx, c1, 99); got == nil || len(got) != 0 {
		t.Errorf("read of a key never appended to = %#v, want an empty list", got)
	}
	reg := []txnwl.Mop{{F: txnwl.FRead, Key: 1}, {F: txnwl.FWrite, Key: 1, Value: 5}, {F: txnwl.FRead, Key: 1}}
	if res, err = c2.Txn(ctx, txnwl.RWRegister, reg); err != nil {
		t.Fatal(err)
	}
	if res[0].Reg != nil || res[2].Reg == nil || *res[2].Reg != 5 {
		t.Errorf("register reads = %v, %v; want nil, 5", res[0].Reg, res[2].Reg)
	}
	// INSERT … ON CONFLICT writes (Options.OnConflict): a new key and an
	// existing one, for both workloads.
	c1.onConflict = true
	if res, err = c1.Txn(ctx, txnwl.ListAppend, appendTxn(2, 1)); err != nil || !reflect.DeepEqual(res[1].List, []int64{1}) {
		t.Errorf("on-conflict append to a new key: %v, %v; want [1]", res, err)
	}
	if res, err = c1.Txn(ctx, txnwl.ListAppend, appendTxn(2, 2)); err != nil || !reflect.DeepEqual(res[1].List, []int64{1, 2}) {
		t.Errorf("on-conflict append to an existing key: %v, %v; want [1 2]", res, err)
	}
	for _, k := range []int64{1, 3} { // key 1 holds 5; key 3 has no row
		w := []txnwl.Mop{{F: txnwl.FWrite, Key: k, Value: 6}, {F: txnwl.FRead, Key: k}}
		if res, err = c1.Txn(ctx, txnwl.RWRegister, w); err != nil || res[1].Reg == nil || *res[1].Reg != 6 {
			t.Errorf("on-conflict write of key %d: %v, %v; want 6 read back", k, res, err)
		}
	}
	c1.onConflict = false
	dead, cancelDead := context.WithCancel(ctx)
	cancelDead()
	if _, err := c1.Txn(dead, txnwl.ListAppend, appendTxn(1, 3)); !errors.Is(err, ErrNotSent) || !Definite(err) {
		t.Errorf("Txn with an ended context: %v, want a definite ErrNotSent", err)
	}

	// Crash: the open connection breaks before COMMIT (aborted: definite),
	// then nothing listens (not sent: definite). After a restart on its
	// data, committed appends are there.
	if err := tg.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Txn(ctx, txnwl.ListAppend, appendTxn(1, 3)); !Definite(err) {
		t.Errorf("Txn on a connection to a killed server: %v, want a definite error", err)
	} else {
		t.Logf("txn on a killed server's connection: %v", err)
	}
	if _, err := c1.Txn(ctx, txnwl.ListAppend, appendTxn(1, 3)); !errors.Is(err, ErrNotSent) {
		t.Errorf("Txn to a killed server: %v, want ErrNotSent (connection refused)", err)
	} else {
		t.Logf("txn to a killed server: %v", err)
	}
	// Attempts keep failing at once, but connection attempts are paced:
	// 10, 20, 40, 80, 160, 200 ms apart, not a tight loop.
	start = time.Now()
	for range 6 {
		if _, err := c1.Txn(ctx, txnwl.ListAppend, appendTxn(1, 3)); !errors.Is(err, ErrNotSent) {
			t.Errorf("Txn to a killed server: %v, want ErrNotSent", err)
		}
	}
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("6 transactions to a killed server took %v: reconnection is not paced", took)
	}
	start = time.Now()
	if err := tg.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("crash recovery: healthy %v after Start", time.Since(start).Round(time.Millisecond))
	if got := readList(t, ctx, c1, 1); !reflect.DeepEqual(got, []int64{1, 2}) {
		t.Errorf("list 1 after a crash and restart = %v, want [1 2]", got)
	}

	// Pause: every server process is stopped when Pause returns; a
	// transaction times out, definitely aborted (it never reached COMMIT);
	// a new connection cannot be made. After Resume all works again.
	pauser := agenttest.NewPauser(t, c)
	if err := pauser.Pause(ctx, tg, "n1"); err != nil {
		t.Fatal(err)
	}
	p := tg.running(ctx)
	kids, err := tg.children(ctx, p.Pid())
	if err != nil || len(kids) < 4 {
		t.Fatalf("children of the postmaster: %v, %v; want its backends and auxiliary processes", kids, err)
	}
	for _, pid := range append(pidsOf(kids), p.Pid()) {
		// A child that exited just as the pause hit is a zombie: not
		// running either.
		if st, err := control.ProcState(pid); err == nil && st != 'T' && st != 't' && st != 'Z' && st != 'X' {
			t.Errorf("pid %d is in state %c after Pause, want T", pid, st)
		}
	}
	t.Logf("paused the postmaster and %d children", len(kids))
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = c1.Txn(short, txnwl.ListAppend, appendTxn(1, 3))
	cancelShort()
	if !errors.Is(err, ErrAborted) || !Definite(err) {
		t.Errorf("Txn to a paused server on an open connection: %v, want a definite ErrAborted", err)
	}
	// A server paused between the last statement and COMMIT: the COMMIT
	// is sent and never answered, so the outcome is unknown: not definite.
	c1.beforeCommit = func() {
		if err := pauser.Pause(ctx, tg, "n1"); err != nil {
			t.Error(err)
		}
	}
	if err := pauser.Resume(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	short, cancelShort = context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = c1.Txn(short, txnwl.ListAppend, appendTxn(1, 6))
	cancelShort()
	c1.beforeCommit = nil
	if err == nil || Definite(err) {
		t.Errorf("Txn whose COMMIT met a paused server: %v, want an indeterminate error", err)
	} else {
		t.Logf("txn whose COMMIT met a paused server: %v", err)
	}
	fresh, err := tg.Client("n2")
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort = context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = fresh.Txn(short, txnwl.ListAppend, appendTxn(1, 4))
	cancelShort()
	fresh.Close()
	if !errors.Is(err, ErrNotSent) {
		t.Errorf("Txn to a paused server on a new connection: %v, want ErrNotSent (no connection)", err)
	}
	if err := pauser.Resume(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	// 5 may meet 6 still committing (a serialization failure): retry
	// what certainly did not commit.
	for try := 0; ; try++ {
		_, err := c1.Txn(ctx, txnwl.ListAppend, appendTxn(1, 5))
		if err == nil {
			break
		}
		if !Definite(err) || try == 3 {
			t.Fatalf("Txn after Resume: %v", err)
		}
	}
	// 6's COMMIT reached the paused server's socket: it commits on
	// Resume, before 5, which is why it had to be recorded as unknown.
	if got := readList(t, ctx, c2, 1); !reflect.DeepEqual(got, []int64{1, 2, 6, 5}) {
		t.Errorf("list 1 after the pause = %v, want [1 2 6 5] (3 and 4 aborted, 6 committed on Resume)", got)
	}

	// Pause, then Stop: a fast shutdown of a paused server (SIGCONT sent).
	if err := pauser.Pause(ctx, tg, "n1"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := tg.Stop(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("fast shutdown of a paused server: %v", time.Since(start).Round(time.Millisecond))
	if b, err := os.ReadFile(tg.LogFiles("n1")[0]); err != nil || !strings.Contains(string(b), "database system is shut down") {
		t.Errorf("the server's log does not show a clean shutdown: %v", err)
	}
	if err := tg.Stop(ctx, "n1"); err != nil {
		t.Errorf("Stop of a stopped server: %v", err)
	}
	if err := tg.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.Restart(ctx, "n1"); err != nil { // of a running server
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readList(t, ctx, c1, 1); !reflect.DeepEqual(got, []int64{1, 2, 6, 5}) {
		t.Errorf("list 1 after restarts = %v, want [1 2 6 5]", got)
	}

	// Nodes without a server: every fault is a no-op; no logs.
	for name, f := range map[string]func(context.Context, string) error{"Start": tg.Start, "Stop": tg.Stop, "Kill": tg.Kill, "Wipe": tg.Wipe} {
		if err := f(ctx, "n2"); err != nil {
			t.Errorf("%s(n2), a node without a server: %v", name, err)
		}
	}
	if logs := tg.LogFiles("n2"); len(logs) != 0 {
		t.Errorf("LogFiles(n2) = %v, want none", logs)
	}
	if err := tg.Kill(ctx, "n9"); err == nil {
		t.Error("Kill of an unknown node: no error")
	}

	// Wipe refuses a running server; after a kill it removes the data, and
	// Start brings the server back empty.
	if err := tg.Wipe(ctx, "n1"); err == nil {
		t.Error("Wipe of a running server: no error")
	}
	if err := tg.Kill(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.Wipe(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tg.dataDir("n1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir after Wipe: %v, want it gone", err)
	}
	start = time.Now()
	if err := tg.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("wiped server back (initdb, start) in %v", time.Since(start).Round(time.Millisecond))
	if got := readList(t, ctx, c1, 1); len(got) != 0 {
		t.Errorf("list 1 after Wipe = %v, want empty", got)
	}
	_ = c
}

// TestPassword: with a password, clients need it (scram-sha-256), a wrong
// one is refused before anything is sent, and the password is in no file
// the target leaves behind: not the logs, not pg_hba.conf, no password
// file.
func TestPassword(t *testing.T) {
	const secret = "fl-test-Secret-93b1"
	_, tg := newTarget(t, 1, Options{Password: secret})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := tg.Client("n1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Txn(ctx, txnwl.ListAppend, appendTxn(1, 1)); err != nil {
		t.Fatalf("Txn with the password: %v", err)
	}
	tg.opts.Password = "wrong"
	bad, err := tg.Client("n1")
	tg.opts.Password = secret
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Txn(ctx, txnwl.ListAppend, appendTxn(1, 2))
	if !errors.Is(err, ErrNotSent) {
		t.Errorf("Txn with a wrong password: %v, want ErrNotSent", err)
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error quotes the password: %v", err)
	}
	if err := tg.Stop(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(tg.nodeDir("n1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".pwfile") {
			t.Errorf("password file %s left behind", e.Name())
		}
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(tg.nodeDir("n1") + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("%s contains the password", e.Name())
		}
	}
}

package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent/agenttest"
	"github.com/faultline-dev/faultline/workloads/bank"
	"github.com/faultline-dev/faultline/workloads/lock"
)

// TestWorkloadOperations runs every workload operation of the client
// against one real 3-member cluster, shared by the subtests.
func TestWorkloadOperations(t *testing.T) {
	c, tg := newTarget(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	client := func(t *testing.T, node string) *Client {
		t.Helper()
		cl, err := tg.Client(node)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}

	t.Run("set", func(t *testing.T) {
		a, b := client(t, "n1"), client(t, "n2")
		if es, err := a.SetRead(ctx, "s"); err != nil || len(es) != 0 {
			t.Fatalf("SetRead of a new set = %v, %v; want none", es, err)
		}
		// Elements whose decimal order differs from their order as keys.
		for _, e := range []int64{9, 10, 100, 2} {
			if err := a.SetAdd(ctx, "s", e); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.SetAdd(ctx, "s1", 5); err != nil { // "s1" shares a prefix with "s"
			t.Fatal(err)
		}
		es, err := b.SetRead(ctx, "s")
		if err != nil || !slices.Equal(es, []int64{2, 9, 10, 100}) {
			t.Fatalf("SetRead = %v, %v; want [2 9 10 100]", es, err)
		}
	})

	t.Run("counter", func(t *testing.T) {
		if n, err := client(t, "n1").CounterRead(ctx, "c"); err != nil || n != 0 {
			t.Fatalf("CounterRead of a new counter = %d, %v; want 0", n, err)
		}
		// Concurrent adds through every member: none is lost to a race.
		var wg sync.WaitGroup
		errs := make(chan error, 60)
		for i, node := range []string{"n1", "n2", "n3"} {
			cl := client(t, node)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					if err := cl.CounterAdd(ctx, "c", int64(i+1)); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n, err := client(t, "n3").CounterRead(ctx, "c"); err != nil || n != 20*(1+2+3) {
			t.Fatalf("CounterRead after 60 concurrent adds = %d, %v; want %d", n, err, 20*(1+2+3))
		}
	})

	t.Run("bank", func(t *testing.T) {
		accounts := []string{"0", "1", "2", "3"}
		a := client(t, "n1")
		if err := a.BankInit(ctx, accounts, 10); err != nil {
			t.Fatal(err)
		}
		if err := a.Transfer(ctx, "0", "1", 4); err != nil {
			t.Fatal(err)
		}
		// BankInit again keeps the balances.
		if err := client(t, "n2").BankInit(ctx, accounts, 10); err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"0": 6, "1": 14, "2": 10, "3": 10}
		if got, err := a.BankRead(ctx); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("BankRead = %v, %v; want %v", got, err, want)
		}
		err := a.Transfer(ctx, "0", "2", 7)
		if !errors.Is(err, bank.ErrInsufficient) || !Definite(err) {
			t.Fatalf("overdrawing transfer: %v, want a definite ErrInsufficient", err)
		}
		// Concurrent transfers through every member, with reads: every
		// read sees the total.
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for i, node := range []string{"n1", "n2", "n3"} {
			cl := client(t, node)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 30 {
					from, to := accounts[(i+j)%4], accounts[(i+2*j+1)%4]
					if from == to {
						continue
					}
					if err := cl.Transfer(ctx, from, to, int64(1+j%5)); err != nil && !errors.Is(err, bank.ErrInsufficient) {
						errs <- err
					}
					got, err := cl.BankRead(ctx)
					if err != nil {
						errs <- err
						continue
					}
					var total int64
					for _, b := range got {
						if b < 0 {
							errs <- fmt.Errorf("negative balance in %v", got)
						}
						total += b
					}
					if total != 40 || len(got) != 4 {
						errs <- fmt.Errorf("read %v totals %d, want 40", got, total)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("queue", func(t *testing.T) {
		a, b := client(t, "n1"), client(t, "n2")
		if _, ok, err := a.Dequeue(ctx, "q"); err != nil || ok {
			t.Fatalf("Dequeue of a new queue = %v, %v; want empty", ok, err)
		}
		// FIFO in enqueue order, not in the values' order.
		for _, v := range []int64{30, 4, 200} {
			if err := a.Enqueue(ctx, "q", v); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok, err := b.Dequeue(ctx, "q"); err != nil || !ok || v != 30 {
			t.Fatalf("Dequeue = %d, %v, %v; want 30", v, ok, err)
		}
		if vs, err := b.Drain(ctx, "q"); err != nil || !slices.Equal(vs, []int64{4, 200}) {
			t.Fatalf("Drain = %v, %v; want [4 200]", vs, err)
		}
		if vs, err := b.Drain(ctx, "q"); err != nil || len(vs) != 0 {
			t.Fatalf("Drain of a drained queue = %v, %v; want none", vs, err)
		}
		// Concurrent dequeues through every member: each value comes out
		// exactly once, and each dequeuer sees its values in order.
		const n = 60
		for v := range int64(n) {
			if err := a.Enqueue(ctx, "q2", v); err != nil {
				t.Fatal(err)
			}
		}
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got []int64
		)
		for _, node := range []string{"n1", "n2", "n3"} {
			cl := client(t, node)
			wg.Add(1)
			go func() {
				defer wg.Done()
				last := int64(-1)
				for {
					v, ok, err := cl.Dequeue(ctx, "q2")
					if err != nil {
						t.Error(err)
						return
					}
					if !ok {
						return
					}
					if v <= last {
						t.Errorf("%s dequeued %d after %d", cl.Node(), v, last)
					}
					last = v
					mu.Lock()
					got = append(got, v)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(got)
		if len(got) != n || slices.Compact(got)[n-1] != n-1 {
			t.Fatalf("concurrent dequeues got %d values (%v), want each of 0..%d once", len(got), got, n-1)
		}
	})

	t.Run("lock", func(t *testing.T) {
		a, b := client(t, "n1"), client(t, "n2")
		tokA, err := a.Acquire(ctx, "l", "1")
		if err != nil || tokA <= 0 {
			t.Fatalf("Acquire = %d, %v; want a token", tokA, err)
		}
		if _, err := a.Acquire(ctx, "l", "1"); err == nil || !Definite(err) {
			t.Fatalf("Acquire of a lock the client holds: %v, want a definite error", err)
		}
		if err := a.FencedWrite(ctx, "l", tokA, 1); err != nil {
			t.Fatal(err)
		}
		// b waits while a holds the lock.
		type acq struct {
			tok int64
			err error
			at  time.Time
		}
		got := make(chan acq, 1)
		go func() {
			tok, err := b.Acquire(ctx, "l", "2")
			got <- acq{tok, err, time.Now()}
		}()
		select {
		case r := <-got:
			t.Fatalf("second client acquired a held lock: %+v", r)
		case <-time.After(500 * time.Millisecond):
		}
		if err := b.Release(ctx, "l", "2"); err == nil || !Definite(err) {
			t.Fatalf("Release by a client that does not hold the lock: %v, want a definite error", err)
		}
		released := time.Now()
		if err := a.Release(ctx, "l", "1"); err != nil {
			t.Fatal(err)
		}
		var rb acq
		select {
		case rb = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("second client did not get the lock after the first released it")
		}
		if rb.err != nil || rb.at.Before(released) {
			t.Fatalf("second Acquire = %+v, want the lock after %v", rb, released)
		}
		if rb.tok <= tokA {
			t.Fatalf("tokens %d then %d: want them increasing", tokA, rb.tok)
		}
		if err := b.FencedWrite(ctx, "l", rb.tok, 3); err != nil {
			t.Fatal(err)
		}
		if err := b.FencedWrite(ctx, "l", rb.tok, 4); err != nil {
			t.Fatalf("a second write with the same token: %v", err)
		}
		// The first holder, late: once the resource has seen the newer
		// token, the older one is refused.
		err = a.FencedWrite(ctx, "l", tokA, 2)
		if !errors.Is(err, lock.ErrFenced) {
			t.Fatalf("FencedWrite with the older token: %v, want ErrFenced", err)
		}
		// A holder whose client closes frees the lock at once (the
		// session's lease is revoked), well before its TTL.
		closed := time.Now()
		b.Close()
		cl := client(t, "n3")
		tokC, err := cl.Acquire(ctx, "l", "3")
		if err != nil || tokC <= rb.tok {
			t.Fatalf("Acquire after the holder closed = %d, %v; want a token above %d", tokC, err, rb.tok)
		}
		if d := time.Since(closed); d > DefaultLockTTL {
			t.Errorf("the lock took %v to be free after its holder closed", d)
		}
		// An acquire that waits past its context fails, not definitely.
		short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err = client(t, "n1").Acquire(short, "l", "4")
		cancelShort()
		if err == nil || Definite(err) {
			t.Fatalf("Acquire that timed out: %v, want an indefinite error", err)
		}
		if err := cl.Release(ctx, "l", "3"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unique-ids", func(t *testing.T) {
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			ids []int64
		)
		for _, node := range []string{"n1", "n2", "n3"} {
			cl := client(t, node)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 30 {
					id, err := cl.Generate(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(ids)
		if len(slices.Compact(slices.Clone(ids))) != 90 || ids[0] <= 0 {
			t.Fatalf("90 ids, %d distinct: %v", len(slices.Compact(slices.Clone(ids))), ids)
		}
	})

	// Reads follow the target's read consistency: a serializable client
	// still reads with two of three members paused, a linearizable one
	// does not.
	t.Run("read-consistency", func(t *testing.T) {
		lin := client(t, "n3")
		tg.opts.ReadConsistency = Serializable
		ser := client(t, "n3")
		tg.opts.ReadConsistency = Linearizable
		if err := lin.SetAdd(ctx, "rc", 1); err != nil {
			t.Fatal(err)
		}
		// The member answers serializable reads from its own state: wait
		// until it has applied the add.
		retry(t, 10*time.Second, "serializable read of the add", func() error {
			if es, err := ser.SetRead(ctx, "rc"); err != nil || len(es) != 1 {
				return fmt.Errorf("%v, %v", es, err)
			}
			return nil
		})
		pauser := agenttest.NewPauser(t, c)
		for _, n := range []string{"n1", "n2"} {
			if err := pauser.Pause(ctx, tg, n); err != nil {
				t.Fatal(err)
			}
		}
		defer func() {
			for _, n := range []string{"n1", "n2"} {
				if err := pauser.Resume(ctx, n); err != nil {
					t.Error(err)
				}
			}
		}()
		if es, err := ser.SetRead(ctx, "rc"); err != nil || !slices.Equal(es, []int64{1}) {
			t.Errorf("serializable SetRead without a quorum = %v, %v; want [1]", es, err)
		}
		if _, err := ser.CounterRead(ctx, "c"); err != nil {
			t.Errorf("serializable CounterRead without a quorum: %v", err)
		}
		if _, err := ser.BankRead(ctx); err != nil {
			t.Errorf("serializable BankRead without a quorum: %v", err)
		}
		short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
		defer cancelShort()
		if es, err := lin.SetRead(short, "rc"); err == nil {
			t.Errorf("linearizable SetRead without a quorum = %v, want an error", es)
		}
	})
}

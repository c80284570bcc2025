package etcd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/faultline-dev/faultline/internal/options"
	"github.com/faultline-dev/faultline/workloads/bank"
	"github.com/faultline-dev/faultline/workloads/counter"
	"github.com/faultline-dev/faultline/workloads/lock"
	"github.com/faultline-dev/faultline/workloads/queue"
	"github.com/faultline-dev/faultline/workloads/set"
	"github.com/faultline-dev/faultline/workloads/uniqueids"
)

// The workloads the client serves.
var (
	_ set.Client       = (*Client)(nil)
	_ counter.Client   = (*Client)(nil)
	_ bank.Client      = (*Client)(nil)
	_ queue.Client     = (*Client)(nil)
	_ lock.Client      = (*Client)(nil)
	_ lock.Fenced      = (*Client)(nil)
	_ uniqueids.Client = (*Client)(nil)
)

// DefaultLockTTL is the lock sessions' lease TTL unless the target's
// lock-ttl option says otherwise: short, so that a lock whose holder was
// killed or cut off is free again soon (Jepsen's etcd lock test uses 2 s).
const DefaultLockTTL = 2 * time.Second

// checkLockTTL is the lock-ttl option's check: a duration of at least 1 s
// (etcd's leases count whole seconds).
func checkLockTTL(s string) error {
	if err := options.CheckDuration(s); err != nil {
		return err
	}
	if d, _ := time.ParseDuration(s); d < time.Second {
		return errors.New("want at least 1s: etcd's leases count whole seconds")
	}
	return nil
}

// Where the workloads keep their data: under /faultline/<workload>/, apart
// from the register workload's bare keys.
const (
	setPrefix      = "/faultline/set/"
	counterPrefix  = "/faultline/counter/"
	bankPrefix     = "/faultline/bank/"
	queuePrefix    = "/faultline/queue/"
	lockPrefix     = "/faultline/lock/"
	resourcePrefix = "/faultline/lock-resource/"
	uniqueIDKey    = "/faultline/unique-ids"
)

// getOpts are a read's options: serializable when the target's read
// consistency says so. Reads inside a read-modify-write are always
// linearizable.
func (c *Client) getOpts(opts ...clientv3.OpOption) []clientv3.OpOption {
	if c.serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	return opts
}

// errorf wraps err, the failure of operation op on key, with the node.
func (c *Client) errorf(op, key string, err error) error {
	return fmt.Errorf("etcd %s %q on %s: %w", op, key, c.node, err)
}

// noWrite marks err, the failure of a request, as the failure of an
// operation that had sent no write yet (Definite).
func noWrite(err error) error { return fmt.Errorf("%w (%w)", err, ErrNoWrite) }

// request runs one request under the client's per-request timeout, or
// fails with ErrNotSent if ctx has ended.
func (c *Client) request(ctx context.Context, op, key string, f func(ctx context.Context) error) error {
	rctx, cancel, err := c.reqCtx(ctx, op, key)
	if err != nil {
		return err
	}
	defer cancel()
	if err := f(rctx); err != nil {
		return c.errorf(op, key, err)
	}
	return nil
}

func parseInt(kv *mvccpb.KeyValue) (int64, error) {
	v, err := strconv.ParseInt(string(kv.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("key %q holds %q, not an int64: %w", kv.Key, kv.Value, err)
	}
	return v, nil
}

func rangeKvs(r *pb.ResponseOp) []*mvccpb.KeyValue { return r.GetResponseRange().GetKvs() }

// # set: one key per element

// SetAdd implements set.Client: a put of the element's own key under the
// set's prefix. Each element is its own key, so an add is one request
// whatever the set's size, never retried against other adds, and a read
// is one range read of the prefix (atomic, at one revision). A set kept
// in one key would need a read and a compare-and-swap per add, retried
// under contention, rewriting the whole set each time.
func (c *Client) SetAdd(ctx context.Context, key string, element int64) error {
	k := setPrefix + key + "/" + strconv.FormatInt(element, 10)
	return c.request(ctx, "set add", key, func(ctx context.Context) error {
		_, err := c.cli.Put(ctx, k, strconv.FormatInt(element, 10))
		return err
	})
}

// SetRead implements set.Client: one range read of the set's prefix,
// linearizable unless the target's read consistency is serializable.
func (c *Client) SetRead(ctx context.Context, key string) ([]int64, error) {
	var out []int64
	err := c.request(ctx, "set read", key, func(ctx context.Context) error {
		resp, err := c.cli.Get(ctx, setPrefix+key+"/", c.getOpts(clientv3.WithPrefix())...)
		if err != nil {
			return err
		}
		out = make([]int64, 0, len(resp.Kvs))
		for _, kv := range resp.Kvs {
			e, err := parseInt(kv)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// # counter: a compare-and-swap loop on one key

// CounterAdd implements counter.Client: read the counter, then a
// transaction that writes the sum if the key's ModRevision is still the
// one read (or, for a missing key, if it still does not exist), else
// returns the key as it is now for the next attempt.
func (c *Client) CounterAdd(ctx context.Context, key string, delta int64) error {
	k := counterPrefix + key
	var cur *mvccpb.KeyValue
	err := c.request(ctx, "counter add", key, func(ctx context.Context) error {
		resp, err := c.cli.Get(ctx, k)
		if err == nil && len(resp.Kvs) > 0 {
			cur = resp.Kvs[0]
		}
		return err
	})
	if err != nil {
		return noWrite(err)
	}
	for {
		v, cmp := int64(0), clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
		if cur != nil {
			if v, err = parseInt(cur); err != nil {
				return c.errorf("counter add", key, noWrite(err))
			}
			cmp = clientv3.Compare(clientv3.ModRevision(k), "=", cur.ModRevision)
		}
		var resp *clientv3.TxnResponse
		err := c.request(ctx, "counter add", key, func(ctx context.Context) (err error) {
			resp, err = c.cli.Txn(ctx).If(cmp).
				Then(clientv3.OpPut(k, strconv.FormatInt(v+delta, 10))).
				Else(clientv3.OpGet(k)).Commit()
			return err
		})
		if err != nil || resp.Succeeded {
			return err
		}
		cur = nil
		if kvs := rangeKvs(resp.Responses[0]); len(kvs) > 0 {
			cur = kvs[0]
		}
	}
}

// CounterRead implements counter.Client: 0 for a missing key.
func (c *Client) CounterRead(ctx context.Context, key string) (int64, error) {
	var v int64
	err := c.request(ctx, "counter read", key, func(ctx context.Context) error {
		resp, err := c.cli.Get(ctx, counterPrefix+key, c.getOpts()...)
		if err != nil || len(resp.Kvs) == 0 {
			return err
		}
		v, err = parseInt(resp.Kvs[0])
		return err
	})
	return v, err
}

// # bank: one key per account, transfers as compare-and-swap transactions

// BankInit implements bank.Client: each account is put with initial if it
// does not exist yet.
func (c *Client) BankInit(ctx context.Context, accounts []string, initial int64) error {
	for _, a := range accounts {
		k := bankPrefix + a
		err := c.request(ctx, "bank init", a, func(ctx context.Context) error {
			_, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
				Then(clientv3.OpPut(k, strconv.FormatInt(initial, 10))).Commit()
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Transfer implements bank.Client: read both balances at one revision
// (one transaction of two gets), then a transaction that writes both new
// balances if neither account's ModRevision changed since, else returns
// both as they are now for the next attempt. A source that holds less
// than amount is ErrInsufficient, with nothing written.
func (c *Client) Transfer(ctx context.Context, from, to string, amount int64) error {
	op, accts := fmt.Sprintf("transfer of %d", amount), from+"->"+to
	kf, kt := bankPrefix+from, bankPrefix+to
	var resp *clientv3.TxnResponse
	err := c.request(ctx, op, accts, func(ctx context.Context) (err error) {
		resp, err = c.cli.Txn(ctx).Then(clientv3.OpGet(kf), clientv3.OpGet(kt)).Commit()
		return err
	})
	if err != nil {
		return noWrite(err)
	}
	for {
		fs, ts := rangeKvs(resp.Responses[0]), rangeKvs(resp.Responses[1])
		if len(fs) == 0 || len(ts) == 0 {
			return c.errorf(op, accts, noWrite(errors.New("no such account (BankInit makes them)")))
		}
		bf, err := parseInt(fs[0])
		if err != nil {
			return c.errorf(op, accts, noWrite(err))
		}
		bt, err := parseInt(ts[0])
		if err != nil {
			return c.errorf(op, accts, noWrite(err))
		}
		if bf < amount {
			return c.errorf(op, accts, noWrite(fmt.Errorf("balance %d: %w", bf, bank.ErrInsufficient)))
		}
		err = c.request(ctx, op, accts, func(ctx context.Context) (err error) {
			resp, err = c.cli.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(kf), "=", fs[0].ModRevision),
					clientv3.Compare(clientv3.ModRevision(kt), "=", ts[0].ModRevision)).
				Then(clientv3.OpPut(kf, strconv.FormatInt(bf-amount, 10)), clientv3.OpPut(kt, strconv.FormatInt(bt+amount, 10))).
				Else(clientv3.OpGet(kf), clientv3.OpGet(kt)).Commit()
			return err
		})
		if err != nil || resp.Succeeded {
			return err
		}
	}
}

// BankRead implements bank.Client: one range read of every account, which
// etcd serves at one revision (linearizable unless the target's read
// consistency is serializable).
func (c *Client) BankRead(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := c.request(ctx, "bank read", bankPrefix, func(ctx context.Context) error {
		resp, err := c.cli.Get(ctx, bankPrefix, c.getOpts(clientv3.WithPrefix())...)
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			b, err := parseInt(kv)
			if err != nil {
				return err
			}
			out[string(kv.Key[len(bankPrefix):])] = b
		}
		return nil
	})
	return out, err
}

// # queue: one key per value, in the order of their creation

// queueKey is value v's key in queue key: named by v (unique in a run),
// ordered by its CreateRevision.
func queueKey(key string, v int64) string {
	return queuePrefix + key + "/" + strconv.FormatInt(v, 10)
}

// Enqueue implements queue.Client: a put of the value's own key under the
// queue's prefix; the queue's order is the keys' creation order.
func (c *Client) Enqueue(ctx context.Context, key string, v int64) error {
	return c.request(ctx, "enqueue", key, func(ctx context.Context) error {
		_, err := c.cli.Put(ctx, queueKey(key, v), strconv.FormatInt(v, 10))
		return err
	})
}

// Dequeue implements queue.Client: read the queue's first key by
// CreateRevision, then a transaction that deletes it if it is still there
// unchanged; if another dequeue took it first, the next head is read and
// tried. Keys enqueued later have later revisions, so the key deleted was
// the head when it was deleted.
func (c *Client) Dequeue(ctx context.Context, key string) (int64, bool, error) {
	for {
		var head *mvccpb.KeyValue
		err := c.request(ctx, "dequeue", key, func(ctx context.Context) error {
			resp, err := c.cli.Get(ctx, queuePrefix+key+"/", append(clientv3.WithFirstCreate(), clientv3.WithPrefix())...)
			if err == nil && len(resp.Kvs) > 0 {
				head = resp.Kvs[0]
			}
			return err
		})
		if err != nil {
			return 0, false, noWrite(err)
		}
		if head == nil {
			return 0, false, nil
		}
		v, err := parseInt(head)
		if err != nil {
			return 0, false, c.errorf("dequeue", key, noWrite(err))
		}
		var resp *clientv3.TxnResponse
		err = c.request(ctx, "dequeue", key, func(ctx context.Context) (err error) {
			resp, err = c.cli.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(string(head.Key)), "=", head.ModRevision)).
				Then(clientv3.OpDelete(string(head.Key))).Commit()
			return err
		})
		if err != nil {
			// The delete of head may have happened: say which element.
			return v, !Definite(err), err
		}
		if resp.Succeeded {
			return v, true, nil
		}
	}
}

// Drain implements queue.Client: one delete of the queue's whole prefix,
// which returns what it deleted (atomic: no value is both drained and
// dequeued), in creation order.
func (c *Client) Drain(ctx context.Context, key string) ([]int64, error) {
	var out []int64
	err := c.request(ctx, "drain", key, func(ctx context.Context) error {
		resp, err := c.cli.Delete(ctx, queuePrefix+key+"/", clientv3.WithPrefix(), clientv3.WithPrevKV())
		if err != nil {
			return err
		}
		kvs := resp.PrevKvs
		slices.SortFunc(kvs, func(a, b *mvccpb.KeyValue) int { return cmp.Compare(a.CreateRevision, b.CreateRevision) })
		out = make([]int64, 0, len(kvs))
		for _, kv := range kvs {
			v, err := parseInt(kv)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// # lock: etcd's concurrency.Mutex under a session per client

// lockState is a client's locks: the session (a lease kept alive) that
// its lock keys live under, and the locks it holds by name.
type lockState struct {
	mu      sync.Mutex
	session *concurrency.Session
	held    map[string]heldLock
	// wg waits for acquisitions that outlived their operation.
	wg sync.WaitGroup
}

type heldLock struct {
	owner string
	m     *concurrency.Mutex
	// pending: an Acquire is waiting for it.
	pending bool
}

// lockSession returns the client's session, or makes one (a lease of
// lockTTL, kept alive until the client closes or the lease is lost).
func (c *Client) lockSession(ctx context.Context) (*concurrency.Session, error) {
	if s := c.locks.session; s != nil {
		select {
		case <-s.Done():
			// Its lease expired or could not be renewed: the locks it
			// held are gone.
			c.locks.session = nil
			clear(c.locks.held)
		default:
			return s, nil
		}
	}
	ttl := int64(math.Ceil(max(c.lockTTL, time.Second).Seconds()))
	var lease clientv3.LeaseID
	if err := c.request(ctx, "lease grant", "lock session", func(ctx context.Context) error {
		resp, err := c.cli.Grant(ctx, ttl)
		if err == nil {
			lease = resp.ID
		}
		return err
	}); err != nil {
		return nil, err
	}
	// The session lives with the client (its keep-alive runs on the
	// client's context), not with this operation.
	s, err := concurrency.NewSession(c.cli, concurrency.WithLease(lease), concurrency.WithTTL(int(ttl)))
	if err != nil {
		return nil, err
	}
	c.locks.session = s
	return s, nil
}

// Acquire implements lock.Client: concurrency.Mutex.Lock on the lock's
// prefix under the client's session, waiting while others hold it, until
// ctx ends. The token is the lock key's CreateRevision: every later holder
// of the lock queued its key after this one, so tokens increase from
// holder to holder (etcd's own fencing recipe). If ctx ends before the
// lock is granted the outcome is unknown (the grant may be on its way);
// the controller then retires the process and closes its client, which
// revokes the session and frees the lock.
func (c *Client) Acquire(ctx context.Context, name, owner string) (int64, error) {
	op := "acquire (owner " + owner + ")"
	c.locks.mu.Lock()
	if h, ok := c.locks.held[name]; ok {
		c.locks.mu.Unlock()
		return 0, c.errorf(op, name, noWrite(fmt.Errorf("this client holds or awaits it already, for owner %s", h.owner)))
	}
	s, err := c.lockSession(ctx)
	if err != nil {
		c.locks.mu.Unlock()
		return 0, noWrite(err)
	}
	m := concurrency.NewMutex(s, lockPrefix+name)
	if c.locks.held == nil {
		c.locks.held = map[string]heldLock{}
	}
	c.locks.held[name] = heldLock{owner: owner, m: m, pending: true}
	c.locks.wg.Add(1)
	c.locks.mu.Unlock()

	// The wait holds no lock of the client's, so that Close can end it.
	// Lock cleans up after a failed wait with the client's context, not
	// ctx: it runs apart, so that the operation ends when ctx does.
	done := make(chan error, 1)
	go func() {
		defer c.locks.wg.Done()
		done <- m.Lock(ctx)
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}

	c.locks.mu.Lock()
	defer c.locks.mu.Unlock()
	mine := c.locks.held[name].m == m
	if err == nil && !mine {
		err = errors.New("the client's lock session ended meanwhile")
	}
	if err != nil {
		if mine {
			delete(c.locks.held, name)
		}
		return 0, c.errorf(op, name, err)
	}
	c.locks.held[name] = heldLock{owner: owner, m: m}
	owns := pb.Compare(m.IsOwner())
	return owns.GetCreateRevision(), nil
}

// Release implements lock.Client: the delete of the lock key. A lock the
// client does not hold for owner is an error that wrote nothing. If the
// delete fails, the session is abandoned (no longer kept alive), so the
// lock is freed when its lease runs out: the release takes effect at a
// time nobody knows, and its error is never definite.
func (c *Client) Release(ctx context.Context, name, owner string) error {
	c.locks.mu.Lock()
	defer c.locks.mu.Unlock()
	op := "release (owner " + owner + ")"
	h, ok := c.locks.held[name]
	if !ok || h.owner != owner || h.pending {
		return c.errorf(op, name, noWrite(errors.New("this client does not hold it for this owner")))
	}
	delete(c.locks.held, name)
	err := c.request(ctx, op, name, func(ctx context.Context) error { return h.m.Unlock(ctx) })
	if err == nil {
		return nil
	}
	if s := c.locks.session; s != nil {
		s.Orphan()
		c.locks.session = nil
		clear(c.locks.held)
	}
	// %v, not %w: whatever the cause, the lock goes when its lease does.
	return fmt.Errorf("%v; the session's lease is left to run out (%s)", err, c.lockTTL)
}

// closeLocks revokes the session's lease (bounded: a lease that cannot be
// revoked runs out by itself).
func (c *Client) closeLocks() {
	c.locks.mu.Lock()
	defer c.locks.mu.Unlock()
	s := c.locks.session
	if s == nil {
		return
	}
	s.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), min(c.timeout, time.Second))
	_, _ = c.cli.Revoke(ctx, s.Lease())
	cancel()
	c.locks.session = nil
	clear(c.locks.held)
}

// resourceKeys are the keys of the resource lock name protects: the
// largest token it accepted (zero-padded, so that etcd's byte-wise value
// comparison orders tokens) and the last value written.
func resourceKeys(name string) (token, value string) {
	return resourcePrefix + name + "/token", resourcePrefix + name + "/value"
}

func paddedToken(t int64) string { return fmt.Sprintf("%020d", t) }

// FencedWrite implements lock.Fenced: a transaction that writes value and
// token if the resource's stored token is at most token (or it has none),
// else returns the stored token; a larger one is ErrFenced.
func (c *Client) FencedWrite(ctx context.Context, name string, token, value int64) error {
	tk, vk := resourceKeys(name)
	op := fmt.Sprintf("fenced write with token %d", token)
	exists := true
	for {
		// Stored <= token, as etcd's comparisons have no <=.
		cmp := clientv3.Compare(clientv3.Value(tk), "<", paddedToken(token+1))
		if !exists {
			cmp = clientv3.Compare(clientv3.CreateRevision(tk), "=", 0)
		}
		var resp *clientv3.TxnResponse
		err := c.request(ctx, op, name, func(ctx context.Context) (err error) {
			resp, err = c.cli.Txn(ctx).If(cmp).
				Then(clientv3.OpPut(tk, paddedToken(token)), clientv3.OpPut(vk, strconv.FormatInt(value, 10))).
				Else(clientv3.OpGet(tk)).Commit()
			return err
		})
		if err != nil || resp.Succeeded {
			return err
		}
		kvs := rangeKvs(resp.Responses[0])
		if len(kvs) == 0 {
			exists = false
			continue
		}
		stored, err := parseInt(kvs[0])
		if err != nil {
			return c.errorf(op, name, err)
		}
		if stored > token {
			return c.errorf(op, name, fmt.Errorf("%w (%d)", lock.ErrFenced, stored))
		}
		exists = true
	}
}

// # unique-ids: a put's revision

// Generate implements uniqueids.Client: a put of one key; the revision of
// the put, which etcd gives to no other change, is the id.
func (c *Client) Generate(ctx context.Context) (int64, error) {
	var id int64
	err := c.request(ctx, "generate", uniqueIDKey, func(ctx context.Context) error {
		resp, err := c.cli.Put(ctx, uniqueIDKey, "")
		if err == nil {
			id = resp.Header.Revision
		}
		return err
	})
	return id, err
}

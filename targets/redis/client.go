package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/faultline-dev/faultline/workloads/counter"
	"github.com/faultline-dev/faultline/workloads/lock"
	"github.com/faultline-dev/faultline/workloads/queue"
	"github.com/faultline-dev/faultline/workloads/register"
	"github.com/faultline-dev/faultline/workloads/set"
)

// Client is a workload client: with sentinels, go-redis's failover client,
// which asks the sentinels for the primary and follows it when they fail
// it over (as applications do); otherwise a plain client of the primary
// (the only node, or the first). Its home node names it in the history.
// Each request is one attempt (go-redis's retries are off: a retried
// INCRBY or RPUSH could apply twice), bounded by the target's request
// timeout. It is safe for concurrent use, one operation at a time; a
// Jepsen-style worker owns one.
type Client struct {
	node string
	// rdb is the go-redis client, made by newRDB on first use and again
	// after a request that could not be sent (see attempt).
	rdb         *goredis.Client
	newRDB      func() *goredis.Client
	timeout     time.Duration
	wait        int
	waitTimeout time.Duration
	lockTTL     time.Duration

	// sent counts the bytes written on connections to servers (not to
	// sentinels): a request during which it did not move was never sent.
	sent atomic.Int64

	mu sync.Mutex
	// retryWait and nextTry pace requests after one that could not be
	// sent (see attempt).
	retryWait time.Duration
	nextTry   time.Time
	// locks are the locks this client may hold (acquired, or an
	// acquisition whose outcome is unknown), by name: their owners. Close
	// releases them.
	locks map[string]string
}

var (
	_ set.Client      = (*Client)(nil)
	_ counter.Client  = (*Client)(nil)
	_ queue.Client    = (*Client)(nil)
	_ lock.Client     = (*Client)(nil)
	_ register.Client = (*Client)(nil)
)

// Quiet go-redis's own logger, which would print a line to faultline's
// standard error for every connection a fault breaks: the history and the
// errors it records say what happened.
func init() { goredis.SetLogger(quietLogger{}) }

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// Client returns a new client whose home is node (any node of the
// cluster). It connects lazily, on its first request. The caller closes
// it.
func (t *Target) Client(node string) (*Client, error) {
	if _, err := t.node(node); err != nil {
		return nil, err
	}
	c := &Client{node: node, timeout: t.opts.RequestTimeout, wait: t.opts.Wait, waitTimeout: t.opts.WaitTimeout, lockTTL: t.opts.LockTTL, locks: map[string]string{}}
	sentinels := map[string]bool{}
	var addrs []string
	if t.sentinel {
		for _, n := range t.nodes {
			addrs = append(addrs, t.sentinelAddr(n))
			sentinels[t.sentinelAddr(n)] = true
		}
	}
	dial := c.dialer(sentinels)
	// Options afresh for every go-redis client: go-redis keeps and
	// changes the ones it is given.
	c.newRDB = func() *goredis.Client {
		o := t.clientOptions()
		o.Dialer = dial
		if !t.sentinel {
			o.Addr = t.addr(t.first())
			return goredis.NewClient(o)
		}
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: MasterName, SentinelAddrs: slices.Clone(addrs), Dialer: o.Dialer,
			Protocol: o.Protocol, MaxRetries: o.MaxRetries, DialTimeout: o.DialTimeout, DialerRetries: o.DialerRetries,
			ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, ContextTimeoutEnabled: o.ContextTimeoutEnabled,
			PoolSize: o.PoolSize, PipelinePoolSize: o.PipelinePoolSize, DisableIdentity: o.DisableIdentity,
		})
	}
	return c, nil
}

// clientOptions are go-redis's options for the target's clients.
func (t *Target) clientOptions() *goredis.Options {
	return &goredis.Options{
		Protocol: 2,
		// One attempt per request: the history must say what was sent.
		MaxRetries: -1,
		// A node that is down or cut off fails the request (definitely:
		// nothing was sent) within a second rather than at its timeout.
		DialTimeout:           min(time.Second, t.opts.RequestTimeout),
		DialerRetries:         1,
		ReadTimeout:           t.opts.RequestTimeout,
		WriteTimeout:          t.opts.RequestTimeout,
		ContextTimeoutEnabled: true,
		// One request at a time: one connection, and pipelines (a write
		// and its WAIT) on it too, not on a pool of their own.
		PoolSize:         1,
		PipelinePoolSize: -1,
		// Redis 7.0 knows neither CLIENT SETINFO nor maintenance
		// notifications.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// dialer dials like go-redis does and counts what is written on
// connections to servers (addresses not in sentinels) into c.sent.
func (c *Client) dialer(sentinels map[string]bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{KeepAlive: 5 * time.Second}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil || sentinels[addr] {
			return conn, err
		}
		return &countingConn{Conn: conn, n: &c.sent}, nil
	}
}

// countingConn counts the bytes written on a connection. It keeps
// SyscallConn, which go-redis's health check of pooled connections needs
// (a connection the server closed is then dropped before a request is
// written on it).
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	return sc.SyscallConn()
}

// Node is the client's home node.
func (c *Client) Node() string { return c.node }

// Definite implements the workloads' Definite; see the package function
// Definite.
func (c *Client) Definite(err error) bool { return Definite(err) }

// closeReleaseTimeout bounds Close's release of each lock.
const closeReleaseTimeout = time.Second

// Close releases the locks the client may hold (best effort, as an
// application that shuts down would: the lock workload retires a process
// whose acquire had an unknown outcome by closing its client, which must
// free what it holds; a lock that cannot be released now expires after
// its TTL) and closes the client's connections.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rdb != nil {
		for name, owner := range c.locks {
			ctx, cancel := context.WithTimeout(context.Background(), min(c.timeout, closeReleaseTimeout))
			_ = c.rdb.Eval(ctx, releaseScript, []string{lockKey(name)}, owner).Err()
			cancel()
		}
	}
	clear(c.locks)
	c.drop()
	return nil
}

// drop closes the go-redis client and forgets it.
func (c *Client) drop() {
	if c.rdb != nil {
		_ = c.rdb.Close()
		c.rdb = nil
	}
}

// After a request that could not be sent the next waits: 10 ms, doubling
// to at most 200 ms while requests keep failing so. Against a killed
// server a worker would otherwise fail thousands of requests a second, and
// the history would be mostly "connection refused".
const (
	minRetryWait = 10 * time.Millisecond
	maxRetryWait = 200 * time.Millisecond
)

// attempt runs f, one request, under the request timeout, and names op and
// key in its error. An error during which nothing was written to a server
// wraps ErrNotSent; the go-redis client is then made anew for the next
// request, which is paced instead (go-redis's own pacing, a breaker that
// fails every request until a background dial succeeds, a second apart,
// would fail requests to a server that is back). The caller holds c.mu.
func (c *Client) attempt(ctx context.Context, op, key string, f func(ctx context.Context) error) error {
	if wait := time.Until(c.nextTry); wait > 0 && ctx.Err() == nil {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis %s %q from %s: %w: %w", op, key, c.node, ErrNotSent, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.rdb == nil {
		c.rdb = c.newRDB()
	}
	before := c.sent.Load()
	err := f(rctx)
	if err != nil && c.sent.Load() == before && !isServerError(err) {
		c.drop()
		c.retryWait = min(max(2*c.retryWait, minRetryWait), maxRetryWait)
		c.nextTry = time.Now().Add(c.retryWait)
		return fmt.Errorf("redis %s %q from %s: %w: %w", op, key, c.node, ErrNotSent, err)
	}
	c.retryWait, c.nextTry = 0, time.Time{}
	if err != nil {
		return fmt.Errorf("redis %s %q from %s: %w", op, key, c.node, err)
	}
	return nil
}

// do is attempt under the client's lock.
func (c *Client) do(ctx context.Context, op, key string, f func(ctx context.Context) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempt(ctx, op, key, f)
}

// write runs cmd, and with Options.Wait set a WAIT after it in the same
// round trip, on the same connection (WAIT counts the replicas that have
// this connection's writes). err is cmd's own error (goredis.Nil
// included); ack, for a cmd that succeeded, is nil or an error wrapping
// ErrNotReplicated. A caller whose cmd wrote nothing (a lock already held,
// an empty queue) ignores ack.
func (c *Client) write(ctx context.Context, cmd goredis.Cmder) (ack, err error) {
	if c.wait == 0 {
		_ = c.rdb.Process(ctx, cmd)
		return nil, cmd.Err()
	}
	w := goredis.NewIntCmd(ctx, "wait", c.wait, c.waitTimeout.Milliseconds())
	// Each command's own error is read below.
	_, _ = c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		_ = p.Process(ctx, cmd)
		_ = p.Process(ctx, w)
		return nil
	})
	if err := cmd.Err(); err != nil {
		return nil, err
	}
	n, err := w.Result()
	if err != nil {
		return fmt.Errorf("%w: WAIT %d: %w", ErrNotReplicated, c.wait, err), nil
	}
	if n < int64(c.wait) {
		return fmt.Errorf("%w: WAIT %d %d answered %d", ErrNotReplicated, c.wait, c.waitTimeout.Milliseconds(), n), nil
	}
	return nil, nil
}

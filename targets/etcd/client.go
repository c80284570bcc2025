package etcd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Client is a register client bound to one node (or, for the target's own
// checks, to a list of endpoints). Values are int64s stored as decimal
// strings. Every request has the target's per-request timeout. A Client is
// safe for concurrent use; a Jepsen-style worker owns one.
type Client struct {
	node         string
	cli          *clientv3.Client
	timeout      time.Duration
	serializable bool
	// lockTTL and locks are the lock workload's (workloads.go).
	lockTTL time.Duration
	locks   lockState
}

// failFast makes every RPC fail at once with Unavailable when there is no
// ready connection (node down, connection refused) instead of waiting for
// one until its deadline, as etcd's client does by default. Such an RPC
// was never sent, so Definite can report it as not applied rather than
// leaving it indeterminate.
func failFast(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, append(opts, grpc.WaitForReady(false))...)
}

func newClient(node string, endpoints []string, timeout time.Duration, serializable bool) (*Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(failFast)},
		// No DialTimeout: New must not block on a node that is down.
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", node, err)
	}
	return &Client{node: node, cli: cli, timeout: timeout, serializable: serializable, lockTTL: DefaultLockTTL}, nil
}

// Node is the node the client talks to.
func (c *Client) Node() string { return c.node }

// Definite is the package function Definite, for the workloads' client
// interfaces.
func (c *Client) Definite(err error) bool { return Definite(err) }

// Raw is the underlying etcd client, for workloads that need more than a
// register (transactions, watches). Its requests get no timeout unless the
// caller's context has one.
func (c *Client) Raw() *clientv3.Client { return c.cli }

// Close closes the client's connections, after revoking the lease of its
// locks' session (so that what it held is free at once, not when the
// lease runs out).
func (c *Client) Close() error {
	c.closeLocks()
	err := c.cli.Close()
	c.locks.wg.Wait()
	return err
}

// reqCtx gives a request its timeout, or ErrNotSent if ctx has already
// ended: such a request is certainly not applied.
func (c *Client) reqCtx(ctx context.Context, op, key string) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("etcd %s %q on %s: %w: %w", op, key, c.node, ErrNotSent, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	return rctx, cancel, nil
}

// Read returns key's value, or nil if key does not exist. It is
// linearizable unless the target's ReadConsistency is serializable.
func (c *Client) Read(ctx context.Context, key string) (*int64, error) {
	rctx, cancel, err := c.reqCtx(ctx, "read", key)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var opts []clientv3.OpOption
	if c.serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := c.cli.Get(rctx, key, opts...)
	if err != nil {
		return nil, fmt.Errorf("etcd read %q on %s: %w", key, c.node, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	v, err := strconv.ParseInt(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("etcd read %q on %s: value %q is not an int64: %w", key, c.node, resp.Kvs[0].Value, err)
	}
	return &v, nil
}

// Write sets key to v.
func (c *Client) Write(ctx context.Context, key string, v int64) error {
	rctx, cancel, err := c.reqCtx(ctx, "write", key)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := c.cli.Put(rctx, key, strconv.FormatInt(v, 10)); err != nil {
		return fmt.Errorf("etcd write %q on %s: %w", key, c.node, err)
	}
	return nil
}

// CAS sets key to new if its value is old, in one etcd transaction, and
// reports whether it did. A missing key compares unequal to every old.
func (c *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	rctx, cancel, err := c.reqCtx(ctx, "cas", key)
	if err != nil {
		return false, err
	}
	defer cancel()
	resp, err := c.cli.Txn(rctx).
		If(clientv3.Compare(clientv3.Value(key), "=", strconv.FormatInt(old, 10))).
		Then(clientv3.OpPut(key, strconv.FormatInt(new, 10))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("etcd cas %q on %s: %w", key, c.node, err)
	}
	return resp.Succeeded, nil
}

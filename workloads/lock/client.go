package lock

import (
	"context"
	"errors"
)

// ErrFenced is returned by FencedWrite when the resource has accepted a
// larger token: the write certainly did not happen (recorded as a fail
// with error "fenced").
var ErrFenced = errors.New("fenced: the resource has accepted a larger token")

// Client is what a target offers for the lock workload: a named mutual
// exclusion lock (the consensus recipe people build on etcd, ZooKeeper or
// Redis's SET NX PX). Definite as in set.Client.
//
// The workload gives each process (the history's process: one client,
// one owner) a sequence of its own: acquire, hold, an optional fenced
// write, release; owner is the process's number. A client may keep what
// it needs to release (etcd: the lock's session) between the calls.
type Client interface {
	// Acquire takes lock name for owner, waiting while another owner holds
	// it (bounded by ctx). token is the lock's fencing token for this
	// acquisition when the target has one (etcd: the lock key's revision),
	// or 0; the workload makes fenced writes only with a token above 0.
	Acquire(ctx context.Context, name, owner string) (token int64, err error)
	// Release gives lock name back, if owner still holds it.
	Release(ctx context.Context, name, owner string) error
	Definite(err error) bool
}

// Fenced is a Client whose protected resource checks fencing tokens: a
// write is accepted only if its token is at least the largest one the
// resource has accepted (Kleppmann's fencing). The workload uses it when
// fencing is on (Workload.NoFencing unset) and Acquire gave a token.
type Fenced interface {
	// FencedWrite writes value to the resource that lock name protects,
	// with token; it fails with ErrFenced (definite) when the resource
	// has seen a larger token.
	FencedWrite(ctx context.Context, name string, token, value int64) error
}

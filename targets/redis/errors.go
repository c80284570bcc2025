package redis

import (
	"errors"
	"net"

	goredis "github.com/redis/go-redis/v9"
)

var (
	// ErrNotSent: the request was never sent: its context had ended, or
	// no byte of it reached a connection to a server (connection refused,
	// no route, a dial timeout, no sentinel naming a primary).
	ErrNotSent = errors.New("redis request not sent")
	// ErrNotReplicated: the write was done on the primary, but WAIT says
	// fewer replicas than Options.Wait acknowledged it (or WAIT got no
	// answer). It may survive or not: the outcome is unknown.
	ErrNotReplicated = errors.New("redis write not acknowledged by enough replicas")
	// ErrNotAcquired: the lock was held by another owner until the
	// acquisition's context ended; it was not taken.
	ErrNotAcquired = errors.New("redis lock not acquired")
	// ErrNotHeld: a release found the lock not held by its owner (it had
	// expired, or another owner took it) and changed nothing.
	ErrNotHeld = errors.New("redis lock not held by this owner")
)

// Definite reports whether err means the operation certainly did not take
// effect, so a history may record it as "fail"; otherwise it may have
// ("info").
//
// Certain: ErrNotSent (the client saw that not a byte of the request was
// written: a connection refused, a dial timeout, no primary known), a
// failed dial, a closed client, ErrNotAcquired and ErrNotHeld, and every
// error reply of a server. A Redis server answers an error only for a
// command it did not run: READONLY (a replica, or a demoted primary),
// MASTERDOWN, LOADING, NOREPLICAS, OOM, MISCONF, BUSY… The one exception
// would be a Lua script that fails after a write; this client's scripts
// write only as their last step, so their errors are certain too.
//
// Not certain: ErrNotReplicated, timeouts and connections lost after a
// request was written (the server may have run it), and everything else.
func Definite(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotReplicated) {
		return false
	}
	if errors.Is(err, ErrNotSent) || errors.Is(err, ErrNotAcquired) || errors.Is(err, ErrNotHeld) {
		return true
	}
	if errors.Is(err, goredis.ErrClosed) || errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, goredis.ErrPoolExhausted) {
		return true // no connection to send it on
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return isServerError(err)
}

// isServerError reports whether err is an error reply of a server (not
// redis.Nil, which go-redis uses for "no such key").
func isServerError(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && !errors.Is(err, goredis.Nil)
}

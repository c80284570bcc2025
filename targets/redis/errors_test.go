package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// replyError is an error reply as go-redis gives it (a goredis.Error).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestDefinite(t *testing.T) {
	reply := func(s string) error { return fmt.Errorf("redis sadd %q from n1: %w", "k", replyError(s)) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not sent", fmt.Errorf("x: %w: %w", ErrNotSent, context.DeadlineExceeded), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"closed client", goredis.ErrClosed, true},
		{"pool timeout", goredis.ErrPoolTimeout, true},
		{"lock held until the end", fmt.Errorf("x: %w: %w", ErrNotAcquired, context.DeadlineExceeded), true},
		{"release of a lock not held", fmt.Errorf("x: %w", ErrNotHeld), true},
		{"READONLY", reply("READONLY You can't write against a read only replica."), true},
		{"MASTERDOWN", reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{"LOADING", reply("LOADING Redis is loading the dataset in memory"), true},
		{"NOREPLICAS", reply("NOREPLICAS Not enough good replicas to write."), true},
		{"not replicated", fmt.Errorf("x: %w: WAIT 1 1000 answered 0", ErrNotReplicated), false},
		{"WAIT lost its connection", fmt.Errorf("x: %w: WAIT 1: %w", ErrNotReplicated, &net.OpError{Op: "read", Err: syscall.ECONNRESET}), false},
		{"WAIT refused", fmt.Errorf("x: %w: WAIT 1: %w", ErrNotReplicated, replyError("ERR WAIT cannot be used with replica instances")), false},
		{"timeout after send", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"connection reset after send", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false},
		{"connection lost after send", errors.New("EOF"), false},
		{"nil reply", goredis.Nil, false},
	}
	for _, c := range cases {
		if got := Definite(c.err); got != c.want {
			t.Errorf("%s: Definite(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

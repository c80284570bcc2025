package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The workloads' operations. Each workload has keys of its own (a prefix
// per workload), so one server can hold several workloads' data without a
// WRONGTYPE. Values are int64s as decimal strings. Every write goes
// through Client.write (WAIT when the target asks for it).

func setKey(k string) string      { return "set:" + k }
func counterKey(k string) string  { return "counter:" + k }
func queueKey(k string) string    { return "queue:" + k }
func lockKey(k string) string     { return "lock:" + k }
func registerKey(k string) string { return "register:" + k }

// The Lua scripts. Each writes only as its last step, so an error reply
// means it wrote nothing (see Definite). Scripts run atomically.
const (
	// drainScript removes and returns a whole list: LRANGE and DEL as one.
	drainScript = `local v = redis.call('LRANGE', KEYS[1], 0, -1)
if #v > 0 then redis.call('DEL', KEYS[1]) end
return v`
	// releaseScript deletes the lock if its owner holds it: 1, else 0.
	releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
	// casScript sets the register to ARGV[2] if it holds ARGV[1]: 1, else 0
	// (a missing key matches nothing).
	casScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0`
)

func parseInt(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is not an int64", s)
	}
	return v, nil
}

// SetAdd implements set.Client: SADD.
func (c *Client) SetAdd(ctx context.Context, key string, element int64) error {
	return c.do(ctx, "sadd", key, func(ctx context.Context) error {
		ack, err := c.write(ctx, goredis.NewIntCmd(ctx, "sadd", setKey(key), element))
		if err != nil {
			return err
		}
		return ack
	})
}

// SetRead implements set.Client: SMEMBERS, sorted.
func (c *Client) SetRead(ctx context.Context, key string) ([]int64, error) {
	var out []int64
	err := c.do(ctx, "smembers", key, func(ctx context.Context) error {
		ms, err := c.rdb.SMembers(ctx, setKey(key)).Result()
		if err != nil {
			return err
		}
		out = make([]int64, 0, len(ms))
		for _, m := range ms {
			v, err := parseInt(m)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		slices.Sort(out)
		return nil
	})
	return out, err
}

// CounterAdd implements counter.Client: INCRBY.
func (c *Client) CounterAdd(ctx context.Context, key string, delta int64) error {
	return c.do(ctx, "incrby", key, func(ctx context.Context) error {
		ack, err := c.write(ctx, goredis.NewIntCmd(ctx, "incrby", counterKey(key), delta))
		if err != nil {
			return err
		}
		return ack
	})
}

// CounterRead implements counter.Client: GET (0 for a missing key).
func (c *Client) CounterRead(ctx context.Context, key string) (int64, error) {
	var v int64
	err := c.do(ctx, "get", key, func(ctx context.Context) error {
		s, err := c.rdb.Get(ctx, counterKey(key)).Result()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err = parseInt(s)
		return err
	})
	return v, err
}

// Enqueue implements queue.Client: RPUSH.
func (c *Client) Enqueue(ctx context.Context, key string, v int64) error {
	return c.do(ctx, "rpush", key, func(ctx context.Context) error {
		ack, err := c.write(ctx, goredis.NewIntCmd(ctx, "rpush", queueKey(key), v))
		if err != nil {
			return err
		}
		return ack
	})
}

// Dequeue implements queue.Client: LPOP. A pop that WAIT did not confirm
// returns the value with its error.
func (c *Client) Dequeue(ctx context.Context, key string) (v int64, ok bool, err error) {
	err = c.do(ctx, "lpop", key, func(ctx context.Context) error {
		cmd := goredis.NewStringCmd(ctx, "lpop", queueKey(key))
		ack, err := c.write(ctx, cmd)
		if errors.Is(err, goredis.Nil) {
			return nil // empty: nothing written
		}
		if err != nil {
			return err
		}
		if v, err = parseInt(cmd.Val()); err != nil {
			return err
		}
		ok = true
		return ack
	})
	return v, ok, err
}

// Drain implements queue.Client: LRANGE and DEL in one script.
func (c *Client) Drain(ctx context.Context, key string) ([]int64, error) {
	var out []int64
	err := c.do(ctx, "drain", key, func(ctx context.Context) error {
		cmd := goredis.NewStringSliceCmd(ctx, "eval", drainScript, 1, queueKey(key))
		ack, err := c.write(ctx, cmd)
		if err != nil {
			return err
		}
		out = make([]int64, 0, len(cmd.Val()))
		for _, s := range cmd.Val() {
			v, err := parseInt(s)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		if len(out) == 0 {
			return nil
		}
		return ack
	})
	return out, err
}

// Lock acquisition polls: 5 ms, doubling to 100 ms, each jittered.
const (
	minLockPoll = 5 * time.Millisecond
	maxLockPoll = 100 * time.Millisecond
)

// Acquire implements lock.Client: SET name owner NX PX ttl, tried again
// while another owner holds the lock, until ctx ends (ErrNotAcquired).
// Redis locks have no fencing token: token is always 0.
func (c *Client) Acquire(ctx context.Context, name, owner string) (token int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	poll := minLockPoll
	for {
		got := false
		err := c.attempt(ctx, "acquire", name, func(ctx context.Context) error {
			cmd := goredis.NewStatusCmd(ctx, "set", lockKey(name), owner, "nx", "px", c.lockTTL.Milliseconds())
			ack, err := c.write(ctx, cmd)
			if errors.Is(err, goredis.Nil) {
				return nil // held by another owner
			}
			if err != nil {
				return err
			}
			got = true
			return ack
		})
		if err != nil && Definite(err) && ctx.Err() != nil {
			// The context ended while an attempt was being sent (the
			// connection's deadline is the context's): certainly not
			// acquired, as when it ends between attempts.
			return 0, fmt.Errorf("redis acquire %q for %s from %s: %w before the context ended: %w", name, owner, c.node, ErrNotAcquired, err)
		}
		if got || (err != nil && !Definite(err)) {
			c.locks[name] = owner
		}
		if err != nil || got {
			return 0, err
		}
		t := time.NewTimer(poll/2 + rand.N(poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("redis acquire %q for %s from %s: held by another owner: %w: %w", name, owner, c.node, ErrNotAcquired, ctx.Err())
		case <-t.C:
		}
		poll = min(2*poll, maxLockPoll)
	}
}

// Release implements lock.Client: a script deletes the lock if owner
// holds it; if not (it expired, or another took it) the error wraps
// ErrNotHeld.
func (c *Client) Release(ctx context.Context, name, owner string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.attempt(ctx, "release", name, func(ctx context.Context) error {
		cmd := goredis.NewIntCmd(ctx, "eval", releaseScript, 1, lockKey(name), owner)
		ack, err := c.write(ctx, cmd)
		if err != nil {
			return err
		}
		if cmd.Val() == 0 {
			return fmt.Errorf("%w (owner %s)", ErrNotHeld, owner)
		}
		return ack
	})
	if err == nil || errors.Is(err, ErrNotHeld) {
		delete(c.locks, name)
	}
	return err
}

// Read implements register.Client: GET (nil for a missing key).
func (c *Client) Read(ctx context.Context, key string) (*int64, error) {
	var out *int64
	err := c.do(ctx, "read", key, func(ctx context.Context) error {
		s, err := c.rdb.Get(ctx, registerKey(key)).Result()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := parseInt(s)
		if err != nil {
			return err
		}
		out = &v
		return nil
	})
	return out, err
}

// Write implements register.Client: SET.
func (c *Client) Write(ctx context.Context, key string, v int64) error {
	return c.do(ctx, "write", key, func(ctx context.Context) error {
		ack, err := c.write(ctx, goredis.NewStatusCmd(ctx, "set", registerKey(key), v))
		if err != nil {
			return err
		}
		return ack
	})
}

// CAS implements register.Client: a script sets key to new if it holds
// old, and reports whether it did.
func (c *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	swapped := false
	err := c.do(ctx, "cas", key, func(ctx context.Context) error {
		cmd := goredis.NewIntCmd(ctx, "eval", casScript, 1, registerKey(key), old, new)
		ack, err := c.write(ctx, cmd)
		if err != nil {
			return err
		}
		if cmd.Val() == 0 {
			return nil
		}
		swapped = true
		return ack
	})
	return swapped, err
}

// Package memory is an in-process target: one linearizable register store
// shared by every "node", with no hosts, no root and no network. It is for
// trying faultline's controller and checkers on a laptop (`faultline run
// --target memory`) and for the controller's unit tests; it proves nothing
// about a real system. Faults that need hosts (partitions, kills) do not
// apply to it.
//
// With StaleReads set, each node serves reads from its own copy that lags
// the store by a random number of writes — a deliberately broken system,
// so that the whole pipeline can be seen finding a real anomaly.
package memory

import (
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// System is the in-memory cluster.
type System struct {
	Nodes      []string
	StaleReads bool
	// Latency is added to every op, to make ops overlap as in a real system.
	Latency time.Duration

	mu    sync.Mutex
	data  map[string]int64
	stale map[string]map[string]int64 // node -> key -> lagging value
	up    bool
}

// New makes a stopped system of the named nodes.
func New(nodes []string) *System {
	return &System{Nodes: nodes, data: map[string]int64{}, stale: map[string]map[string]int64{}}
}

func (s *System) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = true
	return nil
}

func (s *System) WaitHealthy(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		return errors.New("memory: not started")
	}
	return nil
}

// Teardown stops the system and writes its logs into logDir.
func (s *System) Teardown(ctx context.Context, logDir string) error {
	s.mu.Lock()
	s.up = false
	s.mu.Unlock()
	if logDir == "" {
		return nil
	}
	return s.CollectLogs(logDir)
}

// CollectLogs writes a one-line log per node, so the store layout is the
// same as for real targets.
func (s *System) CollectLogs(dir string) error {
	for _, n := range s.Nodes {
		d := filepath.Join(dir, n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "memory.log"), []byte("in-memory node "+n+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (s *System) Client(ctx context.Context, node string) (io.Closer, error) {
	return &Client{s: s, node: node}, nil
}

// Client is bound to a node.
type Client struct {
	s    *System
	node string
}

func (c *Client) Close() error { return nil }

// ErrDown is returned while the system is not started; it is definite.
var ErrDown = errors.New("memory: system is down")

func (c *Client) pause(ctx context.Context) error {
	if c.s.Latency <= 0 {
		return ctx.Err()
	}
	d := time.Duration(rand.Int63n(int64(c.s.Latency)))
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) Read(ctx context.Context, key string) (*int64, error) {
	if err := c.pause(ctx); err != nil {
		return nil, err
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		return nil, ErrDown
	}
	var v int64
	var ok bool
	if s.StaleReads {
		v, ok = s.stale[c.node][key]
	} else {
		v, ok = s.data[key]
	}
	if !ok {
		return nil, nil
	}
	return &v, nil
}

func (c *Client) write(key string, v int64) {
	s := c.s
	s.data[key] = v
	if s.StaleReads {
		for _, n := range s.Nodes {
			if s.stale[n] == nil {
				s.stale[n] = map[string]int64{}
			}
			// Each node catches up with probability 1/2: the others keep
			// serving the old value.
			if n == c.node || rand.Intn(2) == 0 {
				s.stale[n][key] = v
			}
		}
	}
}

func (c *Client) Write(ctx context.Context, key string, v int64) error {
	if err := c.pause(ctx); err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if !c.s.up {
		return ErrDown
	}
	c.write(key, v)
	return nil
}

func (c *Client) CAS(ctx context.Context, key string, old, new int64) (bool, error) {
	if err := c.pause(ctx); err != nil {
		return false, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if !c.s.up {
		return false, ErrDown
	}
	if cur, ok := c.s.data[key]; !ok || cur != old {
		return false, nil
	}
	c.write(key, new)
	return true, nil
}

// Definite: only ErrDown means an op certainly did not happen; a context
// error happened before the op was applied (pause runs first), so it is
// definite too.
func (c *Client) Definite(err error) bool {
	return errors.Is(err, ErrDown) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Package agenttest helps tests of code that runs on nodes through
// faultline's agent: test binaries act as the agent, and targets are
// paused as the pause fault pauses them.
package agenttest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
)

// Dispatch makes a test binary act as faultline's agent when a node runs
// it as `<binary> agent …`: call it first thing in TestMain.
func Dispatch() {
	if len(os.Args) > 1 && os.Args[1] == agent.Command {
		os.Exit(agent.Main(os.Args[2:]))
	}
}

// Processes is what Pauser needs of a target.
type Processes interface {
	Processes(ctx context.Context, node string) ([]int, error)
}

// Pauser stops and resumes a target's processes on nodes through their
// agents, as the pause fault does.
type Pauser struct {
	pool *agent.Pool

	mu   sync.Mutex
	next int64
	held map[string]int64
}

// NewPauser starts a session with c's agents; the test's cleanup ends it.
func NewPauser(t testing.TB, c control.Cluster) *Pauser {
	p := &Pauser{pool: agent.NewPool(c, agent.PoolOptions{Lease: time.Minute}), held: map[string]int64{}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.pool.Close(ctx); err != nil {
			t.Errorf("closing the agents: %v", err)
		}
	})
	return p
}

// Pause stops db's process trees on node; it returns once every process
// is stopped.
func (p *Pauser) Pause(ctx context.Context, db Processes, node string) error {
	roots, err := db.Processes(ctx, node)
	if err != nil {
		return err
	}
	if len(roots) == 0 {
		return fmt.Errorf("pause on %s: not running", node)
	}
	p.mu.Lock()
	p.next++
	id := p.next
	p.held[node] = id
	p.mu.Unlock()
	_, err = p.pool.Apply(ctx, node, id, agent.Action{Kind: agent.KindStop, Roots: agent.ProcsOf(roots)})
	return err
}

// Resume resumes what Pause stopped on node.
func (p *Pauser) Resume(ctx context.Context, node string) error {
	p.mu.Lock()
	id, ok := p.held[node]
	delete(p.held, node)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("resume on %s: not paused", node)
	}
	_, err := p.pool.Recover(ctx, node, id)
	return err
}

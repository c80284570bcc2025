package nemesis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/local"
)

// fakeCluster is an in-memory control.Cluster: Exec records the commands
// and answers iptables -S with nothing; nodes have no processes.
type fakeCluster struct {
	nodes []control.Node
	mu    sync.Mutex
	execs []string
}

func newFakeCluster(names ...string) *fakeCluster {
	c := &fakeCluster{}
	for i, n := range names {
		c.nodes = append(c.nodes, control.Node{Name: n, Addr: netip.AddrFrom4([4]byte{10, 99, 0, byte(11 + i)})})
	}
	return c
}

func (c *fakeCluster) Nodes() []control.Node { return c.nodes }

func (c *fakeCluster) Start(ctx context.Context, node string, cmd control.Cmd) (control.Process, error) {
	return nil, errors.New("fake cluster starts nothing")
}

func (c *fakeCluster) Exec(ctx context.Context, node string, cmd control.Cmd) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.execs = append(c.execs, node+": "+cmd.Path+" "+strings.Join(cmd.Args, " "))
	if cmd.Path == "ip" {
		return []byte("10.99.0.99 dev eth0 src 10.99.0.11 uid 0"), nil
	}
	return nil, nil
}

func (c *fakeCluster) Teardown(ctx context.Context) error { return nil }

func (c *fakeCluster) Processes(node string) ([]local.Proc, error) { return nil, nil }

// fakeDB records what faults ask of the target.
type fakeDB struct {
	primaries []string
	mu        sync.Mutex
	calls     []string
	failKill  bool
}

func (d *fakeDB) call(what, node string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, what+" "+node)
	if what == "kill" && d.failKill {
		return fmt.Errorf("kill %s: refused", node)
	}
	return nil
}

func (d *fakeDB) Setup(ctx context.Context) error                 { return nil }
func (d *fakeDB) Teardown(ctx context.Context) error              { return nil }
func (d *fakeDB) Start(ctx context.Context, node string) error    { return d.call("start", node) }
func (d *fakeDB) Stop(ctx context.Context, node string) error     { return d.call("stop", node) }
func (d *fakeDB) Kill(ctx context.Context, node string) error     { return d.call("kill", node) }
func (d *fakeDB) Pause(ctx context.Context, node string) error    { return d.call("pause", node) }
func (d *fakeDB) Resume(ctx context.Context, node string) error   { return d.call("resume", node) }
func (d *fakeDB) Restart(ctx context.Context, node string) error  { return d.call("restart", node) }
func (d *fakeDB) Wipe(ctx context.Context, node string) error     { return d.call("wipe", node) }
func (d *fakeDB) WaitHealthy(ctx context.Context) error           { return nil }
func (d *fakeDB) LogFiles(node string) []string                   { return nil }
func (d *fakeDB) Primaries(ctx context.Context) ([]string, error) { return d.primaries, nil }

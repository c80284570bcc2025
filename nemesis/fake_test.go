package nemesis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"sync"

	"github.com/faultline-dev/faultline/control"
)

// fakeCluster is an in-memory control.Cluster for tests of the logic that
// plans faults and schedules them: it runs nothing (faults that reach
// nodes are tested on real local clusters).
type fakeCluster struct {
	nodes []control.Node
	mu    sync.Mutex
	execs []string
}

var _ control.Cluster = (*fakeCluster)(nil)

func newFakeCluster(names ...string) *fakeCluster {
	c := &fakeCluster{}
	for i, n := range names {
		c.nodes = append(c.nodes, control.Node{Name: n, Addr: netip.AddrFrom4([4]byte{10, 99, 0, byte(11 + i)})})
	}
	return c
}

var errFake = errors.New("the fake cluster runs nothing")

func (c *fakeCluster) Backend() string       { return "fake" }
func (c *fakeCluster) RunID() string         { return "fake00" }
func (c *fakeCluster) Nodes() []control.Node { return c.nodes }
func (c *fakeCluster) NodeDir(n string) string {
	return "/nonexistent/" + n
}
func (c *fakeCluster) Binary(n string) string { return "/nonexistent/faultline" }
func (c *fakeCluster) Ref() control.Ref       { return control.Ref{Backend: "fake", RunID: "fake00"} }
func (c *fakeCluster) Start(ctx context.Context, node string, cmd control.Cmd) (control.Process, error) {
	return nil, errFake
}
func (c *fakeCluster) Adopt(ctx context.Context, node string, pid int) (control.Process, error) {
	return nil, errFake
}
func (c *fakeCluster) Exec(ctx context.Context, node string, cmd control.Cmd) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.execs = append(c.execs, node+": "+cmd.Path+" "+strings.Join(cmd.Args, " "))
	return nil, errFake
}
func (c *fakeCluster) MkdirAll(ctx context.Context, node, path string, perm fs.FileMode) error {
	return errFake
}
func (c *fakeCluster) WriteFile(ctx context.Context, node, path string, data []byte, perm fs.FileMode) error {
	return errFake
}
func (c *fakeCluster) ReadFile(ctx context.Context, node, path string) ([]byte, error) {
	return nil, errFake
}
func (c *fakeCluster) Exists(ctx context.Context, node, path string) (bool, error) {
	return false, errFake
}
func (c *fakeCluster) RemoveAll(ctx context.Context, node, path string) error { return errFake }
func (c *fakeCluster) Upload(ctx context.Context, node, l, r string) error    { return errFake }
func (c *fakeCluster) Download(ctx context.Context, node, r, l string) error  { return errFake }
func (c *fakeCluster) Teardown(ctx context.Context) error                     { return nil }

// fakeDB records what faults ask of the target; procs are the processes
// it says run on each node.
type fakeDB struct {
	primaries []string
	procs     map[string][]int
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
func (d *fakeDB) Restart(ctx context.Context, node string) error  { return d.call("restart", node) }
func (d *fakeDB) Wipe(ctx context.Context, node string) error     { return d.call("wipe", node) }
func (d *fakeDB) WaitHealthy(ctx context.Context) error           { return nil }
func (d *fakeDB) LogFiles(node string) []string                   { return nil }
func (d *fakeDB) Primaries(ctx context.Context) ([]string, error) { return d.primaries, nil }
func (d *fakeDB) Processes(ctx context.Context, node string) ([]int, error) {
	return d.procs[node], nil
}

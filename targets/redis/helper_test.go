package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/control/local"
)

// requireRedis skips the test when this host cannot run real servers (not
// root, no redis-server or redis-sentinel), saying why; under CI (CI=true)
// it fails instead, as controltest.RequireRoot does.
func requireRedis(t testing.TB) {
	t.Helper()
	controltest.RequireRoot(t)
	why := ""
	for _, bin := range []string{"redis-server", "redis-sentinel"} {
		if _, err := exec.LookPath(bin); err != nil {
			why = "no " + bin + " on PATH: install it (apt-get install redis-server redis-sentinel)"
			break
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true forbids skipping it", why)
	}
	t.Skip(why)
}

// fixtureNodes is how many nodes the shared cluster has: enough for a
// primary, two replicas and a quorum of sentinels.
const fixtureNodes = 3

// shared is the package's one expensive fixture: a local cluster (network
// namespaces, a bridge, the agents' directories) made by the first test
// that needs it and removed by TestMain. Tests run their own targets on it
// (on ports of their own, see newTarget), and the operation tests share
// one running server (single).
var shared struct {
	once    sync.Once
	err     error
	store   string
	cluster *local.Cluster

	singleOnce sync.Once
	singleErr  error
	single     *Target
}

// fixture is the shared cluster.
func fixture(t testing.TB) *local.Cluster {
	t.Helper()
	requireRedis(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		if shared.store, shared.err = searchableMkdirTemp(); shared.err != nil {
			return
		}
		shared.cluster, shared.err = local.New(ctx, local.Options{Nodes: local.NodeNames(fixtureNodes), StoreDir: shared.store})
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "redis test cluster %s: %d nodes in %s, up in %v\n", shared.cluster.RunID(), fixtureNodes, shared.cluster.Subnet(), time.Since(start).Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cluster
}

// singleServer is the shared one-node server (default options), started
// by the first test that needs it. Tests must leave it running.
func singleServer(t testing.TB) *Target {
	t.Helper()
	c := fixture(t)
	shared.singleOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var dir string
		if dir, shared.singleErr = searchableMkdirTemp(); shared.singleErr != nil {
			return
		}
		tg, err := New(firstNodes{c, 1}, Options{Dir: dir, Port: nextPort(), RequestTimeout: 2 * time.Second})
		if err != nil {
			shared.singleErr = err
			return
		}
		shared.single = tg
		if err := tg.Setup(ctx); err != nil {
			shared.singleErr = err
			return
		}
		shared.singleErr = tg.WaitHealthy(ctx)
	})
	if shared.singleErr != nil {
		t.Fatal(shared.singleErr)
	}
	return shared.single
}

// closeShared tears the shared fixture down (TestMain calls it) and says
// what it left behind.
func closeShared() error {
	if shared.cluster == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	var pids []int
	if tg := shared.single; tg != nil {
		for _, n := range tg.nodes {
			ps, _ := tg.Processes(ctx, n.Name)
			pids = append(pids, ps...)
		}
		if err := tg.Teardown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shared server teardown: %w", err))
		}
		os.RemoveAll(tg.opts.Dir)
	}
	id := shared.cluster.RunID()
	if err := shared.cluster.Teardown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shared cluster teardown: %w", err))
	}
	if err := leftovers(id, pids); err != nil {
		errs = append(errs, err)
	}
	os.RemoveAll(shared.store)
	return errors.Join(errs...)
}

// leftovers says what local cluster runID left on this host: network
// namespaces, its host link, and any of pids still alive after the
// subreaper's grace.
func leftovers(runID string, pids []int) error {
	var left []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), local.Prefix+runID+"-") {
			left = append(left, "namespace "+e.Name())
		}
	}
	if _, err := net.InterfaceByName(local.Prefix + runID); err == nil {
		left = append(left, "link "+local.Prefix+runID)
	}
	if err := waitGone(pids); err != nil {
		left = append(left, err.Error())
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, ", "))
	}
	return nil
}

// waitGone waits until none of pids is alive (a zombie counts as alive:
// the subreaper reaps within control.ReapGrace).
func waitGone(pids []int) error {
	deadline := time.Now().Add(control.ReapGrace + 3*time.Second)
	for _, pid := range pids {
		for {
			st, err := control.ProcState(pid)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d (state %c)", pid, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// firstNodes is a view of a cluster's first n nodes: a target of fewer
// nodes on the shared cluster.
type firstNodes struct {
	control.Cluster
	n int
}

func (f firstNodes) Nodes() []control.Node { return f.Cluster.Nodes()[:f.n] }

// ports: every target of the package's gets a server port of its own (and
// the sentinel port 20000 above it), so that targets on the shared
// cluster never meet.
var ports atomic.Int32

func nextPort() int { return 6400 + int(ports.Add(1)) }

// newTarget makes a target of nodes nodes on the shared cluster, not yet
// set up, on ports of its own. The test's cleanup tears it down, checks
// that its processes have gone, and shows its logs if the test failed.
func newTarget(t testing.TB, nodes int, opts Options) *Target {
	t.Helper()
	c := fixture(t)
	opts.Dir = searchableTempDir(t)
	if opts.Port == 0 {
		opts.Port = nextPort()
		opts.SentinelPort = opts.Port + 20000
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 2 * time.Second
	}
	tg, err := New(firstNodes{c, nodes}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var pids []int
		for _, n := range tg.nodes {
			ps, _ := tg.Processes(ctx, n.Name)
			pids = append(pids, ps...)
		}
		if err := tg.Teardown(ctx); err != nil {
			t.Errorf("target Teardown: %v", err)
		}
		if err := waitGone(pids); err != nil {
			t.Errorf("left behind: %v", err)
		}
		if t.Failed() {
			for _, n := range tg.nodes {
				for _, f := range tg.LogFiles(n.Name) {
					b, _ := os.ReadFile(f)
					s := string(b)
					if len(s) > 3000 {
						s = s[len(s)-3000:]
					}
					t.Logf("%s (last 3000 bytes):\n%s", f, s)
				}
			}
		}
	})
	return tg
}

// newClient is a client of tg homed on node, closed when the test ends.
func newClient(t testing.TB, tg *Target, node string) *Client {
	t.Helper()
	c, err := tg.Client(node)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// searchableTempDir is a temporary directory the redis user can reach:
// t.TempDir and its parent are 0700, so they are made 0755.
func searchableTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// searchableMkdirTemp is a temporary directory the redis user can reach,
// for the shared fixture (which outlives every test's TempDir).
func searchableMkdirTemp() (string, error) {
	dir, err := os.MkdirTemp("", "faultline-redis-")
	if err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

package nemesis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/faultline-dev/faultline/agent"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/control/local"
	"github.com/faultline-dev/faultline/targets"
	"github.com/faultline-dev/faultline/targets/etcd"
)

// The test binary doubles as the programs the tests run in nodes: an etcd
// member (for the kill, pause and heal tests) and a clock probe.
const (
	memberEnv = "FAULTLINE_TEST_ETCD_MEMBER"
	helperEnv = "FAULTLINE_NEMESIS_TEST_HELPER"
)

func TestMain(m *testing.M) {
	// Nodes run the test binary as faultline's agent.
	if len(os.Args) > 1 && os.Args[1] == agent.Command {
		os.Exit(agent.Main(os.Args[2:]))
	}
	if os.Getenv(memberEnv) == "1" && len(os.Args) > 1 && os.Args[1] == etcd.MemberCommand {
		if err := etcd.MemberMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Args[1:]))
	}
	if err := control.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// helperMain: clockprobe ADDR answers every connection with its
// time.Now().UnixNano().
func helperMain(args []string) int {
	if len(args) != 2 || args[0] != "clockprobe" {
		fmt.Fprintln(os.Stderr, "helper: want clockprobe ADDR")
		return 2
	}
	l, err := net.Listen("tcp", args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		fmt.Fprintf(c, "%d\n", time.Now().UnixNano())
		c.Close()
	}
}

// requireHost skips (or, under CI=true, fails) a test that needs root and
// iptables.
func requireHost(t *testing.T) {
	t.Helper()
	controltest.RequireRoot(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		const why = "needs iptables (apt-get install iptables)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s, and CI=true forbids skipping it", why)
		}
		t.Skip(why)
	}
}

// newCluster makes an n-node local cluster; the test's cleanup tears it
// down and checks that no namespace is left.
func newCluster(t *testing.T, n int) *local.Cluster {
	t.Helper()
	requireHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := local.New(ctx, local.Options{Nodes: local.NodeNames(n), StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Teardown(ctx); err != nil {
			t.Errorf("cluster Teardown: %v", err)
		}
		entries, _ := os.ReadDir("/run/netns")
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), local.Prefix+c.RunID()+"-") {
				t.Errorf("namespace %s left behind", e.Name())
			}
		}
	})
	return c
}

// newEnv is an Env on c with a session with its agents (closed by the
// test's cleanup, before the cluster's teardown).
func newEnv(t *testing.T, c control.Cluster, db targets.DB) *Env {
	t.Helper()
	pool := agent.NewPool(c, agent.PoolOptions{Lease: time.Minute, Logf: t.Logf})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pool.Close(ctx); err != nil {
			t.Errorf("closing the agents: %v", err)
		}
	})
	return &Env{Cluster: c, Agents: pool, DB: db, Logf: t.Logf}
}

// newEtcd starts an etcd member on every node of c and waits until they
// serve.
func newEtcd(t *testing.T, c *local.Cluster) *etcd.Target {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := etcd.New(c, etcd.Options{Dir: t.TempDir(), Command: []string{exe, etcd.MemberCommand}, Env: []string{memberEnv + "=1"}, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the cluster's cleanup, so it runs before it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tg.Teardown(ctx); err != nil {
			t.Errorf("etcd Teardown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd on %d nodes healthy in %v", len(c.Nodes()), time.Since(start).Round(time.Millisecond))
	return tg
}

// inNetns runs f on a fresh OS thread inside namespace ns; sockets f opens
// live in ns. The thread is thrown away afterwards.
func inNetns(t testing.TB, ns string, f func()) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatalf("opening namespace %s: %v", ns, err)
	}
	defer h.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(h); err != nil {
			done <- err
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("joining namespace %s: %v", ns, err)
	}
}

func namespace(t testing.TB, c *local.Cluster, node string) string {
	t.Helper()
	ns, err := c.Namespace(node)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func addr(c *local.Cluster, node string) string {
	for _, n := range c.Nodes() {
		if n.Name == node {
			return n.Addr.String()
		}
	}
	return ""
}

// faultlineRules returns the lines of `iptables -S` in node that mention
// faultline's chains.
func faultlineRules(t *testing.T, c *local.Cluster, node string) []string {
	t.Helper()
	out, err := c.Exec(context.Background(), node, control.Cmd{Path: "iptables", Args: []string{"-w", "5", "-S"}})
	if err != nil {
		t.Fatalf("iptables -S on %s: %v", node, err)
	}
	var rules []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, agent.RootChain) {
			rules = append(rules, l)
		}
	}
	return rules
}

func assertNoFaultlineRules(t *testing.T, c *local.Cluster) {
	t.Helper()
	for _, n := range c.Nodes() {
		if rules := faultlineRules(t, c, n.Name); len(rules) > 0 {
			t.Errorf("faultline rules left on %s: %v", n.Name, rules)
		}
	}
}

// nodePids lists the pids in node's namespace.
func nodePids(t *testing.T, c *local.Cluster, node string) []int {
	t.Helper()
	ps, err := c.Processes(node)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range ps {
		out = append(out, p.Pid)
	}
	return out
}

func journalPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), JournalFile)
}

package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/control/local"
)

// The test binary is the agent too: nodes run it as `<test binary> agent
// VERB …`, as they run faultline.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Command {
		os.Exit(Main(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "sleeper" {
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	if err := control.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func newCluster(t *testing.T, nodes ...string) *local.Cluster {
	t.Helper()
	controltest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := local.New(ctx, local.Options{Nodes: nodes, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Teardown(ctx); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	return c
}

func exec1(t *testing.T, c control.Cluster, node string, path string, args ...string) string {
	t.Helper()
	out, err := c.Exec(context.Background(), node, control.Cmd{Path: path, Args: args})
	if err != nil {
		t.Fatalf("%s %v on %s: %v", path, args, node, err)
	}
	return string(out)
}

func sleeper(t *testing.T, c control.Cluster, node string) control.Process {
	t.Helper()
	exe, _ := os.Executable()
	p, err := c.Start(context.Background(), node, control.Cmd{Path: exe, Args: []string{"sleeper"}, LogPath: c.NodeDir(node) + "/sleeper.log"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func state(t *testing.T, pid int) byte {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	return st.state
}

// A partition and a stop applied through a session's agent are in
// effect on the node, recorded in the ledger, and undone by recover.
func TestApplyRecover(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	ctx := context.Background()
	p := NewPool(c, PoolOptions{Lease: 30 * time.Second})
	defer p.Close(ctx)
	n2 := c.Nodes()[1].Addr.String()
	if err := p.Setup(ctx, "n1", PartitionChain); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx, "n1", 1, Action{Kind: KindDrop, Peers: []string{n2}}); err != nil {
		t.Fatal(err)
	}
	rules := exec1(t, c, "n1", "iptables", "-S")
	for _, want := range []string{"-A INPUT -j FAULTLINE", "-A OUTPUT -j FAULTLINE", "-A FAULTLINE -j FAULTLINE-PARTITION", "-A FAULTLINE-PARTITION -s " + n2 + "/32 -j DROP", "-A FAULTLINE-PARTITION -d " + n2 + "/32 -j DROP"} {
		if !strings.Contains(rules, want+"\n") {
			t.Errorf("n1's rules lack %q:\n%s", want, rules)
		}
	}
	order, _, err := outstanding(ledgerPath(c.NodeDir("n1"), p.Session()))
	if err != nil || len(order) != 1 || order[0] != 1 {
		t.Errorf("ledger holds %v, %v; want fault 1", order, err)
	}
	proc := sleeper(t, c, "n2")
	applied, err := p.Apply(ctx, "n2", 2, Action{Kind: KindStop, Roots: ProcsOf([]int{proc.Pid()})})
	if err != nil || len(applied.Procs) != 1 {
		t.Fatalf("stop: %+v, %v", applied, err)
	}
	if s := state(t, proc.Pid()); s != 'T' {
		t.Errorf("stopped process in state %c", s)
	}
	if _, err := p.Recover(ctx, "n1", 1); err != nil {
		t.Fatal(err)
	}
	if rules := exec1(t, c, "n1", "iptables", "-S", PartitionChain); strings.Contains(rules, "DROP") {
		t.Errorf("partition not healed:\n%s", rules)
	}
	if _, err := p.Recover(ctx, "n2", 2); err != nil {
		t.Fatal(err)
	}
	if s := state(t, proc.Pid()); s == 'T' {
		t.Errorf("resumed process still in state %c", s)
	}
	if err := p.Cleanup(ctx, "n1", PartitionChain); err != nil {
		t.Fatal(err)
	}
	if rules := exec1(t, c, "n1", "iptables", "-S"); strings.Contains(rules, "FAULTLINE") {
		t.Errorf("faultline's chains left after cleanup:\n%s", rules)
	}
}

// A rule of the node's own survives faultline's partitions, heals and
// cleanups.
func TestOwnRulesUntouched(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	ctx := context.Background()
	exec1(t, c, "n1", "iptables", "-A", "INPUT", "-s", "192.0.2.7", "-j", "ACCEPT")
	exec1(t, c, "n1", "iptables", "-t", "nat", "-A", "OUTPUT", "-d", "192.0.2.8", "-j", "RETURN")
	p := NewPool(c, PoolOptions{Lease: 30 * time.Second})
	if _, err := p.Apply(ctx, "n1", 1, Action{Kind: KindDrop, Peers: []string{c.Nodes()[1].Addr.String()}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := heal(c.NodeDir("n1"), false, false, false, false); err != nil {
		t.Fatalf("heal: %v %v", out, err)
	}
	// The sweep runs in this (host) namespace only when asked on a node;
	// run it on n1 through the cluster.
	exec1(t, c, "n1", c.Binary("n1"), Command, "heal", "--dir", c.NodeDir("n1"), "--sweep")
	rules := exec1(t, c, "n1", "iptables", "-S")
	if !strings.Contains(rules, "-A INPUT -s 192.0.2.7/32 -j ACCEPT") {
		t.Errorf("the node's own rule is gone:\n%s", rules)
	}
	if strings.Contains(rules, "FAULTLINE") {
		t.Errorf("faultline's chains left:\n%s", rules)
	}
	if nat := exec1(t, c, "n1", "iptables", "-t", "nat", "-S"); !strings.Contains(nat, "192.0.2.8") {
		t.Errorf("the nat table was touched:\n%s", nat)
	}
}

// When the controller goes (the agent's input closes) the agent holds its
// faults until the lease runs out, then undoes them and exits.
func TestLeaseExpiry(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	ctx := context.Background()
	proc := sleeper(t, c, "n1")
	p := NewPool(c, PoolOptions{Lease: 2 * time.Second})
	if _, err := p.Apply(ctx, "n1", 7, Action{Kind: KindStop, Roots: ProcsOf([]int{proc.Pid()})}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(ctx, "n2", 7, Action{Kind: KindDrop, Peers: []string{c.Nodes()[0].Addr.String()}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Detach() // as a controller that dies: no bye, input closed
	if s := state(t, proc.Pid()); s != 'T' {
		t.Fatalf("the fault did not outlive the controller: state %c", s)
	}
	deadline := time.Now().Add(10 * time.Second)
	for state(t, proc.Pid()) == 'T' {
		if time.Now().After(deadline) {
			t.Fatalf("still stopped %v after the controller went (lease 2s)", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if elapsed < 1500*time.Millisecond {
		t.Errorf("healed after %v, before the 2 s lease ran out", elapsed)
	}
	for time.Now().Before(deadline) {
		if !strings.Contains(exec1(t, c, "n2", "iptables", "-S", PartitionChain), "DROP") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rules := exec1(t, c, "n2", "iptables", "-S", PartitionChain); strings.Contains(rules, "DROP") {
		t.Errorf("partition on n2 not healed by its agent's lease:\n%s", rules)
	}
	t.Logf("healed %v after the controller went (lease 2 s)", elapsed.Round(10*time.Millisecond))
}

// A controller that dies while its agent holds no fault (between two
// faults): with Reap, the agent still waits out the lease and then kills
// what the run spawned, so that the target does not run on for ever.
func TestLeaseReapsWithoutFaults(t *testing.T) {
	c := newCluster(t, "n1")
	ctx := context.Background()
	exe, _ := os.Executable()
	dir := c.NodeDir("n1")
	spawner, err := c.Start(ctx, "n1", control.Cmd{Path: c.Binary("n1"),
		Args: []string{Command, "spawn", "--log", dir + "/spawned.log", "--dir", dir, "--", exe, "sleeper"}, LogPath: dir + "/spawn.log"})
	if err != nil {
		t.Fatal(err)
	}
	defer spawner.Signal(syscall.SIGKILL)
	var kids []Proc
	for deadline := time.Now().Add(10 * time.Second); len(kids) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("spawn recorded no process")
		}
		kids, _, _ = spawned(dir)
	}
	p := NewPool(c, PoolOptions{Lease: time.Second, Reap: true})
	if _, err := p.Apply(ctx, "n1", 1, Action{Kind: KindNote, What: "a fault that is over"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Recover(ctx, "n1", 1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Detach() // the controller dies: no bye, nothing held
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := kids[0].live(); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spawned process (pid %d) still runs %v after the controller went (lease 1 s, reap)", kids[0].Pid, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if elapsed := time.Since(start); elapsed < 800*time.Millisecond {
		t.Errorf("reaped after %v, before the 1 s lease ran out", elapsed)
	}
}

// heal from another process undoes what a killed agent left in its
// ledger.
func TestHealAfterAgentKilled(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	ctx := context.Background()
	proc := sleeper(t, c, "n1")
	p := NewPool(c, PoolOptions{Lease: time.Hour})
	if _, err := p.Apply(ctx, "n1", 3, Action{Kind: KindStop, Roots: ProcsOf([]int{proc.Pid()})}); err != nil {
		t.Fatal(err)
	}
	warden, err := readPidFile(pidPath(c.NodeDir("n1"), p.Session()))
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(warden.Pid, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	p.Detach()
	if s := state(t, proc.Pid()); s != 'T' {
		t.Fatalf("state %c, want T", s)
	}
	var out bytes.Buffer
	cmd := exec.Command(c.Binary("n1"), Command, "heal", "--dir", c.NodeDir("n1"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("heal: %v: %s", err, out.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("resumed stopped pid %d", proc.Pid())) {
		t.Errorf("heal said:\n%s", out.String())
	}
	if s := state(t, proc.Pid()); s == 'T' {
		t.Errorf("still stopped after heal")
	}
}

package local

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/controltest"
	"github.com/faultline-dev/faultline/internal/hostnet"
)

// newCluster makes a cluster whose teardown, and a check that it left
// nothing behind, run even if the test fails.
func newCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	controltest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Logf("created run %s: %d nodes in %s in %v", c.RunID(), len(c.Nodes()), c.Subnet(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Teardown(ctx); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		assertGone(t, c.RunID(), nil)
	})
	return c
}

// assertGone checks that nothing of run id is left on the host: no
// namespace, no host link, no lock file, and none of pids alive.
func assertGone(t *testing.T, id string, pids []int) {
	t.Helper()
	names, err := hostnet.ListNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if rid, _, ok := parseNamespace(n); ok && rid == id {
			t.Errorf("namespace %s left behind", n)
		}
	}
	if _, err := netlink.LinkByName(hostLinkName(id)); err == nil {
		t.Errorf("link %s left behind", hostLinkName(id))
	}
	if _, err := os.Stat(runLockPath(id)); err == nil {
		t.Errorf("lock file %s left behind", runLockPath(id))
	}
	if _, err := os.Stat(control.RunDir(id)); err == nil {
		t.Errorf("run directory %s left behind", control.RunDir(id))
	}
	// Killed children are reaped by their waiters at once, orphans by the
	// subreaper within ReapGrace.
	deadline := time.Now().Add(control.ReapGrace + 3*time.Second)
	for _, pid := range pids {
		for {
			st, err := control.ProcState(pid)
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("process %d left behind (state %c)", pid, st)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitLog waits until path contains want.
func waitLog(t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never said %q; it has:\n%s", path, want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNodesReachEachOtherAndTheController(t *testing.T) {
	c := newCluster(t, Options{Nodes: NodeNames(5)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	nodes := c.Nodes()
	if len(nodes) != 5 || nodes[0].Name != "n1" || nodes[4].Name != "n5" || nodes[0].Addr.As4()[3] != 11 {
		t.Fatalf("Nodes() = %v", nodes)
	}
	for _, n := range nodes {
		if !c.Subnet().Contains(n.Addr) || n.Addr == c.HostAddr() {
			t.Fatalf("node %s has address %v outside %v or equal to the controller's", n.Name, n.Addr, c.Subnet())
		}
	}

	n1 := netip.AddrPortFrom(nodes[0].Addr, 7000).String()
	listenLog := filepath.Join(dir, "n1", "listen.log")
	lp, err := c.Start(ctx, "n1", helperCmd(t, listenLog, "listen", n1))
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, listenLog, "listening on "+n1)
	if procs, err := c.Processes("n1"); err != nil || !slices.ContainsFunc(procs, func(p Proc) bool { return p.Pid == lp.Pid() }) {
		t.Errorf("Processes(n1) = %v, %v; want it to list the listener %d", procs, err, lp.Pid())
	}

	// Every other node dials n1 from its own address.
	for _, n := range nodes[1:] {
		out, err := c.Exec(ctx, n.Name, helperCmd(t, "", "dial", n1))
		if err != nil {
			t.Fatalf("dial from %s to n1: %v", n.Name, err)
		}
		if want := "to " + n.Addr.String() + ":"; !strings.Contains(string(out), want) {
			t.Errorf("dial from %s: got %q, want the peer address %s", n.Name, out, want)
		}
	}
	// The controller dials n1 from its address on the bridge.
	conn, err := net.DialTimeout("tcp", n1, 2*time.Second)
	if err != nil {
		t.Fatalf("dial from the controller to n1: %v", err)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.Contains(line, "to "+c.HostAddr().String()+":") {
		t.Errorf("controller's dial: got %q, want the peer address %s", line, c.HostAddr())
	}

	// A node listening on its own address is not reachable at another's.
	_, err = c.Exec(ctx, "n2", helperCmd(t, "", "dial", netip.AddrPortFrom(nodes[2].Addr, 7000).String()))
	var ee *control.ExitError
	if !errors.As(err, &ee) || ee.Status.Code != 1 || !strings.Contains(err.Error(), "refused") {
		t.Errorf("dial to a node with no listener: err = %v, want an ExitError with code 1 saying refused", err)
	}
	if _, err := c.Exec(ctx, "n9", helperCmd(t, "", "dial", n1)); !errors.Is(err, control.ErrNoNode) {
		t.Errorf("Exec on n9: err = %v, want ErrNoNode", err)
	}
}

func TestSignalsAndWait(t *testing.T) {
	c := newCluster(t, Options{Nodes: NodeNames(2)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logPath := filepath.Join(t.TempDir(), "sleep.log")
	p, err := c.Start(ctx, "n2", helperCmd(t, logPath, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, logPath, "sleeping")

	waitState := func(want byte) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, err := control.ProcState(p.Pid())
			if err == nil && st == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("process %d never reached state %c: state %q, %v", p.Pid(), want, st, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState('T')
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitState('S')
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != 7 || st.Signal != 0 {
		t.Fatalf("Wait after SIGTERM = %+v, %v; want exit code 7", st, err)
	}
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, control.ErrExited) {
		t.Errorf("Signal after exit: %v, want ErrExited", err)
	}

	p2, err := c.Start(ctx, "n1", helperCmd(t, logPath, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st, _ := p2.Wait(ctx); st.Signal != syscall.SIGKILL || st.Success() {
		t.Errorf("Wait after SIGKILL = %+v, want killed by SIGKILL", st)
	}
}

// A controller that dies without Teardown leaves namespaces, links and
// processes (some orphaned); Cleanup finds and removes all of them.
func TestCleanupAfterCrash(t *testing.T) {
	controltest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := New(ctx, Options{Nodes: NodeNames(3)})
	if err != nil {
		t.Fatal(err)
	}
	id := c.RunID()
	var pids []int
	t.Cleanup(func() {
		// Whatever happened, leave nothing behind.
		if _, err := removeRun(context.Background(), id); err != nil {
			t.Errorf("final removeRun: %v", err)
		}
		assertGone(t, id, pids)
	})
	dir := t.TempDir()
	for _, n := range c.Nodes() {
		p, err := c.Start(ctx, n.Name, helperCmd(t, filepath.Join(dir, n.Name+".log"), "sleep"))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p.Pid())
	}
	// A process whose parent exits: its child is re-parented to us.
	out, err := c.Exec(ctx, "n1", helperCmd(t, "", "orphan"))
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("orphan pid %q: %v", out, err)
	}
	pids = append(pids, orphan)

	// Node data, as a target leaves it in the node's directory.
	if err := os.MkdirAll(filepath.Join(c.NodeDir("n1"), "data"), 0o755); err != nil {
		t.Fatal(err)
	}

	// The crash: the run's lock is released, nothing is torn down.
	c.mu.Lock()
	c.lock.Close()
	c.lock = nil
	c.mu.Unlock()

	rep, err := Cleanup(ctx, CleanupOptions{})
	if err != nil {
		t.Fatalf("Cleanup: %v\n%s", err, rep)
	}
	t.Logf("Cleanup report:\n%s", rep)
	var gotNs, gotPids []string
	for _, n := range rep.Namespaces {
		if rid, _, _ := parseNamespace(n); rid == id {
			gotNs = append(gotNs, n)
		}
	}
	for _, p := range rep.Processes {
		if rid, _, _ := parseNamespace(p.Namespace); rid == id {
			gotPids = append(gotPids, strconv.Itoa(p.Pid))
		}
	}
	if len(gotNs) != 4 {
		t.Errorf("Cleanup removed namespaces %v of run %s, want 3 nodes and the hub", gotNs, id)
	}
	for _, pid := range pids {
		if !slices.Contains(gotPids, strconv.Itoa(pid)) {
			t.Errorf("Cleanup did not report killing %d (killed %v)", pid, gotPids)
		}
	}
	if !slices.Contains(rep.Dirs, control.RunDir(id)) {
		t.Errorf("Cleanup removed directories %v, want %s", rep.Dirs, control.RunDir(id))
	}
	if !slices.Contains(rep.Links, hostLinkName(id)) || !slices.Contains(rep.LockFiles, runLockPath(id)) {
		t.Errorf("Cleanup removed links %v and lock files %v, want %s and %s", rep.Links, rep.LockFiles, hostLinkName(id), runLockPath(id))
	}
	assertGone(t, id, pids)
}

// Cleanup leaves a run alone while its controller lives.
func TestCleanupLeavesLiveRuns(t *testing.T) {
	c := newCluster(t, Options{Nodes: NodeNames(2)})
	rep, err := Cleanup(context.Background(), CleanupOptions{Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Skipped, func(r LiveRun) bool { return r.RunID == c.RunID() && r.Pid == os.Getpid() }) {
		t.Errorf("Cleanup did not skip live run %s: %v", c.RunID(), rep)
	}
	if _, err := os.Stat(filepath.Join(hostnet.NetnsDir, NamespaceName(c.RunID(), "n1"))); err != nil {
		t.Errorf("Cleanup removed a live run's namespace: %v", err)
	}
}

// A detached cluster (faultline cluster up) lives on in its processes
// after its creator lets go; Attach finds it again, Cleanup removes it only
// when asked to.
func TestDetachedClusterOutlivesItsCreator(t *testing.T) {
	controltest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, Options{Nodes: NodeNames(2), Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	id := c.RunID()
	var pids []int
	t.Cleanup(func() {
		if _, err := removeRun(context.Background(), id); err != nil {
			t.Errorf("final removeRun: %v", err)
		}
		assertGone(t, id, pids)
	})
	p, err := c.Start(ctx, "n2", helperCmd(t, filepath.Join(t.TempDir(), "sleep.log"), "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	pids = append(pids, p.Pid())
	c.mu.Lock()
	c.lock.Close() // the creator exits; the process holds the lock on
	c.lock = nil
	c.mu.Unlock()

	if alive, meta := runLockState(id); !alive || !meta.Detached {
		t.Fatalf("run lock: alive %v, meta %+v; want alive and detached", alive, meta)
	}
	rep, err := Cleanup(ctx, CleanupOptions{})
	if err != nil || !slices.ContainsFunc(rep.Skipped, func(r LiveRun) bool { return r.RunID == id && r.Detached }) {
		t.Fatalf("Cleanup without Detached = %v, %v; want run %s skipped", rep, err, id)
	}

	a, err := Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Nodes(), c.Nodes()) || a.Subnet() != c.Subnet() || a.HostAddr() != c.HostAddr() || !a.Detached() {
		t.Errorf("Attach: nodes %v subnet %v host %v detached %v; want %v %v %v true", a.Nodes(), a.Subnet(), a.HostAddr(), a.Detached(), c.Nodes(), c.Subnet(), c.HostAddr())
	}
	procs, err := a.Processes("n2")
	if err != nil || len(procs) != 1 || procs[0].Pid != p.Pid() {
		t.Errorf("attached Processes(n2) = %v, %v; want [%d]", procs, err, p.Pid())
	}
	ap, err := a.Adopt(ctx, "n2", p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := ap.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ap.Signal(syscall.SIGTERM); !errors.Is(err, control.ErrExited) {
		t.Errorf("Signal to an adopted process after exit: %v, want ErrExited", err)
	}
	if _, err := a.Adopt(ctx, "n2", p.Pid()); err == nil {
		t.Errorf("Adopt of a process that has gone: no error")
	}
	if err := a.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, id, pids)
}

// A cluster whose teardown was cut short (its nodes' namespaces gone, the
// hub and the controller's link left) is not "gone": the backend attaches
// to what is left, and Teardown removes it. Only a run with no namespace at
// all is control.ErrGone.
func TestAttachHalfRemovedCluster(t *testing.T) {
	controltest.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := New(ctx, Options{Nodes: NodeNames(2)})
	if err != nil {
		t.Fatal(err)
	}
	id := c.RunID()
	t.Cleanup(func() { _, _ = removeRun(context.Background(), id) })
	ref := c.Ref()
	for _, n := range []string{"n1", "n2"} {
		if err := hostnet.DeleteNamespace(NamespaceName(id, n)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := control.Lookup(BackendName)
	if err != nil {
		t.Fatal(err)
	}
	a, err := b.Attach(ctx, ref, control.Config{})
	if err != nil {
		t.Fatalf("Attach of a half-removed cluster: %v (want the hub found)", err)
	}
	if err := a.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, id, nil)
	if _, err := b.Attach(ctx, ref, control.Config{}); !errors.Is(err, control.ErrGone) {
		t.Errorf("Attach after teardown: %v, want ErrGone", err)
	}
}

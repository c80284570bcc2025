package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/ssh/sshtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The SSH tests run faultline against nodes that share nothing with the
// controller but the network: each an sshd in its own network, mount, UTS
// and PID namespaces with private /tmp, /var/lib, /opt, /run and /root
// (control/ssh/sshtest). faultline reaches them only over SSH, and every
// check of a node's state below goes over SSH too (the fixture's own
// client). One fixture of five nodes serves every test of this file.

var fixture struct {
	once sync.Once
	f    *sshtest.Fixture
	err  error
}

func sshNodes(t *testing.T) *sshtest.Fixture {
	t.Helper()
	sshtest.Require(t)
	fixture.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		fixture.f, fixture.err = sshtest.Start(ctx, sshtest.Options{Nodes: 5, SudoUser: true})
	})
	if fixture.err != nil {
		t.Fatalf("ssh nodes: %v", fixture.err)
	}
	return fixture.f
}

// closeSSHNodes is called by TestMain after the tests.
func closeSSHNodes() {
	if fixture.f != nil {
		fixture.f.Close()
	}
}

// sshFlags are the flags of the command line.
func sshFlags(f *sshtest.Fixture) []string {
	return []string{"--control", "ssh", "--nodes-file", f.NodesFile, "--ssh-user", "root", "--ssh-key", f.Key, "--ssh-known-hosts", f.KnownHosts}
}

// onNode runs a script on a node over the fixture's own SSH client.
func onNode(t *testing.T, f *sshtest.Fixture, node, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := f.Exec(ctx, node, script)
	if err != nil {
		t.Fatalf("on %s: %s: %v\n%s", node, script, err, out)
	}
	return out
}

// nodeState is what a node shows of faultline: its processes, its
// FAULTLINE rules, its stopped processes, its run directories.
type nodeState struct {
	procs, rules, stopped, runs []string
}

func (s nodeState) clean() bool {
	return len(s.procs)+len(s.rules)+len(s.stopped)+len(s.runs) == 0
}

func (s nodeState) String() string {
	return fmt.Sprintf("processes %q, rules %q, stopped %q, run dirs %q", s.procs, s.rules, s.stopped, s.runs)
}

// stateOf reads a node's state over SSH. The patterns are bracketed so
// that the shell reading them does not match itself.
func stateOf(t *testing.T, f *sshtest.Fixture, node string) nodeState {
	t.Helper()
	const script = `for p in /proc/[0-9]*; do c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null); case "$c" in *[f]aultline*) echo "P ${p#/proc/} $c";; esac; done
iptables -w 5 -S 2>/dev/null | grep '[F]AULTLINE' | sed 's/^/R /'
ps -eo pid=,stat=,args= | awk '$2 ~ /^T/ {print "T " $0}'
ls /var/lib/fault''line/runs 2>/dev/null | sed 's/^/D /'
true`
	var s nodeState
	for _, line := range strings.Split(onNode(t, f, node, script), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "P":
			s.procs = append(s.procs, rest)
		case "R":
			s.rules = append(s.rules, rest)
		case "T":
			s.stopped = append(s.stopped, rest)
		case "D":
			s.runs = append(s.runs, rest)
		}
	}
	return s
}

func assertNodesClean(t *testing.T, f *sshtest.Fixture) {
	t.Helper()
	for _, n := range f.Nodes {
		if s := stateOf(t, f, n.Name); !s.clean() {
			t.Errorf("%s (%s) is not clean: %s", n.Name, n.Addr, s)
		}
	}
}

// TestSSHRun is the command on five SSH nodes: valid, node logs
// collected, nothing of faultline's left on any node.
func TestSSHRun(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, append([]string{"run", "--time-limit", "10s", "--store", "store"}, sshFlags(f)...)...)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	for _, n := range f.Nodes {
		b, err := os.ReadFile(filepath.Join(run, "nodes", n.Addr.String(), "etcd.log"))
		if err != nil || !bytes.Contains(b, []byte("ready, serving clients")) {
			t.Errorf("log of %s not collected or incomplete: %v (%d bytes)", n.Addr, err, len(b))
		}
	}
	for _, f := range []string{"cluster.json", "plan.json", "history.jsonl", "results.json"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("store lacks %s: %v", f, err)
		}
	}
	// No secret in what the run wrote: the plan names the key's path.
	key, _ := os.ReadFile(f.Key)
	for _, name := range []string{"plan.json", "cluster.json", "faultline.log"} {
		b, _ := os.ReadFile(filepath.Join(run, name))
		if bytes.Contains(b, bytes.TrimSpace(key)[40:80]) {
			t.Errorf("%s holds the private key", name)
		}
	}
	assertNodesClean(t, f)
	t.Logf("%s", lastLines(out, 3))
}

// A login user that is not root, with passwordless sudo -n: the same run
// works, faultline's work on the nodes done through sudo.
func TestSSHRunAsSudoUser(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	args := []string{"run", "--time-limit", "5s", "--nemesis", "partition,pause", "--nemesis-overlap", "--nemesis-interval", "1s", "--store", "store",
		"--control", "ssh", "--nodes-file", f.NodesFile, "--ssh-user", sshtest.SudoUserName, "--ssh-key", f.Key, "--ssh-known-hosts", f.KnownHosts}
	code, out, errOut := faultline(t, dir, args...)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	assertNodesClean(t, f)
	t.Logf("%s", lastLines(out, 2))
}

// Serializable reads under partitions go stale; faultline says so.
func TestSSHRunFindsStaleReads(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, append([]string{"run", "--read-consistency", "serializable", "--nemesis", "partition",
		"--nemesis-interval", "3s", "--time-limit", "20s", "--seed", "1", "--store", "store"}, sshFlags(f)...)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (invalid)\n%s\n%s", code, out, errOut)
	}
	assertNodesClean(t, f)
	t.Logf("%s", lastLines(out, 4))
}

// Every fault over 60 s, overlapping, and no false alarm.
func TestSSHRunAllFaults(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, append([]string{"run", "--nemesis", "partition,kill,pause,clock", "--nemesis-overlap",
		"--nemesis-interval", "5s", "--time-limit", "60s", "--seed", "3", "--store", "store"}, sshFlags(f)...)...)
	if code != 0 {
		t.Fatalf("exit %d, want 0 (valid)\n%s\n%s", code, out, errOut)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	for _, fault := range []string{"partition", "kill", "pause", "clock"} {
		if n := bytes.Count(h, []byte(`"f":"start-`+fault+`"`)); n == 0 {
			t.Errorf("no %s was injected", fault)
		} else if bytes.Contains(h, []byte(`"f":"start-`+fault+`","value":null,"error"`)) {
			t.Errorf("an injection of %s failed", fault)
		}
	}
	assertNodesClean(t, f)
	t.Logf("%s", lastLines(out, 4))
}

// startKilledRun starts a run with a partition and a pause overlapping,
// waits until both are in effect (seen over SSH), and SIGKILLs the
// controller.
func startKilledRun(t *testing.T, f *sshtest.Fixture, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"run", "--nemesis", "partition,pause", "--nemesis-overlap", "--nemesis-interval", "3s",
		"--time-limit", "120s", "--seed", "4", "--store", "store"}, sshFlags(f)...)
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(120 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("a partition and a pause were never in effect together:\n%s", stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
		matches, _ := filepath.Glob(filepath.Join(dir, "store", "*", "*", "history.jsonl"))
		if len(matches) != 1 {
			continue
		}
		h, _ := os.ReadFile(matches[0])
		if !active(h, "partition") || !active(h, "pause") {
			continue
		}
		rules, stopped := 0, 0
		for _, n := range f.Nodes {
			s := stateOf(t, f, n.Name)
			for _, r := range s.rules {
				if strings.Contains(r, "DROP") {
					rules++
				}
			}
			stopped += len(s.stopped)
		}
		if rules > 0 && stopped > 0 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// active says whether the history's last start of fault has no stop yet.
func active(h []byte, fault string) bool {
	i := bytes.LastIndex(h, []byte(`"f":"start-`+fault+`"`))
	if i < 0 {
		return false
	}
	line, _, _ := bytes.Cut(h[i:], []byte("\n"))
	return !bytes.Contains(h[i:], []byte(`"f":"stop-`+fault+`"`)) && !bytes.Contains(line, []byte(`"error"`))
}

// SIGKILL of the controller while a partition and a pause are in effect:
// `faultline heal` leaves every node clean; a second run killed the same way
// with --fault-lease 15s and no heal is clean within 25 s.
func TestSSHKilledMidFault(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	startKilledRun(t, f, dir)
	start := time.Now()
	code, out, errOut := faultline(t, dir, "heal")
	if code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("heal in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	assertNodesClean(t, f)

	dir = t.TempDir()
	startKilledRun(t, f, dir, "--fault-lease", "15s")
	killed := time.Now()
	var last nodeState
	for {
		clean := true
		for _, n := range f.Nodes {
			s := stateOf(t, f, n.Name)
			if len(s.stopped) > 0 || len(s.procs) > 0 || strings.Contains(strings.Join(s.rules, "\n"), "DROP") {
				clean, last = false, s
				break
			}
		}
		if clean {
			break
		}
		if time.Since(killed) > 25*time.Second {
			t.Fatalf("not clean 25 s after the controller died (lease 15 s): %s", last)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the nodes healed themselves %v after the controller died (lease 15 s)", time.Since(killed).Round(100*time.Millisecond))
	// The run's directories and empty chains are for heal to remove.
	if code, out, errOut := faultline(t, dir, "heal"); code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", code, out, errOut)
	}
	assertNodesClean(t, f)
}

// A host key that does not match, a host missing from known_hosts, a wrong
// client key: exit 3 naming the host (and user@host for auth), and nothing
// uploaded or started on any node.
func TestSSHRefusesBadKeys(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	kh, err := os.ReadFile(f.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	bad, victim := f.Nodes[1], f.Nodes[2]
	// n2's line with n3's key: a mismatch; n3's line dropped: unknown.
	var mismatch, missing []string
	var n3Key string
	for _, l := range lines {
		if strings.HasPrefix(l, victim.Addr.String()+" ") {
			n3Key = strings.SplitN(l, " ", 2)[1]
		}
	}
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, bad.Addr.String()+" "):
			mismatch = append(mismatch, bad.Addr.String()+" "+n3Key)
			missing = append(missing, l)
		case strings.HasPrefix(l, victim.Addr.String()+" "):
			mismatch = append(mismatch, l)
		default:
			mismatch = append(mismatch, l)
			missing = append(missing, l)
		}
	}
	write := func(name string, lines []string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		return p
	}
	otherKey := filepath.Join(dir, "other_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	home := "/var/lib/faultline-refused"
	for _, c := range []struct {
		name       string
		kh, key    string
		want, host string
	}{
		{"mismatch", write("kh-mismatch", mismatch), f.Key, "host key mismatch", bad.Addr.String()},
		{"unknown", write("kh-missing", missing), f.Key, "not in", victim.Addr.String()},
		{"wrong-key", f.KnownHosts, otherKey, "authentication failed", "root@" + f.Nodes[0].Addr.String()},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"run", "--time-limit", "5s", "--store", "store", "--control", "ssh", "--nodes-file", f.NodesFile,
				"--ssh-user", "root", "--ssh-key", c.key, "--ssh-known-hosts", c.kh, "--control-opt", "home=" + home, "--control-opt", "config=none"}
			code, out, errOut := faultline(t, dir, args...)
			if code != 3 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, c.host) {
				t.Fatalf("exit %d, want 3 with %q naming %s:\n%s%s", code, c.want, c.host, out, errOut)
			}
			t.Logf("%s", strings.TrimSpace(errOut))
			for _, n := range f.Nodes {
				if out := onNode(t, f, n.Name, "ls -d "+home+" 2>/dev/null; true"); strings.TrimSpace(out) != "" {
					t.Errorf("%s: %s was made although a node was refused", n.Name, home)
				}
				if s := stateOf(t, f, n.Name); len(s.procs) > 0 {
					t.Errorf("%s runs faultline although a node was refused: %v", n.Name, s.procs)
				}
			}
		})
	}
}

// An etcd cluster started on the nodes beforehand, outside faultline, is
// tested with kill, pause and partition as an existing cluster: afterwards
// it runs, its data is intact, and a rule of the node's own is still there.
func TestSSHExistingCluster(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	// A faultline binary the nodes can run: /var/tmp is the host's (their
	// /tmp is their own).
	shared, err := os.MkdirTemp("/var/tmp", "faultline-existing-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	etcdBin := filepath.Join(shared, "etcd-runner")
	if b, err := os.ReadFile(bin); err != nil || os.WriteFile(etcdBin, b, 0o755) != nil {
		t.Fatal(err)
	}
	var cluster []string
	for _, n := range f.Nodes {
		cluster = append(cluster, fmt.Sprintf("%s=http://%s:2380", n.Name, n.Addr))
	}
	const base = "/var/lib/etcd-existing"
	for _, n := range f.Nodes {
		a := n.Addr.String()
		script := fmt.Sprintf(`mkdir -p %[1]s && cat > %[1]s/start.sh <<'EOF'
#!/bin/sh
setsid %[2]s etcd-member --name %[3]s --data-dir %[1]s/data --listen-client-urls http://%[4]s:2379 --listen-peer-urls http://%[4]s:2380 --initial-cluster %[5]s --initial-cluster-state new --initial-cluster-token existing >> %[1]s/etcd.log 2>&1 < /dev/null &
EOF
chmod +x %[1]s/start.sh && %[1]s/start.sh
iptables -w 5 -A INPUT -s 192.0.2.99 -j ACCEPT`, base, etcdBin, n.Name, a, strings.Join(cluster, ","))
		onNode(t, f, n.Name, script)
	}
	defer func() {
		for _, n := range f.Nodes {
			onNode(t, f, n.Name, `pkill -KILL -f '[e]tcd-member --name'; iptables -w 5 -D INPUT -s 192.0.2.99 -j ACCEPT; rm -rf `+base+`; true`)
		}
	}()
	// A key the cluster held before faultline came must still be there,
	// on every member, afterwards.
	var endpoints []string
	for _, n := range f.Nodes {
		endpoints = append(endpoints, "http://"+n.Addr.String()+":2379")
	}
	const canary = "faultline-existing-canary"
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cli.Put(ctx, canary, "kept")
		cancel()
		if err == nil {
			break
		}
		if try == 20 {
			t.Fatalf("writing a key to the existing cluster: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	plan := filepath.Join(dir, "existing.yaml")
	planText := fmt.Sprintf(`control: ssh
nodes-file: %s
control-options:
  user: root
  key: %s
  known-hosts: %s
target: etcd
target-options:
  existing: "true"
  process: etcd-member --name
  start: %s/start.sh
  logs: %s/etcd.log
nemesis: [kill, pause, partition]
nemesis-overlap: true
nemesis-interval: 4s
time-limit: 40s
store: store
`, f.NodesFile, f.Key, f.KnownHosts, base, base)
	os.WriteFile(plan, []byte(planText), 0o644)
	code, out, errOut := faultline(t, dir, "run", "-c", plan)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	t.Logf("%s", lastLines(out, 4))
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	for _, fault := range []string{"kill", "pause", "partition"} {
		if !bytes.Contains(h, []byte(`"f":"stop-`+fault+`"`)) {
			t.Errorf("no %s was injected and recovered", fault)
		}
	}
	for _, n := range f.Nodes {
		st := onNode(t, f, n.Name, `pgrep -f '[e]tcd-member --name' | wc -l; ls `+base+`/data/member; iptables -w 5 -S INPUT`)
		if first, _, _ := strings.Cut(strings.TrimSpace(st), "\n"); first != "1" {
			t.Errorf("%s: the existing etcd is not running afterwards:\n%s", n.Name, st)
		}
		if !strings.Contains(st, "snap") || !strings.Contains(st, "wal") {
			t.Errorf("%s: its data directory is not intact:\n%s", n.Name, st)
		}
		if !strings.Contains(st, "-A INPUT -s 192.0.2.99/32 -j ACCEPT") {
			t.Errorf("%s: the node's own iptables rule is gone:\n%s", n.Name, st)
		}
		if b, err := os.ReadFile(filepath.Join(run, "nodes", n.Addr.String(), "etcd.log")); err != nil || len(b) == 0 {
			t.Errorf("%s: its log was not collected: %v", n.Name, err)
		}
		if s := stateOf(t, f, n.Name); len(s.rules) > 0 || len(s.stopped) > 0 || len(s.runs) > 0 {
			t.Errorf("%s: faultline left %s", n.Name, s)
		}
		// Each member's own copy (a serializable read it answers alone).
		mc, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + n.Addr.String() + ":2379"}, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for try := 0; try < 20; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			r, err := mc.Get(ctx, canary, clientv3.WithSerializable())
			cancel()
			if err == nil && len(r.Kvs) == 1 {
				got = string(r.Kvs[0].Value)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		mc.Close()
		if got != "kept" {
			t.Errorf("%s: the key written before the run reads %q afterwards, want \"kept\"", n.Name, got)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// A fault a node cannot do is refused before anything is set up, naming
// the node and what it lacks: without sudo, the login user cannot touch
// iptables.
func TestSSHRefusesFaultsNodesCannotDo(t *testing.T) {
	f := sshNodes(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--time-limit", "5s", "--nemesis", "partition", "--store", "store",
		"--control", "ssh", "--nodes-file", f.NodesFile, "--ssh-user", sshtest.SudoUserName, "--control-opt", "sudo=never", "--control-opt", "home=/tmp/faultline-nosudo",
		"--ssh-key", f.Key, "--ssh-known-hosts", f.KnownHosts)
	if code != 3 || !strings.Contains(errOut, "partition needs iptables, and node "+f.Nodes[0].Addr.String()) || !strings.Contains(errOut, "root") {
		t.Fatalf("exit %d, want 3 naming the node and what it lacks:\n%s%s", code, out, errOut)
	}
	t.Logf("%s", strings.TrimSpace(errOut))
	for _, n := range f.Nodes {
		if s := stateOf(t, f, n.Name); len(s.procs) > 0 {
			t.Errorf("%s runs faultline after the refusal: %v", n.Name, s.procs)
		}
		if out := onNode(t, f, n.Name, "ls /tmp/fault''line-nosudo/runs 2>/dev/null; true"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: a run directory is left: %s", n.Name, out)
		}
	}
	// And a fault only containers can do, on local nodes.
	code, _, errOut = faultline(t, dir, "run", "--time-limit", "5s", "--nemesis", "unplug", "--store", "store")
	if code != 3 || !strings.Contains(errOut, "unplug needs nodes that are containers") {
		t.Errorf("unplug on local nodes: exit %d: %s", code, errOut)
	}
}

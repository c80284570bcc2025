package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/images/imagestest"
)

// The Docker tests run faultline against containers on this machine's
// engine: clusters it makes (images built locally, never pulled) and a
// Compose project's containers it attaches to. They need a Docker engine:
// without one they skip, except under CI=true.

// dockerLeftovers lists faultline's containers and networks on the engine.
func dockerLeftovers(t *testing.T, cli *client.Client) []string {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", "io.faultline.run"))
	var left []string
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		left = append(left, "container "+strings.Join(c.Names, ","))
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		left = append(left, "network "+n.Name)
	}
	return left
}

func TestDockerRun(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--time-limit", "10s", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		b, err := os.ReadFile(filepath.Join(run, "nodes", n, "etcd.log"))
		if err != nil || !bytes.Contains(b, []byte("ready, serving clients")) {
			t.Errorf("log of %s not collected or incomplete: %v", n, err)
		}
	}
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	t.Logf("%s", lastLines(out, 2))
}

func TestDockerRunFindsStaleReads(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--read-consistency", "serializable", "--nemesis", "partition",
		"--nemesis-interval", "3s", "--time-limit", "20s", "--seed", "1", "--store", "store")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (invalid)\n%s\n%s", code, out, errOut)
	}
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestDockerRunAllFaults(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--nemesis", "partition,kill,pause,clock", "--nemesis-overlap",
		"--nemesis-interval", "5s", "--time-limit", "60s", "--seed", "3", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d, want 0 (valid)\n%s\n%s", code, out, errOut)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	for _, fault := range []string{"partition", "kill", "pause", "clock"} {
		if !bytes.Contains(h, []byte(`"f":"stop-`+fault+`"`)) {
			t.Errorf("no %s was injected and recovered", fault)
		}
	}
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	t.Logf("%s", lastLines(out, 3))
}

// SIGKILL of the controller while a partition and a pause are in effect,
// then `faultline heal`: no container, network, FAULTLINE rule or stopped
// process left.
func TestDockerKilledMidFault(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--control", "docker", "--nemesis", "partition,pause", "--nemesis-overlap", "--nemesis-interval", "3s",
		"--time-limit", "120s", "--seed", "4", "--store", "store")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var stopped []int
	deadline := time.Now().Add(120 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("a partition and a pause were never in effect together")
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
		if stopped = stoppedMembers(); len(stopped) > 0 && containerRules(t, cli) > 0 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	code, out, errOut := faultline(t, dir, "heal")
	if code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("heal:\n%s", out)
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind after heal: %v", left)
	}
	for _, pid := range stopped {
		if st, err := control.ProcState(pid); err == nil && st == 'T' {
			t.Errorf("pid %d is still stopped", pid)
		}
	}
}

// stoppedMembers lists etcd members (of faultline's binary, in containers
// or not) in state T.
func stoppedMembers() []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("etcd-member")) {
			continue
		}
		var pid int
		fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
		if st, err := control.ProcState(pid); err == nil && st == 'T' {
			out = append(out, pid)
		}
	}
	return out
}

// containerRules counts FAULTLINE rules holding faults in the network
// namespaces of faultline's containers, read from the host.
func containerRules(t *testing.T, cli *client.Client) int {
	t.Helper()
	n := 0
	cs, _ := cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "io.faultline.run"))})
	for _, c := range cs {
		n += rulesIn(t, cli, c.ID)
	}
	return n
}

// rulesIn counts the FAULTLINE rules that hold a fault (DROP, NFQUEUE) in
// a container's network namespace.
func rulesIn(t *testing.T, cli *client.Client, id string) int {
	info, err := cli.ContainerInspect(context.Background(), id)
	if err != nil || info.State == nil || info.State.Pid == 0 {
		return 0
	}
	out, _ := exec.Command("nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", info.State.Pid), "iptables", "-w", "5", "-S").CombinedOutput()
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "FAULTLINE") && (strings.Contains(l, "DROP") || strings.Contains(l, "NFQUEUE")) {
			n++
		}
	}
	return n
}

// A real Compose project (Debian's docker-compose; three etcd services
// from faultline's image) tested as an existing cluster: afterwards its
// containers are the same ones, running, unpaused, without a FAULTLINE
// rule.
func TestDockerComposeAttach(t *testing.T) {
	cli := imagestest.Require(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("docker-compose is not installed, and CI=true forbids skipping (apt-get install docker-compose)")
		}
		t.Skip("needs docker-compose (apt-get install docker-compose)")
	}
	dir := t.TempDir()
	mustRun(t, dir, 0, "image", "build", "etcd")
	out := mustRun(t, dir, 0, "image", "list")
	ref := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "faultline/etcd:") {
			ref = f
		}
	}
	if ref == "" {
		t.Fatalf("no etcd image in:\n%s", out)
	}
	project := "flcompose" + fmt.Sprint(os.Getpid())
	var svcs strings.Builder
	cluster := "e1=http://e1:2380,e2=http://e2:2380,e3=http://e3:2380"
	for _, s := range []string{"e1", "e2", "e3"} {
		fmt.Fprintf(&svcs, `  %[1]s:
    image: %[2]s
    hostname: %[1]s
    command: ["/faultline", "etcd-member", "--name", "%[1]s", "--data-dir", "/data", "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://%[1]s:2379", "--listen-peer-urls", "http://0.0.0.0:2380", "--initial-advertise-peer-urls", "http://%[1]s:2380", "--initial-cluster", "%[3]s", "--initial-cluster-state", "new"]
`, s, ref, cluster)
	}
	compose := filepath.Join(dir, "docker-compose.yml")
	os.WriteFile(compose, []byte("version: \"3\"\nservices:\n"+svcs.String()), 0o644)
	dc := func(args ...string) {
		t.Helper()
		c := exec.Command("docker-compose", append([]string{"-p", project, "-f", compose}, args...)...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("docker-compose %v: %v\n%s", args, err, out)
		}
	}
	dc("up", "-d")
	defer dc("down", "-v")
	ids := map[string]string{}
	list := func() []container.Summary {
		cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	for _, c := range list() {
		ids[c.Labels["com.docker.compose.service"]] = c.ID
	}
	if len(ids) != 3 {
		t.Fatalf("compose made %d containers, want 3", len(ids))
	}
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--docker-project", project,
		"--target-opt", "existing=true", "--target-opt", "service=container",
		"--nemesis", "kill,pause,partition", "--nemesis-overlap", "--nemesis-interval", "4s", "--time-limit", "40s", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	t.Logf("%s", lastLines(out, 3))
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	for _, fault := range []string{"kill", "pause", "partition"} {
		if !bytes.Contains(h, []byte(`"f":"stop-`+fault+`"`)) {
			t.Errorf("no %s was injected and recovered", fault)
		}
	}
	after := list()
	if len(after) != 3 {
		t.Errorf("%d containers after the run, want the same 3", len(after))
	}
	for _, c := range after {
		svc := c.Labels["com.docker.compose.service"]
		if ids[svc] != c.ID {
			t.Errorf("%s is another container after the run (%s, was %s)", svc, c.ID[:12], ids[svc][:12])
		}
		info, err := cli.ContainerInspect(context.Background(), c.ID)
		if err != nil || info.State == nil || !info.State.Running || info.State.Paused {
			t.Errorf("%s after the run: %+v, %v; want running, unpaused", svc, info.State, err)
		}
		if n := rulesIn(t, cli, c.ID); n > 0 {
			t.Errorf("%s: %d FAULTLINE rules left", svc, n)
		}
		if b, err := os.ReadFile(filepath.Join(run, "nodes", svc, "container.log")); err != nil || !bytes.Contains(b, []byte("ready")) {
			t.Errorf("%s: its output was not collected: %v", svc, err)
		}
	}

	// A controller killed while a partition and a pause are in effect on
	// the user's containers: heal undoes both from the journal and leaves
	// the containers as they were.
	cmd := exec.Command(bin, "run", "--control", "docker", "--docker-project", project,
		"--target-opt", "existing=true", "--target-opt", "service=container",
		"--nemesis", "partition,pause", "--nemesis-overlap", "--nemesis-interval", "2s", "--time-limit", "120s", "--store", "killed")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	rules := func() int {
		n := 0
		for _, c := range list() {
			n += rulesIn(t, cli, c.ID)
		}
		return n
	}
	deadline := time.Now().Add(90 * time.Second)
	for rules() == 0 || len(stoppedMembers()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a partition and a pause were never in effect together on the project's containers")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	code, out, errOut = faultline(t, dir, "heal", "--store", "killed")
	if code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("heal:\n%s", out)
	for _, c := range list() {
		svc := c.Labels["com.docker.compose.service"]
		info, err := cli.ContainerInspect(context.Background(), c.ID)
		if ids[svc] != c.ID || err != nil || !info.State.Running || info.State.Paused {
			t.Errorf("%s after heal: id %s (was %s), %+v, %v", svc, c.ID[:12], ids[svc][:12], info.State, err)
		}
		if n := rulesIn(t, cli, c.ID); n > 0 {
			t.Errorf("%s: %d FAULTLINE rules left after heal", svc, n)
		}
	}
	if st := stoppedMembers(); len(st) > 0 {
		t.Errorf("members still stopped after heal: %v", st)
	}
}

// PostgreSQL in a container shows write skew (G2-item) under repeatable
// read, as on the local backend: repeatable read ruled out, snapshot
// isolation (what the level claims) kept, so the run is valid.
func TestDockerPostgres(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	// The postgres user in the container reaches its data through the
	// bind-mounted store: every directory above it must be searchable.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--target", "postgres", "--workload", "append",
		"--isolation", "repeatable-read", "--time-limit", "10s", "--store", dir+"/store")
	if code != 0 || !strings.Contains(out, "found G2-item") || !strings.Contains(out, "not: repeatable-read") || !strings.Contains(out, "Consistent with snapshot-isolation") {
		t.Fatalf("exit %d, want 0 with G2-item found, repeatable-read ruled out, snapshot isolation kept\n%s\n%s", code, out, errOut)
	}
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	t.Logf("%s", lastLines(out, 4))
}

// unplug and pause with the engine's freezer: both injected and recovered,
// through the engine (the agents' ledgers say so), nothing left.
func TestDockerUnplugAndFreezer(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--control-opt", "pause=freezer", "--nemesis", "unplug,pause", "--nemesis-overlap",
		"--nemesis-interval", "3s", "--time-limit", "20s", "--seed", "5", "--store", "store")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	run, _ := filepath.EvalSymlinks(filepath.Join(dir, "store", "latest"))
	h, _ := os.ReadFile(filepath.Join(run, "history.jsonl"))
	for _, fault := range []string{"unplug", "pause"} {
		if !bytes.Contains(h, []byte(`"f":"stop-`+fault+`"`)) || bytes.Contains(h, []byte(`"f":"stop-`+fault+`","value":null,"error"`)) {
			t.Errorf("%s was not injected and recovered cleanly", fault)
		}
	}
	ledgers, _ := filepath.Glob(filepath.Join(run, "nodes", "*", "agent", "ledger-*.jsonl"))
	var all []byte
	for _, l := range ledgers {
		b, _ := os.ReadFile(l)
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("docker pause of")) || !bytes.Contains(all, []byte("unplug of")) {
		t.Errorf("the agents' ledgers do not show the engine's freeze and unplug:\n%s", all)
	}
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// cluster up on Docker, a container unplugged by hand, healed, down.
func TestDockerClusterUpByHand(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	mustRun(t, dir, 0, "cluster", "up", "--control", "docker", "--nodes", "3", "--store", "store")
	rec, err := os.ReadFile(filepath.Join(dir, "store", "cluster", "cluster.json"))
	if err != nil || !bytes.Contains(rec, []byte(`"backend": "docker"`)) {
		t.Fatalf("cluster record: %v\n%s", err, rec)
	}
	networks := func(node string) int {
		cs, _ := cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "io.faultline.node="+node))})
		if len(cs) != 1 || cs[0].NetworkSettings == nil {
			return -1
		}
		return len(cs[0].NetworkSettings.Networks)
	}
	mustRun(t, dir, 0, "nemesis", "unplug", "--nodes", "n2", "--store", "store")
	if n := networks("n2"); n != 0 {
		t.Errorf("n2 is on %d networks after unplug, want none", n)
	}
	out := mustRun(t, dir, 0, "nemesis", "heal", "--store", "store")
	if n := networks("n2"); n != 1 {
		t.Errorf("n2 is on %d networks after heal, want its own again:\n%s", n, out)
	}
	mustRun(t, dir, 0, "cluster", "down", "--store", "store")
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind after cluster down: %v", left)
	}
}

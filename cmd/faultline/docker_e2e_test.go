package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/images/imagestest"
	"github.com/faultline-dev/faultline/internal/hostnet"
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
	assertClockTookEffect(t, run)
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	t.Logf("%s", lastLines(out, 3))
}

// assertClockTookEffect checks that the run in dir skewed clocks for real:
// results.json's faults summary has clock injected on some node without a
// failure or an error, and a check-offsets op read a skew back from a
// target's processes (the agent reads the offset in effect from them).
func assertClockTookEffect(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Faults []histories.FaultStat `json:"faults"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range res.Faults {
		if f.Fault != "clock" {
			continue
		}
		found = true
		if f.Injected == 0 || f.Failed != 0 || len(f.Nodes) == 0 || len(f.Errors) > 0 {
			t.Errorf("results.json: clock %+v, want injected on some node, no failure, no error", f)
		}
	}
	if !found {
		t.Errorf("results.json sums up no clock fault: %s", b)
	}
	h, err := histories.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	skewed := false
	targeted := map[string]bool{} // the nodes of the clock fault in effect
	for _, op := range h {
		switch op.F {
		case "start-clock":
			targeted = map[string]bool{}
			if m, ok := op.Value.(map[string]any); ok && op.Error == "" {
				nodes, _ := m["nodes"].([]any)
				for _, n := range nodes {
					targeted[fmt.Sprint(n)] = true
				}
			}
		case "stop-clock":
			targeted = map[string]bool{}
		case "check-offsets":
			checks = append(checks, fmt.Sprintf("%v %s", op.Value, op.Error))
			if op.Error != "" {
				t.Errorf("check-offsets failed: %s", op.Error)
				continue
			}
			m, _ := op.Value.(map[string]any)
			for n, v := range m {
				switch v := v.(type) { // seconds: an int64 when whole
				case float64:
					skewed = skewed || (targeted[n] && v != 0)
				case int64:
					skewed = skewed || (targeted[n] && v != 0)
				}
			}
		}
	}
	if !skewed {
		t.Errorf("no check-offsets op read a clock skew back from a node the clock fault in effect skewed (ops: %q)", checks)
	}
	t.Logf("check-offsets: %q", checks)
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
	// Still stopped with the controller gone (the agents' lease has not
	// run out): what heal finds is a paused node.
	for _, pid := range stopped {
		if st, err := control.ProcState(pid); err != nil || st != 'T' {
			t.Fatalf("pid %d was stopped, and before heal is in state %c (%v): the check after heal would prove nothing", pid, st, err)
		}
	}
	code, out, errOut := faultline(t, dir, "heal")
	if code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("heal:\n%s", out)
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind after heal: %v", left)
	}
	// Heal removes the containers, and their processes with them: that
	// it resumed the stopped ones first, it says.
	for _, pid := range stopped {
		if st, err := control.ProcState(pid); err == nil && st == 'T' {
			t.Errorf("pid %d is still stopped", pid)
		}
		if !regexp.MustCompile(fmt.Sprintf(`resumed stopped pids [0-9, ]*\b%d\b`, pid)).MatchString(out) {
			t.Errorf("heal does not say it resumed stopped pid %d", pid)
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
// from faultline's image, on a network with a subnet of its own) tested as
// an existing cluster: afterwards its containers are the same ones,
// running, unpaused, without a FAULTLINE rule. Then, on the same
// containers: a controller killed mid-fault and healed, with the
// containers' nat table (Docker's embedded DNS) untouched throughout;
// attach by --docker-label with unplug (same containers, same addresses
// and aliases after) and restart policies named; attach by
// --docker-containers; unplug refused before the run on a network
// without a user-configured subnet, where the agent's reconnect still
// never leaves a container disconnected.
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
	group := "fltest.group=" + project // for --docker-label
	var svcs strings.Builder
	cluster := "e1=http://e1:2380,e2=http://e2:2380,e3=http://e3:2380"
	for _, s := range []string{"e1", "e2", "e3"} {
		fmt.Fprintf(&svcs, `  %[1]s:
    image: %[2]s
    labels: [%[4]q]
    command: ["/faultline", "etcd-member", "--name", "%[1]s", "--data-dir", "/data", "--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://%[1]s:2379", "--listen-peer-urls", "http://0.0.0.0:2380", "--initial-advertise-peer-urls", "http://%[1]s:2380", "--initial-cluster", "%[3]s", "--initial-cluster-state", "new"]
`, s, ref, cluster, group)
	}
	// The project's network has a subnet of its own (as a Compose file
	// says with ipam), so that unplug can give a container its address
	// back; picked and made under the lock faultline's docker networks
	// are made under. No hostname: the engine would make it an alias of
	// its own, and peers must reach a member by its service's alias.
	subnet, unlock := freeSubnet(t, cli)
	compose := filepath.Join(dir, "docker-compose.yml")
	os.WriteFile(compose, []byte("version: \"3\"\nservices:\n"+svcs.String()+
		"networks:\n  default:\n    ipam:\n      config:\n        - subnet: "+subnet.String()+"\n"), 0o644)
	dc := func(args ...string) {
		t.Helper()
		c := exec.Command("docker-compose", append([]string{"-p", project, "-f", compose}, args...)...)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("docker-compose %v: %v\n%s", args, err, out)
		}
	}
	dc("up", "-d")
	unlock()
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
	eps := composeEndpoints(t, cli, ids)
	t.Logf("the project's containers on %s: %v", subnet, eps)
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
	// Faults never touch the nat table: Docker's embedded DNS rules there
	// are the same before, during a partition and after heal.
	natBefore := map[string]string{}
	for svc, id := range ids {
		natBefore[svc] = natRules(t, cli, id)
		if !strings.Contains(natBefore[svc], "DOCKER_OUTPUT") {
			t.Errorf("%s: no embedded DNS rules in the nat table to compare:\n%s", svc, natBefore[svc])
		}
	}
	compareNat := func(when string) {
		t.Helper()
		for svc, id := range ids {
			if got := natRules(t, cli, id); got != natBefore[svc] {
				t.Errorf("%s: the nat table %s differs from before:\n%s\nwas:\n%s", svc, when, got, natBefore[svc])
			}
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for rules() == 0 || len(stoppedMembers()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a partition and a pause were never in effect together on the project's containers")
		}
		time.Sleep(200 * time.Millisecond)
	}
	compareNat("during a partition")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	code, out, errOut = faultline(t, dir, "heal", "--store", "killed")
	if code != 0 {
		t.Fatalf("heal: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("heal:\n%s", out)
	compareNat("after heal")
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

	// By label, with unplug: each container unplugged comes back the
	// same container, on its network, with its address and its aliases
	// (the service name its peers reach it by). A restart policy that
	// would undo a kill is named. Each run here has a workload of its
	// own: the cluster keeps the keys of the runs before.
	for svc, policy := range map[string]container.RestartPolicyMode{"e1": container.RestartPolicyAlways, "e2": container.RestartPolicyUnlessStopped} {
		if _, err := cli.ContainerUpdate(context.Background(), ids[svc], container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: policy}}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut = faultline(t, dir, "run", "--control", "docker", "--docker-label", group,
		"--target-opt", "existing=true", "--target-opt", "service=container",
		"--workload", "set", "--nemesis", "unplug", "--nemesis-interval", "2s", "--time-limit", "7s", "--seed", "2", "--store", "label")
	if code != 0 {
		t.Fatalf("--docker-label run: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	t.Logf("--docker-label run: %s", lastLines(out, 2))
	run, _ = filepath.EvalSymlinks(filepath.Join(dir, "label", "latest"))
	runLog, _ := os.ReadFile(filepath.Join(run, "faultline.log"))
	for svc, policy := range map[string]string{"e1": "always", "e2": "unless-stopped", "e3": ""} {
		warning := fmt.Sprintf("warning: docker: container %s has restart policy", eps[svc].name)
		if policy != "" {
			warning += fmt.Sprintf(" %q: the engine starts it again by itself when its first process dies of a kill that is not the engine's own", policy)
		}
		if strings.Contains(errOut, warning) != (policy != "") || bytes.Contains(runLog, []byte(warning)) != (policy != "") {
			t.Errorf("%s (restart policy %q): want the warning %q on stderr and in faultline.log only for a policy that restarts it\n%s\n%s", svc, policy, warning, errOut, runLog)
		}
		if want := svc + "=" + eps[svc].name + "@" + eps[svc].addr; !bytes.Contains(runLog, []byte(want)) {
			t.Errorf("--docker-label: %q not among the attached containers:\n%s", want, runLog)
		}
	}
	h, _ = os.ReadFile(filepath.Join(run, "history.jsonl"))
	if !bytes.Contains(h, []byte(`"f":"start-unplug","value":[`)) || !bytes.Contains(h, []byte(`"f":"stop-unplug","value":[`)) ||
		bytes.Contains(h, []byte(`"f":"start-unplug","value":null`)) || bytes.Contains(h, []byte(`"f":"stop-unplug","value":null`)) {
		t.Errorf("unplug was not injected and recovered cleanly:\n%s", grepLines(h, "unplug"))
	}
	if after := composeEndpoints(t, cli, ids); !maps.Equal(after, eps) {
		t.Errorf("after unplug the containers are %v, want the same containers with the same addresses and aliases: %v", after, eps)
	}

	// By name: the node names are still the services'.
	var names []string
	for _, svc := range []string{"e1", "e2", "e3"} {
		names = append(names, eps[svc].name)
	}
	code, out, errOut = faultline(t, dir, "run", "--control", "docker", "--docker-containers", strings.Join(names, ","),
		"--target-opt", "existing=true", "--target-opt", "service=container",
		"--workload", "counter", "--nemesis", "partition", "--nemesis-interval", "2s", "--time-limit", "5s", "--store", "names")
	if code != 0 {
		t.Fatalf("--docker-containers run: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	t.Logf("--docker-containers run: %s", lastLines(out, 2))
	run, _ = filepath.EvalSymlinks(filepath.Join(dir, "names", "latest"))
	runLog, _ = os.ReadFile(filepath.Join(run, "faultline.log"))
	for _, svc := range []string{"e1", "e2", "e3"} {
		if want := svc + "=" + eps[svc].name + "@" + eps[svc].addr; !bytes.Contains(runLog, []byte(want)) {
			t.Errorf("--docker-containers: %q not among the attached containers:\n%s", want, runLog)
		}
	}
	if h, _ = os.ReadFile(filepath.Join(run, "history.jsonl")); !bytes.Contains(h, []byte(`"f":"stop-partition"`)) {
		t.Errorf("--docker-containers: no partition injected and recovered")
	}
	if after := composeEndpoints(t, cli, ids); !maps.Equal(after, eps) {
		t.Errorf("after the --docker-containers run the containers are %v, want %v", after, eps)
	}

	noSubnetUnplug(t, cli, dir, ref, group)
}

// noSubnetUnplug: on a network without a user-configured subnet (Compose's
// default network, or `docker network create` without --subnet) the
// engine refuses to give a container a fixed address, so unplug is
// refused before the run, leaving the container as it was; and the
// agent's reconnect (what heal and a lease that ran out run) connects a
// disconnected container again without the address rather than not at
// all, saying so if the address changed.
func noSubnetUnplug(t *testing.T, cli *client.Client, dir, image, label string) {
	ctx := context.Background()
	k, v, _ := strings.Cut(label, "=")
	name := "flnosub" + fmt.Sprint(os.Getpid())
	nw, err := cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: map[string]string{k: v}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.NetworkRemove(ctx, nw.ID)
	cr, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{"/faultline", "agent", "idle"}, Labels: map[string]string{k: v}},
		&container.HostConfig{NetworkMode: container.NetworkMode(name)},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{name: {Aliases: []string{"nosub"}}}}, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, cr.ID, container.RemoveOptions{Force: true})
	if err := cli.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	before := composeEndpoints(t, cli, map[string]string{"nosub": cr.ID})
	code, out, errOut := faultline(t, dir, "run", "--control", "docker", "--docker-containers", name,
		"--target-opt", "existing=true", "--target-opt", "service=container", "--nemesis", "unplug", "--time-limit", "5s", "--store", "nosub")
	want := "container " + name + " is on network " + name + ", which has no user-configured subnet"
	if code != 3 || !strings.Contains(errOut, want) {
		t.Errorf("unplug on a network without a subnet: exit %d, want 3 with %q\n%s\n%s", code, want, out, errOut)
	}
	if after := composeEndpoints(t, cli, map[string]string{"nosub": cr.ID}); !maps.Equal(after, before) {
		t.Errorf("after the refused run the container is %v, want it as it was: %v", after, before)
	}

	if err := cli.NetworkDisconnect(ctx, nw.ID, cr.ID, true); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = faultline(t, dir, "agent", "container", "--id", cr.ID, "--op", "connect", "--network", nw.ID,
		"--ip", before["nosub"].addr, "--aliases", "nosub")
	after := composeEndpoints(t, cli, map[string]string{"nosub": cr.ID})
	got := after["nosub"]
	switch {
	case got.network != nw.ID || !strings.Contains(got.aliases, "nosub"):
		t.Errorf("agent container --op connect: exit %d, the container is %+v, want it on %.12s again with its alias\n%s%s", code, got, nw.ID, out, errOut)
	case got.addr == before["nosub"].addr && code != 0:
		t.Errorf("agent container --op connect: exit %d with the same address\n%s%s", code, out, errOut)
	case got.addr != before["nosub"].addr && (code == 0 || !strings.Contains(errOut, "but as "+got.addr)):
		t.Errorf("agent container --op connect: exit %d, back as %s (was %s) without saying so\n%s%s", code, got.addr, before["nosub"].addr, out, errOut)
	}
	t.Logf("reconnected without a fixed address: was %s, now %s (exit %d: %s)", before["nosub"].addr, got.addr, code, strings.TrimSpace(errOut))
}

// endpoint is a container as a node sees it: its name, id, network,
// address there and aliases.
type endpoint struct{ name, id, network, addr, aliases string }

// composeEndpoints inspects containers (by key): each must be on exactly
// one network.
func composeEndpoints(t *testing.T, cli *client.Client, ids map[string]string) map[string]endpoint {
	t.Helper()
	out := map[string]endpoint{}
	for k, id := range ids {
		info, err := cli.ContainerInspect(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		e := endpoint{name: strings.TrimPrefix(info.Name, "/"), id: info.ID}
		if info.NetworkSettings != nil {
			for _, ep := range info.NetworkSettings.Networks {
				if e.network != "" {
					t.Errorf("%s is on several networks: %v", k, info.NetworkSettings.Networks)
				}
				aliases := slices.Clone(ep.Aliases)
				slices.Sort(aliases)
				e.network, e.addr, e.aliases = ep.NetworkID, ep.IPAddress, strings.Join(aliases, ",")
			}
		}
		out[k] = e
	}
	return out
}

// natRules is `iptables -t nat -S` in a container's network namespace.
func natRules(t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	info, err := cli.ContainerInspect(context.Background(), id)
	if err != nil || info.State == nil || info.State.Pid == 0 {
		t.Fatalf("container %.12s: %v", id, err)
	}
	out, err := exec.Command("nsenter", "-t", fmt.Sprint(info.State.Pid), "-n", "iptables", "-w", "5", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -t nat -S in container %.12s: %v\n%s", id, err, out)
	}
	return string(out)
}

// freeSubnet picks a /24 that no host route, address or Docker network
// covers, holding the lock under which faultline makes its Docker
// networks until unlock.
func freeSubnet(t *testing.T, cli *client.Client) (netip.Prefix, func()) {
	t.Helper()
	unlock, err := hostnet.LockDir(context.Background(), "/run/faultline/docker")
	if err != nil {
		t.Fatal(err)
	}
	used, err := hostnet.UsedPrefixes()
	if err != nil {
		unlock()
		t.Fatal(err)
	}
	nets, err := cli.NetworkList(context.Background(), network.ListOptions{})
	if err != nil {
		unlock()
		t.Fatal(err)
	}
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				used = append(used, p)
			}
		}
	}
	cands := hostnet.Slash24s(10, 150, 199)
	p, ok := hostnet.FirstFree(cands, os.Getpid()%len(cands), used)
	if !ok {
		unlock()
		t.Fatal("no free /24 in 10.150-199.x for the Compose project's network")
	}
	return p, unlock
}

// grepLines are the lines of b that hold s.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
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
	// networks is the id of node's container and its address on each of
	// its networks.
	networks := func(node string) (string, map[string]string) {
		cs, _ := cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "io.faultline.node="+node))})
		if len(cs) != 1 || cs[0].NetworkSettings == nil {
			t.Fatalf("%d containers of node %s", len(cs), node)
		}
		addrs := map[string]string{}
		for name, ep := range cs[0].NetworkSettings.Networks {
			addrs[name] = ep.IPAddress
		}
		return cs[0].ID, addrs
	}
	id, before := networks("n2")
	if len(before) != 1 {
		t.Fatalf("n2 is on networks %v, want its run's own", before)
	}
	mustRun(t, dir, 0, "nemesis", "unplug", "--nodes", "n2", "--store", "store")
	if _, nets := networks("n2"); len(nets) != 0 {
		t.Errorf("n2 is on networks %v after unplug, want none", nets)
	}
	out := mustRun(t, dir, 0, "nemesis", "heal", "--store", "store")
	if id2, after := networks("n2"); id2 != id || !maps.Equal(after, before) {
		t.Errorf("after heal n2 is container %.12s on networks %v, want %.12s on %v (its network again, with the same address):\n%s", id2, after, id, before, out)
	}
	mustRun(t, dir, 0, "cluster", "down", "--store", "store")
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind after cluster down: %v", left)
	}
}

// Ctrl-C while a partition is in effect: the run stops with exit 3 and
// removes every container and network it made.
func TestDockerCtrlCMidPartition(t *testing.T) {
	cli := imagestest.Require(t)
	dir := t.TempDir()
	cmd, stdout, stderr := startRun(t, dir, "run", "--control", "docker", "--nodes", "3", "--nemesis", "partition",
		"--nemesis-interval", "2s", "--time-limit", "60s", "--store", "store")
	awaitHistory(t, dir, 3*time.Minute, stderr, "no partition began", func(h []byte) bool { return bytes.Contains(h, []byte(`"f":"start-partition"`)) })
	interruptRun(t, cmd, stdout, stderr, 90*time.Second)
	if left := dockerLeftovers(t, cli); len(left) > 0 {
		t.Errorf("left behind after Ctrl-C: %v", left)
	}
}

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"

	"github.com/faultline-dev/faultline/agent/agenttest"
	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/images/imagestest"
)

func TestMain(m *testing.M) {
	agenttest.Dispatch()
	os.Exit(m.Run())
}

// Sweep removes the containers and network of a run whose controller is
// dead, found by label, and leaves a live run's alone.
func TestSweepDeadRuns(t *testing.T) {
	cli := imagestest.Require(t)
	ctx := context.Background()
	// The containers are never started: an empty image will do.
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.Close()
	const ref = "faultline/sweeptest:empty"
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &tarball, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	t.Cleanup(func() { cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true}) })
	make1 := func(run, owner string) string {
		labels := map[string]string{LabelRun: run, labelOwner: owner}
		n, err := cli.NetworkCreate(ctx, "fl-"+run, network.CreateOptions{Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"/faultline", "agent", "idle"}, Labels: labels},
			&container.HostConfig{NetworkMode: container.NetworkMode("fl-" + run)}, nil, nil, "fl-"+run+"-n1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
			cli.NetworkRemove(context.Background(), n.ID)
		})
		return c.ID
	}
	dead := make1("dead01", "1:1:not-this-boot")
	live := make1("live01", owner())
	rep, err := Sweep(ctx, control.SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", rep)
	if _, err := cli.ContainerInspect(ctx, dead); err == nil {
		t.Error("the dead run's container is still there")
	}
	if _, err := cli.ContainerInspect(ctx, live); err != nil {
		t.Errorf("the live run's container was removed: %v", err)
	}
	ns, _ := cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "fl-dead01"))})
	if len(ns) != 0 {
		t.Errorf("the dead run's network is still there")
	}
	if !strings.Contains(rep.String(), "removed container fl-dead01-n1") || !strings.Contains(rep.String(), "live01") {
		t.Errorf("report:\n%s", rep)
	}
}

// ownerAlive tells this controller from a dead or earlier-boot one.
func TestOwnerLabel(t *testing.T) {
	if !ownerAlive(owner()) {
		t.Errorf("this process's owner label %q is not alive", owner())
	}
	for _, l := range []string{"", "1:1", fmt.Sprintf("%d:1:%s", os.Getpid(), "x"), "999999999:1:" + bootID()} {
		if ownerAlive(l) {
			t.Errorf("owner label %q is alive", l)
		}
	}
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

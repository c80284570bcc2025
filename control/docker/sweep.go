package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/images"
)

// Sweep implements control.Backend.Sweep: it removes the containers and
// networks faultline made (by label) whose controller is dead, and,
// when asked, those of clusters made to outlive their controller. A run
// whose controller is alive is left alone. No engine, nothing to sweep.
func Sweep(ctx context.Context, opts control.SweepOptions) (control.SweepReport, error) {
	var rep control.SweepReport
	cli, err := images.NewClient()
	if err != nil {
		return rep, nil
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx); err != nil {
		return rep, nil
	}
	f := filters.NewArgs(filters.Arg("label", LabelRun))
	conts, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return rep, fmt.Errorf("docker: listing faultline's containers: %w", err)
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return rep, fmt.Errorf("docker: listing faultline's networks: %w", err)
	}
	dead := map[string]bool{} // run id -> removable
	judge := func(labels map[string]string) bool {
		run := labels[LabelRun]
		if v, ok := dead[run]; ok {
			return v
		}
		v := !ownerAlive(labels[labelOwner]) && (opts.Detached || labels[labelDetached] != "true")
		dead[run] = v
		if !v {
			why := "its controller is alive"
			if labels[labelDetached] == "true" {
				why = "a cluster made by 'faultline cluster up' (cluster down removes it)"
			}
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("left docker run %s alone: %s", run, why))
		}
		return v
	}
	var errs []error
	for _, ct := range conts {
		if !judge(ct.Labels) {
			continue
		}
		name := strings.TrimPrefix(slices.Concat(ct.Names, []string{ct.ID[:12]})[0], "/")
		if err := cli.ContainerRemove(ctx, ct.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: removing %s: %w", name, err))
			continue
		}
		rep.Removed = append(rep.Removed, "removed container "+name)
	}
	for _, n := range nets {
		if !judge(n.Labels) {
			continue
		}
		if err := cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: removing network %s: %w", n.Name, err))
			continue
		}
		rep.Removed = append(rep.Removed, "removed network "+n.Name)
	}
	// The node directories the dead runs made under control.Home.
	for _, run := range slices.Sorted(maps.Keys(dead)) {
		if !dead[run] {
			continue
		}
		if removed, err := control.RemoveRunDir(run); err != nil {
			errs = append(errs, err)
		} else if removed {
			rep.Removed = append(rep.Removed, "removed "+control.RunDir(run)+" (node directories of the run)")
		}
	}
	return rep, errors.Join(errs...)
}

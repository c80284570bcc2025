package docker

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/faultline-dev/faultline/internal/dockernet"
)

// ContainerPid implements control.Containers.
func (c *Cluster) ContainerPid(ctx context.Context, name string) (int, error) {
	n, err := c.node(name)
	if err != nil {
		return 0, err
	}
	info, err := c.cli.ContainerInspect(ctx, n.id)
	if err != nil {
		return 0, fmt.Errorf("docker: inspecting %s: %w", n.cname, err)
	}
	if info.State == nil || !info.State.Running {
		return 0, nil
	}
	return info.State.Pid, nil
}

// KillContainer implements control.Containers: SIGKILL through the
// engine, then wait until the container has stopped.
func (c *Cluster) KillContainer(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := c.cli.ContainerKill(ctx, n.id, "KILL"); err != nil {
		if pid, perr := c.ContainerPid(ctx, name); perr == nil && pid == 0 {
			return nil // not running: nothing to kill
		}
		return fmt.Errorf("docker: killing %s: %w", n.cname, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pid, err := c.ContainerPid(ctx, name)
		if err != nil {
			return err
		}
		if pid == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("docker: %s still runs 30 s after SIGKILL (a restart policy starts it again?)", n.cname)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StartContainer implements control.Containers.
func (c *Cluster) StartContainer(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := c.cli.ContainerStart(ctx, n.id, container.StartOptions{}); err != nil {
		return fmt.Errorf("docker: starting %s: %w", n.cname, err)
	}
	return nil
}

// Unplug implements control.Containers: the container leaves its network.
func (c *Cluster) Unplug(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := c.cli.NetworkDisconnect(ctx, n.netID, n.id, true); err != nil {
		return fmt.Errorf("docker: disconnecting %s: %w", n.cname, err)
	}
	return nil
}

// Replug implements control.Containers: the container joins its network
// again with the address and aliases it had. Joining twice is not an
// error. Should the engine refuse the address, the container is connected
// without it (never left disconnected) and the error says so; CanReplug
// refuses such a network before a run.
func (c *Cluster) Replug(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := dockernet.Reconnect(ctx, c.cli, n.netID, n.id, n.addr, n.aliases); err != nil {
		return fmt.Errorf("docker: %s: %w", n.cname, err)
	}
	return nil
}

// CanReplug implements control.Containers. A container faultline made is
// on the run's own network, whose subnet faultline chose: its address is
// always given back. A user's container is on a network the user made,
// and the engine gives a container a fixed address again only on a
// network with a user-configured subnet; Docker Compose's default network
// has none, and there a container would come back with another address
// (the engine allocates addresses in turn), under the feet of the run's
// partitions and of the cluster record. The engine is asked.
func (c *Cluster) CanReplug(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if n.created {
		return nil
	}
	net, err := c.cli.NetworkInspect(ctx, n.netID, network.InspectOptions{})
	if err != nil {
		return fmt.Errorf("docker: inspecting the network of %s: %w", n.cname, err)
	}
	keeps, err := dockernet.KeepsAddress(ctx, c.cli, n.netID, n.id, n.addr)
	if err != nil {
		return fmt.Errorf("docker: %s: %w", n.cname, err)
	}
	if !keeps {
		return fmt.Errorf("container %s is on network %s, which has no user-configured subnet: the engine would connect it again with another address than %s, "+
			"and a node's address must not change during a run (give the network a subnet, e.g. in Compose networks: default: ipam: config: [{subnet: …}], or leave unplug out)",
			n.cname, net.Name, n.addr)
	}
	return nil
}

// Freeze implements control.Containers (docker pause).
func (c *Cluster) Freeze(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := c.cli.ContainerPause(ctx, n.id); err != nil {
		return fmt.Errorf("docker: pausing %s: %w", n.cname, err)
	}
	return nil
}

// Thaw implements control.Containers (docker unpause). A container that
// is not paused is not an error.
func (c *Cluster) Thaw(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	info, err := c.cli.ContainerInspect(ctx, n.id)
	if err == nil && info.State != nil && !info.State.Paused {
		return nil
	}
	if err := c.cli.ContainerUnpause(ctx, n.id); err != nil {
		return fmt.Errorf("docker: unpausing %s: %w", n.cname, err)
	}
	return nil
}

// UseFreezer implements control.Containers: the backend's pause option.
func (c *Cluster) UseFreezer() bool { return c.pause == "freezer" }

// EngineCommand implements control.Containers: `faultline agent
// container` on the host asks the engine.
func (c *Cluster) EngineCommand(name, op string) []string {
	n, err := c.node(name)
	if err != nil {
		return nil
	}
	argv := []string{c.hostBin, "agent", "container", "--id", n.id, "--op", op}
	if op == "connect" {
		argv = append(argv, "--network", n.netID, "--ip", n.addr.String())
		if len(n.aliases) > 0 {
			argv = append(argv, "--aliases", strings.Join(n.aliases, ","))
		}
	}
	return argv
}

// Logs implements control.Containers: the container's output since
// since, with the engine's timestamps.
func (c *Cluster) Logs(ctx context.Context, name string, since time.Time, w io.Writer) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	rc, err := c.cli.ContainerLogs(ctx, n.id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Since: since.Add(-time.Minute).Format(time.RFC3339Nano)})
	if err != nil {
		return fmt.Errorf("docker: logs of %s: %w", n.cname, err)
	}
	defer rc.Close()
	info, err := c.cli.ContainerInspect(ctx, n.id)
	if err == nil && info.Config != nil && info.Config.Tty {
		_, err = io.Copy(w, rc)
		return err
	}
	_, err = stdcopy.StdCopy(w, w, rc)
	return err
}

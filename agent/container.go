package agent

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/faultline-dev/faultline/images"
)

// container asks the local Docker engine to undo what a fault did to a
// container node when the controller cannot (its lease ran out, or
// faultline heal): start it after a kill, unpause it after a freeze,
// connect it to its network again with its address after an unplug. The
// agent of a container node runs on the host, where the engine is.
func init() {
	register("container", "ask the Docker engine to start, unpause or reconnect a container", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("container", stderr)
		id := fs.String("id", "", "container id")
		op := fs.String("op", "", "start, unpause or connect")
		net := fs.String("network", "", "connect: the network")
		ip := fs.String("ip", "", "connect: the address it had")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *id == "" || *op == "" {
			fmt.Fprintln(stderr, "usage: faultline agent container --id ID --op start|unpause|connect [--network N --ip A]")
			return exitUsage
		}
		if err := engineOp(*id, *op, *net, *ip); err != nil {
			return fail(stderr, "container", err)
		}
		return exitOK
	})
}

func engineOp(id, op, netID, ip string) error {
	cli, err := images.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		return err
	}
	switch op {
	case "start":
		if info.State != nil && info.State.Running {
			return nil
		}
		return cli.ContainerStart(ctx, id, container.StartOptions{})
	case "unpause":
		if info.State == nil || !info.State.Paused {
			return nil
		}
		return cli.ContainerUnpause(ctx, id)
	case "connect":
		if info.NetworkSettings != nil {
			for _, ep := range info.NetworkSettings.Networks {
				if ep != nil && ep.NetworkID == netID {
					return nil
				}
			}
		}
		return cli.NetworkConnect(ctx, netID, id, &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip}})
	}
	return fmt.Errorf("unknown op %q: want start, unpause or connect", op)
}

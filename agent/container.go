package agent

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faultline-dev/faultline/images"
	"github.com/faultline-dev/faultline/internal/dockernet"
)

// container asks the local Docker engine to undo what a fault did to a
// container node when the controller cannot (its lease ran out, or
// faultline heal): start it after a kill, unpause it after a freeze,
// connect it to its network again with its address and aliases after an
// unplug (without the address if the engine refuses it). The
// agent of a container node runs on the host, where the engine is.
func init() {
	register("container", "ask the Docker engine to start, unpause or reconnect a container", func(args []string, stdout, stderr io.Writer) int {
		fs := flags("container", stderr)
		id := fs.String("id", "", "container id")
		op := fs.String("op", "", "start, unpause or connect")
		net := fs.String("network", "", "connect: the network")
		ip := fs.String("ip", "", "connect: the address it had")
		aliases := fs.String("aliases", "", "connect: its aliases on the network, comma-separated")
		if code, ok := parse(fs, args); !ok {
			return code
		}
		if *id == "" || *op == "" {
			fmt.Fprintln(stderr, "usage: faultline agent container --id ID --op start|unpause|connect [--network N --ip A --aliases A,B]")
			return exitUsage
		}
		var as []string
		if *aliases != "" {
			as = strings.Split(*aliases, ",")
		}
		if err := engineOp(*id, *op, *net, *ip, as); err != nil {
			return fail(stderr, "container", err)
		}
		return exitOK
	})
}

func engineOp(id, op, netID, ip string, aliases []string) error {
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
		// With its address and aliases if the engine takes them, else
		// without the address: never left disconnected.
		addr, _ := netip.ParseAddr(ip)
		return dockernet.Reconnect(ctx, cli, netID, id, addr, aliases)
	}
	return fmt.Errorf("unknown op %q: want start, unpause or connect", op)
}

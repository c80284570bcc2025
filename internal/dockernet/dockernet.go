// Package dockernet connects a container to a Docker network again after
// an unplug, the way both the docker backend (Replug) and a node's agent
// (`faultline agent container --op connect`, when the controller cannot)
// do it: with the address and the aliases it had, and never leaving it
// disconnected.
package dockernet

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// noSubnet is in the engine's refusal of a fixed address on a network
// whose subnet it chose itself (runconfig.ErrUnsupportedNetworkNoSubnetAndIP,
// API 1.41 and later): "user specified IP address is supported only when
// connecting to networks with user configured subnets".
const noSubnet = "user configured subnet"

// Reconnect connects container id to network netID again, with the
// address addr (if valid) and aliases it had. A container already on
// netID is left alone. If the engine refuses the address (a network
// without a user-configured subnet, or the address taken meanwhile), the
// container is connected without it: it is never left disconnected, and
// the error then says the address it came back with.
func Reconnect(ctx context.Context, cli client.APIClient, netID, id string, addr netip.Addr, aliases []string) error {
	if _, on, err := Address(ctx, cli, netID, id); err != nil {
		return err
	} else if on {
		return nil
	}
	ep := &network.EndpointSettings{Aliases: aliases}
	if addr.IsValid() {
		ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: addr.String()}
	}
	err := cli.NetworkConnect(ctx, netID, id, ep)
	if err == nil || ep.IPAMConfig == nil || ctx.Err() != nil {
		if err != nil {
			return fmt.Errorf("connecting container %.12s to network %.12s again: %w", id, netID, err)
		}
		return nil
	}
	// Not with its address: without one, rather than not at all.
	refused := err
	if err := cli.NetworkConnect(ctx, netID, id, &network.EndpointSettings{Aliases: aliases}); err != nil {
		return fmt.Errorf("connecting container %.12s to network %.12s again: as %s: %v; without a fixed address: %w", id, netID, addr, refused, err)
	}
	got, _, err := Address(ctx, cli, netID, id)
	if err != nil {
		return err
	}
	if got == addr {
		return nil
	}
	return fmt.Errorf("container %.12s is on network %.12s again, but as %v, not %s: the engine refused its address (%v)", id, netID, got, addr, refused)
}

// Address is container id's IPv4 address on network netID, and whether
// it is on it.
func Address(ctx context.Context, cli client.APIClient, netID, id string) (netip.Addr, bool, error) {
	info, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("inspecting container %.12s: %w", id, err)
	}
	if info.NetworkSettings == nil {
		return netip.Addr{}, false, nil
	}
	for _, ep := range info.NetworkSettings.Networks {
		if ep != nil && ep.NetworkID == netID {
			a, _ := netip.ParseAddr(ep.IPAddress)
			return a, true, nil
		}
	}
	return netip.Addr{}, false, nil
}

// RefusesAddress says whether err is the engine's refusal of a fixed
// address on a network without a user-configured subnet.
func RefusesAddress(err error) bool {
	return err != nil && strings.Contains(err.Error(), noSubnet)
}

// KeepsAddress asks the engine whether it would connect container id to
// network netID, which it is on, again with its address addr after an
// unplug: it is asked to connect the container there with that address.
// A network without a user-configured subnet refuses a fixed address
// before anything else (ErrUnsupportedNetworkNoSubnetAndIP); one with a
// subnet gets as far as the endpoint that already exists, and refuses
// that. Either way nothing changes.
func KeepsAddress(ctx context.Context, cli client.APIClient, netID, id string, addr netip.Addr) (bool, error) {
	if _, on, err := Address(ctx, cli, netID, id); err != nil {
		return false, err
	} else if !on {
		return false, fmt.Errorf("container %.12s is not on network %.12s", id, netID)
	}
	err := cli.NetworkConnect(ctx, netID, id, &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: addr.String()}})
	switch {
	case RefusesAddress(err):
		return false, nil
	case err != nil && strings.Contains(err.Error(), "already exists"):
		return true, nil
	case err == nil:
		return false, fmt.Errorf("the engine connected container %.12s to network %.12s, which it was on, again", id, netID)
	}
	return false, fmt.Errorf("asking the engine whether container %.12s can join network %.12s again as %s: %w", id, netID, addr, err)
}

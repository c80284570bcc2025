package hostnet

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Names Build gives every topology.
const (
	NodeLink = "eth0" // a node's interface, inside its namespace
	HostPeer = "host" // the hub-side end of the host's veth
)

// Topology is what Build makes: the names are the caller's, each unique on
// the host (a link name at most 15 characters).
type Topology struct {
	// Hub is the namespace holding the bridge.
	Hub string
	// Bridge is the bridge's name inside Hub.
	Bridge string
	// HostLink is the host's veth; its peer in Hub is HostPeer.
	HostLink string
	// Subnet is the prefix every address is in; HostAddr is the host's, on
	// HostLink.
	Subnet   netip.Prefix
	HostAddr netip.Addr
	// Nodes are made in order.
	Nodes []Node
}

// Node is one node of a Topology.
type Node struct {
	// Name is the node's port of the bridge: the hub-side end of its veth.
	Name string
	// Namespace is the node's namespace, holding NodeLink.
	Namespace string
	// Addr is the node's address, on NodeLink.
	Addr netip.Addr
}

// Build makes t: the hub namespace and its bridge, the host's veth with
// its address, and each node's namespace with NodeLink on the bridge,
// carrying the node's address, and lo up. ctx ends it between nodes. On
// error Build leaves what it made; the caller removes it by t's names.
func Build(ctx context.Context, t Topology) error {
	host, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer host.Close()
	hub, hubFd, err := newNamespace(t.Hub)
	if err != nil {
		return err
	}
	defer hubFd.Close()
	defer hub.Close()

	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: t.Bridge}}
	if err := hub.LinkAdd(br); err != nil {
		return fmt.Errorf("creating bridge %s in %s: %w", br.Name, t.Hub, err)
	}
	if err := hub.LinkSetUp(br); err != nil {
		return fmt.Errorf("bringing up bridge %s: %w", br.Name, err)
	}
	brIndex := br.Attrs().Index

	hv := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: t.HostLink}, PeerName: HostPeer, PeerNamespace: netlink.NsFd(hubFd)}
	if err := host.LinkAdd(hv); err != nil {
		return fmt.Errorf("creating veth %s: %w", hv.Name, err)
	}
	if err := host.AddrAdd(hv, &netlink.Addr{IPNet: prefixIPNet(netip.PrefixFrom(t.HostAddr, t.Subnet.Bits()))}); err != nil {
		return fmt.Errorf("adding %s to %s: %w", t.HostAddr, hv.Name, err)
	}
	if err := host.LinkSetUp(hv); err != nil {
		return fmt.Errorf("bringing up %s: %w", hv.Name, err)
	}
	if err := attachToBridge(hub, HostPeer, brIndex); err != nil {
		return err
	}

	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("creating nodes: %w", err)
		}
		if err := buildNode(hub, brIndex, t.Subnet.Bits(), n); err != nil {
			return err
		}
	}
	return nil
}

func buildNode(hub *netlink.Handle, brIndex, bits int, n Node) error {
	nh, nsFd, err := newNamespace(n.Namespace)
	if err != nil {
		return err
	}
	defer nsFd.Close()
	defer nh.Close()

	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.Name}, PeerName: NodeLink, PeerNamespace: netlink.NsFd(nsFd)}
	if err := hub.LinkAdd(v); err != nil {
		return fmt.Errorf("creating veth for %s: %w", n.Name, err)
	}
	if err := attachToBridge(hub, n.Name, brIndex); err != nil {
		return err
	}
	eth, err := nh.LinkByName(NodeLink)
	if err != nil {
		return fmt.Errorf("finding %s in %s: %w", NodeLink, n.Namespace, err)
	}
	if err := nh.AddrAdd(eth, &netlink.Addr{IPNet: prefixIPNet(netip.PrefixFrom(n.Addr, bits))}); err != nil {
		return fmt.Errorf("adding %s to %s in %s: %w", n.Addr, NodeLink, n.Namespace, err)
	}
	if err := nh.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bringing up %s in %s: %w", NodeLink, n.Namespace, err)
	}
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo in %s: %w", n.Namespace, err)
	}
	if err := nh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing up lo in %s: %w", n.Namespace, err)
	}
	return nil
}

func attachToBridge(hub *netlink.Handle, name string, brIndex int) error {
	l, err := hub.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding %s in the hub: %w", name, err)
	}
	if err := hub.LinkSetMasterByIndex(l, brIndex); err != nil {
		return fmt.Errorf("attaching %s to the bridge: %w", name, err)
	}
	if err := hub.LinkSetUp(l); err != nil {
		return fmt.Errorf("bringing up %s: %w", name, err)
	}
	return nil
}

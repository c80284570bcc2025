package sshtest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

// Names of what a fixture makes on the host. The prefix is the fixture's
// own: control/local's sweeper owns "fl-" and must never see these.
const (
	prefix  = "sshfx-"
	hubName = "hub"
	bridge  = "br0" // inside the hub namespace, so any name will do
	// stateDir holds the host-wide lock (subnet picking, sweeping) and one
	// lock file per live fixture.
	stateDir = "/run/sshfx"
)

func namespaceName(id, node string) string { return prefix + id + "-" + node }
func hostLinkName(id string) string        { return prefix + id } // 12 characters

// buildNetwork makes the hub namespace with its bridge, the host's veth
// into it (carrying HostAddr), and a namespace per node with eth0 on the
// bridge. The caller removes everything on error (removeNetwork).
func (f *Fixture) buildNetwork(ctx context.Context) error {
	t := hostnet.Topology{Hub: namespaceName(f.ID, hubName), Bridge: bridge, HostLink: hostLinkName(f.ID), Subnet: f.Subnet, HostAddr: f.HostAddr}
	for _, n := range f.Nodes {
		t.Nodes = append(t.Nodes, hostnet.Node{Name: n.Name, Namespace: n.Namespace, Addr: n.Addr})
	}
	return hostnet.Build(ctx, t)
}

// removeNetwork deletes the host's veth and every namespace of fixture id
// (nodes first, then the hub). Missing pieces are fine.
func removeNetwork(id string) error {
	var errs []error
	if _, err := hostnet.DeleteLink(hostLinkName(id)); err != nil {
		errs = append(errs, err)
	}
	names, _ := hostnet.ListNamespaces()
	hub := namespaceName(id, hubName)
	for _, name := range names {
		if name != hub && strings.HasPrefix(name, prefix+id+"-") {
			errs = append(errs, hostnet.DeleteNamespace(name))
		}
	}
	errs = append(errs, hostnet.DeleteNamespace(hub))
	return errors.Join(errs...)
}

// pickSubnet returns a /24 in 10.100.0.0–10.199.255.0 that no host route
// or address overlaps, starting at a random place. control/local starts
// its own search at 10.200, so the two rarely even look at the same /24s;
// the caller holds the host lock until its address is on the host.
func pickSubnet() (netip.Prefix, error) {
	used, err := hostnet.UsedPrefixes()
	if err != nil {
		return netip.Prefix{}, err
	}
	cands := hostnet.Slash24s(10, 100, 199)
	if p, ok := hostnet.FirstFree(cands, rand.IntN(len(cands)), used); ok {
		return p, nil
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.100.0.0/16–10.199.255.0/24: every one overlaps a host route or address")
}

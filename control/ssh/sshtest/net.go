package sshtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Names of what a fixture makes on the host. The prefix is the fixture's
// own: control/local's sweeper owns "fl-" and must never see these.
const (
	prefix   = "sshfx-"
	hubName  = "hub"
	nodeLink = "eth0" // a node's interface, inside its namespace
	hostPeer = "host" // the hub-side end of the host's veth
	bridge   = "br0"  // inside the hub namespace, so any name will do
	netnsDir = "/run/netns"
	// stateDir holds the host-wide lock (subnet picking, sweeping) and one
	// lock file per live fixture.
	stateDir = "/run/sshfx"
)

func namespaceName(id, node string) string { return prefix + id + "-" + node }
func hostLinkName(id string) string        { return prefix + id } // 12 characters

// inThread runs f on a fresh OS thread that is thrown away afterwards, so a
// namespace change made by f never leaks into another goroutine.
func inThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		errc <- f()
	}()
	return <-errc
}

func createNamespace(name string) error {
	return inThread(func() error {
		ns, err := netns.NewNamed(name)
		if err != nil {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
		return ns.Close()
	})
}

// deleteNamespace removes a named namespace; a missing one is fine.
func deleteNamespace(name string) error {
	err := netns.DeleteNamed(name)
	if err == nil || errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if errors.Is(err, unix.EINVAL) { // not a mount point: a half-made one
		if rerr := os.Remove(filepath.Join(netnsDir, name)); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("deleting namespace %s: %w", name, err)
}

// handleAt opens a netlink handle inside named namespace name.
func handleAt(name string) (*netlink.Handle, netns.NsHandle, error) {
	fd, err := netns.GetFromName(name)
	if err != nil {
		return nil, netns.None(), fmt.Errorf("opening namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, netns.None(), fmt.Errorf("netlink in %s: %w", name, err)
	}
	return h, fd, nil
}

// buildNetwork makes the hub namespace with its bridge, the host's veth
// into it (carrying hostAddr), and a namespace per node with eth0 on the
// bridge. The caller removes everything on error (removeNetwork).
func (f *Fixture) buildNetwork() error {
	host, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer host.Close()
	hubNs := namespaceName(f.ID, hubName)
	if err := createNamespace(hubNs); err != nil {
		return err
	}
	hub, hubFd, err := handleAt(hubNs)
	if err != nil {
		return err
	}
	defer hubFd.Close()
	defer hub.Close()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridge}}
	if err := hub.LinkAdd(br); err != nil {
		return fmt.Errorf("creating the bridge in %s: %w", hubNs, err)
	}
	if err := hub.LinkSetUp(br); err != nil {
		return fmt.Errorf("bringing up the bridge: %w", err)
	}
	brIndex := br.Attrs().Index

	hv := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostLinkName(f.ID)}, PeerName: hostPeer, PeerNamespace: netlink.NsFd(hubFd)}
	if err := host.LinkAdd(hv); err != nil {
		return fmt.Errorf("creating veth %s: %w", hv.Name, err)
	}
	if err := host.AddrAdd(hv, &netlink.Addr{IPNet: prefixIPNet(netip.PrefixFrom(f.HostAddr, f.Subnet.Bits()))}); err != nil {
		return fmt.Errorf("adding %s to %s: %w", f.HostAddr, hv.Name, err)
	}
	if err := host.LinkSetUp(hv); err != nil {
		return fmt.Errorf("bringing up %s: %w", hv.Name, err)
	}
	if err := attachToBridge(hub, hostPeer, brIndex); err != nil {
		return err
	}
	for _, n := range f.Nodes {
		if err := f.buildNode(hub, brIndex, n); err != nil {
			return err
		}
	}
	return nil
}

func (f *Fixture) buildNode(hub *netlink.Handle, brIndex int, n Node) error {
	if err := createNamespace(n.Namespace); err != nil {
		return err
	}
	nh, nsFd, err := handleAt(n.Namespace)
	if err != nil {
		return err
	}
	defer nsFd.Close()
	defer nh.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n.Name}, PeerName: nodeLink, PeerNamespace: netlink.NsFd(nsFd)}
	if err := hub.LinkAdd(v); err != nil {
		return fmt.Errorf("creating veth for %s: %w", n.Name, err)
	}
	if err := attachToBridge(hub, n.Name, brIndex); err != nil {
		return err
	}
	eth, err := nh.LinkByName(nodeLink)
	if err != nil {
		return fmt.Errorf("finding %s in %s: %w", nodeLink, n.Namespace, err)
	}
	if err := nh.AddrAdd(eth, &netlink.Addr{IPNet: prefixIPNet(netip.PrefixFrom(n.Addr, f.Subnet.Bits()))}); err != nil {
		return fmt.Errorf("adding %s in %s: %w", n.Addr, n.Namespace, err)
	}
	if err := nh.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bringing up %s in %s: %w", nodeLink, n.Namespace, err)
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

// removeNetwork deletes the host's veth and every namespace of fixture id
// (nodes first, then the hub). Missing pieces are fine.
func removeNetwork(id string) error {
	var errs []error
	if l, err := netlink.LinkByName(hostLinkName(id)); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting link %s: %w", hostLinkName(id), err))
		}
	}
	entries, _ := os.ReadDir(netnsDir)
	hub := namespaceName(id, hubName)
	for _, e := range entries {
		if name := e.Name(); name != hub && strings.HasPrefix(name, prefix+id+"-") {
			errs = append(errs, deleteNamespace(name))
		}
	}
	errs = append(errs, deleteNamespace(hub))
	return errors.Join(errs...)
}

// pickSubnet returns a /24 in 10.100.0.0–10.199.255.0 that no host route
// or address overlaps, starting at a random place. control/local starts
// its own search at 10.200, so the two rarely even look at the same /24s;
// the caller holds the host lock until its address is on the host.
func pickSubnet() (netip.Prefix, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	var used []netip.Prefix
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("listing host routes: %w", err)
	}
	for _, r := range routes {
		if p, ok := ipNetPrefix(r.Dst); ok && p.Bits() > 0 {
			used = append(used, p)
		}
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("listing host addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := ipNetPrefix(a.IPNet); ok {
			used = append(used, p.Masked())
		}
	}
	const n = 100 * 256
	var b [4]byte
	_, _ = rand.Read(b[:])
	start := int(binary.BigEndian.Uint32(b[:]) % n)
	for i := range n {
		k := (start + i) % n
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(100 + k/256), byte(k % 256), 0}), 24)
		free := true
		for _, u := range used {
			if p.Overlaps(u) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.100.0.0/16–10.199.255.0/24: every one overlaps a host route or address")
}

func retryDump[T any](f func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var out []T
		if out, err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

func ipNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// flockCtx takes an exclusive flock on f, polling so that ctx can end the
// wait.
func flockCtx(ctx context.Context, f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

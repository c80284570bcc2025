package hostnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Slash24s lists the /24s a.from.0.0 … a.to.255.0 in order.
func Slash24s(a, from, to byte) []netip.Prefix {
	var out []netip.Prefix
	for b := int(from); b <= int(to); b++ {
		for c := 0; c <= 255; c++ {
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{a, byte(b), byte(c), 0}), 24))
		}
	}
	return out
}

// FirstFree returns the first of cands that overlaps nothing in used,
// looking from cands[start] on and wrapping around.
func FirstFree(cands []netip.Prefix, start int, used []netip.Prefix) (netip.Prefix, bool) {
	for i := range cands {
		if c := cands[(start+i)%len(cands)]; !OverlapsAny(c, used) {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// OverlapsAny reports whether p overlaps any of used.
func OverlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// UsedPrefixes lists every IPv4 prefix the host routes or has an address
// in, in every routing table, except default routes. A caller that picks
// a subnet from it holds a host-wide lock until the subnet's address is on
// the host, so that concurrent pickers see each other's.
func UsedPrefixes() ([]netip.Prefix, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	var used []netip.Prefix
	routes, err := RetryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("listing host routes: %w", err)
	}
	for _, r := range routes {
		if p, ok := IPNetPrefix(r.Dst); ok && p.Bits() > 0 {
			used = append(used, p)
		}
	}
	addrs, err := RetryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("listing host addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := IPNetPrefix(a.IPNet); ok {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

// IPNetPrefix converts n; a nil or malformed n gives false.
func IPNetPrefix(n *net.IPNet) (netip.Prefix, bool) {
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

// RetryDump retries a netlink dump that the kernel interrupted because the
// table changed under it (another run adding links, say).
func RetryDump[T any](f func() ([]T, error)) ([]T, error) {
	var err error
	for range 5 {
		var out []T
		out, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

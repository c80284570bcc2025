package local

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// candidateSubnets lists the /24s a run may use, in order of preference:
// the upper half of 10/8 (lower numbers are the popular ones), then
// 172.16/12, then 192.168/16.
func candidateSubnets() []netip.Prefix {
	var out []netip.Prefix
	for a := 200; a <= 254; a++ {
		for b := 0; b <= 255; b++ {
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(a), byte(b), 0}), 24))
		}
	}
	for a := 16; a <= 31; a++ {
		for b := 0; b <= 255; b++ {
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(a), byte(b), 0}), 24))
		}
	}
	for b := 0; b <= 255; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(b), 0}), 24))
	}
	return out
}

// usedPrefixes lists every IPv4 prefix the host routes or has an address
// in, in every routing table, except default routes.
func usedPrefixes(h *netlink.Handle) ([]netip.Prefix, error) {
	var used []netip.Prefix
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("listing host routes: %w", err)
	}
	for _, r := range routes {
		if p, ok := ipNetPrefix(r.Dst); ok && p.Bits() > 0 {
			used = append(used, p)
		}
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("listing host addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := ipNetPrefix(a.IPNet); ok {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

// pickSubnet returns the first candidate /24, starting at a place that
// depends on the run id, that overlaps nothing in used.
func pickSubnet(id string, used []netip.Prefix) (netip.Prefix, error) {
	cands := candidateSubnets()
	h := fnv.New32a()
	h.Write([]byte(id))
	// Start within 10/8 only, so 172.x and 192.168.x stay fallbacks.
	start := int(h.Sum32() % (55 * 256))
	for i := range cands {
		c := cands[(start+i)%len(cands)]
		if !overlapsAny(c, used) {
			return c, nil
		}
	}
	return netip.Prefix{}, errors.New("no free private /24 for the cluster: every candidate in 10.200-254.x, 172.16/12 and 192.168/16 overlaps a host route or address; pass a subnet explicitly")
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
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

// retryDump retries a netlink dump that the kernel interrupted because the
// table changed under it (another run adding links, say).
func retryDump[T any](f func() ([]T, error)) ([]T, error) {
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

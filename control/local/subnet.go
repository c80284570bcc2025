package local

import (
	"errors"
	"hash/fnv"
	"net/netip"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

// candidateSubnets lists the /24s a run may use, in order of preference:
// the upper half of 10/8 (lower numbers are the popular ones), then
// 172.16/12, then 192.168/16. (control/ssh/sshtest picks from 10.100-199.x,
// so the two rarely even look at the same /24s.)
func candidateSubnets() []netip.Prefix {
	out := hostnet.Slash24s(10, 200, 254)
	out = append(out, hostnet.Slash24s(172, 16, 31)...)
	return append(out, hostnet.Slash24s(192, 168, 168)...)
}

// pickSubnet returns the first candidate /24, starting at a place that
// depends on the run id, that overlaps nothing in used.
func pickSubnet(id string, used []netip.Prefix) (netip.Prefix, error) {
	h := fnv.New32a()
	h.Write([]byte(id))
	// Start within 10/8 only, so 172.x and 192.168.x stay fallbacks.
	start := int(h.Sum32() % (55 * 256))
	if p, ok := hostnet.FirstFree(candidateSubnets(), start, used); ok {
		return p, nil
	}
	return netip.Prefix{}, errors.New("no free private /24 for the cluster: every candidate in 10.200-254.x, 172.16/12 and 192.168/16 overlaps a host route or address; pass a subnet explicitly")
}

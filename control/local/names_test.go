package local

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

func TestNames(t *testing.T) {
	id := NewRunID()
	if err := checkRunID(id); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bridgeName(id), hostLinkName(id), nodeLink, hostPeer, "n12345678"[:8]} {
		if len(name) > 15 {
			t.Errorf("interface name %q is longer than 15 characters", name)
		}
	}
	gotID, node, ok := parseNamespace(NamespaceName(id, "n3"))
	if !ok || gotID != id || node != "n3" {
		t.Errorf("parseNamespace(%q) = %q, %q, %v", NamespaceName(id, "n3"), gotID, node, ok)
	}
	for _, bad := range []string{"fl-abc-n1", "fl-ABCDEF-n1", "xfl-abcdef-n1", "fl-abcdef-", "docker0"} {
		if _, _, ok := parseNamespace(bad); ok {
			t.Errorf("parseNamespace(%q) accepted a name that is not faultline's", bad)
		}
	}
	for _, bad := range []string{"hub", "host", "N1", "1n", "toolongname"} {
		if checkNodeName(bad) == nil {
			t.Errorf("checkNodeName(%q) = nil, want an error", bad)
		}
	}
	names := []string{"n10", "n2", "n1"}
	slices.SortFunc(names, func(a, b string) int {
		if nodeLess(a, b) {
			return -1
		}
		return 1
	})
	if !slices.Equal(names, []string{"n1", "n2", "n10"}) {
		t.Errorf("natural order = %v", names)
	}
}

func TestPickSubnetAvoidsHostRoutes(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		name string
		used []netip.Prefix
		want func(netip.Prefix) bool
	}{
		{"nothing used", nil, func(s netip.Prefix) bool {
			return p("10.200.0.0/13").Overlaps(s) || p("10.208.0.0/12").Overlaps(s) || p("10.224.0.0/11").Overlaps(s)
		}},
		{"all of 10/8 routed (a VPN)", []netip.Prefix{p("10.0.0.0/8")}, func(s netip.Prefix) bool { return p("172.16.0.0/12").Contains(s.Addr()) }},
		{"10/8 and 172.16/12 routed", []netip.Prefix{p("10.0.0.0/8"), p("172.16.0.0/12")}, func(s netip.Prefix) bool { return p("192.168.0.0/16").Contains(s.Addr()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickSubnet("abcdef", tt.used)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bits() != 24 || !tt.want(got) || hostnet.OverlapsAny(got, tt.used) {
				t.Errorf("pickSubnet = %v", got)
			}
		})
	}
	all := []netip.Prefix{p("10.0.0.0/8"), p("172.16.0.0/12"), p("192.168.0.0/16")}
	if got, err := pickSubnet("abcdef", all); err == nil {
		t.Errorf("pickSubnet with every private range routed = %v, want an error", got)
	}
	// Two runs started at once see each other's subnet as a host route.
	first, _ := pickSubnet("abcdef", nil)
	second, _ := pickSubnet("abcdef", []netip.Prefix{first})
	if first == second {
		t.Errorf("second run picked the first run's subnet %v", first)
	}
}

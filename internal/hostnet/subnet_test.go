package hostnet

import (
	"net/netip"
	"testing"
)

func TestFirstFree(t *testing.T) {
	p := netip.MustParsePrefix
	cands := Slash24s(10, 100, 101)
	if len(cands) != 512 || cands[0] != p("10.100.0.0/24") || cands[511] != p("10.101.255.0/24") {
		t.Fatalf("Slash24s(10, 100, 101) = %d prefixes, %v … %v", len(cands), cands[0], cands[len(cands)-1])
	}
	if n := len(Slash24s(192, 168, 168)); n != 256 {
		t.Errorf("Slash24s(192, 168, 168): %d prefixes, want 256", n)
	}
	if n := len(Slash24s(10, 255, 255)); n != 256 {
		t.Errorf("Slash24s(10, 255, 255): %d prefixes, want 256", n)
	}
	// From the start on, wrapping around past the end.
	used := []netip.Prefix{p("10.101.0.0/16"), p("10.100.0.0/23")}
	if got, ok := FirstFree(cands, 300, used); !ok || got != p("10.100.2.0/24") {
		t.Errorf("FirstFree from 300 = %v, %v; want 10.100.2.0/24", got, ok)
	}
	if got, ok := FirstFree(cands, 5, used); !ok || got != p("10.100.5.0/24") {
		t.Errorf("FirstFree from 5 = %v, %v; want 10.100.5.0/24", got, ok)
	}
	if got, ok := FirstFree(cands, 0, []netip.Prefix{p("10.0.0.0/8")}); ok {
		t.Errorf("FirstFree with all of 10/8 used = %v, want none", got)
	}
}

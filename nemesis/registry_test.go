package nemesis

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline-dev/faultline/agent"
)

// What a node lacks is said in words a user can act on, and a node with
// everything lacks nothing.
func TestNeedLacks(t *testing.T) {
	all := agent.Facts{Arch: "amd64", Root: true, Iptables: true, IptablesRestore: true, Tc: true, Netem: true, Nfqueue: true, Ptrace: true}
	for _, n := range []Need{NeedIptables, NeedDelay, NeedPtrace, NeedSignals} {
		if why := n.lacks(all); why != "" {
			t.Errorf("%s lacks %q on a node with everything", n, why)
		}
	}
	cases := []struct {
		need Need
		edit func(*agent.Facts)
		want string
	}{
		{NeedIptables, func(f *agent.Facts) { f.IptablesRestore = false }, "lacks iptables-restore (apt-get install iptables)"},
		{NeedIptables, func(f *agent.Facts) { f.Root = false }, "root"},
		{NeedDelay, func(f *agent.Facts) { f.Netem, f.Nfqueue = false, false }, "neither tc netem nor netfilter's NFQUEUE"},
		{NeedDelay, func(f *agent.Facts) { f.Netem = false }, ""}, // NFQUEUE will do
		{NeedPtrace, func(f *agent.Facts) { f.Ptrace, f.PtraceWhy = false, "kernel.yama.ptrace_scope is 3" }, "ptrace_scope is 3"},
		{NeedSignals, func(f *agent.Facts) { f.Root = false }, "lacks root"},
	}
	for _, c := range cases {
		f := all
		c.edit(&f)
		why := c.need.lacks(f)
		if (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
			t.Errorf("%s: lacks %q, want %q", c.need, why, c.want)
		}
	}
}

// A fault that needs container nodes is refused on a cluster of another
// backend before any node is asked anything.
func TestCheckRefusesUnplugOffContainers(t *testing.T) {
	c := newFakeCluster("n1", "n2")
	_, err := Check(context.Background(), c, agent.NewPool(c, agent.PoolOptions{}), []string{"unplug"}, true)
	if err == nil || !strings.Contains(err.Error(), "unplug needs nodes that are containers (--control docker), and these are fake nodes") {
		t.Errorf("Check(unplug) on a fake cluster: %v", err)
	}
	_, err = Check(context.Background(), c, agent.NewPool(c, agent.PoolOptions{}), []string{"kill"}, false)
	if err == nil || !strings.Contains(err.Error(), "kill needs a target") {
		t.Errorf("Check(kill) without a target: %v", err)
	}
}

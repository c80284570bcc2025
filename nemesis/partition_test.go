package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control/local"
)

const probePort = "7001"

// listenAll starts a TCP listener in every node's namespace on its address;
// the test's cleanup closes them.
func listenAll(t *testing.T, c *local.Cluster) {
	t.Helper()
	for _, n := range c.Nodes() {
		var l net.Listener
		var err error
		inNetns(t, namespace(t, c, n.Name), func() {
			l, err = net.Listen("tcp", net.JoinHostPort(n.Addr.String(), probePort))
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
	}
}

// reachability dials from inside every node's namespace to every other
// node, all at once, and returns the ordered pairs "a>b" that connected.
// Pairs for which want (if not nil) expects a connection and that failed
// are tried twice more: on a loaded machine a dial may time out, but a
// dropped SYN never connects, so retries cannot hide a cut link.
func reachability(t *testing.T, c *local.Cluster, want func(a, b string) bool) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	ok := map[string]bool{}
	var wg sync.WaitGroup
	for _, a := range c.Nodes() {
		for _, b := range c.Nodes() {
			if a.Name == b.Name {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for try := 0; try < 3; try++ {
					var err error
					inNetns(t, namespace(t, c, a.Name), func() {
						d := net.Dialer{Timeout: time.Second}
						var conn net.Conn
						if conn, err = d.Dial("tcp", net.JoinHostPort(b.Addr.String(), probePort)); err == nil {
							conn.Close()
						}
					})
					if err == nil {
						mu.Lock()
						ok[a.Name+">"+b.Name] = true
						mu.Unlock()
						return
					}
					if want == nil || !want(a.Name, b.Name) {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	return ok
}

func linked(a, b string) bool { return true }

// controllerReaches dials every node from the controller (the host).
func controllerReaches(t *testing.T, c *local.Cluster) []string {
	var bad []string
	for _, n := range c.Nodes() {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(n.Addr.String(), probePort), time.Second)
		if err != nil {
			bad = append(bad, n.Name)
			continue
		}
		conn.Close()
	}
	return bad
}

func diffLinks(c *local.Cluster, got map[string]bool, cut func(a, b string) bool) []string {
	var diffs []string
	for _, a := range c.Nodes() {
		for _, b := range c.Nodes() {
			if a.Name == b.Name {
				continue
			}
			k := a.Name + ">" + b.Name
			if want := !cut(a.Name, b.Name); got[k] != want {
				diffs = append(diffs, fmt.Sprintf("%s reachable=%v want %v", k, got[k], want))
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

func TestPartitionGrudgesBlockExactlyTheirLinks(t *testing.T) {
	c := newCluster(t, 5)
	listenAll(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := newEnv(t, c, &fakeDB{primaries: []string{"n2", "n4"}})
	fl := NewFailer(newPartition(env), nil)
	t.Cleanup(func() {
		if err := fl.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		assertNoFaultlineRules(t, c)
	})

	if d := diffLinks(c, reachability(t, c, linked), func(a, b string) bool { return false }); len(d) > 0 {
		t.Fatalf("before any partition: %v", d)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for _, tc := range []struct {
		kind     GrudgeKind
		explicit Grudge
		cut      int // links cut, counting each unordered pair once
	}{
		{GrudgeOne, nil, 4},
		{GrudgeHalves, nil, 6},
		{GrudgeRandomHalves, nil, 6},
		{GrudgeMajority, nil, 6},
		{GrudgeMinority, nil, 7},
		{GrudgeMajoritiesRing, nil, 5},
		{GrudgeBridge, nil, 4},
		{GrudgePrimaries, nil, 7},
		{GrudgeIsolate, nil, 6}, // n2 and n5 (see below) apart from the rest
		// One-way grudges cut both directions: n1 drops n2's packets and
		// its own to n2.
		{GrudgeExplicit, Grudge{"n1": {"n2"}, "n3": {"n4", "n5"}}, 3},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			start := time.Now()
			act, err := fl.Inject(ctx, PartitionArgs{Grudge: tc.kind, Explicit: tc.explicit, Nodes: SelectNamed("n2", "n5")}, rng)
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			g := act.(*partitionAction).Grudge
			cut := 0
			for i, a := range c.Nodes() {
				for _, b := range c.Nodes()[i+1:] {
					if g.Cut(a.Name, b.Name) {
						cut++
					}
				}
			}
			if cut != tc.cut {
				t.Errorf("grudge %v cuts %d links, want %d", g, cut, tc.cut)
			}
			got := reachability(t, c, func(a, b string) bool { return !g.Cut(a, b) })
			if d := diffLinks(c, got, g.Cut); len(d) > 0 {
				t.Errorf("grudge %v:\n%s", g, strings.Join(d, "\n"))
			}
			if bad := controllerReaches(t, c); len(bad) > 0 {
				t.Errorf("grudge %v: the controller cannot reach %v", g, bad)
			}
			start = time.Now()
			if err := fl.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			healTook := time.Since(start)
			if d := diffLinks(c, reachability(t, c, linked), func(a, b string) bool { return false }); len(d) > 0 {
				t.Errorf("after healing %v: %v", g, d)
			}
			t.Logf("%s: %v; %d of 20 directed links cut; inject %v, heal %v", tc.kind, g, 20-len(got), took.Round(time.Millisecond), healTook.Round(time.Millisecond))
		})
	}
}

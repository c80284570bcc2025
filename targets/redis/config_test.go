package redis

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/options"
)

// nodesOnly is a cluster that only names its nodes: enough for New and the
// configuration files, which touch no node.
type nodesOnly struct {
	control.Cluster
	nodes []control.Node
}

func (c nodesOnly) Nodes() []control.Node { return c.nodes }

func fakeNodes(n int) nodesOnly {
	var c nodesOnly
	for i := range n {
		c.nodes = append(c.nodes, control.Node{Name: "n" + string(rune('1'+i)), Addr: netip.AddrFrom4([4]byte{10, 9, 0, byte(11 + i)})})
	}
	return c
}

func resolve(t *testing.T, given map[string]string) options.Values {
	t.Helper()
	v, err := options.Resolve("target redis", OptionSpecs(), given)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOptions(t *testing.T) {
	o := FromOptions(resolve(t, nil), "/d", 3*time.Second)
	tg, err := New(fakeNodes(3), o)
	if err != nil {
		t.Fatal(err)
	}
	if tg.opts.Persistence != RDB || tg.opts.Wait != 0 || !tg.Sentinel() || tg.opts.Port != 6379 || tg.opts.SentinelPort != 26379 || tg.opts.LockTTL != 10*time.Second {
		t.Errorf("defaults: %+v, sentinel %v", tg.opts, tg.Sentinel())
	}
	if tg.opts.WaitTimeout != time.Second || tg.opts.RequestTimeout != 3*time.Second {
		t.Errorf("timeouts: WAIT %v, request %v", tg.opts.WaitTimeout, tg.opts.RequestTimeout)
	}
	// One node: no sentinel, whatever the option says.
	if tg, err := New(fakeNodes(1), o); err != nil || tg.Sentinel() {
		t.Errorf("one node: sentinel %v, %v", tg.Sentinel(), err)
	}
	off := FromOptions(resolve(t, map[string]string{"sentinel": "off", "wait": "2", "persistence": AOFAlways}), "/d", time.Second)
	if tg, err := New(fakeNodes(3), off); err != nil || tg.Sentinel() || tg.opts.Wait != 2 || tg.opts.WaitTimeout != 500*time.Millisecond {
		t.Errorf("sentinel=off wait=2 on 3 nodes: %v; %+v", err, tg)
	}
	// WAIT for more replicas than there are: New takes it (a cluster made
	// with it can be torn down), Setup refuses it before touching a node.
	tg, err = New(fakeNodes(2), off)
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Setup(context.Background()); err == nil || !strings.Contains(err.Error(), "--nodes 3") {
		t.Errorf("Setup with wait=2 on 2 nodes: %v, want an error that asks for 3 nodes", err)
	}
	for _, bad := range []map[string]string{{"persistence": "aof"}, {"wait": "-1"}, {"sentinel": "maybe"}, {"lock-ttl": "0s"}, {"lock-ttl": "10"}} {
		if _, err := options.Resolve("target redis", OptionSpecs(), bad); err == nil {
			t.Errorf("options %v: no error", bad)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		persistence string
		want        []string
		not         []string
	}{
		{RDB, []string{"save 3600 1 300 100 60 10000", "appendonly no"}, []string{"appendfsync"}},
		{AOFEverysec, []string{"save 3600 1 300 100 60 10000", "appendonly yes", "appendfsync everysec"}, nil},
		{AOFAlways, []string{"appendonly yes", "appendfsync always"}, []string{"everysec"}},
	} {
		tg, err := New(fakeNodes(3), Options{Dir: "/store/nodes", Persistence: c.persistence, Sentinel: true})
		if err != nil {
			t.Fatal(err)
		}
		n1, n2 := tg.nodes[0], tg.nodes[1]
		conf := tg.serverConfig(n1)
		for _, w := range append(c.want, "bind 10.9.0.11\n", "port 6379\n", "protected-mode no\n", "daemonize no\n",
			"pidfile /store/nodes/n1/conf/redis-server.pid\n", "dir /store/nodes/n1/data\n") {
			if !strings.Contains(conf, w) {
				t.Errorf("%s: n1's redis.conf lacks %q:\n%s", c.persistence, w, conf)
			}
		}
		for _, w := range append(c.not, "replicaof", "unixsocket") {
			if strings.Contains(conf, w) {
				t.Errorf("%s: n1's redis.conf has %q:\n%s", c.persistence, w, conf)
			}
		}
		if conf := tg.serverConfig(n2); !strings.Contains(conf, "replicaof 10.9.0.11 6379\n") {
			t.Errorf("n2's redis.conf does not replicate n1:\n%s", conf)
		}
	}
	tg, err := New(fakeNodes(3), Options{Dir: "/store/nodes", Sentinel: true})
	if err != nil {
		t.Fatal(err)
	}
	conf := tg.sentinelConfig(tg.nodes[2])
	for _, w := range []string{"bind 10.9.0.13\n", "port 26379\n", "sentinel monitor faultline 10.9.0.11 6379 2\n",
		"sentinel down-after-milliseconds faultline 2000\n", "sentinel failover-timeout faultline 4000\n",
		"pidfile /store/nodes/n3/conf/redis-sentinel.pid\n", "sentinel announce-ip 10.9.0.13\n"} {
		if !strings.Contains(conf, w) {
			t.Errorf("n3's sentinel.conf lacks %q:\n%s", w, conf)
		}
	}
	if q := (&Target{nodes: fakeNodes(5).nodes}).quorum(); q != 3 {
		t.Errorf("quorum of 5 sentinels = %d, want 3", q)
	}
}

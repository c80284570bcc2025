package redis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/faultline-dev/faultline/control"
)

// probeTimeout bounds one probe of one server or sentinel, connecting
// included.
const probeTimeout = 2 * time.Second

// replInfo is what a server says of itself (INFO replication and
// persistence).
type replInfo struct {
	role       string // master or slave
	masterHost string
	masterPort int
	linkUp     bool
	loading    bool
}

// probe asks node's server for its INFO.
func (t *Target) probe(ctx context.Context, n control.Node) (replInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	o := t.clientOptions()
	o.Addr = t.addr(n)
	o.ReadTimeout, o.WriteTimeout, o.DialTimeout = probeTimeout, probeTimeout, probeTimeout
	c := goredis.NewClient(o)
	defer c.Close()
	s, err := c.Info(ctx, "replication", "persistence").Result()
	if err != nil {
		return replInfo{}, fmt.Errorf("%s: %w", n.Name, err)
	}
	return parseInfo(s), nil
}

// parseInfo reads INFO's key:value lines.
func parseInfo(s string) replInfo {
	var ri replInfo
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "role":
			ri.role = v
		case "master_host":
			ri.masterHost = v
		case "master_port":
			ri.masterPort, _ = strconv.Atoi(v)
		case "master_link_status":
			ri.linkUp = v == "up"
		case "loading":
			ri.loading = v == "1"
		}
	}
	return ri
}

// sentinelView is what a sentinel knows.
type sentinelView struct {
	primary string // host:port
	// peers are the other sentinels it knows and finds up; replicas the
	// replicas (host:port) it knows, and whether it finds them up.
	peers    int
	replicas map[string]bool
}

// sentinelView asks node's sentinel what it knows of the primary, the
// replicas and the other sentinels.
func (t *Target) sentinelView(ctx context.Context, n control.Node) (sentinelView, error) {
	var v sentinelView
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	o := t.clientOptions()
	o.Addr = t.sentinelAddr(n)
	o.ReadTimeout, o.WriteTimeout, o.DialTimeout = probeTimeout, probeTimeout, probeTimeout
	c := goredis.NewSentinelClient(o)
	defer c.Close()
	a, err := c.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return v, fmt.Errorf("the sentinel on %s: %w", n.Name, err)
	}
	if len(a) != 2 {
		return v, fmt.Errorf("the sentinel on %s: the primary's address is %q", n.Name, a)
	}
	v.primary = a[0] + ":" + a[1]
	peers, err := c.Sentinels(ctx, MasterName).Result()
	if err != nil {
		return v, fmt.Errorf("the sentinel on %s: %w", n.Name, err)
	}
	for _, p := range peers {
		if up(p["flags"]) {
			v.peers++
		}
	}
	replicas, err := c.Replicas(ctx, MasterName).Result()
	if err != nil {
		return v, fmt.Errorf("the sentinel on %s: %w", n.Name, err)
	}
	v.replicas = map[string]bool{}
	for _, r := range replicas {
		// Not its master-link-status, which the sentinel refreshes every
		// 10 s: the replica's own INFO tells.
		v.replicas[r["ip"]+":"+r["port"]] = up(r["flags"])
	}
	return v, nil
}

// up says whether a sentinel's flags for an instance say it is reachable.
func up(flags string) bool {
	for _, f := range strings.Split(flags, ",") {
		if f == "s_down" || f == "o_down" || f == "disconnected" {
			return false
		}
	}
	return true
}

// WaitHealthy returns once every node serves: every server answers and has
// loaded its data; the primary (the first node, or the one every sentinel
// names) is a primary; every other node replicates it with its link up.
// It fails when ctx ends, with what was last wrong.
func (t *Target) WaitHealthy(ctx context.Context) error {
	for {
		err := t.healthy(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis not healthy: %w; last: %v", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (t *Target) healthy(ctx context.Context) error {
	return t.check(ctx, t.sentinel)
}

// replicating returns once every replica is linked to the first node,
// sentinels or not, or fails when ctx ends.
func (t *Target) replicating(ctx context.Context) error {
	for {
		err := t.check(ctx, false)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis replicas not linked to %s: %w; last: %v", t.first().Name, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// check says what keeps the nodes from serving: with sentinels, the
// primary is the one they name, else the first node.
func (t *Target) check(ctx context.Context, sentinels bool) error {
	infos := make([]replInfo, len(t.nodes))
	if err := forNodesIndexed(t.nodes, func(i int, n control.Node) (err error) {
		infos[i], err = t.probe(ctx, n)
		return err
	}); err != nil {
		return err
	}
	for i, n := range t.nodes {
		if infos[i].loading {
			return fmt.Errorf("%s is loading its data", n.Name)
		}
	}
	primary := t.first()
	if sentinels {
		views := make([]sentinelView, len(t.nodes))
		if err := forNodesIndexed(t.nodes, func(i int, n control.Node) (err error) {
			views[i], err = t.sentinelView(ctx, n)
			return err
		}); err != nil {
			return err
		}
		for i, v := range views {
			if v.primary != views[0].primary {
				return fmt.Errorf("the sentinels disagree on the primary: %s on %s, %s on %s", views[0].primary, t.nodes[0].Name, v.primary, t.nodes[i].Name)
			}
		}
		var ok bool
		if primary, ok = t.nodeAt(views[0].primary); !ok {
			return fmt.Errorf("the sentinels name %s the primary, which is no node's", views[0].primary)
		}
		// A sentinel that knows too few others cannot fail the primary
		// over (a restarted one learns of the others from their hellos,
		// every 2 s); one that does not see a replica would not promote
		// it.
		for i, v := range views {
			if v.peers < len(t.nodes)-1 {
				return fmt.Errorf("the sentinel on %s knows %d other sentinels up, not %d", t.nodes[i].Name, v.peers, len(t.nodes)-1)
			}
			for _, n := range t.nodes {
				if n != primary && !v.replicas[t.addr(n)] {
					return fmt.Errorf("the sentinel on %s does not see %s as a replica, up", t.nodes[i].Name, n.Name)
				}
			}
		}
	}
	for i, n := range t.nodes {
		ri := infos[i]
		switch {
		case n == primary && ri.role != "master":
			return fmt.Errorf("%s, the primary, is a %s", n.Name, ri.role)
		case n == primary:
		case ri.role != "slave":
			return fmt.Errorf("%s is a %s, not a replica of %s", n.Name, ri.role, primary.Name)
		case ri.masterHost != primary.Addr.String() || ri.masterPort != t.opts.Port:
			return fmt.Errorf("%s replicates %s:%d, not %s", n.Name, ri.masterHost, ri.masterPort, primary.Name)
		case !ri.linkUp:
			return fmt.Errorf("%s's link to %s is down", n.Name, primary.Name)
		}
	}
	return nil
}

// nodeAt is the node whose server listens at addr (host:port).
func (t *Target) nodeAt(addr string) (control.Node, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || int(ap.Port()) != t.opts.Port {
		return control.Node{}, false
	}
	for _, n := range t.nodes {
		if n.Addr == ap.Addr() {
			return n, true
		}
	}
	return control.Node{}, false
}

// Primaries implements targets.Primaries: the nodes whose servers say they
// are a primary (more than one while a partition keeps an old primary
// from learning of a failover).
func (t *Target) Primaries(ctx context.Context) ([]string, error) {
	infos := make([]replInfo, len(t.nodes))
	errs := make([]error, len(t.nodes))
	_ = forNodesIndexed(t.nodes, func(i int, n control.Node) error {
		infos[i], errs[i] = t.probe(ctx, n)
		return nil
	})
	var out []string
	answered := false
	for i, n := range t.nodes {
		if errs[i] != nil {
			continue
		}
		answered = true
		if infos[i].role == "master" {
			out = append(out, n.Name)
		}
	}
	if !answered {
		return nil, fmt.Errorf("redis primaries: no server answered: %w", errors.Join(errs...))
	}
	return out, nil
}

// forNodesIndexed runs f for every node at once and joins the errors.
func forNodesIndexed(nodes []control.Node, f func(int, control.Node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = f(i, n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

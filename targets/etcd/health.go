package etcd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// healthKey is what WaitHealthy reads; it need not exist.
const healthKey = "faultline/health"

// probeTimeout bounds one health or status request, shorter than the
// request timeout so that WaitHealthy retries a stuck member quickly.
const probeTimeout = time.Second

// WaitHealthy returns once every member answers a linearizable read (which
// needs a leader and a quorum that agrees with it), or fails when ctx ends,
// saying which members were not healthy and why.
func (t *Target) WaitHealthy(ctx context.Context) error {
	pending := map[string]error{}
	for _, n := range t.nodes {
		pending[n.Name] = errors.New("not checked yet")
	}
	for {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := t.probe(ctx, name)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					delete(pending, name)
				} else {
					pending[name] = err
				}
			}()
		}
		wg.Wait()
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var why []string
			for name, err := range pending {
				why = append(why, fmt.Sprintf("%s: %v", name, err))
			}
			sort.Strings(why)
			return fmt.Errorf("etcd not healthy: %w; %s", ctx.Err(), strings.Join(why, "; "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe makes one linearizable read on node.
func (t *Target) probe(ctx context.Context, node string) error {
	c, err := t.admin(node)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err = c.cli.Get(pctx, healthKey)
	return err
}

// memberStatus is what one member says of itself and its leader.
type memberStatus struct {
	node   string
	id     uint64
	leader uint64
	err    error
}

func (t *Target) statuses(ctx context.Context) []memberStatus {
	out := make([]memberStatus, len(t.nodes))
	var wg sync.WaitGroup
	for i, n := range t.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i].node = n.Name
			c, err := t.admin(n.Name)
			if err != nil {
				out[i].err = err
				return
			}
			sctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			resp, err := c.cli.Status(sctx, t.clientURL(n))
			if err != nil {
				out[i].err = err
				return
			}
			out[i].id, out[i].leader = resp.Header.MemberId, resp.Leader
		}()
	}
	wg.Wait()
	return out
}

// Leader returns the node that most reachable members name as their
// leader. It fails if no reachable member knows a leader, or if the leader
// they name is not one of this target's nodes.
func (t *Target) Leader(ctx context.Context) (string, error) {
	sts := t.statuses(ctx)
	names := map[uint64]string{}
	votes := map[uint64]int{}
	var errs []error
	for _, s := range sts {
		if s.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.node, s.err))
			continue
		}
		names[s.id] = s.node
		if s.leader != 0 {
			votes[s.leader]++
		}
	}
	var best uint64
	for id, v := range votes {
		if v > votes[best] || (v == votes[best] && names[id] < names[best]) {
			best = id
		}
	}
	if best == 0 {
		return "", fmt.Errorf("etcd: no member knows a leader: %w", errors.Join(errs...))
	}
	name, ok := names[best]
	if !ok {
		// The leader did not answer itself; the member list names it.
		name, ok = t.memberName(ctx, sts, best)
	}
	if !ok {
		return "", fmt.Errorf("etcd: leader %x is not a known member", best)
	}
	return name, nil
}

// Primaries implements targets.Primaries: the nodes whose member believes
// it is the leader (more than one while an old leader is cut off).
func (t *Target) Primaries(ctx context.Context) ([]string, error) {
	var out []string
	var errs []error
	for _, s := range t.statuses(ctx) {
		if s.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.node, s.err))
			continue
		}
		if s.leader != 0 && s.leader == s.id {
			out = append(out, s.node)
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("etcd: no primary found: %w", errors.Join(errs...))
	}
	return out, nil
}

// memberName asks the first member that answered in sts for the name of
// member id.
func (t *Target) memberName(ctx context.Context, sts []memberStatus, id uint64) (string, bool) {
	for _, s := range sts {
		if s.err != nil {
			continue
		}
		c, err := t.admin(s.node)
		if err != nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, probeTimeout)
		resp, err := c.cli.MemberList(lctx)
		cancel()
		if err != nil {
			continue
		}
		for _, m := range resp.Members {
			if m.ID == id {
				return m.Name, true
			}
		}
		return "", false
	}
	return "", false
}

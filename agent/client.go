package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// PoolOptions configure a controller's session with the agents of a
// cluster.
type PoolOptions struct {
	// Session names the session on every node; empty means a random id.
	Session string
	// Lease is how long an agent holds faults without hearing from the
	// controller (0: until told; faultline nemesis by hand).
	Lease time.Duration
	// Reap makes an agent whose controller has gone also kill what the
	// run spawned on its node when the lease runs out.
	Reap bool
	// Logf, if set, receives a line per event worth knowing (an agent
	// that healed because its lease ran out, a reconnection).
	Logf func(format string, args ...any)

	_ struct{}
}

// Pool is the controller's side of one session: an agent per node,
// started on first use through the cluster's backend and kept alive by
// renewing the lease. It is safe for concurrent use.
type Pool struct {
	c    control.Cluster
	opts PoolOptions

	mu     sync.Mutex
	conns  map[string]*conn
	closed bool
	stop   chan struct{}
	renew  sync.WaitGroup
}

// NewPool makes a session with the agents of c's nodes. Nothing runs on a
// node until the first call that needs it.
func NewPool(c control.Cluster, opts PoolOptions) *Pool {
	if opts.Session == "" {
		opts.Session = NewSession()
	}
	p := &Pool{c: c, opts: opts, conns: map[string]*conn{}, stop: make(chan struct{})}
	if opts.Lease > 0 {
		p.renew.Add(1)
		go p.renewLoop()
	}
	return p
}

// NewSession returns a random session id.
func NewSession() string { return rand.Text()[:10] }

// Session is the pool's session id.
func (p *Pool) Session() string { return p.opts.Session }

func (p *Pool) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	}
}

// renewLoop renews every agent's lease three times per lease.
func (p *Pool) renewLoop() {
	defer p.renew.Done()
	t := time.NewTicker(max(p.opts.Lease/3, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		var cs []*conn
		for _, c := range p.conns {
			cs = append(cs, c)
		}
		p.mu.Unlock()
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), p.opts.Lease/3)
				defer cancel()
				if _, err := c.call(ctx, request{Op: opRenew}); err != nil && !errors.Is(err, errDead) {
					p.logf("agent on %s: renewing the lease: %v", c.node, err)
				}
			}()
		}
		wg.Wait()
	}
}

// get returns the node's agent, starting it (again, if it died: the new
// agent takes the session's ledger over) when needed.
func (p *Pool) get(ctx context.Context, node string) (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("agent session closed")
	}
	if c := p.conns[node]; c != nil && !c.isDead() {
		return c, nil
	} else if c != nil {
		p.logf("agent on %s: %v; starting another (it takes the session's faults over)", node, c.deadErr())
	}
	c, err := dial(ctx, p.c, node, p.opts)
	if err != nil {
		return nil, err
	}
	p.conns[node] = c
	return c, nil
}

func (p *Pool) call(ctx context.Context, node string, r request) (response, error) {
	c, err := p.get(ctx, node)
	if err != nil {
		return response{}, err
	}
	resp, err := c.call(ctx, r)
	if err != nil {
		return resp, err
	}
	if resp.Expired && c.noteExpired() {
		p.logf("agent on %s: its lease ran out at %s and it undid every fault it held", node, resp.ExpiredAt.Format(time.RFC3339Nano))
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("agent on %s: %s", node, resp.Error)
	}
	return resp, nil
}

// Apply applies a as fault id on node and reports what it did. The agent
// records it in its ledger first.
func (p *Pool) Apply(ctx context.Context, node string, id int64, a Action) (Applied, error) {
	resp, err := p.call(ctx, node, request{Op: opApply, Fault: id, Action: &a})
	if resp.Applied == nil {
		return Applied{}, err
	}
	return *resp.Applied, err
}

// Recover undoes fault id on node and says what it undid; a fault that is
// not held (never applied there, or undone already) is not an error.
func (p *Pool) Recover(ctx context.Context, node string, id int64) ([]string, error) {
	resp, err := p.call(ctx, node, request{Op: opRecover, Fault: id})
	return resp.Undone, err
}

// Setup makes faultline's chains on node (empty).
func (p *Pool) Setup(ctx context.Context, node string, chains ...string) error {
	_, err := p.call(ctx, node, request{Op: opSetup, Chains: chains})
	return err
}

// Cleanup removes faultline's chains from node.
func (p *Pool) Cleanup(ctx context.Context, node string, chains ...string) error {
	_, err := p.call(ctx, node, request{Op: opCleanup, Chains: chains})
	return err
}

// Tree lists the processes of the trees rooted at roots on node.
func (p *Pool) Tree(ctx context.Context, node string, roots []Proc) ([]Proc, error) {
	resp, err := p.call(ctx, node, request{Op: opPs, Roots: roots})
	return resp.Procs, err
}

// Match lists the processes on node whose command line contains pattern.
func (p *Pool) Match(ctx context.Context, node, pattern string) ([]Proc, error) {
	resp, err := p.call(ctx, node, request{Op: opPs, Pattern: pattern})
	return resp.Procs, err
}

// Offset is the clock offset of the trees rooted at roots on node (0 if
// none is skewed).
func (p *Pool) Offset(ctx context.Context, node string, roots []Proc) (time.Duration, error) {
	resp, err := p.call(ctx, node, request{Op: opOffsets, Roots: roots})
	return resp.Offset, err
}

// Probe says what node can do.
func (p *Pool) Probe(ctx context.Context, node string) (Facts, error) {
	resp, err := p.call(ctx, node, request{Op: opProbe})
	if resp.Facts == nil {
		return Facts{}, err
	}
	return *resp.Facts, err
}

// Close ends the session: each agent undoes what it still holds (nothing,
// after a normal end: faults are recovered first) and exits.
func (p *Pool) Close(ctx context.Context) error {
	cs := p.end()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Detach leaves the agents running, holding what they hold (faultline
// nemesis by hand: the faults stay until healed), and lets go of them.
func (p *Pool) Detach() {
	for _, c := range p.end() {
		c.in.Close()
	}
}

// end closes the pool to new work, stops renewing leases and hands back
// its connections (none if it was ended already).
func (p *Pool) end() map[string]*conn {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.stop)
	cs := p.conns
	p.conns = nil
	p.mu.Unlock()
	p.renew.Wait()
	return cs
}

var errDead = errors.New("agent connection closed")

// conn is one agent process and the pipes to it.
type conn struct {
	node string
	proc control.Process
	in   *os.File // the agent's standard input

	wmu sync.Mutex
	enc *json.Encoder

	mu       sync.Mutex
	next     int64
	pending  map[int64]chan response
	dead     error
	expired  bool
	done     chan struct{} // closed when the reader ends
	greeting chan response
}

func dial(ctx context.Context, c control.Cluster, node string, opts PoolOptions) (*conn, error) {
	// The agent makes its directory itself, wherever the backend runs it
	// (for containers, on the host).
	dir := c.NodeDir(node)
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	args := []string{Command, "serve", "--dir", dir, "--session", opts.Session, "--lease", opts.Lease.String()}
	if opts.Reap {
		args = append(args, "--reap")
	}
	cmd := control.AgentCmd(c, node, args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.LogPath = inR, outW, LogPath(dir, opts.Session)
	proc, err := c.Start(ctx, node, cmd)
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("starting the agent on %s: %w", node, err)
	}
	go func() {
		// Our ends of the agent's pipes stay open while it runs (a
		// backend may copy through them, as SSH does); the write end of
		// its output closes once it has gone, so the reader ends.
		<-proc.Done()
		inR.Close()
		outW.Close()
	}()
	cn := &conn{node: node, proc: proc, in: inW, enc: json.NewEncoder(inW), pending: map[int64]chan response{},
		done: make(chan struct{}), greeting: make(chan response, 1)}
	go cn.read(outR, LogPath(dir, opts.Session))
	select {
	case g := <-cn.greeting:
		if g.Error != "" {
			cn.in.Close()
			return nil, fmt.Errorf("agent on %s: %s", node, g.Error)
		}
		return cn, nil
	case <-cn.done:
		return nil, cn.deadErr()
	case <-ctx.Done():
		cn.in.Close()
		return nil, fmt.Errorf("starting the agent on %s: %w", node, ctx.Err())
	}
}

func (c *conn) read(r *os.File, logPath string) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	greeted := false
	for sc.Scan() {
		var resp response
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			continue // not ours (a stray line on stdout)
		}
		if !greeted && resp.ID == 0 {
			greeted = true
			c.greeting <- resp
			continue
		}
		c.mu.Lock()
		ch := c.pending[resp.ID]
		delete(c.pending, resp.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
	err := sc.Err()
	if err == nil {
		err = errDead
	}
	c.mu.Lock()
	c.dead = fmt.Errorf("the agent on %s has exited (its log: %s on the node): %w", c.node, logPath, err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *conn) isDead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *conn) deadErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead == nil {
		return errDead
	}
	return c.dead
}

// noteExpired reports true the first time the agent says its lease ran
// out.
func (c *conn) noteExpired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.expired
	c.expired = true
	return first
}

func (c *conn) call(ctx context.Context, r request) (response, error) {
	c.mu.Lock()
	if c.dead != nil {
		c.mu.Unlock()
		return response{}, c.dead
	}
	c.next++
	r.ID = c.next
	ch := make(chan response, 1)
	c.pending[r.ID] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	err := c.enc.Encode(r)
	c.wmu.Unlock()
	if err != nil {
		c.mu.Lock()
		delete(c.pending, r.ID)
		c.mu.Unlock()
		return response{}, fmt.Errorf("agent on %s: sending %s: %w", c.node, r.Op, err)
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return response{}, c.deadErr()
		}
		return resp, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, r.ID)
		c.mu.Unlock()
		return response{}, fmt.Errorf("agent on %s: %s: %w", c.node, r.Op, ctx.Err())
	}
}

func (c *conn) close(ctx context.Context) error {
	var err error
	if !c.isDead() {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err = c.call(bctx, request{Op: opBye})
		cancel()
	}
	c.in.Close()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, werr := c.proc.Wait(wctx); werr != nil && err == nil {
		err = fmt.Errorf("agent on %s did not exit: %w", c.node, werr)
	}
	if err != nil && errors.Is(err, errDead) {
		return nil
	}
	return err
}

// ProcsOf makes Procs of bare pids (their start times are read on the
// node).
func ProcsOf(pids []int) []Proc {
	out := make([]Proc, len(pids))
	for i, p := range pids {
		out[i] = Proc{Pid: p}
	}
	return out
}

// FormatProcs is pids for people: "123, 456".
func FormatProcs(ps []Proc) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ", "
		}
		s += strconv.Itoa(p.Pid)
	}
	return s
}

package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Reconnection: after a transport error, a node's connection is dialled
// again with this backoff, for at most reconnectBudget (and the caller's
// context), so that a node that has gone for good fails the call instead of
// hanging it.
const (
	backoffMin      = 100 * time.Millisecond
	backoffMax      = 5 * time.Second
	reconnectBudget = time.Minute
)

// link is one live SSH connection: the client, the net.Conn under it, and
// the jump hosts' clients it runs through.
type link struct {
	client *ssh.Client
	raw    net.Conn
	jumps  []*ssh.Client
	remote netip.Addr    // the address a direct connection reached
	done   chan struct{} // closed when the client has ended
}

func (l *link) close() {
	l.client.Close()
	for i := len(l.jumps) - 1; i >= 0; i-- {
		l.jumps[i].Close()
	}
}

// dial connects to t (through its jump hosts), verifies its host key and
// logs in. Errors wrap ErrUnreachable, ErrUnknownHost, ErrHostKeyMismatch
// or ErrAuth.
func (c *Cluster) dial(ctx context.Context, t target) (*link, error) {
	l := &link{done: make(chan struct{})}
	var via *ssh.Client
	for _, j := range t.jumps {
		jc, _, err := c.handshake(ctx, j, via)
		if err != nil {
			for _, p := range l.jumps {
				p.Close()
			}
			return nil, fmt.Errorf("through ProxyJump %s: %w", j, err)
		}
		l.jumps = append(l.jumps, jc)
		via = jc
	}
	client, raw, err := c.handshake(ctx, t, via)
	if err != nil {
		for _, p := range l.jumps {
			p.Close()
		}
		return nil, err
	}
	l.client, l.raw = client, raw
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok && via == nil {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			l.remote = ip.Unmap()
		}
	}
	return l, nil
}

// handshake opens one SSH connection to t, directly or through via.
func (c *Cluster) handshake(ctx context.Context, t target, via *ssh.Client) (*ssh.Client, net.Conn, error) {
	addr := net.JoinHostPort(t.hostname, strconv.Itoa(t.port))
	timeout := c.set.connectTimeout
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if via == nil {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	} else {
		conn, err = via.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if dctx.Err() != nil {
			return nil, nil, fmt.Errorf("%w: no TCP connection to %s within %v", ErrUnreachable, addr, timeout)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	// The handshake is bounded by the same timeout: closing the
	// connection ends it.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	var hkErr error
	signers, offered := c.auth.keysFor(t)
	cfg := &ssh.ClientConfig{
		User:              t.user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return signers, nil })},
		HostKeyCallback:   c.hk.callback(t.hostKeyName, &hkErr),
		HostKeyAlgorithms: c.hk.algorithms(t.hostKeyName),
		ClientVersion:     "SSH-2.0-faultline",
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, t.hostKeyName, cfg)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		conn.Close()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("%w: the SSH handshake with %s did not finish within %v", ErrUnreachable, addr, timeout)
	}
	if err != nil {
		conn.Close()
		switch {
		case hkErr != nil:
			return nil, nil, hkErr
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, nil, fmt.Errorf("%w as %s: %s; is one of them in ~%s/.ssh/authorized_keys on the node?", ErrAuth, t.user, offered, t.user)
		default:
			return nil, nil, fmt.Errorf("%w: SSH handshake with %s: %v", ErrUnreachable, addr, err)
		}
	}
	return ssh.NewClient(sc, chans, reqs), conn, nil
}

// permanent errors are not retried by reconnection: trying again cannot
// help.
func permanent(err error) bool {
	return errors.Is(err, ErrAuth) || errors.Is(err, ErrHostKeyMismatch) || errors.Is(err, ErrUnknownHost)
}

// nodeConn is a node's connection: one *ssh.Client at a time, its sessions
// bounded by max-sessions, kept alive, and dialled again when it breaks.
type nodeConn struct {
	c      *Cluster
	name   string
	target target
	sudo   bool
	sem    chan struct{}

	mu        sync.Mutex
	link      *link
	dialing   chan struct{} // closed when the running reconnection ends
	closed    bool
	closedErr error
	closing   chan struct{} // closed by close
	long      int           // long-running sessions open
}

func newNodeConn(c *Cluster, name string, t target) *nodeConn {
	return &nodeConn{c: c, name: name, target: t, sem: make(chan struct{}, c.set.maxSessions), closing: make(chan struct{})}
}

// install makes l the node's live connection and watches it.
func (n *nodeConn) install(l *link) {
	n.link = l
	go func() {
		err := l.client.Wait()
		close(l.done)
		n.lost(l, fmt.Sprintf("connection closed (%v)", err))
	}()
	if iv := n.c.set.keepalive; iv > 0 {
		go n.keepalive(l, iv)
	}
}

// keepalive sends keepalive@openssh.com every interval; three intervals
// without an answer close the connection, so that a peer that vanished
// (no RST, e.g. a dead host or a dropped route) is noticed.
func (n *nodeConn) keepalive(l *link, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				n.lost(l, fmt.Sprintf("keepalive failed: %v", err))
				return
			}
		case <-time.After(3 * interval):
			n.lost(l, fmt.Sprintf("no answer to keepalives for %v", 3*interval))
			return
		case <-l.done:
			return
		}
	}
}

// lost forgets l (if it is still the live connection) and closes it.
func (n *nodeConn) lost(l *link, why string) {
	n.mu.Lock()
	current := n.link == l
	if current {
		n.link = nil
	}
	closed := n.closed
	n.mu.Unlock()
	if current && !closed {
		n.c.logf("ssh: connection to %s (%s) lost: %s", n.name, n.target, why)
	}
	l.close()
}

// lostClient is lost for the link of client.
func (n *nodeConn) lostClient(client *ssh.Client, why string) {
	n.mu.Lock()
	l := n.link
	n.mu.Unlock()
	if l != nil && l.client == client {
		n.lost(l, why)
	}
}

// client returns the live client, reconnecting (with backoff) if there is
// none.
func (n *nodeConn) client(ctx context.Context) (*ssh.Client, error) {
	for {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return nil, n.closedErr
		}
		if n.link != nil {
			cl := n.link.client
			n.mu.Unlock()
			return cl, nil
		}
		if ch := n.dialing; ch != nil {
			n.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		n.dialing = ch
		n.mu.Unlock()
		l, err := n.reconnect(ctx)
		n.mu.Lock()
		n.dialing = nil
		close(ch)
		if err == nil {
			if n.closed {
				l.close()
				err = n.closedErr
			} else {
				n.install(l)
			}
		}
		n.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

func (n *nodeConn) reconnect(ctx context.Context) (*link, error) {
	start := time.Now()
	backoff := backoffMin
	for attempt := 1; ; attempt++ {
		l, err := n.c.dial(ctx, n.target)
		if err == nil {
			n.c.logf("ssh: reconnected to %s (%s) after %d attempt(s) in %v", n.name, n.target, attempt, time.Since(start).Round(time.Millisecond))
			return l, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reconnecting to %s (%s): %w", n.name, n.target, ctx.Err())
		}
		if permanent(err) || time.Since(start)+backoff > reconnectBudget {
			return nil, &ConnectError{Node: n.name, Target: n.target.String(), Err: fmt.Errorf("reconnecting (%d attempts in %v): %w", attempt, time.Since(start).Round(time.Millisecond), err)}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, fmt.Errorf("reconnecting to %s (%s): %w", n.name, n.target, ctx.Err())
		case <-n.closing:
			return nil, n.closedErr
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// session opens a session, waiting for one of max-sessions slots. A
// transport error on opening it (the connection died) is followed by
// reconnection and another try: nothing has run yet. release gives the
// slot back; call it after closing the session. long marks a session that
// stays open for a long-running process.
func (n *nodeConn) session(ctx context.Context, long bool) (*ssh.Session, func(), error) {
	if long {
		n.mu.Lock()
		if n.long >= n.c.set.maxLongRunning() {
			held := n.long
			n.mu.Unlock()
			return nil, nil, fmt.Errorf("node %s already has %d long-running processes, each holding one of max-sessions=%d SSH sessions (2 are kept for commands): raise max-sessions, and sshd's MaxSessions with it", n.name, held, n.c.set.maxSessions)
		}
		n.long++
		n.mu.Unlock()
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			<-n.sem
			if long {
				n.mu.Lock()
				n.long--
				n.mu.Unlock()
			}
		})
	}
	select {
	case n.sem <- struct{}{}:
	case <-ctx.Done():
		if long {
			n.mu.Lock()
			n.long--
			n.mu.Unlock()
		}
		return nil, nil, ctx.Err()
	}
	refusals := 0
	refusedWait := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		client, err := n.client(ctx)
		if err != nil {
			release()
			return nil, nil, err
		}
		s, err := newSession(ctx, client)
		if err == nil {
			return s, release, nil
		}
		var oe *ssh.OpenChannelError
		if errors.As(err, &oe) {
			// sshd refuses a session while it still counts one that was
			// just closed (it frees sessions after the packets it has
			// read), so a refusal is tried again for a while.
			refusals++
			if refusals > 12 || ctx.Err() != nil {
				release()
				return nil, nil, fmt.Errorf("%s (%s) refused a session %d times: %w (is sshd's MaxSessions below max-sessions=%d?)", n.name, n.target, refusals, err, n.c.set.maxSessions)
			}
			select {
			case <-time.After(refusedWait):
			case <-ctx.Done():
			}
			refusedWait = min(2*refusedWait, 500*time.Millisecond)
			attempt--
			continue
		}
		if ctx.Err() != nil || attempt >= 3 {
			release()
			return nil, nil, fmt.Errorf("opening a session on %s (%s): %w", n.name, n.target, err)
		}
		n.lostClient(client, fmt.Sprintf("opening a session failed: %v", err))
	}
}

// extraSession opens a session outside max-sessions, for killing a
// command whose own session holds a slot: sshd's MaxSessions leaves room
// above max-sessions for it.
func (n *nodeConn) extraSession(ctx context.Context) (*ssh.Session, error) {
	client, err := n.client(ctx)
	if err != nil {
		return nil, err
	}
	return newSession(ctx, client)
}

// newSession is client.NewSession, abandoned when ctx ends.
func newSession(ctx context.Context, client *ssh.Client) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := client.NewSession()
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// close drops the connection for good; err is what later calls get.
func (n *nodeConn) close(err error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed, n.closedErr = true, err
	close(n.closing)
	l := n.link
	n.link = nil
	n.mu.Unlock()
	if l != nil {
		l.close()
	}
}

// dropConnection closes the net.Conn under the node's live client, as a
// network failure would: a test hook.
func (n *nodeConn) dropConnection() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.link == nil {
		return false
	}
	n.link.raw.Close()
	return true
}

// Package sshtest runs SSH nodes for tests: real sshd servers that share
// nothing with the test but the network, so that an SSH backend is tested
// as it is used, without mocks.
//
// A fixture of N nodes makes, all named with the prefix "sshfx-" and a
// random six-character id (never control/local's "fl-", whose sweeper
// would take them for its own):
//
//	sshfx-<id>-hub     a network namespace holding bridge br0
//	sshfx-<id>-<node>  a network namespace per node (n1, n2, …) with eth0 on
//	                   the bridge, at .11, .12, … of a free 10.x /24
//	sshfx-<id>         a veth in the host namespace whose peer is on the
//	                   bridge, carrying the test's address (.1)
//	<dir>              keys, known_hosts, the nodes file, and per node its
//	                   node.sh, sshd_config, host key and sshd.log
//
// Inside each node's network namespace runs
//
//	unshare --mount --uts --pid --fork --mount-proc --kill-child -- /bin/sh <dir>/<node>/node.sh
//
// node.sh gives the node private (tmpfs) /tmp, /var/lib, /opt, /run and
// /root, its own hostname and /etc/hosts (every node by name), root's
// authorized_keys, and then becomes sshd (-D -e: its log goes to
// <dir>/<node>/sshd.log). Each node has its own ed25519 host key; sshd runs
// with UsePAM no, PermitRootLogin prohibit-password, PasswordAuthentication
// no, StrictModes no and MaxSessions 10 (OpenSSH's default). A node sees
// the host's /usr, /etc and /var/tmp, so the test binary (dynamically
// linked) runs there once copied to the node.
//
// The fixture's directory lives under /var/tmp (a tmpfs hides the usual
// /tmp inside nodes, and sshd reads its config and host key from the
// directory). Close kills each node's PID 1, which ends everything in the
// node's PID namespace, then deletes the namespaces and the link and
// removes the directory. A test binary that dies without Close leaves no
// process (parent-death signals), and the next Start anywhere on the host
// removes the namespaces, link and directory it left (each live fixture
// holds a lock file under /run/sshfx).
//
// Options add users besides root: SudoUser adds "fltest" with passwordless
// sudo, PasswordSudoUser "flpass" whose sudo asks for a password. They
// live in private copies of /etc/passwd, /etc/group, /etc/shadow and
// /etc/sudoers.d bind-mounted inside each node's mount namespace; the
// host's files are not touched.
package sshtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

// Login users a fixture can add besides root.
const (
	// SudoUserName has passwordless sudo (Options.SudoUser).
	SudoUserName = "fltest"
	// PasswordSudoUserName's sudo asks for a password
	// (Options.PasswordSudoUser), so `sudo -n` fails.
	PasswordSudoUserName = "flpass"
)

// Options configure a fixture.
type Options struct {
	// Nodes is the number of nodes, n1 … nN (default 3, at most 40).
	Nodes int
	// SudoUser adds login user SudoUserName with passwordless sudo.
	SudoUser bool
	// PasswordSudoUser adds login user PasswordSudoUserName whose sudo
	// needs a password.
	PasswordSudoUser bool

	_ struct{}
}

// Node is one SSH node of a fixture.
type Node struct {
	// Name is n1, n2, …; it is also the node's hostname.
	Name string
	// Addr is where the node's sshd listens (port 22).
	Addr netip.Addr
	// HostKey is the node's ed25519 host key.
	HostKey ssh.PublicKey
	// Namespace is the node's network namespace (ip netns exec NAME …).
	Namespace string
}

// Fixture is a set of running SSH nodes.
type Fixture struct {
	// ID is the random id in the names of everything the fixture made.
	ID string
	// Dir holds the files below; Close removes it.
	Dir string
	// Key is the client's private key (ed25519, no passphrase),
	// authorized for root and the fixture's other users.
	Key string
	// KnownHosts is a known_hosts file with every node's host key, by IP.
	KnownHosts string
	// NodesFile lists one node IP a line (Jepsen's nodes file; port 22).
	NodesFile string
	// Nodes are the nodes, n1 first.
	Nodes []Node
	// Subnet is the nodes' /24; HostAddr is the test's address in it.
	Subnet   netip.Prefix
	HostAddr netip.Addr

	signer    ssh.Signer
	mu        sync.Mutex
	clients   map[string]*ssh.Client // user@node -> Exec's connection
	procs     []*nodeProc
	lock      *os.File
	closeOnce sync.Once
	closeErr  error
}

// Start makes a fixture and returns once every node's sshd accepts
// connections. On error it removes whatever it made. It needs root.
func Start(ctx context.Context, opts Options) (f *Fixture, err error) {
	if why := cannotRun(); why != "" {
		return nil, errors.New("sshtest: " + why)
	}
	n := opts.Nodes
	if n == 0 {
		n = 3
	}
	if n < 1 || n > 40 {
		return nil, fmt.Errorf("sshtest: %d nodes: want 1 to 40", n)
	}
	var userNames []string
	sudoers := map[string]string{}
	if opts.SudoUser {
		userNames = append(userNames, SudoUserName)
		sudoers[SudoUserName] = SudoUserName + " ALL=(ALL:ALL) NOPASSWD: ALL"
	}
	if opts.PasswordSudoUser {
		userNames = append(userNames, PasswordSudoUserName)
		sudoers[PasswordSudoUserName] = PasswordSudoUserName + " ALL=(ALL:ALL) ALL"
	}
	if len(userNames) > 0 {
		if _, err := os.Stat("/usr/bin/sudo"); err != nil {
			return nil, errors.New("sshtest: the sudo users need /usr/bin/sudo on this host (apt-get install sudo)")
		}
	}

	unlock, err := hostnet.LockDir(ctx, stateDir)
	if err != nil {
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	unlocked := false
	defer func() {
		if !unlocked {
			unlock()
		}
	}()
	if err := sweep(); err != nil {
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	f = &Fixture{ID: newID()}
	base := "/var/tmp"
	if f.Dir, err = os.MkdirTemp(base, prefix+f.ID+"-"); err != nil {
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	if f.lock, err = createOwnerLock(f.ID, f.Dir); err != nil {
		os.RemoveAll(f.Dir)
		return nil, fmt.Errorf("sshtest: %w", err)
	}
	defer func() {
		if err != nil {
			if cerr := f.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the half-made fixture: %w", cerr))
			}
			f = nil
		}
	}()

	if f.Subnet, err = pickSubnet(); err != nil {
		return f, fmt.Errorf("sshtest: %w", err)
	}
	f.HostAddr = f.Subnet.Addr().Next()
	addr := f.Subnet.Addr()
	for range 10 {
		addr = addr.Next()
	}
	for i := range n {
		addr = addr.Next()
		name := fmt.Sprintf("n%d", i+1)
		f.Nodes = append(f.Nodes, Node{Name: name, Addr: addr, Namespace: namespaceName(f.ID, name)})
	}
	if err := f.buildNetwork(ctx); err != nil {
		return f, fmt.Errorf("sshtest: %w", err)
	}
	unlock() // the subnet is taken: its address is on the host
	unlocked = true

	if err := f.writeFiles(userNames, sudoers); err != nil {
		return f, fmt.Errorf("sshtest: %w", err)
	}
	for _, node := range f.Nodes {
		p, err := f.startNode(node)
		if p != nil {
			f.procs = append(f.procs, p)
		}
		if err != nil {
			return f, fmt.Errorf("sshtest: %w", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for i, node := range f.Nodes {
		if err := f.waitListening(node, f.procs[i], deadline); err != nil {
			return f, fmt.Errorf("sshtest: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return f, fmt.Errorf("sshtest: %w", err)
		}
	}
	return f, nil
}

// writeFiles writes the client key, host keys, known_hosts, nodes file,
// users and every node's files.
func (f *Fixture) writeFiles(userNames []string, sudoers map[string]string) error {
	keyPEM, signer, err := newKey("sshtest-" + f.ID)
	if err != nil {
		return err
	}
	f.signer = signer
	f.Key = filepath.Join(f.Dir, "id_ed25519")
	if err := os.WriteFile(f.Key, keyPEM, 0o600); err != nil {
		return err
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err := os.WriteFile(f.Key+".pub", []byte(authorized+"\n"), 0o644); err != nil {
		return err
	}
	etcDir := filepath.Join(f.Dir, "etc")
	var users []user
	if len(userNames) > 0 {
		if users, err = writeUsers(etcDir, userNames, sudoers); err != nil {
			return err
		}
	}
	var known, nodes strings.Builder
	for i := range f.Nodes {
		n := &f.Nodes[i]
		hostPEM, hostSigner, err := newKey("sshtest-" + f.ID + "-" + n.Name)
		if err != nil {
			return err
		}
		n.HostKey = hostSigner.PublicKey()
		known.WriteString(n.Addr.String() + " " + string(ssh.MarshalAuthorizedKey(n.HostKey)))
		nodes.WriteString(n.Addr.String() + "\n")
		if err := f.writeNodeFiles(*n, hostPEM, authorized, users, etcDir); err != nil {
			return err
		}
	}
	f.KnownHosts = filepath.Join(f.Dir, "known_hosts")
	if err := os.WriteFile(f.KnownHosts, []byte(known.String()), 0o644); err != nil {
		return err
	}
	f.NodesFile = filepath.Join(f.Dir, "nodes")
	return os.WriteFile(f.NodesFile, []byte(nodes.String()), 0o644)
}

// Close stops every node (killing everything that runs there), deletes the
// namespaces and the host's link, and removes Dir. It is safe to call more
// than once.
func (f *Fixture) Close() error {
	f.closeOnce.Do(func() {
		var errs []error
		f.mu.Lock()
		for _, c := range f.clients {
			c.Close()
		}
		f.clients = nil
		f.mu.Unlock()
		for _, p := range f.procs {
			if p != nil {
				p.initPidKill()
			}
		}
		for _, p := range f.procs {
			if err := p.stop(); err != nil {
				errs = append(errs, err)
			}
		}
		// Takes the host lock so that a concurrent Start's sweep does not
		// remove the same things at once.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		unlock, err := hostnet.LockDir(ctx, stateDir)
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, removeFixture(f.ID, f.Dir))
			unlock()
		}
		if f.lock != nil {
			f.lock.Close()
		}
		f.closeErr = errors.Join(errs...)
		if f.closeErr != nil {
			f.closeErr = fmt.Errorf("sshtest: closing fixture %s: %w", f.ID, f.closeErr)
		}
	})
	return f.closeErr
}

// Node returns the node called name.
func (f *Fixture) Node(name string) (Node, bool) {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// Exec runs script with /bin/sh -c as root on node, over SSH with the
// fixture's own client (golang.org/x/crypto/ssh: one connection per node
// and user, kept for later calls), and returns its combined output. It is
// how tests check a node's state independently of the backend under test.
// A non-zero exit is an *ssh.ExitError.
func (f *Fixture) Exec(ctx context.Context, node, script string) (string, error) {
	return f.ExecAs(ctx, "root", node, script)
}

// ExecAs is Exec as login user (root, SudoUserName or
// PasswordSudoUserName).
func (f *Fixture) ExecAs(ctx context.Context, user, node, script string) (string, error) {
	if _, ok := f.Node(node); !ok {
		return "", fmt.Errorf("sshtest: no node %q", node)
	}
	var s *ssh.Session
	var err error
	for attempt := 0; ; attempt++ {
		var client *ssh.Client
		if client, err = f.client(ctx, user, node, attempt > 0); err != nil {
			return "", fmt.Errorf("sshtest: %s@%s: %w", user, node, err)
		}
		if s, err = client.NewSession(); err == nil {
			break
		}
		if attempt > 0 {
			return "", fmt.Errorf("sshtest: %s@%s: %w", user, node, err)
		}
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	out, err := s.CombinedOutput(script)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return string(out), fmt.Errorf("sshtest: %s@%s: %q: %w: %s", user, node, script, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// client returns the kept connection to node as user, dialling a new one
// when there is none or fresh is set.
func (f *Fixture) client(ctx context.Context, user, node string, fresh bool) (*ssh.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := user + "@" + node
	if c := f.clients[key]; c != nil && !fresh {
		return c, nil
	}
	if c := f.clients[key]; c != nil {
		c.Close()
		delete(f.clients, key)
	}
	n, _ := f.Node(node)
	cfg := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(f.signer)},
		HostKeyCallback: ssh.FixedHostKey(n.HostKey),
		Timeout:         10 * time.Second,
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(n.Addr.String(), "22"))
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(conn, conn.RemoteAddr().String(), cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	if f.clients == nil {
		f.clients = map[string]*ssh.Client{}
	}
	f.clients[key] = client
	return client, nil
}

// Require skips tb (saying why) when a fixture cannot run here: not root,
// or no sshd or unshare. Under CI (CI=true) it fails tb instead: CI must
// run these tests, not skip them.
func Require(tb testing.TB) {
	tb.Helper()
	why := cannotRun()
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("sshtest: %s, and CI=true forbids skipping the test", why)
	}
	tb.Skip("sshtest: " + why)
}

func cannotRun() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces, mounts); run as root, e.g. sudo go test"
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/unshare"} {
		if _, err := exec.LookPath(p); err != nil {
			return "needs " + p + " (apt-get install openssh-server util-linux)"
		}
	}
	return ""
}

func newID() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

package sshtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/faultline-dev/faultline/internal/hostnet"
)

func TestFixture(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	f, err := Start(ctx, Options{Nodes: 5, SudoUser: true, PasswordSudoUser: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5 nodes in %s up in %v", f.Subnet, time.Since(start).Round(time.Millisecond))
	closed := false
	t.Cleanup(func() {
		if !closed {
			f.Close()
		}
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Start took %v, want well under 2s", took)
	}
	if strings.HasPrefix(f.Nodes[0].Namespace, "fl-") {
		t.Errorf("namespace %s has control/local's prefix", f.Nodes[0].Namespace)
	}

	for _, n := range f.Nodes {
		out, err := f.Exec(ctx, n.Name, "hostname; id -un; touch /tmp/mark-"+n.Name+"; ls /tmp; ls -A /var/lib /opt /root/.ssh; getent hosts n1")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Fields(out)
		if lines[0] != n.Name || lines[1] != "root" {
			t.Errorf("%s: hostname, user = %q, %q", n.Name, lines[0], lines[1])
		}
		// Each node's /tmp is its own.
		if !strings.Contains(out, "mark-"+n.Name) || strings.Count(out, "mark-") != 1 {
			t.Errorf("%s: /tmp is not private: %s", n.Name, out)
		}
		if !strings.Contains(out, f.Nodes[0].Addr.String()) {
			t.Errorf("%s: n1 not in /etc/hosts: %s", n.Name, out)
		}
	}
	if _, err := os.Stat("/tmp/mark-n1"); err == nil {
		t.Errorf("a node's /tmp is the host's")
	}
	// Nodes reach each other.
	if out, err := f.Exec(ctx, "n2", "bash -c 'exec 3<>/dev/tcp/n3/22 && head -c 7 <&3'"); err != nil || out != "SSH-2.0" {
		t.Errorf("n2 cannot reach n3:22: %v %s", err, out)
	}
	// Process isolation: a node sees only its own processes, sshd first.
	if out, err := f.Exec(ctx, "n1", "cat /proc/1/comm"); err != nil || out != "sshd\n" {
		t.Errorf("PID 1 on n1: %q %v", out, err)
	}
	// A node holds no namespace mounts (they would keep other runs'
	// namespaces alive).
	if out, err := f.Exec(ctx, "n1", "grep -c ' - nsfs ' /proc/self/mountinfo || true"); err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("nsfs mounts in n1: %q %v", out, err)
	}

	// The sudo users.
	if out, err := f.ExecAs(ctx, SudoUserName, "n1", "id -un; sudo -n id -un"); err != nil || out != "fltest\nroot\n" {
		t.Errorf("sudo as %s: %v: %q", SudoUserName, err, out)
	}
	if out, err := f.ExecAs(ctx, PasswordSudoUserName, "n1", "sudo -n true"); err == nil || !strings.Contains(out, "password is required") {
		t.Errorf("sudo -n as %s: want 'a password is required', got %v: %q", PasswordSudoUserName, err, out)
	}
	if _, err := f.Exec(ctx, "n1", "grep -q fltest /etc/passwd"); err != nil {
		t.Errorf("fltest not in the node's /etc/passwd: %v", err)
	}
	if b, _ := os.ReadFile("/etc/passwd"); strings.Contains(string(b), SudoUserName) {
		t.Errorf("the host's /etc/passwd has %s", SudoUserName)
	}

	// Close removes everything.
	dir, id := f.Dir, f.ID
	closeStart := time.Now()
	defer func() { t.Logf("Close took %v", time.Since(closeStart).Round(time.Millisecond)) }()
	closed = true
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s left behind", dir)
	}
	if _, err := netlink.LinkByName(hostLinkName(id)); err == nil {
		t.Errorf("link %s left behind", hostLinkName(id))
	}
	names, _ := hostnet.ListNamespaces()
	for _, name := range names {
		if strings.HasPrefix(name, prefix+id) {
			t.Errorf("namespace %s left behind", name)
		}
	}
	if _, err := os.Stat(ownerLockPath(id)); err == nil {
		t.Errorf("lock file left behind")
	}
}

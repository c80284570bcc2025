package sshtest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/procfs"
	"github.com/vishvananda/netns"
	"golang.org/x/crypto/ssh"
)

// nodeProc is a node's running init: unshare, and its child, PID 1 of the
// node's PID namespace (node.sh, then sshd).
type nodeProc struct {
	cmd     *exec.Cmd
	initPid int           // host pid of the namespace's PID 1
	done    chan struct{} // closed once unshare has been waited for
}

// newKey returns an ed25519 key: the private key in OpenSSH PEM and the
// signer and public key.
func newKey(comment string) ([]byte, ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), signer, nil
}

// quote is s in POSIX shell single quotes.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// user is a login user a fixture adds to its nodes besides root.
type user struct {
	name string
	uid  int
}

func (u user) home() string { return "/run/home/" + u.name }

// writeNodeFiles writes node n's host key, sshd_config, hosts and node.sh
// under dir/<node>.
func (f *Fixture) writeNodeFiles(n Node, hostKey []byte, authorized string, users []user, etcDir string) error {
	dir := filepath.Join(f.Dir, n.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyPath := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(keyPath, hostKey, 0o600); err != nil {
		return err
	}
	cfg := strings.Join([]string{
		"# sshd of sshtest fixture " + f.ID + ", node " + n.Name,
		"Port 22",
		"ListenAddress 0.0.0.0",
		"HostKey " + keyPath,
		"PidFile /run/sshd.pid",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"AuthorizedKeysFile .ssh/authorized_keys",
		"StrictModes no",
		"MaxSessions 10",
		"PrintMotd no",
		"PrintLastLog no",
		"UseDNS no",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		return err
	}
	// /etc/hosts: the host's, plus every node by name, so that sudo (and
	// anything else) resolves the node's own hostname.
	hosts, _ := os.ReadFile("/etc/hosts")
	var hb strings.Builder
	hb.Write(hosts)
	if len(hosts) > 0 && hosts[len(hosts)-1] != '\n' {
		hb.WriteByte('\n')
	}
	hb.WriteString("# sshtest fixture " + f.ID + "\n")
	for _, o := range f.Nodes {
		hb.WriteString(o.Addr.String() + "\t" + o.Name + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hb.String()), 0o644); err != nil {
		return err
	}

	var sh strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sh, format+"\n", args...) }
	w("#!/bin/sh")
	w("# Node %s of sshtest fixture %s: PID 1 of the node's PID namespace.", n.Name, f.ID)
	w("set -eu")
	w("# Drop this mount namespace's copies of network namespace mounts")
	w("# (/run/netns/…): they would keep other runs' namespaces alive.")
	w(`grep ' - nsfs ' /proc/self/mountinfo | cut -d' ' -f5 | while read -r m; do umount -l "$m" 2>/dev/null || :; done`)
	w("mount -t tmpfs -o mode=1777 sshfx-tmp /tmp")
	for _, d := range []string{"/var/lib", "/opt", "/run"} {
		w("mount -t tmpfs -o mode=755 sshfx %s", d)
	}
	w("mount -t tmpfs -o mode=700 sshfx /root")
	w("mkdir -p /run/sshd /root/.ssh")
	w("printf '%%s\\n' %s > /root/.ssh/authorized_keys", quote(authorized))
	w("chmod 600 /root/.ssh/authorized_keys")
	w("echo %s > /proc/sys/kernel/hostname", quote(n.Name))
	w("mount --bind %s /etc/hosts", quote(filepath.Join(dir, "hosts")))
	if len(users) > 0 {
		for _, file := range []string{"passwd", "group", "shadow"} {
			w("mount --bind %s /etc/%s", quote(filepath.Join(etcDir, file)), file)
		}
		w("mount --bind %s /etc/sudoers.d", quote(filepath.Join(etcDir, "sudoers.d")))
		for _, u := range users {
			w("mkdir -p %s/.ssh", u.home())
			w("printf '%%s\\n' %s > %s/.ssh/authorized_keys", quote(authorized), u.home())
			w("chown -R %d:%d %s && chmod 700 %s", u.uid, u.uid, u.home(), u.home())
		}
	}
	w("exec /usr/sbin/sshd -D -e -f %s", quote(filepath.Join(dir, "sshd_config")))
	return os.WriteFile(filepath.Join(dir, "node.sh"), []byte(sh.String()), 0o700)
}

// writeUsers writes private copies of /etc/passwd, group, shadow and
// sudoers.d under etcDir, with users added, and returns users with uids.
func writeUsers(etcDir string, names []string, sudoers map[string]string) ([]user, error) {
	if _, err := os.Stat("/usr/bin/sudo"); err != nil {
		return nil, errors.New("sshtest: the sudo users need /usr/bin/sudo on this host (apt-get install sudo)")
	}
	if err := os.MkdirAll(filepath.Join(etcDir, "sudoers.d"), 0o755); err != nil {
		return nil, err
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := os.ReadFile("/etc/group")
	if err != nil {
		return nil, err
	}
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return nil, err
	}
	used := map[int]bool{}
	for _, data := range [][]byte{passwd, group} {
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			if f := strings.Split(sc.Text(), ":"); len(f) > 2 {
				if id, err := strconv.Atoi(f[2]); err == nil {
					used[id] = true
				}
			}
		}
	}
	var users []user
	uid := 4200
	var sudoLines strings.Builder
	sudoLines.WriteString("# sshtest fixture users\n")
	for _, name := range names {
		for used[uid] {
			uid++
		}
		used[uid] = true
		u := user{name: name, uid: uid}
		users = append(users, u)
		passwd = appendLine(passwd, fmt.Sprintf("%s:x:%d:%d:sshtest user:%s:/bin/sh", name, uid, uid, u.home()))
		group = appendLine(group, fmt.Sprintf("%s:x:%d:", name, uid))
		// "*": no password, but not locked ("!" would refuse even keys).
		shadow = appendLine(shadow, name+":*:19000:0:99999:7:::")
		sudoLines.WriteString(sudoers[name] + "\n")
	}
	for file, data := range map[string][]byte{"passwd": passwd, "group": group} {
		if err := os.WriteFile(filepath.Join(etcDir, file), data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := copyOwnership("/etc/shadow", filepath.Join(etcDir, "shadow"), shadow); err != nil {
		return nil, err
	}
	// A private copy of the host's sudoers.d, plus ours.
	entries, _ := os.ReadDir("/etc/sudoers.d")
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join("/etc/sudoers.d", e.Name()))
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(etcDir, "sudoers.d", e.Name()), b, 0o440); err != nil {
				return nil, err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(etcDir, "sudoers.d", "sshfx"), []byte(sudoLines.String()), 0o440); err != nil {
		return nil, err
	}
	return users, nil
}

func appendLine(b []byte, line string) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return append(append(b, line...), '\n')
}

// copyOwnership writes data to dst with src's mode and group.
func copyOwnership(src, dst string, data []byte) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return os.Chown(dst, int(sys.Uid), int(sys.Gid))
	}
	return nil
}

// startNode starts node n's init inside its network namespace. The fork
// happens on an OS thread locked for the child's whole life (the goroutine
// waits for it there), so the parent-death signal fires only when this
// process dies, never when the Go runtime retires a thread.
func (f *Fixture) startNode(n Node) (*nodeProc, error) {
	dir := filepath.Join(f.Dir, n.Name)
	logf, err := os.OpenFile(filepath.Join(dir, "sshd.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("/usr/bin/unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--kill-child",
		"--", "/bin/sh", filepath.Join(dir, "node.sh"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true}
	p := &nodeProc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ns, err := netns.GetFromName(n.Namespace)
		if err != nil {
			started <- fmt.Errorf("opening namespace %s: %w", n.Namespace, err)
			return
		}
		err = netns.Set(ns)
		ns.Close()
		if err != nil {
			started <- fmt.Errorf("joining namespace %s: %w", n.Namespace, err)
			return
		}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("starting node %s: %w", n.Name, err)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	// unshare forks the namespace's PID 1 at once: find it by its parent.
	deadline := time.Now().Add(5 * time.Second)
	for p.initPid == 0 {
		p.initPid = childOf(cmd.Process.Pid)
		if p.initPid != 0 {
			break
		}
		select {
		case <-p.done:
			return p, fmt.Errorf("node %s: unshare exited at once: %s", n.Name, f.logTail(n.Name))
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("node %s: unshare forked no child in 5s", n.Name)
		}
	}
	return p, nil
}

// childOf returns a child of pid, or 0.
func childOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			c, _ := strconv.Atoi(f[0])
			return c
		}
		return 0
	}
	// No /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN off): scan.
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := procfs.ReadStat(c); err == nil && st.PPid == pid {
			return c
		}
	}
	return 0
}

// stop kills the node's PID 1 (and so everything in its PID namespace)
// and waits for unshare.
func (p *nodeProc) stop() error {
	if p == nil {
		return nil
	}
	if p.initPid > 0 {
		_ = syscall.Kill(p.initPid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("unshare (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// waitListening returns once node n's sshd accepts TCP connections.
func (f *Fixture) waitListening(n Node, p *nodeProc, deadline time.Time) error {
	addr := net.JoinHostPort(n.Addr.String(), "22")
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("node %s: sshd exited: %s", n.Name, f.logTail(n.Name))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s: sshd not listening on %s after 10s: %v; log: %s", n.Name, addr, err, f.logTail(n.Name))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// logTail is the end of node's sshd log, for errors.
func (f *Fixture) logTail(node string) string {
	b, err := os.ReadFile(filepath.Join(f.Dir, node, "sshd.log"))
	if errors.Is(err, fs.ErrNotExist) || len(b) == 0 {
		return "(empty log)"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

// initPidKill sends SIGKILL to the node's PID 1 without waiting, so that
// Close stops every node at once.
func (p *nodeProc) initPidKill() {
	if p.initPid > 0 {
		_ = syscall.Kill(p.initPid, syscall.SIGKILL)
	}
}

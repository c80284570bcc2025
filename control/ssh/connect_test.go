package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/control/ssh/sshtest"
)

// newKeyFile writes a fresh ed25519 key (encrypted with pass if set) and
// returns its path and signer.
func newKeyFile(t *testing.T, pass string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return writeKey(t, priv, pass)
}

func writeKey(t *testing.T, priv any, pass string) (string, ssh.Signer) {
	t.Helper()
	var block *pem.Block
	var err error
	if pass == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(pass))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, signer
}

// fixtureKey is the fixture's client private key, parsed.
func fixtureKey(t *testing.T, f *sshtest.Fixture) any {
	t.Helper()
	b, err := os.ReadFile(f.Key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// knownHosts writes a known_hosts file with the fixture's nodes, except
// those in skip, and a foreign key for those in fake.
func knownHosts(t *testing.T, f *sshtest.Fixture, skip, fake []string) (string, map[string]ssh.PublicKey) {
	t.Helper()
	fakes := map[string]ssh.PublicKey{}
	var b strings.Builder
	for _, n := range f.Nodes {
		key := n.HostKey
		switch {
		case contains(skip, n.Name):
			continue
		case contains(fake, n.Name):
			_, s := newKeyFile(t, "")
			key = s.PublicKey()
			fakes[n.Name] = key
		}
		b.WriteString(n.Addr.String() + " " + string(ssh.MarshalAuthorizedKey(key)))
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, fakes
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// assertNothingMade checks over the fixture's own connections that home
// does not exist on any node.
func assertNothingMade(t *testing.T, f *sshtest.Fixture, home string) {
	t.Helper()
	for _, n := range f.Nodes {
		out, err := f.Exec(context.Background(), n.Name, "test -e "+home+" && echo exists || echo absent")
		if err != nil || out != "absent\n" {
			t.Errorf("%s: %s: %q %v", n.Name, home, out, err)
		}
	}
}

func uniqueHome(prefix string) string {
	return "/var/lib/" + prefix + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}

func TestHostKeyMismatch(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	kh, fakes := knownHosts(t, f, nil, []string{"n2"})
	home := uniqueHome("fl-hostkey")
	_, err := tryNew(t, baseOptions(f, OptKnownHosts, kh, OptHome, home), nodeSpecs(f, 0))
	if !errors.Is(err, ErrHostKeyMismatch) {
		t.Fatalf("New: %v, want ErrHostKeyMismatch", err)
	}
	n2 := f.Nodes[1]
	msg := err.Error()
	for _, want := range []string{
		"root@" + n2.Addr.String() + ":22",
		ssh.FingerprintSHA256(fakes["n2"]), // expected, from known_hosts
		ssh.FingerprintSHA256(n2.HostKey),  // offered
		"ssh-keygen -R", kh,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, f.Nodes[0].Addr.String()+":22") {
		t.Errorf("error names a node that was fine:\n%s", msg)
	}
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Node != "n2" {
		t.Errorf("ConnectError: %+v", ce)
	}
	t.Log(msg)
	assertNothingMade(t, f, home)
}

func TestUnknownHost(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	kh, _ := knownHosts(t, f, []string{"n3"}, nil)
	home := uniqueHome("fl-unknown")
	_, err := tryNew(t, baseOptions(f, OptKnownHosts, kh, OptHome, home), nodeSpecs(f, 0))
	if !errors.Is(err, ErrUnknownHost) {
		t.Fatalf("New: %v, want ErrUnknownHost", err)
	}
	n3 := f.Nodes[2]
	for _, want := range []string{"root@" + n3.Addr.String() + ":22", "not in " + kh, "ssh-keyscan", "accept-new", ssh.FingerprintSHA256(n3.HostKey)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	t.Log(err)
	assertNothingMade(t, f, home)

	// accept-new adds it, once.
	t.Cleanup(func() { // after the clusters' Teardowns
		for _, n := range f.Nodes {
			f.Exec(context.Background(), n.Name, "rm -rf "+home)
		}
	})
	before, _ := os.ReadFile(kh)
	if _, err := tryNew(t, baseOptions(f, OptKnownHosts, kh, OptHome, home, OptHostKey, HostKeyAcceptNew), nodeSpecs(f, 0)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(kh)
	added := strings.TrimPrefix(string(after), string(before))
	if want := n3.Addr.String() + " " + string(ssh.MarshalAuthorizedKey(n3.HostKey)); added != want {
		t.Errorf("accept-new added %q, want %q", added, want)
	}
	if _, err := tryNew(t, baseOptions(f, OptKnownHosts, kh, OptHome, home, OptHostKey, HostKeyAcceptNew), nodeSpecs(f, 0)); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(kh); string(again) != string(after) {
		t.Errorf("a second accept-new changed known_hosts: %q", again)
	}
	// accept-new still refuses a changed key.
	kh2, _ := knownHosts(t, f, nil, []string{"n1"})
	_, err = tryNew(t, baseOptions(f, OptKnownHosts, kh2, OptHostKey, HostKeyAcceptNew), nodeSpecs(f, 0))
	if !errors.Is(err, ErrHostKeyMismatch) {
		t.Errorf("accept-new with a changed key: %v, want ErrHostKeyMismatch", err)
	}

	// No known_hosts file at all.
	missing := filepath.Join(t.TempDir(), "sub", "known_hosts")
	_, err = tryNew(t, baseOptions(f, OptKnownHosts, missing), nodeSpecs(f, 1))
	if !errors.Is(err, ErrUnknownHost) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing known_hosts: %v", err)
	}
	if _, err := tryNew(t, baseOptions(f, OptKnownHosts, missing, OptHostKey, HostKeyAcceptNew), nodeSpecs(f, 0)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(missing); err != nil || strings.Count(string(b), "\n") != len(f.Nodes) {
		t.Errorf("accept-new made known_hosts %q, %v", b, err)
	}
}

func TestAuthFailed(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	key, _ := newKeyFile(t, "")
	home := uniqueHome("fl-auth")
	_, err := tryNew(t, baseOptions(f, OptKey, key, OptHome, home), nodeSpecs(f, 2))
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("New: %v, want ErrAuth", err)
	}
	for _, want := range []string{"authentication failed", "root@" + f.Nodes[0].Addr.String() + ":22", "root@" + f.Nodes[1].Addr.String() + ":22", key, "no ssh-agent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	t.Log(err)
	assertNothingMade(t, f, home)
}

func TestEncryptedKey(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	const pass = "correct horse 'battery' staple"
	key, _ := writeKey(t, fixtureKey(t, f), pass)

	// No passphrase given: the error names the key and both ways to give it.
	_, err := tryNew(t, baseOptions(f, OptKey, key), nodeSpecs(f, 1))
	if err == nil {
		t.Fatal("New with an encrypted key and no passphrase succeeded")
	}
	for _, want := range []string{key, "encrypted", OptPassphraseEnv, OptPassphraseFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}

	// From an environment variable.
	t.Setenv("FL_TEST_PASSPHRASE", pass)
	c, err := tryNew(t, baseOptions(f, OptKey, key, OptPassphraseEnv, "FL_TEST_PASSPHRASE"), nodeSpecs(f, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Ref().Options {
		if strings.Contains(v, pass) {
			t.Errorf("the Ref's options hold the passphrase")
		}
	}

	// From a file.
	pf := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pf, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tryNew(t, baseOptions(f, OptKey, key, OptPassphraseFile, pf), nodeSpecs(f, 1)); err != nil {
		t.Fatal(err)
	}

	// A wrong one: said, and not quoted.
	const wrong = "not-the-passphrase-xyzzy"
	t.Setenv("FL_TEST_PASSPHRASE", wrong)
	_, err = tryNew(t, baseOptions(f, OptKey, key, OptPassphraseEnv, "FL_TEST_PASSPHRASE"), nodeSpecs(f, 1))
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), "FL_TEST_PASSPHRASE") {
		t.Errorf("wrong passphrase: %v", err)
	} else if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), pass) {
		t.Errorf("the error quotes a passphrase: %v", err)
	}
	// A passphrase given where its variable's name belongs is not quoted.
	_, err = tryNew(t, baseOptions(f, OptKey, key, OptPassphraseEnv, pass), nodeSpecs(f, 1))
	if err == nil || strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "battery") {
		t.Errorf("passphrase as %s: %v", OptPassphraseEnv, err)
	}
	// An unset variable.
	_, err = tryNew(t, baseOptions(f, OptKey, key, OptPassphraseEnv, "FL_TEST_UNSET_VARIABLE"), nodeSpecs(f, 1))
	if err == nil || !strings.Contains(err.Error(), "FL_TEST_UNSET_VARIABLE") {
		t.Errorf("unset passphrase variable: %v", err)
	}
}

// serveAgent serves keyring on a unix socket and points SSH_AUTH_SOCK at
// it.
func serveAgent(t *testing.T, keys ...any) {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func TestAgent(t *testing.T) {
	f := fixture(t)
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/id_* to fall back on
	_, other := newKeyFile(t, "")
	_ = other
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	serveAgent(t, priv, fixtureKey(t, f))
	c, err := tryNew(t, baseOptions(f, OptKey, ""), nodeSpecs(f, 2))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := c.Exec(ctxT(t, 10*time.Second), "n2", control.Cmd{Path: "hostname"}); err != nil || out == nil || string(out) != "n2\n" {
		t.Errorf("hostname: %q %v", out, err)
	}

	// An agent without the right key: the error counts its keys.
	serveAgent(t, priv)
	_, err = tryNew(t, baseOptions(f, OptKey, ""), nodeSpecs(f, 1))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "1 keys from ssh-agent") {
		t.Errorf("agent without the key: %v", err)
	}
}

func TestSSHConfig(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("HOME", t.TempDir())
	n1, n2, n3 := f.Nodes[0], f.Nodes[1], f.Nodes[2]
	config := filepath.Join(t.TempDir(), "config")
	text := `# test config
Host alias-n1
    HostName ` + n1.Addr.String() + `
    User ` + sshtest.SudoUserName + `
    Port 22
    IdentityFile ` + f.Key + `

Host badport
    HostName ` + n2.Addr.String() + `
    Port 2222

Host behind
    HostName ` + n3.Addr.String() + `
    ProxyJump jump

Host jump
    HostName ` + n1.Addr.String() + `

Host *
    IdentityFile ` + f.Key + `
`
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := baseOptions(f, OptKey, "", OptConfig, config)
	specs := []control.NodeSpec{{Name: "n1", Host: "alias-n1"}, {Name: "n3", Host: "behind"}}
	c, err := tryNew(t, opts, specs)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Minute)
	if got := c.Nodes(); got[0].Addr != n1.Addr || got[1].Addr != n3.Addr {
		t.Errorf("addresses %v", got)
	}
	// n1 as the config's user, through sudo.
	if out, err := c.Exec(ctx, "n1", control.Cmd{Path: "id", Args: []string{"-u"}}); err != nil || string(out) != "0\n" {
		t.Errorf("id -u on n1: %q %v", out, err)
	}
	if !strings.Contains(readLog(t, f, "n1"), "Accepted publickey for "+sshtest.SudoUserName+" from "+f.HostAddr.String()) {
		t.Errorf("n1's sshd did not log %s's login", sshtest.SudoUserName)
	}
	// n3 through n1.
	if out, err := c.Exec(ctx, "n3", control.Cmd{Path: "hostname"}); err != nil || string(out) != "n3\n" {
		t.Errorf("hostname on n3: %q %v", out, err)
	}
	if !strings.Contains(readLog(t, f, "n3"), "Accepted publickey for root from "+n1.Addr.String()) {
		t.Errorf("n3's sshd did not see a login from n1 (ProxyJump):\n%s", readLog(t, f, "n3"))
	}
	ref := c.Ref()
	if string(ref.Nodes[0].Locator) != `{"host":"alias-n1","port":22,"user":"fltest"}` {
		t.Errorf("locator: %s", ref.Nodes[0].Locator)
	}

	// The config's Port is used.
	_, err = tryNew(t, opts, []control.NodeSpec{{Name: "n2", Host: "badport"}})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), n2.Addr.String()+":2222") {
		t.Errorf("badport: %v, want ErrUnreachable naming port 2222", err)
	}
	// The spec's port wins over the config's.
	if _, err := tryNew(t, opts, []control.NodeSpec{{Name: "n2", Host: "badport", Port: 22}}); err != nil {
		t.Errorf("badport with the spec's port 22: %v", err)
	}
}

func readLog(t *testing.T, f *sshtest.Fixture, node string) string {
	b, err := os.ReadFile(filepath.Join(f.Dir, node, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSudo(t *testing.T) {
	f, c := newCluster(t, 2, OptUser, sshtest.SudoUserName)
	ctx := ctxT(t, time.Minute)
	if out, err := c.Exec(ctx, "n1", control.Cmd{Path: "id", Args: []string{"-u"}}); err != nil || string(out) != "0\n" {
		t.Errorf("id -u through sudo: %q %v", out, err)
	}
	if out, err := c.Exec(ctx, "n1", control.Cmd{Path: "/usr/bin/env"}); err != nil || string(out) != envPath+"\n"+envLang+"\n" {
		t.Errorf("environment through sudo: %q %v", out, err)
	}
	p := "/root/sudo-test"
	if err := c.WriteFile(ctx, "n1", p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := f.Exec(ctx, "n1", "stat -c %U "+p+" && rm "+p); err != nil || out != "root\n" {
		t.Errorf("file written through sudo: %q %v", out, err)
	}
	proc, err := c.Start(ctx, "n2", control.Cmd{Path: "/bin/sleep", Args: []string{"1003"}, LogPath: c.NodeDir("n2") + "/sleep.log"})
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if st := procState(t, f, "n2", proc.Pid()); st != "T" {
		t.Errorf("state after SIGSTOP: %q", st)
	}
	// A cancelled command is killed through sudo too.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.Exec(cctx, "n1", control.Cmd{Path: "/bin/sleep", Args: []string{"1004"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled: %v", err)
	}
	waitNodeGone(t, f, "n1", "sleep 1004")

	// sudo never: the login user itself, with a home it can write.
	_, c2 := newCluster(t, 1, OptUser, sshtest.SudoUserName, OptSudo, SudoNever, OptHome, "/run/home/"+sshtest.SudoUserName+"/faultline")
	if out, err := c2.Exec(ctx, "n1", control.Cmd{Path: "id", Args: []string{"-un"}}); err != nil || string(out) != sshtest.SudoUserName+"\n" {
		t.Errorf("id -un without sudo: %q %v", out, err)
	}
}

func TestSudoNeedsPassword(t *testing.T) {
	f := fixture(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	home := uniqueHome("fl-sudo")
	_, err := tryNew(t, baseOptions(f, OptUser, sshtest.PasswordSudoUserName, OptHome, home), nodeSpecs(f, 2))
	if !errors.Is(err, ErrSudoPassword) {
		t.Fatalf("New: %v, want ErrSudoPassword", err)
	}
	for _, want := range []string{"sudo needs a password", sshtest.PasswordSudoUserName + "@" + f.Nodes[0].Addr.String() + ":22", "NOPASSWD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	t.Log(err)
	assertNothingMade(t, f, home)
}

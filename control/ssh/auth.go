package ssh

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// auth holds the keys the backend logs in with: the key option's, those
// named by ssh config's IdentityFiles (loaded when a host names them), the
// default ~/.ssh/id_* when nothing names a key, and ssh-agent's.
type auth struct {
	set settings

	mu    sync.Mutex
	files map[string]loadedKey // by path

	agentConn    net.Conn
	agentSigners []ssh.Signer
	agentErr     error
}

type loadedKey struct {
	signer ssh.Signer
	err    error // nil, or why the file cannot be used
}

// newAuth loads the key option's key (an error if it cannot be used) and
// connects to ssh-agent when SSH_AUTH_SOCK is set.
func newAuth(set settings) (*auth, error) {
	a := &auth{set: set, files: map[string]loadedKey{}}
	if set.key != "" {
		if k := a.load(set.key, true); k.err != nil {
			return nil, k.err
		}
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			a.agentErr = fmt.Errorf("ssh-agent at SSH_AUTH_SOCK: %w", err)
		} else {
			a.agentConn = conn
			a.agentSigners, a.agentErr = agent.NewClient(conn).Signers()
		}
	}
	return a, nil
}

func (a *auth) close() {
	if a != nil && a.agentConn != nil {
		a.agentConn.Close()
	}
}

// passphrase reads the passphrase from the variable or file the options
// name; ok is false when they name none.
func (a *auth) passphrase() (pass []byte, from string, ok bool, err error) {
	switch {
	case a.set.passphraseEnv != "":
		v, set := os.LookupEnv(a.set.passphraseEnv)
		if !set {
			return nil, "", true, fmt.Errorf("environment variable %s (%s) is not set", a.set.passphraseEnv, OptPassphraseEnv)
		}
		return []byte(v), "environment variable " + a.set.passphraseEnv, true, nil
	case a.set.passphraseFile != "":
		b, err := os.ReadFile(a.set.passphraseFile)
		if err != nil {
			return nil, "", true, fmt.Errorf("reading the passphrase file (%s): %w", OptPassphraseFile, err)
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[:i]
		}
		return bytes.TrimSuffix(b, []byte("\r")), "file " + a.set.passphraseFile, true, nil
	}
	return nil, "", false, nil
}

// load parses the private key at path once. Errors never quote the key or
// its passphrase.
func (a *auth) load(path string, explicit bool) loadedKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.files[path]; ok {
		return k
	}
	k := a.parse(path, explicit)
	a.files[path] = k
	return k
}

func (a *auth) parse(path string, explicit bool) loadedKey {
	pem, err := os.ReadFile(path)
	if err != nil {
		return loadedKey{err: fmt.Errorf("ssh key %s: %w", path, err)}
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		pass, from, ok, perr := a.passphrase()
		if perr != nil {
			return loadedKey{err: fmt.Errorf("ssh key %s is encrypted: %w", path, perr)}
		}
		if !ok {
			return loadedKey{err: fmt.Errorf("ssh key %s is encrypted and no passphrase was given: set an environment variable to it and pass its name with --control-opt %s=NAME, or put it in a file readable only by you and pass --control-opt %s=PATH (a passphrase is never taken from the command line)", path, OptPassphraseEnv, OptPassphraseFile)}
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, pass)
		clear(pass)
		if errors.Is(err, x509.IncorrectPasswordError) || err != nil && strings.Contains(err.Error(), "decryption password incorrect") {
			return loadedKey{err: fmt.Errorf("ssh key %s: wrong passphrase (from %s)", path, from)}
		}
	}
	if err != nil {
		// x/crypto's parse errors say what is wrong without quoting the key.
		return loadedKey{err: fmt.Errorf("ssh key %s: %w", path, err)}
	}
	return loadedKey{signer: signer}
}

// defaultIdentities are the keys ssh tries when nothing names one.
func defaultIdentities() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

// keysFor returns the signers to offer t, in order, and a description of
// them for errors ("key files …, N keys from ssh-agent").
func (a *auth) keysFor(t target) ([]ssh.Signer, string) {
	var signers []ssh.Signer
	var files, skipped []string
	seen := map[string]bool{}
	add := func(path string, explicit bool) {
		if seen[path] {
			return
		}
		seen[path] = true
		if !explicit && !fileExists(path) {
			if len(t.identityFiles) > 0 {
				skipped = append(skipped, path+" (missing)")
			}
			return
		}
		k := a.load(path, explicit)
		if k.err != nil {
			skipped = append(skipped, path+" (unusable: "+k.err.Error()+")")
			return
		}
		signers = append(signers, k.signer)
		files = append(files, path)
	}
	if a.set.key != "" {
		add(a.set.key, true)
	}
	for _, f := range t.identityFiles {
		add(f, false)
	}
	if a.set.key == "" && len(t.identityFiles) == 0 {
		for _, f := range defaultIdentities() {
			add(f, false)
		}
	}
	nAgent := 0
	if !t.identitiesOnly {
		signers = append(signers, a.agentSigners...)
		nAgent = len(a.agentSigners)
	}
	var parts []string
	if len(files) > 0 {
		parts = append(parts, "key files "+strings.Join(files, ", "))
	}
	switch {
	case t.identitiesOnly:
		parts = append(parts, "no ssh-agent keys (IdentitiesOnly yes)")
	case a.agentConn == nil && a.agentErr == nil:
		parts = append(parts, "no ssh-agent (SSH_AUTH_SOCK unset)")
	case a.agentErr != nil:
		parts = append(parts, "no ssh-agent keys ("+a.agentErr.Error()+")")
	default:
		parts = append(parts, fmt.Sprintf("%d keys from ssh-agent", nAgent))
	}
	desc := "offered " + strings.Join(parts, ", ")
	if len(files) == 0 && nAgent == 0 {
		desc = "offered no key: " + strings.Join(parts, ", ") + "; give one with --ssh-key"
	}
	if len(skipped) > 0 {
		desc += "; skipped " + strings.Join(skipped, ", ")
	}
	return signers, desc
}

package ssh

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// hostKeys verifies host keys against the known_hosts file and, with
// accept-new, adds hosts it does not know.
type hostKeys struct {
	path      string
	acceptNew bool
	logf      func(format string, args ...any)

	mu sync.Mutex
	db *knownhosts.HostKeyDB // nil while the file does not exist
}

func loadHostKeys(path string, acceptNew bool) (*hostKeys, error) {
	h := &hostKeys{path: path, acceptNew: acceptNew}
	if err := h.reload(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *hostKeys) reload() error {
	if _, err := os.Stat(h.path); errors.Is(err, os.ErrNotExist) {
		h.db = nil
		return nil
	}
	db, err := knownhosts.NewDB(h.path)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", h.path, err)
	}
	h.db = db
	return nil
}

// algorithms are the host key algorithms of the keys known for name
// (host:port), so that the server presents a key that can be checked;
// nil (x/crypto's defaults) for an unknown host.
func (h *hostKeys) algorithms(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.db == nil {
		return nil
	}
	return h.db.HostKeyAlgorithms(name)
}

// callback checks the key a server offers for name (host:port). Its error
// is also stored in *failure, since x/crypto wraps it in a handshake error.
func (h *hostKeys) callback(name string, failure *error) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		err := h.check(name, remote, key)
		*failure = err
		return err
	}
}

func (h *hostKeys) check(name string, remote net.Addr, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	offered := fingerprint(key)
	hostArg := knownhosts.Normalize(name) // what ssh-keygen -R and ssh-keyscan take
	if h.db == nil {
		if h.acceptNew {
			return h.add(name, key)
		}
		return fmt.Errorf("%w: the known_hosts file %s does not exist (the host offered %s); add the host with `ssh-keyscan %s >> %s` after checking that fingerprint, or use --ssh-host-key accept-new",
			ErrUnknownHost, h.path, offered, keyscanArgs(name), h.path)
	}
	err := h.db.HostKeyCallback()(name, remote, key)
	switch {
	case err == nil:
		return nil
	case knownhosts.IsHostUnknown(err):
		if h.acceptNew {
			return h.add(name, key)
		}
		return fmt.Errorf("%w: %s is not in %s (the host offered %s); add it with `ssh-keyscan %s >> %s` after checking that fingerprint, or use --ssh-host-key accept-new",
			ErrUnknownHost, hostArg, h.path, offered, keyscanArgs(name), h.path)
	case knownhosts.IsHostKeyChanged(err):
		var ke *xknownhosts.KeyError
		errors.As(err, &ke)
		var want []string
		for _, k := range ke.Want {
			want = append(want, fmt.Sprintf("%s (%s, %s:%d)", ssh.FingerprintSHA256(k.Key), k.Key.Type(), k.Filename, k.Line))
		}
		return fmt.Errorf("%w: known_hosts has %s for %s, the host offered %s: someone may be intercepting the connection, or the host was reinstalled; if you know it was, remove the old key with `ssh-keygen -R %s -f %s` and connect again",
			ErrHostKeyMismatch, strings.Join(want, ", "), hostArg, offered, shellQuote(hostArg), h.path)
	default:
		var re *xknownhosts.RevokedError
		if errors.As(err, &re) {
			return fmt.Errorf("%w: the host offered %s, which %s marks @revoked", ErrHostKeyMismatch, offered, h.path)
		}
		return fmt.Errorf("checking the host key of %s: %w", hostArg, err)
	}
}

// add appends name's key to the known_hosts file (accept-new) and reloads
// it. The caller holds h.mu.
func (h *hostKeys) add(name string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return fmt.Errorf("adding %s to %s: %w", name, h.path, err)
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("adding %s to %s: %w", name, h.path, err)
	}
	line := knownhosts.Line([]string{name}, key) + "\n"
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("adding %s to %s: %w", name, h.path, err)
	}
	if h.logf != nil {
		h.logf("ssh: added %s (%s) to %s (accept-new)", knownhosts.Normalize(name), fingerprint(key), h.path)
	}
	return h.reload()
}

func fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) + " (" + k.Type() + ")" }

// keyscanArgs are ssh-keyscan's arguments for name (host:port).
func keyscanArgs(name string) string {
	host, port, err := net.SplitHostPort(name)
	if err != nil || port == "22" {
		return shellQuote(strings.Trim(host, "[]"))
	}
	return "-p " + port + " " + shellQuote(host)
}

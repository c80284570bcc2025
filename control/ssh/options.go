package ssh

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/internal/options"
)

// The backend's options (--control-opt KEY=VALUE; the CLI maps --ssh-user,
// --ssh-key, --ssh-known-hosts and --ssh-host-key onto them).
const (
	OptUser           = "user"
	OptKey            = "key"
	OptPassphraseEnv  = "passphrase-env"
	OptPassphraseFile = "passphrase-file"
	OptKnownHosts     = "known-hosts"
	OptHostKey        = "host-key"
	OptConfig         = "config"
	OptSudo           = "sudo"
	OptHome           = "home"
	OptMaxSessions    = "max-sessions"
	OptConnectTimeout = "connect-timeout"
	OptKeepalive      = "keepalive"
)

// Values of OptHostKey and OptSudo.
const (
	HostKeyVerify    = "verify"
	HostKeyAcceptNew = "accept-new"
	SudoAuto         = "auto"
	SudoAlways       = "always"
	SudoNever        = "never"
)

// Specs are the backend's options. None holds a secret: a key's
// passphrase is named by the environment variable or file that holds it.
var Specs = []options.Spec{
	{Name: OptUser, Doc: "SSH login user when neither the node nor ~/.ssh/config names one", Default: "root"},
	{Name: OptKey, Doc: "private key file to log in with (also tried: IdentityFiles from ssh config, ssh-agent)"},
	// No Check: a rejected value is quoted in Resolve's error, and a
	// passphrase given here by mistake must not be. parseSettings checks it.
	{Name: OptPassphraseEnv, Doc: "NAME of an environment variable holding the key's passphrase"},
	{Name: OptPassphraseFile, Doc: "file holding the key's passphrase (first line)"},
	{Name: OptKnownHosts, Doc: "known_hosts file that host keys are verified against", Default: "~/.ssh/known_hosts"},
	{Name: OptHostKey, Doc: "verify: refuse hosts not in known_hosts; accept-new: add unknown hosts (a changed key is still refused)", Default: HostKeyVerify, Values: []string{HostKeyVerify, HostKeyAcceptNew}},
	{Name: OptConfig, Doc: "ssh config file for Host aliases, HostName, User, Port, IdentityFile, ProxyJump (empty: ~/.ssh/config if it exists; none: no config)"},
	{Name: OptSudo, Doc: "run commands through sudo -n: auto (when the login user is not root), always, never", Default: SudoAuto, Values: []string{SudoAuto, SudoAlways, SudoNever}},
	{Name: OptHome, Doc: "directory faultline owns on each node (agent binaries, run directories)", Default: "/var/lib/faultline", Check: checkHome},
	{Name: OptMaxSessions, Doc: "most SSH sessions open at once per node (sshd's MaxSessions is 10 by default)", Default: "8", Check: options.CheckInt(2, 1000)},
	{Name: OptConnectTimeout, Doc: "timeout of one connection attempt, TCP and SSH handshake", Default: "10s", Check: checkPositive},
	{Name: OptKeepalive, Doc: "interval of keepalive@openssh.com requests; 3 unanswered close the connection (0s: none)", Default: "5s", Check: options.CheckDuration},
}

// validEnvName reports whether s can name an environment variable.
func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func checkHome(s string) error {
	if !filepath.IsAbs(s) || filepath.Clean(s) == "/" || strings.ContainsAny(s, "\n\x00") {
		return errors.New("want an absolute directory other than /")
	}
	return nil
}

func checkPositive(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration with a unit, e.g. 10s")
	}
	return nil
}

// settings are the options, parsed.
type settings struct {
	values         options.Values
	user           string
	key            string // "" none
	passphraseEnv  string
	passphraseFile string
	knownHosts     string
	acceptNew      bool
	config         string // "" none
	configGiven    bool   // the path was given, so it must exist
	sudo           string
	home           string
	maxSessions    int
	connectTimeout time.Duration
	keepalive      time.Duration
}

func parseSettings(v options.Values) (settings, error) {
	if v == nil {
		var err error
		if v, err = options.Resolve("control backend ssh", Specs, nil); err != nil {
			return settings{}, err
		}
	}
	// Values given to New directly (not through control.New) may lack
	// defaults or be unchecked: resolve them again.
	given := map[string]string{}
	for k, val := range v {
		given[k] = val
	}
	v, err := options.Resolve("control backend ssh", Specs, given)
	if err != nil {
		return settings{}, err
	}
	s := settings{
		values:         v,
		user:           v.Get(OptUser),
		passphraseEnv:  v.Get(OptPassphraseEnv),
		acceptNew:      v.Get(OptHostKey) == HostKeyAcceptNew,
		sudo:           v.Get(OptSudo),
		home:           filepath.Clean(v.Get(OptHome)),
		maxSessions:    v.Int(OptMaxSessions),
		connectTimeout: v.Duration(OptConnectTimeout),
		keepalive:      v.Duration(OptKeepalive),
	}
	if s.user == "" {
		s.user = "root"
	}
	if s.key, err = expandHome(v.Get(OptKey)); err != nil {
		return s, err
	}
	if s.passphraseFile, err = expandHome(v.Get(OptPassphraseFile)); err != nil {
		return s, err
	}
	if s.knownHosts, err = expandHome(v.Get(OptKnownHosts)); err != nil {
		return s, err
	}
	switch c := v.Get(OptConfig); c {
	case "none":
	case "":
		if home, err := os.UserHomeDir(); err == nil {
			if p := filepath.Join(home, ".ssh", "config"); fileExists(p) {
				s.config = p
			}
		}
	default:
		if s.config, err = expandHome(c); err != nil {
			return s, err
		}
		s.configGiven = true
	}
	if !validEnvName(s.passphraseEnv) {
		// Not quoted: it may be a passphrase given here by mistake.
		return s, fmt.Errorf("control backend ssh: option %s: want the NAME of an environment variable that holds the passphrase (letters, digits, _), not the passphrase itself", OptPassphraseEnv)
	}
	if s.passphraseEnv != "" && s.passphraseFile != "" {
		return s, fmt.Errorf("control backend ssh: give %s or %s, not both", OptPassphraseEnv, OptPassphraseFile)
	}
	if s.maxSessions < 2 {
		s.maxSessions = 8
	}
	if s.connectTimeout <= 0 {
		s.connectTimeout = 10 * time.Second
	}
	return s, nil
}

// maxLongRunning is how many long-running sessions (processes started by
// Start) a node's connection may hold: the rest are kept for commands.
func (s settings) maxLongRunning() int { return max(1, s.maxSessions-2) }

// expandHome replaces a leading ~/ with the user's home directory.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expanding %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func itoa(n int) string { return strconv.Itoa(n) }

package ssh

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	sshconfig "github.com/kevinburke/ssh_config"
)

// sshConfig is the user's ssh config file, parsed. A nil *sshConfig has
// no settings.
type sshConfig struct {
	path string
	cfg  *sshconfig.Config
}

func loadSSHConfig(s settings) (*sshConfig, error) {
	if s.config == "" {
		return nil, nil
	}
	b, err := os.ReadFile(s.config)
	if err != nil {
		if !s.configGiven && os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	cfg, err := sshconfig.DecodeBytes(b)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", s.config, err)
	}
	return &sshConfig{path: s.config, cfg: cfg}, nil
}

// get is the first value of key for host alias (ssh's rule: the first
// value obtained wins), or "".
func (c *sshConfig) get(alias, key string) string {
	if c == nil {
		return ""
	}
	v, err := c.cfg.Get(alias, key)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

func (c *sshConfig) getAll(alias, key string) []string {
	if c == nil {
		return nil
	}
	vs, _ := c.cfg.GetAll(alias, key)
	return vs
}

// target is one SSH endpoint, resolved: a node or a jump host.
type target struct {
	// alias is what the node spec (or ProxyJump) names: an ssh config Host
	// alias or a host name.
	alias string
	// hostname is what is dialled: ssh config's HostName, else alias.
	hostname string
	port     int
	user     string
	// hostKeyName is the name known_hosts is searched for (host:port):
	// ssh config's HostKeyAlias, else hostname.
	hostKeyName string
	// identityFiles are ssh config's IdentityFiles for the host.
	identityFiles  []string
	identitiesOnly bool
	// jumps are ssh config's ProxyJump hosts, dialled in order.
	jumps []target
}

// String is user@hostname:port, how errors name the endpoint.
func (t target) String() string {
	return t.user + "@" + net.JoinHostPort(t.hostname, strconv.Itoa(t.port))
}

// resolveTarget applies ssh config to alias: port and user, when not 0 or
// "", come from the node spec and win over the config.
func resolveTarget(cfg *sshConfig, alias string, port int, login, defaultUser string, withJumps bool) (target, error) {
	t := target{alias: alias, port: port, user: login}
	if alias == "" {
		return t, fmt.Errorf("empty host")
	}
	if t.port == 0 {
		if p := cfg.get(alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return t, fmt.Errorf("ssh config %s: Port %q for %s: want a port number", cfg.path, p, alias)
			}
			t.port = n
		}
	}
	if t.port == 0 {
		t.port = 22
	}
	if t.user == "" {
		t.user = cfg.get(alias, "User")
	}
	if t.user == "" {
		t.user = defaultUser
	}
	t.hostname = alias
	if h := cfg.get(alias, "HostName"); h != "" {
		t.hostname = expandTokens(h, t, "")
	}
	t.hostKeyName = net.JoinHostPort(t.hostname, strconv.Itoa(t.port))
	if a := cfg.get(alias, "HostKeyAlias"); a != "" {
		// ssh looks the alias up without a port.
		t.hostKeyName = net.JoinHostPort(a, "22")
	}
	home, _ := os.UserHomeDir()
	for _, f := range cfg.getAll(alias, "IdentityFile") {
		if strings.EqualFold(f, "none") {
			continue
		}
		t.identityFiles = append(t.identityFiles, expandTokens(f, t, home))
	}
	t.identitiesOnly = strings.EqualFold(cfg.get(alias, "IdentitiesOnly"), "yes")
	if pc := cfg.get(alias, "ProxyCommand"); pc != "" && !strings.EqualFold(pc, "none") && cfg.get(alias, "ProxyJump") == "" {
		return t, fmt.Errorf("ssh config %s: ProxyCommand for %s is not supported: use ProxyJump", cfg.path, alias)
	}
	pj := cfg.get(alias, "ProxyJump")
	if pj == "" || strings.EqualFold(pj, "none") {
		return t, nil
	}
	if !withJumps {
		// A jump host's own ProxyJump is not followed: list the whole
		// chain in the node's ProxyJump instead.
		return t, nil
	}
	for _, hop := range strings.Split(pj, ",") {
		hop = strings.TrimSpace(hop)
		juser, jhost, jport, err := parseJump(hop)
		if err != nil {
			return t, fmt.Errorf("ssh config %s: ProxyJump %q for %s: %w", cfg.path, pj, alias, err)
		}
		j, err := resolveTarget(cfg, jhost, jport, juser, defaultUser, false)
		if err != nil {
			return t, fmt.Errorf("ProxyJump %s: %w", hop, err)
		}
		t.jumps = append(t.jumps, j)
	}
	return t, nil
}

// parseJump parses [user@]host[:port] (or ssh://[user@]host[:port]).
func parseJump(s string) (login, host string, port int, err error) {
	s = strings.TrimPrefix(s, "ssh://")
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		login, s = s[:i], s[i+1:]
	}
	host = s
	if h, p, serr := net.SplitHostPort(s); serr == nil {
		host = h
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return "", "", 0, fmt.Errorf("bad port %q", p)
		}
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if host == "" {
		return "", "", 0, fmt.Errorf("no host")
	}
	return login, host, port, nil
}

// expandTokens expands ssh config's %% %h %p %r %u %d %n tokens and a
// leading ~ (home is used only for ~ and %d; empty means do not expand).
func expandTokens(s string, t target, home string) string {
	if home != "" && (s == "~" || strings.HasPrefix(s, "~/")) {
		s = filepath.Join(home, s[1:])
	}
	if !strings.Contains(s, "%") {
		return s
	}
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			if t.hostname != "" {
				b.WriteString(t.hostname)
			} else {
				b.WriteString(t.alias)
			}
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		case 'r':
			b.WriteString(t.user)
		case 'u':
			b.WriteString(local)
		case 'd':
			b.WriteString(home)
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

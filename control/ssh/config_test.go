package ssh

import (
	"strings"
	"testing"

	sshconfig "github.com/kevinburke/ssh_config"
)

func TestResolveTarget(t *testing.T) {
	cfg, err := sshconfig.Decode(strings.NewReader(`
Host db*
    HostName %h.example.net
    User admin
    Port 2200
    IdentityFile ~/.ssh/db_%r
    ProxyJump ops@bastion:2022,inner

Host bastion
    HostName 192.0.2.1
    IdentityFile /keys/bastion
    ProxyJump ignored-for-a-jump-host

Host keyed
    HostKeyAlias shared-key
    IdentitiesOnly yes

Host *
    User fallback
`))
	if err != nil {
		t.Fatal(err)
	}
	c := &sshConfig{path: "test", cfg: cfg}
	tg, err := resolveTarget(c, "db1", 0, "", "root", true)
	if err != nil {
		t.Fatal(err)
	}
	if tg.String() != "admin@db1.example.net:2200" || tg.hostKeyName != "db1.example.net:2200" {
		t.Errorf("db1: %s, known_hosts name %s", tg, tg.hostKeyName)
	}
	if len(tg.identityFiles) != 1 || !strings.HasSuffix(tg.identityFiles[0], "/.ssh/db_admin") || strings.HasPrefix(tg.identityFiles[0], "~") {
		t.Errorf("db1 identity files: %q", tg.identityFiles)
	}
	if len(tg.jumps) != 2 || tg.jumps[0].String() != "ops@192.0.2.1:2022" || tg.jumps[1].String() != "fallback@inner:22" || len(tg.jumps[0].jumps) != 0 {
		t.Errorf("db1 jumps: %v", tg.jumps)
	}
	// The node spec's port and user win.
	if tg, _ := resolveTarget(c, "db1", 22, "me", "root", true); tg.String() != "me@db1.example.net:22" {
		t.Errorf("db1 with spec port and user: %s", tg)
	}
	tg, _ = resolveTarget(c, "keyed", 0, "", "root", true)
	if tg.hostKeyName != "shared-key:22" || !tg.identitiesOnly || tg.String() != "fallback@keyed:22" {
		t.Errorf("keyed: %s %s %v", tg, tg.hostKeyName, tg.identitiesOnly)
	}
	// No config at all.
	if tg, _ := resolveTarget(nil, "10.0.0.1", 0, "", "root", true); tg.String() != "root@10.0.0.1:22" {
		t.Errorf("no config: %s", tg)
	}
}

func TestParseJump(t *testing.T) {
	for in, want := range map[string][3]string{
		"host":              {"", "host", "0"},
		"u@host:2022":       {"u", "host", "2022"},
		"[2001:db8::1]:22":  {"", "2001:db8::1", "22"},
		"[2001:db8::1]":     {"", "2001:db8::1", "0"},
		"ssh://u@h.example": {"u", "h.example", "0"},
	} {
		u, h, p, err := parseJump(in)
		if err != nil || u != want[0] || h != want[1] || itoa(p) != want[2] {
			t.Errorf("parseJump(%q) = %q %q %d %v, want %q", in, u, h, p, err, want)
		}
	}
	if _, _, _, err := parseJump("u@h:notaport"); err == nil {
		t.Error("a bad port was accepted")
	}
}

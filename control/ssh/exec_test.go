package ssh

import (
	"bytes"
	"testing"
)

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":        "''",
		"plain":   "'plain'",
		"it's":    `'it'\''s'`,
		`"$x" \n`: `'"$x" \n'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	n := &nodeConn{sudo: true}
	got, err := n.commandLine("/a dir", []string{"K=v w"}, "/bin/echo", []string{"it's"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `printf 'faultline-pid %s\n' "$$" >&2; cd '/a dir' && exec 'sudo' '-n' '--' '/usr/bin/env' '-i' '` + envPath + `' '` + envLang + `' 'K=v w' '/bin/echo' 'it'\''s'`
	if got != want {
		t.Errorf("commandLine:\n got %s\nwant %s", got, want)
	}
	if _, err := n.commandLine("", []string{"NOVALUE"}, "/bin/true", nil, false); err == nil {
		t.Error("an environment entry without = was accepted")
	}
}

func TestPidCatcher(t *testing.T) {
	var out bytes.Buffer
	p := &pidCatcher{w: &out}
	for _, chunk := range []string{"Could not chdir to home", " directory /x\nfaultline-", "pid 4", "2\nerr", "or 1\nerror 2\n"} {
		if n, err := p.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	if p.get() != 42 || out.String() != "Could not chdir to home directory /x\nerror 1\nerror 2\n" {
		t.Errorf("pid %d, passed on %q", p.get(), out.String())
	}
	// A stream that ends before the pid line loses nothing.
	out.Reset()
	p = &pidCatcher{w: &out}
	p.Write([]byte("sh: fatal"))
	p.flush()
	if p.get() != 0 || out.String() != "sh: fatal" {
		t.Errorf("pid %d, passed on %q", p.get(), out.String())
	}
}

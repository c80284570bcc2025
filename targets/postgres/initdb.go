package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/control"
)

// initdb makes a fresh database cluster in the server's data directory,
// which must not exist or be empty, owned by the target's user.
func (t *Target) initdb(ctx context.Context) error {
	node := t.server.Name
	data := t.dataDir(node)
	uid, gid, err := lookupUser(t.opts.User)
	if err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	if err := os.Chown(data, uid, gid); err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	if err := t.checkReachable(ctx, data); err != nil {
		return err
	}
	args := []string{"-D", data, "-U", "postgres", "--encoding=UTF8", "--locale=C", "--data-checksums", "--auth=trust"}
	if t.opts.Password != "" {
		pw, err := t.writePwfile(uid, gid)
		if err != nil {
			return fmt.Errorf("postgres initdb on %s: %w", node, err)
		}
		defer os.Remove(pw)
		// --auth only shapes initdb's own pg_hba.conf, which hba_file
		// replaces; the password is what matters.
		args = append(args, "--pwfile="+pw)
	}
	out, err := t.cluster.Exec(ctx, node, control.Cmd{
		Path: "setpriv",
		Args: t.asUser(filepath.Join(t.opts.BinDir, "initdb"), args...),
		Env:  t.opts.Env,
	})
	if err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	// initdb's own account stays next to the server's log.
	_ = os.WriteFile(filepath.Join(t.nodeDir(node), "initdb.log"), out, 0o644)
	return nil
}

// checkReachable fails, saying how to fix it, when the target's user cannot
// write dir: typically a parent directory that only root may search.
func (t *Target) checkReachable(ctx context.Context, dir string) error {
	_, err := t.cluster.Exec(ctx, t.server.Name, control.Cmd{Path: "setpriv", Args: t.asUser("test", "-w", dir, "-a", "-x", dir)})
	var ee *control.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("postgres setup on %s: the %s user cannot write %s: every directory above it must be searchable by others (chmod o+x), which is not so under /root or a directory made by mktemp; put the store elsewhere (e.g. --store /var/tmp/faultline)", t.server.Name, t.opts.User, dir)
	}
	if err != nil {
		return fmt.Errorf("postgres setup on %s: checking that %s can write %s: %w", t.server.Name, t.opts.User, dir, err)
	}
	return nil
}

// writePwfile writes the password for initdb into a file only the target's
// user can read, under a random name; the caller removes it.
func (t *Target) writePwfile(uid, gid int) (string, error) {
	path := filepath.Join(t.nodeDir(t.server.Name), ".pwfile-"+rand.Text()[:8])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(t.opts.Password + "\n")
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chown(path, uid, gid)); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("writing the password file: %w", err)
	}
	return path, nil
}

// writeHBA writes the server's pg_hba.conf: trust from the trusted
// networks, or a password from anywhere.
func (t *Target) writeHBA() error {
	var b strings.Builder
	b.WriteString("# Written by faultline's postgres target.\n# TYPE DATABASE USER ADDRESS METHOD\n")
	if t.opts.Password != "" {
		b.WriteString("host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n")
	} else {
		b.WriteString("host all all 127.0.0.1/32 trust\n")
		for _, p := range t.trustNets() {
			fmt.Fprintf(&b, "host all all %s trust\n", p)
		}
	}
	return os.WriteFile(t.hbaPath(t.server.Name), []byte(b.String()), 0o644)
}

func lookupUser(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("user %s (PostgreSQL refuses to run as root; the postgresql package creates it): %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("user %s: %w", name, err)
	}
	return uid, gid, nil
}

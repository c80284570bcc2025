package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/faultline-dev/faultline/control"
)

// initdb makes a fresh database cluster in the server's data directory,
// which must not exist or be empty, owned by the target's user.
func (t *Target) initdb(ctx context.Context) error {
	node := t.server.Name
	data := t.dataDir(node)
	bin, err := t.binDir(ctx)
	if err != nil {
		return err
	}
	if err := t.cluster.MkdirAll(ctx, node, data, 0o700); err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	if err := t.chown(ctx, data); err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	if err := t.checkReachable(ctx, data); err != nil {
		return err
	}
	args := []string{"-D", data, "-U", "postgres", "--encoding=UTF8", "--locale=C", "--data-checksums", "--auth=trust"}
	if t.opts.Password != "" {
		pw, err := t.writePwfile(ctx)
		if err != nil {
			return fmt.Errorf("postgres initdb on %s: %w", node, err)
		}
		defer t.cluster.RemoveAll(context.WithoutCancel(ctx), node, pw)
		// --auth only shapes initdb's own pg_hba.conf, which hba_file
		// replaces; the password is what matters.
		args = append(args, "--pwfile="+pw)
	}
	out, err := t.cluster.Exec(ctx, node, control.Cmd{
		Path: "setpriv",
		Args: t.asUser(filepath.Join(bin, "initdb"), args...),
		Env:  t.opts.Env,
	})
	if err != nil {
		return fmt.Errorf("postgres initdb on %s: %w", node, err)
	}
	// initdb's own account stays next to the server's log.
	_ = t.cluster.WriteFile(ctx, node, filepath.Join(t.nodeDir(node), "initdb.log"), out, 0o644)
	return nil
}

// chown gives path on the server's node to the target's user.
func (t *Target) chown(ctx context.Context, path string) error {
	u := t.opts.User
	if _, err := t.cluster.Exec(ctx, t.server.Name, control.Cmd{Path: "chown", Args: []string{u + ":" + u, path}}); err != nil {
		return fmt.Errorf("giving %s to the %s user (does it exist? PostgreSQL's package makes it): %w", path, u, err)
	}
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
func (t *Target) writePwfile(ctx context.Context) (string, error) {
	path := filepath.Join(t.nodeDir(t.server.Name), ".pwfile-"+rand.Text()[:8])
	if err := t.cluster.WriteFile(ctx, t.server.Name, path, []byte(t.opts.Password+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the password file: %w", err)
	}
	if err := t.chown(ctx, path); err != nil {
		_ = t.cluster.RemoveAll(ctx, t.server.Name, path)
		return "", err
	}
	return path, nil
}

// writeHBA writes the server's pg_hba.conf: trust from the trusted
// networks, or a password from anywhere.
func (t *Target) writeHBA(ctx context.Context) error {
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
	return t.cluster.WriteFile(ctx, t.server.Name, t.hbaPath(t.server.Name), []byte(b.String()), 0o644)
}

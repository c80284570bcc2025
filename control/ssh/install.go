package ssh

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline-dev/faultline/control"
)

// install makes sure every node has faultline's binary as the agent, at
// <home>/bin/faultline-<first 16 hex digits of its SHA-256>: a node keeps
// one copy per build, and a copy of the right size is not sent again.
// fresh (New) also makes each node's run directory; Attach (fresh false)
// keeps the Binary its Ref names while that still exists.
func (c *Cluster) install(ctx context.Context, fresh bool) error {
	local, err := control.BinaryPath()
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	hash, err := control.BinaryHash()
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	st, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	size := st.Size()
	want := path.Join(c.set.home, "bin", "faultline-"+hash[:16])

	// Which nodes lack it?
	// $1 the binary, $2 the run's directory to make (or ""), $3 the size
	// the binary must have (or "": it must be executable).
	const check = `set -e
[ -z "$2" ] || mkdir -p -- "$2"
mkdir -p -- "${1%/*}"
if [ -n "$3" ]; then
	if [ -f "$1" ] && [ "$(wc -c < "$1" | tr -d ' ')" = "$3" ]; then echo present; else echo missing; fi
else
	if [ -x "$1" ]; then echo present; else echo missing; fi
fi`
	var mu sync.Mutex
	var missing []*nodeConn
	var errs []string
	var wg sync.WaitGroup
	for _, n := range c.order {
		bin, dir, wantSize := want, c.dirs[n.name], strconv.FormatInt(size, 10)
		if !fresh {
			dir = ""
			if c.bins[n.name] != "" {
				bin, wantSize = c.bins[n.name], ""
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.run(ctx, n, control.Cmd{Path: "/bin/sh", Args: []string{"-c", check, "faultline", bin, dir, wantSize}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("%s: preparing %s: %v", n.name, path.Dir(bin), err))
			case strings.TrimSpace(string(out)) == "present":
				c.bins[n.name] = bin
			default:
				c.bins[n.name] = want
				missing = append(missing, n)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("ssh: %s", strings.Join(errs, "; "))
	}
	if len(missing) == 0 {
		return nil
	}

	start := time.Now()
	c.progress("ssh: installing faultline (%s) on %d node(s)…", mib(size), len(missing))
	for _, n := range missing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.upload(ctx, n, local, want); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s: installing faultline at %s: %v", n.name, want, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("ssh: %s", strings.Join(errs, "; "))
	}
	c.progress("ssh: installed faultline on %d node(s) in %v", len(missing), time.Since(start).Round(time.Millisecond))
	return nil
}

// upload streams local to remote through a temporary file next to it,
// made executable and renamed into place, so that remote is never half
// written.
func (c *Cluster) upload(ctx context.Context, n *nodeConn, local, remote string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	const script = `set -e
tmp="$1.tmp.$$"
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
chmod 755 -- "$tmp"
mv -f -- "$tmp" "$1"
trap - EXIT`
	var stderr tailBuffer
	stderr.max = 2048
	_, err = c.run(ctx, n, control.Cmd{Path: "/bin/sh", Args: []string{"-c", script, "faultline", remote}, Stdin: f, Stdout: io.Discard, Stderr: &stderr})
	if err != nil && stderr.String() != "" {
		err = fmt.Errorf("%w: %s", err, stderr.String())
	}
	return err
}

// progress writes a line for people to cfg.Progress, else to the log.
func (c *Cluster) progress(format string, args ...any) {
	if c.progressW != nil {
		fmt.Fprintf(c.progressW, format+"\n", args...)
		return
	}
	c.logf(format, args...)
}

func mib(n int64) string {
	if n < 1<<20 {
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt((n+1<<19)>>20, 10) + " MiB"
}

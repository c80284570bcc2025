package images

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"golang.org/x/sys/unix"
)

// The debian-postgresql base image's recipe.
const (
	baseName    = "debian-postgresql"
	baseSuite   = "bookworm"
	baseVariant = "minbase"
	// basePath is the image's PATH: Debian's, then PostgreSQL 15's
	// programs (initdb, pg_ctl, postgres), which Debian keeps off PATH.
	basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/15/bin"
	// defaultMirror is used when apt's sources name none for baseSuite.
	defaultMirror = "http://deb.debian.org/debian"
)

// basePackages are installed on top of minbase: the server (Debian's
// PostgreSQL 15, which creates the postgres user), setpriv to drop to that
// user, ps and ip for faultline's agent and faults.
var basePackages = []string{"postgresql", "util-linux", "procps", "iproute2"}

// baseRecipe is the hash that tags and labels the base image: the suite,
// variant, packages, architecture, PATH, trimmed paths and recipe version. The mirror is not in
// it (every Debian mirror serves the same suite), nor the packages'
// versions: the image is a snapshot of the suite when it was built, and is
// rebuilt only when the recipe changes or the image is removed.
func baseRecipe() string {
	return hashOf(fmt.Sprintf("faultline image %s recipe %s\nsuite %s\nvariant %s\npackages %s\narch %s\npath %s\ntrim %s\n",
		baseName, recipeVersion, baseSuite, baseVariant, strings.Join(basePackages, ","), runtime.GOARCH, basePath, strings.Join(trimPaths, ",")))
}

// BaseRef is the reference of the postgres image's base image.
func BaseRef() string { return Repository + baseName + ":" + baseRecipe()[:16] }

// ensureBase ensures the debian-postgresql base image: a debootstrap root
// filesystem imported into the engine.
func ensureBase(ctx context.Context, cli *client.Client, p *progress) (Result, error) {
	p = p.about(baseName)
	ref, recipe := BaseRef(), baseRecipe()
	return ensureLocked(ctx, cli, baseName, ref, recipe, p, func() error {
		return buildBase(ctx, cli, ref, recipe, p)
	})
}

func buildBase(ctx context.Context, cli *client.Client, ref, recipe string, p *progress) error {
	start := time.Now()
	if os.Geteuid() != 0 {
		return fmt.Errorf("building %s needs root: debootstrap makes its root filesystem (run 'sudo faultline image build postgres' once; the image is then reused)", ref)
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/debootstrap"); serr != nil {
			return fmt.Errorf("building %s needs debootstrap: apt-get install debootstrap", ref)
		}
		debootstrap = "/usr/sbin/debootstrap"
	}
	mirror := Mirror()
	tmp, err := os.MkdirTemp("", "faultline-rootfs-")
	if err != nil {
		return err
	}
	defer removeRootfs(tmp, p)
	root := filepath.Join(tmp, "rootfs")

	p.printf("step 1/3: debootstrap --variant=%s --include=%s %s %s %s (takes minutes)",
		baseVariant, strings.Join(basePackages, ","), baseSuite, root, mirror)
	if err := runDebootstrap(ctx, debootstrap, root, mirror, p, start); err != nil {
		return err
	}

	p.printf("step 2/3: apt-get clean; removing apt's lists, PostgreSQL's default cluster, docs, manual pages, translations and the host's resolv.conf and hostname (%s elapsed)", since(start))
	if err := trimRootfs(ctx, root); err != nil {
		return err
	}

	p.printf("step 3/3: importing the root filesystem as %s (%s elapsed)", ref, since(start))
	if err := importRootfs(ctx, cli, root, ref, recipe, p); err != nil {
		return err
	}
	p.printf("built %s in %s", ref, since(start))
	return nil
}

func runDebootstrap(ctx context.Context, debootstrap, root, mirror string, p *progress, start time.Time) error {
	cmd := exec.CommandContext(ctx, debootstrap,
		"--variant="+baseVariant, "--include="+strings.Join(basePackages, ","), baseSuite, root, mirror)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	// On cancel, TERM the whole process group (debootstrap, dpkg and the
	// maintainer scripts in the chroot) so that debootstrap can unmount
	// what it mounted; KILL it a while later.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting debootstrap: %w", err)
	}
	var (
		mu    sync.Mutex
		seen  = map[string]bool{}
		verb  string // of the last line
		count int    // lines since the last one printed
		last  string
		tail  []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			mu.Lock()
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			last = line
			// debootstrap says "I: <Verb> <what>" for each package and
			// "I: <Verb> <step>..." for each step: print the first line
			// of each verb and each step's, not every package's; and
			// warnings and errors as they come.
			count++
			if msg, ok := strings.CutPrefix(line, "I: "); ok {
				v, _, _ := strings.Cut(msg, " ")
				if !seen[v] || strings.HasSuffix(msg, "...") && v != verb {
					seen[v], count = true, 0
					p.printf("  debootstrap: %s (%s elapsed)", msg, since(start))
				}
				verb = v
			} else if strings.HasPrefix(line, "W: ") || strings.HasPrefix(line, "E: ") {
				p.printf("  debootstrap: %s", line)
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	stop := every(20*time.Second, func() {
		mu.Lock()
		defer mu.Unlock()
		p.printf("  debootstrap: %s elapsed, %d lines since the last step; last: %s", since(start), count, last)
	})
	err := cmd.Wait()
	pw.Close()
	<-done
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("debootstrap: %w", ctx.Err())
		}
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("debootstrap failed (%v); its last lines:\n  %s\n(its log is %s/debootstrap/debootstrap.log until faultline removes the directory)",
			err, strings.Join(tail, "\n  "), root)
	}
	return nil
}

// trimPaths are removed from the root filesystem, as Debian's -slim
// images do: documentation (but each package's copyright), manual pages,
// info and message translations, which nothing in a test reads (and
// PostgreSQL's messages stay in English, which its clients' error
// handling can rely on).
var trimPaths = []string{"usr/share/doc/*/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*", "usr/share/doc-base/*"}

// trimRootfs removes what the image does not need or must not hold: apt's
// downloaded packages and lists, PostgreSQL's default cluster (the target
// runs initdb in a directory of its own), trimPaths, and debootstrap's
// copies of this host's resolv.conf and hostname (the engine provides both
// in containers).
func trimRootfs(ctx context.Context, root string) error {
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, args...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("chroot %s %s: %v: %s", root, strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("apt-get", "clean"); err != nil {
		return err
	}
	if err := run("pg_dropcluster", "15", "main"); err != nil {
		return err
	}
	for _, pattern := range append([]string{"var/lib/apt/lists/*"}, trimPaths...) {
		paths, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, path := range paths {
			if filepath.Base(path) == "copyright" && strings.HasPrefix(pattern, "usr/share/doc/") {
				continue
			}
			if err := os.RemoveAll(path); err != nil {
				return err
			}
		}
	}
	for _, f := range []string{"etc/resolv.conf", "etc/hostname"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// importRootfs streams root to the engine as a tar and imports it as ref,
// labelled and with PATH set.
func importRootfs(ctx context.Context, cli *client.Client, root, ref, recipe string, p *progress) error {
	pr, pw := io.Pipe()
	var sent atomic.Int64
	go func() { pw.CloseWithError(writeRootfsTar(&countWriter{w: pw, n: &sent}, root)) }()
	defer pr.Close()
	stop := every(10*time.Second, func() { p.printf("  imported %d MB so far", sent.Load()>>20) })
	body, err := cli.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{
		Message: "faultline " + baseName + ": debootstrap " + baseVariant + " " + baseSuite + " + " + strings.Join(basePackages, " "),
		Changes: []string{
			"ENV PATH=" + basePath,
			"LABEL " + LabelImage + "=" + baseName,
			"LABEL " + LabelRecipe + "=" + recipe,
		},
	})
	if err == nil {
		err = readStream(body, nil)
		body.Close()
	}
	stop()
	if err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	p.printf("  imported %d MB", sent.Load()>>20)
	return nil
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// writeRootfsTar writes the tree at root as a tar, keeping numeric owners,
// modes, symlinks and hard links. /dev, /proc and /sys are kept empty: the
// engine mounts its own in every container. Sockets are left out.
func writeRootfsTar(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if dir, _, nested := strings.Cut(rel, "/"); nested && (dir == "dev" || dir == "proc" || dir == "sys") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		target := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		// Owners by number: names would be looked up on this host.
		hdr.Uname, hdr.Gname = "", ""
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st != nil {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				key := inode{uint64(st.Dev), st.Ino}
				if first, ok := links[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[key] = rel
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// removeRootfs removes the temporary directory of a root filesystem, after
// unmounting anything left mounted under it (debootstrap mounts /proc and
// /sys in the chroot; a killed debootstrap may leave them). It removes
// nothing while anything stays mounted there.
func removeRootfs(dir string, p *progress) {
	mounts, err := mountsUnder(dir)
	if err != nil {
		p.printf("not removing %s: %v", dir, err)
		return
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			p.printf("unmounting %s: %v", m, err)
		}
	}
	if mounts, err := mountsUnder(dir); err != nil || len(mounts) > 0 {
		p.printf("not removing %s: still mounted there: %v %v", dir, mounts, err)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		p.printf("removing %s: %v", dir, err)
	}
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

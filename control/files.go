package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// FileSystem is how faultline reaches files on a node: targets keep their
// data, configuration and logs there, and never use the controller's own
// filesystem for them. Paths are absolute paths on the node. Errors for a
// path that does not exist wrap fs.ErrNotExist.
type FileSystem interface {
	MkdirAll(ctx context.Context, node, path string, perm fs.FileMode) error
	// WriteFile writes data to path, replacing it whole (a reader never
	// sees half a file), with mode perm.
	WriteFile(ctx context.Context, node, path string, data []byte, perm fs.FileMode) error
	ReadFile(ctx context.Context, node, path string) ([]byte, error)
	// Exists reports whether path exists on node.
	Exists(ctx context.Context, node, path string) (bool, error)
	// RemoveAll removes path and everything under it; a missing path is
	// not an error.
	RemoveAll(ctx context.Context, node, path string) error
	// Upload copies the controller's file localPath to remotePath on node,
	// keeping its mode; Download copies remotePath on node to localPath on
	// the controller.
	Upload(ctx context.Context, node, localPath, remotePath string) error
	Download(ctx context.Context, node, remotePath, localPath string) error
}

// Execer is the part of a Cluster that ExecFS needs.
type Execer interface {
	Exec(ctx context.Context, node string, cmd Cmd) ([]byte, error)
}

// ExecFS implements FileSystem with short POSIX commands (sh, mkdir, cat,
// rm, mv, chmod) run through Exec, streaming file contents over the
// command's standard input and output. Backends whose nodes are reached
// by running commands (SSH, containers) embed it.
type ExecFS struct {
	Execer Execer
}

// exitMissing is the exit code the scripts below use for "no such file".
const exitMissing = 44

func (f ExecFS) sh(ctx context.Context, node, script string, stdin io.Reader, stdout io.Writer, args ...string) error {
	var stderr bytes.Buffer
	cmd := Cmd{Path: "/bin/sh", Args: append([]string{"-c", script, "faultline"}, args...), Stdin: stdin, Stdout: stdout, Stderr: &stderr}
	if stdout == nil {
		cmd.Stdout = &stderr
	}
	_, err := f.Execer.Exec(ctx, node, cmd)
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Status.Code == exitMissing {
			return fs.ErrNotExist
		}
		ee.Output = stderr.Bytes()
	}
	return err
}

func (f ExecFS) MkdirAll(ctx context.Context, node, path string, perm fs.FileMode) error {
	if err := f.sh(ctx, node, `mkdir -p -m "$1" -- "$2" && chmod "$1" -- "$2"`, nil, nil, octal(perm), path); err != nil {
		return fmt.Errorf("mkdir %s on %s: %w", path, node, err)
	}
	return nil
}

func (f ExecFS) WriteFile(ctx context.Context, node, path string, data []byte, perm fs.FileMode) error {
	return f.write(ctx, node, path, bytes.NewReader(data), perm)
}

// write streams r into a temporary file next to path, then renames it.
func (f ExecFS) write(ctx context.Context, node, path string, r io.Reader, perm fs.FileMode) error {
	const script = `set -e
tmp="$2.faultline-$$"
trap 'rm -f -- "$tmp"' EXIT
umask 077
cat > "$tmp"
chmod "$1" -- "$tmp"
mv -f -- "$tmp" "$2"
trap - EXIT`
	if err := f.sh(ctx, node, script, r, nil, octal(perm), path); err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, node, err)
	}
	return nil
}

func (f ExecFS) ReadFile(ctx context.Context, node, path string) ([]byte, error) {
	var out bytes.Buffer
	if err := f.read(ctx, node, path, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (f ExecFS) read(ctx context.Context, node, path string, w io.Writer) error {
	script := `[ -e "$1" ] || exit ` + strconv.Itoa(exitMissing) + `; exec cat -- "$1"`
	if err := f.sh(ctx, node, script, nil, w, path); err != nil {
		return fmt.Errorf("reading %s on %s: %w", path, node, err)
	}
	return nil
}

func (f ExecFS) Exists(ctx context.Context, node, path string) (bool, error) {
	err := f.sh(ctx, node, `[ -e "$1" ] || [ -L "$1" ] || exit `+strconv.Itoa(exitMissing), nil, nil, path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s on %s: %w", path, node, err)
	}
	return true, nil
}

func (f ExecFS) RemoveAll(ctx context.Context, node, path string) error {
	if err := checkRemovable(path); err != nil {
		return err
	}
	if err := f.sh(ctx, node, `rm -rf -- "$1"`, nil, nil, path); err != nil {
		return fmt.Errorf("removing %s on %s: %w", path, node, err)
	}
	return nil
}

func (f ExecFS) Upload(ctx context.Context, node, localPath, remotePath string) error {
	in, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("uploading %s to %s: %w", localPath, node, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("uploading %s to %s: %w", localPath, node, err)
	}
	return f.write(ctx, node, remotePath, in, st.Mode().Perm())
}

func (f ExecFS) Download(ctx context.Context, node, remotePath, localPath string) error {
	return DownloadVia(localPath, func(w io.Writer) error { return f.read(ctx, node, remotePath, w) })
}

// DownloadVia writes localPath (through a temporary file, renamed at the
// end) from what read writes; a failed read leaves nothing behind.
func DownloadVia(localPath string, read func(w io.Writer) error) error {
	return WriteFileAtomic(localPath, 0o644, read)
}

// WriteFileAtomic writes path on this host with mode perm from what write
// writes, through a temporary file in its directory renamed into place:
// a reader never sees half a file, and a failed write leaves none.
func WriteFileAtomic(path string, perm fs.FileMode, write func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), perm)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// checkRemovable refuses to remove paths no target should ever remove,
// as a last guard against a bad option or an empty variable.
func checkRemovable(path string) error {
	clean := filepath.Clean(path)
	if !filepath.IsAbs(clean) || filepath.Dir(clean) == "/" || clean == "/" {
		return fmt.Errorf("refusing to remove %q: not a path faultline made", path)
	}
	return nil
}

func octal(m fs.FileMode) string { return strconv.FormatUint(uint64(m.Perm()), 8) }

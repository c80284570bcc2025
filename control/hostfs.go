package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// HostFS implements FileSystem for nodes whose files are this host's
// files (network namespaces on this host; containers whose node directory
// is bind-mounted at the same path): os.*, after Check accepts the node.
type HostFS struct {
	// Check returns an error wrapping ErrNoNode for an unknown node.
	Check func(node string) error
}

func (h HostFS) check(node string) error {
	if h.Check == nil {
		return nil
	}
	return h.Check(node)
}

// MkdirAll implements FileSystem.
func (h HostFS) MkdirAll(ctx context.Context, node, path string, perm fs.FileMode) error {
	if err := h.check(node); err != nil {
		return err
	}
	if err := os.MkdirAll(path, perm); err != nil {
		return fmt.Errorf("mkdir %s on %s: %w", path, node, err)
	}
	// The umask may have narrowed perm.
	return os.Chmod(path, perm)
}

// WriteFile implements FileSystem: through a temporary file,
// renamed into place.
func (h HostFS) WriteFile(ctx context.Context, node, path string, data []byte, perm fs.FileMode) error {
	if err := h.check(node); err != nil {
		return err
	}
	if err := WriteFileAtomic(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, node, err)
	}
	return nil
}

// ReadFile implements FileSystem.
func (h HostFS) ReadFile(ctx context.Context, node, path string) ([]byte, error) {
	if err := h.check(node); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", path, node, err)
	}
	return b, nil
}

// Exists implements FileSystem.
func (h HostFS) Exists(ctx context.Context, node, path string) (bool, error) {
	if err := h.check(node); err != nil {
		return false, err
	}
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s on %s: %w", path, node, err)
	}
	return true, nil
}

// RemoveAll implements FileSystem.
func (h HostFS) RemoveAll(ctx context.Context, node, path string) error {
	if err := h.check(node); err != nil {
		return err
	}
	if err := checkRemovable(path); err != nil {
		return fmt.Errorf("%s: %w", node, err)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s on %s: %w", path, node, err)
	}
	return nil
}

// Upload implements FileSystem, as a copy.
func (h HostFS) Upload(ctx context.Context, node, localPath, remotePath string) error {
	if err := h.check(node); err != nil {
		return err
	}
	return copyFile(ctx, localPath, remotePath)
}

// Download implements FileSystem, as a copy.
func (h HostFS) Download(ctx context.Context, node, remotePath, localPath string) error {
	if err := h.check(node); err != nil {
		return err
	}
	if same(remotePath, localPath) {
		return nil
	}
	return copyFile(ctx, remotePath, localPath)
}

func same(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func copyFile(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("copying %s: %w", from, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copying %s: %w", from, err)
	}
	if err := WriteFileAtomic(to, st.Mode().Perm(), func(w io.Writer) error { _, err := io.Copy(w, in); return err }); err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	return nil
}

// Home holds, on the controller's host, the node directories of clusters
// made without a store directory, and the agents' directories of
// containers faultline attaches to: Home/runs/<run id>/<node>.
const Home = "/var/lib/faultline"

// RunDir is run id's directory under Home.
func RunDir(id string) string { return filepath.Join(Home, "runs", id) }

// RemoveRunDir removes run id's directory under Home (what a backend
// made there for the run: node data, agents' ledgers), reporting whether
// there was one. Backends call it when they tear a run down, and when
// they sweep a run whose controller died.
func RemoveRunDir(id string) (bool, error) {
	if id == "" || strings.ContainsAny(id, "/.") {
		return false, fmt.Errorf("run id %q: not a run id", id)
	}
	dir := RunDir(id)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("removing %s: %w", dir, err)
	}
	return true, nil
}

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/faultline-dev/faultline/control"
)

// The nodes share the host's filesystem, so node files are the host's:
// FileSystem is os.*, checked against the node's name.

// MkdirAll implements control.FileSystem.
func (c *Cluster) MkdirAll(ctx context.Context, node, path string, perm fs.FileMode) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	if err := os.MkdirAll(path, perm); err != nil {
		return fmt.Errorf("mkdir %s on %s: %w", path, node, err)
	}
	// The umask may have narrowed perm.
	return os.Chmod(path, perm)
}

// WriteFile implements control.FileSystem: through a temporary file,
// renamed into place.
func (c *Cluster) WriteFile(ctx context.Context, node, path string, data []byte, perm fs.FileMode) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	if err := writeAtomic(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, node, err)
	}
	return nil
}

// ReadFile implements control.FileSystem.
func (c *Cluster) ReadFile(ctx context.Context, node, path string) ([]byte, error) {
	if err := c.checkNode(node); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", path, node, err)
	}
	return b, nil
}

// Exists implements control.FileSystem.
func (c *Cluster) Exists(ctx context.Context, node, path string) (bool, error) {
	if err := c.checkNode(node); err != nil {
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

// RemoveAll implements control.FileSystem.
func (c *Cluster) RemoveAll(ctx context.Context, node, path string) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	if filepath.Dir(filepath.Clean(path)) == "/" || !filepath.IsAbs(path) {
		return fmt.Errorf("refusing to remove %q on %s: not a path faultline made", path, node)
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing %s on %s: %w", path, node, err)
	}
	return nil
}

// Upload implements control.FileSystem, as a copy.
func (c *Cluster) Upload(ctx context.Context, node, localPath, remotePath string) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	return copyFile(ctx, localPath, remotePath)
}

// Download implements control.FileSystem, as a copy.
func (c *Cluster) Download(ctx context.Context, node, remotePath, localPath string) error {
	if err := c.checkNode(node); err != nil {
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
	if err := writeAtomic(to, st.Mode().Perm(), func(w io.Writer) error { _, err := io.Copy(w, in); return err }); err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	return nil
}

// writeAtomic writes path through a temporary file in its directory.
func writeAtomic(path string, perm fs.FileMode, write func(io.Writer) error) error {
	return control.WriteFileAtomic(path, perm, write)
}

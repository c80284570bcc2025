package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Upload implements control.Transferer. Nodes share the host's filesystem,
// so this is a copy.
func (c *Cluster) Upload(ctx context.Context, node, localPath, remotePath string) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	return copyFile(ctx, localPath, remotePath)
}

// Download implements control.Transferer, as a copy.
func (c *Cluster) Download(ctx context.Context, node, remotePath, localPath string) error {
	if err := c.checkNode(node); err != nil {
		return err
	}
	return copyFile(ctx, remotePath, localPath)
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
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", from, to, err)
	}
	return out.Close()
}

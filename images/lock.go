package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockDir holds one lock file per image name. It is a directory of its own
// under /run/faultline (the local backend's lock directory) so that nothing
// there mistakes an image lock for a run's.
func lockDir() string {
	if os.Geteuid() == 0 {
		return "/run/faultline/images"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("faultline-images-%d", os.Geteuid()))
}

// lock takes the host-wide lock of image name (flock, so it is released
// when this process dies), waiting while another process holds it until
// ctx ends. Two processes building one image at once would each tag what
// they built; under the lock the second finds the first's image instead.
func lock(ctx context.Context, name string, p *progress) (unlock func(), err error) {
	dir := lockDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the image lock directory: %w", err)
	}
	path := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the image lock: %w", err)
	}
	start := time.Now()
	var told time.Time
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Since(told) > 30*time.Second {
			p.printf("waiting while another build of it holds %s (%s so far)", path, since(start))
			told = time.Now()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return func() { f.Close() }, nil
}

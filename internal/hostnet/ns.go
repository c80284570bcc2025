package hostnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces are bind-mounted, as by
// `ip netns add`.
const NetnsDir = "/run/netns"

// inThread runs f on a fresh OS thread that is thrown away afterwards: f
// may change the thread's namespaces (setns, unshare) without restoring
// them, and no other goroutine will ever run there.
func inThread(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine exits, the runtime ends the
		// thread instead of reusing it.
		runtime.LockOSThread()
		errc <- f()
	}()
	return <-errc
}

// InNamespace runs f on a thrown-away thread that has joined named
// namespace name.
func InNamespace(name string, f func() error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", name, err)
	}
	defer ns.Close()
	return inThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("joining namespace %s: %w", name, err)
		}
		return f()
	})
}

// createNamespace creates and names a new network namespace.
func createNamespace(name string) error {
	return inThread(func() error {
		ns, err := netns.NewNamed(name)
		if err != nil {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
		return ns.Close()
	})
}

// newNamespace creates named namespace name and opens a netlink handle
// inside it. The caller closes both.
func newNamespace(name string) (*netlink.Handle, netns.NsHandle, error) {
	if err := createNamespace(name); err != nil {
		return nil, netns.None(), err
	}
	return HandleAt(name)
}

// DeleteNamespace removes a named namespace; a missing one is not an error.
func DeleteNamespace(name string) error {
	err := netns.DeleteNamed(name)
	if err == nil || errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if errors.Is(err, unix.EINVAL) {
		// Not a mount point (a half-made namespace): remove the file.
		if rerr := os.Remove(filepath.Join(NetnsDir, name)); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("deleting namespace %s: %w", name, err)
}

// ListNamespaces returns the names under NetnsDir (none if it does not
// exist).
func ListNamespaces() ([]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// NamespaceInode is the inode that /proc/<pid>/ns/net shows as net:[inode]
// for processes inside named namespace name.
func NamespaceInode(name string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(NetnsDir, name), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// HandleAt opens a netlink handle inside named namespace name. The caller
// closes both.
func HandleAt(name string) (*netlink.Handle, netns.NsHandle, error) {
	fd, err := netns.GetFromName(name)
	if err != nil {
		return nil, netns.None(), fmt.Errorf("opening namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, netns.None(), fmt.Errorf("netlink in %s: %w", name, err)
	}
	return h, fd, nil
}

// DeleteLink deletes link name in the host namespace, reporting whether
// there was one to delete; a missing link is not an error.
func DeleteLink(name string) (deleted bool, err error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return false, nil
	}
	if err := netlink.LinkDel(l); err != nil {
		return false, fmt.Errorf("deleting link %s: %w", name, err)
	}
	return true, nil
}

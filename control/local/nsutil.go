package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces are bind-mounted, as by
// `ip netns add`, so `ip netns list` shows faultline's too.
const netnsDir = "/run/netns"

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

// inNamespace runs f on a thrown-away thread that has joined namespace name.
func inNamespace(name string, f func() error) error {
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

// deleteNamespace removes a named namespace; a missing one is not an error.
func deleteNamespace(name string) error {
	err := netns.DeleteNamed(name)
	if err == nil || errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if errors.Is(err, unix.EINVAL) {
		// Not a mount point (a half-made namespace): remove the file.
		if rerr := os.Remove(filepath.Join(netnsDir, name)); rerr == nil || errors.Is(rerr, os.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("deleting namespace %s: %w", name, err)
}

// listNamespaces returns the names under /run/netns.
func listNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
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

// namespaceInode is the inode that /proc/<pid>/ns/net shows as net:[inode]
// for processes inside named namespace name.
func namespaceInode(name string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, name), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// Proc is a process found inside a node's namespace.
type Proc struct {
	Pid       int
	Namespace string
	Cmdline   string
}

// procsInNamespaces returns the processes (other than this one) whose
// network namespace is one of inodes (inode -> namespace name).
func procsInNamespaces(inodes map[uint64]string) []Proc {
	if len(inodes) == 0 {
		return nil
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := os.Getpid()
	var out []Proc
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		link, err := os.Readlink("/proc/" + n + "/ns/net")
		if err != nil {
			continue // gone, or a zombie
		}
		ino, ok := parseNsLink(link)
		if !ok {
			continue
		}
		if ns, ok := inodes[ino]; ok {
			out = append(out, Proc{Pid: pid, Namespace: ns, Cmdline: cmdline(pid)})
		}
	}
	return out
}

// parseNsLink parses "net:[4026532251]".
func parseNsLink(s string) (uint64, bool) {
	s, ok := strings.CutPrefix(s, "net:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func cmdline(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

package local

import (
	"os"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/control"
	"github.com/faultline-dev/faultline/internal/hostnet"
)

// inNamespace runs f on a thrown-away thread that has joined namespace name
// (process.go starts node processes through it).
func inNamespace(name string, f func() error) error { return hostnet.InNamespace(name, f) }

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
			out = append(out, Proc{Pid: pid, Namespace: ns, Cmdline: control.Cmdline(pid)})
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

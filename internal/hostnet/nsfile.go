package hostnet

import (
	"fmt"

	"github.com/vishvananda/netns"
)

// InNamespaceFile runs f on a thrown-away thread that has joined the
// network namespace at path (e.g. /proc/<pid>/ns/net of a container's
// first process).
func InNamespaceFile(path string, f func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer ns.Close()
	return inThread(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("joining network namespace %s: %w", path, err)
		}
		return f()
	})
}

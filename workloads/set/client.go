package set

import "context"

// Client is what a target offers for the set workload: a grow-only set per
// key (Jepsen's set-full). Method names carry the workload's name, so that one client type can
// serve several workloads (a counter's add is not a set's). Definite says whether err means the operation
// certainly did not take effect (recorded fail); otherwise its outcome is
// unknown (info).
type Client interface {
	// SetAdd adds element to key's set.
	SetAdd(ctx context.Context, key string, element int64) error
	// SetRead returns every element of key's set (none for a missing key).
	SetRead(ctx context.Context, key string) ([]int64, error)
	Definite(err error) bool
}

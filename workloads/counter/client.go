package counter

import "context"

// Client is what a target offers for the counter workload: a counter per
// key that starts at 0. Definite as in set.Client.
type Client interface {
	// CounterAdd adds delta (>= 0) to key's counter.
	CounterAdd(ctx context.Context, key string, delta int64) error
	// CounterRead returns key's counter (0 for a missing key).
	CounterRead(ctx context.Context, key string) (int64, error)
	Definite(err error) bool
}

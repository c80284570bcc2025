package queue

import "context"

// Client is what a target offers for the queue workload: a FIFO queue per
// key. Definite as in set.Client.
type Client interface {
	// Enqueue appends v to key's queue.
	Enqueue(ctx context.Context, key string, v int64) error
	// Dequeue removes and returns the head of key's queue; ok is false when
	// the queue was empty. When it fails with an outcome that may have
	// taken effect and knows which element it tried to take, it returns
	// that element with ok true and the error: the history then names it,
	// and the checker counts only that element as possibly gone.
	Dequeue(ctx context.Context, key string) (v int64, ok bool, err error)
	// Drain removes and returns every element left in key's queue, in
	// order (the final phase of a run).
	Drain(ctx context.Context, key string) ([]int64, error)
	Definite(err error) bool
}

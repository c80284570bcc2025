package uniqueids

import "context"

// Client is what a target offers for the unique-ids workload: a generator
// of ids that must never repeat (etcd: a key's revision after a put).
type Client interface {
	Generate(ctx context.Context) (int64, error)
	Definite(err error) bool
}

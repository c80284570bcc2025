package targets

import "context"

// DB is a system under test running on every node of a cluster (Jepsen's
// DB protocol). Node names are those of the control.Cluster it runs on.
//
// Lifecycle: Setup gives every node fresh data and starts it; Teardown
// stops every node, leaving data and logs to be collected.
type DB interface {
	Setup(ctx context.Context) error
	Teardown(ctx context.Context) error

	// Start starts node on the data it has. Stop asks it to exit
	// (SIGTERM) and waits; Kill does not ask (SIGKILL). Stopping or killing
	// a node that is not running is not an error.
	Start(ctx context.Context, node string) error
	Stop(ctx context.Context, node string) error
	Kill(ctx context.Context, node string) error
	// Pause freezes node (SIGSTOP); Resume thaws it (SIGCONT).
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
	// Restart stops node if it runs and starts it again on its data.
	Restart(ctx context.Context, node string) error
	// Wipe removes node's data; the node must not be running.
	Wipe(ctx context.Context, node string) error

	// WaitHealthy returns once every node serves requests, or ctx ends.
	WaitHealthy(ctx context.Context) error
	// LogFiles lists node's log files, to collect into the store.
	LogFiles(node string) []string
}

// Primaries is an optional capability of a DB: the nodes that currently
// believe they lead (for nemeses that target leaders).
type Primaries interface {
	Primaries(ctx context.Context) ([]string, error)
}

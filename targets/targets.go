package targets

import "context"

// DB is a system under test running on every node of a cluster (Jepsen's
// DB protocol). Node names are those of the control.Cluster it runs on,
// and every node is reached through that cluster only.
//
// Lifecycle: Setup gives every node fresh data and starts it (or, for a
// cluster that was running before faultline came, checks that it runs);
// Teardown stops every node faultline started, leaving data and logs to be
// collected.
type DB interface {
	Setup(ctx context.Context) error
	Teardown(ctx context.Context) error

	// Start starts node on the data it has. Stop asks it to exit
	// (SIGTERM) and waits; Kill does not ask (SIGKILL) and waits until its
	// processes have gone. Stopping or killing a node that is not running
	// is not an error.
	Start(ctx context.Context, node string) error
	Stop(ctx context.Context, node string) error
	Kill(ctx context.Context, node string) error
	// Restart stops node if it runs and starts it again on its data.
	Restart(ctx context.Context, node string) error
	// Wipe removes node's data; the node must not be running.
	Wipe(ctx context.Context, node string) error
	// Processes lists the pids (as the node sees them) of the roots of the
	// service's process trees on node: what a pause stops and a clock
	// fault skews. None means it is not running there.
	Processes(ctx context.Context, node string) ([]int, error)

	// WaitHealthy returns once every node serves requests, or ctx ends.
	WaitHealthy(ctx context.Context) error
	// LogFiles lists node's log files (paths on the node), to collect into
	// the store.
	LogFiles(node string) []string
}

// Primaries is an optional capability of a DB: the nodes that currently
// believe they lead (for nemeses that target leaders).
type Primaries interface {
	Primaries(ctx context.Context) ([]string, error)
}

// Servers is an optional capability of a DB that serves from some of the
// cluster's nodes only (PostgreSQL's one server): the nodes that run the
// service. Operations are attributed to them, not to nodes that run
// nothing.
type Servers interface {
	Servers() []string
}

// Restarter is an optional capability of a DB: the command (argv, run on
// node) that starts node's service again through whatever manages it. The
// node's agent runs it when a kill outlives the controller that made it
// (its lease ran out); a DB whose processes faultline itself starts has
// none, because `faultline heal` tears such a cluster down.
type Restarter interface {
	RestartCommand(node string) []string
}

// LogCollector is an optional capability of a DB whose logs are not plain
// files (e.g. a systemd unit's journal): it writes node's logs into dir on
// the controller.
type LogCollector interface {
	CollectLogs(ctx context.Context, node, dir string) error
}

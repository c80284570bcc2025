package redis

import (
	"context"
	"fmt"
	"strings"

	"github.com/faultline-dev/faultline/control"
)

// defaultSave is Redis's own default snapshot schedule: after 3600 s if
// one key changed, 300 s if 100 did, 60 s if 10000 did.
const defaultSave = "3600 1 300 100 60 10000"

// serverConfig is node's redis.conf as Setup writes it. Every setting is
// here, none from the distribution's /etc/redis/redis.conf. The servers
// may rewrite it (CONFIG REWRITE, which Sentinel sends with every
// REPLICAOF it gives), so a node restarts as what it last was.
func (t *Target) serverConfig(n control.Node) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by faultline's redis target (persistence %s).", t.opts.Persistence)
	line("bind %s", n.Addr)
	line("port %d", t.opts.Port)
	// Bound to the node's own address, reachable from the run's nodes and
	// controller only; no password, so protected mode (which refuses
	// every client but loopback's then) is off.
	line("protected-mode no")
	// No unixsocket: a socket path would be shared by every namespace on
	// the host.
	line("daemonize no")
	line("supervised no")
	line(`logfile ""`) // standard output, which the cluster writes to redis.log
	line("loglevel notice")
	line("pidfile %s", t.pidFile(n.Name, serverProc))
	line("dir %s", t.dataDir(n.Name))
	line("dbfilename dump.rdb")
	line("save %s", defaultSave)
	switch t.opts.Persistence {
	case AOFEverysec:
		line("appendonly yes")
		line("appendfsync everysec")
	case AOFAlways:
		line("appendonly yes")
		line("appendfsync always")
	default:
		line("appendonly no")
	}
	line("appenddirname appendonlydir")
	// A replica's full sync starts at once instead of waiting 5 s for
	// more replicas to share it: a restarted node rejoins sooner.
	line("repl-diskless-sync-delay 0")
	if n != t.first() {
		line("replicaof %s %d", t.first().Addr, t.opts.Port)
	}
	return b.String()
}

// quorum is how many sentinels must agree that the primary is down: a
// majority (2 of 3). Sentinel needs a majority of all sentinels to elect
// the one that fails over anyway.
func (t *Target) quorum() int { return len(t.nodes)/2 + 1 }

// sentinelConfig is node's sentinel.conf as Setup writes it. The sentinel
// rewrites it with what it learns (its id, the epoch, the replicas and
// other sentinels), and restarts from that.
func (t *Target) sentinelConfig(n control.Node) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by faultline's redis target.")
	line("bind %s", n.Addr)
	line("port %d", t.opts.SentinelPort)
	line("protected-mode no")
	line("daemonize no")
	line(`logfile ""`)
	line("pidfile %s", t.pidFile(n.Name, sentinelProc))
	line("dir %s", t.confDir(n.Name))
	line("sentinel announce-ip %s", n.Addr)
	line("sentinel resolve-hostnames no")
	line("sentinel monitor %s %s %d %d", MasterName, t.first().Addr, t.opts.Port, t.quorum())
	line("sentinel down-after-milliseconds %s %d", MasterName, t.opts.DownAfter.Milliseconds())
	line("sentinel failover-timeout %s %d", MasterName, t.opts.FailoverTimeout.Milliseconds())
	line("sentinel parallel-syncs %s 1", MasterName)
	return b.String()
}

// writeConfigs writes node's configuration files afresh.
func (t *Target) writeConfigs(ctx context.Context, node string) error {
	return t.writeConfigsIf(ctx, node, func(string) (bool, error) { return true, nil })
}

// writeMissingConfigs writes those of node's configuration files that do
// not exist; the others are what the servers last rewrote.
func (t *Target) writeMissingConfigs(ctx context.Context, node string) error {
	return t.writeConfigsIf(ctx, node, func(path string) (bool, error) {
		ok, err := t.cluster.Exists(ctx, node, path)
		return !ok, err
	})
}

func (t *Target) writeConfigsIf(ctx context.Context, node string, write func(path string) (bool, error)) error {
	n, err := t.node(node)
	if err != nil {
		return err
	}
	files := map[string]string{t.serverConf(node): t.serverConfig(n)}
	if t.sentinel {
		files[t.sentinelConf(node)] = t.sentinelConfig(n)
	}
	for path, text := range files {
		w, err := write(path)
		if err != nil {
			return fmt.Errorf("redis on %s: %w", node, err)
		}
		if !w {
			continue
		}
		if err := t.cluster.WriteFile(ctx, node, path, []byte(text), 0o640); err != nil {
			return fmt.Errorf("redis on %s: %w", node, err)
		}
		if err := t.chown(ctx, node, path); err != nil {
			return err
		}
	}
	return nil
}

// Package redis is the Redis target: the distribution's redis-server (and
// redis-sentinel; Debian 12 ships Redis 7.0) on every node, and a client
// over github.com/redis/go-redis/v9 for the set, counter, queue, lock and
// register workloads. go-redis is Redis's own maintained Go client: it has
// the Sentinel failover client applications use (so the tests test the
// recipe people run), lets retries be turned off (a retried INCRBY or
// RPUSH would apply twice and lie to the checker), takes a dialer (which
// is how this client knows whether a request left at all, see Client) and
// types server error replies (redis.Error), which Definite needs.
//
// # Nodes
//
// One node (the default) is one server. More nodes are a primary (the
// first node at Setup) and replicas (replicaof the first), and, with the
// sentinel option (on by default), a redis-sentinel on every node
// monitoring the primary as "faultline", with quorum a majority of the
// nodes (2 of 3) and short timeouts (down-after-milliseconds 2000,
// failover-timeout 4000): a killed primary is replaced within about 3–5 s.
// The sentinels' majority is also what Sentinel needs to elect the one
// that fails over, so a fault that takes a majority of nodes (kill of
// n1 and n2 of 3) stops failovers until they are back. With sentinel=off
// the first node is the primary for good.
//
// # Servers
//
// Each node's files live under <Dir>/<node>: conf/redis.conf and
// conf/sentinel.conf (written by Setup, every setting in them and none
// from /etc/redis; the servers rewrite them: Sentinel records what it
// learns, and CONFIG REWRITE, which Sentinel sends with each REPLICAOF,
// records a node's new role, so a restarted node comes back as what it
// last was), data/ (the working directory: dump.rdb, appendonlydir; the
// only data directory, removed by Wipe and at teardown), and the logs
// redis.log and sentinel.log (the processes log to standard output, which
// the cluster's Start writes there). Start writes a configuration only
// where there is none.
//
// The processes are started by the cluster's Start, as the redis user
// (Debian's package makes it) through setpriv, which execs, so the process
// the cluster signals is the server itself; as root when the node has no
// such user. daemonize no; bind the node's address and no other;
// protected-mode no (there is no password, and protected mode would then
// refuse every client but loopback's: the server is reachable on its
// node's address in the run's subnet only); no unixsocket, and pid files
// in conf/ (the defaults under /var/run would be shared by every network
// namespace on a host, through which pid files also let another faultline
// process adopt the servers); repl-diskless-sync-delay 0 (a restarted
// replica syncs at once rather than 5 s later). Persistence (the
// persistence option): rdb, Redis's default snapshot schedule (save 3600
// 1 300 100 60 10000, no append-only file); aof-everysec and aof-always
// add appendonly yes with that appendfsync.
//
// Kill is SIGKILL of the server (its process group: a snapshot's forked
// child dies with it) and of the sentinel: the node crashes, and Redis
// saves nothing. Stop is SIGTERM (Redis then saves a snapshot, or flushes
// its append-only file) and SIGCONT in case it is paused; Processes, what
// a pause stops, are the server and the sentinel.
//
// What a crash keeps: with rdb, an acknowledged write is lost unless a
// snapshot happened after it — none is due in the first minute of a
// server's life under the default schedule, so a kill loses every write
// since the server started (the set workload with kill faults is invalid:
// "lost"). With aof-always nothing acknowledged is lost. aof-everysec also
// keeps everything over a process kill: Redis writes the append-only file
// before it replies, and the page cache survives the process; only a
// crash of the machine (not a fault faultline has) loses up to a second.
// With replicas, a killed primary that restarts before the sentinels fail
// it over comes back as a primary with what its disk had (with rdb,
// nothing), and its replicas resync to that: acknowledged writes are lost
// cluster-wide, as Redis's documentation warns. One that restarts after a
// failover is a lone primary for about 10 s (Sentinel waits 8 s before it
// demotes an old primary that reappears); clients following the sentinels
// do not write to it.
//
// WaitHealthy: every server answers and has loaded its data; the primary
// (the one every sentinel names, else the first node) says it is one;
// every other node replicates it with its link up; and every sentinel
// knows every other sentinel and every replica, up (a sentinel that has
// not yet heard of the others cannot fail the primary over). Setup starts
// the sentinels once the replicas are linked, so that each learns of them
// from its first look at the primary rather than 10 s later.
//
// On every node this needs redis-server (package redis-server),
// redis-sentinel when sentinels run (package redis-sentinel; without it
// redis-server --sentinel is used), setpriv (util-linux) and id, chown.
//
// The Docker backend has no image for this target (TargetSpec.Image is
// empty): `--control docker --target redis` is refused unless given an
// image with redis-server installed (--control-opt image=REF).
//
// # Client
//
// With sentinels, a go-redis failover client (it asks the sentinels for
// the primary, subscribes to +switch-master and drops its connections to
// an old primary), as applications use Redis with Sentinel; otherwise a
// plain client of the primary. Keys are prefixed by workload (set:,
// counter:, queue:, lock:, register:). One request, one attempt:
// go-redis's retries are off. The wait option makes every write a
// pipeline of the command and WAIT wait 1000 (1 s, or half the request
// timeout if that is shorter; on the same connection, whose writes are
// what WAIT counts); a write acknowledged by fewer replicas is an
// error wrapping ErrNotReplicated: info, not ok, since it may or may not
// survive a failover.
//
// Errors are classified by Definite. The client counts the bytes it
// writes on connections to servers: a request during which none was
// written (connection refused, a dial timeout, a pooled connection found
// closed before use, no sentinel naming a primary) was never sent and is
// "fail" (ErrNotSent); after one, the next request waits (10 ms, doubling
// to 200 ms, so that a killed node does not fill the history with
// refusals) on a fresh go-redis client (go-redis's own breaker would fail
// requests for up to a second after the server is back). Error replies —
// READONLY, MASTERDOWN, LOADING and the rest — are "fail": Redis answers
// an error only for a command it did not run (the scripts here write only
// as their last step). A timeout or a connection lost after a request was
// written is "info": a paused server runs what was in its socket when it
// resumes.
//
// Operations: set: SADD, SMEMBERS. counter: INCRBY, GET. queue: RPUSH,
// LPOP, and a drain that is LRANGE and DEL in one Lua script (atomic, as
// MULTI would be, and one command that WAIT can follow). register: GET,
// SET, and CAS by a Lua script (GET, compare, SET). lock: SET name owner
// NX PX ttl (the lock-ttl option, default 10 s), tried again with a
// jittered backoff (5 ms doubling to 100 ms) while another owner holds
// it, until the operation's context ends (ErrNotAcquired, "fail");
// release is a Lua compare-and-delete (ErrNotHeld, "fail", when the owner
// no longer holds it: it expired or was lost in a failover). Redis locks
// have no fencing token: Acquire's token is always 0, so the lock
// workload's fenced writes do not apply. A client's Close releases the
// locks it may hold (best effort), as the lock workload expects of a
// client it closes to retire a process.
package redis

// Package nemesis is faultline's room for faults: network partitions,
// killed and paused processes, skewed clocks, and lost, delayed or
// rate-limited packets, plus the schedule that injects and recovers them
// during a test, and the journal and sweeps that make sure none is left
// behind.
//
// # Shape
//
// Every fault has the shape of cockroach roachprod's failure injection:
// Setup (prepare the hosts, e.g. faultline's iptables chains), Inject,
// Recover and Cleanup, with typed arguments (PartitionArgs, KillArgs, …).
// Inject is split in two: Plan turns the arguments and a seeded random
// source into a concrete Action (which nodes, which grudge, which pids), so
// that the action can be journaled before it is applied and recorded in the
// history as it was done. A Failer wraps a Fault and enforces the state
// machine ready → active → recovered: it journals an action before applying
// it and its recovery after, rolls back a half-applied action, recovers
// before cleaning up, and refuses a second injection while one is active.
//
// The registry (Names, All, Lookup) names every fault with a one-line doc
// for `faultline list`; adding a fault is one file and one registry line.
//
// # Never left behind
//
// A Schedule writes every action to a journal (JSON lines, fsync'd) before
// applying it, and its recovery after. HealAll recovers whatever is active
// on every exit path of the controller. If the controller itself dies
// (SIGKILL), HealJournal reads its journal and undoes what is still in
// effect from the residue each action journaled (iptables chains by
// namespace, SIGSTOPped and clock-skewed processes by pid and start time);
// HealLeftovers does that for every journal under a store and then sweeps
// every faultline namespace for faultline chains, stopped processes and
// skewed clocks, journal or not.
//
// # How faults are applied
//
// Partitions, packet loss and rate limits are iptables rules inside each
// node, in chains of faultline's own (FAULTLINE, jumped to from INPUT and
// OUTPUT, and one sub-chain per fault kind), run through
// control.Cluster.Exec so that they reach a node whatever the backend.
// Healing flushes faultline's chains; nothing else in the node's firewall is
// touched. Kill and pause go through the target (targets.DB), which knows
// its processes. Clock skew patches the vDSO of every process in a node
// (package nemesis/clock). Delay uses tc netem where the kernel has it, and
// otherwise an NFQUEUE delayer in this process that holds each packet for
// delay ± jitter before accepting it; its iptables rule uses
// --queue-bypass, so a dead delayer never blackholes traffic.
//
// # Dependencies
//
// github.com/florianl/go-nfqueue (netfilter queue over netlink, built on
// mdlayher/netlink, which opens the socket inside a node's namespace on a
// locked thread and restores the thread afterwards): the only way to delay
// packets on kernels without netem, and a maintained, dependency-light
// library. github.com/coreos/go-iptables was considered and not used: it
// runs iptables in the calling process's own namespace only, while faults
// must reach nodes through control.Cluster.Exec (namespaces, and later SSH
// and Docker nodes) with one code path.
package nemesis

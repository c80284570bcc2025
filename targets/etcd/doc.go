// Package etcd is the etcd target: real etcd members (v3.6, embedded from
// go.etcd.io/etcd/server/v3/embed into faultline's own binary, so nothing
// is installed on the nodes) and a register client over
// go.etcd.io/etcd/client/v3.
//
// A member is the process `<faultline> etcd-member <flags>` (MemberMain)
// started in its node through a control.Cluster; its data lives in
// <dir>/<node>/data and its log in <dir>/<node>/etcd.log.
//
// The client's operations classify their errors for the history: Definite
// reports that a failed request certainly took no effect (the history's
// "fail"); any other failure may have taken effect ("info"). An operation
// of several requests that fails before its first write says so with
// ErrNoWrite, which Definite counts.
//
// # Workloads
//
// Besides the register, the client serves Jepsen's workloads
// (workloads.go), each under its own prefix /faultline/<workload>/:
//   - set: each element is a key of its own under the set's prefix, so an
//     add is one put (no retries against other adds, no rewriting of a
//     growing value) and a read is one range read of the prefix, which
//     etcd serves at one revision. One key holding the whole set would
//     need a read and a compare-and-swap per add, retried under
//     contention.
//   - counter: a compare-and-swap loop on one key (a transaction that
//     writes the sum if the key's ModRevision is the one read, and returns
//     the key as it is now otherwise).
//   - bank: a key per account; a transfer reads both balances at one
//     revision, then writes both new balances in a transaction guarded by
//     both ModRevisions, retried on conflict; a read is one range read of
//     every account (atomic).
//   - queue: a key per value, ordered by CreateRevision; a dequeue deletes
//     the first key if it is still unchanged, else tries the next head; a
//     drain is one delete of the prefix that returns what it deleted.
//   - lock: go.etcd.io/etcd/client/v3/concurrency's Mutex under one
//     session per client, whose lease has the target's lock-ttl (default
//     2 s, as in Jepsen's etcd lock test; option lock-ttl). The fencing
//     token is the lock key's CreateRevision. The protected resource keeps
//     the largest token it accepted; a write with a smaller one fails with
//     lock.ErrFenced. Closing the client revokes the session's lease, so
//     what it held is free at once; a release whose delete fails abandons
//     the session and is never definite (the lock goes when its lease
//     runs out).
//   - unique-ids: a put to one key; its revision is the id.
//
// Reads (SetRead, CounterRead, BankRead) follow the target's read
// consistency; the reads inside a read-modify-write are always
// linearizable.
package etcd

// Package lock checks a distributed lock: mutual exclusion in real time,
// and fencing tokens.
//
// Ops:
//
//	{:f :acquire, :value owner} → token     (an integer fencing token, or nil)
//	{:f :release, :value owner}
//	{:f :write,   :value [token value]}     a write protected by the lock's token
//
// The invocations' values are not read (faultline's lock workload writes
// the owner there; Jepsen's nil): the owner is the process. A token of 0
// or below, like nil, means the lock gives none (faultline's lock client
// returns 0 then), and so does a write's. An acquire that returns
// something other than an integer or nil, or a
// write whose value is not a [token value] pair with an integer (or nil)
// token, is an error naming the op's line. Other :f and nemesis ops are
// ignored.
//
// # Holders
//
// A process holds the lock from its acquire's ok completion until it
// begins to release it. That is the certain hold, the only one that can
// make a violation:
//
//   - it begins at the acquire's completion (the acquire may have taken
//     effect any time after its invocation, but only at its completion is
//     it certain);
//   - it ends at the invocation of the process's next release of the lock,
//     whatever that release's outcome (once it began, the lock may be
//     free); or at the invocation of the op during which the process
//     crashed (an op that ended in info or never completed: a crashed
//     client's lock may be freed by its session's expiry, so the hold is
//     certain only up to its last act); or, if it did neither, at the end
//     of the history.
//
// An acquire that crashed (info, or never completed) may have taken the
// lock at any time from its invocation on, and the process, retired, never
// releases it: a possible holder, never counted in a violation, because
// nothing says it held the lock at any given time. A hold's possible end
// (PossiblyTo) is its release's completion when that completed ok, else
// the end of the history: it is reported, not judged.
//
// overlapping-holders: two processes' certain holds overlap: each acquired
// the lock (completion) before the other began to release it (invocation),
// in the history's order, which is real time. Each overlap names both
// holds: processes, nodes, tokens, the ops and the times (seconds since
// the start) that bound them. A lock with leases (etcd, ZooKeeper
// sessions) that expires a paused holder's lease shows exactly this: it
// is not a mutex in real time, which is what fencing tokens are for.
//
// # Fencing tokens
//
//   - duplicate-token: two ok acquires returned the same token (a token
//     must name one acquisition).
//   - stale-token-accepted: a write completed ok with a token lower than
//     that of a write that had completed ok before it was invoked: the
//     store accepted an older holder's write after a newer holder's. A
//     write concurrent with the newer one may have been ordered before it,
//     so only a newer write completed before the stale one began counts.
//     Writes without a token (nil) are not judged.
//
// Verdict: invalid if there is any overlap, stale token or duplicate
// token; unknown if no acquire succeeded and no write did (nothing was
// certainly held); else valid.
//
// Keys: ops that carry a key are one lock per key, checked on their own (a
// crash ends the process's holds of every lock); results merge invalid
// over unknown over valid, and FailedKeys and UnknownKeys name the keys
// that were not valid.
//
// Cost: O(n + k log k) for k holds: holds sorted by their beginning and a
// heap of the active ones by their end; overlaps are counted whole and
// listed up to 100.
//
// Jepsen has no lock checker of this kind: its lock tests check a mutex
// model for linearizability (the linearizable checker's mutex model here),
// which cannot say which holders overlapped, nor check tokens.
package lock

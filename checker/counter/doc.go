// Package counter is Jepsen's counter checker (jepsen.checker/counter): a
// counter that starts at zero, which clients increment and read.
//
// Ops, as Jepsen's counter workloads write them:
//
//	{:f :add,  :value n}              add n (n ≥ 0)
//	{:f :read, :value nil} → n        read the counter
//
// Every read that completed ok must return a value within its bounds:
//
//   - lower: the sum of the adds that completed ok before the read was
//     invoked (they certainly took effect before it began);
//   - upper: the sum of the adds invoked before the read completed whose
//     outcome is not fail: ok, info, or never completed (any of them may
//     have taken effect before it ended).
//
// A read below its lower bound lost acknowledged increments (or read a
// stale value): counter-too-low; above its upper bound, it counted
// increments that never happened or that failed: counter-too-high. Each
// such read is named with its bounds.
//
// Adds must be non-negative integers: Jepsen's counter asserts it, because
// the bounds above hold only for a counter that never decreases (with
// decrements, an acknowledged decrement would lower the upper bound and
// an unknown one the lower bound, which needs another checker). A
// negative add, an add of a non-integer or an ok read of a non-integer is
// an error naming the op's line. Failed adds, failed and crashed reads,
// ops with another :f and nemesis ops are ignored.
//
// Verdict: invalid if any read is out of bounds; unknown if no read
// completed ok (Jepsen calls that valid; faultline never reports valid
// what it could not see); else valid.
//
// Keys: ops that carry a key are one counter per key (Jepsen's
// independent counters), checked on their own; results merge invalid over
// unknown over valid, the counts add up, and FailedKeys and UnknownKeys
// name the keys that were not valid.
//
// Cost: one pass over the history, O(n).
package counter

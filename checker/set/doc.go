// Package set is Jepsen's set-full checker (jepsen.checker/set-full): a
// set that clients add unique elements to and read whole.
//
// Ops, as Jepsen's set workloads write them:
//
//	{:f :add,  :value x}               add the element x (x unique)
//	{:f :read, :value nil} → [x y …]   read the whole set (a list, or an EDN set)
//
// Elements are integers, strings, floats or booleans (3.0 and 3 are one
// element); a list or a map is compared by its text. A read whose value is
// not a list is an error naming the op's line; a read of nil is the empty
// set, as Jepsen reads it. Ops with any other :f are ignored, and so are
// nemesis ops, failed reads and reads whose outcome is unknown.
//
// # What happens to each element
//
// An element exists from its add's invocation (Jepsen's reduction creates
// it there): only reads that complete after that count for it. It is
// known to be in the set from the earlier of its add's ok completion and
// the completion of the first read that saw it. Then, with the last read
// (by invocation) that saw it and the last that did not:
//
//   - stable (ok): some read saw it and every read that began after that
//     one saw it too;
//   - lost: it was known, and a read that began after it was known and
//     after the last read that saw it did not see it (nor did any read
//     that began later);
//   - never read: neither, e.g. no read began after it was known, or it
//     was never known (a failed or crashed add no read saw);
//   - stale: stable, but some read that began after it was known missed it
//     (it took a while to show up everywhere);
//   - recovered: its add crashed (info, or never completed) and a read saw
//     it;
//   - duplicated: some read returned it more than once;
//   - unexpected: a read returned it and no add could have put it there:
//     no add of it was ever invoked, its add was invoked only after the
//     read completed, or its only add failed (a failed op did not take
//     effect).
//
// Latencies are Jepsen's: an element's stable latency is from when it was
// known to the invocation of the last read that missed it (0 if none
// did), its lost latency from when it was known to the invocation of the
// last read that saw it; reported by quantile (0, 0.5, 0.95, 0.99, 1) in
// milliseconds.
//
// # Verdict
//
// Invalid if any element is lost, duplicated or unexpected, or, with
// Options.Linearizable, stale. Otherwise unknown if no element is stable
// (nothing was added, the set was never read, or no read after an add saw
// it: as set-full, the check cannot tell a correct set from one that
// loses everything), else valid.
//
// # Keys
//
// Ops that carry a key (Op.Key: Jepsen's independent sets, once
// histories.SplitIndependent has moved the tuple's key there) are one set
// per key, each checked on its own, as jepsen.independent/checker does;
// the results merge invalid over unknown over valid (where Jepsen counts
// an unknown key as valid, faultline never does), the counts add up, the
// lists name [key element], and FailedKeys and UnknownKeys say which keys
// were not valid.
//
// # Where faultline departs from set-full
//
//   - Jepsen's set-full drops an element a read returns that was never
//     added; Jepsen's older set checker calls it unexpected and invalid,
//     and so does this one. A read that returns an element whose only add
//     failed, or whose add began only after the read completed, is
//     unexpected too.
//   - Duplicates are elements a single read returns more than once (what
//     set-full's :duplicated means; the comparison in its code never
//     matches, so it reports none).
//   - Stale is decided on the history's order, not on times rounded down
//     to milliseconds: an element is stale when a read invoked after the
//     op that made it known missed it. Set-full calls it stale when that
//     read began at least a millisecond after, which misses faster stale
//     reads; the latencies reported are the same.
//   - When an element is added twice (set-full wants unique elements and
//     starts it over), its first add places it and its best outcome (ok,
//     then info, then fail) counts.
//   - Recovered (from Jepsen's set checker) and unexpected are counted on
//     top of set-full's outcomes.
//
// # Cost
//
// O(n + r log r + s), with n the ops, r the reads and s the total size of
// the reads (which is the size of the history's values): the last read
// that missed each element is found by going through the reads from the
// last invoked, with the elements not yet resolved in a list in the order
// of their adds; a read walks only the elements it holds and the ones it
// resolves. Set-full's own reduction visits every element at every read.
package set

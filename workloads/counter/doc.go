// Package counter is Jepsen's counter workload: adds of small positive
// deltas to counters that start at 0, interleaved with reads, and a final
// read of every counter once the cluster has healed. The checker
// (checker/counter) bounds each read by the adds that certainly happened
// before it began and those that may have happened before it ended.
//
// Decisions:
//   - Counters are keys ("0", "1", …). ActiveKeys of them are in play at
//     once and a key retires after AddsPerKey adds, so that the bounds stay
//     tight (an add whose outcome is unknown widens every later read's
//     range) while a run covers many counters. Keys retire by adds
//     generated, so the sequence depends on the seed alone.
//   - Deltas are 1 to MaxDelta (default 5), so that an add of unknown
//     outcome is told apart from another's by its size. Half the ops are
//     reads, as in Jepsen's counter (a mix of reads and adds).
//   - Final (workloads.FinalGenerator): a read of every key the run used.
//   - A failed read is a fail whatever the error (it changes nothing). A
//     failed add is a fail when the client says it certainly did not
//     happen (Client.Definite), info otherwise.
package counter

// Package set is Jepsen's set workload (set-full): adds of unique integer
// elements to grow-only sets, interleaved with reads of a whole set, and a
// final read of every set once the cluster has healed. The checker
// (checker/set) finds elements that were acknowledged and then lost, that
// reads saw late (stale), more than once, or that were never added.
//
// Decisions:
//   - Elements are 0, 1, 2, … in generation order over the whole run, so
//     each is unique in the run, not only in its set: an element read
//     from the wrong set is visible as such.
//   - Sets are keys ("0", "1", …). ActiveKeys of them are in play at once
//     and a key retires after AddsPerKey adds, so that each read stays
//     small (a read returns the whole set) while a run covers many sets.
//     Keys retire by adds generated, not by outcomes, so the sequence
//     depends on the seed alone.
//   - One read per ReadEvery adds, on average (a read is drawn with
//     probability 1/(ReadEvery+1)), of a random key in play.
//   - Final (workloads.FinalGenerator): one read of every key the run
//     used, retired ones included: what the checker needs to call an
//     element lost rather than never read.
//   - A read's value is the set as a list ([]any of int64, sorted
//     whatever order the client returned it in), so that the history's
//     JSON holds a list. A failed read changes nothing: it is a fail
//     whatever the error. A failed add is a fail when the client says it
//     certainly did not happen (Client.Definite), info otherwise.
package set

// Package queue holds Jepsen's queue checkers: total-queue
// (jepsen.checker/total-queue, NewTotal), what goes in must come out, and
// the unordered queue (jepsen.checker/queue with knossos' unordered-queue
// model, NewUnordered), every dequeue must come from somewhere.
//
// Ops, as Jepsen's queue workloads write them:
//
//	{:f :enqueue, :value x}
//	{:f :dequeue, :value nil} → x       (nil: the queue was empty)
//	{:f :drain,   :value nil} → [x …]   (a final drain returning the rest)
//
// Elements are integers, strings, floats or booleans; a list or a map is
// compared by its text. An enqueue of nil, or an ok drain whose value is
// not a list, is an error naming the op's line. An ok dequeue of nil
// dequeued nothing (Jepsen's clients turn it into a fail); a failed
// dequeue or drain had no effect. Other :f and nemesis ops are ignored.
//
// # total-queue
//
// Counting each element with its multiplicity, as Jepsen's multisets do,
// with a drain standing for a dequeue of each element it returned:
//
//   - lost: acknowledged (enqueue ok) more often than dequeued;
//   - unexpected: dequeued, and no enqueue of it that did not fail was ever
//     invoked (never enqueued, or its only enqueues failed);
//   - duplicated: dequeued more often than enqueues of it were invoked
//     (and did not fail);
//   - recovered: dequeued, though its enqueue crashed (info, or never
//     completed);
//   - ok: dequeued, up to the number of its enqueues.
//
// The queue must be drained by the end of the history (a final :drain, or
// dequeues until empty), else what is still in it reads as lost — as in
// Jepsen.
//
// Verdict: invalid if any element is unexpected or certainly lost, or, with
// Options.ExactlyOnce, duplicated (Jepsen allows duplicates: an
// at-least-once queue delivers some twice). Lost is certain only beyond
// what crashed dequeues can explain: each dequeue whose outcome is unknown
// may have taken one element, and a crashed drain any number; so with 3
// lost elements and 1 crashed dequeue, 2 are certainly lost, and with 1
// lost and 1 crashed dequeue the result is unknown (Jepsen calls every
// such element lost, and throws on a crashed drain). Unknown too when no
// enqueue was acknowledged and nothing was dequeued. Else valid.
//
// Jepsen counts a failed enqueue as attempted, so that dequeuing its
// element is merely "recovered"; faultline reads fail as "did not take
// effect", so such an element is unexpected (attempt-count still counts
// every enqueue invoked, as Jepsen's).
//
// # queue (unordered)
//
// Replays the history in order: an enqueue (that did not fail) puts its
// element in at its invocation, an ok dequeue or drain takes its elements
// out at its completion; a dequeue of an element that is not in the queue
// then is impossible-dequeue (an element dequeued before any enqueue of it
// began, or more often than enqueued). Jepsen stops at the first; faultline
// names each. Unknown if nothing was dequeued. Jepsen's queue checker is
// usually given knossos' unordered-queue model; a FIFO queue checked for
// linearizability with knossos (Jepsen's other use of it) is not offered:
// that search is exponential, and the linearizable checker (package
// checker) is where such a model belongs.
//
// # Keys
//
// Ops that carry a key are one queue per key (Jepsen's independent
// queues), each checked on its own; results merge invalid over unknown
// over valid, counts add up, lists name [key element], and FailedKeys and
// UnknownKeys name the keys that were not valid.
//
// Cost: one pass and a hash map of elements, O(n) (total-queue sorts the
// elements it names).
package queue

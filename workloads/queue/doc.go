// Package queue is Jepsen's queue workload: enqueues of unique integers and
// dequeues, half each, on FIFO queues, and a final drain of every queue
// once the cluster has healed. The checker (checker/queue, after Jepsen's
// total-queue) finds values that were enqueued and never came out (lost),
// came out twice (duplicated) or were never enqueued (unexpected).
//
// Decisions:
//   - Values are 0, 1, 2, … in generation order over the whole run, so
//     each is unique in the run.
//   - Queues are keys ("0", "1", …): ActiveKeys of them take enqueues at
//     once, and a key stops taking them after EnqueuesPerKey; dequeues go
//     to the keys in play. A retired key keeps what it holds until the
//     final drain. Keys retire by enqueues generated, so the sequence
//     depends on the seed alone.
//   - A dequeue of an empty queue is a fail with error "empty": it
//     certainly removed nothing. A failed dequeue is a fail when the
//     client says it certainly did not happen (Client.Definite), and info
//     otherwise: it may have removed a value nobody saw.
//   - Final (workloads.FinalGenerator): a drain of every key the run
//     used, whose value is what it removed, in order ([]any of int64). A
//     drain that failed is info unless the client says it certainly
//     removed nothing.
package queue

// Package lock is a lock workload after Jepsen's etcd lock test: processes
// take a named lock, hold it, optionally write to the resource it protects
// with the lock's fencing token, and release it. The checker
// (checker/lock) finds two processes holding the lock at once and fenced
// writes accepted out of token order.
//
// Decisions:
//   - The owner is the process. A lock is held through a client (etcd: the
//     session whose lease keeps the lock key alive), and the controller
//     gives each process its own client, so an acquire, its write and its
//     release must come from the same process: the generator is a
//     workloads.ProcessGenerator, asked for each process's next operation
//     (Generator.Next alone cannot say who will run what it returns).
//     Invoke is told no process, so acquire and release carry the owner
//     as their value: the process's number as a string ("3"). An acquire's
//     ok value is then its fencing token (int64; 0 when the target has
//     none).
//   - Each process loops: acquire; wait Hold (default 100 ms), the time
//     the lock is held, between operations (not inside one, which would
//     widen the acquire's or the release's interval and hide overlaps);
//     a fenced write "write" with value [token, n] (n counts writes over
//     the run, so each is unique), when fencing is on (NoFencing unset),
//     the acquire gave a token > 0 and the client is Fenced; release.
//   - Outcomes: an acquire that fails certainly (Client.Definite) is a
//     fail and is simply tried again; one that times out or whose outcome
//     is otherwise unknown is info — it may hold the lock — and, as for
//     every info, the process is retired (its client closed, which frees
//     what it held) and a new one starts with an acquire: a release after
//     a failed or unknown acquire is never sent. A write refused by the
//     resource (ErrFenced) is a fail with error "fenced". A release that
//     certainly failed is tried again, at most MaxReleaseTries times in a
//     row, after which the process takes the lock as lost and acquires
//     again.
//   - When the run ends, a process that holds a lock releases it before its
//     client closes (workloads.ProcessGenerator's Finish), so that the
//     history never ends with a holder whose closed client let the lock
//     go while the next waiter took it: Jepsen's etcd lock client records
//     a release as it closes, for the same reason.
//   - Locks are keys "0" to Locks-1 (default 1: every process contends
//     for one lock, as in Jepsen's test); each acquire picks one.
package lock

// Package histories holds the operation history of a test: the Op and History
// types, the streaming JSONL recorder, and readers for faultline's JSONL and
// for Jepsen's formats (history.edn and jepsen.util log lines).
//
// Semantics follow Jepsen. An operation is invoked (type invoke) by a process
// and completed by the same process with ok (it took effect), fail (it
// certainly did not) or info (unknown: it may take effect at any time after its
// invocation, so it stays open until the end of the history). A process whose
// operation ends in info is retired; the worker continues under a new process
// id, so every process is a sequential thread of operations. Nemesis
// operations use the process "nemesis" and are not paired like client ops.
//
// Decisions the format leaves open, made here:
//   - An invoke with no completion by the end of the history is treated as
//     info: a controller that crashed mid-operation cannot know its outcome.
//   - A retired process (its op ended in info) that invokes again is an error
//     naming the line: it means the recorder of that history broke the
//     sequential-process rule and no checker could trust its real-time order.
//   - Values are normalised on read: JSON and EDN integers become int64,
//     keywords become strings without the colon, vectors and lists become
//     []any, maps become map[string]any. Keys become strings.
//   - `time` is nanoseconds on the controller's monotonic clock. Formats
//     without times (Jepsen log lines) get the line number as their time,
//     which preserves the real-time order the log shows.
//   - Any of the formats may be gzip-compressed: ReadFile knows it by its
//     magic bytes, not its name.
//   - Jepsen's independent histories carry the key inside the value, as a
//     [key value] tuple; LooksIndependent recognises them (every client op
//     a tuple, some reads or writes, so a plain cas-register history's
//     [old new] pairs are not mistaken for tuples) and SplitIndependent
//     moves the key into Op.Key. The caller decides (faultline check's
//     --independent); reading never splits by itself.
package histories

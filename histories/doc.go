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
//     which preserves the real-time order the log shows; EDN without times,
//     or with the same time on every op (Elle's tests write 0, Jepsen fills
//     in -1), gets the op's position.
//   - Any of the formats may be gzip-compressed: ReadFile knows it by its
//     magic bytes, not its name.
//   - Jepsen's independent histories carry the key inside the value, as a
//     [key value] tuple; LooksIndependent recognises them (every client op
//     a tuple, some reads or writes, so a plain cas-register history's
//     [old new] pairs are not mistaken for tuples) and SplitIndependent
//     moves the key into Op.Key. The caller decides (faultline check's
//     --independent); reading never splits by itself.
//
// # Semantics: faultline's and Knossos'
//
// Knossos (and so Jepsen) reads two things differently from faultline: in
// its register, cas-register and multi-register models a read whose value
// is nil is a read whose value is unknown, which matches any state; and a
// :fail op never happened (Knossos drops failed ops before checking).
// faultline's recorder knows what it saw, so its own reading is stricter: a
// read of nil means the register held nil, and a cas that failed without an
// error compared and saw another value (what a failed etcd Txn compare
// means). Each op carries the reading it was recorded for (Op.Semantics):
// the readers of Jepsen's formats (ReadEDN, ReadJepsenLog) mark their ops
// SemanticsKnossos; faultline's JSONL leaves it unset, which reads as
// SemanticsFaultline. History.Semantics says which a history has, and
// SetSemantics overrides it (faultline check --semantics). The checker
// reads the history's semantics unless told otherwise (see package checker).
//
// # Reading Jepsen, Elle and Knossos as their tools do
//
// Where the meaning is unambiguous, the Jepsen readers accept what Jepsen,
// Elle and Knossos write and read themselves (see ReadEDN and
// ReadJepsenLog): Knossos' older [process type f value] tuples; keyword or
// string keys in op maps; an op with no :f whose value is a list of
// micro-ops (a txn), and txns that Jepsen tags :read or :write for its
// plots; [:r k] for [:r k nil]; keys that are vectors, maps or keywords;
// sets and maps as values; :index with gaps; a jepsen.log whose first lines
// are jepsen.core's (after a logger's line, only jepsen.util lines are ops,
// so that the test's options printed over many lines are never read as
// ops).
//
// A history of completions only (Elle's tests write ok ops without their
// invocations, often without :process) is read as Elle reads it. Elle
// pairs nothing: its real-time graph links a completion to the invocations
// that follow it, so a completion whose invocation was never seen gets no
// real-time edge into it (its op may have begun any time before it
// completed), and its process graph orders each process's completions.
// The reader gives each completion a Synthetic invocation at the start of
// the history, with its completion's line and its reads' values nil (as
// Jepsen writes invocations), and renumbers the ops: the same edges follow
// from the pairs, and Pairs lets a process hold several synthetic
// invocations open, which its completions take in order. Ops with no
// :process each get a process of their own. Only a history with no client
// invocation at all is read so: a completion without an invocation in a
// history that has invocations is an error, as in Jepsen (its pair index
// refuses it). A history with synthetic invocations does not read back if
// written as JSONL.
package histories

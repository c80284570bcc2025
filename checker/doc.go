// Package checker holds pure functions from a history to a verdict:
// linearizability on porcupine models (register, cas-register,
// multi-register, mutex, kv), a stats checker, and the composition of
// results as in Jepsen (invalid beats unknown beats valid).
//
// A checker never reports valid when it does not know: a timeout, an
// operation it cannot interpret or a gap in the history makes it unknown.
//
// # Linearizability
//
// Linearizable checks a history with porcupine
// (github.com/anishathalye/porcupine): a fast, maintained Go linearizability
// checker (Wing & Gong's search with Lowe's memoisation) that also draws the
// HTML visualization of a failing history. faultline builds porcupine's operations directly from the
// history (no per-op allocation: inputs point at decoded ops, register states
// point at values in them) and checks each key on its own, in parallel. A
// worker decodes the next key into the buffers of the last one it found
// linearizable, so that a history of many keys makes no garbage the size of
// the history. In a history of several keys, a key is searched without
// porcupine's partial linearizations (which cost at every step back and
// explain only a violation), and a key found not linearizable is searched
// again with them; a history of one key is searched with them at once.
// The tests compare every verdict with plain porcupine's (straightforward
// models, porcupine's own partitioning) on the corpora and on generated
// histories.
//
// Every model state carries a hash (a value's is computed once when the
// history is decoded, an appended string's on the append, a
// multi-register's is updated on each write), and state equality compares
// hashes first, so it costs O(1) when states differ. kv and multi-register
// give porcupine that hash (Model.Hash): concurrent appends and txns reach
// many states for one set of linearized ops, which porcupine's cache must
// tell apart (without it, the kv corpus's 50-client history takes 14 times
// longer). The register models and mutex do not: their states for one set
// are few, and with Model.Hash porcupine keeps a cache bucket (one
// allocation) per (set, state) rather than per set, which measured 30% more
// CPU on the etcd corpus for nothing.
//
// What an operation means, by how it completed:
//
//   - ok: it took effect, once, between its invocation and its completion.
//     A read's value is the completion's; a write's or cas's input is the
//     invocation's value.
//   - info, or never completed: it may have taken effect at any time after
//     its invocation, or never. It is called at its invocation and never
//     returns (porcupine's return time is math.MaxInt64), with an unknown
//     output. A read or get whose outcome is unknown tells nothing and is
//     dropped.
//   - fail: it did not take effect, and is dropped; except, under
//     faultline's semantics (below), a cas that failed with no error
//     (Op.Error == ""): that is a compare that did not match, which observed
//     a value other than the expected one (what a failed etcd Txn compare
//     means). A failed cas with an error is dropped.
//   - nemesis ops are not client ops and are ignored.
//
// # Semantics: faultline's or Knossos'
//
// Knossos, which Jepsen checks linearizability with, reads a history
// differently in two ways, and the register, cas-register and
// multi-register models follow either (LinearizableOptions.Semantics; by
// default the history's own, see histories.History.Semantics):
//
//   - Knossos' (histories.SemanticsKnossos), the default for Jepsen/Knossos
//     input (history.edn, jepsen.util logs): a read whose value is nil is a
//     read whose value is unknown, which matches any state, so it is
//     dropped (in a multi-register txn, that micro-op is); and a :fail op
//     never happened, so every failed op is dropped, a cas too.
//   - faultline's (histories.SemanticsFaultline), the default for
//     faultline's own JSONL: a read of nil means the register held nil,
//     and a cas that failed without an error observed another value.
//
// Knossos' reading drops constraints, so a history valid under faultline's
// is valid under Knossos'. The summary says "Knossos semantics" when a model
// whose reading differs used it; kv and mutex read both alike (a kv get of
// nil is "", and failed ops are dropped under both). The Jepsen etcd corpus
// (testdata/corpora/porcupine-jepsen-etcd: reads of nil in 92 of its 102
// histories, failed cas without an error in all) keeps every verdict of
// its EXPECTED.txt under both semantics, as does the kv corpus; both are
// tested per file.
//
// Real time is the history's order: an op is called at its invocation's
// index and returns at its completion's (indexes increase along the history,
// which the recorder writes in the order things happened), so two ops are
// concurrent exactly when each was invoked before the other completed. Time
// stamps are not used: formats without them (Jepsen logs) check the same.
//
// Keys: ops carry their key in Op.Key; each key is an independent object
// checked on its own (porcupine's partitioning, P-compositionality), with the
// model's initial value. Ops with no key are one object.
//
// The models (see Models):
//
//   - register: read and write. Values are nil, integers or strings; a
//     register holds nil until written, unless LinearizableOptions.Initial
//     says otherwise. A read returns the value held.
//   - cas-register: register plus cas [old new], which sets new if the
//     register holds old and fails otherwise (see fail above). A history of
//     only reads and writes gives the same verdict under both.
//   - multi-register: Knossos' multi-register. f txn whose value is a list
//     of micro-ops [read k v] / [write k v] run atomically, in order (a read
//     sees the txn's own earlier writes). Registers start nil (or from an
//     initial map, as Knossos writes it: {:x 0 :y 0}). Reads of an info txn
//     are unknown; a read of nil in an ok txn is unknown under Knossos'
//     semantics, and means the register was nil under faultline's.
//   - mutex: acquire and release; acquire needs the lock free, release needs
//     it held (a mutex does not know owners). A failed acquire or release did
//     nothing.
//   - kv: get, put and append on strings per key; a key never written reads
//     as "". A get's nil is "".
//
// An info op may take effect where the model allows it and is a no-op where
// it cannot (an info acquire of a held lock, an info cas whose compare fails):
// "it never happened" is the same as taking effect after everything else,
// which is always allowed because it never returns.
//
// A violation is reported per key with porcupine's partial linearizations:
// the longest prefix of the key's ops that linearizes, the state it leaves,
// and the ops that could be linearized next in real time but that the model
// refuses from that state. The Linearization keeps what porcupine needs to
// draw each failing key.
//
// Keys are searched in turns by a pool of GOMAXPROCS workers (porcupine's
// own partitioning runs every partition at once, which would hold every
// key's search state in memory at the same time): a key whose search is
// still running after a second goes to the back of the queue with eight
// times the time, so that exponential keys cannot keep a violation elsewhere
// waiting. Once a key is found not linearizable, the verdict is invalid and
// the other keys get LinearizableOptions.ViolationGrace (2 s by default) to
// be decided too; the ones that are not are counted in the details.
//
// With a timeout, keys not decided in time make the result unknown (never
// valid); a key found not linearizable makes it invalid regardless.
package checker

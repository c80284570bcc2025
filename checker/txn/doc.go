// Package txn is faultline's transactional checker: Elle's method
// (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from
// Experimental Observations", VLDB 2020), on Adya's definitions (Adya,
// "Weak Consistency", 1999), as a pure library: a history in, a
// checker.Result with an explanation out.
//
//	res, err := txn.Check(h, txn.Options{Workload: "append", ConsistencyModel: "serializable"})
//
// Transactions are ops with f "txn" whose value is Elle's micro-ops:
// ["append", k, v] and ["r", k, list] for list-append, ["w", k, v] and
// ["r", k, v] for rw-register. Keys are strings or integers (7 and "7" are
// one key); values are unique per key. ok means committed, fail aborted
// (its writes must never be seen), info unknown. An invocation carries no
// read results; an ok completion carries them.
//
// # What it finds
//
// From the history it infers a dependency graph over the transactions that
// may have committed (ok, and info ones, which only gain edges where their
// writes were observed): ww, wr and rw edges from the data, process order,
// and real-time order. Cycles are classified as Adya's G0, G1c, G-single,
// G2-item and Elle's G-nonadjacent, each with -process and -realtime
// variants when process or real-time edges are needed to close them. Beside
// cycles it finds G1a (aborted read), G1b (intermediate read), internal
// (a transaction contradicting its own earlier reads and writes),
// future-read, lost-update, and for list-append dirty-update,
// duplicate-elements and incompatible-order, and for rw-register
// cyclic-versions.
//
// Each anomaly type rules out consistency models by Elle's lattice
// (models.go): Result.Not is the weakest models ruled out, AlsoNot the
// stronger ones. The verdict is invalid when an anomaly found is one the
// chosen model (default strict-serializable) prohibits; anomalies it
// allows are still listed. It is unknown, never valid, when the check
// could not finish (Options.Timeout, cancellation, a cycle search that
// gave up) or when no dependency could be inferred at all. Details
// (*Details) explains up to Options.MaxCases cases of each type, counting
// all: the transactions (history index, process, micro-ops), a
// step-by-step account, and a cycle's steps as data (from, to, edge type,
// key, values) for a report to draw.
//
// # Inference
//
// List-append (append.go): each read reveals a prefix of its key's version
// order, so the longest read is the order as far as anyone saw; a read
// that is not a prefix of it is incompatible-order, a read with an element
// twice duplicate-elements. The writer of the element before an append
// precedes the appender (ww), the writer of a read's last element precedes
// the reader (wr), and a reader of the state just before an append
// precedes the appender (rw). An append nobody read comes after every
// element anyone read.
//
// Rw-register (register.go): the order of versions is only partly
// knowable, so it uses only what it can justify, as Elle does: the initial
// nil precedes every value, and a committed transaction that read x = v1
// (its first access to x) and then wrote x = v2 installed v2 after v1
// (writes follow reads). Only a transaction's first read and last write of
// a key (its external ones) enter the order. Version edges whose orders are
// cyclic are cyclic-versions, and that key falls back to the initial-state
// edges.
//
// Process order links each transaction to the next of its process. Real
// time is Elle's transitive reduction: a transaction is linked from the
// completions not yet covered by a later completion, so edges stay near
// n × concurrency, not n² (graph.go).
//
// # Cycle search
//
// Strongly connected components by Tarjan's algorithm, iteratively, so a
// million transactions in one chain cannot overflow the stack (scc.go).
// Within each component, for each class in Elle's order of severity
// (skipping classes implied by one already found there), a breadth-first
// search finds a shortest cycle through an anchor edge of the kind the
// class needs, over (transaction, state) pairs whose few state bits track
// the class's constraints: the rw count and adjacency, a wr edge, a
// process or real-time edge (cycles.go). For one-rw classes the rest of
// the cycle lies in the rw-free subgraph, whose topological order prunes
// both anchors and search. Only simple cycles are reported, each classified
// again from its edges; when the search meets only closed walks that
// repeat a transaction it falls back to an exhaustive search of simple
// paths. A randomized test checks the search against brute-force
// enumeration of cycles. Each class's search in a component has a work
// budget, so a giant component cannot stall the check; if it runs out, or
// the timeout fires, the component is classified coarsely by Elle's
// "cycle exists" fallbacks (e.g. PL-3-cycle-exists) and the verdict is
// unknown unless already invalid.
//
// # Decisions
//
//   - Process and real-time edges are always built, whatever the model, so
//     every anomaly is listed. Elle builds only the real-time graph for
//     strict models, so it calls a cycle closed by a process's own order
//     G-single-realtime where this checker says G-single-process.
//   - Model names follow Elle's lattice; PL-SS is called
//     strict-serializable (Elle now says strong-serializable, accepted as an
//     alias), PL-3 serializable. Elle's snapshot-isolation cycle-exists
//     fallbacks, which need a graph extension, are not computed.
//   - Reads of info and failed transactions are ignored: their results are
//     unknown. An info write that someone read did commit, so it gets wr
//     edges in both workloads (Elle's rw-register takes wr edges from ok
//     writes only).
//   - future-read is also checked for rw-register (Elle only for
//     list-append); a register read of a value nobody wrote gives no edge
//     and is not reported, as in Elle.
//   - G1a, G1b and duplicate-elements are counted per read micro-op,
//     incompatible-order once per key, cycles once per component and
//     class, lost-update once per (key, state read).
//   - Non-unique writes, micro-ops that are not the workload's, and a
//     completion that differs from its invocation make the history
//     uninterpretable: an error naming the line, not a verdict.
//
// # Performance
//
// Keys and values are interned to integers (integer values are their own
// codes; a history with other values is read again with every value
// interned), and everything after parsing is flat slices: transactions,
// micro-ops, elements, per-key orders. Each key's elements are found by a
// short in-place scan that turns into a map only for long keys, since a
// history-wide hash table costs a cache miss per lookup. The graph is
// built in compressed sparse row form straight from per-transaction
// in-edge producers, then transposed, with no edge list. BenchmarkAppend1M
// checks a million list-append transactions (about 4 micro-ops each, 100
// processes, strict-serializable by construction, from AppendHistory in
// gen.go); see its comment for measured numbers.
//
// No graph library is used: the search needs Tarjan and a breadth-first
// search over (transaction, state) pairs on flat arrays, both small, and
// the general-purpose Go graph libraries (e.g. gonum/graph) keep nodes and
// edges in maps, which at fifteen million edges costs more memory and time
// than the whole check.
package txn

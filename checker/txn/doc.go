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
// writes were observed): ww, wr and rw edges from the data, and, when a
// class searched for needs them, process order and real-time order.
// Every dependency it infers is on an item (a key), never on a predicate,
// so cycles are classified, as Elle names them, G0, G1c, G-single-item,
// G-nonadjacent-item and G2-item, each with -process and -realtime
// variants when process or real-time edges are needed to close them
// (G-single-item-realtime, G2-item-process, …); Elle's G-single,
// G-nonadjacent and G2 proper need predicate anti-dependencies and are
// never reported. Beside cycles it finds G1a (aborted read), G1b
// (intermediate read), internal (a transaction contradicting its own
// earlier reads and writes), future-read, lost-update, and for list-append
// dirty-update, duplicate-elements and incompatible-order, and for
// rw-register with WFRKeys cyclic-versions.
//
// # What it looks for: the model and Options.Anomalies
//
// As Elle's :consistency-models and :anomalies options, the model
// (Options.ConsistencyModel, default strict-serializable) and
// Options.Anomalies decide what is searched for: the anomalies the model
// prohibits (those it and every model it implies proscribe, and every
// anomaly that implies one of those: Elle's anomalies-prohibited-by) and
// those asked for with every anomaly that implies them (Elle's
// all-anomalies-implying: asking for G2 asks for G2-item, G-single-item,
// G-nonadjacent-item, lost-update …). Only these are looked for and
// reported; Details.AnomaliesSearched lists them, and the summary says
// them. Process edges are built only if a -process or -realtime class is
// searched for, real-time edges only if a -realtime class is (so a claim of
// snapshot isolation or serializability gets neither, and a cycle only
// real time closes is not there to find). Options.Anomalies takes any
// anomaly of Elle's lattice or that this checker reports; other names are
// refused, listing the known ones (Anomalies). An anomaly asked for, like
// one the model prohibits, makes the verdict invalid when found.
//
// The verdict, as Elle's result-map: invalid when an anomaly searched for
// is found; else unknown when the check could not decide, which it
// reports as one of Elle's two unknown anomaly types, always reported
// whatever the model:
//
//   - empty-transaction-graph: the graph (with the order edges the scope
//     asked for) has no edge at all, e.g. no transaction committed, or no
//     transaction read what another wrote;
//   - cycle-search-timeout: the cycle search of a strongly connected
//     component did not finish (Options.Timeout, cancellation, or its work
//     budget, faultline's counterpart of Elle's per-component search
//     timeout); its case names the classes not searched and those the
//     component was found not to contain.
//
// else valid. Each anomaly type reported rules out consistency models by
// Elle's lattice (models.go): Result.Not is the weakest models ruled out,
// AlsoNot the stronger ones. Details (*Details) explains up to
// Options.MaxCases cases of each type, counting all: the transactions
// (history index, process, micro-ops), a step-by-step account, and a
// cycle's steps as data (from, to, edge type, key, values) for a report to
// draw.
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
// knowable, so it uses only what it can justify, with Elle's defaults: the
// initial nil precedes every value; and only with Options.WFRKeys (Elle's
// :wfr-keys?, off by default) writes follow reads: a committed transaction
// that read x = v1 (its first access to x) and then wrote x = v2 installed
// v2 after v1. Without WFRKeys the only rw edges are from readers of nil,
// so write skew over values already written is not seen. Only a
// transaction's first access to a key, if a read, and its last write of a
// key (its external ones, as jepsen.txn's ext-reads and ext-writes) enter
// the order: a read after the transaction's own write of the key, or a
// read of another transaction's intermediate value (G1b), yields no
// dependency edge. If the writes-follow-reads orders are cyclic, that is
// cyclic-versions, and, as Elle drops a version source that makes the
// version graph cyclic, no writes-follow-reads edge is used at all.
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
// Within each component, for each class searched for in Elle's order (its
// anomaly depth: G0, G1c, G-single-item, G-nonadjacent-item, G2-item, then
// the -process and then the -realtime variants), skipping classes implied
// by one already found there (so a G-single-item makes that component's
// G2-item redundant, as in Elle), a breadth-first search finds a shortest
// cycle through an anchor edge of the kind the class needs, over
// (transaction, state) pairs whose few state bits track the class's
// constraints: the rw count and adjacency, a wr edge, a process or
// real-time edge (cycles.go). For one-rw classes the rest of the cycle
// lies in the rw-free subgraph, whose topological order prunes both
// anchors and search. Only simple cycles are reported, each classified
// again from its edges; when the search meets only closed walks that
// repeat a transaction it falls back to an exhaustive search of simple
// paths. A randomized test checks the search against brute-force
// enumeration of cycles. Each class's search in a component has a work
// budget, so a giant component cannot stall the check; if it runs out, or
// the timeout fires, that is cycle-search-timeout, and the component is
// also classified coarsely by Elle's "cycle exists" fallbacks (e.g.
// PL-3-cycle-exists), reported when the model prohibits them.
//
// # Decisions
//
// Where Elle is silent, or where this checker departs from it:
//
//   - Where real-time edges are built, process edges are too, so a cycle
//     closed by a process's own order is G-single-item-process where Elle
//     (which then builds the real-time graph alone) says
//     G-single-item-realtime.
//   - Model names follow Elle's lattice; PL-SS is called
//     strict-serializable (Elle now says strong-serializable, accepted as an
//     alias), PL-3 serializable. There is always a model (Elle allows
//     none, with :anomalies alone): a single-object model such as
//     linearizable prohibits no transactional anomaly, so with it only
//     Options.Anomalies are searched for. Elle's snapshot-isolation
//     cycle-exists fallbacks, which need a graph extension, are not
//     computed.
//   - Not and AlsoNot come from the anomalies reported. Elle's boundary
//     also counts anomalies it found but does not report (e.g. a G1b when
//     only G0 was asked for) and is left out when nothing is reported;
//     here nothing outside the scope is kept, so every model ruled out is
//     explained by an anomaly listed.
//   - Anomalies outside the scope are not reported even when they are
//     cheap to find (G1a, internal …): Elle computes them and drops them
//     from its result.
//   - empty-transaction-graph means no edge; Elle tests its graph for no
//     vertex, and its graphs have vertices only where edges are.
//   - Reads of info and failed transactions are ignored: their results are
//     unknown. An info write that someone read did commit, so it gets wr
//     edges in both workloads, and in rw-register ww and rw edges too
//     (Elle's rw-register indexes ok transactions only).
//   - future-read is also checked for rw-register (Elle only for
//     list-append); a register read of a value nobody wrote gives no edge
//     and is not reported, as in Elle.
//   - G1a, G1b and duplicate-elements are counted per read micro-op,
//     incompatible-order once per key, cycles once per component and
//     class, lost-update once per (key, state read), cycle-search-timeout
//     once per component.
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
// in-edge producers, then transposed, with no edge list.
//
// The check uses every core where the result cannot depend on it: the
// micro-ops are decoded a batch ahead of the parser (which interns keys
// and values in history order, so runs on one), the graph's targets are
// split into ranges whose in-edges are gathered concurrently and
// transposed into places fixed by per-range counts (a large graph
// counts first and calls its producers again rather than keep a copy of
// its edges), and the list-append anomalies that are not cycles are
// found while the graph is built. What only parsing needs (the key maps,
// the elements by value of keys without incompatible reads) is dropped
// once parsed, and a history of millions of transactions is garbage
// collected before and after parsing, so that the graph does not land on
// top of the garbage. BenchmarkAppend1M
// checks a million list-append transactions (about 4 micro-ops each, 100
// processes, strict-serializable by construction, from AppendHistory in
// gen.go); see its comment for measured numbers.
//
// Reading a history file is most of the work: histories.ReadFile makes
// every micro-op a []any of boxed values, which parsing then interns.
// ReadFile (ingest.go) reads faultline's JSONL straight into a compact
// form instead: line-aligned pieces of the file, scanned in parallel by a
// scanner of faultline's own op lines, each transaction's micro-ops
// encoded in a few bytes (keys numbered, integers as varints), and a
// history whose transactions carry no value (Value nil), for the other
// checkers of a suite; CheckIngested checks the two, reading the
// micro-ops from the encoding (values.go: the parser reads micro-ops the
// same way from either). The encoding is dropped piece by piece behind
// the parser (a piece holds a run of lines, and the transactions are
// parsed in the order of their invocations, so the parser never goes back
// to a piece before the one its current invocation is in), and what is
// left once parsed; it would otherwise be the largest thing the check
// holds besides the history. What a report shows of a transaction is rebuilt from the parsed
// form: an element's value, a register read's, an append read's prefix of
// its key's order, and, kept aside while parsing, what that cannot give
// (an incompatible read, a value read by a transaction that did not
// commit, null, a key written as an integer); TestRebuiltValues compares
// every rebuilt transaction with the file. The parser's element array is
// sized by the writes the reader counted, so that it is never grown (a
// copy) while parsing. A line it is not sure of is decoded by histories
// and kept whole; a bad line sends the whole file to histories.ReadFile,
// for its error. `faultline check` uses it for append and rw-register
// JSONL histories (suite.Options.Txn). BenchmarkAppend1MFromFile and its
// variants (file_bench_unix_test.go) measure it in a fresh process.
//
// During a run the history is parsed as it is recorded (Stream, stream.go)
// and, for list-append, its dependency graph built too (online.go): the
// same pairs of transactions as the graph built at the end, kept with a
// count of reasons per edge (the edges of an append nobody has read yet
// move as its key's order grows), with cycles found as edges come by a
// dynamic topological order (Pearce and Kelly) whose components are the
// cycles' transactions. A run's check then searches only those components,
// or, for a history with another anomaly, does all its work as offline.
// Cycles found are explained only if they are among the cases shown
// (reporter.addAt), offline too.
//
// No graph library is used: the search needs Tarjan and a breadth-first
// search over (transaction, state) pairs on flat arrays, both small, and
// the general-purpose Go graph libraries (e.g. gonum/graph) keep nodes and
// edges in maps, which at fifteen million edges costs more memory and time
// than the whole check; the online graph's topological order is Pearce
// and Kelly's algorithm over per-transaction edge lists, which no maintained Go
// library offers.
package txn

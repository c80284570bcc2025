// Package reports turns a checked history into what people and CI read:
// report.html (one self-contained page: the verdict, the consistency models
// held and ruled out, each anomaly explained with its operations and a
// diagram of its cycle, porcupine's visualization of non-linearizable keys,
// latency, throughput and timeline plots with the nemesis windows shaded,
// availability during each fault and the time to recover after it, links to
// the nodes' logs), junit.xml (one testcase per checker), a short text
// summary, and the read-only web UI of `faultline serve` over a store.
//
// Every section is drawn from what results.json and the history hold today
// and is left out, with a word saying why, when its data is absent (no
// nemesis ops: no shaded windows; no transactional details: no model table).
//
// Plots and cycle diagrams are SVG written here, not by a charting or graph
// layout library: the page must work offline as one file, a JS chart library
// would have to be inlined whole (hundreds of KB) for a few plots, and
// graphviz is an external binary the one-binary rule excludes. The drawings
// needed are few and simple (scatter, lines, bars, a cycle on a circle).
//
// Large histories stay readable and small: beyond a budget of points per
// plot the points are downsampled deterministically (every k-th op, with
// failed and indeterminate ops kept first) and the page says so.
package reports

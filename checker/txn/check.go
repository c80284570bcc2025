package txn

import (
	"context"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// Options say what history this is and what it is checked against.
type Options struct {
	// Workload is "append" (list-append) or "rw-register". Empty: inferred
	// from the micro-ops (append if any micro-op is an append).
	Workload string
	// ConsistencyModel is the model the system claims; the verdict is
	// invalid only if an anomaly rules it out, and only the anomalies it
	// prohibits (and Anomalies) are searched for, as Elle's
	// :consistency-models. Default strict-serializable. See Models.
	ConsistencyModel string
	// Timeout bounds the whole check; 0 means none. A check that runs out
	// of time is unknown unless it has already proved the history invalid.
	Timeout time.Duration
	// MaxCases is how many cases of each anomaly type are explained
	// (all are counted). Default 10.
	MaxCases int
	// Anomalies are anomalies to look for besides those ConsistencyModel
	// prohibits, as Elle's :anomalies option: each with every anomaly
	// that implies it (G2 brings G2-item, G-single-item, lost-update …),
	// and any found makes the verdict invalid. The check searches for and
	// reports only the anomalies of the model and of this list (see
	// Details.AnomaliesSearched). See Anomalies for the names.
	Anomalies []string
	// WFRKeys assumes, for rw-register, that writes follow reads within a
	// transaction (Elle's :wfr-keys?, off by default): a committed
	// transaction that read x = v1 and then wrote x = v2 installed v2 after
	// v1. Without it the only version order known is that the initial nil
	// precedes every value.
	WFRKeys bool
	// Also are anomalies searched for and reported besides those of the
	// model and Anomalies, without bearing on the verdict: faultline's
	// own addition to Elle's options, so that a run against a system that
	// claims snapshot isolation still says whether it was serializable
	// ("valid for snapshot-isolation; G2-item found, so not
	// serializable"). Expanded as Anomalies are.
	Also []string
	_    struct{}
}

// DefaultModel is the consistency model checked when none is given.
const DefaultModel = "strict-serializable"

// Check checks a transactional history. See CheckContext.
func Check(h histories.History, opts Options) (checker.Result, error) {
	return CheckContext(context.Background(), h, opts)
}

// CheckContext checks a transactional history (f "txn", Elle micro-ops) for
// the anomalies of its workload and classifies them against the consistency
// models. It returns an error only for a history it cannot interpret (or an
// unknown model, anomaly or workload); cancellation or the timeout make the
// result unknown (cycle-search-timeout), never valid.
func CheckContext(ctx context.Context, h histories.History, opts Options) (checker.Result, error) {
	return check(ctx, h, opts, nil)
}

// check is CheckContext of h with the values vals (nil: h's own).
func check(ctx context.Context, h histories.History, opts Options, vals opValues) (checker.Result, error) {
	return checkFrom(ctx, h, opts, vals, nil)
}

// checkParsed is CheckContext of h parsed as p (see Stream).
func checkParsed(ctx context.Context, h histories.History, opts Options, p *parsed) (checker.Result, error) {
	return checkFrom(ctx, h, opts, nil, p)
}

// checkFrom is check, or checkParsed when pre is not nil.
func checkFrom(ctx context.Context, h histories.History, opts Options, vals opValues, pre *parsed) (checker.Result, error) {
	c, err := newCheck(h, opts)
	if err != nil {
		return checker.Result{}, err
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	p := pre
	if p == nil {
		collectIfLarge(len(h) / 2)
		var err error
		if p, err = parse(h, c.workload, vals); err != nil {
			return checker.Result{}, err
		}
	}
	collectIfLarge(len(p.txns))
	rep, d := c.start(p)
	for i := range p.txns {
		switch p.txns[i].st {
		case stOK:
			d.Txns.OK++
		case stInfo:
			d.Txns.Info++
		case stFail:
			d.Txns.Fail++
		}
	}
	workload, searchScope := c.workload, c.searchScope

	var data inEdges
	var ex edgeExplainer
	// anomaliesDone is closed when the anomalies that are not cycles have
	// all been reported; for list-append that is done while the graph is
	// built (it reads what the graph does not write, and only it touches
	// rep and p.codes until then).
	anomaliesDone := make(chan struct{})
	switch workload {
	case "append":
		ix := buildAppendIndex(p)
		go func() {
			defer close(anomaliesDone)
			appendAnomalies(p, ix, rep)
		}()
		data = appendEdges(p, ix)
		ex = appendExplainer{p}
	case "rw-register":
		ix := buildRegIndex(p)
		vs := regVersions(p, ix, rep, opts.WFRKeys)
		regAnomalies(p, ix, rep)
		data = edgeList(regEdges(p, ix, vs, nil))
		wfr := make(map[[2]int32]bool)
		for _, v := range vs {
			if v.from >= 0 {
				wfr[[2]int32{v.from, v.to}] = true
			}
		}
		ex = regExplainer{p, ix, wfr}
		close(anomaliesDone)
	}
	// Process and real-time edges only when a class in scope needs them,
	// as Elle's additional-graphs: a claim of snapshot isolation needs
	// neither. Where real time is needed, process order is built too, so
	// that a cycle a process's own order closes is called -process (Elle
	// builds the real-time graph alone and calls it -realtime).
	proc, rt := d.ProcessEdges, d.RealtimeEdges
	producers := []inEdges{data}
	if proc || rt {
		producers = append(producers, orderEdges(p, rt))
	}
	g := buildGraph(len(p.txns), producers...)
	<-anomaliesDone
	d.Edges = len(g.to)

	if d.Edges == 0 {
		// Elle's empty-transaction-graph: nothing to order, so nothing
		// can be said about cycles.
		why := "no dependencies between transactions could be inferred"
		if d.Txns.OK == 0 {
			why = "no transaction committed, so no dependency between transactions could be inferred"
		}
		d.Unknown = append(d.Unknown, why+" (empty-transaction-graph)")
		rep.add("empty-transaction-graph", func(b *caseBuilder) {
			b.say("The dependency graph has no edges: %s (%d ok, %d info, %d failed transactions), so no cycle could be looked for.", why, d.Txns.OK, d.Txns.Info, d.Txns.Fail)
			b.done()
		})
	}
	// Even out of time, the search still says (coarsely) which cycles
	// each component must contain.
	searchCycles(ctx, p, g, rep, ex, d, searchScope)
	return result(rep, d, c.model, c.inScope), nil
}

// aCheck is what a check is of: the options, resolved.
type aCheck struct {
	opts     Options
	model    string
	workload string
	maxCases int
	// inScope decides the verdict; searchScope, with Also, what is
	// looked for and reported.
	inScope, searchScope map[string]bool
	// proc, rt: the graph has process order, and real time.
	proc, rt bool
}

// newCheck resolves and validates the options of a check of h.
func newCheck(h histories.History, opts Options) (*aCheck, error) {
	c := &aCheck{opts: opts, model: opts.ConsistencyModel, workload: opts.Workload, maxCases: opts.MaxCases}
	if c.model == "" {
		c.model = DefaultModel
	}
	if _, err := checkModel(c.model); err != nil {
		return nil, err
	}
	if err := ValidateAnomalies(opts.Anomalies); err != nil {
		return nil, err
	}
	if err := ValidateAnomalies(opts.Also); err != nil {
		return nil, err
	}
	if c.workload == "" {
		c.workload = inferWorkload(h)
	}
	if c.workload != "append" && c.workload != "rw-register" {
		return nil, fmt.Errorf("unknown transactional workload %q (known: append, rw-register)", c.workload)
	}
	if c.maxCases <= 0 {
		c.maxCases = 10
	}
	// What to look for: Elle's prohibited-anomaly-types. The reporter
	// drops anything else, and the unknown conditions are always kept.
	c.inScope = scope(c.model, opts.Anomalies)
	c.searchScope = scope(c.model, append(slices.Clone(opts.Anomalies), opts.Also...))
	// Process and real-time edges only when a class in scope needs them,
	// as Elle's additional-graphs: a claim of snapshot isolation needs
	// neither. Where real time is needed, process order is built too, so
	// that a cycle a process's own order closes is called -process (Elle
	// builds the real-time graph alone and calls it -realtime).
	for i := range cycleSpecs {
		if c.searchScope[cycleSpecs[i].name] {
			c.proc = c.proc || cycleSpecs[i].variant != 0
			c.rt = c.rt || cycleSpecs[i].variant == relRT
		}
	}
	return c, nil
}

// start is the reporter and the details of the check of p, before
// anything is found (the transactions not counted yet).
func (c *aCheck) start(p *parsed) (*reporter, *Details) {
	var searched []string
	for _, a := range reportableAnomalies(c.workload, c.opts.WFRKeys) {
		if c.searchScope[a] && !strings.HasSuffix(a, "-cycle-exists") && !slices.Contains(unknownAnomalies, a) {
			searched = append(searched, a)
		}
	}
	if searched == nil {
		searched = []string{}
	}
	rep := newReporter(p, c.maxCases)
	rep.scope = maps.Clone(c.searchScope)
	for _, a := range unknownAnomalies {
		rep.scope[a] = true
	}
	d := &Details{Workload: c.workload, ConsistencyModel: friendlyModel(canonicalModel(c.model)), Keys: len(p.keys),
		AnomaliesSearched: searched, WFRKeys: c.opts.WFRKeys, ProcessEdges: c.proc, RealtimeEdges: c.rt}
	if len(c.opts.Anomalies) > 0 {
		d.AnomaliesAsked = slices.Clone(c.opts.Anomalies)
	}
	return rep, d
}

// cycleScope is the cycle classes a search looks for, in order, and for
// each the classes a cycle of it makes redundant (the anomalies it
// implies).
type cycleScope struct {
	specs     []int
	implied   [][]int
	redundant []bool
}

func newCycleScope(inScope map[string]bool) *cycleScope {
	sc := &cycleScope{implied: make([][]int, len(cycleSpecs)), redundant: make([]bool, len(cycleSpecs))}
	for i := range cycleSpecs {
		if !inScope[cycleSpecs[i].name] {
			continue
		}
		sc.specs = append(sc.specs, i)
		out := closure(models.anomaliesOut, []string{cycleSpecs[i].name})
		for j := range cycleSpecs {
			if out[cycleSpecs[j].name] {
				sc.implied[i] = append(sc.implied[i], j)
			}
		}
	}
	return sc
}

// compSearch is the search of one strongly connected component: its
// transactions, the cycles found (by class), the classes it did not
// finish (timeout: for lack of time, else of budget) and those it
// finished without finding, and what must be there if it did not finish.
type compSearch struct {
	nodes              []int32
	found              []foundCycle
	unfinished, absent []string
	timeout            bool
	exists             []string
}

type foundCycle struct {
	spec int
	cyc  []step
	pos  int64 // cyclePos
}

// search searches component comp of s's graph (whose nodes are
// transactions global[…], if global is not nil).
func (sc *cycleScope) search(p *parsed, s *searcher, comp []int32, global []int32) *compSearch {
	r := &compSearch{nodes: comp}
	if global != nil {
		r.nodes = make([]int32, len(comp))
		for i, x := range comp {
			r.nodes[i] = global[x]
		}
	}
	s.enter(comp)
	defer s.leave()
	clear(sc.redundant)
	var err error
	if s.ctx.Err() != nil {
		err = errTimeout
	}
	for _, i := range sc.specs {
		spec := &cycleSpecs[i]
		if sc.redundant[i] {
			continue
		}
		if err != nil {
			r.unfinished = append(r.unfinished, spec.name)
			continue
		}
		var cyc []step
		cyc, err = s.find(spec)
		if err == errBudget {
			r.unfinished, err = append(r.unfinished, spec.name), nil
			continue
		}
		if err != nil {
			r.unfinished = append(r.unfinished, spec.name)
			continue
		}
		if cyc == nil {
			r.absent = append(r.absent, spec.name)
			continue
		}
		for _, j := range sc.implied[i] {
			sc.redundant[j] = true
		}
		if global != nil {
			for i := range cyc {
				cyc[i].from, cyc[i].to = global[cyc[i].from], global[cyc[i].to]
			}
		}
		f := foundCycle{spec: i, cyc: cyc}
		if p != nil {
			f.pos = cyclePos(p, cyc)
		}
		r.found = append(r.found, f)
	}
	if len(r.unfinished) > 0 {
		r.timeout = err != nil
		r.exists = s.cycleExists()
	}
	return r
}

// report reports what the search of a component found.
func (r *compSearch) report(p *parsed, rep *reporter, ex edgeExplainer) {
	for _, f := range r.found {
		name, cyc := cycleSpecs[f.spec].name, f.cyc
		if lazyCycles {
			rep.addAt(name, f.pos, func(b *caseBuilder) { explainCycle(b, cyc, name, ex) })
		} else {
			rep.add(name, func(b *caseBuilder) { explainCycle(b, cyc, name, ex) })
		}
	}
	if len(r.unfinished) == 0 {
		return
	}
	// Elle's cycle-search-timeout: the search of this component did not
	// finish, so what it did not find may still be there.
	n := len(r.nodes)
	rep.add("cycle-search-timeout", func(b *caseBuilder) {
		why := "ran out of its work budget (the component is too large to search exhaustively)"
		if r.timeout {
			why = "ran out of time (Options.Timeout or cancellation)"
		}
		b.say("The search of a strongly connected component of %d transactions for cycles %s before it could finish looking for %s.", n, why, strings.Join(r.unfinished, ", "))
		if len(r.absent) > 0 {
			b.say("It had found that the component contains no %s.", strings.Join(r.absent, ", "))
		}
		b.say("Cycles of the classes not searched may be there (cycle-search-timeout).")
		b.done()
	})
	// Say what must be there even though we could not find it.
	for _, t := range r.exists {
		model := strings.TrimSuffix(t, "-cycle-exists")
		rep.add(t, func(b *caseBuilder) {
			b.say("The search of a strongly connected component of %d transactions for cycles of each class did not finish; that component has a cycle among the edges %s forbids (%s).", n, friendlyModel(model), t)
			b.done()
		})
	}
}

// lazyCycles: cycles are explained only if they are among the cases
// shown (reporter.addAt); off in a test, to show it changes nothing.
var lazyCycles = true

// cyclePos is casePos of the explanation of cycle cyc: the earliest of
// its transactions' invocations and completions, as explainCycle names
// exactly the transactions of the cycle.
func cyclePos(p *parsed, cyc []step) int64 {
	// A transaction's invocation comes before its completion, and the
	// indexes increase along the history.
	inv := int32(math.MaxInt32)
	for _, st := range cyc {
		inv = min(inv, p.txns[st.from].inv)
	}
	return p.h[inv].Index
}

// collectIfLarge collects the garbage now if the history has n ≥
// graphTwoPassMin transactions: before parsing (what reading it left) and
// after (what parsing dropped), so that what follows is built in its place
// rather than on top of it, the heap otherwise growing to twice what was
// live at the last collection. A small history is not worth the pause.
func collectIfLarge(n int) {
	if n >= graphTwoPassMin {
		runtime.GC()
	}
}

// searchCycles finds the strongly connected components of the graph and
// searches each for cycle anomalies.
func searchCycles(ctx context.Context, p *parsed, g *graph, rep *reporter, ex edgeExplainer, d *Details, inScope map[string]bool) {
	searchComponents(ctx, p, g, sccsOf(g), rep, ex, d, inScope, nil)
}

// sccsOf are the strongly connected components of g of two or more
// nodes, each's nodes in order.
func sccsOf(g *graph) [][]int32 {
	nodes := make([]int32, g.n)
	for i := range nodes {
		nodes[i] = int32(i)
	}
	var top sccFinder
	nc := top.run(g, nodes, nodes, 0xff)
	return top.groups(nodes, nc)
}

// searchComponents searches each of the strongly connected components
// of g for cycle anomalies. If global is not nil, g's nodes are
// transactions global[0], global[1], … (a graph of some of them). done
// are components searched before (see onlineGraph), reported among the
// others in their place.
func searchComponents(ctx context.Context, p *parsed, g *graph, comps [][]int32, rep *reporter, ex edgeExplainer, d *Details, inScope map[string]bool, global []int32, done ...*compSearch) {
	type work struct {
		first int32 // its first transaction
		comp  []int32
		done  *compSearch
	}
	all := make([]work, 0, len(comps)+len(done))
	for _, c := range comps {
		first := c[0]
		if global != nil {
			first = global[first]
		}
		all = append(all, work{first: first, comp: c})
	}
	for _, r := range done {
		all = append(all, work{first: r.nodes[0], done: r})
	}
	d.SCCs = len(all)
	size := func(w work) int {
		if w.done != nil {
			return len(w.done.nodes)
		}
		return len(w.comp)
	}
	// Smallest components first: their cycles are the easiest to read,
	// and the search of a huge one is the likeliest to time out; among
	// those of a size, by their first transaction.
	slices.SortFunc(all, func(a, b work) int { // components are apart: first differs
		if size(a) != size(b) {
			return size(a) - size(b)
		}
		return int(a.first - b.first)
	})
	for _, w := range all {
		d.LargestSCC = max(d.LargestSCC, size(w))
	}
	sc := newCycleScope(inScope)
	s := newSearcher(ctx, g)
	timedOut, gaveUp := 0, 0
	for _, w := range all {
		r := w.done
		if r == nil {
			r = sc.search(p, s, w.comp, global)
		}
		if len(r.unfinished) > 0 {
			if r.timeout {
				timedOut++
			} else {
				gaveUp++
			}
		}
		r.report(p, rep, ex)
	}
	if timedOut > 0 {
		d.Unknown = append(d.Unknown, fmt.Sprintf("the cycle search timed out in %d of %d strongly connected components (cycle-search-timeout); cycles there were classified only coarsely", timedOut, len(comps)))
	}
	if gaveUp > 0 {
		d.Unknown = append(d.Unknown, fmt.Sprintf("the cycle search gave up on some classes in %d of %d strongly connected components, too large to search exhaustively (cycle-search-timeout); cycles there were classified only coarsely", gaveUp, len(comps)))
	}
}

// result is the verdict, as Elle's result-map: invalid if an anomaly found
// is in scope (the model prohibits it, or it was asked for), else unknown
// if an unknown condition was found (empty-transaction-graph,
// cycle-search-timeout), else valid.
func result(rep *reporter, d *Details, model string, inScope map[string]bool) checker.Result {
	types := rep.typeNames()
	// A "cycle exists" fallback adds nothing when other anomalies already
	// rule its model out.
	var others []string
	for _, t := range types {
		if !strings.HasSuffix(t, "-cycle-exists") {
			others = append(others, t)
		}
	}
	ruled := impossibleModels(others)
	var keep []string
	for _, t := range types {
		if m, ok := strings.CutSuffix(t, "-cycle-exists"); ok && ruled[canonicalModel(m)] {
			delete(rep.types, t)
			continue
		}
		keep = append(keep, t)
	}
	types = keep
	d.Anomalies = rep.list()

	res := checker.Result{AnomalyTypes: types, Details: d}
	// Elle's boundary counts every anomaly it found, reported or not (and
	// says nothing when nothing is reported); here every anomaly found is
	// in scope or an unknown condition, so the models ruled out are those
	// the reported anomalies rule out.
	res.Not, res.AlsoNot = boundary(types)
	var bad []string
	for _, t := range types {
		if inScope[t] {
			bad = append(bad, t)
		}
	}
	switch {
	case len(bad) > 0:
		res.Valid = checker.Invalid
	case len(d.Unknown) > 0:
		res.Valid = checker.Unknown
	default:
		res.Valid = checker.Valid
	}
	res.Summary = summary(res, d, bad, rep)
	return res
}

func summary(res checker.Result, d *Details, bad []string, rep *reporter) string {
	var sb strings.Builder
	name := map[string]string{"append": "list-append", "rw-register": "rw-register"}[d.Workload]
	fmt.Fprintf(&sb, "%s: %s (%d ok, %d info, %d fail) over %s", name,
		plural(d.Txns.OK+d.Txns.Info+d.Txns.Fail, "transaction", "transactions"), d.Txns.OK, d.Txns.Info, d.Txns.Fail, plural(d.Keys, "key", "keys"))
	if len(res.AnomalyTypes) == 0 {
		sb.WriteString("; no anomalies")
	} else {
		var parts []string
		for _, t := range res.AnomalyTypes {
			parts = append(parts, fmt.Sprintf("%s ×%d", t, rep.types[t].a.Count))
		}
		fmt.Fprintf(&sb, "; found %s", strings.Join(parts, ", "))
		if len(res.Not) > 0 {
			fmt.Fprintf(&sb, ", ruling out %s", strings.Join(res.Not, ", "))
			if len(res.AlsoNot) > 0 {
				sb.WriteString(" and stronger models")
			}
		}
	}
	switch res.Valid {
	case checker.Invalid:
		fmt.Fprintf(&sb, ".\nInvalid under %s: it prohibits %s.", d.claim(), strings.Join(bad, ", "))
	case checker.Unknown:
		fmt.Fprintf(&sb, ".\nUnknown under %s: %s.", d.claim(), strings.Join(d.Unknown, "; "))
	default:
		fmt.Fprintf(&sb, ".\nConsistent with %s.", d.claim())
	}
	searched := "nothing: the model prohibits no anomaly this checker can find"
	if len(d.AnomaliesSearched) > 0 {
		searched = strings.Join(d.AnomaliesSearched, ", ")
	}
	fmt.Fprintf(&sb, "\nSearched for %s", searched)
	if d.WFRKeys {
		sb.WriteString(" (assuming writes follow reads within a transaction)")
	}
	sb.WriteString(".")
	return sb.String()
}

// claim is the model checked against, with the anomalies asked for.
func (d *Details) claim() string {
	if len(d.AnomaliesAsked) == 0 {
		return d.ConsistencyModel
	}
	return fmt.Sprintf("%s with %s", d.ConsistencyModel, strings.Join(d.AnomaliesAsked, ", "))
}

// inferWorkload: append if any micro-op appends, rw-register if any
// writes, else append.
func inferWorkload(h histories.History) string {
	for i := range h {
		if h[i].Process == histories.Nemesis {
			continue
		}
		if w := inferValue(h[i].Value); w != "" {
			return w
		}
	}
	return "append"
}

package txn

import (
	"context"
	"fmt"
	"sort"
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
	// invalid only if an anomaly rules it out. Default strict-serializable.
	// See Models.
	ConsistencyModel string
	// Timeout bounds the whole check; 0 means none. A check that runs out
	// of time is unknown unless it has already proved the history invalid.
	Timeout time.Duration
	// MaxCases is how many cases of each anomaly type are explained
	// (all are counted). Default 10.
	MaxCases int
	_        struct{}
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
// unknown model or workload); cancellation or the timeout make the result
// unknown, never valid.
func CheckContext(ctx context.Context, h histories.History, opts Options) (checker.Result, error) {
	model := opts.ConsistencyModel
	if model == "" {
		model = DefaultModel
	}
	if _, err := checkModel(model); err != nil {
		return checker.Result{}, err
	}
	workload := opts.Workload
	if workload == "" {
		workload = inferWorkload(h)
	}
	if workload != "append" && workload != "rw-register" {
		return checker.Result{}, fmt.Errorf("unknown transactional workload %q (known: append, rw-register)", workload)
	}
	maxCases := opts.MaxCases
	if maxCases <= 0 {
		maxCases = 10
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}

	p, err := parse(h, workload)
	if err != nil {
		return checker.Result{}, err
	}
	rep := newReporter(p, maxCases)
	d := &Details{Workload: workload, ConsistencyModel: friendlyModel(canonicalModel(model)), Keys: len(p.keys)}
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

	var data inEdges
	var ex edgeExplainer
	switch workload {
	case "append":
		ix := buildAppendIndex(p)
		appendAnomalies(p, ix, rep)
		data = appendEdges(p, ix)
		ex = appendExplainer{p, ix}
	case "rw-register":
		ix := buildRegIndex(p)
		vs := regVersions(p, ix, rep)
		regAnomalies(p, ix, rep)
		data = edgeList(regEdges(p, ix, vs, nil))
		wfr := make(map[[2]int32]bool)
		for _, v := range vs {
			if v.from >= 0 {
				wfr[[2]int32{v.from, v.to}] = true
			}
		}
		ex = regExplainer{p, ix, wfr}
	}
	g := buildGraph(len(p.txns), data, orderEdges(p))
	d.Edges = len(g.to)

	if d.Txns.OK == 0 {
		d.Unknown = append(d.Unknown, "no transaction committed, so there is nothing to check")
	} else if d.Edges == 0 {
		d.Unknown = append(d.Unknown, "no dependencies between transactions could be inferred (empty transaction graph)")
	}
	// Even out of time, the search still says (coarsely) which cycles
	// each component must contain.
	searchCycles(ctx, p, g, rep, ex, d)
	return result(rep, d, model), nil
}

// searchCycles finds the strongly connected components of the graph and
// searches each for cycle anomalies.
func searchCycles(ctx context.Context, p *parsed, g *graph, rep *reporter, ex edgeExplainer, d *Details) {
	nodes := make([]int32, g.n)
	for i := range nodes {
		nodes[i] = int32(i)
	}
	var top sccFinder
	nc := top.run(g, nodes, nodes, 0xff)
	comps := top.groups(nodes, nc)
	top = sccFinder{}
	nodes = nil
	d.SCCs = len(comps)
	// Smallest components first: their cycles are the easiest to read,
	// and the search of a huge one is the likeliest to time out.
	sort.SliceStable(comps, func(i, j int) bool { return len(comps[i]) < len(comps[j]) })
	for _, c := range comps {
		d.LargestSCC = max(d.LargestSCC, len(c))
	}
	s := newSearcher(ctx, g)
	timedOut, gaveUp := 0, 0
	for _, comp := range comps {
		s.enter(comp)
		redundant := map[string]bool{}
		incomplete := false
		var err error
		if ctx.Err() != nil {
			err = errTimeout
		}
		for i := 0; err == nil && i < len(cycleSpecs); i++ {
			spec := &cycleSpecs[i]
			if redundant[spec.name] {
				continue
			}
			var cyc []step
			cyc, err = s.find(spec)
			if err == errBudget {
				incomplete, err = true, nil
			}
			if cyc != nil {
				for a := range closure(models.anomaliesOut, []string{spec.name}) {
					redundant[a] = true
				}
				rep.add(spec.name, func(b *caseBuilder) { explainCycle(b, cyc, spec.name, ex) })
			}
		}
		switch {
		case err != nil:
			timedOut++
		case incomplete:
			gaveUp++
		}
		if err != nil || incomplete {
			// Say what must be there even though we could not find it.
			for _, t := range s.cycleExists() {
				model := strings.TrimSuffix(t, "-cycle-exists")
				rep.add(t, func(b *caseBuilder) {
					b.say("The search of a strongly connected component of %d transactions for cycles of each class did not finish; that component has a cycle among the edges %s forbids (%s).", len(comp), friendlyModel(model), t)
					b.done()
				})
			}
		}
		s.leave()
	}
	if timedOut > 0 {
		d.Unknown = append(d.Unknown, fmt.Sprintf("the cycle search timed out in %d of %d strongly connected components (cycle-search-timeout); cycles there were classified only coarsely", timedOut, len(comps)))
	}
	if gaveUp > 0 {
		d.Unknown = append(d.Unknown, fmt.Sprintf("the cycle search gave up on some classes in %d of %d strongly connected components, too large to search exhaustively; cycles there were classified only coarsely", gaveUp, len(comps)))
	}
}

// result is the verdict: invalid if an anomaly found is prohibited by the
// model, else unknown if the check could not finish, else valid.
func result(rep *reporter, d *Details, model string) checker.Result {
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
	res.Not, res.AlsoNot = boundary(types)
	prohibited := prohibitedAnomalies(model)
	var bad []string
	for _, t := range types {
		if prohibited[t] {
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
		fmt.Fprintf(&sb, "; found %s, ruling out %s", strings.Join(parts, ", "), strings.Join(res.Not, ", "))
		if len(res.AlsoNot) > 0 {
			sb.WriteString(" and stronger models")
		}
	}
	switch res.Valid {
	case checker.Invalid:
		fmt.Fprintf(&sb, ".\nInvalid under %s: it prohibits %s.", d.ConsistencyModel, strings.Join(bad, ", "))
	case checker.Unknown:
		fmt.Fprintf(&sb, ".\nUnknown under %s: %s.", d.ConsistencyModel, strings.Join(d.Unknown, "; "))
	default:
		fmt.Fprintf(&sb, ".\nConsistent with %s.", d.ConsistencyModel)
	}
	return sb.String()
}

// inferWorkload: append if any micro-op appends, rw-register if any
// writes, else append.
func inferWorkload(h histories.History) string {
	for i := range h {
		v, ok := h[i].Value.([]any)
		if !ok || h[i].Process == histories.Nemesis {
			continue
		}
		for _, m := range v {
			if mop, ok := m.([]any); ok && len(mop) > 0 {
				switch mop[0] {
				case "append":
					return "append"
				case "w":
					return "rw-register"
				}
			}
		}
	}
	return "append"
}

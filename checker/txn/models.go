package txn

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// This file is the consistency-model lattice. It follows Elle's
// elle.consistency-model (Kingsbury & Alvaro; sources: Adya's thesis, Adya,
// Liskov & O'Neil, Bailis et al.'s "Highly Available Transactions", Cerone,
// Bernardi & Gotsman, Daudjee & Salem, Fekete et al.) as data: which models
// imply which, which anomalies imply which, and which anomalies each model
// directly proscribes. Everything else (what a model prohibits, which models
// a set of anomalies rules out) is computed from these three graphs, as Elle
// does, so the verdicts agree with Elle's.
//
// The data is that of jepsen-io/elle's src/elle/consistency_model.clj as of
// commit dda36d8 (where parallel snapshot isolation implies update-atomic,
// which proscribes lost-update; an earlier revision called that model
// ROLA), compared line by line; TestLatticeTable checks the result against
// a table written by hand from it.

// impliedAnomalies: a → b means a history with anomaly a also has b.
var impliedAnomalies = map[string][]string{
	"G0":          {"G1c", "G0-process"},
	"G0-process":  {"G1c-process", "G0-realtime"},
	"G0-realtime": {"G1c-realtime"},

	"G1a":          {"G1"},
	"G1b":          {"G1"},
	"G1c":          {"G1", "G1c-process"},
	"G1c-process":  {"G1c-realtime", "G1-process"},
	"G1c-realtime": {"G1-realtime"},
	"G1":           {"G1-process"},
	"G1-process":   {"G1-realtime"},

	"G-single-item":          {"G-single", "G-single-item-process", "G-nonadjacent-item"},
	"G-single-item-process":  {"G-single-process", "G-single-item-realtime", "G-nonadjacent-item-process"},
	"G-single-item-realtime": {"G-single-realtime", "G-nonadjacent-item-realtime"},

	"G-single":          {"G-nonadjacent", "GSIb", "G-single-process"},
	"G-single-process":  {"G-nonadjacent-process", "G-single-realtime"},
	"G-single-realtime": {"G-nonadjacent-realtime"},

	"G-nonadjacent-item":          {"G-nonadjacent", "G2-item", "G-nonadjacent-item-process"},
	"G-nonadjacent-item-process":  {"G-nonadjacent-process", "G2-item-process", "G-nonadjacent-item-realtime"},
	"G-nonadjacent-item-realtime": {"G2-item-realtime", "G-nonadjacent-realtime"},

	"G-nonadjacent":          {"G2", "G-nonadjacent-process"},
	"G-nonadjacent-process":  {"G2-process", "G-nonadjacent-realtime"},
	"G-nonadjacent-realtime": {"G2-realtime"},

	"G2":               {"G2-process"},
	"G2-item":          {"G2", "G2-item-process"},
	"G2-item-process":  {"G2-process", "G2-item-realtime"},
	"G2-item-realtime": {"G2-realtime"},
	"G2-process":       {"G2-realtime"},

	"GSIa": {"GSI"},
	"GSIb": {"GSI"},

	// Two committed reads that cannot come from one order imply a dirty read.
	"incompatible-order": {"G1a"},
	// Reading one's own later write is a trivial wr cycle T → T.
	"future-read": {"G1c"},
	// A committed write on top of an aborted one: a dirty read's cousin.
	"dirty-update": {"G1a"},
	// Lost update is write skew on one key, hence G2-item.
	"lost-update": {"write-skew", "G2-item"},
	"write-skew":  {"G2"},
}

// canonicalModelNames maps friendly names to the canonical (mostly Adya's)
// names the lattice uses.
var canonicalModelNames = map[string]string{
	"consistent-view":                 "PL-2+",
	"conflict-serializable":           "PL-3",
	"cursor-stability":                "PL-CS",
	"forward-consistent-view":         "PL-FCV",
	"monotonic-snapshot-read":         "PL-MSR",
	"monotonic-view":                  "PL-2L",
	"read-committed":                  "PL-2",
	"read-uncommitted":                "PL-1",
	"repeatable-read":                 "PL-2.99",
	"serializable":                    "PL-3",
	"snapshot-isolation":              "PL-SI",
	"strict-serializable":             "PL-SS",
	"strong-serializable":             "PL-SS",
	"update-serializable":             "PL-3U",
	"strong-session-read-uncommitted": "strong-session-PL-1",
	"strong-session-read-committed":   "strong-session-PL-2",
	"strong-read-uncommitted":         "strong-PL-1",
	"strong-read-committed":           "strong-PL-2",
}

// friendlyModelNames is the inverse, choosing one name where several map to
// the same model: serializable for PL-3 (as Elle) and strict-serializable
// for PL-SS (faultline's default model; recent Elle says
// strong-serializable).
var friendlyModelNames = func() map[string]string {
	m := make(map[string]string, len(canonicalModelNames))
	for f, c := range canonicalModelNames {
		m[c] = f
	}
	m["PL-3"] = "serializable"
	m["PL-SS"] = "strict-serializable"
	return m
}()

// modelGraphSrc: a → b means a history satisfying a satisfies b. Names are
// canonicalised when the graph is built.
var modelGraphSrc = map[string][]string{
	"causal-cerone":               {"read-atomic"},
	"consistent-view":             {"cursor-stability", "monotonic-view"},
	"conflict-serializable":       {"view-serializable"},
	"cursor-stability":            {"read-committed", "PL-2"},
	"forward-consistent-view":     {"consistent-view"},
	"PL-2":                        {"PL-1"},
	"PL-3":                        {"repeatable-read", "update-serializable"},
	"update-serializable":         {"forward-consistent-view"},
	"monotonic-atomic-view":       {"read-committed"},
	"monotonic-view":              {"PL-2"},
	"monotonic-snapshot-read":     {"PL-2"},
	"parallel-snapshot-isolation": {"causal-cerone", "update-atomic"},
	"prefix":                      {"causal-cerone"},
	"read-atomic":                 {"monotonic-atomic-view"},
	"read-committed":              {"read-uncommitted"},
	"repeatable-read":             {"cursor-stability", "monotonic-atomic-view"},
	"update-atomic":               {"read-atomic"},
	"serializable":                {"repeatable-read", "snapshot-isolation", "view-serializable"},
	"session-serializable":        {"1SR"},
	"snapshot-isolation":          {"forward-consistent-view", "monotonic-atomic-view", "monotonic-snapshot-read", "parallel-snapshot-isolation", "prefix"},
	"strict-serializable":         {"PL-3", "serializable", "linearizable", "snapshot-isolation", "strong-snapshot-isolation", "strong-session-serializable"},

	"strong-session-PL-1": {"PL-1"},
	"strong-session-PL-2": {"PL-2", "strong-session-PL-1"},
	"strong-PL-1":         {"strong-session-PL-1"},
	"strong-PL-2":         {"strong-session-PL-2", "strong-PL-1"},

	"strong-session-serializable":       {"serializable", "strong-session-snapshot-isolation"},
	"strong-session-snapshot-isolation": {"snapshot-isolation", "strong-session-PL-2"},
	"strong-serializable":               {"session-serializable"},
	"strong-snapshot-isolation":         {"strong-session-snapshot-isolation", "strong-PL-2"},

	// Single-object models.
	"linearizable": {"sequential"},
	"sequential":   {"causal"},
	"causal":       {"writes-follow-reads", "PRAM"},
	"PRAM":         {"monotonic-reads", "monotonic-writes", "read-your-writes"},
}

// directProscribedSrc: the anomalies each model forbids beyond the models
// it implies.
var directProscribedSrc = map[string][]string{
	"causal-cerone":               {"internal", "G1a"},
	"cursor-stability":            {"G1", "G-cursor", "lost-update"},
	"monotonic-view":              {"G1", "G-monotonic"},
	"monotonic-snapshot-read":     {"G1", "G-MSR"},
	"consistent-view":             {"G1", "G-single"},
	"forward-consistent-view":     {"G1", "G-SIb"},
	"parallel-snapshot-isolation": {"internal", "G1a"},
	"PL-3":                        {"G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"},
	"PL-2":                        {"G1", "PL-2-cycle-exists"},
	"PL-1":                        {"G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"},
	"prefix":                      {"internal", "G1a"},
	"serializable":                {"internal"},
	"snapshot-isolation":          {"internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"},
	"read-atomic":                 {"internal", "G1a", "future-read"},
	"repeatable-read":             {"G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"},
	"update-atomic":               {"lost-update"},
	"strict-serializable":         {"G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"},
	"strong-session-PL-1":         {"strong-session-PL-1-cycle-exists", "G0-process"},
	"strong-session-PL-2":         {"strong-session-PL-2-cycle-exists", "G1c-process"},
	"strong-PL-1":                 {"strong-PL-1-cycle-exists", "G0-realtime"},
	"strong-PL-2":                 {"strong-PL-2-cycle-exists", "G1c-realtime"},
	"strong-session-snapshot-isolation": {"internal", "G1-process", "G-nonadjacent-process",
		"strong-session-snapshot-isolation-cycle-exists"},
	"strong-snapshot-isolation": {"internal", "G1-realtime", "G-nonadjacent-realtime",
		"strong-snapshot-isolation-cycle-exists"},
	"strong-session-serializable": {"G1-process", "G2-process", "strong-session-serializable-cycle-exists"},
	"update-serializable":         {"G1", "G-update"},
}

// lattice is the three graphs with canonical model names, in both
// directions.
type lattice struct {
	modelsOut, modelsIn       map[string][]string
	anomaliesOut, anomaliesIn map[string][]string
	proscribes, proscribedBy  map[string][]string
	all                       map[string]bool // every known model name, friendly or canonical
}

var models = buildLattice()

func canonicalModel(m string) string {
	if c, ok := canonicalModelNames[m]; ok {
		return c
	}
	return m
}

func friendlyModel(m string) string {
	if f, ok := friendlyModelNames[m]; ok {
		return f
	}
	return m
}

func buildLattice() *lattice {
	l := &lattice{
		modelsOut: map[string][]string{}, modelsIn: map[string][]string{},
		anomaliesOut: map[string][]string{}, anomaliesIn: map[string][]string{},
		proscribes: map[string][]string{}, proscribedBy: map[string][]string{},
		all: map[string]bool{},
	}
	link := func(out, in map[string][]string, a, b string) {
		out[a] = append(out[a], b)
		in[b] = append(in[b], a)
	}
	for a, bs := range modelGraphSrc {
		ca := canonicalModel(a)
		l.all[ca] = true
		for _, b := range bs {
			cb := canonicalModel(b)
			l.all[cb] = true
			if ca != cb {
				link(l.modelsOut, l.modelsIn, ca, cb)
			}
		}
	}
	for f, c := range canonicalModelNames {
		l.all[f], l.all[c] = true, true
	}
	for a, bs := range impliedAnomalies {
		for _, b := range bs {
			link(l.anomaliesOut, l.anomaliesIn, a, b)
		}
	}
	for m, as := range directProscribedSrc {
		cm := canonicalModel(m)
		for _, a := range as {
			link(l.proscribes, l.proscribedBy, cm, a)
		}
	}
	return l
}

// unknownAnomalies are Elle's unknown-anomaly-types: found, they make the
// verdict unknown (unless something proves it invalid), and they are
// always reported, whatever the model.
var unknownAnomalies = []string{"empty-transaction-graph", "cycle-search-timeout"}

// nonCycleAnomalies are the anomalies found without a cycle search, by
// workload. cyclic-versions needs a version order beyond the initial state,
// which rw-register infers only with Options.WFRKeys.
var nonCycleAnomalies = map[string][]string{
	"append": {"G1a", "G1b", "dirty-update", "duplicate-elements", "future-read",
		"incompatible-order", "internal", "lost-update"},
	"rw-register": {"G1a", "G1b", "future-read", "internal", "lost-update"},
}

// reportableAnomalies is every anomaly type this checker can report for the
// workload: the non-cycle anomalies, the cycle classes, the "cycle exists"
// fallbacks of a search that did not finish, and the unknown conditions.
func reportableAnomalies(workload string, wfr bool) []string {
	out := append([]string(nil), nonCycleAnomalies[workload]...)
	if workload == "rw-register" && wfr {
		out = append(out, "cyclic-versions")
	}
	for _, s := range cycleSpecs {
		out = append(out, s.name)
	}
	for _, c := range cycleExistsSpecs {
		out = append(out, c.model+"-cycle-exists")
	}
	out = append(out, unknownAnomalies...)
	sort.Strings(out)
	return out
}

// Anomalies lists the anomaly names Options.Anomalies accepts, sorted:
// every anomaly of Elle's lattice (including ones this checker never
// reports itself, like G2 or G-single, which name a family: see
// expandAnomalies) and every type it can report.
func Anomalies() []string {
	seen := map[string]bool{}
	add := func(a string) { seen[a] = true }
	for a, bs := range impliedAnomalies {
		add(a)
		for _, b := range bs {
			add(b)
		}
	}
	for _, as := range directProscribedSrc {
		for _, a := range as {
			add(a)
		}
	}
	for _, w := range []string{"append", "rw-register"} {
		for _, a := range reportableAnomalies(w, true) {
			add(a)
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ValidateAnomalies refuses anomaly names Options.Anomalies would not know,
// listing the known ones.
func ValidateAnomalies(names []string) error {
	known := Anomalies()
	var bad []string
	for _, a := range names {
		if _, ok := slices.BinarySearch(known, a); !ok {
			bad = append(bad, fmt.Sprintf("%q", a))
		}
	}
	switch len(bad) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("unknown anomaly %s (known: %s)", bad[0], strings.Join(known, ", "))
	}
	return fmt.Errorf("unknown anomalies %s (known: %s)", strings.Join(bad, ", "), strings.Join(known, ", "))
}

// expandAnomalies is Elle's expansion of its :anomalies option
// (all-anomalies-implying): the anomalies named and every anomaly that
// implies one of them, so that asking for G2 asks for G2-item,
// G-single-item, lost-update and the rest of G2's family.
func expandAnomalies(names []string) map[string]bool {
	if len(names) == 0 {
		return map[string]bool{}
	}
	return closure(models.anomaliesIn, names)
}

// scope is what Elle's prohibited-anomaly-types computes from its
// :consistency-models and :anomalies options: the anomalies the model
// prohibits and those the user asked for, expanded. Only these are searched
// for and reported, with the unknown conditions.
func scope(model string, extra []string) map[string]bool {
	s := prohibitedAnomalies(model)
	for a := range expandAnomalies(extra) {
		s[a] = true
	}
	return s
}

// closure is every node reachable from start along next, start included.
func closure(next map[string][]string, start []string) map[string]bool {
	seen := make(map[string]bool, 32)
	stack := append([]string(nil), start...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, next[n]...)
	}
	return seen
}

// Models lists the consistency models a transactional check can be asked
// about (Options.ConsistencyModel), by their friendly names, sorted.
func Models() []string {
	seen := map[string]bool{}
	var out []string
	for m := range models.all {
		f := friendlyModel(canonicalModel(m))
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// checkModel canonicalises a model name, or says which names are known.
func checkModel(m string) (string, error) {
	if !models.all[m] {
		return "", fmt.Errorf("unknown consistency model %q (known: %s)", m, strings.Join(Models(), ", "))
	}
	return canonicalModel(m), nil
}

// prohibitedAnomalies is every anomaly that a history satisfying model
// cannot contain: the anomalies proscribed by the model and every model it
// implies, and every anomaly that implies one of those.
// Prohibited lists (sorted) the anomalies model prohibits, directly or
// through a stronger anomaly; an unknown model prohibits nothing.
func Prohibited(model string) []string {
	return slices.Sorted(maps.Keys(prohibitedAnomalies(model)))
}

func prohibitedAnomalies(model string) map[string]bool {
	var direct []string
	for m := range closure(models.modelsOut, []string{canonicalModel(model)}) {
		direct = append(direct, models.proscribes[m]...)
	}
	return closure(models.anomaliesIn, direct)
}

// impossibleModels is every model (canonical) that the anomalies rule out.
func impossibleModels(anomalies []string) map[string]bool {
	var direct []string
	for a := range closure(models.anomaliesOut, anomalies) {
		direct = append(direct, models.proscribedBy[a]...)
	}
	if len(direct) == 0 {
		return map[string]bool{}
	}
	return closure(models.modelsIn, direct)
}

// boundary splits the models the anomalies rule out into the weakest ones
// (not) and the rest (alsoNot), by friendly name, sorted.
func boundary(anomalies []string) (not, alsoNot []string) {
	imp := impossibleModels(anomalies)
	weakest := make(map[string]bool, len(imp))
	for m := range imp {
		weakest[m] = true
	}
	// Drop every model from which another candidate is reachable: that one
	// is weaker. Iterate in a fixed order so ties break the same way.
	names := make([]string, 0, len(imp))
	for m := range imp {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		for w := range closure(models.modelsOut, models.modelsOut[m]) {
			if w != m && weakest[w] {
				delete(weakest, m)
				break
			}
		}
	}
	for _, m := range names {
		if weakest[m] {
			not = appendUnique(not, friendlyModel(m))
		} else {
			alsoNot = appendUnique(alsoNot, friendlyModel(m))
		}
	}
	sort.Strings(not)
	sort.Strings(alsoNot)
	return not, alsoNot
}

func appendUnique(s []string, x string) []string {
	for _, y := range s {
		if y == x {
			return s
		}
	}
	return append(s, x)
}

package reports

import (
	"bufio"
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/faultline-dev/faultline/checker"
	"github.com/faultline-dev/faultline/histories"
)

// Extras are what a report shows beyond the history and results.json, all
// optional.
type Extras struct {
	// Title names the test; by default the store directory's
	// <test-name>/<time>, or plan.json's name.
	Title string
	// Dir is the run's directory, where node logs, plan.json and
	// visualization files are looked for, and that links are relative to.
	// Write sets it.
	Dir string
	// Visualizations is porcupine's HTML page for failing keys of a
	// linearizability check, by key (see checker.Linearization's
	// WriteVisualization; pass checker.NemesisAnnotations(h) to it so the
	// fault windows show). Keys without one use the file
	// checker.VisualizationFile(key) in Dir, when there is one.
	Visualizations map[string][]byte
	// NodeLogs are log files by node, as paths relative to Dir. When nil,
	// every file under Dir/nodes/<node>/ is listed.
	NodeLogs map[string][]string
	// PointBudget bounds the points of the latency plot, TimelineBudget the
	// bars of the timeline (0: defaults of 20000 and 3000).
	PointBudget    int
	TimelineBudget int
	// Generated is the time the report says it was made (zero: now).
	Generated time.Time
	_         struct{}
}

// Files Write creates in the run's directory.
const (
	HTMLFile  = "report.html"
	JUnitFile = "junit.xml"
)

// Write writes report.html and junit.xml into dir, each replacing the old
// file only once complete.
func Write(dir string, h histories.History, res checker.Results, extra Extras) error {
	if extra.Dir == "" {
		extra.Dir = dir
	}
	name := extra.Title
	if name == "" {
		name = defaultTitle(dir)
	}
	if err := writeAtomic(filepath.Join(dir, JUnitFile), func(w io.Writer) error { return WriteJUnit(w, name, res) }); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, HTMLFile), func(w io.Writer) error { return WriteHTML(w, h, res, extra) })
}

func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// defaultTitle is <test-name>/<time> for a store directory, else its base.
func defaultTitle(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	base := filepath.Base(abs)
	parent := filepath.Base(filepath.Dir(abs))
	if len(base) >= 15 && base[8] == 'T' && parent != "." && parent != string(filepath.Separator) {
		return parent + " / " + base
	}
	return base
}

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": pct,
}).Parse(reportTemplateText))

// page is everything the template shows.
type page struct {
	Title      string
	Subtitle   string
	Verdict    string // valid, invalid, unknown
	Headline   string
	Lead       string
	Facts      []fact
	Warnings   []string
	Nav        []navItem
	Checkers   []checkerRow
	Models     []modelRow
	ModelsFrom string
	Txn        []txnSection
	Lin        []linSection
	LinTally   string // the failing keys' causes, counted
	PairError  string
	FaultSum   []faultSumRow
	Faults     []faultRow
	FaultBase  *faultRow
	FaultNote  string
	Latency    plotView
	Throughput plotView
	Timeline   plotView
	ByF        []fRow
	Logs       []logGroup
	LogsNote   string
	Files      []fileLink
	Generated  string
	Colors     map[string]string
	HasFaults  bool
}

type fact struct{ Label, Value, Class string }

type navItem struct{ ID, Label string }

type checkerRow struct {
	Name, Verdict, Summary string
}

type plotView struct {
	SVG  template.HTML
	Note string
}

type txnSection struct {
	Checker     string
	Claimed     string
	Anomalies   []anomalyRow
	Cut         int
	Unexplained []string
	Unknown     []string
}

type anomalyRow struct {
	anomalyView
	N       int
	Diagram template.HTML
	Legend  []legendItem
}

type linSection struct {
	Checker string
	Model   string
	Key     string
	checker.KeyFailure
	CauseViews []causeView
	StuckOps   []opView
	PrefixOps  []opView
	VizDoc     string // porcupine's page, for an iframe's srcdoc
	VizFile    string // or a link to it: its path relative to the run's directory
	VizHref    string // and that path as a relative link
	Anchor     string // the article's id: key-KEY
	Open       bool
}

type faultRow struct {
	Name, When, Detail, Duration string
	Ops                          int
	Yield, Harvest               string
	YieldLow                     bool
	Recovery, RecoveryDetail     string
	RecoveryBad                  bool
}

type fRow struct {
	F                 string
	OK, Fail, Info    int
	P50, P99, Max     string
	OKPct, FailPct    string
	Total             int
	InfoPct           string
	OKw, Failw, Infow string
}

type logGroup struct {
	Node  string
	Files []fileLink
}

type fileLink struct {
	Name, Href, Size string
}

// maxVizEmbedded bounds the porcupine pages embedded (each is a whole page
// with its data); later keys link to their files.
const (
	maxVizEmbedded   = 10
	maxVizBytesTotal = 12 << 20
)

// WriteHTML writes the self-contained report page.
func WriteHTML(w io.Writer, h histories.History, res checker.Results, extra Extras) error {
	p := buildPage(h, res, extra)
	return reportTemplate.Execute(w, p)
}

func buildPage(h histories.History, res checker.Results, extra Extras) *page {
	a := analyze(h)
	colors := faultColors(a.faults)
	p := &page{Verdict: res.Valid.String(), Colors: colors, HasFaults: len(a.faults) > 0}
	p.Title = extra.Title
	plan := readPlan(extra.Dir)
	if p.Title == "" {
		if n, _ := plan["name"].(string); n != "" {
			p.Title = n
		} else if extra.Dir != "" {
			p.Title = defaultTitle(extra.Dir)
		} else {
			p.Title = "faultline report"
		}
	}
	p.Subtitle = planLine(plan)
	gen := extra.Generated
	if gen.IsZero() {
		gen = time.Now()
	}
	p.Generated = gen.Format("2006-01-02 15:04:05 MST")

	p.Headline, p.Lead = headline(res, claimedModel(res), runMap(res.Run))

	p.facts(a, res)
	p.nav("verdict", "Verdict")

	for _, name := range slices.Sorted(maps.Keys(res.Checkers)) {
		r := res.Checkers[name]
		p.Checkers = append(p.Checkers, checkerRow{Name: name, Verdict: r.Valid.String(), Summary: r.Summary})
	}

	// Transactional checks: the model table and each anomaly.
	var claimed string
	for _, name := range slices.Sorted(maps.Keys(res.Checkers)) {
		r := res.Checkers[name]
		if !isTransactional(name, r) {
			continue
		}
		v, _ := readTxnDetails(r.Details)
		if claimed == "" {
			claimed = v.Claimed
		}
		if p.ModelsFrom == "" {
			p.ModelsFrom = name
		}
		sec := txnSection{Checker: name, Claimed: v.Claimed, Cut: v.Cut, Unexplained: v.Unexplained, Unknown: v.Unknown}
		for i := range v.Anomalies {
			av := v.Anomalies[i]
			a.timeOps(av.Ops)
			row := anomalyRow{anomalyView: av, N: i + 1}
			if d := cycleSVG(&av); d != "" {
				row.Diagram = template.HTML(d)
				seen := map[string]bool{}
				for _, st := range av.Steps {
					c := edgeColor(st.Edge)
					if !seen[c] {
						seen[c] = true
						row.Legend = append(row.Legend, legendItem{Label: st.Edge + ": " + edgeMeaning(st.Edge), Color: c})
					}
				}
			}
			sec.Anomalies = append(sec.Anomalies, row)
		}
		if len(sec.Anomalies) > 0 || r.Valid == checker.Invalid || len(sec.Unknown) > 0 {
			p.Txn = append(p.Txn, sec)
		}
	}
	if p.ModelsFrom != "" {
		p.Models = modelTable(res.Not, res.AlsoNot, claimed)
		p.nav("models", "Consistency models")
	}
	if len(p.Txn) > 0 {
		p.nav("anomalies", "Anomalies")
	}

	// Linearizability failures, with porcupine's pages.
	p.linSections(a, res, extra)
	p.LinTally = causeTally(p.Lin)
	if len(p.Lin) > 0 {
		p.nav("linearizability", "Linearizability")
	}

	if a.pairErr != nil {
		p.PairError = a.pairErr.Error()
	}
	p.faultRows(a)
	p.faultSummary(res.Faults, a)
	p.nav("faults", "Faults")

	pb, tb := extra.PointBudget, extra.TimelineBudget
	if pb <= 0 {
		pb = defaultPointBudget
	}
	if tb <= 0 {
		tb = defaultTimelineBudget
	}
	if a.pairErr == nil && len(a.ops) > 0 {
		lp := a.latencyPlot(pb, colors)
		p.Latency = plotView{SVG: template.HTML(lp.SVG), Note: lp.Note}
		tp := a.throughputPlot(colors)
		p.Throughput = plotView{SVG: template.HTML(tp.SVG), Note: tp.Note}
		tl := a.timelinePlot(tb, p.focus(a, res), p.anomalyOps(), colors)
		p.Timeline = plotView{SVG: template.HTML(tl.SVG), Note: tl.Note}
		p.ByF = byF(a)
	}
	p.nav("latency", "Latency")
	p.nav("throughput", "Throughput")
	p.nav("timeline", "Timeline")

	p.Logs, p.LogsNote = nodeLogs(extra)
	p.nav("logs", "Node logs")
	p.Files = runFiles(extra.Dir)
	return p
}

func (p *page) nav(id, label string) { p.Nav = append(p.Nav, navItem{id, label}) }

func (p *page) facts(a *analysis, res checker.Results) {
	add := func(label, value, class string) { p.Facts = append(p.Facts, fact{label, value, class}) }
	n := a.clientOps()
	if n > 0 {
		add("operations", strconv.Itoa(n), "")
		add("ok", pct(a.counts[histories.OK], n), "ok")
		add("fail", pct(a.counts[histories.Fail], n), "fail")
		add("info (unknown)", pct(a.counts[histories.Info], n), "info")
	} else {
		add("history entries", strconv.Itoa(len(a.h)), "")
	}
	run := asMap(res.Run)
	if d, ok := num(run["duration_seconds"]); ok && d > 0 {
		add("duration", fmtSeconds(d), "")
	} else if a.span > 0 {
		if a.clock.positions {
			add("length", a.clock.fmtDur(a.span), "")
		} else {
			add("duration", fmtSeconds(float64(a.span)/1e9), "")
		}
	}
	if t, ok := num(run["ops_per_second"]); ok && t > 0 {
		add("throughput", sig(t)+" ops/s", "")
	} else if !a.clock.positions && a.span > 0 && n > 0 {
		add("throughput", sig(float64(n)/(float64(a.span)/1e9))+" ops/s", "")
	}
	if a.procs > 0 {
		add("processes", strconv.Itoa(a.procs), "")
	}
	add("fault windows", strconv.Itoa(len(a.faults)), "")
	if r, ok := num(run["recovery_seconds"]); ok && r > 0 {
		add("final recovery", fmtSeconds(r), "")
	}
	for _, k := range []string{"recovery_error", "teardown_error", "collect_logs_error"} {
		if s, _ := run[k].(string); s != "" {
			p.Warnings = append(p.Warnings, strings.ReplaceAll(k, "_", " ")+": "+s)
		}
	}
	if b, _ := run["interrupted"].(bool); b {
		p.Warnings = append(p.Warnings, "The run was interrupted: the history ends early.")
	}
	if a.clock.positions && len(a.h) > 0 {
		p.Warnings = append(p.Warnings, "This history carries no timestamps (e.g. a Jepsen log): times below are positions in the history, not seconds.")
	}
}

// focus is where the timeline looks when the history is too long to draw
// whole: the first op of the first anomaly, else the first fault.
func (p *page) focus(a *analysis, res checker.Results) int64 {
	index := int64(-1)
	for _, l := range p.Lin {
		for _, o := range l.Stuck {
			if index < 0 || o.InvokeIndex < index {
				index = o.InvokeIndex
			}
		}
	}
	for _, t := range p.Txn {
		for _, an := range t.Anomalies {
			for _, o := range an.Ops {
				if o.Index >= 0 && (index < 0 || o.Index < index) {
					index = o.Index
				}
			}
		}
	}
	if index >= 0 {
		if op, ok := a.byIndex(index); ok {
			return max(0, op.Time-a.origin-a.span/100)
		}
	}
	if len(a.faults) > 0 {
		return max(0, a.faults[0].Start-a.span/100)
	}
	return -1
}

// byIndex finds the op with history index i (indexes increase along the
// history).
func (a *analysis) byIndex(i int64) (histories.Op, bool) {
	j, ok := slices.BinarySearchFunc(a.h, i, func(op histories.Op, t int64) int {
		return cmp.Compare(op.Index, t)
	})
	if !ok {
		return histories.Op{}, false
	}
	return a.h[j], true
}

// timeOps fills in when each op was invoked and completed, to the
// microsecond: an anomaly's transactions often overlap by less than a
// millisecond, and which finished first is part of the story.
func (a *analysis) timeOps(ops []opView) {
	if a.clock.positions {
		return
	}
	at := func(i int64) string {
		op, ok := a.byIndex(i)
		if i < 0 || !ok {
			return ""
		}
		return strconv.FormatFloat(float64(op.Time-a.origin)/1e9, 'f', 6, 64) + " s"
	}
	for i := range ops {
		ops[i].Invoked, ops[i].Completed = at(ops[i].InvokeIndex), at(ops[i].Index)
	}
}

// anomalyOps are the history indexes of the ops the anomalies name.
func (p *page) anomalyOps() map[int64]bool {
	m := map[int64]bool{}
	for _, l := range p.Lin {
		for _, o := range l.Stuck {
			m[o.InvokeIndex], m[o.Index] = true, true
		}
	}
	for _, t := range p.Txn {
		for _, an := range t.Anomalies {
			for _, o := range an.Ops {
				if o.Index >= 0 {
					m[o.Index] = true
				}
			}
		}
	}
	return m
}

func (p *page) linSections(a *analysis, res checker.Results, extra Extras) {
	embedded, total := 0, 0
	for _, name := range slices.Sorted(maps.Keys(res.Checkers)) {
		r := res.Checkers[name]
		d, ok := linearizableDetails(r)
		if !ok || len(d.Failures) == 0 {
			continue
		}
		for _, kf := range d.Failures {
			s := linSection{Checker: name, Model: d.Model, Key: kf.Key, KeyFailure: kf, CauseViews: causeViews(kf.Causes, p.Colors), Anchor: keyAnchor(kf.Key)}
			for _, o := range kf.Stuck {
				s.StuckOps = append(s.StuckOps, opFromRef(o))
			}
			a.timeOps(s.StuckOps)
			for _, o := range kf.PrefixTail {
				s.PrefixOps = append(s.PrefixOps, opFromRef(o))
			}
			a.timeOps(s.PrefixOps)
			for _, ops := range [][]opView{s.StuckOps, s.PrefixOps} {
				for i := range ops {
					if ops[i].Type == "info" {
						ops[i].Completed = "" // its index is its invocation's
					}
				}
			}
			var doc []byte
			if b, ok := extra.Visualizations[kf.Key]; ok {
				doc = b
			}
			if extra.Dir != "" {
				// The run's own page of the key, or where older runs kept it.
				for _, f := range []string{checker.VisualizationFile(kf.Key), checker.LegacyVisualizationFile(kf.Key)} {
					if doc != nil {
						if _, err := os.Stat(filepath.Join(extra.Dir, filepath.FromSlash(f))); err == nil {
							s.VizFile = f
							break
						}
						continue
					}
					if b, err := os.ReadFile(filepath.Join(extra.Dir, filepath.FromSlash(f))); err == nil {
						doc, s.VizFile = b, f
						break
					}
				}
			}
			if s.VizFile != "" {
				s.VizHref = hrefOf(s.VizFile)
			}
			if doc != nil && embedded < maxVizEmbedded && total+len(doc) <= maxVizBytesTotal {
				s.VizDoc = string(doc)
				embedded++
				total += len(doc)
			}
			s.Open = len(p.Lin) == 0
			p.Lin = append(p.Lin, s)
		}
	}
}

// keyAnchor is the id of a failing key's article, "key-KEY", with KEY
// kept to letters, digits, '-', '_' and '.' so that it is a plain CSS id
// too.
func keyAnchor(key string) string {
	b := []byte("key-")
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

// faultSumRow is one fault of the run's summary: how often it was in
// effect, for how long, where.
type faultSumRow struct {
	Name, Times, Total, Nodes, Note string
	Never                           bool
}

// faultSummary lists each fault of res.Faults (the history's, and those a
// run asked for and never injected).
func (p *page) faultSummary(stats []histories.FaultStat, a *analysis) {
	for _, s := range stats {
		r := faultSumRow{Name: s.Fault, Times: strconv.Itoa(s.Injected), Total: a.clock.fmtDur(int64(s.Seconds * 1e9)), Nodes: strings.Join(s.Nodes, ", ")}
		var notes []string
		if s.Injected == 0 {
			r.Never, r.Total = true, "—"
			notes = append(notes, "never in effect: asked for, but the run ended before its turn or every injection failed")
		}
		if s.Failed > 0 {
			notes = append(notes, fmt.Sprintf("%d injection(s) failed (see the nemesis ops)", s.Failed))
		}
		notes = append(notes, s.Errors...)
		if s.Unhealed > 0 {
			notes = append(notes, fmt.Sprintf("%d never healed within the history", s.Unhealed))
		}
		r.Note = strings.Join(notes, "; ")
		p.FaultSum = append(p.FaultSum, r)
	}
}

// claimedModel is the consistency model the first transactional checker
// was asked to hold the history to ("" if none).
func claimedModel(res checker.Results) string {
	for _, name := range slices.Sorted(maps.Keys(res.Checkers)) {
		if r := res.Checkers[name]; isTransactional(name, r) {
			if v, _ := readTxnDetails(r.Details); v.Claimed != "" {
				return v.Claimed
			}
		}
	}
	return ""
}

// headline is the banner's verdict and lead. It agrees with the body: a
// history valid for the model claimed, with anomalies that rule out
// stronger ones, says both.
func headline(res checker.Results, claimed string, run map[string]any) (string, string) {
	by, _ := run["claimed_by"].(string)
	claim := claimed
	if by != "" {
		claim += ", which " + by + " provides"
	}
	switch res.Valid {
	case checker.Valid:
		if claimed == "" || len(res.AnomalyTypes) == 0 {
			if claimed != "" {
				return "Valid", "No anomaly found: valid for " + claim + ", and for every stronger model."
			}
			return "Valid", "No anomaly found: every checker passed."
		}
		lead := fmt.Sprintf("Valid for %s; %s found", claim, strings.Join(res.AnomalyTypes, ", "))
		if len(res.Not) > 0 {
			lead += ", so not " + strings.Join(res.Not, " or ")
			if !slices.Contains(res.Not, "serializable") && slices.Contains(res.AlsoNot, "serializable") {
				lead += ", hence not serializable"
			}
		}
		return "Valid for " + claimed, lead + "."
	case checker.Invalid:
		lead := "An anomaly was found"
		if len(res.AnomalyTypes) > 0 {
			lead += ": " + strings.Join(res.AnomalyTypes, ", ")
		}
		if claimed != "" {
			lead += fmt.Sprintf(", which %s rules out", claimed)
			if by != "" {
				lead += fmt.Sprintf(" (%s claims %s)", by, claimed)
			}
		}
		return "Not valid", lead + "."
	}
	return "Unknown", "The checkers could not decide (for example, a checker timed out, or the run was interrupted). This is not a pass."
}

func (p *page) faultRows(a *analysis) {
	if len(a.faults) == 0 {
		p.FaultNote = "The history has no nemesis operations, so there are no fault windows to measure."
		if len(a.events) > 0 {
			p.FaultNote = fmt.Sprintf("The history has %d nemesis operations but none of the start-X / stop-X kind that opens a window.", len(a.events))
		}
		return
	}
	if a.pairErr != nil {
		p.FaultNote = "The history's operations could not be paired, so availability cannot be measured."
		return
	}
	avs, base := a.availabilityOf()
	row := func(av availability) faultRow {
		r := faultRow{Ops: av.Ops, Yield: pct(av.OK, av.Ops), Harvest: pct(av.ReadsComplete, av.Reads)}
		r.YieldLow = av.Ops > 0 && av.OK*10 < av.Ops*9
		return r
	}
	for _, av := range avs {
		r := row(av)
		f := av.Fault
		r.Name, r.Detail = f.Name, f.Detail
		r.When = a.clock.fmtTime(f.Start) + " – "
		if f.Healed {
			r.When += a.clock.fmtTime(f.End)
		} else {
			r.When += "end (never healed)"
		}
		r.Duration = a.clock.fmtDur(f.End - f.Start)
		switch {
		case av.NoHealed:
			r.Recovery = "—"
			r.RecoveryDetail = "not healed within the history"
		case len(av.RecoveryNodes) == 0:
			r.Recovery = "no ops after"
			r.RecoveryDetail = "no operation was invoked after the heal"
		case av.NotRecovered:
			r.Recovery = "did not recover"
			r.RecoveryBad = true
		default:
			r.Recovery = a.clock.fmtDur(av.Recovery)
		}
		var parts []string
		for _, nr := range av.RecoveryNodes {
			n := nr.Node
			if n == "" {
				n = "any node"
			}
			if nr.Time < 0 {
				parts = append(parts, n+": no successful op")
			} else {
				parts = append(parts, n+": "+a.clock.fmtDur(nr.Time))
			}
		}
		if len(parts) > 0 && (len(parts) > 1 || av.NotRecovered) {
			r.RecoveryDetail = strings.Join(parts, ", ")
		}
		p.Faults = append(p.Faults, r)
	}
	b := row(base)
	b.Name = "outside every fault"
	p.FaultBase = &b
}

func byF(a *analysis) []fRow {
	type acc struct {
		c   [histories.Info + 1]int
		lat []float64
	}
	m := map[string]*acc{}
	for i := range a.ops {
		o := &a.ops[i]
		f := a.h[o.inv].F
		x := m[f]
		if x == nil {
			x = &acc{}
			m[f] = x
		}
		x.c[o.outcome]++
		if o.comp != histories.Open && o.outcome != histories.Info {
			x.lat = append(x.lat, float64(o.latency()))
		}
	}
	var out []fRow
	for _, f := range slices.Sorted(maps.Keys(m)) {
		x := m[f]
		total := x.c[histories.OK] + x.c[histories.Fail] + x.c[histories.Info]
		r := fRow{F: f, OK: x.c[histories.OK], Fail: x.c[histories.Fail], Info: x.c[histories.Info], Total: total,
			P50: "—", P99: "—", Max: "—"}
		r.OKPct, r.FailPct, r.InfoPct = pct(r.OK, total), pct(r.Fail, total), pct(r.Info, total)
		w := func(n int) string { return trimFloat(100*float64(n)/float64(max(total, 1)), 2) }
		r.OKw, r.Failw, r.Infow = w(r.OK), w(r.Fail), w(r.Info)
		if len(x.lat) > 0 {
			slices.Sort(x.lat)
			q := func(q float64) string {
				return a.clock.fmtDur(int64(x.lat[min(len(x.lat)-1, int(q*float64(len(x.lat))))]))
			}
			r.P50, r.P99, r.Max = q(0.5), q(0.99), a.clock.fmtDur(int64(x.lat[len(x.lat)-1]))
		}
		out = append(out, r)
	}
	return out
}

// readPlan reads plan.json's top-level fields, if the run has one.
func readPlan(dir string) map[string]any {
	if dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "plan.json"))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// planLine says what was tested in one line: target, workload, nodes,
// nemeses.
func planLine(plan map[string]any) string {
	if plan == nil {
		return ""
	}
	var parts []string
	if t, _ := plan["target"].(string); t != "" {
		parts = append(parts, t)
	}
	if w, _ := plan["workload"].(string); w != "" {
		parts = append(parts, w+" workload")
	}
	if nodes, ok := plan["nodes"].([]any); ok && len(nodes) > 0 {
		parts = append(parts, strconv.Itoa(len(nodes))+" nodes")
	}
	if c, ok := num(plan["concurrency"]); ok && c > 0 {
		parts = append(parts, "concurrency "+trimFloat(c, 0))
	}
	if ns, ok := plan["nemesis"].([]any); ok && len(ns) > 0 {
		var names []string
		for _, n := range ns {
			names = append(names, scalarText(n))
		}
		parts = append(parts, "nemesis: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, " · ")
}

// nodeLogs lists each node's log files, as links relative to the run's
// directory.
func nodeLogs(extra Extras) ([]logGroup, string) {
	const maxFiles = 400
	var groups []logGroup
	if extra.NodeLogs != nil {
		for _, node := range slices.Sorted(maps.Keys(extra.NodeLogs)) {
			g := logGroup{Node: node}
			for _, f := range extra.NodeLogs[node] {
				g.Files = append(g.Files, link(extra.Dir, f))
			}
			groups = append(groups, g)
		}
		return groups, ""
	}
	if extra.Dir == "" {
		return nil, "No run directory was given, so there are no node logs to link."
	}
	root := filepath.Join(extra.Dir, "nodes")
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, "This run has no node logs (no nodes/ directory): an offline check, or the logs could not be collected."
	}
	count := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		g := logGroup{Node: e.Name()}
		_ = filepath.WalkDir(filepath.Join(root, e.Name()), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || count >= maxFiles {
				return nil
			}
			rel, rerr := filepath.Rel(extra.Dir, path)
			if rerr != nil {
				return nil
			}
			g.Files = append(g.Files, link(extra.Dir, rel))
			count++
			return nil
		})
		groups = append(groups, g)
	}
	note := ""
	if count >= maxFiles {
		note = fmt.Sprintf("Only the first %d files are listed.", maxFiles)
	}
	if len(groups) == 0 {
		note = "The nodes/ directory is empty: the logs could not be collected."
	}
	return groups, note
}

func link(dir, rel string) fileLink {
	l := fileLink{Name: filepath.ToSlash(rel), Href: hrefOf(rel)}
	if st, err := os.Stat(filepath.Join(dir, rel)); err == nil {
		l.Size = fmtBytes(st.Size())
	}
	return l
}

// hrefOf makes a relative link from a relative path, escaping each
// segment.
func hrefOf(rel string) string {
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range parts {
		parts[i] = pathEscape(s)
	}
	return strings.Join(parts, "/")
}

func pathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func fmtBytes(n int64) string {
	switch {
	case n < 1<<10:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return trimFloat(float64(n)/(1<<10), 1) + " KiB"
	case n < 1<<30:
		return trimFloat(float64(n)/(1<<20), 1) + " MiB"
	}
	return trimFloat(float64(n)/(1<<30), 2) + " GiB"
}

// runFiles lists the files at the top of the run's directory.
func runFiles(dir string) []fileLink {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []fileLink
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || n == HTMLFile {
			continue
		}
		if e.IsDir() {
			// Folders of pages (porcupine's, one per failing key); node
			// logs have their own section.
			if n == checker.VisualizationDir {
				l := link(dir, n)
				l.Name, l.Href = n+"/", l.Href+"/"
				l.Size = folderSize(filepath.Join(dir, n))
				out = append(out, l)
			}
			continue
		}
		out = append(out, link(dir, n))
	}
	return out
}

// folderSize says how many files a folder holds: "3 files".
func folderSize(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			n++
		}
	}
	if n == 1 {
		return "1 file"
	}
	return strconv.Itoa(n) + " files"
}

package reports

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/checker"
)

// JUnit's XML as CI servers read it (Jenkins, GitLab, GitHub actions'
// reporters): one testsuite per run, one testcase per checker.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Time     string       `xml:"time,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Time       string          `xml:"time,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes res as JUnit XML: a testsuite named name with one
// testcase per checker. An invalid checker is a <failure> whose message
// names the anomalies and whose body explains them; an unknown one is an
// <error> (the checker could not decide: not a pass, but no anomaly
// either), so that CI turns red on both, as faultline's exit code does.
func WriteJUnit(w io.Writer, name string, res checker.Results) error {
	suite := junitSuite{Name: name}
	suite.Properties = append(suite.Properties, junitProperty{Name: "verdict", Value: res.Valid.String()})
	if len(res.AnomalyTypes) > 0 {
		suite.Properties = append(suite.Properties, junitProperty{Name: "anomaly_types", Value: strings.Join(res.AnomalyTypes, ", ")})
	}
	if len(res.Not) > 0 {
		suite.Properties = append(suite.Properties, junitProperty{Name: "not", Value: strings.Join(res.Not, ", ")})
	}
	if len(res.AlsoNot) > 0 {
		suite.Properties = append(suite.Properties, junitProperty{Name: "also_not", Value: strings.Join(res.AlsoNot, ", ")})
	}
	// The suite's time is the run's (when there was one) and the checks'.
	total := runSeconds(res.Run)
	for _, cname := range slices.Sorted(maps.Keys(res.Checkers)) {
		r := res.Checkers[cname]
		tc := junitCase{Name: cname, Classname: "faultline." + name, Time: junitTime(r.Seconds), SystemOut: r.Summary}
		total += r.Seconds
		switch r.Valid {
		case checker.Invalid:
			tc.Failure = &junitProblem{Message: failureMessage(r), Type: anomalyType(r), Body: explainFailure(cname, r)}
			suite.Failures++
		case checker.Unknown:
			tc.Error = &junitProblem{Message: "unknown: " + firstLine(r.Summary), Type: "unknown", Body: r.Summary}
			suite.Errors++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	suite.SystemOut = Summary(res)
	suite.Time = junitTime(total)
	doc := junitSuites{Name: "faultline", Time: suite.Time, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitTime(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

// runSeconds is the run's duration from results.json's run section.
func runSeconds(run any) float64 {
	d, _ := runMap(run)["duration_seconds"].(float64)
	return d
}

// runMap is results.json's run section as a map: the controller's RunInfo
// (which reports does not know), or what a results.json read back holds.
func runMap(run any) map[string]any {
	if m, ok := run.(map[string]any); ok || run == nil {
		return m
	}
	var m map[string]any
	if b, err := json.Marshal(run); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func anomalyType(r checker.Result) string {
	if len(r.AnomalyTypes) == 0 {
		return "invalid"
	}
	return strings.Join(r.AnomalyTypes, ",")
}

// failureMessage is one line: what kind of anomaly, how many, and the
// first words of the checker's own summary.
func failureMessage(r checker.Result) string {
	msg := firstLine(r.Summary)
	if len(r.AnomalyTypes) > 0 && !strings.Contains(msg, r.AnomalyTypes[0]) {
		msg = strings.Join(r.AnomalyTypes, ", ") + ": " + msg
	}
	if len(r.Not) > 0 {
		msg += " (not " + strings.Join(r.Not, ", ") + ")"
	}
	return truncate(msg, 400)
}

// explainFailure is the failure's body: the summary and each anomaly the
// details explain.
func explainFailure(name string, r checker.Result) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(r.Summary))
	b.WriteString("\n")
	if d, ok := linearizableDetails(r); ok {
		for _, kf := range d.Failures {
			fmt.Fprintf(&b, "\nkey %s: no linearization of %d ops; %d linearized, reaching state %s; could not linearize next:\n", kf.Key, kf.Ops, kf.Linearized, kf.State)
			for _, o := range kf.Stuck {
				fmt.Fprintf(&b, "  %s\n", o.String())
			}
			for _, c := range kf.Causes {
				fmt.Fprintf(&b, "why: %s\n", c)
			}
		}
		if d.FailuresCut > 0 {
			fmt.Fprintf(&b, "\n… and %d more keys\n", d.FailuresCut)
		}
	}
	if isTransactional(name, r) {
		if v, ok := readTxnDetails(r.Details); ok {
			for _, a := range v.Anomalies {
				fmt.Fprintf(&b, "\n%s: %s\n", a.Type, a.Explanation)
				for _, st := range a.Steps {
					fmt.Fprintf(&b, "  %s -%s %s-> %s\n", st.From, st.Edge, st.Key, st.To)
				}
			}
			if v.Cut > 0 {
				fmt.Fprintf(&b, "\n… and %d more anomalies\n", v.Cut)
			}
		}
	}
	return b.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Summary is the short text for stdout: the verdict, then one line per
// checker, then the ruled-out models.
func Summary(res checker.Results) string {
	var b strings.Builder
	switch res.Valid {
	case checker.Valid:
		b.WriteString("VALID: no anomaly found")
	case checker.Invalid:
		b.WriteString("INVALID: anomalies found")
		if len(res.AnomalyTypes) > 0 {
			b.WriteString(": " + strings.Join(res.AnomalyTypes, ", "))
		}
	default:
		b.WriteString("UNKNOWN: the checkers could not decide")
	}
	b.WriteString("\n")
	for _, name := range slices.Sorted(maps.Keys(res.Checkers)) {
		r := res.Checkers[name]
		lines := strings.Split(strings.TrimSpace(r.Summary), "\n")
		if len(lines) > 4 {
			lines = append(lines[:3], fmt.Sprintf("… (%d more lines in report.html)", len(lines)-3))
		}
		fmt.Fprintf(&b, "  %-12s %-8s %s\n", name+":", r.Valid, strings.Join(lines, "\n"+strings.Repeat(" ", 24)))
	}
	if len(res.Not) > 0 {
		fmt.Fprintf(&b, "  ruled out: %s", strings.Join(res.Not, ", "))
		if len(res.AlsoNot) > 0 {
			fmt.Fprintf(&b, " (and so also %s)", strings.Join(res.AlsoNot, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

package checker

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/faultline-dev/faultline/histories"
)

// Validity is a checker's verdict. It is written to JSON as the string
// "true", "false" or "unknown" (Jepsen's true, false, :unknown).
type Validity int

// The zero Validity is Unknown: a checker that forgets to decide, or a
// Result nobody filled in, is never read as valid.
const (
	// Unknown: the checker could not decide (timeout, gaps, unsupported
	// ops). Never reported as valid.
	Unknown Validity = iota
	// Valid: no anomaly, and the checker looked at everything.
	Valid
	// Invalid: an anomaly was found.
	Invalid
)

// rank orders verdicts for Merge: invalid beats unknown beats valid.
func (v Validity) rank() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 2
	default:
		return 1
	}
}

func (v Validity) String() string {
	switch v {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	default:
		return "unknown"
	}
}

// ExitCode is the CLI's exit code for the verdict: 0 valid, 1 invalid,
// 2 unknown.
func (v Validity) ExitCode() int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 1
	default:
		return 2
	}
}

// MarshalJSON writes "true", "false" or "unknown": always a string, so
// that a script reads one type (jq -r .valid prints the same words as
// Jepsen's :valid? true, false, :unknown).
func (v Validity) MarshalJSON() ([]byte, error) {
	switch v {
	case Valid:
		return []byte(`"true"`), nil
	case Invalid:
		return []byte(`"false"`), nil
	default:
		return []byte(`"unknown"`), nil
	}
}

// UnmarshalJSON reads "true", "false" or "unknown", and the bare true and
// false of results.json files written before it was always a string.
func (v *Validity) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", `"true"`:
		*v = Valid
	case "false", `"false"`:
		*v = Invalid
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("valid must be \"true\", \"false\" or \"unknown\", not %s", b)
	}
	return nil
}

// Merge composes verdicts as Jepsen does: invalid beats unknown beats valid.
func Merge(vs ...Validity) Validity {
	out := Valid
	for _, v := range vs {
		if v.rank() > out.rank() {
			out = v
		}
	}
	return out
}

// Result is what one checker found.
type Result struct {
	Valid Validity `json:"valid"`
	// Summary is one or a few lines for people: what was checked and, if
	// not valid, what went wrong and where.
	Summary string `json:"summary"`
	// AnomalyTypes names the anomalies found (e.g. "nonlinearizable", "G2-item").
	AnomalyTypes []string `json:"anomaly_types,omitempty"`
	// Not and AlsoNot are the consistency models ruled out (transactional
	// checkers): Not the weakest, AlsoNot the stronger ones that follow.
	Not     []string `json:"not,omitempty"`
	AlsoNot []string `json:"also_not,omitempty"`
	// Seconds is how long the checker took (0 when not measured).
	Seconds float64 `json:"seconds,omitempty"`
	// Details is the checker's own structured account (e.g. the keys and
	// operations that could not be linearized).
	Details any `json:"details,omitempty"`
}

// Results is the content of results.json: the composed verdict and each
// checker's result by name.
type Results struct {
	Valid        Validity          `json:"valid"`
	Checkers     map[string]Result `json:"checkers"`
	AnomalyTypes []string          `json:"anomaly_types"`
	Not          []string          `json:"not"`
	AlsoNot      []string          `json:"also_not"`
	Stats        any               `json:"stats,omitempty"`
	// Faults sums up each fault the history's nemesis ops show in effect
	// (or failing); a run adds the faults it was asked for and never
	// injected, with injected 0.
	Faults []histories.FaultStat `json:"faults,omitempty"`
	// Run is the controller's account of the run (ops, throughput, time
	// to recover), absent for offline checks.
	Run any `json:"run,omitempty"`
}

// Compose merges named results into Results. The anomaly types and ruled-out
// models are the sorted union of the checkers'. No result at all is
// unknown, and so is a Result whose checker never set Valid (the zero
// Validity).
func Compose(named map[string]Result, stats any) Results {
	out := Results{Valid: Valid, Checkers: named, AnomalyTypes: []string{}, Not: []string{}, AlsoNot: []string{}, Stats: stats}
	if len(named) == 0 {
		// Nothing was checked: nothing is known.
		out.Valid = Unknown
	}
	for _, r := range named {
		out.Valid = Merge(out.Valid, r.Valid)
		out.AnomalyTypes = union(out.AnomalyTypes, r.AnomalyTypes)
		out.Not = union(out.Not, r.Not)
		out.AlsoNot = union(out.AlsoNot, r.AlsoNot)
	}
	return out
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	for _, s := range a {
		seen[s] = true
	}
	for _, s := range b {
		if !seen[s] {
			seen[s] = true
			a = append(a, s)
		}
	}
	sort.Strings(a)
	return a
}

// MarshalIndent is results.json's encoding.
func (r Results) MarshalIndent() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

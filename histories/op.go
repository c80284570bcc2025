package histories

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Type says whether an operation is an invocation or how it completed.
type Type uint8

const (
	// Invoke starts an operation.
	Invoke Type = iota + 1
	// OK completes an operation that took effect.
	OK
	// Fail completes an operation that certainly did not take effect.
	Fail
	// Info completes an operation whose outcome is unknown.
	Info
)

var typeNames = [...]string{Invoke: "invoke", OK: "ok", Fail: "fail", Info: "info"}

func (t Type) String() string {
	if t >= Invoke && t <= Info {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType parses invoke, ok, fail or info (with or without a leading colon).
func ParseType(s string) (Type, error) {
	if len(s) > 0 && s[0] == ':' {
		s = s[1:]
	}
	switch s {
	case "invoke":
		return Invoke, nil
	case "ok":
		return OK, nil
	case "fail":
		return Fail, nil
	case "info":
		return Info, nil
	}
	return 0, fmt.Errorf("unknown op type %q (want invoke, ok, fail or info)", s)
}

// MarshalJSON writes the type's name.
func (t Type) MarshalJSON() ([]byte, error) { return []byte(`"` + t.String() + `"`), nil }

// UnmarshalJSON reads a type's name.
func (t *Type) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("op type must be a string: %w", err)
	}
	v, err := ParseType(s)
	*t = v
	return err
}

// Process identifies a sequential thread of operations. Client processes are
// numbered from 0; the nemesis is Nemesis and is written as "nemesis".
type Process int

// Nemesis is the process of fault operations.
const Nemesis Process = -1

func (p Process) String() string {
	if p == Nemesis {
		return "nemesis"
	}
	return strconv.Itoa(int(p))
}

// MarshalJSON writes a number, or "nemesis".
func (p Process) MarshalJSON() ([]byte, error) {
	if p == Nemesis {
		return []byte(`"nemesis"`), nil
	}
	return strconv.AppendInt(nil, int64(p), 10), nil
}

// UnmarshalJSON reads a non-negative number or "nemesis".
func (p *Process) UnmarshalJSON(b []byte) error {
	v, err := parseProcess(string(bytes.Trim(b, `"`)))
	*p = v
	return err
}

func parseProcess(s string) (Process, error) {
	if s == "nemesis" || s == ":nemesis" {
		return Nemesis, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("process %q is neither a non-negative integer nor \"nemesis\"", s)
	}
	return Process(n), nil
}

// Semantics is how the linearizability checker reads an op where faultline
// and Knossos disagree: a read of nil, and a failed op. See the package doc.
type Semantics uint8

const (
	// SemanticsUnset: the op does not say, which reads as faultline's.
	SemanticsUnset Semantics = iota
	// SemanticsFaultline is faultline's strict reading: a read of nil means
	// the register held nil, and a cas that failed without an error
	// compared and saw another value.
	SemanticsFaultline
	// SemanticsKnossos is Knossos' reading, which Jepsen's checkers use: a
	// read of nil is a read whose value is unknown and matches any state,
	// and a failed op never happened.
	SemanticsKnossos
)

var semanticsNames = [...]string{SemanticsUnset: "", SemanticsFaultline: "faultline", SemanticsKnossos: "knossos"}

// String is "faultline" or "knossos" ("" when unset).
func (s Semantics) String() string {
	if int(s) < len(semanticsNames) {
		return semanticsNames[s]
	}
	return "semantics(" + strconv.Itoa(int(s)) + ")"
}

// ParseSemantics parses "faultline" or "knossos".
func ParseSemantics(s string) (Semantics, error) {
	switch s {
	case "faultline":
		return SemanticsFaultline, nil
	case "knossos":
		return SemanticsKnossos, nil
	}
	return 0, fmt.Errorf("unknown semantics %q (want faultline or knossos)", s)
}

// Op is one event of a history: an invocation or a completion.
type Op struct {
	Index   int64   `json:"index"`
	Time    int64   `json:"time"`
	Process Process `json:"process"`
	Type    Type    `json:"type"`
	// Semantics is the reading the op was recorded for: the readers of
	// Jepsen's formats (EDN, jepsen.util logs) set SemanticsKnossos,
	// faultline's JSONL leaves it unset. See History.Semantics. Not written.
	Semantics Semantics `json:"-"`
	// Synthetic marks an invocation that a reader made up for a completion
	// that had none (a history of completions only, as Elle's tests write
	// them); see ReadEDN. Pairs lets a process hold several of them open.
	// Not written.
	Synthetic bool `json:"-"`
	// Line is where the op was read from (1-based), for error messages; 0 if
	// the op was not read from a file. An int32 here keeps Op at 112 bytes
	// (a history of twenty million ops: 160 MB less than an int at the end).
	Line int32  `json:"-"`
	F    string `json:"f"`
	Key  string `json:"key,omitempty"`
	// Value is normalised: nil, bool, int64, float64, string, []any or
	// map[string]any.
	Value any    `json:"value"`
	Node  string `json:"node,omitempty"`
	Error string `json:"error,omitempty"`
}

func (o Op) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s", o.Process, o.Type, o.F)
	if o.Key != "" {
		fmt.Fprintf(&b, " key=%s", o.Key)
	}
	fmt.Fprintf(&b, " %s", FormatValue(o.Value))
	if o.Error != "" {
		fmt.Fprintf(&b, " error=%s", o.Error)
	}
	return b.String()
}

// FormatValue renders a normalised value compactly, Clojure-style: nil,
// 3, "s", [1 2], {a 1}.
func FormatValue(v any) string {
	var b []byte
	return string(appendValueText(b, v))
}

func appendValueText(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "nil"...)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendValueText(b, e)
		}
		return append(b, ']')
	case string:
		return strconv.AppendQuote(b, x)
	default:
		js, err := json.Marshal(x)
		if err != nil {
			return fmt.Appendf(b, "%v", x)
		}
		return append(b, js...)
	}
}

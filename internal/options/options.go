// Package options is how targets and control backends declare the options
// they take (`--target-opt KEY=VALUE`, `target-options:` in a plan;
// `--control-opt KEY=VALUE`, `control-options:`) and how given values are
// checked against them, so that a typo is an error naming the option and
// what is allowed, and `faultline list` can show every option with its
// default.
package options

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec is one option.
type Spec struct {
	// Name is the key, e.g. "read-consistency".
	Name string
	// Doc is one line for `faultline list`.
	Doc string
	// Default is the value when none is given ("" for none).
	Default string
	// Values, if set, are the only values allowed.
	Values []string
	// Check, if set, validates a given value.
	Check func(string) error

	_ struct{}
}

// Values are resolved options: every Spec's name, given or defaulted.
type Values map[string]string

// Resolve checks given against specs and fills in defaults. what names the
// owner in errors, e.g. "target etcd".
func Resolve(what string, specs []Spec, given map[string]string) (Values, error) {
	out := Values{}
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(given)) {
		s, ok := find(specs, k)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s has no option %q (its options: %s)", what, k, names(specs)))
			continue
		}
		v := given[k]
		if len(s.Values) > 0 && !slices.Contains(s.Values, v) {
			errs = append(errs, fmt.Sprintf("%s option %s=%q: want one of %s", what, k, v, strings.Join(s.Values, ", ")))
			continue
		}
		if s.Check != nil {
			if err := s.Check(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s option %s=%q: %v", what, k, v, err))
				continue
			}
		}
		out[k] = v
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	for _, s := range specs {
		if _, ok := out[s.Name]; !ok {
			out[s.Name] = s.Default
		}
	}
	return out, nil
}

func find(specs []Spec, name string) (Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

func names(specs []Spec) string {
	if len(specs) == 0 {
		return "none"
	}
	var ns []string
	for _, s := range specs {
		ns = append(ns, s.Name)
	}
	return strings.Join(ns, ", ")
}

// ParseKV parses KEY=VALUE (as given to --target-opt) into m.
func ParseKV(m map[string]string, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", kv)
	}
	m[k] = v
	return nil
}

// Get is the value of name ("" if unset).
func (v Values) Get(name string) string { return v[name] }

// Bool is name as a boolean: true, yes, on or 1.
func (v Values) Bool(name string) bool {
	b, _ := ParseBool(v[name])
	return b
}

// Int is name as an integer (0 if unset or bad: Check it in the Spec).
func (v Values) Int(name string) int {
	n, _ := strconv.Atoi(v[name])
	return n
}

// Duration is name as a duration (0 if unset or bad: Check it in the
// Spec).
func (v Values) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(v[name])
	return d
}

// ParseBool accepts true/false, yes/no, on/off, 1/0.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", s)
}

// CheckBool is a Spec.Check for booleans.
func CheckBool(s string) error { _, err := ParseBool(s); return err }

// CheckInt is a Spec.Check for integers in [lo, hi].
func CheckInt(lo, hi int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("want an integer from %d to %d", lo, hi)
		}
		return nil
	}
}

// CheckDuration is a Spec.Check for durations with a unit (30s, 5m).
func CheckDuration(s string) error {
	if s == "" {
		return nil
	}
	if _, err := time.ParseDuration(s); err != nil {
		return fmt.Errorf("want a duration with a unit, e.g. 30s")
	}
	return nil
}

// Describe formats specs for people: one line each, with the default and
// the allowed values.
func Describe(specs []Spec) []string {
	var out []string
	for _, s := range specs {
		line := s.Name + "\t" + s.Doc
		switch {
		case len(s.Values) > 0:
			line += " (" + strings.Join(s.Values, "|") + "; default " + orNone(s.Default) + ")"
		case s.Default != "":
			line += " (default " + s.Default + ")"
		}
		out = append(out, line)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

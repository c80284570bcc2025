package reports

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/faultline-dev/faultline/checker"
)

// causeView is a linearizability failure's cause as the report shows it:
// the story in a sentence, the operations it names (each with its node
// and times), and the faults in effect.
type causeView struct {
	Kind   string // stale-read…
	Label  string // "stale read"
	Text   string
	Ops    []causeOp
	Faults []causeFault
	// NoFault says the op ran before the history's first fault.
	NoFault bool
}

type causeOp struct {
	Role string // what the op is to the story: "the read", "the write it missed"…
	opView
}

type causeFault struct {
	Fault, Text, Color string
	HealedBefore       bool
}

// causeViews reads a key's causes. Colours are the faults' as the plots
// draw them.
func causeViews(causes []checker.Cause, colors map[string]string) []causeView {
	var out []causeView
	for _, c := range causes {
		v := causeView{Kind: c.Kind, Label: strings.ReplaceAll(c.Kind, "-", " "), Text: sentence(c.Text, true), NoFault: c.BeforeFaults}
		isRead := c.Op.F == "read" || c.Op.F == "get"
		role := "could not come next"
		switch {
		case isRead:
			role = "the read"
		case c.Op.F != "":
			role = "the " + c.Op.F
		}
		v.Ops = append(v.Ops, causeOp{Role: role, opView: opFromRef(c.Op)})
		if c.Missed != nil {
			r := "the write it missed"
			if !isRead && c.Kind != checker.CauseCAS {
				r = "left the state"
			}
			v.Ops = append(v.Ops, causeOp{Role: r, opView: opFromRef(*c.Missed)})
		}
		if c.SeenBy != nil {
			v.Ops = append(v.Ops, causeOp{Role: "had already read it", opView: opFromRef(*c.SeenBy)})
		}
		if c.ReturnedBy != nil {
			r := "wrote what it read"
			switch {
			case c.Kind == checker.CauseCAS:
				r = "wrote what it compared"
			case c.Kind == checker.CauseFutureRead:
				r = "wrote it, later"
			}
			v.Ops = append(v.Ops, causeOp{Role: r, opView: opFromRef(*c.ReturnedBy)})
		}
		for _, f := range c.Faults {
			color := colors[f.Fault]
			if color == "" {
				color = "#9a9a9a"
			}
			v.Faults = append(v.Faults, causeFault{Fault: f.Fault, Text: sentence(f.Text, false), Color: color, HealedBefore: f.HealedBefore})
		}
		out = append(out, v)
	}
	return out
}

// sentence ends s with a full stop and, if asked, capitalises it (not a
// text that begins with a node's name: n3 stays n3).
func sentence(s string, capital bool) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if capital {
		r, n := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	// A time does not break from its unit: "9.375 s".
	return secondsUnit.ReplaceAllString(s, "$1\u00a0s")
}

var secondsUnit = regexp.MustCompile(`(\d) s\b`)

// causeTally counts the failing keys shown by the kind of their first
// cause and by the faults then: "Of these 26 keys: 24 stale reads, 2 cas;
// 5 while a fault was in effect, 2 after one was healed, 19 before the
// first fault." Empty when fewer than two keys have a cause.
func causeTally(secs []linSection) string {
	var order []string
	kinds := map[string]int{}
	var inEffect, healed, before, n int
	for _, s := range secs {
		if len(s.Causes) == 0 {
			continue
		}
		n++
		c := s.Causes[0]
		label := strings.ReplaceAll(c.Kind, "-", " ")
		if kinds[label] == 0 {
			order = append(order, label)
		}
		kinds[label]++
		switch {
		case c.BeforeFaults:
			before++
		case len(c.Faults) > 0 && c.Faults[0].HealedBefore:
			healed++
		case len(c.Faults) > 0:
			inEffect++
		}
	}
	if n < 2 {
		return ""
	}
	var parts []string
	for _, k := range order {
		word := k
		if kinds[k] > 1 && strings.HasSuffix(k, "read") {
			word += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", kinds[k], word))
	}
	out := fmt.Sprintf("Of these %d keys, by the first operation that could not come next: %s", n, strings.Join(parts, ", "))
	var when []string
	if inEffect > 0 {
		when = append(when, fmt.Sprintf("%d while a fault was in effect", inEffect))
	}
	if healed > 0 {
		when = append(when, fmt.Sprintf("%d after a fault was healed", healed))
	}
	if before > 0 {
		when = append(when, fmt.Sprintf("%d before the first fault", before))
	}
	if len(when) > 0 {
		out += "; " + strings.Join(when, ", ")
	}
	return out + "."
}

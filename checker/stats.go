package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/faultline-dev/faultline/histories"
)

// StatCounts is how a kind of operation (an f) completed. An op that never
// completed counts as info.
type StatCounts struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

// Stats counts client operations by f and outcome; Details is a
// map[string]StatCounts by f. It is valid unless no operation succeeded
// at all, in which case it is unknown: a test where nothing took effect
// tells nothing. Nemesis operations are not counted.
func Stats(h histories.History) Result {
	var b StatsBuilder
	for i := range h {
		b.Add(&h[i])
	}
	return b.Result()
}

// A StatsBuilder is Stats op by op.
type StatsBuilder struct {
	by      map[string]StatCounts
	pending map[histories.Process]string
	total   StatCounts
}

// Add takes one more op.
func (b *StatsBuilder) Add(op *histories.Op) {
	if op.Process == histories.Nemesis {
		return
	}
	if b.by == nil {
		b.by, b.pending = map[string]StatCounts{}, map[histories.Process]string{}
	}
	if op.Type == histories.Invoke {
		b.pending[op.Process] = op.F
		return
	}
	c := b.by[op.F]
	switch op.Type {
	case histories.OK:
		c.OK++
		b.total.OK++
	case histories.Fail:
		c.Fail++
		b.total.Fail++
	case histories.Info:
		c.Info++
		b.total.Info++
	}
	b.by[op.F] = c
	delete(b.pending, op.Process)
}

// Result is Stats of the ops added.
func (b *StatsBuilder) Result() Result {
	by, total := map[string]StatCounts{}, b.total
	for f, c := range b.by {
		by[f] = c
	}
	for _, f := range b.pending {
		c := by[f]
		c.Info++
		total.Info++
		by[f] = c
	}
	fs := make([]string, 0, len(by))
	for f := range by {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	parts := make([]string, len(fs))
	for i, f := range fs {
		c := by[f]
		parts[i] = fmt.Sprintf("%s %d/%d/%d", f, c.OK, c.Fail, c.Info)
	}
	n := total.OK + total.Fail + total.Info
	summary := fmt.Sprintf("%d ops: %d ok, %d fail, %d info", n, total.OK, total.Fail, total.Info)
	if len(parts) > 0 {
		summary += " (ok/fail/info by f: " + strings.Join(parts, ", ") + ")"
	}
	r := Result{Valid: Valid, Summary: summary, Details: by}
	if total.OK == 0 {
		r.Valid = Unknown
		r.Summary = "unknown: no operation succeeded, so the test tells nothing; " + summary
	}
	return r
}

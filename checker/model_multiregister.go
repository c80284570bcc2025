package checker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

var multiRegisterModel = &modelDef{
	name: "multi-register",
	doc:  "Knossos' multi-register: txn ops whose value is a list of [read k v] / [write k v] on a map of registers",
	fs:   "txn",
	initial: func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return map[string]*val{}, nil
		case map[string]any:
			out := make(map[string]*val, len(x))
			for k, e := range x {
				ev, ok := newVal(e)
				if !ok {
					return nil, fmt.Errorf("initial value of register %s must be nil, an integer or a string, not %s", k, shape(e))
				}
				out[k] = &ev
			}
			return out, nil
		}
		return nil, fmt.Errorf("a multi-register's initial value must be a map of register to value, not %s", shape(v))
	},
	decode:          decodeTxn,
	newModel:        newMultiRegister,
	semanticsDiffer: true,
}

func decodeTxn(h histories.History, p histories.Pair, part *partition, o *lop) (bool, error) {
	inv := &h[p.Invoke]
	if inv.F != "txn" {
		return false, fmt.Errorf("unknown op f %q: a multi-register knows txn", inv.F)
	}
	outcome := h.Outcome(p)
	if outcome == histories.Fail {
		return false, nil
	}
	// An ok txn's reads are in its completion; fall back to the invocation
	// if the completion carries no value.
	v := inv.Value
	errorf := fmt.Errorf
	if outcome == histories.OK {
		if c, ok := h[p.Complete].Value.([]any); ok {
			v, errorf = c, atCompletion
		}
	}
	list, ok := v.([]any)
	if !ok {
		return false, errorf("txn value is %s, not a list of [read k v] / [write k v]", shape(v))
	}
	o.kind = opTxn
	o.txn = make([]micro, 0, len(list))
	writes := false
	for _, m := range list {
		mop, ok := m.([]any)
		if !ok || len(mop) != 3 {
			return false, errorf("micro-op %s is not [f k v]", histories.FormatValue(m))
		}
		f, _ := mop[0].(string)
		if f != "read" && f != "write" {
			return false, errorf("micro-op %s is neither read nor write", histories.FormatValue(m))
		}
		var name string
		switch k := mop[1].(type) {
		case string:
			name = k
		case int64:
			name = strconv.FormatInt(k, 10)
		default:
			return false, errorf("micro-op %s: the register must be named by a string or an integer", histories.FormatValue(m))
		}
		x, ok := newVal(mop[2])
		if !ok {
			return false, errorf("micro-op %s: a register holds nil, an integer or a string", histories.FormatValue(m))
		}
		if f == "read" && (outcome != histories.OK || x.v == nil && part.knossos) {
			// An unknown read tells nothing, and Knossos reads nil as
			// unknown.
			continue
		}
		writes = writes || f == "write"
		o.txn = append(o.txn, micro{write: f == "write", reg: part.reg(name), v: x})
	}
	// A txn that wrote nothing and whose reads are unknown tells nothing.
	if part.knossos && len(o.txn) == 0 {
		return false, nil
	}
	return outcome == histories.OK || writes, nil
}

func (part *partition) reg(name string) int {
	if part.regs == nil {
		part.regs = map[string]int{}
	}
	if r, ok := part.regs[name]; ok {
		return r
	}
	part.regs[name] = len(part.names)
	part.names = append(part.names, name)
	return len(part.names) - 1
}

// mstate is a multi-register's state: the value of each register of the
// partition, by number, and a hash of them all, kept up to date on writes.
type mstate struct {
	vals []*val
	h    uint64
}

func regTerm(r int, v *val) uint64 { return mix64(v.h + uint64(r)*0x9e3779b97f4a7c15) }

func (s *mstate) equal(t *mstate) bool {
	if s == t {
		return true
	}
	if s.h != t.h {
		return false
	}
	for i := range s.vals {
		if !s.vals[i].equal(t.vals[i]) {
			return false
		}
	}
	return true
}

func newMultiRegister(part *partition, init any) porcupine.Model {
	initial := init.(map[string]*val)
	nilVal, _ := newVal(nil)
	s0 := &mstate{vals: make([]*val, len(part.names))}
	for r, name := range part.names {
		v, ok := initial[name]
		if !ok {
			v = &nilVal
		}
		s0.vals[r] = v
		s0.h += regTerm(r, v)
	}
	return porcupine.Model{
		Init: func() any { return s0 },
		Step: func(state, input, _ any) (bool, any) {
			s := state.(*mstate)
			o := input.(*lop)
			cur := s
			for i := range o.txn {
				m := &o.txn[i]
				if !m.write {
					if !cur.vals[m.reg].equal(&m.v) {
						return false, s
					}
					continue
				}
				if cur == s {
					cur = &mstate{vals: append([]*val(nil), s.vals...), h: s.h}
				}
				cur.h += regTerm(m.reg, &m.v) - regTerm(m.reg, cur.vals[m.reg])
				cur.vals[m.reg] = &m.v
			}
			return true, cur
		},
		Equal: func(a, b any) bool { return a.(*mstate).equal(b.(*mstate)) },
		Hash:  func(s any) uint64 { return s.(*mstate).h },
		DescribeOperation: func(input, _ any) string {
			o := input.(*lop)
			var b strings.Builder
			b.WriteString("txn [")
			for i, m := range o.txn {
				if i > 0 {
					b.WriteByte(' ')
				}
				f := "read"
				if m.write {
					f = "write"
				}
				fmt.Fprintf(&b, "[%s %s %s]", f, part.names[m.reg], m.v.String())
			}
			return b.String() + "]" + infoSuffix(o)
		},
		DescribeState: func(state any) string {
			s := state.(*mstate)
			order := make([]int, len(s.vals))
			for i := range order {
				order[i] = i
			}
			sort.Slice(order, func(i, j int) bool { return part.names[order[i]] < part.names[order[j]] })
			var b strings.Builder
			b.WriteByte('{')
			for i, r := range order {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s %s", part.names[r], s.vals[r].String())
			}
			return b.String() + "}"
		},
		DescribeOperationMetadata: part.describeMetadata,
	}
}

package checker

import (
	"fmt"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

var registerModel = &modelDef{
	name:    "register",
	doc:     "a read/write register per key (read, write); nil until written unless an initial value is given",
	fs:      "read and write",
	initial: scalarInitial,
	decode:  decodeRegister(false),
	newModel: func(part *partition, init any) porcupine.Model {
		return registerPorcupine(part, init.(*val))
	},
	semanticsDiffer: true,
}

var casRegisterModel = &modelDef{
	name:    "cas-register",
	doc:     "a compare-and-set register per key (read, write, cas [old new]); a failed cas without an error saw a value other than old",
	fs:      "read, write and cas",
	initial: scalarInitial,
	decode:  decodeRegister(true),
	newModel: func(part *partition, init any) porcupine.Model {
		return registerPorcupine(part, init.(*val))
	},
	semanticsDiffer: true,
}

func decodeRegister(cas bool) func(h histories.History, p histories.Pair, part *partition, o *lop) (bool, error) {
	return func(h histories.History, p histories.Pair, part *partition, o *lop) (bool, error) {
		inv := &h[p.Invoke]
		outcome := h.Outcome(p)
		if outcome == histories.Fail && part.knossos {
			return false, nil // Knossos: a failed op never happened
		}
		switch inv.F {
		case "read":
			// A read whose outcome is unknown or failed tells nothing.
			if outcome != histories.OK {
				return false, nil
			}
			v, ok := newVal(h[p.Complete].Value)
			if !ok {
				return false, atCompletion("read returned %s; a register holds nil, an integer or a string", shape(h[p.Complete].Value))
			}
			if v.v == nil && part.knossos {
				return false, nil // Knossos: a read of nil matches any state
			}
			o.kind, o.out = opRead, v
		case "write":
			if outcome == histories.Fail {
				return false, nil
			}
			v, ok := newVal(inv.Value)
			if !ok {
				return false, fmt.Errorf("write of %s; a register holds nil, an integer or a string", shape(inv.Value))
			}
			o.kind, o.a = opWrite, v
		case "cas":
			if !cas {
				return false, fmt.Errorf("the register model has no cas; use the cas-register model")
			}
			if outcome == histories.Fail && h[p.Complete].Error != "" {
				// Failed for a reason other than the compare: no effect.
				return false, nil
			}
			pair, ok := inv.Value.([]any)
			if !ok || len(pair) != 2 {
				return false, fmt.Errorf("cas value is %s %s, not [old new]", shape(inv.Value), histories.FormatValue(inv.Value))
			}
			a, okA := newVal(pair[0])
			b, okB := newVal(pair[1])
			if !okA || !okB {
				return false, fmt.Errorf("cas value %s: old and new must be nil, integers or strings", histories.FormatValue(inv.Value))
			}
			o.kind, o.a, o.b = opCAS, a, b
		default:
			if cas {
				return false, fmt.Errorf("unknown op f %q: a cas-register knows read, write and cas", inv.F)
			}
			return false, fmt.Errorf("unknown op f %q: a register knows read and write (use the cas-register model for cas)", inv.F)
		}
		return true, nil
	}
}

// registerStep is a (cas-)register: the state is a *val, the value held.
func registerStep(state, input, _ any) (bool, any) {
	s := state.(*val)
	o := input.(*lop)
	switch o.kind {
	case opRead:
		return s.equal(&o.out), s
	case opWrite:
		return true, &o.a
	case opCAS:
		match := s.equal(&o.a)
		switch o.outcome {
		case histories.OK:
			if match {
				return true, &o.b
			}
			return false, s
		case histories.Fail: // the compare did not match
			return !match, s
		default: // info: takes effect if it matches; "never happened" is the end of the order
			if match {
				return true, &o.b
			}
			return true, s
		}
	}
	return false, s
}

func registerPorcupine(part *partition, init *val) porcupine.Model {
	return porcupine.Model{
		Init:  func() any { return init },
		Step:  registerStep,
		Equal: func(a, b any) bool { return a.(*val).equal(b.(*val)) },
		DescribeOperation: func(input, _ any) string {
			return describeRegisterOp(input.(*lop))
		},
		DescribeState:             func(s any) string { return s.(*val).String() },
		DescribeOperationMetadata: part.describeMetadata,
	}
}

func describeRegisterOp(o *lop) string {
	var s string
	switch o.kind {
	case opRead:
		s = "read → " + o.out.String()
	case opWrite:
		s = "write " + o.a.String()
	case opCAS:
		s = "cas " + o.a.String() + " → " + o.b.String()
		if o.outcome == histories.Fail {
			s += " (compare failed)"
		}
	}
	return s + infoSuffix(o)
}

func infoSuffix(o *lop) string {
	if o.outcome == histories.Info {
		return " (info)"
	}
	return ""
}

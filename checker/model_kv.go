package checker

import (
	"fmt"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

var kvModel = &modelDef{
	name: "kv",
	doc:  `a string per key (get, put, append); a key never written reads as ""`,
	fs:   "get, put and append",
	initial: func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return &val{"", hashString("")}, nil
		case string:
			s := stringVal(x)
			return &s, nil
		}
		return nil, fmt.Errorf("a kv's initial value must be a string, not %s", shape(v))
	},
	decode: decodeKV,
	newModel: func(part *partition, init any) porcupine.Model {
		return porcupine.Model{
			Init:  func() any { return init },
			Step:  kvStep,
			Equal: func(a, b any) bool { return a.(*val).equal(b.(*val)) },
			// Concurrent appends reach many states per linearized set:
			// porcupine's cache needs the hash to tell them apart.
			Hash: func(s any) uint64 { return s.(*val).h },
			DescribeOperation: func(input, _ any) string {
				o := input.(*lop)
				var s string
				switch o.kind {
				case opGet:
					s = "get → " + o.out.String()
				case opPut:
					s = "put " + o.a.String()
				case opAppend:
					s = "append " + o.a.String()
				}
				return s + infoSuffix(o)
			},
			DescribeState:             func(s any) string { return s.(*val).String() },
			DescribeOperationMetadata: part.describeMetadata,
		}
	},
}

func decodeKV(h histories.History, p histories.Pair, _ *partition, o *lop) (bool, error) {
	inv := &h[p.Invoke]
	outcome := h.Outcome(p)
	switch inv.F {
	case "get":
		if outcome != histories.OK {
			return false, nil
		}
		switch v := h[p.Complete].Value.(type) {
		case nil:
			o.out = stringVal("")
		case string:
			o.out = stringVal(v)
		default:
			return false, atCompletion("get returned %s; a kv holds strings", shape(v))
		}
		o.kind = opGet
	case "put", "append":
		if outcome == histories.Fail {
			return false, nil
		}
		s, ok := inv.Value.(string)
		if !ok {
			return false, fmt.Errorf("%s of %s; a kv holds strings", inv.F, shape(inv.Value))
		}
		o.kind, o.a = opPut, stringVal(s)
		if inv.F == "append" {
			o.kind = opAppend
		}
	default:
		return false, fmt.Errorf("unknown op f %q: a kv knows get, put and append", inv.F)
	}
	return true, nil
}

// kvStep is one key of a kv: the state is a *val holding a string.
func kvStep(state, input, _ any) (bool, any) {
	s := state.(*val)
	o := input.(*lop)
	switch o.kind {
	case opGet:
		return s.equal(&o.out), s
	case opPut:
		return true, &o.a
	case opAppend:
		if o.a.v.(string) == "" {
			return true, s
		}
		n := stringVal(s.v.(string) + o.a.v.(string))
		return true, &n
	}
	return false, s
}

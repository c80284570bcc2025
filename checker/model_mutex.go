package checker

import (
	"fmt"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

var mutexModel = &modelDef{
	name: "mutex",
	doc:  "a lock per key (acquire, release): acquire only when free, release only when held",
	fs:   "acquire and release",
	initial: func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return false, nil
		case bool:
			return x, nil
		}
		return nil, fmt.Errorf("a mutex's initial value must be a boolean (held), not %s", shape(v))
	},
	decode: func(h histories.History, p histories.Pair, _ *partition, o *lop) (bool, error) {
		inv := &h[p.Invoke]
		switch inv.F {
		case "acquire":
			o.kind = opAcquire
		case "release":
			o.kind = opRelease
		default:
			return false, fmt.Errorf("unknown op f %q: a mutex knows acquire and release", inv.F)
		}
		// A failed acquire did not get the lock; a failed release did not
		// free it.
		return h.Outcome(p) != histories.Fail, nil
	},
	newModel: func(part *partition, init any) porcupine.Model {
		return porcupine.Model{
			Init: func() any { return init },
			Step: mutexStep,
			DescribeOperation: func(input, _ any) string {
				o := input.(*lop)
				if o.kind == opAcquire {
					return "acquire" + infoSuffix(o)
				}
				return "release" + infoSuffix(o)
			},
			DescribeState: func(s any) string {
				if s.(bool) {
					return "held"
				}
				return "free"
			},
			DescribeOperationMetadata: part.describeMetadata,
		}
	},
}

// mutexStep is a lock: the state is a bool, held. An info op may take effect
// where it can; where it cannot (acquire of a held lock) it is a no-op, as it
// never happened.
func mutexStep(state, input, _ any) (bool, any) {
	held := state.(bool)
	o := input.(*lop)
	info := o.outcome == histories.Info
	switch o.kind {
	case opAcquire:
		if !held {
			return true, true
		}
		return info, held
	case opRelease:
		if held {
			return true, false
		}
		return info, held
	}
	return false, held
}

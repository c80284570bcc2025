package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/anishathalye/porcupine"
	"github.com/faultline-dev/faultline/histories"
)

// ModelInfo names a linearizability model and says in one line what it is.
type ModelInfo struct {
	Name        string
	Description string
}

// opKind is what a linearizable op does, as its model decoded it.
type opKind uint8

const (
	opRead opKind = iota + 1
	opWrite
	opCAS
	opGet
	opPut
	opAppend
	opAcquire
	opRelease
	opTxn
)

// lop is one operation as a linearizability model sees it: a completed or
// open client op that may have taken effect. The porcupine ops of a key point
// at these (as Input and Metadata), so that building them allocates nothing
// per op and a model state can point at a value inside an op.
type lop struct {
	inv, comp int            // positions in the history; comp is histories.Open if it never completed
	outcome   histories.Type // OK, Info (incl. never completed), or Fail (a cas whose compare did not match)
	kind      opKind
	a, b      val // write/put/append value; cas old (a) and new (b)
	out       val // what a read/get returned
	txn       []micro
}

// micro is one micro-op of a multi-register txn.
type micro struct {
	write bool
	reg   int // register number within the key's partition
	v     val
}

// partition is one key's share of the history, and what a model builds
// while decoding its ops (the multi-register's names of registers).
type partition struct {
	h       histories.History
	key     string
	knossos bool // read with Knossos' semantics (see LinearizableOptions.Semantics)
	regs    map[string]int
	names   []string
}

// modelDef is a linearizability model: how to read a history's ops into
// lops, and the porcupine model over them.
type modelDef struct {
	name string
	doc  string
	fs   string // the fs it knows, for errors
	// initial checks opts.Initial and converts it to what newModel wants.
	initial func(v any) (any, error)
	// decode fills o from the pair p; keep=false drops the op (a fail, or a
	// read whose outcome is unknown). Errors say what is wrong with the op;
	// the caller says where.
	decode func(h histories.History, p histories.Pair, part *partition, o *lop) (keep bool, err error)
	// newModel is the porcupine model of one key's ops (after decode).
	newModel func(part *partition, init any) porcupine.Model
	// semanticsDiffer says that the model reads a history differently under
	// Knossos' semantics than under faultline's (reads of nil, failed cas).
	semanticsDiffer bool
}

var models = []*modelDef{registerModel, casRegisterModel, multiRegisterModel, mutexModel, kvModel}

// Models lists the linearizability models, for `faultline list`.
func Models() []ModelInfo {
	out := make([]ModelInfo, len(models))
	for i, m := range models {
		out[i] = ModelInfo{Name: m.name, Description: m.doc}
	}
	return out
}

// SemanticsNote says in a line what a read of nil and a failed op mean to
// model under s, for faultline check's output; "" if model reads them the
// same under both semantics (kv, mutex) or is unknown.
func SemanticsNote(model string, s histories.Semantics) string {
	def, err := lookupModel(model)
	if err != nil || !def.semanticsDiffer {
		return ""
	}
	if s == histories.SemanticsKnossos {
		return "a read of nil is a read of an unknown value, which matches any state, and a failed op never happened"
	}
	return "a read of nil means the register held nil, and a cas that failed without an error compared and saw another value"
}

func modelNames() string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

func lookupModel(name string) (*modelDef, error) {
	for _, m := range models {
		if m.name == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("unknown model %q: the models are %s", name, modelNames())
}

// InferModel picks the model a history's fs make clear: any cas means
// cas-register; get/put/append kv; acquire/release mutex; txn whose micro-ops
// are read/write multi-register. Only read and write is register (a
// cas-register gives the same verdicts). Anything else is an error saying
// that --model is required.
func InferModel(h histories.History) (string, error) {
	fs := map[string]bool{}
	for i := range h {
		op := &h[i]
		if op.Process == histories.Nemesis || op.Type != histories.Invoke {
			continue
		}
		fs[op.F] = true
		if op.F == "txn" {
			if err := txnMicroFs(op.Value); err != nil {
				return "", fmt.Errorf("cannot infer the model: op at index %d is a txn that is not a multi-register's (%v); --model is required (one of %s), or use a transactional checker", op.Index, err, modelNames())
			}
		}
	}
	if len(fs) == 0 {
		return "", fmt.Errorf("cannot infer the model: the history has no client operations; --model is required (one of %s)", modelNames())
	}
	within := func(allowed ...string) bool {
		for f := range fs {
			found := false
			for _, a := range allowed {
				if f == a {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	switch {
	case within("read", "write"):
		return "register", nil
	case within("read", "write", "cas"):
		return "cas-register", nil
	case within("get", "put", "append"):
		return "kv", nil
	case within("acquire", "release"):
		return "mutex", nil
	case within("txn"):
		return "multi-register", nil
	}
	list := make([]string, 0, len(fs))
	for f := range fs {
		list = append(list, f)
	}
	sort.Strings(list)
	return "", fmt.Errorf("cannot infer the model from the ops' fs (%s); --model is required (one of %s)", strings.Join(list, ", "), modelNames())
}

// txnMicroFs checks that a txn's value is a list of [read k v] / [write k v].
func txnMicroFs(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("its value is %s, not a list of micro-ops", shape(v))
	}
	for _, m := range list {
		mop, ok := m.([]any)
		if !ok || len(mop) != 3 {
			return fmt.Errorf("micro-op %s is not [f k v]", histories.FormatValue(m))
		}
		if f, _ := mop[0].(string); f != "read" && f != "write" {
			return fmt.Errorf("micro-op %s is neither read nor write", histories.FormatValue(m))
		}
	}
	return nil
}

// OpError is a history op that the model cannot interpret. Index and Line
// say which op (Line is 0 when the history was not read from a file).
type OpError struct {
	Index int64
	Line  int
	Model string
	Msg   string
}

func (e *OpError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d (op index %d): model %s: %s", e.Line, e.Index, e.Model, e.Msg)
	}
	return fmt.Sprintf("op index %d: model %s: %s", e.Index, e.Model, e.Msg)
}

// scalarInitial is a register's initial value: nil, an integer or a string.
func scalarInitial(v any) (any, error) {
	x, ok := newVal(v)
	if !ok {
		return nil, fmt.Errorf("initial value must be nil, an integer or a string, not %s", shape(v))
	}
	return &x, nil
}

// describeMetadata is porcupine's tooltip for an op: who ran it and where
// it is in the history.
func (part *partition) describeMetadata(m any) string {
	o, ok := m.(*lop)
	if !ok || o == nil {
		return ""
	}
	return part.where(o)
}

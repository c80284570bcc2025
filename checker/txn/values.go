package txn

import "github.com/faultline-dev/faultline/histories"

// opValues is where the parser finds each op's micro-ops: in the history's
// own values (anyValues), or, for a history read by the fast reader, in
// its compact encoding (encValues, ingest.go), the history carrying no
// value for transactions.
type opValues interface {
	// mops puts op i's micro-ops into d; false if its value is not a
	// list.
	mops(i int, d *mopBuf) bool
	// count is how many micro-ops op i has (0 if its value is not a list).
	count(i int) int
	// value is op i's value as the history has it.
	value(i int) any
}

// mopBuf holds one op's micro-ops, reused from op to op.
type mopBuf struct {
	m    []rawMop
	ints []int64 // the elements of encoded lists
}

// rawMop is one micro-op as written, before interning.
type rawMop struct {
	// list3: the micro-op is a list of three; nothing else is set if not.
	list3 bool
	f     string // its first element, if a string (fStr)
	fStr  bool
	key   rawVal
	val   rawVal
}

// Kinds of rawVal.
const (
	rvNull uint8 = iota
	rvInt
	rvStr
	rvList
	rvOther // float, bool, map …: only in a.
)

// rawVal is a key or value of a micro-op: from a history value (a is the
// value itself), or decoded (a is nil; a list's elements are ints).
type rawVal struct {
	kind uint8
	i    int64
	s    string
	a    any
	ints []int64
	// gid, if set, caches the key's id in the parser (-1 until known).
	gid *int32
}

func rawOf(v any) rawVal {
	switch x := v.(type) {
	case nil:
		return rawVal{kind: rvNull}
	case int64:
		return rawVal{kind: rvInt, i: x, a: v}
	case string:
		return rawVal{kind: rvStr, s: x, a: v}
	case []any:
		return rawVal{kind: rvList, a: v}
	}
	return rawVal{kind: rvOther, a: v}
}

// any is the value as a history holds it.
func (r *rawVal) any() any {
	if r.a != nil {
		return r.a
	}
	switch r.kind {
	case rvInt:
		return r.i
	case rvStr:
		return r.s
	case rvList:
		l := make([]any, len(r.ints))
		for i, x := range r.ints {
			l[i] = x
		}
		return l
	}
	return nil
}

// same is sameScalar(r.any(), o.any()), without boxing.
func (r *rawVal) same(o *rawVal) bool {
	if r.kind != o.kind {
		return false
	}
	switch r.kind {
	case rvNull:
		return true
	case rvInt:
		return r.i == o.i
	case rvStr:
		return r.s == o.s
	case rvOther:
		return sameScalar(r.a, o.a)
	}
	return false
}

// list is a list value's elements.
func (r *rawVal) list() rawList {
	if r.a != nil {
		return rawList{anys: r.a.([]any)}
	}
	return rawList{ints: r.ints, decoded: true}
}

// rawList is a list read: a history's []any, or decoded integers.
type rawList struct {
	anys    []any
	ints    []int64
	decoded bool
}

func (l rawList) len() int {
	if l.decoded {
		return len(l.ints)
	}
	return len(l.anys)
}

func (l rawList) code(c *valueCodes, i int) (int64, error) {
	if !l.decoded {
		return c.code(l.anys[i])
	}
	if !c.intern {
		return l.ints[i], nil
	}
	return c.code(l.ints[i])
}

// anyValues are a history's own values.
type anyValues histories.History

func (h anyValues) value(i int) any { return h[i].Value }

func (h anyValues) count(i int) int {
	v, _ := h[i].Value.([]any)
	return len(v)
}

func (h anyValues) mops(i int, d *mopBuf) bool { return anyMops(h[i].Value, d) }

// anyMops puts the micro-ops of a history value into d.
func anyMops(v any, d *mopBuf) bool {
	list, ok := v.([]any)
	if !ok {
		return false
	}
	d.m = d.m[:0]
	for _, raw := range list {
		var r rawMop
		if m, ok := raw.([]any); ok && len(m) == 3 {
			r.list3 = true
			r.f, r.fStr = m[0].(string)
			r.key, r.val = rawOf(m[1]), rawOf(m[2])
		}
		d.m = append(d.m, r)
	}
	return true
}

package txn

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/faultline-dev/faultline/histories"
)

// Micro-op kinds.
const (
	fAppend uint8 = iota + 1
	fRead
	fWrite
)

// Transaction outcomes.
const (
	stOK uint8 = iota + 1
	stInfo
	stFail
)

// Micro-op flags.
const (
	// mopNil: a register read that observed nil (the initial state).
	mopNil uint8 = 1 << iota
	// mopIncompat: an append read that is not a prefix of the key's longest
	// read.
	mopIncompat
	// mopIntKey: the key was written as an integer (see rebuiltValue).
	mopIntKey
	// mopNullVal: the value was written as null (see rebuiltValue).
	mopNullVal
)

// txn is one client transaction: an invocation and its completion.
type txn struct {
	inv, cmp int32 // positions in the history; cmp is -1 if it never completed
	m0, m1   int32 // its micro-ops are mops[m0:m1]
	proc     int32
	st       uint8
}

// mop is one micro-op, interned: keys and values are small integers.
type mop struct {
	f     uint8
	flags uint8
	key   int32
	// n is the length of an append read.
	n int32
	// slot is the element written (append, w), the register value read
	// (r, unless mopNil), or the last element of an append read (-1 when
	// the read is empty).
	slot int32
}

// Element flags.
const (
	// elIntermediate: its writer wrote the key again later in the txn.
	elIntermediate uint8 = 1 << iota
)

// elem is one value of one key: who wrote it and, for list-append, where it
// sits in the key's version order.
//
// There is one per element written, tens of millions in the largest
// histories, so it is kept to 24 bytes: the writing micro-op is held as
// its place in the writer's micro-ops (see wmop).
type elem struct {
	v      int64 // value code (see valueCodes)
	key    int32
	writer int32 // txn, or -1 if no transaction in the history wrote it
	pos    int32 // list-append: index in the key's order; -1 if never read
	woff   uint16
	flags  uint8
}

// maxTxnMops is how many micro-ops a transaction may have (elem.woff).
const maxTxnMops = math.MaxUint16

// wmop is the micro-op that wrote e, which has a writer.
func (p *parsed) wmop(e *elem) int32 { return p.txns[e.writer].m0 + int32(e.woff) }

// keyElems indexes one key's elements by value: a short vector scanned in
// place (a key usually has a few dozen values, and scanning them beats a
// history-wide hash table's cache misses), turning into a map once long.
type keyElems struct {
	vals  []int64
	slots []int32
	m     map[int64]int32
}

const keyElemsScan = 48

func (ke *keyElems) find(code int64) (int32, bool) {
	if ke.m != nil {
		s, ok := ke.m[code]
		return s, ok
	}
	for i, v := range ke.vals {
		if v == code {
			return ke.slots[i], true
		}
	}
	return -1, false
}

func (ke *keyElems) add(code int64, s int32) {
	if ke.m != nil {
		ke.m[code] = s
		return
	}
	if ke.vals == nil {
		ke.vals, ke.slots = make([]int64, 0, 8), make([]int32, 0, 8)
	}
	ke.vals = append(ke.vals, code)
	ke.slots = append(ke.slots, s)
	if len(ke.vals) > keyElemsScan {
		ke.m = make(map[int64]int32, 2*len(ke.vals))
		for i, v := range ke.vals {
			ke.m[v] = ke.slots[i]
		}
		ke.vals, ke.slots = nil, nil
	}
}

// lookup is the element of key with value code, if any.
func (p *parsed) lookup(key int32, code int64) (int32, bool) {
	return p.keyEls[key].find(code)
}

// valueCodes turns values into int64 codes. Integer values are their own
// codes, which keeps the common case free of hashing; a history with any
// other value (a string) is read again with every value interned.
type valueCodes struct {
	intern bool
	codes  map[any]int64
	vals   []any
}

var errNeedIntern = errors.New("non-integer value")

func (c *valueCodes) code(v any) (int64, error) {
	if !c.intern {
		if i, ok := v.(int64); ok {
			return i, nil
		}
		return 0, errNeedIntern
	}
	switch v.(type) {
	case int64, string, float64, bool:
	default:
		return 0, fmt.Errorf("value %s is not a number or a string", histories.FormatValue(v))
	}
	if x, ok := c.codes[v]; ok {
		return x, nil
	}
	x := int64(len(c.vals))
	c.codes[v] = x
	c.vals = append(c.vals, v)
	return x, nil
}

// codeOf is code of a micro-op's value.
func (c *valueCodes) codeOf(r *rawVal) (int64, error) {
	if r.kind == rvInt && !c.intern {
		return r.i, nil
	}
	return c.code(r.any())
}

func (c *valueCodes) value(x int64) any {
	if !c.intern {
		return x
	}
	return c.vals[x]
}

// opError is a history the checker cannot interpret, at an op.
type opError struct {
	line  int
	index int64
	msg   string
}

func (e *opError) Error() string {
	return fmt.Sprintf("line %d (op index %d): %s", e.line, e.index, e.msg)
}

func lineOf(h histories.History, i int) int {
	if h[i].Line != 0 {
		return int(h[i].Line)
	}
	return i + 1
}

func errAtOp(h histories.History, i int, format string, args ...any) error {
	return &opError{line: lineOf(h, i), index: h[i].Index, msg: fmt.Sprintf(format, args...)}
}

// keyOrder is a list-append key's version order as far as the reads reveal
// it: the longest read.
type keyOrder struct {
	vals  []int64 // value codes, in order
	slots []int32 // the element at each position
	// lt, lm: the txn and micro-op of the longest read.
	lt, lm int32
	// dupAt is the first position whose element repeats an earlier one; -1
	// if none.
	dupAt int32
	// incompat: some read of this key is not a prefix of another.
	incompat bool
}

// parsed is a history as the checker sees it.
type parsed struct {
	h histories.History
	// vals are the ops' values: h's own, or the fast reader's (see
	// ingest.go), whose history carries none for transactions.
	vals     opValues
	workload string
	txns     []txn
	mops     []mop
	elems    []elem
	keyEls   []keyElems // each key's elements, for lookups by value
	keys     []string   // key names by id
	codes    valueCodes
	orders   []keyOrder // list-append only, by key
	// incompatKeys are the keys with a read that disagrees with the
	// longest read seen when it was parsed.
	incompatKeys []int32
	// rebuilt: the values are no longer at hand (vals is nil), and the
	// micro-ops are rebuilt from the parsed form (see rebuiltValue); raw
	// holds the values it cannot rebuild, by micro-op.
	rebuilt bool
	raw     map[int32]any
}

type parser struct {
	parsed
	strKeys map[string]int32
	intKeys map[int64]int32
	// rebuild: keep in raw what rebuiltValue cannot rebuild, so that the
	// values can be dropped once parsed (the fast reader's encoding), and
	// what settleOrders needs: every read of a key with an incompatible
	// read from then on, and in snap the key's order just before it (of
	// which every earlier read is a prefix).
	rebuild bool
	snap    map[int32][]int64
}

// decodedTxn is a transaction's micro-ops, decoded ahead of the parser
// (see decodeAhead).
type decodedTxn struct {
	// cur are the micro-ops of the op read (the completion of an ok txn,
	// else the invocation); ok is false if its value is not a list.
	cur mopBuf
	ok  bool
	// inv are the invocation's, if hasInv: for an ok txn whose
	// invocation's micro-ops may differ from its completion's but for the
	// values read.
	inv    mopBuf
	hasInv bool
}

// decodeBatch is how many transactions decodeAhead hands over at once;
// decodeBatches how many batches are in flight.
const (
	decodeBatch   = 512
	decodeBatches = 4
)

// decodeAhead decodes the transactions of pairs, in order and in batches,
// on another goroutine, so that the parser (which interns keys and values
// in order, and so runs on one) does only the interning. The batches come
// on the first channel; each must be given back on the second once parsed.
// Decoding reads h and vals and writes only the batches. It stops when
// stop is closed.
func decodeAhead(h histories.History, pairs []histories.Pair, vals opValues, stop <-chan struct{}) (<-chan []decodedTxn, chan<- []decodedTxn) {
	full := make(chan []decodedTxn, decodeBatches)
	free := make(chan []decodedTxn, decodeBatches)
	for range decodeBatches {
		free <- make([]decodedTxn, decodeBatch)
	}
	sv, hasSame := vals.(interface{ sameOps(a, b int) bool })
	go func() {
		defer close(full)
		for i := 0; i < len(pairs); i += decodeBatch {
			var b []decodedTxn
			select {
			case b = <-free:
			case <-stop:
				return
			}
			b = b[:min(decodeBatch, len(pairs)-i)]
			for j := range b {
				pr, d := pairs[i+j], &b[j]
				at, ok := pr.Invoke, h.Outcome(pr) == histories.OK
				if ok {
					at = pr.Complete
				}
				d.ok = vals.mops(at, &d.cur)
				d.hasInv = false
				if d.ok && ok && (!hasSame || !sv.sameOps(pr.Invoke, at)) {
					d.hasInv = vals.mops(pr.Invoke, &d.inv)
				}
			}
			select {
			case full <- b:
			case <-stop:
				return
			}
		}
	}()
	return full, free
}

// parse reads the transactions of h, whose values are vals (nil: h's
// own). Its errors name the op.
func parse(h histories.History, workload string, vals opValues) (*parsed, error) {
	if vals == nil {
		vals = anyValues(h)
	}
	pairs, err := histories.Pairs(h, "")
	if err != nil {
		return nil, err
	}
	p, err := parseWith(h, pairs, workload, false, vals)
	if errors.Is(err, errNeedIntern) {
		p, err = parseWith(h, pairs, workload, true, vals)
	}
	if err != nil {
		return nil, err
	}
	return &p.parsed, nil
}

func parseWith(h histories.History, pairs []histories.Pair, workload string, intern bool, vals opValues) (*parser, error) {
	if r, ok := vals.(interface{ reset() }); ok {
		r.reset()
	}
	nm := 0
	for _, pr := range pairs {
		nm += vals.count(pr.Invoke)
	}
	p := newParser(h, workload, intern, vals, len(pairs), nm, elemsHint(vals, nm))
	// The fast reader's encoding is dropped piece by piece behind the
	// parser when no transaction was kept whole: only those can ask for
	// the values to be interned, which parses everything again.
	ev, dropping := vals.(encValues)
	dropping = dropping && ev.allEncoded(pairs)
	stop := make(chan struct{})
	defer close(stop)
	full, free := decodeAhead(h, pairs, vals, stop)
	i := 0
	for b := range full {
		for j := range b {
			if err := p.txn(pairs[i], &b[j]); err != nil {
				return nil, err
			}
			i++
		}
		free <- b
		if dropping && i < len(pairs) {
			// The transactions still to parse, and those being
			// decoded ahead, have no op before this one.
			ev.dropBefore(pairs[i].Invoke)
		}
	}
	if workload == "append" {
		if err := p.settleOrders(); err != nil {
			return nil, err
		}
	}
	p.release()
	if ev, ok := vals.(encValues); ok && p.rebuild {
		// The encoding is most of what the fast reader kept; from here
		// on the micro-ops are rebuilt from the parsed form.
		ev.in.release()
		p.vals, p.rebuilt = nil, true
	}
	return p, nil
}

// elemsHint is how many elements a history of nm micro-ops whose values
// are vals is likely to have: as many as its writes, if vals knows them
// (then growing the array, which copies it, is rare: only for values read
// but never written), else half its micro-ops.
func elemsHint(vals opValues, nm int) int {
	if w, ok := vals.(interface{ writes() int }); ok {
		n := w.writes()
		return n + n/256 + 64
	}
	return nm/2 + 16
}

// newParser is a parser with room for txns transactions of mops micro-ops
// writing elems elements.
func newParser(h histories.History, workload string, intern bool, vals opValues, txns, mops, elems int) *parser {
	p := &parser{
		parsed: parsed{
			h: h, workload: workload, vals: vals,
			txns:  make([]txn, 0, txns),
			mops:  make([]mop, 0, mops),
			elems: make([]elem, 0, elems),
		},
		strKeys: make(map[string]int32),
		intKeys: make(map[int64]int32),
	}
	p.codes.intern = intern
	if _, ok := vals.(encValues); ok {
		p.rebuild = true
		p.raw, p.snap = make(map[int32]any), make(map[int32][]int64)
	}
	if intern {
		p.codes.codes = make(map[any]int64)
	}
	return p
}

// release drops what only parsing needs: the key maps, each order's
// values (its elements' own), and the elements by value of every key but
// those with incompatible reads, which appendG1a looks up.
func (p *parser) release() {
	p.strKeys, p.intKeys = nil, nil
	for k := range p.orders {
		p.orders[k].vals = nil
	}
	if p.workload != "append" || len(p.incompatKeys) == 0 {
		p.keyEls = nil
		return
	}
	keep := make([]bool, len(p.keyEls))
	for _, k := range p.incompatKeys {
		keep[k] = true
	}
	for k := range p.keyEls {
		if !keep[k] {
			p.keyEls[k] = keyElems{}
		}
	}
}

func (p *parser) key(k *rawVal) (int32, bool) {
	if k.gid != nil && *k.gid >= 0 {
		return *k.gid, true
	}
	id, ok := p.keyID(k)
	if ok && k.gid != nil {
		*k.gid = id
	}
	return id, ok
}

func (p *parser) keyID(k *rawVal) (int32, bool) {
	switch k.kind {
	case rvStr:
		if id, ok := p.strKeys[k.s]; ok {
			return id, true
		}
		id := p.newKey(k.s)
		p.strKeys[k.s] = id
		return id, true
	case rvInt:
		if id, ok := p.intKeys[k.i]; ok {
			return id, true
		}
		// The same key may be written as 7 and "7".
		s := strconv.FormatInt(k.i, 10)
		id, ok := p.strKeys[s]
		if !ok {
			id = p.newKey(s)
			p.strKeys[s] = id
		}
		p.intKeys[k.i] = id
		return id, true
	}
	return 0, false
}

func (p *parser) newKey(name string) int32 {
	id := int32(len(p.keys))
	p.keys = append(p.keys, name)
	p.keyEls = append(p.keyEls, keyElems{})
	if p.workload == "append" {
		p.orders = append(p.orders, keyOrder{lt: -1, lm: -1, dupAt: -1})
	}
	return id
}

// slot is the element of key with value code, created if new.
func (p *parser) slot(key int32, code int64) int32 {
	ke := &p.keyEls[key]
	if s, ok := ke.find(code); ok {
		return s
	}
	s := int32(len(p.elems))
	p.elems = append(p.elems, elem{v: code, key: key, writer: -1, pos: -1})
	ke.add(code, s)
	return s
}

var mopForms = map[string]string{
	"append":      `["append", key, value] or ["r", key, list]`,
	"rw-register": `["w", key, value] or ["r", key, value]`,
}

func (p *parser) txn(pr histories.Pair, d *decodedTxn) error {
	h := p.h
	t := txn{inv: int32(pr.Invoke), cmp: int32(pr.Complete), proc: int32(h[pr.Invoke].Process), m0: int32(len(p.mops))}
	at := pr.Invoke // the op whose value we read
	switch h.Outcome(pr) {
	case histories.OK:
		t.st, at = stOK, pr.Complete
	case histories.Fail:
		t.st = stFail
	default:
		t.st = stInfo
	}
	if h[pr.Invoke].F != "txn" {
		return errAtOp(h, pr.Invoke, "op f is %q; the %s checker reads only transactions (f \"txn\")", h[pr.Invoke].F, p.workload)
	}
	ti := int32(len(p.txns))
	if !d.ok {
		return errAtOp(h, at, "txn value %s is not a list of micro-ops", histories.FormatValue(p.vals.value(at)))
	}
	value, inv, hasInv := d.cur.m, &d.inv, d.hasInv
	if len(value) > maxTxnMops {
		return errAtOp(h, at, "transaction has %d micro-ops; the %s checker reads at most %d", len(value), p.workload, maxTxnMops)
	}
	// The completion carries the reads; it must be the same transaction
	// as the invocation.
	if hasInv && len(inv.m) != len(value) {
		return errAtOp(h, at, "completion has %d micro-ops but its invocation (line %d) has %d", len(value), lineOf(h, pr.Invoke), len(inv.m))
	}
	// raw is micro-op i as the history has it, for messages.
	raw := func(op, i int) string {
		return histories.FormatValue(p.vals.value(op).([]any)[i])
	}
	for i := range value {
		m := &value[i]
		if !m.list3 {
			return errAtOp(h, at, "micro-op %d, %s, is not %s", i, raw(at, i), mopForms[p.workload])
		}
		key, ok := p.key(&m.key)
		if !ok {
			return errAtOp(h, at, "micro-op %d, %s: key must be a string or an integer", i, raw(at, i))
		}
		var mo mop
		mo.key = key
		switch {
		case m.f == "r":
			mo.f = fRead
		case m.f == "append" && p.workload == "append":
			mo.f = fAppend
		case m.f == "w" && p.workload == "rw-register":
			mo.f = fWrite
		default:
			return errAtOp(h, at, "micro-op %d, %s, is not %s", i, raw(at, i), mopForms[p.workload])
		}
		mi := int32(len(p.mops))
		switch mo.f {
		case fAppend, fWrite:
			c, err := p.codes.codeOf(&m.val)
			if err == errNeedIntern {
				return err
			} else if err != nil {
				return errAtOp(h, at, "micro-op %d, %s: %v", i, raw(at, i), err)
			}
			s := p.slot(key, c)
			e := &p.elems[s]
			if e.writer >= 0 {
				w := p.txns[e.writer]
				return errAtOp(h, at, "value %s was already written to key %s by the op at line %d; the %s checker needs unique values per key", histories.FormatValue(m.val.any()), p.keys[key], lineOf(h, int(w.inv)), p.workload)
			}
			e.writer, e.woff = ti, uint16(mi-t.m0)
			mo.slot = s
		case fRead:
			if t.st != stOK {
				// An unfinished or failed txn's reads tell nothing.
				mo.flags |= mopNil
				mo.slot = -1
				break
			}
			if p.workload == "append" {
				if err := p.appendRead(&mo, &m.val, ti, mi); err != nil {
					if err == errNeedIntern {
						return err
					}
					return errAtOp(h, at, "micro-op %d, %s: %v", i, raw(at, i), err)
				}
				break
			}
			if m.val.kind == rvNull {
				mo.flags |= mopNil
				mo.slot = -1
				break
			}
			c, err := p.codes.codeOf(&m.val)
			if err == errNeedIntern {
				return err
			} else if err != nil {
				return errAtOp(h, at, "micro-op %d, %s: %v", i, raw(at, i), err)
			}
			mo.slot = p.slot(key, c)
		}
		if m.key.kind == rvInt {
			mo.flags |= mopIntKey
		}
		if mo.f == fRead {
			switch {
			case m.val.kind == rvNull:
				mo.flags |= mopNullVal
			case p.rebuild && (t.st != stOK || mo.flags&mopIncompat != 0 || p.workload == "append" && p.orders[key].incompat):
				p.raw[mi] = m.val.any()
			}
		}
		if hasInv {
			im := &inv.m[i]
			if !im.list3 || !im.fStr || im.f != m.f || !im.key.same(&m.key) || (mo.f != fRead && !im.val.same(&m.val)) {
				return errAtOp(h, at, "micro-op %d, %s, differs from its invocation's %s (line %d)", i, raw(at, i), raw(pr.Invoke, i), lineOf(h, pr.Invoke))
			}
		}
		p.mops = append(p.mops, mo)
	}
	t.m1 = int32(len(p.mops))
	// A write followed by another write of the same key in the txn is
	// intermediate.
	for i := t.m0; i < t.m1; i++ {
		a := &p.mops[i]
		if a.f == fRead {
			continue
		}
		for j := i + 1; j < t.m1; j++ {
			if b := &p.mops[j]; b.f != fRead && b.key == a.key {
				p.elems[a.slot].flags |= elIntermediate
				break
			}
		}
	}
	p.txns = append(p.txns, t)
	return nil
}

// appendRead records a committed read of a list: it is compared with the
// longest read of its key so far, which it extends, repeats a prefix of, or
// contradicts.
func (p *parser) appendRead(mo *mop, v *rawVal, ti, mi int32) error {
	var list rawList
	switch v.kind {
	case rvNull:
	case rvList:
		list = v.list()
	default:
		return fmt.Errorf("a read of a list-append key must be a list or null")
	}
	mo.n = int32(list.len())
	mo.slot = -1
	o := &p.orders[mo.key]
	m := min(list.len(), len(o.vals))
	for i := 0; i < m; i++ {
		c, err := list.code(&p.codes, i)
		if err != nil {
			return err
		}
		if c != o.vals[i] {
			// Not a prefix, nor extends: incompatible.
			mo.flags |= mopIncompat
			if !o.incompat {
				if p.rebuild {
					p.snap[mo.key] = slices.Clone(o.vals)
				}
				o.incompat = true
				p.incompatKeys = append(p.incompatKeys, mo.key)
			}
			if list.len() > len(o.vals) {
				if err := p.setOrder(o, list, mo.key, ti, mi); err != nil {
					return err
				}
			}
			c, err := list.code(&p.codes, list.len()-1)
			if err != nil {
				return err
			}
			mo.slot = p.slot(mo.key, c)
			return nil
		}
	}
	if list.len() > len(o.vals) {
		for i := len(o.vals); i < list.len(); i++ {
			c, err := list.code(&p.codes, i)
			if err != nil {
				return err
			}
			p.orderAppend(o, mo.key, i, c)
		}
		o.lt, o.lm = ti, mi
	}
	if list.len() > 0 {
		mo.slot = o.slots[list.len()-1]
	}
	return nil
}

// orderAppend puts the element of key with code at position i of its
// order, noting a duplicate.
func (p *parser) orderAppend(o *keyOrder, key int32, i int, c int64) {
	s := p.slot(key, c)
	if p.elems[s].pos >= 0 {
		if o.dupAt < 0 {
			o.dupAt = int32(i)
		}
	} else {
		p.elems[s].pos = int32(i)
	}
	o.vals = append(o.vals, c)
	o.slots = append(o.slots, s)
}

// sameScalar is a == b for scalars, and false (not a panic) for lists.
func sameScalar(a, b any) bool {
	switch a.(type) {
	case nil, string, int64, float64, bool:
		return a == b
	}
	return false
}

// setOrder replaces a key's order by list (a longer, incompatible read).
func (p *parser) setOrder(o *keyOrder, list rawList, key, ti, mi int32) error {
	for _, s := range o.slots {
		p.elems[s].pos = -1
	}
	o.vals, o.slots, o.dupAt = o.vals[:0], o.slots[:0], -1
	for i := range list.len() {
		c, err := list.code(&p.codes, i)
		if err != nil {
			return err
		}
		p.orderAppend(o, key, i, c)
	}
	o.lt, o.lm = ti, mi
	return nil
}

// settleOrders re-reads, for keys with incompatible reads, every read of the
// key against the final (longest) order: a read judged compatible with a
// shorter order may contradict the final one.
func (p *parser) settleOrders() error {
	if len(p.incompatKeys) == 0 {
		return nil
	}
	bad := make(map[int32]bool, len(p.incompatKeys))
	for _, k := range p.incompatKeys {
		bad[k] = true
	}
	for ti := range p.txns {
		t := &p.txns[ti]
		if t.st != stOK {
			continue
		}
		for mi := t.m0; mi < t.m1; mi++ {
			mo := &p.mops[mi]
			if mo.f != fRead || !bad[mo.key] {
				continue
			}
			list := p.settleList(int32(ti), mi)
			o := &p.orders[mo.key]
			compat := len(list) <= len(o.vals)
			for i := 0; compat && i < len(list); i++ {
				c, err := p.codes.code(list[i])
				if err != nil {
					return err
				}
				compat = c == o.vals[i]
			}
			mo.flags &^= mopIncompat
			if !compat {
				mo.flags |= mopIncompat
				if p.rebuild {
					p.raw[mi] = list
				}
			}
			if len(list) == 0 {
				mo.slot = -1
			} else if compat {
				mo.slot = o.slots[len(list)-1]
			} else {
				c, err := p.codes.code(list[len(list)-1])
				if err != nil {
					return err
				}
				mo.slot = p.slot(mo.key, c)
			}
		}
	}
	return nil
}

// settleList is readList for settleOrders: in rebuild mode, a read kept
// in raw or else a prefix of its key's order when it first had an
// incompatible read.
func (p *parser) settleList(ti, mi int32) []any {
	if !p.rebuild {
		return p.readList(ti, mi)
	}
	if v, ok := p.raw[mi]; ok {
		l, _ := v.([]any)
		return l
	}
	m := &p.mops[mi]
	s := p.snap[m.key]
	l := make([]any, min(int(m.n), len(s)))
	for i := range l {
		l[i] = p.codes.value(s[i])
	}
	return l
}

// readList is the list an append read returned, from the history (nil
// reads as empty).
func (p *parsed) readList(ti, mi int32) []any {
	l, _ := p.mopValue(ti, mi).([]any)
	return l
}

// mopValue is the third element of a micro-op as the history has it (the
// completion's for ok txns, else the invocation's).
func (p *parsed) mopValue(ti, mi int32) any {
	if p.rebuilt {
		return p.rebuiltValue(mi)
	}
	t := &p.txns[ti]
	return p.txnValue(ti)[mi-t.m0].([]any)[2]
}

// rebuiltValue is mopValue from the parsed form, once the values are gone
// (rebuilt): an element's value, a register read's, an append read's
// prefix of its key's order; raw holds the rest (an incompatible read, a
// value read by a transaction that did not commit), and the flags what
// parsing drops (null, a key written as an integer).
func (p *parsed) rebuiltValue(mi int32) any {
	if v, ok := p.raw[mi]; ok {
		return v
	}
	m := &p.mops[mi]
	switch {
	case m.flags&mopNullVal != 0:
		return nil
	case m.f != fRead:
		return p.elemValue(m.slot)
	case p.workload == "append":
		l := make([]any, m.n)
		for i, s := range p.orders[m.key].slots[:m.n] {
			l[i] = p.elemValue(s)
		}
		return l
	}
	return p.elemValue(m.slot)
}

// mopNames are the micro-ops' names as written.
var mopNames = [...]string{fAppend: "append", fRead: "r", fWrite: "w"}

// txnValue is the transaction's micro-ops as the history has them.
func (p *parsed) txnValue(ti int32) []any {
	t := &p.txns[ti]
	if p.rebuilt {
		v := make([]any, 0, t.m1-t.m0)
		for mi := t.m0; mi < t.m1; mi++ {
			m := &p.mops[mi]
			var key any = p.keys[m.key]
			if m.flags&mopIntKey != 0 {
				key, _ = strconv.ParseInt(p.keys[m.key], 10, 64)
			}
			v = append(v, []any{mopNames[m.f], key, p.rebuiltValue(mi)})
		}
		return v
	}
	at := t.inv
	if t.st == stOK {
		at = t.cmp
	}
	v, _ := p.vals.value(int(at)).([]any)
	return v
}

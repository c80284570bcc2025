package txnwl

import (
	"math"
	"math/rand"

	"github.com/faultline-dev/faultline/workloads"
)

// Generation defaults: Elle's usual shape (transactions of up to 4
// micro-ops, lists of up to 32 elements) over few, skewed keys, which is
// what makes concurrent transactions meet on the same keys.
const (
	DefaultMaxTxnLen    = 4
	DefaultActiveKeys   = 8
	DefaultWritesPerKey = 32
	DefaultSkew         = 0.7
	DefaultReadFraction = 0.5
)

// genConfig is the generation part of Options, with defaults filled.
type genConfig struct {
	maxTxnLen, activeKeys, writesPerKey int
	skew, readFraction                  float64
}

func (o Options) genConfig() genConfig {
	c := genConfig{maxTxnLen: o.MaxTxnLen, activeKeys: o.ActiveKeys, writesPerKey: o.WritesPerKey, skew: o.Skew, readFraction: o.ReadFraction}
	if c.maxTxnLen < 1 {
		c.maxTxnLen = DefaultMaxTxnLen
	}
	if c.activeKeys < 1 {
		c.activeKeys = DefaultActiveKeys
	}
	if c.writesPerKey < 1 {
		c.writesPerKey = DefaultWritesPerKey
	}
	if c.skew <= 0 || c.skew > 1 {
		c.skew = DefaultSkew
	}
	if c.readFraction <= 0 || c.readFraction >= 1 {
		c.readFraction = DefaultReadFraction
	}
	return c
}

// key is a key in play: its id, how many writes it has been given, and
// the next value to write.
type key struct {
	id     int64
	writes int
	nextV  int64
}

// generator makes transactions; it is deterministic for a seed.
type generator struct {
	kind  Kind
	c     genConfig
	rng   *rand.Rand
	slots []*key    // the keys in play; slot 0 is the hottest
	cum   []float64 // cumulative pick weights of the slots
	next  int64     // the next key id
}

func newGenerator(kind Kind, c genConfig, seed int64) *generator {
	g := &generator{kind: kind, c: c, rng: rand.New(rand.NewSource(seed))}
	total := 0.0
	for i := range c.activeKeys {
		g.slots = append(g.slots, g.newKey())
		// Slot i is picked with weight skew^i: exponential, like Elle's
		// :exponential key distribution.
		total += math.Pow(c.skew, float64(i))
		g.cum = append(g.cum, total)
	}
	return g
}

func (g *generator) newKey() *key {
	k := &key{id: g.next, nextV: 1}
	g.next++
	return k
}

// pick returns a slot, skewed towards the first.
func (g *generator) pick() int {
	x := g.rng.Float64() * g.cum[len(g.cum)-1]
	for i, c := range g.cum {
		if x < c {
			return i
		}
	}
	return len(g.cum) - 1
}

// Next implements workloads.Generator: a txn of 1..MaxTxnLen micro-ops.
func (g *generator) Next() workloads.Invocation {
	return workloads.Invocation{F: "txn", Value: Encode(g.kind, g.txn(), false)}
}

func (g *generator) txn() []Mop {
	n := 1 + g.rng.Intn(g.c.maxTxnLen)
	mops := make([]Mop, 0, n)
	read := map[int64]bool{}
	for len(mops) < n {
		slot := g.pick()
		k := g.slots[slot]
		write := g.rng.Float64() >= g.c.readFraction
		if write && g.kind == RWRegister && !read[k.id] {
			// A register write is preceded by a read of its key (see the
			// package doc); with no room for both, it is just the read.
			mops = append(mops, Mop{F: FRead, Key: k.id})
			read[k.id] = true
			if len(mops) == n {
				break
			}
		}
		if !write {
			mops = append(mops, Mop{F: FRead, Key: k.id})
			read[k.id] = true
			continue
		}
		f := FAppend
		if g.kind == RWRegister {
			f = FWrite
		}
		mops = append(mops, Mop{F: f, Key: k.id, Value: k.nextV})
		k.nextV++
		k.writes++
		if k.writes >= g.c.writesPerKey {
			g.slots[slot] = g.newKey()
		}
	}
	return mops
}

// Done implements workloads.Generator; keys retire by writes generated,
// not by outcomes, so generation does not depend on timing.
func (g *generator) Done(workloads.Invocation, workloads.Completion) {}

package workloads

import (
	"math/rand"
	"strconv"

	"github.com/faultline-dev/faultline/histories"
)

// Keys is the rotation of keys a generator keeps in play (Jepsen's
// independent keys): a fixed number of slots, each holding a key until it
// has had its share of writes, then a fresh key; keys are "0", "1", … in
// the order they come into play. It is deterministic for its rng and,
// like a Generator, not safe for concurrent use.
type Keys struct {
	rng    *rand.Rand
	perKey int
	slots  []keySlot
	used   int
}

type keySlot struct{ id, writes int }

// NewKeys keeps active keys in play (at least 1), each retired after
// perKey writes.
func NewKeys(rng *rand.Rand, active, perKey int) *Keys {
	k := &Keys{rng: rng, perKey: perKey}
	for range max(active, 1) {
		k.slots = append(k.slots, keySlot{id: k.used})
		k.used++
	}
	return k
}

// Pick draws a key in play: its slot (for Wrote) and its name.
func (k *Keys) Pick() (slot int, key string) {
	slot = k.rng.Intn(len(k.slots))
	return slot, strconv.Itoa(k.slots[slot].id)
}

// Wrote counts a write to the key in slot, and retires the key once it
// has had perKey of them.
func (k *Keys) Wrote(slot int) {
	s := &k.slots[slot]
	s.writes++
	if s.writes >= k.perKey {
		*s = keySlot{id: k.used}
		k.used++
	}
}

// Final is one operation f on every key that has been in play: a
// FinalGenerator's final reads or drains.
func (k *Keys) Final(f string) []Invocation {
	out := make([]Invocation, 0, k.used)
	for id := range k.used {
		out = append(out, Invocation{F: f, Key: strconv.Itoa(id)})
	}
	return out
}

// Failed is the completion of an operation that returned err: fail when
// definite says it certainly did not take effect, else info (its outcome
// is unknown, and the worker's process retires). value is what the
// completion records (usually the invocation's).
func Failed(definite func(error) bool, err error, value any) Completion {
	if definite(err) {
		return Completion{Type: histories.Fail, Value: value, Error: err.Error()}
	}
	return Completion{Type: histories.Info, Value: value, Error: err.Error()}
}

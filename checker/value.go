package checker

import (
	"fmt"
	"hash/maphash"

	"github.com/faultline-dev/faultline/histories"
)

// val is a register's value with its hash computed once, when the history is
// read. Model states are *val pointing into the ops (or to an initial val),
// so a step that writes a value allocates nothing, and comparing two states
// is a hash compare before the value compare.
type val struct {
	v any // nil, int64 or string
	h uint64
}

var hashSeed = maphash.MakeSeed()

// mix64 is splitmix64's finaliser: a cheap, well-spread hash of an int.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

const (
	nilHash    = 0x6e696c // distinct from every int's and string's hash in practice
	stringSalt = 0x5bd1e9955bd1e995
)

func hashString(s string) uint64 { return maphash.String(hashSeed, s) ^ stringSalt }

// newVal checks that v is a register value (nil, an integer or a string) and
// hashes it.
func newVal(v any) (val, bool) {
	switch x := v.(type) {
	case nil:
		return val{nil, nilHash}, true
	case int64:
		return val{x, mix64(uint64(x))}, true
	case int:
		return val{int64(x), mix64(uint64(x))}, true
	case int32:
		return val{int64(x), mix64(uint64(x))}, true
	case string:
		return val{x, hashString(x)}, true
	}
	return val{}, false
}

func stringVal(s string) val { return val{s, hashString(s)} }

func (a *val) equal(b *val) bool { return a == b || (a.h == b.h && a.v == b.v) }

func (a *val) String() string { return histories.FormatValue(a.v) }

// shape names the Go-side shape of a normalised value for error messages.
func shape(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case []any:
		return fmt.Sprintf("a list of %d", len(x))
	case map[string]any:
		return "a map"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

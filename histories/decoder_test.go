package histories

import (
	"fmt"
	"runtime"
	"testing"
)

// TestDecodedOpsKeepLittle: an op decoded on its own (Op.UnmarshalJSON,
// a decoder per line) or by a Decoder keeps only about what its value
// needs, not a whole block of the decoder's: a run's online check
// decodes every line it records, and keeping 16 KB per op made a
// ten-minute run of two million transactions grow past 24 GB.
func TestDecodedOpsKeepLittle(t *testing.T) {
	const n = 20000
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"index":%d,"time":%d,"process":%d,"type":"ok","f":"txn","value":[["append",%d,%d],["r",%d,[1,2,3]],["append",%d,%d],["r",%d,[]]]}`, i, i*1000, i%50, i%7, i, i%5, i%3, i, i%11)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for _, c := range []struct {
		name   string
		decode func() func([]byte, *Op) error
		max    uint64 // bytes kept per op
	}{
		{"Op.UnmarshalJSON", func() func([]byte, *Op) error {
			return func(b []byte, o *Op) error { return o.UnmarshalJSON(b) }
		}, 2048},
		{"Decoder", func() func([]byte, *Op) error { return new(Decoder).Decode }, 1024},
	} {
		ops := make(History, n)
		before := heap()
		decode := c.decode()
		for i, l := range lines {
			if err := decode(l, &ops[i]); err != nil {
				t.Fatal(err)
			}
		}
		per := (heap() - before) / n
		if per > c.max {
			t.Errorf("%s: %d bytes kept per op, want at most %d", c.name, per, c.max)
		}
		if v := ops[n-1].Value.([]any); len(v) != 4 || v[1].([]any)[2].([]any)[2] != int64(3) {
			t.Fatalf("%s: decoded %v", c.name, ops[n-1].Value)
		}
		runtime.KeepAlive(ops)
		t.Logf("%s: %d bytes kept per op", c.name, per)
	}
}

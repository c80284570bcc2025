package txn

import (
	"slices"
	"testing"
)

// TestOrderEdges: the process and real-time in-edges orderEdges produces,
// from the incremental orderState, are those of their definition, found
// by brute force: the previous transaction of the process that may have
// committed; and each ok transaction A that completed before T was
// invoked, unless some ok C was invoked after A completed and completed
// before T was invoked (A → C → T covers it: Elle's transitive
// reduction). Failed transactions have none.
func TestOrderEdges(t *testing.T) {
	h := AppendHistoryWith(GenOptions{Seed: 21, Txns: 400, Procs: 8, Keys: 4, OpsPerTxn: 3, FailRate: 0.1, InfoRate: 0.1})
	p, err := parse(h, "append", nil)
	if err != nil {
		t.Fatal(err)
	}
	tx := p.txns
	got := orderEdges(p, true)
	rtEdges := 0
	for T := range int32(len(tx)) {
		var want []uint64
		if tx[T].st != stFail {
			for q := T - 1; q >= 0; q-- {
				if tx[q].proc == tx[T].proc && tx[q].st != stFail {
					want = append(want, uint64(q)<<8|uint64(relProc))
					break
				}
			}
			for a := range int32(len(tx)) {
				if tx[a].st != stOK || tx[a].cmp >= tx[T].inv {
					continue
				}
				covered := false
				for c := range tx {
					covered = covered || tx[c].st == stOK && tx[c].inv > tx[a].cmp && tx[c].cmp < tx[T].inv
				}
				if !covered {
					want = append(want, uint64(a)<<8|uint64(relRT))
					rtEdges++
				}
			}
		}
		var have []uint64
		got(T, func(from int32, rel uint8) { have = append(have, uint64(from)<<8|uint64(rel)) })
		slices.Sort(want)
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Fatalf("transaction %d: in-edges %x, want %x", T, have, want)
		}
	}
	if rtEdges < len(tx) {
		t.Fatalf("only %d real-time edges among %d transactions", rtEdges, len(tx))
	}
}

package workloads

import (
	"errors"
	"math/rand"
	"strconv"
	"testing"

	"github.com/faultline-dev/faultline/histories"
)

func TestKeysRotate(t *testing.T) {
	k := NewKeys(rand.New(rand.NewSource(1)), 2, 3)
	writes := map[string]int{}
	for range 30 {
		slot, key := k.Pick()
		writes[key]++
		k.Wrote(slot)
	}
	for key, n := range writes {
		if n > 3 {
			t.Errorf("key %s got %d writes, more than 3", key, n)
		}
	}
	// Final names every key that has been in play, in order, once.
	final := k.Final("drain")
	names := map[string]bool{}
	for i, inv := range final {
		if inv.F != "drain" || inv.Key != strconv.Itoa(i) {
			t.Errorf("Final[%d] = %+v", i, inv)
		}
		names[inv.Key] = true
	}
	for key := range writes {
		if !names[key] {
			t.Errorf("Final lacks key %s, which was written", key)
		}
	}
	// 30 writes, at most 3 per key, 2 keys in play: 10 to 12 keys.
	if len(final) < 10 || len(final) > 12 {
		t.Errorf("Final covers %d keys", len(final))
	}
	a, b := NewKeys(rand.New(rand.NewSource(5)), 3, 2), NewKeys(rand.New(rand.NewSource(5)), 3, 2)
	for range 20 {
		sa, ka := a.Pick()
		sb, kb := b.Pick()
		if sa != sb || ka != kb {
			t.Fatal("not deterministic for a seed")
		}
		a.Wrote(sa)
		b.Wrote(sb)
	}
}

func TestFailed(t *testing.T) {
	sent := errors.New("timeout")
	definite := func(err error) bool { return err != sent }
	if c := Failed(definite, errors.New("refused"), 3); c.Type != histories.Fail || c.Value != 3 || c.Error != "refused" {
		t.Errorf("definite: %+v", c)
	}
	if c := Failed(definite, sent, nil); c.Type != histories.Info || c.Error != "timeout" {
		t.Errorf("indefinite: %+v", c)
	}
}

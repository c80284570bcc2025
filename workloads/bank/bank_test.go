package bank

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/faultline-dev/faultline/workloads/workloadtest"

	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

func TestGeneratorIsDeterministic(t *testing.T) { workloadtest.Deterministic(t, Default) }

// Jepsen's defaults: accounts 0-7, transfers of 1-5 between two different
// accounts, as many reads as transfers.
func TestGeneratorShapes(t *testing.T) {
	if got := Default.AccountNames(); !reflect.DeepEqual(got, []string{"0", "1", "2", "3", "4", "5", "6", "7"}) {
		t.Fatalf("accounts %v, want 0..7", got)
	}
	if Default.Total() != 80 {
		t.Fatalf("total %d, want 80", Default.Total())
	}
	invs := workloadtest.Take(Default.NewGenerator(2), 4000)
	reads := 0
	pairs := map[string]bool{}
	amounts := map[int64]bool{}
	for _, inv := range invs {
		switch inv.F {
		case "read":
			reads++
			if inv.Value != nil || inv.Key != "" {
				t.Fatalf("read %+v, want no key and no value", inv)
			}
		case "transfer":
			from, to, amount, err := transferOf(inv.Value)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := strconv.Atoi(from)
			tt, _ := strconv.Atoi(to)
			if from == to || f < 0 || f > 7 || tt < 0 || tt > 7 || amount < 1 || amount > 5 {
				t.Fatalf("transfer %v", inv.Value)
			}
			pairs[from+to] = true
			amounts[amount] = true
		default:
			t.Fatalf("f %q", inv.F)
		}
	}
	if frac := float64(reads) / float64(len(invs)); frac < 0.45 || frac > 0.55 {
		t.Errorf("reads are %.2f of the ops, want about half", frac)
	}
	if len(pairs) != 8*7 || len(amounts) != 5 {
		t.Errorf("%d account pairs and %d amounts drawn, want 56 and 5", len(pairs), len(amounts))
	}
	if final := Default.NewGenerator(1).(workloads.FinalGenerator).Final(); !reflect.DeepEqual(final, []workloads.Invocation{{F: "read"}}) {
		t.Errorf("Final = %+v, want one read", final)
	}
}

type fakeClient struct {
	balances  map[string]int64
	err       error
	def       bool
	initCalls int
	initFails int
}

func (f *fakeClient) BankInit(_ context.Context, accounts []string, initial int64) error {
	f.initCalls++
	if f.initCalls <= f.initFails {
		return errors.New("not yet")
	}
	f.balances = map[string]int64{}
	for _, a := range accounts {
		f.balances[a] = initial
	}
	return nil
}

func (f *fakeClient) Transfer(_ context.Context, from, to string, amount int64) error {
	if f.err != nil {
		return f.err
	}
	if f.balances[from] < amount {
		return fmt.Errorf("balance %d: %w", f.balances[from], ErrInsufficient)
	}
	f.balances[from] -= amount
	f.balances[to] += amount
	return nil
}

func (f *fakeClient) BankRead(context.Context) (map[string]int64, error) { return f.balances, f.err }
func (f *fakeClient) Definite(error) bool                                { return f.def }

func TestInit(t *testing.T) {
	c := &fakeClient{initFails: 2}
	if err := Default.Init(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if c.initCalls != 3 || len(c.balances) != 8 || c.balances["7"] != 10 {
		t.Fatalf("after Init: %d calls, balances %v; want 3 calls (2 failed) and 8 accounts of 10", c.initCalls, c.balances)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := Default.Init(ctx, &fakeClient{initFails: 1 << 30}); err == nil {
		t.Fatal("Init that never succeeds returned no error when its context ended")
	}
}

func TestInvoke(t *testing.T) {
	boom := errors.New("boom")
	tr := func(amount int64) workloads.Invocation {
		return workloads.Invocation{F: "transfer", Value: map[string]any{"from": "0", "to": "1", "amount": amount}}
	}
	funds := func() map[string]int64 { return map[string]int64{"0": 10, "1": 10} }
	for _, c := range []struct {
		name   string
		client *fakeClient
		inv    workloads.Invocation
		want   workloads.Completion
	}{
		{"transfer", &fakeClient{balances: funds()}, tr(3), workloads.Completion{Type: histories.OK, Value: tr(3).Value}},
		{"insufficient", &fakeClient{balances: funds()}, tr(11), workloads.Completion{Type: histories.Fail, Value: tr(11).Value, Error: "insufficient"}},
		{"definite", &fakeClient{err: boom, def: true}, tr(1), workloads.Completion{Type: histories.Fail, Value: tr(1).Value, Error: "boom"}},
		{"unknown", &fakeClient{err: boom}, tr(1), workloads.Completion{Type: histories.Info, Value: tr(1).Value, Error: "boom"}},
		{"read", &fakeClient{balances: funds()}, workloads.Invocation{F: "read"}, workloads.Completion{Type: histories.OK, Value: map[string]any{"0": int64(10), "1": int64(10)}}},
		{"read error", &fakeClient{err: boom}, workloads.Invocation{F: "read"}, workloads.Completion{Type: histories.Fail, Error: "boom"}},
	} {
		if got := Default.Invoke(context.Background(), c.client, c.inv); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	if err := Default.Supports(struct{}{}); err == nil {
		t.Error("Supports accepts a client without bank operations")
	}
}

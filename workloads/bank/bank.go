package bank

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"time"

	"github.com/faultline-dev/faultline/checker/suite"
	"github.com/faultline-dev/faultline/histories"
	"github.com/faultline-dev/faultline/workloads"
)

// Name is the workload's name in plans and histories.
const Name = "bank"

// Defaults of the Workload's knobs (see the package doc).
const (
	DefaultAccounts    = 8
	DefaultInitial     = 10
	DefaultMaxTransfer = 5
)

// Workload is the bank workload with its knobs; zero values mean the
// defaults.
type Workload struct {
	// Accounts is how many accounts there are, named "0", "1", ….
	Accounts int
	// Initial is every account's balance before the first transfer.
	Initial int64
	// MaxTransfer is the largest amount a transfer moves (the smallest
	// is 1).
	MaxTransfer int64

	_ struct{}
}

var (
	_ workloads.Workload       = (*Workload)(nil)
	_ workloads.Initializer    = (*Workload)(nil)
	_ workloads.FinalGenerator = (*generator)(nil)
)

// Default is the registered instance.
var Default = &Workload{}

func init() { workloads.Register(Default) }

func (w *Workload) config() (accounts int, initial, maxTransfer int64) {
	accounts, initial, maxTransfer = w.Accounts, w.Initial, w.MaxTransfer
	if accounts < 2 {
		accounts = DefaultAccounts
	}
	if initial < 1 {
		initial = DefaultInitial
	}
	if maxTransfer < 1 {
		maxTransfer = DefaultMaxTransfer
	}
	return
}

// AccountNames are the accounts' names: "0", "1", ….
func (w *Workload) AccountNames() []string {
	n, _, _ := w.config()
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// Total is the sum of the balances, which every read must see.
func (w *Workload) Total() int64 {
	n, initial, _ := w.config()
	return int64(n) * initial
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Doc implements workloads.Workload.
func (w *Workload) Doc() string {
	n, initial, maxTransfer := w.config()
	return fmt.Sprintf("bank (Jepsen's): transfers of 1-%d between %d accounts of %d each, and reads of every balance, half each; every read must total %d",
		maxTransfer, n, initial, w.Total())
}

// Check implements workloads.Workload.
func (w *Workload) Check() suite.Options { return suite.Options{Workload: Name} }

// Supports implements workloads.Workload.
func (w *Workload) Supports(client any) error {
	if _, ok := client.(Client); !ok {
		return errors.New("the target's client has no bank operations (BankInit, Transfer, BankRead)")
	}
	return nil
}

// initRetry is the pause between attempts of Init.
const initRetry = 200 * time.Millisecond

// Init implements workloads.Initializer: BankInit of every account, tried
// again until it succeeds or ctx ends (it keeps accounts that exist, so
// an attempt whose outcome was unknown does no harm).
func (w *Workload) Init(ctx context.Context, client any) error {
	c, ok := client.(Client)
	if !ok {
		return w.Supports(client)
	}
	_, initial, _ := w.config()
	for {
		err := c.BankInit(ctx, w.AccountNames(), initial)
		if err == nil {
			return nil
		}
		t := time.NewTimer(initRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("bank: making %d accounts of %d: %w", len(w.AccountNames()), initial, err)
		case <-t.C:
		}
	}
}

// NewGenerator implements workloads.Workload.
func (w *Workload) NewGenerator(seed int64) workloads.Generator {
	n, _, maxTransfer := w.config()
	return &generator{rng: rand.New(rand.NewSource(seed)), accounts: n, maxTransfer: maxTransfer}
}

// generator mixes transfers and reads, half each; it is deterministic for
// a seed.
type generator struct {
	rng         *rand.Rand
	accounts    int
	maxTransfer int64
}

// Next implements workloads.Generator.
func (g *generator) Next() workloads.Invocation {
	if g.rng.Intn(2) == 0 {
		return workloads.Invocation{F: "read"}
	}
	from := g.rng.Intn(g.accounts)
	to := g.rng.Intn(g.accounts - 1)
	if to >= from {
		to++ // never from itself
	}
	return workloads.Invocation{F: "transfer", Value: map[string]any{
		"from": strconv.Itoa(from), "to": strconv.Itoa(to), "amount": 1 + g.rng.Int63n(g.maxTransfer),
	}}
}

// Done implements workloads.Generator.
func (g *generator) Done(workloads.Invocation, workloads.Completion) {}

// Final implements workloads.FinalGenerator: one read.
func (g *generator) Final() []workloads.Invocation {
	return []workloads.Invocation{{F: "read"}}
}

// Invoke implements workloads.Workload.
func (w *Workload) Invoke(ctx context.Context, client any, inv workloads.Invocation) workloads.Completion {
	c := client.(Client)
	switch inv.F {
	case "transfer":
		from, to, amount, err := transferOf(inv.Value)
		if err != nil {
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: err.Error()}
		}
		err = c.Transfer(ctx, from, to, amount)
		switch {
		case err == nil:
			return workloads.Completion{Type: histories.OK, Value: inv.Value}
		case errors.Is(err, ErrInsufficient):
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: "insufficient"}
		case c.Definite(err):
			return workloads.Completion{Type: histories.Fail, Value: inv.Value, Error: err.Error()}
		}
		return workloads.Completion{Type: histories.Info, Value: inv.Value, Error: err.Error()}
	case "read":
		balances, err := c.BankRead(ctx)
		if err != nil {
			return workloads.Completion{Type: histories.Fail, Error: err.Error()}
		}
		m := make(map[string]any, len(balances))
		for a, b := range balances {
			m[a] = b
		}
		return workloads.Completion{Type: histories.OK, Value: m}
	}
	return workloads.Completion{Type: histories.Fail, Error: fmt.Sprintf("bank: unknown f %q", inv.F)}
}

// transferOf reads a transfer's value.
func transferOf(v any) (from, to string, amount int64, err error) {
	m, ok := v.(map[string]any)
	if ok {
		from, _ = m["from"].(string)
		to, _ = m["to"].(string)
		amount, _ = m["amount"].(int64)
	}
	if !ok || from == "" || to == "" || amount <= 0 {
		return "", "", 0, fmt.Errorf("bank: transfer of %v, want {from, to, amount > 0}", v)
	}
	return from, to, amount, nil
}

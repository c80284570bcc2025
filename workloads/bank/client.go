package bank

import (
	"context"
	"errors"
)

// ErrInsufficient is returned by Transfer when the source account holds
// less than the amount: the transfer certainly did not happen (Jepsen's
// bank records it as a fail).
var ErrInsufficient = errors.New("insufficient funds")

// Client is what a target offers for the bank workload (Jepsen's bank):
// accounts with integer balances, transfers that read both balances and
// write the new absolute balances in one transaction, and reads of every
// balance in one transaction. Definite as in set.Client.
type Client interface {
	// BankInit creates accounts with balance initial each, if they do not
	// exist yet. It is called once per run, before the workload starts,
	// from one client.
	BankInit(ctx context.Context, accounts []string, initial int64) error
	// Transfer moves amount from one account to another, or fails with
	// ErrInsufficient.
	Transfer(ctx context.Context, from, to string, amount int64) error
	// BankRead returns every account's balance, read in one transaction.
	BankRead(ctx context.Context) (map[string]int64, error)
	Definite(err error) bool
}

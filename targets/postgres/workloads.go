package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/faultline-dev/faultline/workloads/bank"
	"github.com/faultline-dev/faultline/workloads/counter"
	"github.com/faultline-dev/faultline/workloads/set"
)

// The workloads the client serves besides the transactional ones.
var (
	_ bank.Client    = (*Client)(nil)
	_ set.Client     = (*Client)(nil)
	_ counter.Client = (*Client)(nil)
)

// The bank, set and counter workloads' statements (tables accounts, sets
// and counters: see schema). A counter's add is an upsert as the
// transactional workloads' writes are: UPDATE, then INSERT when there was
// no row, or INSERT … ON CONFLICT DO UPDATE with Options.OnConflict.
const (
	sqlBankInit      = `INSERT INTO accounts (id, balance) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	sqlBalance       = `SELECT balance FROM accounts WHERE id = $1`
	sqlSetBalance    = `UPDATE accounts SET balance = $2 WHERE id = $1`
	sqlBalances      = `SELECT id, balance FROM accounts`
	sqlSetAdd        = `INSERT INTO sets (k, e) VALUES ($1, $2)`
	sqlSetRead       = `SELECT e FROM sets WHERE k = $1 ORDER BY e`
	sqlCounterUpdate = `UPDATE counters SET v = v + $2 WHERE k = $1`
	sqlCounterInsert = `INSERT INTO counters (k, v) VALUES ($1, $2)`
	sqlCounterUpsert = `INSERT INTO counters AS t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = t.v + excluded.v`
	sqlCounterRead   = `SELECT v FROM counters WHERE k = $1`
)

// BankInit implements bank.Client: one transaction that inserts every
// account with initial unless it exists.
func (c *Client) BankInit(ctx context.Context, accounts []string, initial int64) error {
	return c.inTxn(ctx, "bank init", func(ctx context.Context, conn *pgx.Conn) error {
		for _, a := range accounts {
			if _, err := conn.Exec(ctx, sqlBankInit, a, initial); err != nil {
				return fmt.Errorf("account %s: %w", a, err)
			}
		}
		return nil
	})
}

// Transfer implements bank.Client: one transaction at the target's
// isolation level that reads both balances and writes the new absolute
// balances — so that what keeps the total is the isolation level alone
// (at read committed two concurrent transfers can lose an update). A
// source that holds less than amount rolls the transaction back with
// ErrInsufficient.
func (c *Client) Transfer(ctx context.Context, from, to string, amount int64) error {
	what := fmt.Sprintf("transfer of %d from %s to %s", amount, from, to)
	return c.inTxn(ctx, what, func(ctx context.Context, conn *pgx.Conn) error {
		var bf, bt int64
		for _, r := range []struct {
			id string
			b  *int64
		}{{from, &bf}, {to, &bt}} {
			err := conn.QueryRow(ctx, sqlBalance, r.id).Scan(r.b)
			if errors.Is(err, pgx.ErrNoRows) {
				return answerError{fmt.Errorf("no account %s (BankInit makes them)", r.id)}
			}
			if err != nil {
				return err
			}
		}
		if bf < amount {
			return answerError{fmt.Errorf("balance of %s is %d: %w", from, bf, bank.ErrInsufficient)}
		}
		if _, err := conn.Exec(ctx, sqlSetBalance, from, bf-amount); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, sqlSetBalance, to, bt+amount)
		return err
	})
}

// BankRead implements bank.Client: every balance, in one transaction.
func (c *Client) BankRead(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := c.inTxn(ctx, "bank read", func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sqlBalances)
		if err != nil {
			return err
		}
		var (
			id string
			b  int64
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &b}, func() error {
			out[id] = b
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetAdd implements set.Client: a row (k, element) of table sets.
func (c *Client) SetAdd(ctx context.Context, key string, element int64) error {
	return c.inTxn(ctx, fmt.Sprintf("set add of %d to %s", element, key), func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sqlSetAdd, key, element)
		return err
	})
}

// SetRead implements set.Client: the set's rows, in one transaction.
func (c *Client) SetRead(ctx context.Context, key string) ([]int64, error) {
	out := []int64{}
	err := c.inTxn(ctx, "set read of "+key, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, sqlSetRead, key)
		if err != nil {
			return err
		}
		var e int64
		_, err = pgx.ForEachRow(rows, []any{&e}, func() error {
			out = append(out, e)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CounterAdd implements counter.Client: v = v + delta in one transaction
// (an upsert: a counter needs no row before its first add).
func (c *Client) CounterAdd(ctx context.Context, key string, delta int64) error {
	return c.inTxn(ctx, fmt.Sprintf("counter add of %d to %s", delta, key), func(ctx context.Context, conn *pgx.Conn) error {
		if c.onConflict {
			_, err := conn.Exec(ctx, sqlCounterUpsert, key, delta)
			return err
		}
		return upsert(ctx, conn, sqlCounterUpdate, sqlCounterInsert, key, delta)
	})
}

// CounterRead implements counter.Client: 0 for a counter with no row.
func (c *Client) CounterRead(ctx context.Context, key string) (int64, error) {
	var v int64
	err := c.inTxn(ctx, "counter read of "+key, func(ctx context.Context, conn *pgx.Conn) error {
		err := conn.QueryRow(ctx, sqlCounterRead, key).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return v, err
}

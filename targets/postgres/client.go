package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/faultline-dev/faultline/workloads/txnwl"
)

// The workloads' tables: a list per key for list-append, an integer per
// key for rw-register, and those of the bank, set and counter workloads
// (workloads.go). WaitHealthy makes them.
const schema = `CREATE TABLE IF NOT EXISTS lists (k bigint PRIMARY KEY, v bigint[] NOT NULL);
CREATE TABLE IF NOT EXISTS registers (k bigint PRIMARY KEY, v bigint NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (id text PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE IF NOT EXISTS sets (k text NOT NULL, e bigint NOT NULL, PRIMARY KEY (k, e));
CREATE TABLE IF NOT EXISTS counters (k text PRIMARY KEY, v bigint NOT NULL);`

// The micro-ops' statements. Appends and writes are upserts, so a key
// needs no row before its first write. By default an upsert is an UPDATE
// and, when it found no row, an INSERT (a duplicate key then aborts the
// transaction, recorded as fail). INSERT … ON CONFLICT DO UPDATE is the
// alternative (Options.OnConflict): with it, PostgreSQL 15.18's serializable
// level shows rare G2-item cycles here (about one 6 s run in ten) — the
// same symptom as the pgsql-bugs report "Possible G2-item at SERIALIZABLE"
// (PostgreSQL 18.4, ON CONFLICT appends) — so it is kept for reproducing
// that, not as the default.
const (
	sqlAppendConflict = `INSERT INTO lists AS t (k, v) VALUES ($1, ARRAY[$2::bigint]) ON CONFLICT (k) DO UPDATE SET v = t.v || excluded.v`
	sqlAppendUpdate   = `UPDATE lists SET v = v || $2::bigint WHERE k = $1`
	sqlAppendInsert   = `INSERT INTO lists (k, v) VALUES ($1, ARRAY[$2::bigint])`
	sqlReadList       = `SELECT v FROM lists WHERE k = $1`
	sqlWriteConflict  = `INSERT INTO registers AS t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	sqlWriteUpdate    = `UPDATE registers SET v = $2 WHERE k = $1`
	sqlWriteInsert    = `INSERT INTO registers (k, v) VALUES ($1, $2)`
	sqlReadReg        = `SELECT v FROM registers WHERE k = $1`
)

// upsert runs update and, when it changed no row, insert.
func upsert(ctx context.Context, conn *pgx.Conn, update, insert string, k any, v int64) error {
	tag, err := conn.Exec(ctx, update, k, v)
	if err != nil || tag.RowsAffected() > 0 {
		return err
	}
	_, err = conn.Exec(ctx, insert, k, v)
	return err
}

// closeTimeout bounds ROLLBACK after a failed statement and closing a
// connection, which must not hang on a paused server.
const closeTimeout = time.Second

// Client runs transactions against the server over one connection, made
// on the first transaction and again after the connection breaks. Its
// home node names it in the history; it connects to the server's node
// whatever its home. It is safe for concurrent use, one transaction at a
// time; a Jepsen-style worker owns one.
type Client struct {
	node    string
	cfg     *pgx.ConnConfig
	timeout time.Duration
	begin   string
	// onConflict makes upserts INSERT … ON CONFLICT DO UPDATE.
	onConflict bool

	mu   sync.Mutex
	conn *pgx.Conn
	// reconnectWait and nextConnect pace connection attempts after a
	// failed one (see connect).
	reconnectWait time.Duration
	nextConnect   time.Time

	// beforeCommit, if set, runs just before COMMIT is sent (for tests:
	// a fault at the one moment whose outcome is unknown).
	beforeCommit func()
}

var _ txnwl.Client = (*Client)(nil)

func newClient(node string, cfg *pgx.ConnConfig, timeout time.Duration, isolation string, onConflict bool) (*Client, error) {
	level := map[string]string{Serializable: "SERIALIZABLE", RepeatableRead: "REPEATABLE READ", ReadCommitted: "READ COMMITTED"}[isolation]
	if level == "" {
		return nil, fmt.Errorf("postgres client: isolation %q: want %s, %s or %s", isolation, Serializable, RepeatableRead, ReadCommitted)
	}
	return &Client{node: node, cfg: cfg, timeout: timeout, begin: "BEGIN ISOLATION LEVEL " + level, onConflict: onConflict}, nil
}

// connConfig is how the target's clients connect: as the superuser
// postgres to the database postgres, without TLS, with connectTimeout.
// The password is set on the config, never written into a connection
// string, so no error message can quote it.
func (t *Target) connConfig(connectTimeout time.Duration) *pgx.ConnConfig {
	cs := "host=" + t.server.Addr.String() + " port=" + strconv.Itoa(t.opts.Port) + " user=postgres dbname=postgres sslmode=disable application_name=faultline"
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		// The string is built from an address and a number: a bug.
		panic("postgres: connection string " + cs + ": " + err.Error())
	}
	cfg.Password = t.opts.Password
	cfg.ConnectTimeout = connectTimeout
	return cfg
}

// Node is the client's home node.
func (c *Client) Node() string { return c.node }

// Definite implements txnwl.Client; see the package function Definite.
func (c *Client) Definite(err error) bool { return Definite(err) }

// Close closes the client's connection, if any.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop()
	return nil
}

// drop closes the connection (the server rolls back any transaction it had
// open) and forgets it.
func (c *Client) drop() {
	if c.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	_ = c.conn.Close(ctx)
	cancel()
	c.conn = nil
}

// connect returns the open connection, or makes one.
// After a failed connection attempt the next waits: 10 ms, doubling to
// at most 200 ms while attempts keep failing. Against a killed server a
// worker would otherwise fail thousands of transactions a second, and the
// history would be mostly "connection refused".
const (
	minReconnectWait = 10 * time.Millisecond
	maxReconnectWait = 200 * time.Millisecond
)

func (c *Client) connect(ctx context.Context) (*pgx.Conn, error) {
	if c.conn != nil && !c.conn.IsClosed() {
		return c.conn, nil
	}
	c.conn = nil
	if wait := time.Until(c.nextConnect); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	conn, err := pgx.ConnectConfig(ctx, c.cfg)
	if err != nil {
		c.reconnectWait = min(max(2*c.reconnectWait, minReconnectWait), maxReconnectWait)
		c.nextConnect = time.Now().Add(c.reconnectWait)
		return nil, err
	}
	c.reconnectWait, c.nextConnect = 0, time.Time{}
	c.conn = conn
	return conn, nil
}

// Txn implements txnwl.Client: mops in one transaction at the target's
// isolation level, bounded by the target's request timeout. Errors wrap
// ErrNotSent or ErrAborted when the transaction certainly did not commit;
// any other error leaves its outcome unknown (see Definite).
func (c *Client) Txn(ctx context.Context, kind txnwl.Kind, mops []txnwl.Mop) ([]txnwl.Mop, error) {
	out := make([]txnwl.Mop, len(mops))
	err := c.inTxn(ctx, "txn", func(ctx context.Context, conn *pgx.Conn) error {
		for i, m := range mops {
			r, err := runMop(ctx, conn, kind, m, c.onConflict)
			if err != nil {
				return fmt.Errorf("micro-op %d [%s %d]: %w", i, m.F, m.Key, err)
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// inTxn runs body in one transaction at the target's isolation level, on
// the client's connection, bounded by the target's request timeout, and
// commits it. what names the operation in errors ("postgres what from
// node: …"). Errors wrap ErrNotSent or ErrAborted when the transaction
// certainly did not commit (body's own errors included: the transaction
// is rolled back); any other error leaves its outcome unknown (see
// Definite).
func (c *Client) inTxn(ctx context.Context, what string, body func(ctx context.Context, conn *pgx.Conn) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres %s from %s: %w: %w", what, c.node, ErrNotSent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.connect(ctx)
	if err != nil {
		return fmt.Errorf("postgres %s from %s: %w: %w", what, c.node, ErrNotSent, err)
	}
	if _, err := conn.Exec(ctx, c.begin); err != nil {
		return c.abort(what, "BEGIN", err)
	}
	if err := body(ctx, conn); err != nil {
		return c.abort(what, "", err)
	}
	if c.beforeCommit != nil {
		c.beforeCommit()
	}
	tag, err := conn.Exec(ctx, "COMMIT")
	if err != nil {
		if commitRejected(err) {
			if conn.IsClosed() {
				c.conn = nil
			}
			return fmt.Errorf("postgres %s from %s: COMMIT: %w: %w", what, c.node, ErrAborted, err)
		}
		c.drop()
		return fmt.Errorf("postgres %s from %s: COMMIT sent, outcome unknown: %w", what, c.node, err)
	}
	if tag.String() != "COMMIT" {
		// The server rolled back instead (a transaction it had aborted).
		return fmt.Errorf("postgres %s from %s: COMMIT answered %q: %w", what, c.node, tag.String(), ErrAborted)
	}
	return nil
}

// abort ends a transaction that failed before its COMMIT was sent. After
// the server's answer (an ERROR: the connection works) or a refusal of
// the client's own (an answerError) it rolls back; after anything else (a
// timeout, a broken connection) it drops the connection. Either way the
// transaction cannot commit.
func (c *Client) abort(what, step string, cause error) error {
	if step != "" {
		step += ": "
	}
	err := fmt.Errorf("postgres %s from %s: %s%w: %w", what, c.node, step, ErrAborted, cause)
	var pe *pgconn.PgError
	var ae answerError
	if c.conn == nil || c.conn.IsClosed() || !(errors.As(cause, &pe) || errors.As(cause, &ae)) {
		c.drop()
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if _, rerr := c.conn.Exec(ctx, "ROLLBACK"); rerr != nil {
		c.drop()
	}
	return err
}

// answerError is a transaction the client gives up on after the server
// answered every statement (an overdrawn account): the connection is fine
// and the transaction is rolled back.
type answerError struct{ error }

func (e answerError) Unwrap() error { return e.error }

// runMop runs one micro-op and returns it with its read filled.
func runMop(ctx context.Context, conn *pgx.Conn, kind txnwl.Kind, m txnwl.Mop, onConflict bool) (txnwl.Mop, error) {
	switch {
	case m.F == txnwl.FAppend && kind == txnwl.ListAppend:
		if onConflict {
			_, err := conn.Exec(ctx, sqlAppendConflict, m.Key, m.Value)
			return m, err
		}
		return m, upsert(ctx, conn, sqlAppendUpdate, sqlAppendInsert, m.Key, m.Value)
	case m.F == txnwl.FWrite && kind == txnwl.RWRegister:
		if onConflict {
			_, err := conn.Exec(ctx, sqlWriteConflict, m.Key, m.Value)
			return m, err
		}
		return m, upsert(ctx, conn, sqlWriteUpdate, sqlWriteInsert, m.Key, m.Value)
	case m.F == txnwl.FRead && kind == txnwl.ListAppend:
		var v []int64
		err := conn.QueryRow(ctx, sqlReadList, m.Key).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
		if v == nil {
			v = []int64{}
		}
		m.List = v
		return m, err
	case m.F == txnwl.FRead && kind == txnwl.RWRegister:
		var v int64
		err := conn.QueryRow(ctx, sqlReadReg, m.Key).Scan(&v)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return m, nil
		case err != nil:
			return m, err
		}
		m.Reg = &v
		return m, nil
	}
	return m, fmt.Errorf("micro-op %q is not one of the %s workload's", m.F, kind)
}

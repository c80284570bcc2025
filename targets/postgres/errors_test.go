package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestDefinite(t *testing.T) {
	pg := func(code, sev string) error {
		return &pgconn.PgError{Code: code, Severity: sev, SeverityUnlocalized: sev}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not sent", fmt.Errorf("x: %w: %w", ErrNotSent, context.Canceled), true},
		{"aborted before commit", fmt.Errorf("x: %w: %w", ErrAborted, context.DeadlineExceeded), true},
		{"serialization failure", fmt.Errorf("x: %w", pg("40001", "ERROR")), true},
		{"deadlock", pg("40P01", "ERROR"), true},
		{"connect error", &pgconn.ConnectError{Config: &pgconn.Config{}}, true},
		{"unique violation outside Txn", pg("23505", "ERROR"), false},
		{"timeout", context.DeadlineExceeded, false},
		{"lost connection", errors.New("unexpected EOF"), false},
	}
	for _, c := range cases {
		if got := Definite(c.err); got != c.want {
			t.Errorf("%s: Definite(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestCommitRejected(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"serialization failure at commit", &pgconn.PgError{Code: "40001", Severity: "ERROR"}, true},
		{"deferred constraint at commit", &pgconn.PgError{Code: "23505", SeverityUnlocalized: "ERROR", Severity: "FEHLER"}, true},
		{"shutdown during commit", &pgconn.PgError{Code: "57P01", Severity: "FATAL"}, false},
		{"timeout", context.DeadlineExceeded, false},
		{"lost connection", errors.New("unexpected EOF"), false},
	}
	for _, c := range cases {
		if got := commitRejected(c.err); got != c.want {
			t.Errorf("%s: commitRejected = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConsistencyModel(t *testing.T) {
	for iso, want := range map[string]string{"": "serializable", Serializable: "serializable", RepeatableRead: "snapshot-isolation", ReadCommitted: "read-committed"} {
		if got, err := ConsistencyModel(iso); err != nil || got != want {
			t.Errorf("ConsistencyModel(%q) = %q, %v; want %q", iso, got, err, want)
		}
	}
	if _, err := ConsistencyModel("snapshot"); err == nil {
		t.Error("ConsistencyModel(snapshot): no error")
	}
}

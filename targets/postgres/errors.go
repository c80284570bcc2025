package postgres

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrNotSent: the transaction was never sent: its context had ended,
	// or no connection could be made (refused, timed out, rejected).
	ErrNotSent = errors.New("postgres transaction not sent")
	// ErrAborted: the transaction certainly did not commit: it failed
	// before its COMMIT was sent (the server rolls back a transaction
	// whose connection goes without COMMIT), or the server answered its
	// COMMIT with an error.
	ErrAborted = errors.New("postgres transaction aborted")
)

// SQLSTATEs that say a transaction was rolled back.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Definite reports whether err means the transaction certainly did not
// commit, so a history may record it as "fail"; otherwise it may have
// committed ("info"). Certain: ErrNotSent and ErrAborted (Client.Txn's
// classification), a serialization failure (40001) or a deadlock (40P01),
// a failure to connect, and errors pgx raised before sending anything.
// Everything else, timeouts and lost connections above all, is not.
func Definite(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNotSent) || errors.Is(err, ErrAborted) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.SafeToRetry(err)
}

// commitRejected says whether err, COMMIT's error, is the server's answer
// that it rolled the transaction back: an ERROR (a FATAL or PANIC ends the
// session, and the commit may have been written before it), or anything
// pgx raised before sending the COMMIT.
func commitRejected(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		sev := pe.SeverityUnlocalized
		if sev == "" {
			sev = pe.Severity
		}
		return strings.EqualFold(sev, "ERROR")
	}
	return pgconn.SafeToRetry(err)
}

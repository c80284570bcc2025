package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// probeTimeout bounds one health probe, connecting included.
const probeTimeout = 2 * time.Second

// WaitHealthy returns once the server answers SELECT 1 and has the
// workloads' tables (it makes them, so a server that initdb made afresh,
// at Setup or after Wipe, is ready for the workloads), or fails when ctx
// ends, with the last probe's error.
func (t *Target) WaitHealthy(ctx context.Context) error {
	for {
		err := t.probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres on %s (%s) not healthy: %w; last probe: %v", t.server.Name, t.Addr(), ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe connects, runs SELECT 1 and makes the tables if they are missing.
func (t *Target) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, t.connConfig(probeTimeout))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, schema); err != nil {
		return fmt.Errorf("making the workloads' tables: %w", err)
	}
	return nil
}

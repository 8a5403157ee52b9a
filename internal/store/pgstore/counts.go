package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/migrations"
)

// CountOpOccs counts op occs by operation and state.
func (s *Store) CountOpOccs(ctx context.Context) ([]store.OpOccCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT operation, operation_state, count(*) FROM vnf_lcm_op_occs
		GROUP BY operation, operation_state ORDER BY operation, operation_state`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: count op occs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OpOccCount, error) {
		var (
			c         store.OpOccCount
			op, state string
		)
		err := row.Scan(&op, &state, &c.Count)
		c.Operation, c.State = model.Operation(op), model.OperationState(state)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: count op occs: %w", err)
	}
	return out, nil
}

// SchemaVersion reads the highest applied migration version. A database
// that was never migrated has no schema_migrations table: version 0.
func (s *Store) SchemaVersion(ctx context.Context) (applied, latest int64, err error) {
	ms, err := migrations.Load(migrations.Postgres)
	if err != nil {
		return 0, 0, fmt.Errorf("pgstore: %w", err)
	}
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	// Looked up first: a query naming a missing table fails to parse.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, latest, fmt.Errorf("pgstore: schema version: %w", err)
	}
	if !exists {
		return 0, latest, nil
	}
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return 0, latest, fmt.Errorf("pgstore: schema version: %w", err)
	}
	return applied, latest, nil
}

// PoolStat is the connection pool's statistics (for metrics).
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }

package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/migrations"
)

// CountOpOccs counts op occs by operation and state.
func (s *Store) CountOpOccs(ctx context.Context) ([]store.OpOccCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT operation, operation_state, count(*) FROM vnf_lcm_op_occs
		GROUP BY operation, operation_state ORDER BY operation, operation_state`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: count op occs: %w", err)
	}
	var out []store.OpOccCount
	for rows.Next() {
		var (
			c         store.OpOccCount
			op, state string
		)
		if err := rows.Scan(&op, &state, &c.Count); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlitestore: count op occs: %w", err)
		}
		c.Operation, c.State = model.Operation(op), model.OperationState(state)
		out = append(out, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlitestore: count op occs: %w", err)
	}
	return out, nil
}

// SchemaVersion reads the highest applied migration version. A database
// that was never migrated has no schema_migrations table: version 0.
func (s *Store) SchemaVersion(ctx context.Context) (applied, latest int64, err error) {
	ms, err := migrations.Load(migrations.SQLite)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlitestore: %w", err)
	}
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	var tables int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&tables); err != nil {
		return 0, latest, fmt.Errorf("sqlitestore: schema version: %w", err)
	}
	if tables == 0 {
		return 0, latest, nil
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return 0, latest, fmt.Errorf("sqlitestore: schema version: %w", err)
	}
	return applied, latest, nil
}

// DB is the database handle, for its connection statistics
// (collectors.NewDBStatsCollector); queries go through the Store.
func (s *Store) DB() *sql.DB { return s.db }

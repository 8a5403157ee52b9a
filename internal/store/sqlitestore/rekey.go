package sqlitestore

import (
	"context"
	"fmt"

	"github.com/vnfm-project/vnfm/internal/store"
)

var _ store.RekeyTx = (*ops)(nil)

// sealedColumns maps a store.SealedTable to its sealed column and its JSON
// column ("" when it has none).
var sealedColumns = map[store.SealedTable]struct{ sealed, json string }{
	store.SealedInstances:     {"sealed", "private"},
	store.SealedOpOccs:        {"sealed_params", "progress"},
	store.SealedVims:          {"sealed", ""},
	store.SealedSubscriptions: {"sealed", ""},
	store.SealedPackages:      {"sealed_source", ""},
}

// SealedRows pages through the rows of table that hold anything sealed. In a
// transaction the write lock is already held, so the rows cannot change
// under the caller.
func (o *ops) SealedRows(ctx context.Context, table store.SealedTable, afterID string, limit int) ([]store.SealedRow, error) {
	c, ok := sealedColumns[table]
	if !ok {
		return nil, fmt.Errorf("sqlitestore: sealed rows: unknown table %q", table)
	}
	jsonCol, cond := "NULL", c.sealed+" IS NOT NULL"
	if c.json != "" {
		jsonCol, cond = c.json, "("+cond+" OR "+c.json+" IS NOT NULL)"
	}
	rows, err := o.q.QueryContext(ctx, `SELECT id, `+c.sealed+`, `+jsonCol+` FROM `+string(table)+`
		WHERE id > $1 AND `+cond+` ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: sealed rows of %s: %w", table, err)
	}
	defer rows.Close()
	var out []store.SealedRow
	for rows.Next() {
		var r store.SealedRow
		var js []byte
		if err := rows.Scan(&r.ID, &r.Sealed, &js); err != nil {
			return nil, fmt.Errorf("sqlitestore: sealed rows of %s: %w", table, err)
		}
		if js != nil {
			r.JSON = js
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: sealed rows of %s: %w", table, err)
	}
	return out, nil
}

// SetSealed rewrites the sealed and JSON columns of one row, revision kept.
func (o *ops) SetSealed(ctx context.Context, table store.SealedTable, row store.SealedRow) error {
	c, ok := sealedColumns[table]
	if !ok {
		return fmt.Errorf("sqlitestore: set sealed: unknown table %q", table)
	}
	q, args := `UPDATE `+string(table)+` SET `+c.sealed+` = $2`, []any{row.ID, nullBytes(row.Sealed)}
	if c.json != "" {
		q += `, ` + c.json + ` = $3`
		args = append(args, nullText(row.JSON))
	}
	res, err := o.q.ExecContext(ctx, q+` WHERE id = $1`, args...)
	if err != nil {
		return fmt.Errorf("sqlitestore: set sealed %s %s: %w", table, row.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: set sealed %s %s: %w", table, row.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", table, row.ID, store.ErrNotFound)
	}
	return nil
}

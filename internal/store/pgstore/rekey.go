package pgstore

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

// SealedRows pages through the rows of table that hold anything sealed; in
// a transaction they are locked (FOR UPDATE, in id order, so two callers
// cannot deadlock) until it ends.
func (o *ops) SealedRows(ctx context.Context, table store.SealedTable, afterID string, limit int) ([]store.SealedRow, error) {
	c, ok := sealedColumns[table]
	if !ok {
		return nil, fmt.Errorf("pgstore: sealed rows: unknown table %q", table)
	}
	jsonCol, cond := "NULL::text", c.sealed+" IS NOT NULL"
	if c.json != "" {
		jsonCol, cond = c.json+"::text", "("+cond+" OR "+c.json+" IS NOT NULL)"
	}
	sql := `SELECT id, ` + c.sealed + `, ` + jsonCol + ` FROM ` + string(table) + `
		WHERE id > $1 AND ` + cond + ` ORDER BY id LIMIT $2`
	if o.inTx {
		sql += ` FOR UPDATE`
	}
	rows, err := o.q.Query(ctx, sql, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: sealed rows of %s: %w", table, err)
	}
	defer rows.Close()
	var out []store.SealedRow
	for rows.Next() {
		var r store.SealedRow
		var js *string
		if err := rows.Scan(&r.ID, &r.Sealed, &js); err != nil {
			return nil, fmt.Errorf("pgstore: sealed rows of %s: %w", table, err)
		}
		if js != nil {
			r.JSON = []byte(*js)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: sealed rows of %s: %w", table, err)
	}
	return out, nil
}

// SetSealed rewrites the sealed and JSON columns of one row, revision kept.
func (o *ops) SetSealed(ctx context.Context, table store.SealedTable, row store.SealedRow) error {
	c, ok := sealedColumns[table]
	if !ok {
		return fmt.Errorf("pgstore: set sealed: unknown table %q", table)
	}
	q, args := `UPDATE `+string(table)+` SET `+c.sealed+` = $2`, []any{row.ID, nullBytes(row.Sealed)}
	if c.json != "" {
		q += `, ` + c.json + ` = $3`
		args = append(args, nullBytes(row.JSON))
	}
	tag, err := o.q.Exec(ctx, q+` WHERE id = $1`, args...)
	if err != nil {
		return fmt.Errorf("pgstore: set sealed %s %s: %w", table, row.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s %s: %w", table, row.ID, store.ErrNotFound)
	}
	return nil
}

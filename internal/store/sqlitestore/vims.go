package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vnfm-project/vnfm/internal/store"
)

const vimCols = `id, seq, doc, sealed, revision`

// CreateVim inserts v. ON CONFLICT DO NOTHING covers the id, the name and
// the one-default index.
func (o *ops) CreateVim(ctx context.Context, v *store.Vim) error {
	if v.ID == "" {
		return errors.New("sqlitestore: create vim: empty id")
	}
	v.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	doc, err := json.Marshal(&v.Vim)
	if err != nil {
		return fmt.Errorf("sqlitestore: create vim %s: marshal: %w", v.ID, err)
	}
	var seq int64
	err = o.q.QueryRowContext(ctx, `INSERT INTO vims (id, name, is_default, doc, sealed, revision, created_at)
		VALUES ($1, $2, $3, $4, $5, 1, $6)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		v.ID, v.Name, v.IsDefault, string(doc), nullBytes(v.Sealed), v.CreatedAt.UnixNano()).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("vim %s (name %q, default %t): %w", v.ID, v.Name, v.IsDefault, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create vim %s: %w", v.ID, err)
	}
	v.Seq, v.Revision = seq, 1
	return nil
}

func (o *ops) GetVim(ctx context.Context, id string) (*store.Vim, error) {
	v, err := scanVim(o.q.QueryRowContext(ctx, `SELECT `+vimCols+` FROM vims WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("vim %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get vim %s: %w", id, err)
	}
	return v, nil
}

func (o *ops) ListVims(ctx context.Context) ([]store.Vim, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+vimCols+` FROM vims ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list vims: %w", err)
	}
	defer rows.Close()
	var out []store.Vim
	for rows.Next() {
		v, err := scanVim(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list vims: %w", err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list vims: %w", err)
	}
	return out, nil
}

// UpdateVim writes v if its revision matches; a unique violation undoes only
// this statement.
func (o *ops) UpdateVim(ctx context.Context, v *store.Vim) error {
	doc, err := json.Marshal(&v.Vim)
	if err != nil {
		return fmt.Errorf("sqlitestore: update vim %s: marshal: %w", v.ID, err)
	}
	res, err := o.q.ExecContext(ctx, `UPDATE vims SET name = $3, is_default = $4, doc = $5, sealed = $6,
		revision = revision + 1 WHERE id = $1 AND revision = $2`,
		v.ID, v.Revision, v.Name, v.IsDefault, string(doc), nullBytes(v.Sealed))
	if isUniqueViolation(err) {
		return fmt.Errorf("vim %s (name %q, default %t): %w", v.ID, v.Name, v.IsDefault, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: update vim %s: %w", v.ID, err)
	}
	if err := o.checkChanged(ctx, res, "vims", "vim", v.ID); err != nil {
		return err
	}
	v.Revision++
	return nil
}

func (o *ops) DeleteVim(ctx context.Context, id string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM vims WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete vim %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: delete vim %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("vim %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func scanVim(row scanner) (*store.Vim, error) {
	var v store.Vim
	var doc string
	var sealed []byte
	if err := row.Scan(&v.ID, &v.Seq, &doc, &sealed, &v.Revision); err != nil {
		return nil, err
	}
	id, seq := v.ID, v.Seq
	if err := json.Unmarshal([]byte(doc), &v.Vim); err != nil {
		return nil, fmt.Errorf("decode vim %s: %w", id, err)
	}
	v.ID, v.Seq, v.Sealed = id, seq, sealed
	return &v, nil
}

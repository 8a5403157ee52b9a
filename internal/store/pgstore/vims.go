package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vnfm-project/vnfm/internal/store"
)

const vimCols = `id, seq, doc, sealed, revision`

// CreateVim inserts v. ON CONFLICT DO NOTHING covers the id, the name and
// the one-default index, and keeps an enclosing transaction usable.
func (o *ops) CreateVim(ctx context.Context, v *store.Vim) error {
	if v.ID == "" {
		return errors.New("pgstore: create vim: empty id")
	}
	v.CreatedAt = now()
	doc, err := json.Marshal(&v.Vim)
	if err != nil {
		return fmt.Errorf("pgstore: create vim %s: marshal: %w", v.ID, err)
	}
	var seq int64
	err = o.q.QueryRow(ctx, `INSERT INTO vims (id, name, is_default, doc, sealed, revision, created_at)
		VALUES ($1, $2, $3, $4, $5, 1, $6)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		v.ID, v.Name, v.IsDefault, doc, nullBytes(v.Sealed), v.CreatedAt).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("vim %s (name %q, default %t): %w", v.ID, v.Name, v.IsDefault, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create vim %s: %w", v.ID, err)
	}
	v.Seq, v.Revision = seq, 1
	return nil
}

func (o *ops) GetVim(ctx context.Context, id string) (*store.Vim, error) {
	v, err := scanVim(o.q.QueryRow(ctx, `SELECT `+vimCols+` FROM vims WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("vim %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get vim %s: %w", id, err)
	}
	return v, nil
}

func (o *ops) ListVims(ctx context.Context) ([]store.Vim, error) {
	rows, err := o.q.Query(ctx, `SELECT `+vimCols+` FROM vims ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list vims: %w", err)
	}
	defer rows.Close()
	var out []store.Vim
	for rows.Next() {
		v, err := scanVim(rows)
		if err != nil {
			return nil, fmt.Errorf("pgstore: list vims: %w", err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list vims: %w", err)
	}
	return out, nil
}

// UpdateVim writes v if its revision matches. Inside a transaction the write
// runs under a savepoint, so that a unique violation (name, default) leaves
// the transaction usable, as on SQLite.
func (o *ops) UpdateVim(ctx context.Context, v *store.Vim) error {
	doc, err := json.Marshal(&v.Vim)
	if err != nil {
		return fmt.Errorf("pgstore: update vim %s: marshal: %w", v.ID, err)
	}
	if o.inTx {
		if _, err := o.q.Exec(ctx, `SAVEPOINT vnfm_update_vim`); err != nil {
			return fmt.Errorf("pgstore: update vim %s: savepoint: %w", v.ID, err)
		}
	}
	var rev int64
	err = o.q.QueryRow(ctx, `UPDATE vims SET name = $3, is_default = $4, doc = $5, sealed = $6,
		revision = revision + 1 WHERE id = $1 AND revision = $2 RETURNING revision`,
		v.ID, v.Revision, v.Name, v.IsDefault, doc, nullBytes(v.Sealed)).Scan(&rev)
	if o.inTx {
		stmt := `RELEASE SAVEPOINT vnfm_update_vim`
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			stmt = `ROLLBACK TO SAVEPOINT vnfm_update_vim`
		}
		if _, serr := o.q.Exec(ctx, stmt); serr != nil {
			return fmt.Errorf("pgstore: update vim %s: %s: %w", v.ID, stmt, errors.Join(err, serr))
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return o.missOrConflict(ctx, "vims", "vim", v.ID)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("vim %s (name %q, default %t): %w", v.ID, v.Name, v.IsDefault, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("pgstore: update vim %s: %w", v.ID, err)
	}
	v.Revision = rev
	return nil
}

func (o *ops) DeleteVim(ctx context.Context, id string) error {
	tag, err := o.q.Exec(ctx, `DELETE FROM vims WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("pgstore: delete vim %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("vim %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func scanVim(row pgx.Row) (*store.Vim, error) {
	var v store.Vim
	var doc, sealed []byte
	if err := row.Scan(&v.ID, &v.Seq, &doc, &sealed, &v.Revision); err != nil {
		return nil, err
	}
	id, seq := v.ID, v.Seq
	if err := json.Unmarshal(doc, &v.Vim); err != nil {
		return nil, fmt.Errorf("decode vim %s: %w", id, err)
	}
	v.ID, v.Seq, v.Sealed = id, seq, sealed
	return &v, nil
}

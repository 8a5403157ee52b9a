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

// onboardedState is the predicate of the vnf_packages_onboarded_vnfd_id
// unique index, written the same way so the planner uses it.
const onboardedState = `onboarding_state = 'ONBOARDED'`

// onboardingWork is the predicate of the vnf_packages_onboarding index.
const onboardingWork = `onboarding_state IN ('UPLOADING', 'PROCESSING')`

const pkgCols = `id, seq, doc, vnfd, sealed_source, owner, lease_until, revision, created_at`

var packageColumns = map[string]string{
	"id":               "id",
	"vnfdId":           "vnfd_id",
	"onboardingState":  "onboarding_state",
	"operationalState": "operational_state",
	"usageState":       "usage_state",
	"vnfProvider":      "vnf_provider",
	"vnfProductName":   "vnf_product_name",
}

// CreatePackage inserts p. ON CONFLICT DO NOTHING covers both the id and the
// one-ONBOARDED-per-vnfdId index.
func (o *ops) CreatePackage(ctx context.Context, p *store.Package) error {
	if p.ID == "" {
		return errors.New("sqlitestore: create package: empty id")
	}
	doc, err := json.Marshal(&p.VnfPkgInfo)
	if err != nil {
		return fmt.Errorf("sqlitestore: create package %s: marshal: %w", p.ID, err)
	}
	created := time.Now().UTC().Truncate(time.Microsecond)
	lease := dbTime(p.LeaseUntil)
	var seq int64
	err = o.q.QueryRowContext(ctx, `INSERT INTO vnf_packages
		(id, doc, vnfd, sealed_source, owner, lease_until, revision, created_at,
		 vnfd_id, onboarding_state, operational_state, usage_state, vnf_provider, vnf_product_name)
		VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		p.ID, string(doc), nullText(p.Vnfd), nullBytes(p.SealedSource), p.Owner, lease, created.UnixNano(),
		p.VnfdID, string(p.OnboardingState), string(p.OperationalState), string(p.UsageState),
		p.VnfProvider, p.VnfProductName,
	).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		exists, err := o.exists(ctx, "vnf_packages", p.ID)
		if err != nil {
			return fmt.Errorf("sqlitestore: create package %s: %w", p.ID, err)
		}
		if exists {
			return fmt.Errorf("package %s: %w", p.ID, store.ErrDuplicate)
		}
		return fmt.Errorf("onboarded package with vnfdId %s: %w", p.VnfdID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create package %s: %w", p.ID, err)
	}
	p.Seq, p.Revision, p.CreatedAt, p.LeaseUntil = seq, 1, created, fromDB(lease)
	return nil
}

func (o *ops) GetPackage(ctx context.Context, id string, _ bool) (*store.Package, error) {
	p, err := scanPackage(o.q.QueryRowContext(ctx, `SELECT `+pkgCols+` FROM vnf_packages WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("package %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get package %s: %w", id, err)
	}
	return p, nil
}

func (o *ops) ListPackages(ctx context.Context, opts store.ListOptions) ([]store.Package, error) {
	where, args, err := listClause(packageColumns, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list packages: %w", err)
	}
	rows, err := o.q.QueryContext(ctx, `SELECT `+pkgCols+` FROM vnf_packages `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list packages: %w", err)
	}
	return out, nil
}

// UpdatePackage writes p if its revision matches. A violation of the
// one-ONBOARDED-per-vnfdId index undoes only this statement; an enclosing
// transaction stays usable.
func (o *ops) UpdatePackage(ctx context.Context, p *store.Package) error {
	doc, err := json.Marshal(&p.VnfPkgInfo)
	if err != nil {
		return fmt.Errorf("sqlitestore: update package %s: marshal: %w", p.ID, err)
	}
	lease := dbTime(p.LeaseUntil)
	res, err := o.q.ExecContext(ctx, `UPDATE vnf_packages SET
		doc = $3, vnfd = $4, sealed_source = $5, owner = $6, lease_until = $7,
		vnfd_id = $8, onboarding_state = $9, operational_state = $10, usage_state = $11,
		vnf_provider = $12, vnf_product_name = $13, revision = revision + 1
		WHERE id = $1 AND revision = $2`,
		p.ID, p.Revision, string(doc), nullText(p.Vnfd), nullBytes(p.SealedSource), p.Owner, lease,
		p.VnfdID, string(p.OnboardingState), string(p.OperationalState), string(p.UsageState),
		p.VnfProvider, p.VnfProductName)
	if isUniqueViolation(err) {
		// id and seq do not change: only the onboarded index can object.
		return fmt.Errorf("onboarded package with vnfdId %s: %w", p.VnfdID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: update package %s: %w", p.ID, err)
	}
	if err := o.checkChanged(ctx, res, "vnf_packages", "package", p.ID); err != nil {
		return err
	}
	p.Revision++
	p.LeaseUntil = fromDB(lease)
	return nil
}

// DeletePackage removes the package, if its revision matches, and its
// content, in one transaction (its own unless inside InTx). The content is
// deleted explicitly rather than left to the foreign key's cascade, which
// only connections with foreign_keys on would apply.
func (o *ops) DeletePackage(ctx context.Context, id string, revision int64) error {
	return o.atomically(ctx, func(tx *ops) error {
		res, err := tx.q.ExecContext(ctx, `DELETE FROM vnf_packages WHERE id = $1 AND revision = $2`, id, revision)
		if err != nil {
			return fmt.Errorf("sqlitestore: delete package %s: %w", id, err)
		}
		if err := tx.checkChanged(ctx, res, "vnf_packages", "package", id); err != nil {
			return err
		}
		if _, err := tx.q.ExecContext(ctx, `DELETE FROM vnf_package_contents WHERE package_id = $1`, id); err != nil {
			return fmt.Errorf("sqlitestore: delete content of package %s: %w", id, err)
		}
		return nil
	})
}

// atomically runs fn in a transaction: o's own if it is one, else a new one.
func (o *ops) atomically(ctx context.Context, fn func(tx *ops) error) error {
	db, ok := o.q.(*sql.DB)
	if !ok {
		return fn(o)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(&ops{q: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: commit: %w", err)
	}
	return nil
}

// PutPackageContent stores the package's content in one statement;
// ErrNotFound when the package does not exist.
func (o *ops) PutPackageContent(ctx context.Context, id string, content []byte) error {
	if content == nil {
		content = []byte{} // empty content, not NULL
	}
	// The WHERE clause also keeps the parser from reading ON CONFLICT as a
	// join constraint of the SELECT.
	res, err := o.q.ExecContext(ctx, `INSERT INTO vnf_package_contents (package_id, content)
		SELECT id, $2 FROM vnf_packages WHERE id = $1
		ON CONFLICT (package_id) DO UPDATE SET content = excluded.content`, id, content)
	if err != nil {
		return fmt.Errorf("sqlitestore: put content of package %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: put content of package %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("package %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (o *ops) PackageContent(ctx context.Context, id string) ([]byte, error) {
	var content []byte
	err := o.q.QueryRowContext(ctx, `SELECT content FROM vnf_package_contents WHERE package_id = $1`, id).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("content of package %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: content of package %s: %w", id, err)
	}
	if content == nil {
		content = []byte{}
	}
	return content, nil
}

// OnboardedPackageByVnfd reads through the unique partial index.
func (o *ops) OnboardedPackageByVnfd(ctx context.Context, vnfdID string, _ bool) (*store.Package, error) {
	p, err := scanPackage(o.q.QueryRowContext(ctx, `SELECT `+pkgCols+` FROM vnf_packages
		WHERE vnfd_id = $1 AND `+onboardedState, vnfdID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("onboarded package with vnfdId %s: %w", vnfdID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: onboarded package with vnfdId %s: %w", vnfdID, err)
	}
	return p, nil
}

// StalePackages lists packages in UPLOADING or PROCESSING that nobody holds:
// no owner, or a lease that ended before now. An owned row without a lease
// counts as stale, as in ExpiredJobs: nobody is renewing it.
func (s *Store) StalePackages(ctx context.Context, now time.Time) ([]store.Package, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pkgCols+` FROM vnf_packages
		WHERE `+onboardingWork+` AND (owner = '' OR lease_until IS NULL OR lease_until < $1)
		ORDER BY seq`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: stale packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: stale packages: %w", err)
	}
	return out, nil
}

func scanPackage(row scanner) (*store.Package, error) {
	var (
		p        store.Package
		id, doc  string
		vnfd, ss []byte
		lease    sql.NullInt64
		created  int64
	)
	if err := row.Scan(&id, &p.Seq, &doc, &vnfd, &ss, &p.Owner, &lease, &p.Revision, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &p.VnfPkgInfo); err != nil {
		return nil, fmt.Errorf("decode package %s: %w", id, err)
	}
	p.ID = id
	if vnfd != nil {
		p.Vnfd = json.RawMessage(vnfd)
	}
	p.SealedSource = ss
	p.LeaseUntil = fromDB(lease)
	p.CreatedAt = time.Unix(0, created).UTC()
	return &p, nil
}

func collectPackages(rows *sql.Rows) ([]store.Package, error) {
	defer rows.Close()
	var out []store.Package
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

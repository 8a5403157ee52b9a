package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// onboardedIndex is the unique partial index of migrations/postgres that
// allows one ONBOARDED package per vnfdId.
const onboardedIndex = "vnf_packages_onboarded_vnfd_id"

// onboardedState is that index's predicate, written the same way so the
// planner uses it.
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
// one-ONBOARDED-per-vnfdId index, and keeps an enclosing transaction usable.
func (o *ops) CreatePackage(ctx context.Context, p *store.Package) error {
	if p.ID == "" {
		return errors.New("pgstore: create package: empty id")
	}
	doc, err := json.Marshal(&p.VnfPkgInfo)
	if err != nil {
		return fmt.Errorf("pgstore: create package %s: marshal: %w", p.ID, err)
	}
	created := now()
	lease := dbTime(p.LeaseUntil)
	var seq int64
	err = o.q.QueryRow(ctx, `INSERT INTO vnf_packages
		(id, doc, vnfd, sealed_source, owner, lease_until, revision, created_at,
		 vnfd_id, onboarding_state, operational_state, usage_state, vnf_provider, vnf_product_name)
		VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		p.ID, doc, nullBytes(p.Vnfd), nullBytes(p.SealedSource), p.Owner, lease, created,
		p.VnfdID, string(p.OnboardingState), string(p.OperationalState), string(p.UsageState),
		p.VnfProvider, p.VnfProductName,
	).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return o.whyPackageNotInserted(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create package %s: %w", p.ID, err)
	}
	p.Seq, p.Revision, p.CreatedAt, p.LeaseUntil = seq, 1, created, fromDB(lease)
	return nil
}

// whyPackageNotInserted tells which unique index made an insert a no-op.
func (o *ops) whyPackageNotInserted(ctx context.Context, p *store.Package) error {
	var exists bool
	if err := o.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vnf_packages WHERE id = $1)`, p.ID).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: create package %s: %w", p.ID, err)
	}
	if exists {
		return fmt.Errorf("package %s: %w", p.ID, store.ErrDuplicate)
	}
	return fmt.Errorf("onboarded package with vnfdId %s: %w", p.VnfdID, store.ErrDuplicate)
}

func (o *ops) GetPackage(ctx context.Context, id string, forUpdate bool) (*store.Package, error) {
	sql := `SELECT ` + pkgCols + ` FROM vnf_packages WHERE id = $1`
	if forUpdate && o.inTx {
		sql += ` FOR UPDATE`
	}
	p, err := scanPackage(o.q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("package %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get package %s: %w", id, err)
	}
	return p, nil
}

func (o *ops) ListPackages(ctx context.Context, opts store.ListOptions) ([]store.Package, error) {
	where, args, err := listClause(packageColumns, opts)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list packages: %w", err)
	}
	rows, err := o.q.Query(ctx, `SELECT `+pkgCols+` FROM vnf_packages `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list packages: %w", err)
	}
	return out, nil
}

// UpdatePackage writes p if its revision matches. Inside a transaction, a
// write that may hit the one-ONBOARDED-per-vnfdId index runs under a
// savepoint: a unique violation aborts a Postgres transaction, and the caller
// must still be able to, say, record the failure on the package (as it can on
// SQLite, where a failed statement leaves the transaction usable).
func (o *ops) UpdatePackage(ctx context.Context, p *store.Package) error {
	doc, err := json.Marshal(&p.VnfPkgInfo)
	if err != nil {
		return fmt.Errorf("pgstore: update package %s: marshal: %w", p.ID, err)
	}
	savepoint := o.inTx && p.OnboardingState == model.PkgOnboarded
	if savepoint {
		if _, err := o.q.Exec(ctx, `SAVEPOINT vnfm_update_package`); err != nil {
			return fmt.Errorf("pgstore: update package %s: savepoint: %w", p.ID, err)
		}
	}
	lease := dbTime(p.LeaseUntil)
	var rev int64
	err = o.q.QueryRow(ctx, `UPDATE vnf_packages SET
		doc = $3, vnfd = $4, sealed_source = $5, owner = $6, lease_until = $7,
		vnfd_id = $8, onboarding_state = $9, operational_state = $10, usage_state = $11,
		vnf_provider = $12, vnf_product_name = $13, revision = revision + 1
		WHERE id = $1 AND revision = $2
		RETURNING revision`,
		p.ID, p.Revision, doc, nullBytes(p.Vnfd), nullBytes(p.SealedSource), p.Owner, lease,
		p.VnfdID, string(p.OnboardingState), string(p.OperationalState), string(p.UsageState),
		p.VnfProvider, p.VnfProductName,
	).Scan(&rev)
	if savepoint {
		stmt := `RELEASE SAVEPOINT vnfm_update_package`
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			stmt = `ROLLBACK TO SAVEPOINT vnfm_update_package`
		}
		if _, serr := o.q.Exec(ctx, stmt); serr != nil {
			return fmt.Errorf("pgstore: update package %s: %s: %w", p.ID, stmt, errors.Join(err, serr))
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return o.missOrConflict(ctx, "vnf_packages", "package", p.ID)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == onboardedIndex {
		return fmt.Errorf("onboarded package with vnfdId %s: %w", p.VnfdID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("pgstore: update package %s: %w", p.ID, err)
	}
	p.Revision, p.LeaseUntil = rev, fromDB(lease)
	return nil
}

// DeletePackage removes the package, if its revision matches, and its
// content, in one transaction (its own unless inside InTx).
func (o *ops) DeletePackage(ctx context.Context, id string, revision int64) error {
	if !o.inTx {
		return pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
			return (&ops{q: tx, inTx: true}).DeletePackage(ctx, id, revision)
		})
	}
	tag, err := o.q.Exec(ctx, `DELETE FROM vnf_packages WHERE id = $1 AND revision = $2`, id, revision)
	if err != nil {
		return fmt.Errorf("pgstore: delete package %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return o.missOrConflict(ctx, "vnf_packages", "package", id)
	}
	if _, err := o.q.Exec(ctx, `DELETE FROM vnf_package_contents WHERE package_id = $1`, id); err != nil {
		return fmt.Errorf("pgstore: delete content of package %s: %w", id, err)
	}
	return nil
}

// PutPackageContent stores the package's content in one statement (one
// parameter: the bytes travel in binary). ErrNotFound when the package does
// not exist, including when a concurrent DeletePackage wins the race (the
// foreign key check then fails).
func (o *ops) PutPackageContent(ctx context.Context, id string, content []byte) error {
	if content == nil {
		content = []byte{} // empty content, not NULL
	}
	tag, err := o.q.Exec(ctx, `INSERT INTO vnf_package_contents (package_id, content)
		SELECT id, $2::bytea FROM vnf_packages WHERE id = $1
		ON CONFLICT (package_id) DO UPDATE SET content = EXCLUDED.content`, id, content)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return fmt.Errorf("package %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("pgstore: put content of package %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("package %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (o *ops) PackageContent(ctx context.Context, id string) ([]byte, error) {
	var content []byte
	err := o.q.QueryRow(ctx, `SELECT content FROM vnf_package_contents WHERE package_id = $1`, id).Scan(&content)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("content of package %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: content of package %s: %w", id, err)
	}
	if content == nil {
		content = []byte{}
	}
	return content, nil
}

// OnboardedPackageByVnfd reads through the unique partial index.
func (o *ops) OnboardedPackageByVnfd(ctx context.Context, vnfdID string, forUpdate bool) (*store.Package, error) {
	sql := `SELECT ` + pkgCols + ` FROM vnf_packages WHERE vnfd_id = $1 AND ` + onboardedState
	if forUpdate && o.inTx {
		sql += ` FOR UPDATE`
	}
	p, err := scanPackage(o.q.QueryRow(ctx, sql, vnfdID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("onboarded package with vnfdId %s: %w", vnfdID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: onboarded package with vnfdId %s: %w", vnfdID, err)
	}
	return p, nil
}

// StalePackages lists packages in UPLOADING or PROCESSING that nobody holds:
// no owner, or a lease that ended before now. An owned row without a lease
// counts as stale, as in ExpiredJobs: nobody is renewing it.
func (s *Store) StalePackages(ctx context.Context, now time.Time) ([]store.Package, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pkgCols+` FROM vnf_packages
		WHERE `+onboardingWork+` AND (owner = '' OR lease_until IS NULL OR lease_until < $1)
		ORDER BY seq`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("pgstore: stale packages: %w", err)
	}
	out, err := collectPackages(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: stale packages: %w", err)
	}
	return out, nil
}

func scanPackage(row pgx.Row) (*store.Package, error) {
	var (
		p             store.Package
		id            string
		doc, vnfd, ss []byte
		lease         *time.Time
	)
	if err := row.Scan(&id, &p.Seq, &doc, &vnfd, &ss, &p.Owner, &lease, &p.Revision, &p.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, &p.VnfPkgInfo); err != nil {
		return nil, fmt.Errorf("decode package %s: %w", id, err)
	}
	p.ID = id
	if vnfd != nil {
		p.Vnfd = json.RawMessage(vnfd)
	}
	p.SealedSource = ss
	p.LeaseUntil = fromDB(lease)
	p.CreatedAt = p.CreatedAt.UTC()
	return &p, nil
}

func collectPackages(rows pgx.Rows) ([]store.Package, error) {
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

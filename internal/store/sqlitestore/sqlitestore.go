// Package sqlitestore is the embedded SQLite implementation of store.Store
// (modernc.org/sqlite, pure Go). One process owns the database file.
//
// Every transaction begins IMMEDIATE, taking the database's single write lock
// up front: a read-then-write transaction can then neither deadlock against
// another one upgrading its lock nor act on a stale read. Readers outside
// transactions are not blocked, thanks to WAL mode.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/migrations"
)

// maxConns leaves room for readers next to the one connection that holds the
// write lock (and those waiting for it).
const maxConns = 8

var (
	_ store.Store = (*Store)(nil)
	_ store.Tx    = (*ops)(nil)
)

// Store is a SQLite-backed store.Store. Create it with Open and call Migrate
// before use.
type Store struct {
	ops
	db  *sql.DB
	log *slog.Logger
}

// Open opens (creating if needed) the database file at path and its parent
// directory. It does not migrate: call Migrate.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: create directory: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", abs, err)
	}
	return &Store{ops: ops{q: db}, db: db, log: log}, nil
}

// dsn builds a file: URI. The pragmas run on every new connection; the
// driver reads _txlock and sends BEGIN IMMEDIATE for each transaction.
func dsn(path string) string {
	// Characters with a meaning in a URI must be escaped in the path.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
}

// Migrate applies the embedded migrations the database lacks, in version
// order, in one transaction. BEGIN IMMEDIATE serializes concurrent callers,
// including other processes opening the same file.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations.Load(migrations.SQLite)
	if err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	// The ledger has to exist before any migration can be checked against it,
	// so it is bootstrapped here rather than in a migration file.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlitestore: migrate: create schema_migrations: %w", err)
	}
	done := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("sqlitestore: migrate: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("sqlitestore: migrate: read schema_migrations: %w", err)
		}
		done[v] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("sqlitestore: migrate: read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlitestore: migrate: apply %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("sqlitestore: migrate: record %s: %w", m.Name, err)
		}
		s.log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: migrate: commit: %w", err)
	}
	return nil
}

// InTx runs fn in an IMMEDIATE transaction: it waits (up to the busy
// timeout) for the write lock, then has the database to itself until it ends.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: begin: %w", err)
	}
	// After a successful Commit this is a no-op; otherwise (error or panic in
	// fn) it discards everything fn wrote.
	defer func() { _ = tx.Rollback() }()
	if err := fn(&ops{q: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: commit: %w", err)
	}
	return nil
}

// ClaimJob claims the oldest unowned job. The single statement runs under the
// write lock, so concurrent claimers cannot pick the same row.
func (s *Store) ClaimJob(ctx context.Context, owner string, leaseUntil time.Time) (*store.OpOcc, error) {
	if owner == "" {
		return nil, errors.New("sqlitestore: claim job: empty owner")
	}
	row := s.db.QueryRowContext(ctx, `UPDATE vnf_lcm_op_occs
		SET owner = $1, lease_until = $2, revision = revision + 1
		WHERE seq = (
			SELECT seq FROM vnf_lcm_op_occs
			WHERE job <> '' AND owner = ''
			ORDER BY seq
			LIMIT 1)
		RETURNING `+opCols, owner, dbTime(leaseUntil))
	op, err := scanOpOcc(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: claim job: %w", err)
	}
	return op, nil
}

// RenewLeases sets the lease of owner's jobs among ids. It does not bump
// revision: the lease is bookkeeping, not part of the resource, and a worker
// holding the op occ must still be able to update it.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []string, leaseUntil time.Time) error {
	if len(ids) == 0 || owner == "" {
		return nil
	}
	args := []any{owner, dbTime(leaseUntil)}
	in := placeholders(&args, ids)
	if _, err := s.db.ExecContext(ctx, `UPDATE vnf_lcm_op_occs SET lease_until = $2
		WHERE owner = $1 AND id IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("sqlitestore: renew leases: %w", err)
	}
	return nil
}

// ExpiredJobs lists owned op occs whose lease ended before now. An owned row
// without a lease counts as expired: nobody is renewing it.
func (s *Store) ExpiredJobs(ctx context.Context, now time.Time) ([]store.OpOcc, error) {
	out, err := s.queryOpOccs(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs
		WHERE owner <> '' AND (lease_until IS NULL OR lease_until < $1)
		ORDER BY seq`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: expired jobs: %w", err)
	}
	return out, nil
}

// OwnedJobs lists op occs that have an owner.
func (s *Store) OwnedJobs(ctx context.Context) ([]store.OpOcc, error) {
	out, err := s.queryOpOccs(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs
		WHERE owner <> '' ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: owned jobs: %w", err)
	}
	return out, nil
}

// Wakeups returns nil: only this process writes the file, so callers know
// when they queue a job and poll for the rest.
func (s *Store) Wakeups(context.Context) <-chan struct{} { return nil }

// Shared is false: one process owns the database.
func (s *Store) Shared() bool { return false }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

func (s *Store) queryOpOccs(ctx context.Context, query string, args ...any) ([]store.OpOcc, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collectOpOccs(rows)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops implements store.Tx on the database (one implicit transaction per
// statement) or on a transaction. forUpdate needs no SQL: a transaction
// already holds the write lock.
type ops struct {
	q querier
}

const instCols = `id, seq, doc, sealed, private, revision, created_at`

// CreateInstance inserts inst. ON CONFLICT DO NOTHING plus a lookup tells a
// duplicate apart without parsing error messages.
func (o *ops) CreateInstance(ctx context.Context, inst *store.Instance) error {
	if inst.ID == "" {
		return errors.New("sqlitestore: create instance: empty id")
	}
	doc, err := json.Marshal(&inst.VnfInstance)
	if err != nil {
		return fmt.Errorf("sqlitestore: create instance %s: marshal: %w", inst.ID, err)
	}
	created := time.Now().UTC().Truncate(time.Microsecond)
	var seq int64
	err = o.q.QueryRowContext(ctx, `INSERT INTO vnf_instances
		(id, doc, sealed, private, revision, created_at,
		 vnfd_id, vnf_instance_name, instantiation_state, vnf_provider, vnf_product_name)
		VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		inst.ID, string(doc), nullBytes(inst.Sealed), nullText(inst.Private), created.UnixNano(),
		inst.VnfdID, inst.VnfInstanceName, string(inst.InstantiationState), inst.VnfProvider, inst.VnfProductName,
	).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("instance %s: %w", inst.ID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create instance %s: %w", inst.ID, err)
	}
	inst.Seq, inst.Revision, inst.CreatedAt = seq, 1, created
	return nil
}

func (o *ops) GetInstance(ctx context.Context, id string, _ bool) (*store.Instance, error) {
	inst, err := scanInstance(o.q.QueryRowContext(ctx, `SELECT `+instCols+` FROM vnf_instances WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("instance %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get instance %s: %w", id, err)
	}
	return inst, nil
}

var instanceColumns = map[string]string{
	"id":                 "id",
	"vnfdId":             "vnfd_id",
	"vnfInstanceName":    "vnf_instance_name",
	"instantiationState": "instantiation_state",
	"vnfProvider":        "vnf_provider",
	"vnfProductName":     "vnf_product_name",
}

func (o *ops) ListInstances(ctx context.Context, opts store.ListOptions) ([]store.Instance, error) {
	where, args, err := listClause(instanceColumns, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list instances: %w", err)
	}
	rows, err := o.q.QueryContext(ctx, `SELECT `+instCols+` FROM vnf_instances `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list instances: %w", err)
	}
	defer rows.Close()
	var out []store.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list instances: %w", err)
		}
		out = append(out, *inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list instances: %w", err)
	}
	return out, nil
}

func (o *ops) UpdateInstance(ctx context.Context, inst *store.Instance) error {
	doc, err := json.Marshal(&inst.VnfInstance)
	if err != nil {
		return fmt.Errorf("sqlitestore: update instance %s: marshal: %w", inst.ID, err)
	}
	res, err := o.q.ExecContext(ctx, `UPDATE vnf_instances SET
		doc = $3, sealed = $4, private = $5, revision = revision + 1,
		vnfd_id = $6, vnf_instance_name = $7, instantiation_state = $8,
		vnf_provider = $9, vnf_product_name = $10
		WHERE id = $1 AND revision = $2`,
		inst.ID, inst.Revision, string(doc), nullBytes(inst.Sealed), nullText(inst.Private),
		inst.VnfdID, inst.VnfInstanceName, string(inst.InstantiationState), inst.VnfProvider, inst.VnfProductName)
	if err != nil {
		return fmt.Errorf("sqlitestore: update instance %s: %w", inst.ID, err)
	}
	if err := o.checkChanged(ctx, res, "vnf_instances", "instance", inst.ID); err != nil {
		return err
	}
	inst.Revision++
	return nil
}

func (o *ops) DeleteInstance(ctx context.Context, id string, revision int64) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM vnf_instances WHERE id = $1 AND revision = $2`, id, revision)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete instance %s: %w", id, err)
	}
	return o.checkChanged(ctx, res, "vnf_instances", "instance", id)
}

// checkChanged explains a compare-and-swap that changed nothing.
func (o *ops) checkChanged(ctx context.Context, res sql.Result, table, kind, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: %s %s: %w", kind, id, err)
	}
	if n > 0 {
		return nil
	}
	exists, err := o.exists(ctx, table, id)
	if err != nil {
		return fmt.Errorf("sqlitestore: check %s %s: %w", kind, id, err)
	}
	if exists {
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrConflict)
	}
	return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
}

func (o *ops) exists(ctx context.Context, table, id string) (bool, error) {
	var exists bool
	err := o.q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&exists)
	return exists, err
}

const opCols = `id, seq, doc, sealed_params, progress, job, owner, lease_until, revision`

// activeState is the predicate of the vnf_lcm_op_occs_one_active index;
// written the same way so the planner can use that index.
const activeState = `operation_state NOT IN ('COMPLETED', 'FAILED', 'ROLLED_BACK')`

// CreateOpOcc inserts op; the unique partial index decides exclusivity.
func (o *ops) CreateOpOcc(ctx context.Context, op *store.OpOcc) error {
	if op.ID == "" {
		return errors.New("sqlitestore: create op occ: empty id")
	}
	doc, err := json.Marshal(&op.VnfLcmOpOcc)
	if err != nil {
		return fmt.Errorf("sqlitestore: create op occ %s: marshal: %w", op.ID, err)
	}
	lease := dbTime(op.LeaseUntil)
	var seq int64
	err = o.q.QueryRowContext(ctx, `INSERT INTO vnf_lcm_op_occs
		(id, vnf_instance_id, operation, operation_state, doc, sealed_params, progress,
		 job, owner, lease_until, revision, start_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		op.ID, op.VnfInstanceID, string(op.Operation), string(op.OperationState), string(doc),
		nullBytes(op.SealedParams), nullText(op.Progress), string(op.Job), op.Owner, lease, dbTime(op.StartTime),
	).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		exists, err := o.exists(ctx, "vnf_lcm_op_occs", op.ID)
		if err != nil {
			return fmt.Errorf("sqlitestore: create op occ %s: %w", op.ID, err)
		}
		if exists {
			return fmt.Errorf("op occ %s: %w", op.ID, store.ErrDuplicate)
		}
		return fmt.Errorf("vnf instance %s: %w", op.VnfInstanceID, store.ErrOpInProgress)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create op occ %s: %w", op.ID, err)
	}
	op.Seq, op.Revision, op.LeaseUntil = seq, 1, fromDB(lease)
	return nil
}

func (o *ops) GetOpOcc(ctx context.Context, id string, _ bool) (*store.OpOcc, error) {
	op, err := scanOpOcc(o.q.QueryRowContext(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("op occ %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get op occ %s: %w", id, err)
	}
	return op, nil
}

var opOccColumns = map[string]string{
	"id":             "id",
	"vnfInstanceId":  "vnf_instance_id",
	"operation":      "operation",
	"operationState": "operation_state",
}

func (o *ops) ListOpOccs(ctx context.Context, opts store.ListOptions) ([]store.OpOcc, error) {
	where, args, err := listClause(opOccColumns, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list op occs: %w", err)
	}
	rows, err := o.q.QueryContext(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list op occs: %w", err)
	}
	out, err := collectOpOccs(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list op occs: %w", err)
	}
	return out, nil
}

// UpdateOpOcc writes op if its revision matches. A lease the same owner holds
// is never shortened: RenewLeases may have extended it after op was read, and
// writing back the stale value would let the job be taken over. op.LeaseUntil
// is set to the stored value.
func (o *ops) UpdateOpOcc(ctx context.Context, op *store.OpOcc) error {
	doc, err := json.Marshal(&op.VnfLcmOpOcc)
	if err != nil {
		return fmt.Errorf("sqlitestore: update op occ %s: marshal: %w", op.ID, err)
	}
	var (
		rev   int64
		lease sql.NullInt64
	)
	err = o.q.QueryRowContext(ctx, `UPDATE vnf_lcm_op_occs SET
		vnf_instance_id = $3, operation = $4, operation_state = $5, doc = $6,
		sealed_params = $7, progress = $8, job = $9, owner = $10,
		lease_until = CASE
			WHEN owner = $10 AND owner <> '' AND lease_until IS NOT NULL
			     AND ($11 IS NULL OR lease_until > $11) THEN lease_until
			ELSE $11 END,
		start_time = $12, revision = revision + 1
		WHERE id = $1 AND revision = $2
		RETURNING revision, lease_until`,
		op.ID, op.Revision, op.VnfInstanceID, string(op.Operation), string(op.OperationState), string(doc),
		nullBytes(op.SealedParams), nullText(op.Progress), string(op.Job), op.Owner,
		dbTime(op.LeaseUntil), dbTime(op.StartTime),
	).Scan(&rev, &lease)
	if errors.Is(err, sql.ErrNoRows) {
		exists, err := o.exists(ctx, "vnf_lcm_op_occs", op.ID)
		if err != nil {
			return fmt.Errorf("sqlitestore: check op occ %s: %w", op.ID, err)
		}
		if exists {
			return fmt.Errorf("op occ %s: %w", op.ID, store.ErrConflict)
		}
		return fmt.Errorf("op occ %s: %w", op.ID, store.ErrNotFound)
	}
	if isUniqueViolation(err) {
		// Only reachable by moving a final op occ back to a non-final state.
		return fmt.Errorf("vnf instance %s: %w", op.VnfInstanceID, store.ErrOpInProgress)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: update op occ %s: %w", op.ID, err)
	}
	op.Revision = rev
	op.LeaseUntil = fromDB(lease)
	return nil
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

func (o *ops) ActiveOpOcc(ctx context.Context, instanceID string) (*store.OpOcc, error) {
	op, err := scanOpOcc(o.q.QueryRowContext(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs
		WHERE vnf_instance_id = $1 AND `+activeState, instanceID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("active op occ of vnf instance %s: %w", instanceID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: active op occ of vnf instance %s: %w", instanceID, err)
	}
	return op, nil
}

// listClause builds "WHERE ... ORDER BY seq [LIMIT n]" for opts.
func listClause(columns map[string]string, opts store.ListOptions) (string, []any, error) {
	var b strings.Builder
	args := []any{opts.AfterSeq}
	b.WriteString("WHERE seq > $1")
	for _, c := range opts.Where {
		col, ok := columns[c.Attr]
		if !ok {
			return "", nil, fmt.Errorf("attribute %q cannot be used as a filter", c.Attr)
		}
		if len(c.Values) == 0 {
			// Equal to one of nothing: no row qualifies.
			b.WriteString(" AND 0")
			continue
		}
		b.WriteString(" AND " + col + " IN (" + placeholders(&args, c.Values) + ")")
	}
	b.WriteString(" ORDER BY seq")
	if opts.Limit > 0 {
		args = append(args, opts.Limit)
		b.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	}
	return b.String(), args, nil
}

// placeholders appends values to args and returns their "$n, $m, ..." list.
func placeholders(args *[]any, values []string) string {
	var b strings.Builder
	for i, v := range values {
		*args = append(*args, v)
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(len(*args)))
	}
	return b.String()
}

type scanner interface{ Scan(dest ...any) error }

func scanInstance(row scanner) (*store.Instance, error) {
	var (
		inst       store.Instance
		id, doc    string
		seal, priv []byte
		created    int64
	)
	if err := row.Scan(&id, &inst.Seq, &doc, &seal, &priv, &inst.Revision, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &inst.VnfInstance); err != nil {
		return nil, fmt.Errorf("decode instance %s: %w", id, err)
	}
	inst.ID = id
	inst.Sealed = seal
	if priv != nil {
		inst.Private = json.RawMessage(priv)
	}
	inst.CreatedAt = time.Unix(0, created).UTC()
	return &inst, nil
}

func scanOpOcc(row scanner) (*store.OpOcc, error) {
	var (
		op           store.OpOcc
		id, doc, job string
		sp, prog     []byte
		lease        sql.NullInt64
	)
	if err := row.Scan(&id, &op.Seq, &doc, &sp, &prog, &job, &op.Owner, &lease, &op.Revision); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &op.VnfLcmOpOcc); err != nil {
		return nil, fmt.Errorf("decode op occ %s: %w", id, err)
	}
	op.ID = id
	op.SealedParams = sp
	if prog != nil {
		op.Progress = json.RawMessage(prog)
	}
	op.Job = store.Job(job)
	op.LeaseUntil = fromDB(lease)
	return &op, nil
}

func collectOpOccs(rows *sql.Rows) ([]store.OpOcc, error) {
	defer rows.Close()
	var out []store.OpOcc
	for rows.Next() {
		op, err := scanOpOcc(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *op)
	}
	return out, rows.Err()
}

// dbTime stores a time as Unix nanoseconds, kept to the microsecond so both
// stores return the same values; the zero time is NULL.
func dbTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Truncate(time.Microsecond).UnixNano(), Valid: true}
}

func fromDB(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// nullBytes stores an empty value as NULL, so nil and empty read back as nil.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullText stores JSON as TEXT (json_valid accepts only text) or NULL.
func nullText(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

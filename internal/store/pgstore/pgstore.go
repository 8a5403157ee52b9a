// Package pgstore is the Postgres implementation of store.Store (pgx).
//
// Several vnfm replicas may share one database. Correctness does not depend
// on anything held in memory: op occ exclusivity is a unique partial index,
// instance serialization is SELECT ... FOR UPDATE, job claims use
// FOR UPDATE SKIP LOCKED and every update is a compare-and-swap on revision.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/migrations"
)

// JobsChannel is the LISTEN/NOTIFY channel that announces queued jobs.
const JobsChannel = "vnfm_jobs"

// migrateLockKey is the pg_advisory_xact_lock key that serializes Migrate
// across replicas ("vnfmmigr").
const migrateLockKey int64 = 0x766e666d6d696772

// Constraint names from migrations/postgres, used to tell unique violations
// apart.
const oneActiveIndex = "vnf_lcm_op_occs_one_active"

// maxTxAttempts bounds InTx re-runs after a serialization failure or deadlock.
const maxTxAttempts = 4

// defaultConnectTimeout bounds opening a connection when the DSN sets no
// connect_timeout.
const defaultConnectTimeout = 10 * time.Second

var (
	_ store.Store = (*Store)(nil)
	_ store.Tx    = (*ops)(nil)
)

// Store is a Postgres-backed store.Store. Create it with Open and call
// Migrate before use.
type Store struct {
	ops
	pool *pgxpool.Pool
	log  *slog.Logger

	// closing is cancelled by Close; it stops the Wakeups listeners.
	closing   context.Context
	stop      context.CancelFunc
	mu        sync.Mutex // guards isClosed against listeners starting during Close
	isClosed  bool
	listeners sync.WaitGroup
}

// Open connects to the database at dsn (a libpq URL or key=value string) and
// checks that it answers. It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse dsn: %w", err)
	}
	// Without connect_timeout in the DSN a dial is bounded only by its
	// context, and request and conductor contexts have no deadline: an
	// unreachable server would hold them for the OS's TCP timeout.
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: create pool: %w", err)
	}
	// pgxpool connects lazily; fail here rather than on the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s:%d/%s: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	closing, stop := context.WithCancel(context.Background())
	return &Store{
		ops:     ops{q: pool, pool: pool},
		pool:    pool,
		log:     log,
		closing: closing,
		stop:    stop,
	}, nil
}

// Migrate applies the embedded migrations that the database lacks, in version
// order, in one transaction. A transaction-scoped advisory lock makes replicas
// that start together take turns: the second sees the first's versions and
// applies nothing.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations.Load(migrations.Postgres)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	// The ledger has to exist before any migration can be checked against it,
	// so it is bootstrapped here rather than in a migration file.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint      PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("pgstore: migrate: create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read schema_migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("pgstore: migrate: read schema_migrations: %w", err)
	}
	done := make(map[int64]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		// No arguments: pgx uses the simple protocol, which accepts a file of
		// several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("pgstore: migrate: apply %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return fmt.Errorf("pgstore: migrate: record %s: %w", m.Name, err)
		}
		s.log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: commit: %w", err)
	}
	return nil
}

// InTx runs fn in a READ COMMITTED transaction. When the transaction fails
// with a serialization failure or a deadlock, fn is run again (a few times) in
// a fresh transaction, so fn must not have effects outside tx.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if err == nil || attempt == maxTxAttempts || !retryable(err) {
			return err
		}
		s.log.Debug("retrying transaction", "attempt", attempt, "err", err)
		// Jitter keeps two deadlocked peers from colliding again in step.
		wait := time.Duration(attempt)*10*time.Millisecond + rand.N(10*time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (s *Store) inTx(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: begin: %w", err)
	}
	// After a successful Commit this is a no-op; otherwise (error or panic in
	// fn) it discards everything fn wrote.
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(&ops{q: tx, inTx: true}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization_failure, deadlock_detected
}

// ClaimJob claims the oldest unowned job. SKIP LOCKED lets concurrent
// claimers (in any replica) pass over a row another one is taking instead of
// queueing behind it.
func (s *Store) ClaimJob(ctx context.Context, owner string, leaseUntil time.Time) (*store.OpOcc, error) {
	if owner == "" {
		return nil, errors.New("pgstore: claim job: empty owner")
	}
	row := s.pool.QueryRow(ctx, `UPDATE vnf_lcm_op_occs
		SET owner = $1, lease_until = $2, revision = revision + 1
		WHERE id = (
			SELECT id FROM vnf_lcm_op_occs
			WHERE job <> '' AND owner = ''
			ORDER BY seq
			LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING `+opCols, owner, dbTime(leaseUntil))
	op, err := scanOpOcc(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim job: %w", err)
	}
	return op, nil
}

// RenewLeases sets the lease of owner's jobs among ids. It does not bump
// revision: the lease is bookkeeping, not part of the resource, and a worker
// holding the op occ must still be able to update it.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []string, leaseUntil time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE vnf_lcm_op_occs SET lease_until = $3
		WHERE owner = $1 AND owner <> '' AND id = ANY($2)`, owner, ids, dbTime(leaseUntil))
	if err != nil {
		return fmt.Errorf("pgstore: renew leases: %w", err)
	}
	return nil
}

// ExpiredJobs lists owned op occs whose lease ended before now. An owned row
// without a lease counts as expired: nobody is renewing it.
func (s *Store) ExpiredJobs(ctx context.Context, now time.Time) ([]store.OpOcc, error) {
	out, err := s.queryOpOccs(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs
		WHERE owner <> '' AND (lease_until IS NULL OR lease_until < $1)
		ORDER BY seq`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("pgstore: expired jobs: %w", err)
	}
	return out, nil
}

// OwnedJobs lists op occs that have an owner.
func (s *Store) OwnedJobs(ctx context.Context) ([]store.OpOcc, error) {
	out, err := s.queryOpOccs(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs
		WHERE owner <> '' ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: owned jobs: %w", err)
	}
	return out, nil
}

// Wakeups listens on JobsChannel on a dedicated connection and delivers a
// value when any process queues a job. The listener is running when Wakeups
// returns (unless the first connection attempt failed; it then keeps trying
// in the background). After a reconnect it delivers a value, since
// notifications sent while disconnected are lost. The goroutine ends with ctx
// or Close; the channel is then left open but silent, like a nil channel in a
// select.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closing, cancel)

	ch := make(chan struct{}, 1)
	conn, err := s.listenConn(ctx)
	if err != nil {
		s.log.Warn("listening for job wakeups failed; retrying", "err", err)
	}
	s.listeners.Add(1)
	go func() {
		defer s.listeners.Done()
		defer stop()
		defer cancel()
		s.listen(ctx, conn, ch)
	}()
	return ch
}

func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+JobsChannel); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

func (s *Store) listen(ctx context.Context, conn *pgx.Conn, ch chan<- struct{}) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	defer func() {
		if conn != nil {
			// ctx may be done; closing needs its own bounded context.
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
		}
	}()
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			c, err := s.listenConn(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				backoff = min(2*backoff, maxBackoff)
				s.log.Warn("reconnecting job wakeup listener failed", "err", err, "retry_in", backoff)
				continue
			}
			conn, backoff = c, minBackoff
			notify(ch) // jobs queued while disconnected went unannounced
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("job wakeup listener lost its connection", "err", err)
			_ = conn.Close(ctx)
			conn = nil
			continue
		}
		notify(ch)
	}
}

// notify delivers a wakeup without blocking; one pending value is enough.
func notify(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Shared is true: replicas may share the database.
func (s *Store) Shared() bool { return true }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close stops the wakeup listeners and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.isClosed {
		s.mu.Unlock()
		return nil
	}
	s.isClosed = true
	s.mu.Unlock()
	s.stop()
	s.listeners.Wait()
	s.pool.Close()
	return nil
}

func (s *Store) queryOpOccs(ctx context.Context, sql string, args ...any) ([]store.OpOcc, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return collectOpOccs(rows)
}

// querier is what pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ops implements store.Tx on the pool (one implicit transaction per
// statement) or on a pgx.Tx.
type ops struct {
	q    querier
	inTx bool
	pool *pgxpool.Pool // set when not inTx
}

// announcedTx runs write (a write that may queue a job) outside a caller's
// transaction in one of its own, so that the row and its notification commit
// together: an error then always means nothing was written. On error op is
// restored, so a caller may retry with it.
func (o *ops) announcedTx(ctx context.Context, op *store.OpOcc, write func(*ops) error) error {
	saved := *op
	err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
		return write(&ops{q: tx, inTx: true})
	})
	if err != nil {
		*op = saved
	}
	return err
}

const instCols = `id, seq, doc, sealed, private, revision, created_at`

// CreateInstance inserts inst. ON CONFLICT DO NOTHING (rather than catching
// the unique violation) keeps an enclosing transaction usable.
func (o *ops) CreateInstance(ctx context.Context, inst *store.Instance) error {
	if inst.ID == "" {
		return errors.New("pgstore: create instance: empty id")
	}
	doc, err := json.Marshal(&inst.VnfInstance)
	if err != nil {
		return fmt.Errorf("pgstore: create instance %s: marshal: %w", inst.ID, err)
	}
	created := now()
	var seq int64
	err = o.q.QueryRow(ctx, `INSERT INTO vnf_instances
		(id, doc, sealed, private, revision, created_at,
		 vnfd_id, vnf_instance_name, instantiation_state, vnf_provider, vnf_product_name)
		VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		inst.ID, doc, nullBytes(inst.Sealed), nullBytes(inst.Private), created,
		inst.VnfdID, inst.VnfInstanceName, string(inst.InstantiationState), inst.VnfProvider, inst.VnfProductName,
	).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("instance %s: %w", inst.ID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create instance %s: %w", inst.ID, err)
	}
	inst.Seq, inst.Revision, inst.CreatedAt = seq, 1, created
	return nil
}

func (o *ops) GetInstance(ctx context.Context, id string, forUpdate bool) (*store.Instance, error) {
	sql := `SELECT ` + instCols + ` FROM vnf_instances WHERE id = $1`
	if forUpdate && o.inTx {
		sql += ` FOR UPDATE`
	}
	inst, err := scanInstance(o.q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("instance %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get instance %s: %w", id, err)
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
		return nil, fmt.Errorf("pgstore: list instances: %w", err)
	}
	rows, err := o.q.Query(ctx, `SELECT `+instCols+` FROM vnf_instances `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list instances: %w", err)
	}
	defer rows.Close()
	var out []store.Instance
	for rows.Next() {
		inst, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("pgstore: list instances: %w", err)
		}
		out = append(out, *inst)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list instances: %w", err)
	}
	return out, nil
}

func (o *ops) UpdateInstance(ctx context.Context, inst *store.Instance) error {
	doc, err := json.Marshal(&inst.VnfInstance)
	if err != nil {
		return fmt.Errorf("pgstore: update instance %s: marshal: %w", inst.ID, err)
	}
	tag, err := o.q.Exec(ctx, `UPDATE vnf_instances SET
		doc = $3, sealed = $4, private = $5, revision = revision + 1,
		vnfd_id = $6, vnf_instance_name = $7, instantiation_state = $8,
		vnf_provider = $9, vnf_product_name = $10
		WHERE id = $1 AND revision = $2`,
		inst.ID, inst.Revision, doc, nullBytes(inst.Sealed), nullBytes(inst.Private),
		inst.VnfdID, inst.VnfInstanceName, string(inst.InstantiationState), inst.VnfProvider, inst.VnfProductName)
	if err != nil {
		return fmt.Errorf("pgstore: update instance %s: %w", inst.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return o.missOrConflict(ctx, "vnf_instances", "instance", inst.ID)
	}
	inst.Revision++
	return nil
}

func (o *ops) DeleteInstance(ctx context.Context, id string, revision int64) error {
	tag, err := o.q.Exec(ctx, `DELETE FROM vnf_instances WHERE id = $1 AND revision = $2`, id, revision)
	if err != nil {
		return fmt.Errorf("pgstore: delete instance %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return o.missOrConflict(ctx, "vnf_instances", "instance", id)
	}
	return nil
}

// missOrConflict explains a compare-and-swap that changed nothing.
func (o *ops) missOrConflict(ctx context.Context, table, kind, id string) error {
	var exists bool
	if err := o.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: check %s %s: %w", kind, id, err)
	}
	if exists {
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrConflict)
	}
	return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
}

const opCols = `id, seq, doc, sealed_params, progress, job, owner, lease_until, revision`

// activeState is the predicate of the vnf_lcm_op_occs_one_active index;
// written the same way so the planner can use that index.
const activeState = `operation_state NOT IN ('COMPLETED', 'FAILED', 'ROLLED_BACK')`

// CreateOpOcc inserts op. The unique partial index decides exclusivity: a
// concurrent insert for the same instance waits for the other transaction
// and, if that commits, inserts nothing here.
func (o *ops) CreateOpOcc(ctx context.Context, op *store.OpOcc) error {
	if op.ID == "" {
		return errors.New("pgstore: create op occ: empty id")
	}
	if !o.inTx && queuesJob(op) {
		return o.announcedTx(ctx, op, func(tx *ops) error { return tx.CreateOpOcc(ctx, op) })
	}
	doc, err := json.Marshal(&op.VnfLcmOpOcc)
	if err != nil {
		return fmt.Errorf("pgstore: create op occ %s: marshal: %w", op.ID, err)
	}
	lease := dbTime(op.LeaseUntil)
	var seq int64
	err = o.q.QueryRow(ctx, `INSERT INTO vnf_lcm_op_occs
		(id, vnf_instance_id, operation, operation_state, doc, sealed_params, progress,
		 job, owner, lease_until, revision, start_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		op.ID, op.VnfInstanceID, string(op.Operation), string(op.OperationState), doc,
		nullBytes(op.SealedParams), nullBytes(op.Progress), string(op.Job), op.Owner, lease, dbTime(op.StartTime),
	).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return o.whyNotInserted(ctx, op)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create op occ %s: %w", op.ID, err)
	}
	if err := o.announce(ctx, op); err != nil {
		return err
	}
	op.Seq, op.Revision, op.LeaseUntil = seq, 1, fromDB(lease)
	return nil
}

// whyNotInserted tells which unique index made an insert a no-op.
func (o *ops) whyNotInserted(ctx context.Context, op *store.OpOcc) error {
	var exists bool
	if err := o.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM vnf_lcm_op_occs WHERE id = $1)`, op.ID).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: create op occ %s: %w", op.ID, err)
	}
	if exists {
		return fmt.Errorf("op occ %s: %w", op.ID, store.ErrDuplicate)
	}
	return fmt.Errorf("vnf instance %s: %w", op.VnfInstanceID, store.ErrOpInProgress)
}

// queuesJob reports whether op, once written, is a job nobody owns.
func queuesJob(op *store.OpOcc) bool { return op.Job != store.JobNone && op.Owner == "" }

// announce wakes the conductors of all replicas when op leaves a job nobody
// owns. The notification is delivered when the transaction commits.
func (o *ops) announce(ctx context.Context, op *store.OpOcc) error {
	if !queuesJob(op) {
		return nil
	}
	if _, err := o.q.Exec(ctx, `SELECT pg_notify($1, '')`, JobsChannel); err != nil {
		return fmt.Errorf("pgstore: notify %s: %w", JobsChannel, err)
	}
	return nil
}

func (o *ops) GetOpOcc(ctx context.Context, id string, forUpdate bool) (*store.OpOcc, error) {
	sql := `SELECT ` + opCols + ` FROM vnf_lcm_op_occs WHERE id = $1`
	if forUpdate && o.inTx {
		sql += ` FOR UPDATE`
	}
	op, err := scanOpOcc(o.q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("op occ %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get op occ %s: %w", id, err)
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
		return nil, fmt.Errorf("pgstore: list op occs: %w", err)
	}
	rows, err := o.q.Query(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list op occs: %w", err)
	}
	out, err := collectOpOccs(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list op occs: %w", err)
	}
	return out, nil
}

// UpdateOpOcc writes op if its revision matches. A lease the same owner holds
// is never shortened: RenewLeases may have extended it after op was read, and
// writing back the stale value would let another replica take the job over.
// op.LeaseUntil is set to the stored value.
func (o *ops) UpdateOpOcc(ctx context.Context, op *store.OpOcc) error {
	if !o.inTx && queuesJob(op) {
		return o.announcedTx(ctx, op, func(tx *ops) error { return tx.UpdateOpOcc(ctx, op) })
	}
	doc, err := json.Marshal(&op.VnfLcmOpOcc)
	if err != nil {
		return fmt.Errorf("pgstore: update op occ %s: marshal: %w", op.ID, err)
	}
	var (
		rev   int64
		lease *time.Time
	)
	err = o.q.QueryRow(ctx, `UPDATE vnf_lcm_op_occs SET
		vnf_instance_id = $3, operation = $4, operation_state = $5, doc = $6,
		sealed_params = $7, progress = $8, job = $9, owner = $10,
		lease_until = CASE WHEN owner = $10 AND owner <> '' THEN GREATEST(lease_until, $11) ELSE $11 END,
		start_time = $12, revision = revision + 1
		WHERE id = $1 AND revision = $2
		RETURNING revision, lease_until`,
		op.ID, op.Revision, op.VnfInstanceID, string(op.Operation), string(op.OperationState), doc,
		nullBytes(op.SealedParams), nullBytes(op.Progress), string(op.Job), op.Owner,
		dbTime(op.LeaseUntil), dbTime(op.StartTime),
	).Scan(&rev, &lease)
	if errors.Is(err, pgx.ErrNoRows) {
		return o.missOrConflict(ctx, "vnf_lcm_op_occs", "op occ", op.ID)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == oneActiveIndex {
		// Only reachable by moving a final op occ back to a non-final state.
		return fmt.Errorf("vnf instance %s: %w", op.VnfInstanceID, store.ErrOpInProgress)
	}
	if err != nil {
		return fmt.Errorf("pgstore: update op occ %s: %w", op.ID, err)
	}
	if err := o.announce(ctx, op); err != nil {
		return err
	}
	op.Revision = rev
	op.LeaseUntil = fromDB(lease)
	return nil
}

func (o *ops) ActiveOpOcc(ctx context.Context, instanceID string) (*store.OpOcc, error) {
	op, err := scanOpOcc(o.q.QueryRow(ctx, `SELECT `+opCols+` FROM vnf_lcm_op_occs
		WHERE vnf_instance_id = $1 AND `+activeState, instanceID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("active op occ of vnf instance %s: %w", instanceID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: active op occ of vnf instance %s: %w", instanceID, err)
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
			b.WriteString(" AND false")
			continue
		}
		args = append(args, c.Values)
		b.WriteString(" AND " + col + " = ANY($" + strconv.Itoa(len(args)) + ")")
	}
	b.WriteString(" ORDER BY seq")
	if opts.Limit > 0 {
		args = append(args, opts.Limit)
		b.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	}
	return b.String(), args, nil
}

func scanInstance(row pgx.Row) (*store.Instance, error) {
	var (
		inst            store.Instance
		id              string
		doc, priv, seal []byte
	)
	if err := row.Scan(&id, &inst.Seq, &doc, &seal, &priv, &inst.Revision, &inst.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, &inst.VnfInstance); err != nil {
		return nil, fmt.Errorf("decode instance %s: %w", id, err)
	}
	inst.ID = id
	inst.Sealed = seal
	if priv != nil {
		inst.Private = json.RawMessage(priv)
	}
	inst.CreatedAt = inst.CreatedAt.UTC()
	return &inst, nil
}

func scanOpOcc(row pgx.Row) (*store.OpOcc, error) {
	var (
		op            store.OpOcc
		id, job       string
		doc, prog, sp []byte
		lease         *time.Time
	)
	if err := row.Scan(&id, &op.Seq, &doc, &sp, &prog, &job, &op.Owner, &lease, &op.Revision); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, &op.VnfLcmOpOcc); err != nil {
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

func collectOpOccs(rows pgx.Rows) ([]store.OpOcc, error) {
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

// Times are kept to the microsecond, Postgres' precision, so that what a
// method returns equals what a later read returns.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// dbTime maps the zero time to NULL.
func dbTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

func fromDB(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullBytes stores an empty value as NULL, so nil and empty read back as nil.
func nullBytes[B ~[]byte](b B) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vnfm-project/vnfm/internal/store"
)

const subCols = `id, seq, doc, sealed, dup_key, created_at`

var subscriptionColumns = map[string]string{
	"id":          "id",
	"callbackUri": "callback_uri",
}

// CreateSubscription inserts s. ON CONFLICT DO NOTHING keeps an enclosing
// transaction usable when the id is taken.
func (o *ops) CreateSubscription(ctx context.Context, s *store.Subscription) error {
	if s.ID == "" {
		return errors.New("pgstore: create subscription: empty id")
	}
	doc, err := json.Marshal(&s.LccnSubscription)
	if err != nil {
		return fmt.Errorf("pgstore: create subscription %s: marshal: %w", s.ID, err)
	}
	created := now()
	var seq int64
	err = o.q.QueryRow(ctx, `INSERT INTO subscriptions (id, doc, sealed, dup_key, callback_uri, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		s.ID, doc, nullBytes(s.Sealed), s.Key, s.CallbackURI, created).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("subscription %s: %w", s.ID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create subscription %s: %w", s.ID, err)
	}
	s.Seq, s.CreatedAt = seq, created
	return nil
}

func (o *ops) GetSubscription(ctx context.Context, id string) (*store.Subscription, error) {
	s, err := scanSubscription(o.q.QueryRow(ctx, `SELECT `+subCols+` FROM subscriptions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("subscription %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get subscription %s: %w", id, err)
	}
	return s, nil
}

func (o *ops) SubscriptionsByKey(ctx context.Context, key string) ([]store.Subscription, error) {
	rows, err := o.q.Query(ctx, `SELECT `+subCols+` FROM subscriptions WHERE dup_key = $1 ORDER BY seq`, key)
	if err != nil {
		return nil, fmt.Errorf("pgstore: subscriptions by key: %w", err)
	}
	out, err := collectSubscriptions(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: subscriptions by key: %w", err)
	}
	return out, nil
}

func (o *ops) ListSubscriptions(ctx context.Context, opts store.ListOptions) ([]store.Subscription, error) {
	where, args, err := listClause(subscriptionColumns, opts)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list subscriptions: %w", err)
	}
	rows, err := o.q.Query(ctx, `SELECT `+subCols+` FROM subscriptions `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list subscriptions: %w", err)
	}
	out, err := collectSubscriptions(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list subscriptions: %w", err)
	}
	return out, nil
}

// DeleteSubscription removes the subscription; the foreign key's cascade
// removes its notifications in the same statement.
func (o *ops) DeleteSubscription(ctx context.Context, id string) error {
	tag, err := o.q.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("pgstore: delete subscription %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("subscription %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// enqueueSQL inserts one notification if its subscription exists. FOR KEY
// SHARE locks the subscription row first: a concurrent DeleteSubscription
// either commits before (the row is skipped, nothing is inserted) or waits
// for this transaction (and its cascade then removes the row). Without the
// lock the foreign key check could fail in between and abort the caller's
// transaction. KEY SHARE does not conflict with ClaimOutbox's NO KEY UPDATE
// locks or lease updates.
const enqueueSQL = `INSERT INTO notifications
	(id, subscription_id, body, created_at, attempts, next_attempt, last_error)
	SELECT $1::text, s.id, $3::json, $4::timestamptz, $5::integer, $6::timestamptz, $7::text
	FROM subscriptions s WHERE s.id = $2
	FOR KEY SHARE OF s
	RETURNING seq`

// EnqueueNotifications inserts ns in one round trip (a pgx batch), in a
// transaction of its own unless inside InTx. ns[i].Seq is set, or 0 when the
// subscription does not exist and the row was dropped.
func (o *ops) EnqueueNotifications(ctx context.Context, ns []store.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	if !o.inTx {
		saved := slices.Clone(ns)
		err := pgx.BeginFunc(ctx, o.pool, func(tx pgx.Tx) error {
			return (&ops{q: tx, inTx: true}).EnqueueNotifications(ctx, ns)
		})
		if err != nil {
			copy(ns, saved) // nothing was written
		}
		return err
	}
	tx, ok := o.q.(pgx.Tx)
	if !ok {
		return errors.New("pgstore: enqueue notifications: not in a transaction")
	}
	batch := &pgx.Batch{}
	for i := range ns {
		n := &ns[i]
		if len(n.Body) == 0 {
			return fmt.Errorf("pgstore: enqueue notification %s: empty body", n.ID)
		}
		n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
		if n.CreatedAt.IsZero() {
			n.CreatedAt = now()
		}
		n.NextAttempt = n.NextAttempt.UTC().Truncate(time.Microsecond)
		if n.NextAttempt.IsZero() {
			n.NextAttempt = n.CreatedAt
		}
		batch.Queue(enqueueSQL, n.ID, n.SubscriptionID, []byte(n.Body), n.CreatedAt,
			n.Attempts, n.NextAttempt, n.LastError)
	}
	br := tx.SendBatch(ctx, batch)
	for i := range ns {
		var seq int64
		err := br.QueryRow().Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			seq, err = 0, nil
		}
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("pgstore: enqueue notification %s for subscription %s: %w", ns[i].ID, ns[i].SubscriptionID, err)
		}
		ns[i].Seq = seq
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("pgstore: enqueue notifications: %w", err)
	}
	return nil
}

// outboxHeadDue is true for a subscription (aliased s) whose oldest
// notification is due at $2. It reads through notifications_subscription.
const outboxHeadDue = `(SELECT n.next_attempt FROM notifications n
	WHERE n.subscription_id = s.id ORDER BY n.seq LIMIT 1) <= $2`

// ClaimOutbox leases up to limit subscriptions in one statement. SKIP LOCKED
// lets concurrent claimers (in any replica) pass over rows another one is
// taking; a row that another claimer leased meanwhile is re-checked against
// the lease condition once locked and dropped. NO KEY UPDATE (rather than
// UPDATE) does not block enqueuers, whose foreign key checks take KEY SHARE.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]string, error) {
	if owner == "" {
		return nil, errors.New("pgstore: claim outbox: empty owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE subscriptions SET owner = $1, lease_until = $3
		WHERE id IN (
			SELECT s.id FROM subscriptions s
			WHERE (s.owner = '' OR s.lease_until IS NULL OR s.lease_until < $2)
			  AND `+outboxHeadDue+`
			ORDER BY (SELECT min(n.seq) FROM notifications n WHERE n.subscription_id = s.id)
			LIMIT $4
			FOR NO KEY UPDATE OF s SKIP LOCKED)
		RETURNING id, seq`, owner, dbTime(now), dbTime(leaseUntil), limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim outbox: %w", err)
	}
	type claimed struct {
		id  string
		seq int64
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		var c claimed
		err := row.Scan(&c.id, &c.seq)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim outbox: %w", err)
	}
	// RETURNING has no defined order.
	slices.SortFunc(got, func(a, b claimed) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]string, len(got))
	for i, c := range got {
		out[i] = c.id
	}
	return out, nil
}

// RenewOutbox extends owner's leases among subIDs.
func (s *Store) RenewOutbox(ctx context.Context, owner string, subIDs []string, leaseUntil time.Time) error {
	if len(subIDs) == 0 || owner == "" {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE subscriptions SET lease_until = $3
		WHERE owner = $1 AND id = ANY($2)`, owner, subIDs, dbTime(leaseUntil)); err != nil {
		return fmt.Errorf("pgstore: renew outbox leases: %w", err)
	}
	return nil
}

// ReleaseOutbox ends owner's lease on subID, if owner holds it.
func (s *Store) ReleaseOutbox(ctx context.Context, owner, subID string) error {
	if owner == "" {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE subscriptions SET owner = '', lease_until = NULL
		WHERE id = $1 AND owner = $2`, subID, owner); err != nil {
		return fmt.Errorf("pgstore: release outbox lease on %s: %w", subID, err)
	}
	return nil
}

const notifCols = `seq, id, subscription_id, body, created_at, attempts, next_attempt, last_error`

// PendingNotifications returns subID's oldest notifications; limit <= 0
// means all of them.
func (s *Store) PendingNotifications(ctx context.Context, subID string, limit int) ([]store.Notification, error) {
	sql := `SELECT ` + notifCols + ` FROM notifications WHERE subscription_id = $1 ORDER BY seq`
	args := []any{subID}
	if limit > 0 {
		sql += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: pending notifications of %s: %w", subID, err)
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		var (
			n    store.Notification
			body []byte
		)
		if err := rows.Scan(&n.Seq, &n.ID, &n.SubscriptionID, &body, &n.CreatedAt, &n.Attempts, &n.NextAttempt, &n.LastError); err != nil {
			return nil, fmt.Errorf("pgstore: pending notifications of %s: %w", subID, err)
		}
		n.Body = json.RawMessage(body)
		n.CreatedAt, n.NextAttempt = n.CreatedAt.UTC(), n.NextAttempt.UTC()
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: pending notifications of %s: %w", subID, err)
	}
	return out, nil
}

// DeleteNotification removes the notification; gone already is fine.
func (s *Store) DeleteNotification(ctx context.Context, seq int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM notifications WHERE seq = $1`, seq); err != nil {
		return fmt.Errorf("pgstore: delete notification %d: %w", seq, err)
	}
	return nil
}

// DeferNotification writes n's Attempts, NextAttempt (now when zero) and
// LastError; ErrNotFound when the row is gone (delivered, or its
// subscription deleted).
func (s *Store) DeferNotification(ctx context.Context, n *store.Notification) error {
	next := n.NextAttempt.UTC().Truncate(time.Microsecond)
	if next.IsZero() {
		next = now()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE notifications SET attempts = $2, next_attempt = $3, last_error = $4
		WHERE seq = $1`, n.Seq, n.Attempts, next, n.LastError)
	if err != nil {
		return fmt.Errorf("pgstore: defer notification %d: %w", n.Seq, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("notification %d: %w", n.Seq, store.ErrNotFound)
	}
	n.NextAttempt = next
	return nil
}

// OutboxDepth counts undelivered notifications.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM notifications`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: outbox depth: %w", err)
	}
	return n, nil
}

func scanSubscription(row pgx.Row) (*store.Subscription, error) {
	var (
		s           store.Subscription
		id          string
		doc, sealed []byte
	)
	if err := row.Scan(&id, &s.Seq, &doc, &sealed, &s.Key, &s.CreatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(doc, &s.LccnSubscription); err != nil {
		return nil, fmt.Errorf("decode subscription %s: %w", id, err)
	}
	s.ID = id
	s.Sealed = sealed
	s.CreatedAt = s.CreatedAt.UTC()
	return &s, nil
}

func collectSubscriptions(rows pgx.Rows) ([]store.Subscription, error) {
	defer rows.Close()
	var out []store.Subscription
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vnfm-project/vnfm/internal/store"
)

const subCols = `id, seq, doc, sealed, dup_key, created_at`

var subscriptionColumns = map[string]string{
	"id":          "id",
	"callbackUri": "callback_uri",
}

// CreateSubscription inserts s. ON CONFLICT DO NOTHING plus RETURNING tells
// a duplicate id apart without parsing error messages.
func (o *ops) CreateSubscription(ctx context.Context, s *store.Subscription) error {
	if s.ID == "" {
		return errors.New("sqlitestore: create subscription: empty id")
	}
	doc, err := json.Marshal(&s.LccnSubscription)
	if err != nil {
		return fmt.Errorf("sqlitestore: create subscription %s: marshal: %w", s.ID, err)
	}
	created := time.Now().UTC().Truncate(time.Microsecond)
	var seq int64
	err = o.q.QueryRowContext(ctx, `INSERT INTO subscriptions (id, doc, sealed, dup_key, callback_uri, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING
		RETURNING seq`,
		s.ID, string(doc), nullBytes(s.Sealed), s.Key, s.CallbackURI, created.UnixNano()).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("subscription %s: %w", s.ID, store.ErrDuplicate)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create subscription %s: %w", s.ID, err)
	}
	s.Seq, s.CreatedAt = seq, created
	return nil
}

func (o *ops) GetSubscription(ctx context.Context, id string) (*store.Subscription, error) {
	s, err := scanSubscription(o.q.QueryRowContext(ctx, `SELECT `+subCols+` FROM subscriptions WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("subscription %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get subscription %s: %w", id, err)
	}
	return s, nil
}

func (o *ops) SubscriptionsByKey(ctx context.Context, key string) ([]store.Subscription, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+subCols+` FROM subscriptions WHERE dup_key = $1 ORDER BY seq`, key)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: subscriptions by key: %w", err)
	}
	out, err := collectSubscriptions(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: subscriptions by key: %w", err)
	}
	return out, nil
}

func (o *ops) ListSubscriptions(ctx context.Context, opts store.ListOptions) ([]store.Subscription, error) {
	where, args, err := listClause(subscriptionColumns, opts)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list subscriptions: %w", err)
	}
	rows, err := o.q.QueryContext(ctx, `SELECT `+subCols+` FROM subscriptions `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list subscriptions: %w", err)
	}
	out, err := collectSubscriptions(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list subscriptions: %w", err)
	}
	return out, nil
}

// DeleteSubscription removes the subscription and its notifications in one
// transaction (its own unless inside InTx). The notifications are deleted
// explicitly, as package contents are: the foreign key's cascade is only a
// safety net, applied by connections that enable foreign keys.
func (o *ops) DeleteSubscription(ctx context.Context, id string) error {
	return o.atomically(ctx, func(tx *ops) error {
		res, err := tx.q.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("sqlitestore: delete subscription %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlitestore: delete subscription %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("subscription %s: %w", id, store.ErrNotFound)
		}
		if _, err := tx.q.ExecContext(ctx, `DELETE FROM notifications WHERE subscription_id = $1`, id); err != nil {
			return fmt.Errorf("sqlitestore: delete notifications of subscription %s: %w", id, err)
		}
		return nil
	})
}

// enqueueSQL inserts one notification if its subscription exists. Under the
// write lock nothing can delete the subscription between check and insert.
const enqueueSQL = `INSERT INTO notifications
	(id, subscription_id, body, created_at, attempts, next_attempt, last_error)
	SELECT $1, $2, $3, $4, $5, $6, $7
	WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = $2)
	RETURNING seq`

// preparer is what *sql.DB and *sql.Tx have for prepared statements.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// EnqueueNotifications inserts ns with one prepared statement in one
// transaction (its own unless inside InTx). ns[i].Seq is set, or 0 when the
// subscription does not exist and the row was dropped.
func (o *ops) EnqueueNotifications(ctx context.Context, ns []store.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	saved := slices.Clone(ns)
	err := o.atomically(ctx, func(tx *ops) error {
		p, ok := tx.q.(preparer)
		if !ok {
			return errors.New("sqlitestore: enqueue notifications: cannot prepare statements")
		}
		stmt, err := p.PrepareContext(ctx, enqueueSQL)
		if err != nil {
			return fmt.Errorf("sqlitestore: enqueue notifications: prepare: %w", err)
		}
		defer stmt.Close()
		for i := range ns {
			n := &ns[i]
			if len(n.Body) == 0 {
				return fmt.Errorf("sqlitestore: enqueue notification %s: empty body", n.ID)
			}
			n.CreatedAt = n.CreatedAt.UTC().Truncate(time.Microsecond)
			if n.CreatedAt.IsZero() {
				n.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
			}
			n.NextAttempt = n.NextAttempt.UTC().Truncate(time.Microsecond)
			if n.NextAttempt.IsZero() {
				n.NextAttempt = n.CreatedAt
			}
			var seq int64
			err := stmt.QueryRowContext(ctx, n.ID, n.SubscriptionID, string(n.Body), n.CreatedAt.UnixNano(),
				n.Attempts, n.NextAttempt.UnixNano(), n.LastError).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				seq, err = 0, nil
			}
			if err != nil {
				return fmt.Errorf("sqlitestore: enqueue notification %s for subscription %s: %w", n.ID, n.SubscriptionID, err)
			}
			n.Seq = seq
		}
		return nil
	})
	if err != nil {
		copy(ns, saved) // the caller must not rely on a failed enqueue
	}
	return err
}

// outboxHeadDue is true for a subscription (aliased s) whose oldest
// notification is due at $2. It reads through notifications_subscription.
const outboxHeadDue = `(SELECT n.next_attempt FROM notifications n
	WHERE n.subscription_id = s.id ORDER BY n.seq LIMIT 1) <= $2`

// ClaimOutbox leases up to limit subscriptions. The single statement runs
// under the write lock, so concurrent claimers cannot pick the same row.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]string, error) {
	if owner == "" {
		return nil, errors.New("sqlitestore: claim outbox: empty owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `UPDATE subscriptions SET owner = $1, lease_until = $3
		WHERE seq IN (
			SELECT s.seq FROM subscriptions s
			WHERE (s.owner = '' OR s.lease_until IS NULL OR s.lease_until < $2)
			  AND `+outboxHeadDue+`
			ORDER BY (SELECT min(n.seq) FROM notifications n WHERE n.subscription_id = s.id)
			LIMIT $4)
		RETURNING id, seq`, owner, dbTime(now), dbTime(leaseUntil), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: claim outbox: %w", err)
	}
	defer rows.Close()
	type claimed struct {
		id  string
		seq int64
	}
	var got []claimed
	for rows.Next() {
		var c claimed
		if err := rows.Scan(&c.id, &c.seq); err != nil {
			return nil, fmt.Errorf("sqlitestore: claim outbox: %w", err)
		}
		got = append(got, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlitestore: claim outbox: %w", err)
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
	args := []any{owner, dbTime(leaseUntil)}
	in := placeholders(&args, subIDs)
	if _, err := s.db.ExecContext(ctx, `UPDATE subscriptions SET lease_until = $2
		WHERE owner = $1 AND id IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("sqlitestore: renew outbox leases: %w", err)
	}
	return nil
}

// ReleaseOutbox ends owner's lease on subID, if owner holds it.
func (s *Store) ReleaseOutbox(ctx context.Context, owner, subID string) error {
	if owner == "" {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE subscriptions SET owner = '', lease_until = NULL
		WHERE id = $1 AND owner = $2`, subID, owner); err != nil {
		return fmt.Errorf("sqlitestore: release outbox lease on %s: %w", subID, err)
	}
	return nil
}

const notifCols = `seq, id, subscription_id, body, created_at, attempts, next_attempt, last_error`

// PendingNotifications returns subID's oldest notifications; limit <= 0
// means all of them.
func (s *Store) PendingNotifications(ctx context.Context, subID string, limit int) ([]store.Notification, error) {
	query := `SELECT ` + notifCols + ` FROM notifications WHERE subscription_id = $1 ORDER BY seq`
	args := []any{subID}
	if limit > 0 {
		query += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: pending notifications of %s: %w", subID, err)
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		var (
			n             store.Notification
			body          string
			created, next int64
		)
		if err := rows.Scan(&n.Seq, &n.ID, &n.SubscriptionID, &body, &created, &n.Attempts, &next, &n.LastError); err != nil {
			return nil, fmt.Errorf("sqlitestore: pending notifications of %s: %w", subID, err)
		}
		n.Body = json.RawMessage(body)
		n.CreatedAt, n.NextAttempt = time.Unix(0, created).UTC(), time.Unix(0, next).UTC()
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: pending notifications of %s: %w", subID, err)
	}
	return out, nil
}

// DeleteNotification removes the notification; gone already is fine.
func (s *Store) DeleteNotification(ctx context.Context, seq int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM notifications WHERE seq = $1`, seq); err != nil {
		return fmt.Errorf("sqlitestore: delete notification %d: %w", seq, err)
	}
	return nil
}

// DeferNotification writes n's Attempts, NextAttempt (now when zero) and
// LastError; ErrNotFound when the row is gone (delivered, or its
// subscription deleted).
func (s *Store) DeferNotification(ctx context.Context, n *store.Notification) error {
	next := n.NextAttempt.UTC().Truncate(time.Microsecond)
	if next.IsZero() {
		next = time.Now().UTC().Truncate(time.Microsecond)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE notifications SET attempts = $2, next_attempt = $3, last_error = $4
		WHERE seq = $1`, n.Seq, n.Attempts, next.UnixNano(), n.LastError)
	if err != nil {
		return fmt.Errorf("sqlitestore: defer notification %d: %w", n.Seq, err)
	}
	changed, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: defer notification %d: %w", n.Seq, err)
	}
	if changed == 0 {
		return fmt.Errorf("notification %d: %w", n.Seq, store.ErrNotFound)
	}
	n.NextAttempt = next
	return nil
}

// OutboxDepth counts undelivered notifications.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM notifications`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: outbox depth: %w", err)
	}
	return n, nil
}

func scanSubscription(row scanner) (*store.Subscription, error) {
	var (
		s       store.Subscription
		id, doc string
		sealed  []byte
		created int64
	)
	if err := row.Scan(&id, &s.Seq, &doc, &sealed, &s.Key, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &s.LccnSubscription); err != nil {
		return nil, fmt.Errorf("decode subscription %s: %w", id, err)
	}
	s.ID = id
	s.Sealed = sealed
	s.CreatedAt = time.Unix(0, created).UTC()
	return &s, nil
}

func collectSubscriptions(rows *sql.Rows) ([]store.Subscription, error) {
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

package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
)

// Subscription is a stored LCM notification subscription.
type Subscription struct {
	model.LccnSubscription
	// Sealed holds the encrypted authentication. Opaque to the store.
	Sealed []byte
	// Key identifies the callback and filter: two subscriptions with the
	// same Key are duplicates. Indexed, not unique (duplicates may be
	// allowed by configuration).
	Key       string
	Seq       int64
	CreatedAt time.Time
}

// Notification is one notification waiting in the outbox for one
// subscription. Rows are written in the transaction of the change they
// announce and deleted once delivered (or given up on).
type Notification struct {
	// Seq orders a subscription's notifications; assigned by the store.
	Seq            int64
	ID             string // the body's id
	SubscriptionID string
	Body           json.RawMessage
	CreatedAt      time.Time
	// Attempts is how many deliveries failed so far; NextAttempt is when
	// the next may start (CreatedAt for a new one).
	Attempts    int
	NextAttempt time.Time
	LastError   string
}

// SubscriptionAttrs names the attributes usable in Cond for subscriptions.
var SubscriptionAttrs = []string{"id", "callbackUri"}

// SubscriptionTx is the subscriptions' and the outbox's part of a
// transaction.
type SubscriptionTx interface {
	// CreateSubscription inserts s (Seq and CreatedAt assigned);
	// ErrDuplicate when the id is taken.
	CreateSubscription(ctx context.Context, s *Subscription) error
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// SubscriptionsByKey returns the subscriptions with that Key, oldest
	// first (none is not an error).
	SubscriptionsByKey(ctx context.Context, key string) ([]Subscription, error)
	ListSubscriptions(ctx context.Context, opts ListOptions) ([]Subscription, error)
	// DeleteSubscription removes it and its undelivered notifications;
	// ErrNotFound when there is none.
	DeleteSubscription(ctx context.Context, id string) error
	// EnqueueNotifications inserts ns (Seq and, when zero, CreatedAt and
	// NextAttempt assigned) for delivery. Rows for a subscription that
	// does not exist (deleted meanwhile) are dropped silently.
	EnqueueNotifications(ctx context.Context, ns []Notification) error
}

// Outbox is what notification delivery needs from the store, outside
// transactions. A subscription's notifications are delivered in Seq order
// by one process at a time: that process holds the subscription's outbox
// lease.
type Outbox interface {
	// ClaimOutbox leases up to limit subscriptions whose oldest
	// notification is due (NextAttempt <= now) and whose lease is free or
	// ended before now, to owner until leaseUntil, and returns their ids.
	// The subscriptions waiting longest (oldest head notification) go
	// first, so a few busy ones cannot starve the rest. Safe against
	// concurrent claimers in other processes.
	ClaimOutbox(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]string, error)
	// RenewOutbox extends owner's leases on these subscriptions.
	RenewOutbox(ctx context.Context, owner string, subIDs []string, leaseUntil time.Time) error
	// ReleaseOutbox ends owner's lease on subID (no-op if not held).
	ReleaseOutbox(ctx context.Context, owner, subID string) error
	// PendingNotifications returns subID's oldest notifications in Seq
	// order, at most limit, due or not.
	PendingNotifications(ctx context.Context, subID string, limit int) ([]Notification, error)
	// DeleteNotification removes a delivered or abandoned notification
	// (no-op when already gone).
	DeleteNotification(ctx context.Context, seq int64) error
	// DeferNotification records a failed attempt: Attempts, NextAttempt and
	// LastError are written.
	DeferNotification(ctx context.Context, n *Notification) error
	// OutboxDepth counts undelivered notifications.
	OutboxDepth(ctx context.Context) (int64, error)
}

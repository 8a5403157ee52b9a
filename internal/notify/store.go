// Package notify announces VNF lifecycle changes to subscribers (SOL003
// §5.5.2 notifications) and manages their subscriptions.
//
// Announcing is durable by construction: Wrap decorates the store so that
// every write that changes an op occ's state, creates or deletes a VNF
// instance also writes the matching notifications to the outbox, in the same
// transaction. A Deliverer then POSTs them, per subscription in order, at
// least once.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// Config configures the store decorator.
type Config struct {
	// BaseURL returns the API root for the notifications' _links (read at
	// every notification: the listen address is known late).
	BaseURL func() string
	Log     *slog.Logger
	Now     func() time.Time
	NewID   func() string
}

// Store is a store.Store whose LCM writes also enqueue notifications.
type Store struct {
	store.Store
	cfg    Config
	onSent func() // told after a commit that enqueued something
}

// Wrap decorates st.
func Wrap(st store.Store, cfg Config) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.BaseURL == nil {
		cfg.BaseURL = func() string { return "" }
	}
	return &Store{Store: st, cfg: cfg}
}

// OnEnqueue sets the function told (after commit) that notifications were
// enqueued: the local Deliverer's wakeup.
func (s *Store) OnEnqueue(fn func()) { s.onSent = fn }

// InTx runs fn in a transaction whose LCM writes enqueue notifications.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	var queued bool
	err := s.Store.InTx(ctx, func(tx store.Tx) error {
		queued = false // a retried transaction starts over
		return fn(&tx2{Tx: tx, s: s, queued: &queued, states: map[string]model.OperationState{}})
	})
	if err == nil && queued && s.onSent != nil {
		s.onSent()
	}
	return err
}

// The Store-level (implicit transaction) forms of the announcing writes run
// in an explicit one, so the notifications commit with them.

func (s *Store) CreateInstance(ctx context.Context, inst *store.Instance) error {
	return s.InTx(ctx, func(tx store.Tx) error { return tx.CreateInstance(ctx, inst) })
}

func (s *Store) DeleteInstance(ctx context.Context, id string, revision int64) error {
	return s.InTx(ctx, func(tx store.Tx) error { return tx.DeleteInstance(ctx, id, revision) })
}

func (s *Store) CreateOpOcc(ctx context.Context, op *store.OpOcc) error {
	return s.InTx(ctx, func(tx store.Tx) error { return tx.CreateOpOcc(ctx, op) })
}

func (s *Store) UpdateOpOcc(ctx context.Context, op *store.OpOcc) error {
	return s.InTx(ctx, func(tx store.Tx) error { return tx.UpdateOpOcc(ctx, op) })
}

type tx2 struct {
	store.Tx
	s      *Store
	queued *bool
	// states holds the stored state of the op occs this transaction read
	// or wrote, so that an update (every writer reads the row first, under
	// its lock) needs no second read to tell whether the state changed.
	states map[string]model.OperationState
}

func (t *tx2) GetOpOcc(ctx context.Context, id string, forUpdate bool) (*store.OpOcc, error) {
	op, err := t.Tx.GetOpOcc(ctx, id, forUpdate)
	if err == nil {
		t.states[op.ID] = op.OperationState
	}
	return op, err
}

func (t *tx2) CreateInstance(ctx context.Context, inst *store.Instance) error {
	if err := t.Tx.CreateInstance(ctx, inst); err != nil {
		return err
	}
	return t.announce(ctx, identifierEvent(model.NotifIdentifierCreation, &inst.VnfInstance, inst.CreatedAt))
}

func (t *tx2) DeleteInstance(ctx context.Context, id string, revision int64) error {
	inst, err := t.Tx.GetInstance(ctx, id, false)
	if err != nil {
		return err
	}
	if err := t.Tx.DeleteInstance(ctx, id, revision); err != nil {
		return err
	}
	return t.announce(ctx, identifierEvent(model.NotifIdentifierDeletion, &inst.VnfInstance, t.s.cfg.Now()))
}

func (t *tx2) CreateOpOcc(ctx context.Context, op *store.OpOcc) error {
	if err := t.Tx.CreateOpOcc(ctx, op); err != nil {
		return err
	}
	t.states[op.ID] = op.OperationState
	return t.opChanged(ctx, op)
}

func (t *tx2) UpdateOpOcc(ctx context.Context, op *store.OpOcc) error {
	prev, ok := t.states[op.ID]
	if !ok {
		stored, err := t.Tx.GetOpOcc(ctx, op.ID, false)
		if err != nil {
			return err
		}
		prev = stored.OperationState
	}
	if err := t.Tx.UpdateOpOcc(ctx, op); err != nil {
		return err
	}
	t.states[op.ID] = op.OperationState
	if prev == op.OperationState {
		return nil // a journal save, a lease, a cancel request
	}
	return t.opChanged(ctx, op)
}

func (t *tx2) opChanged(ctx context.Context, op *store.OpOcc) error {
	inst, err := t.Tx.GetInstance(ctx, op.VnfInstanceID, false)
	if err != nil {
		return fmt.Errorf("notify: instance of op occ %s: %w", op.ID, err)
	}
	return t.announce(ctx, opOccEvent(op, &inst.VnfInstance))
}

// announce enqueues ev for every subscription it matches.
func (t *tx2) announce(ctx context.Context, ev *event) error {
	subs, err := t.Tx.ListSubscriptions(ctx, store.ListOptions{})
	if err != nil {
		return fmt.Errorf("notify: list subscriptions: %w", err)
	}
	if len(subs) == 0 {
		return nil
	}
	base := strings.TrimRight(t.s.cfg.BaseURL(), "/")
	id := t.s.cfg.NewID()
	var out []store.Notification
	for i := range subs {
		sub := &subs[i]
		if !ev.matches(sub.Filter) {
			continue
		}
		body, err := ev.body(id, sub.ID, base)
		if err != nil {
			return err
		}
		out = append(out, store.Notification{ID: id, SubscriptionID: sub.ID, Body: body, CreatedAt: ev.at})
	}
	if len(out) == 0 {
		return nil
	}
	if err := t.Tx.EnqueueNotifications(ctx, out); err != nil {
		return fmt.Errorf("notify: enqueue: %w", err)
	}
	*t.queued = true
	return nil
}

// event is one change, before it is addressed to a subscription.
type event struct {
	typ  string
	inst *model.VnfInstance
	op   *store.OpOcc // op occ notifications only
	at   time.Time
}

func identifierEvent(typ string, inst *model.VnfInstance, at time.Time) *event {
	return &event{typ: typ, inst: inst, at: at.UTC()}
}

func opOccEvent(op *store.OpOcc, inst *model.VnfInstance) *event {
	at := op.StateEnteredTime
	if at.IsZero() {
		at = time.Now()
	}
	return &event{typ: model.NotifOpOcc, inst: inst, op: op, at: at.UTC()}
}

// body is the notification as sent to one subscription.
func (e *event) body(id, subID, base string) (json.RawMessage, error) {
	links := model.NotificationLinks{
		VnfInstance:  model.Link{Href: base + "/vnflcm/v1/vnf_instances/" + e.inst.ID},
		Subscription: model.Link{Href: base + "/vnflcm/v1/subscriptions/" + subID},
	}
	var v any
	if e.op == nil {
		v = &model.VnfIdentifierNotification{
			ID: id, NotificationType: e.typ, SubscriptionID: subID, TimeStamp: e.at,
			VnfInstanceID: e.inst.ID, Links: links,
		}
	} else {
		op := e.op
		links.VnfLcmOpOcc = &model.Link{Href: base + "/vnflcm/v1/vnf_lcm_op_occs/" + op.ID}
		n := &model.VnfLcmOperationOccurrenceNotification{
			ID: id, NotificationType: e.typ, SubscriptionID: subID, TimeStamp: e.at,
			NotificationStatus: "RESULT", OperationState: op.OperationState,
			VnfInstanceID: op.VnfInstanceID, Operation: op.Operation,
			IsAutomaticInvocation: op.IsAutomaticInvocation, VnfLcmOpOccID: op.ID,
			Links: links,
		}
		if op.OperationState == model.Starting {
			n.NotificationStatus = "START"
		} else {
			if rc := op.ResourceChanges; rc != nil {
				n.AffectedVnfcs = rc.AffectedVnfcs
				n.AffectedVirtualLinks = rc.AffectedVirtualLinks
				n.AffectedVirtualStorages = rc.AffectedVirtualStorages
			}
			n.ChangedInfo = op.ChangedInfo
			n.ChangedExtConnectivity = op.ChangedExtConnectivity
			if op.OperationState == model.FailedTemp || op.OperationState == model.Failed || op.OperationState == model.RolledBack {
				n.Error = op.Error
			}
		}
		v = n
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("notify: marshal %s: %w", e.typ, err)
	}
	return raw, nil
}

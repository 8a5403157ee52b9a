package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// subscriptionTests are the subscription and outbox subtests of Run.
var subscriptionTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SubscriptionCRUD", testSubscriptionCRUD},
	{"SubscriptionsByKey", testSubscriptionsByKey},
	{"SubscriptionPagingAndWhere", testSubscriptionPagingAndWhere},
	{"SubscriptionDeleteDropsNotifications", testSubscriptionDeleteDropsNotifications},
	{"EnqueueInTx", testEnqueueInTx},
	{"EnqueueMissingSubscription", testEnqueueMissingSubscription},
	{"NotificationOrderAndRoundTrip", testNotificationOrderAndRoundTrip},
	{"ClaimOutboxHeadDue", testClaimOutboxHeadDue},
	{"ClaimOutboxLease", testClaimOutboxLease},
	{"ConcurrentOutboxClaims", testConcurrentOutboxClaims},
	{"OutboxDeferDeleteDepth", testOutboxDeferDeleteDepth},
}

func newSubscription(key, callback string) *store.Subscription {
	id := newID("sub")
	return &store.Subscription{
		LccnSubscription: model.LccnSubscription{
			ID:          id,
			CallbackURI: callback,
			Filter: &model.LifecycleChangeNotificationsFilter{
				NotificationTypes: []string{model.NotifOpOcc},
				OperationStates:   []model.OperationState{model.Starting, model.Processing},
				VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{
					VnfdIDs: []string{"vnfd-a"},
					VnfProductsFromProviders: []model.VnfProductsFromProvider{{
						VnfProvider: "acme",
						VnfProducts: []model.VnfProduct{{VnfProductName: "fw", Versions: []model.VnfProductVersion{
							{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.0", "1.1"}},
						}}},
					}},
				},
			},
			Links: model.SubscriptionLinks{Self: model.Link{Href: "http://vnfm/vnflcm/v1/subscriptions/" + id}},
		},
		Sealed: []byte{9, 8, 7},
		Key:    key,
	}
}

func createSubscription(t *testing.T, s store.Store, key string) *store.Subscription {
	t.Helper()
	sub := newSubscription(key, "http://nfvo.example/cb")
	require.NoError(t, s.CreateSubscription(t.Context(), sub))
	return sub
}

func newNotification(subID string) store.Notification {
	id := newID("notif")
	return store.Notification{
		ID:             id,
		SubscriptionID: subID,
		Body: []byte(fmt.Sprintf(`{"id": %q, "notificationType": %q, "subscriptionId": %q, "nested": {"a": [1, 2.5, "x"]}}`,
			id, model.NotifOpOcc, subID)),
	}
}

func enqueue(t *testing.T, s store.Store, ns ...store.Notification) []store.Notification {
	t.Helper()
	require.NoError(t, s.EnqueueNotifications(t.Context(), ns))
	return ns
}

func subIDs(l []store.Subscription) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].ID
	}
	return out
}

func notifSeqs(l []store.Notification) []int64 {
	out := make([]int64, len(l))
	for i := range l {
		out[i] = l[i].Seq
	}
	return out
}

func testSubscriptionCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	sub := newSubscription("key-a", "http://nfvo.example/cb")
	require.NoError(t, s.CreateSubscription(ctx, sub))
	assert.Positive(t, sub.Seq)
	assert.True(t, sub.CreatedAt.After(before), "CreatedAt set")

	got, err := s.GetSubscription(ctx, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, sub.LccnSubscription, got.LccnSubscription)
	assert.Equal(t, []byte{9, 8, 7}, got.Sealed)
	assert.Equal(t, "key-a", got.Key)
	assert.Equal(t, sub.Seq, got.Seq)
	sameTime(t, sub.CreatedAt, got.CreatedAt, "CreatedAt")
	assert.Equal(t, time.UTC, got.CreatedAt.Location())

	dup := newSubscription("key-b", "http://other.example/cb")
	dup.ID = sub.ID
	require.ErrorIs(t, s.CreateSubscription(ctx, dup), store.ErrDuplicate)
	require.Error(t, s.CreateSubscription(ctx, &store.Subscription{}), "empty id")

	// No sealed authentication, no filter.
	bare := &store.Subscription{LccnSubscription: model.LccnSubscription{ID: newID("sub"), CallbackURI: "http://x/cb"}}
	require.NoError(t, s.CreateSubscription(ctx, bare))
	got, err = s.GetSubscription(ctx, bare.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Sealed)
	assert.Nil(t, got.Filter)
	assert.Equal(t, "http://x/cb", got.CallbackURI)

	_, err = s.GetSubscription(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.DeleteSubscription(ctx, sub.ID))
	_, err = s.GetSubscription(ctx, sub.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteSubscription(ctx, sub.ID), store.ErrNotFound)

	// Inside a transaction too.
	in := newSubscription("key-c", "http://nfvo.example/cb")
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateSubscription(ctx, in); err != nil {
			return err
		}
		if err := tx.CreateSubscription(ctx, in); !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("want ErrDuplicate, got %v", err)
		}
		_, err := tx.GetSubscription(ctx, in.ID)
		return err
	}))
	_, err = s.GetSubscription(ctx, in.ID)
	require.NoError(t, err)
}

func testSubscriptionsByKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	a1 := createSubscription(t, s, "key-a")
	b := createSubscription(t, s, "key-b")
	a2 := createSubscription(t, s, "key-a")

	got, err := s.SubscriptionsByKey(ctx, "key-a")
	require.NoError(t, err)
	assert.Equal(t, []string{a1.ID, a2.ID}, subIDs(got), "oldest first")
	assert.Equal(t, "key-a", got[1].Key)

	got, err = s.SubscriptionsByKey(ctx, "key-b")
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID}, subIDs(got))

	got, err = s.SubscriptionsByKey(ctx, "key-none")
	require.NoError(t, err)
	assert.Empty(t, got)

	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		got, err = tx.SubscriptionsByKey(ctx, "key-a")
		return err
	}))
	assert.Len(t, got, 2)
}

func testSubscriptionPagingAndWhere(t *testing.T, s store.Store) {
	ctx := t.Context()
	var subs []*store.Subscription
	for i := range 5 {
		sub := newSubscription("k", "http://nfvo.example/cb"+strconv.Itoa(i%2))
		require.NoError(t, s.CreateSubscription(ctx, sub))
		subs = append(subs, sub)
	}
	all := make([]string, len(subs))
	for i, sub := range subs {
		all[i] = sub.ID
	}

	list, err := s.ListSubscriptions(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, all, subIDs(list))
	assert.Equal(t, subs[0].LccnSubscription, list[0].LccnSubscription)
	assert.Equal(t, subs[0].Sealed, list[0].Sealed)

	// Page through two at a time.
	var paged []string
	var after int64
	for {
		page, err := s.ListSubscriptions(ctx, store.ListOptions{AfterSeq: after, Limit: 2})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		if len(page) == 0 {
			break
		}
		paged = append(paged, subIDs(page)...)
		after = page[len(page)-1].Seq
	}
	assert.Equal(t, all, paged)

	list, err = s.ListSubscriptions(ctx, store.ListOptions{Where: []store.Cond{{Attr: "id", Values: []string{all[3], all[1], "nope"}}}})
	require.NoError(t, err)
	assert.Equal(t, []string{all[1], all[3]}, subIDs(list))

	list, err = s.ListSubscriptions(ctx, store.ListOptions{Where: []store.Cond{{Attr: "callbackUri", Values: []string{"http://nfvo.example/cb0"}}}})
	require.NoError(t, err)
	assert.Equal(t, []string{all[0], all[2], all[4]}, subIDs(list))

	list, err = s.ListSubscriptions(ctx, store.ListOptions{
		AfterSeq: subs[0].Seq, Limit: 1,
		Where: []store.Cond{{Attr: "callbackUri", Values: []string{"http://nfvo.example/cb0"}}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{all[2]}, subIDs(list))

	list, err = s.ListSubscriptions(ctx, store.ListOptions{Where: []store.Cond{{Attr: "id"}}})
	require.NoError(t, err)
	assert.Empty(t, list, "equal to one of nothing")

	for _, attr := range []string{"filter", "callback_uri", "dup_key", "key"} {
		_, err = s.ListSubscriptions(ctx, store.ListOptions{Where: []store.Cond{{Attr: attr, Values: []string{"x"}}}})
		assert.Error(t, err, attr)
	}
	for _, attr := range store.SubscriptionAttrs {
		_, err = s.ListSubscriptions(ctx, store.ListOptions{Where: []store.Cond{{Attr: attr, Values: []string{"x"}}}})
		assert.NoError(t, err, attr)
	}
}

func testSubscriptionDeleteDropsNotifications(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createSubscription(t, s, "k")
	b := createSubscription(t, s, "k")
	enqueue(t, s, newNotification(a.ID), newNotification(b.ID), newNotification(a.ID), newNotification(a.ID), newNotification(b.ID))
	depth, err := s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 5, depth)

	require.NoError(t, s.DeleteSubscription(ctx, a.ID))
	pending, err := s.PendingNotifications(ctx, a.ID, 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
	pending, err = s.PendingNotifications(ctx, b.ID, 10)
	require.NoError(t, err)
	assert.Len(t, pending, 2)
	depth, err = s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, depth)

	// Inside a transaction, rolled back: nothing is deleted.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteSubscription(ctx, b.ID); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	pending, err = s.PendingNotifications(ctx, b.ID, 10)
	require.NoError(t, err)
	assert.Len(t, pending, 2)

	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.DeleteSubscription(ctx, b.ID) }))
	depth, err = s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.Zero(t, depth)
}

// Notifications are written in the transaction of the change they announce:
// they commit or roll back with it.
func testEnqueueInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub := createSubscription(t, s, "k")
	inst := createInstance(t, s)
	op := createOpOcc(t, s, inst.ID, model.Starting, store.JobNone)

	boom := errors.New("boom")
	var inTx []store.Notification
	err := s.InTx(ctx, func(tx store.Tx) error {
		got, err := tx.GetOpOcc(ctx, op.ID, true)
		if err != nil {
			return err
		}
		got.OperationState = model.Processing
		if err := tx.UpdateOpOcc(ctx, got); err != nil {
			return err
		}
		inTx = []store.Notification{newNotification(sub.ID), newNotification(sub.ID)}
		if err := tx.EnqueueNotifications(ctx, inTx); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Positive(t, inTx[0].Seq, "Seq assigned in the transaction")
	depth, err := s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.Zero(t, depth, "rolled back")
	gotOp, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.Starting, gotOp.OperationState)

	err = s.InTx(ctx, func(tx store.Tx) error {
		got, err := tx.GetOpOcc(ctx, op.ID, true)
		if err != nil {
			return err
		}
		got.OperationState = model.Processing
		if err := tx.UpdateOpOcc(ctx, got); err != nil {
			return err
		}
		inTx = []store.Notification{newNotification(sub.ID), newNotification(sub.ID)}
		return tx.EnqueueNotifications(ctx, inTx)
	})
	require.NoError(t, err)
	pending, err := s.PendingNotifications(ctx, sub.ID, 10)
	require.NoError(t, err)
	assert.Equal(t, notifSeqs(inTx), notifSeqs(pending))
	gotOp, err = s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.Processing, gotOp.OperationState)

	// An empty batch is fine, in and out of transactions.
	require.NoError(t, s.EnqueueNotifications(ctx, nil))
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error { return tx.EnqueueNotifications(ctx, nil) }))
}

// A notification for a subscription deleted meanwhile is dropped without
// failing the batch or the transaction.
func testEnqueueMissingSubscription(t *testing.T, s store.Store) {
	ctx := t.Context()
	sub := createSubscription(t, s, "k")
	ns := enqueue(t, s, newNotification(sub.ID), newNotification("sub-missing"), newNotification(sub.ID))
	assert.Positive(t, ns[0].Seq)
	assert.Zero(t, ns[1].Seq, "dropped")
	assert.Greater(t, ns[2].Seq, ns[0].Seq)
	depth, err := s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, depth)

	// The transaction stays usable and commits.
	other := newSubscription("k", "http://nfvo.example/cb")
	require.NoError(t, s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.EnqueueNotifications(ctx, []store.Notification{newNotification("sub-missing")}); err != nil {
			return err
		}
		if err := tx.CreateSubscription(ctx, other); err != nil {
			return err
		}
		// A subscription created in this transaction accepts notifications.
		return tx.EnqueueNotifications(ctx, []store.Notification{newNotification(other.ID)})
	}))
	pending, err := s.PendingNotifications(ctx, other.ID, 10)
	require.NoError(t, err)
	assert.Len(t, pending, 1)
	pending, err = s.PendingNotifications(ctx, "sub-missing", 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
	depth, err = s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, depth)
}

func testNotificationOrderAndRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createSubscription(t, s, "k")
	b := createSubscription(t, s, "k")
	var wantA, wantB []store.Notification
	before := time.Now().Add(-time.Second)
	for round := range 3 {
		ns := []store.Notification{newNotification(a.ID), newNotification(b.ID), newNotification(a.ID)}
		if round == 1 {
			// Explicit times, in another zone, are kept (to the microsecond).
			zone := time.FixedZone("X", 3*3600)
			ns[0].CreatedAt = time.Date(2024, 5, 6, 7, 8, 9, 123456789, zone)
			ns[0].NextAttempt = time.Date(2024, 5, 6, 8, 0, 0, 999, zone)
			ns[0].Attempts, ns[0].LastError = 2, "earlier failure"
		}
		enqueue(t, s, ns...)
		wantA = append(wantA, ns[0], ns[2])
		wantB = append(wantB, ns[1])
	}
	gotA, err := s.PendingNotifications(ctx, a.ID, 100)
	require.NoError(t, err)
	gotB, err := s.PendingNotifications(ctx, b.ID, 0)
	require.NoError(t, err)
	require.Len(t, gotA, len(wantA))
	require.Len(t, gotB, len(wantB))
	assert.True(t, slices.IsSorted(notifSeqs(gotA)), "Seq order")
	assert.Equal(t, notifSeqs(wantA), notifSeqs(gotA), "in enqueue order")
	assert.Equal(t, notifSeqs(wantB), notifSeqs(gotB))

	for i, want := range append(wantA, wantB...) {
		got := append(gotA, gotB...)[i]
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.SubscriptionID, got.SubscriptionID)
		assert.JSONEq(t, string(want.Body), string(got.Body))
		assert.Equal(t, want.Attempts, got.Attempts)
		assert.Equal(t, want.LastError, got.LastError)
		assert.Equal(t, time.UTC, got.CreatedAt.Location())
		assert.Equal(t, time.UTC, got.NextAttempt.Location())
		assert.True(t, want.CreatedAt.Equal(got.CreatedAt), "CreatedAt: want %v, got %v", want.CreatedAt, got.CreatedAt)
		assert.True(t, want.NextAttempt.Equal(got.NextAttempt), "NextAttempt: want %v, got %v", want.NextAttempt, got.NextAttempt)
	}
	// Defaults: CreatedAt now, NextAttempt = CreatedAt.
	assert.True(t, gotA[0].CreatedAt.After(before))
	assert.True(t, gotA[0].CreatedAt.Equal(gotA[0].NextAttempt))
	assert.Zero(t, gotA[0].Attempts)
	assert.Empty(t, gotA[0].LastError)
	// The explicit ones.
	sameTime(t, time.Date(2024, 5, 6, 4, 8, 9, 123456789, time.UTC), gotA[2].CreatedAt, "explicit CreatedAt")
	sameTime(t, time.Date(2024, 5, 6, 5, 0, 0, 0, time.UTC), gotA[2].NextAttempt, "explicit NextAttempt")
	assert.Equal(t, 2, gotA[2].Attempts)

	limited, err := s.PendingNotifications(ctx, a.ID, 2)
	require.NoError(t, err)
	assert.Equal(t, notifSeqs(gotA[:2]), notifSeqs(limited), "the oldest")
}

// Only the head (oldest notification) of a subscription decides whether it
// is due: a deferred head holds back the rows behind it.
func testClaimOutboxHeadDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := createSubscription(t, s, "k")
	b := createSubscription(t, s, "k")
	createSubscription(t, s, "k") // no notifications: never claimed
	na := enqueue(t, s, newNotification(a.ID), newNotification(a.ID))
	enqueue(t, s, newNotification(b.ID))

	now := time.Now()
	head := na[0]
	head.Attempts, head.NextAttempt, head.LastError = 1, now.Add(time.Hour), "503"
	require.NoError(t, s.DeferNotification(ctx, &head))

	got, err := s.ClaimOutbox(ctx, "w1", now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID}, got, "a's head is not due, though its second row is")

	// Once the head is due, a is claimable.
	got, err = s.ClaimOutbox(ctx, "w2", now.Add(2*time.Hour), now.Add(3*time.Hour), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID, b.ID}, got, "a due now; b's lease ended")

	// Delivering the head makes the next row the head.
	require.NoError(t, s.ReleaseOutbox(ctx, "w2", a.ID))
	require.NoError(t, s.DeleteNotification(ctx, head.Seq))
	got, err = s.ClaimOutbox(ctx, "w3", now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{a.ID}, got)

	// A head deferred into the future blocks again, even for a free lease.
	require.NoError(t, s.ReleaseOutbox(ctx, "w3", a.ID))
	second := na[1]
	second.Attempts, second.NextAttempt = 1, now.Add(time.Hour)
	require.NoError(t, s.DeferNotification(ctx, &second))
	enqueue(t, s, newNotification(a.ID))
	got, err = s.ClaimOutbox(ctx, "w4", now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testClaimOutboxLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	subs := make([]*store.Subscription, 3)
	for i := range subs {
		subs[i] = createSubscription(t, s, "k")
		enqueue(t, s, newNotification(subs[i].ID))
	}
	a, b, c := subs[0].ID, subs[1].ID, subs[2].ID
	now := time.Now()
	lease := now.Add(time.Minute)

	_, err := s.ClaimOutbox(ctx, "", now, lease, 10)
	require.Error(t, err, "empty owner")
	got, err := s.ClaimOutbox(ctx, "w1", now, lease, 0)
	require.NoError(t, err)
	assert.Empty(t, got, "limit 0")

	got, err = s.ClaimOutbox(ctx, "w1", now, lease, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{a, b}, got, "the oldest subscriptions, at most limit")
	got, err = s.ClaimOutbox(ctx, "w2", now, lease, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{c}, got, "the rest")
	got, err = s.ClaimOutbox(ctx, "w3", now, lease, 10)
	require.NoError(t, err)
	assert.Empty(t, got, "all leased")
	got, err = s.ClaimOutbox(ctx, "w1", now, lease, 10)
	require.NoError(t, err)
	assert.Empty(t, got, "w1 already holds a and b")

	// Only the holder can release.
	require.NoError(t, s.ReleaseOutbox(ctx, "w2", a))
	got, err = s.ClaimOutbox(ctx, "w3", now, lease, 10)
	require.NoError(t, err)
	assert.Empty(t, got, "w2 does not hold a")
	require.NoError(t, s.ReleaseOutbox(ctx, "w1", a))
	require.NoError(t, s.ReleaseOutbox(ctx, "w1", "sub-missing"))
	got, err = s.ClaimOutbox(ctx, "w3", now, lease, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{a}, got, "released")

	// w1 renews b; w2's renewal of b (it does not hold it) changes nothing.
	require.NoError(t, s.RenewOutbox(ctx, "w1", []string{b, c}, now.Add(10*time.Minute)))
	require.NoError(t, s.RenewOutbox(ctx, "w2", []string{b}, now.Add(time.Second)))
	require.NoError(t, s.RenewOutbox(ctx, "w2", nil, now.Add(time.Second)))
	later := now.Add(5 * time.Minute) // after the first leases, before b's renewed one
	got, err = s.ClaimOutbox(ctx, "w4", later, later.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{a, c}, got, "expired leases taken over; b renewed")
	got, err = s.ClaimOutbox(ctx, "w5", now.Add(11*time.Minute), now.Add(12*time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{a, b, c}, got, "all leases ended")

	// A lease ending exactly at now is still held ("ended before now").
	require.NoError(t, s.RenewOutbox(ctx, "w5", []string{a}, now.Add(20*time.Minute)))
	got, err = s.ClaimOutbox(ctx, "w6", now.Add(20*time.Minute), now.Add(21*time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{b, c}, got)
}

// Concurrent claimers never lease the same subscription twice.
func testConcurrentOutboxClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	const subsN, workers = 30, 8
	var all []string
	var ns []store.Notification
	for range subsN {
		sub := createSubscription(t, s, "k")
		all = append(all, sub.ID)
		ns = append(ns, newNotification(sub.ID), newNotification(sub.ID))
	}
	enqueue(t, s, ns...)

	now := time.Now()
	claimed := make([][]string, workers)
	errs := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			owner := "worker-" + strconv.Itoa(w)
			for {
				ids, err := s.ClaimOutbox(ctx, owner, now, now.Add(time.Minute), 3)
				if err != nil {
					errs[w] = err
					return
				}
				if len(ids) == 0 {
					return
				}
				claimed[w] = append(claimed[w], ids...)
			}
		})
	}
	close(start)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	owners := map[string]int{}
	var got []string
	for w, ids := range claimed {
		for _, id := range ids {
			if prev, dup := owners[id]; dup {
				t.Errorf("%s claimed by worker-%d and worker-%d", id, prev, w)
			}
			owners[id] = w
		}
		got = append(got, ids...)
	}
	slices.Sort(got)
	slices.Sort(all)
	assert.Equal(t, all, got, "every subscription claimed exactly once")
}

func testOutboxDeferDeleteDepth(t *testing.T, s store.Store) {
	ctx := t.Context()
	depth, err := s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.Zero(t, depth)

	sub := createSubscription(t, s, "k")
	ns := enqueue(t, s, newNotification(sub.ID), newNotification(sub.ID), newNotification(sub.ID))
	depth, err = s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, depth)

	next := time.Now().Add(time.Hour)
	n := ns[1]
	n.Attempts, n.NextAttempt, n.LastError = 4, next, "connection refused"
	require.NoError(t, s.DeferNotification(ctx, &n))
	pending, err := s.PendingNotifications(ctx, sub.ID, 10)
	require.NoError(t, err)
	require.Len(t, pending, 3)
	assert.Equal(t, 4, pending[1].Attempts)
	assert.Equal(t, "connection refused", pending[1].LastError)
	sameTime(t, next, pending[1].NextAttempt, "NextAttempt")
	assert.True(t, ns[1].CreatedAt.Equal(pending[1].CreatedAt), "CreatedAt unchanged")
	assert.Equal(t, ns[1].ID, pending[1].ID)
	assert.JSONEq(t, string(ns[1].Body), string(pending[1].Body))
	assert.Zero(t, pending[0].Attempts, "others unchanged")
	assert.Zero(t, pending[2].Attempts)

	require.NoError(t, s.DeleteNotification(ctx, ns[0].Seq))
	require.NoError(t, s.DeleteNotification(ctx, ns[0].Seq), "already gone")
	depth, err = s.OutboxDepth(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, depth)
	pending, err = s.PendingNotifications(ctx, sub.ID, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{ns[1].Seq, ns[2].Seq}, notifSeqs(pending))

	gone := ns[0]
	gone.Attempts = 1
	require.ErrorIs(t, s.DeferNotification(ctx, &gone), store.ErrNotFound)
}

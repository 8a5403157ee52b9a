package notify

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/test/etsischema"
)

const testBase = "http://vnfm.example:8080/api/"

// enqueueRecorder counts OnEnqueue calls and what the outbox held, read
// outside the transaction, when each came.
type enqueueRecorder struct {
	raw    store.Store
	mu     sync.Mutex
	depths []int64
}

func (r *enqueueRecorder) notified() {
	d, err := r.raw.OutboxDepth(context.Background())
	if err != nil {
		d = -1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.depths = append(r.depths, d)
}

func (r *enqueueRecorder) calls() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.depths)
}

// sent is one event the test caused, as a subscriber should see it.
type sent struct {
	typ    string
	instID string
	opID   string
	state  model.OperationState
	status string
	op     model.Operation
	at     time.Time
	error  bool // the body carries the op occ's error
	vnfcs  int  // len(affectedVnfcs)
}

// wantSub is a subscription and the events it must receive.
type wantSub struct {
	sub   *store.Subscription
	wants func(e sent) bool
}

func TestStoreEnqueues(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testStoreLifecycle(t, b.open(t)) })
			t.Run("NoSubscriptions", func(t *testing.T) { t.Parallel(); testStoreNoSubscriptions(t, b.open(t)) })
			t.Run("FailedWrites", func(t *testing.T) { t.Parallel(); testStoreFailedWrites(t, b.open(t)) })
		})
	}
}

func testStoreLifecycle(t *testing.T, raw store.Store) {
	ctx := t.Context()
	log, _ := newLog(t)
	rec := &enqueueRecorder{raw: raw}
	st := Wrap(raw, Config{BaseURL: func() string { return testBase }, Log: log})
	st.OnEnqueue(rec.notified)

	instA, instB, instC := newInstance(), newInstance(), newInstance()
	isOp := func(e sent) bool { return e.typ == model.NotifOpOcc }
	subs := map[string]*wantSub{
		"all": {putSubscription(t, raw, "http://nfvo.example/all", nil), func(sent) bool { return true }},
		"creations": {putSubscription(t, raw, "http://nfvo.example/c", &model.LifecycleChangeNotificationsFilter{
			NotificationTypes: []string{model.NotifIdentifierCreation},
		}), func(e sent) bool { return e.typ == model.NotifIdentifierCreation }},
		"deletions": {putSubscription(t, raw, "http://nfvo.example/d", &model.LifecycleChangeNotificationsFilter{
			NotificationTypes: []string{model.NotifIdentifierDeletion},
			// Ignored for identifier notifications.
			OperationStates: []model.OperationState{model.Completed},
		}), func(e sent) bool { return e.typ == model.NotifIdentifierDeletion }},
		"results": {putSubscription(t, raw, "http://nfvo.example/r", &model.LifecycleChangeNotificationsFilter{
			NotificationTypes: []string{model.NotifOpOcc},
			OperationStates:   []model.OperationState{model.Completed, model.FailedTemp, model.Failed, model.RolledBack},
		}), func(e sent) bool {
			return isOp(e) && slices.Contains([]model.OperationState{model.Completed, model.FailedTemp, model.Failed, model.RolledBack}, e.state)
		}},
		"instA": {putSubscription(t, raw, "http://nfvo.example/a", &model.LifecycleChangeNotificationsFilter{
			VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{VnfInstanceNames: []string{instA.VnfInstanceName}},
		}), func(e sent) bool { return e.instID == instA.ID }},
		"scales": {putSubscription(t, raw, "http://nfvo.example/s", &model.LifecycleChangeNotificationsFilter{
			OperationTypes: []model.Operation{model.OpScale},
		}), func(e sent) bool { return !isOp(e) || e.op == model.OpScale }},
		"otherVnfd": {putSubscription(t, raw, "http://nfvo.example/o", &model.LifecycleChangeNotificationsFilter{
			VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{VnfdIDs: []string{"vnfd-other"}},
		}), func(sent) bool { return false }},
		"otherProvider": {putSubscription(t, raw, "http://nfvo.example/p", &model.LifecycleChangeNotificationsFilter{
			VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{VnfProductsFromProviders: []model.VnfProductsFromProvider{{
				VnfProvider: "acme", VnfProducts: []model.VnfProduct{{VnfProductName: "firewall",
					Versions: []model.VnfProductVersion{{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"9.9"}}}}},
			}}},
		}), func(sent) bool { return false }},
	}

	var events []sent
	// expect checks that the last step enqueued e (for each subscription
	// that wants it) and told OnEnqueue once, after the commit.
	expect := func(e sent) {
		t.Helper()
		events = append(events, e)
		var want int64
		for _, s := range subs {
			for _, ev := range events {
				if s.wants(ev) {
					want++
				}
			}
		}
		calls := rec.calls()
		require.Len(t, calls, len(events), "one OnEnqueue per committed announcing write")
		require.Equal(t, want, calls[len(calls)-1], "OnEnqueue runs after the commit: the rows are visible")
		require.Equal(t, want, depth(t, raw))
	}
	nothing := func(what string) {
		t.Helper()
		require.Len(t, rec.calls(), len(events), "%s: OnEnqueue not called", what)
		var want int64
		for _, s := range subs {
			for _, ev := range events {
				if s.wants(ev) {
					want++
				}
			}
		}
		require.Equal(t, want, depth(t, raw), "%s: nothing enqueued", what)
	}

	// Instances created through the Store and inside a transaction.
	require.NoError(t, st.CreateInstance(ctx, instA))
	expect(sent{typ: model.NotifIdentifierCreation, instID: instA.ID, at: instA.CreatedAt})
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error { return tx.CreateInstance(ctx, instB) }))
	expect(sent{typ: model.NotifIdentifierCreation, instID: instB.ID, at: instB.CreatedAt})

	// Rolled back: nothing, and OnEnqueue is not told.
	boom := errors.New("boom")
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateInstance(ctx, instC); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	nothing("rolled back create")
	_, err = raw.GetInstance(ctx, instC.ID, false)
	require.ErrorIs(t, err, store.ErrNotFound)

	// INSTANTIATE on A: STARTING, PROCESSING, FAILED_TEMP, PROCESSING (retry), COMPLETED.
	inst := newOpOcc(instA.ID, model.OpInstantiate)
	require.NoError(t, st.CreateOpOcc(ctx, inst))
	expect(sent{typ: model.NotifOpOcc, instID: instA.ID, opID: inst.ID, op: inst.Operation, state: model.Starting, status: "START", at: inst.StateEnteredTime})

	// Writes that do not change the state: a journal save, a cancel flag.
	save(t, st, inst.ID, func(op *store.OpOcc) { op.Progress = json.RawMessage(`{"step":1}`) })
	nothing("journal save")
	save(t, st, inst.ID, func(op *store.OpOcc) { op.IsCancelPending = false; op.GrantID = "grant-1" })
	nothing("grant recorded")

	// Another op on A while one is in progress fails, and announces nothing.
	require.ErrorIs(t, st.CreateOpOcc(ctx, newOpOcc(instA.ID, model.OpScale)), store.ErrOpInProgress)
	nothing("refused op occ")

	e := advance(t, st, inst.ID, model.Processing, nil)
	expect(sent{typ: model.NotifOpOcc, instID: instA.ID, opID: inst.ID, op: inst.Operation, state: model.Processing, status: "RESULT", at: e})
	e = advance(t, st, inst.ID, model.FailedTemp, func(op *store.OpOcc) {
		op.Error = &model.ProblemDetails{Title: "VIM error", Status: 500, Detail: "server vdu1-0 went to ERROR: no valid host"}
		op.ResourceChanges = &model.ResourceChanges{AffectedVnfcs: []model.AffectedVnfc{
			affectedVnfc("vnfc-1", model.ChangeAdded), affectedVnfc("vnfc-2", model.ChangeTemporary),
		}}
	})
	expect(sent{typ: model.NotifOpOcc, instID: instA.ID, opID: inst.ID, op: inst.Operation, state: model.FailedTemp, status: "RESULT", at: e, error: true, vnfcs: 2})
	// Saving the error again (same state) is no new notification.
	save(t, st, inst.ID, func(op *store.OpOcc) { op.Error.Detail += " (again)" })
	nothing("same state")
	e = advance(t, st, inst.ID, model.Processing, func(op *store.OpOcc) { op.Error = nil })
	expect(sent{typ: model.NotifOpOcc, instID: instA.ID, opID: inst.ID, op: inst.Operation, state: model.Processing, status: "RESULT", at: e, vnfcs: 2})
	e = advance(t, st, inst.ID, model.Completed, func(op *store.OpOcc) {
		op.ResourceChanges = &model.ResourceChanges{
			AffectedVnfcs: []model.AffectedVnfc{affectedVnfc("vnfc-1", model.ChangeAdded), affectedVnfc("vnfc-3", model.ChangeAdded)},
			AffectedVirtualLinks: []model.AffectedVirtualLink{{ID: "vl-1", VnfVirtualLinkDescID: "int-vl", ChangeType: model.ChangeAdded,
				NetworkResource: model.ResourceHandle{VimConnectionID: "vim-1", ResourceID: "net-1", VimLevelResourceType: "OS::Neutron::Net"}}},
			AffectedVirtualStorages: []model.AffectedVirtualStorage{{ID: "vs-1", VirtualStorageDescID: "root", ChangeType: model.ChangeAdded,
				StorageResource: model.ResourceHandle{VimConnectionID: "vim-1", ResourceID: "vol-1"}}},
		}
	})
	expect(sent{typ: model.NotifOpOcc, instID: instA.ID, opID: inst.ID, op: inst.Operation, state: model.Completed, status: "RESULT", at: e, vnfcs: 2})

	// SCALE on B fails and is rolled back.
	scale := newOpOcc(instB.ID, model.OpScale)
	scale.IsAutomaticInvocation = true
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error { return tx.CreateOpOcc(ctx, scale) }))
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: scale.ID, op: model.OpScale, state: model.Starting, status: "START", at: scale.StateEnteredTime})
	e = advance(t, st, scale.ID, model.Processing, nil)
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: scale.ID, op: model.OpScale, state: model.Processing, status: "RESULT", at: e})
	e = advance(t, st, scale.ID, model.FailedTemp, func(op *store.OpOcc) {
		op.Error = &model.ProblemDetails{Status: 504, Detail: "timed out waiting for vdu1-1"}
		op.ResourceChanges = &model.ResourceChanges{AffectedVnfcs: []model.AffectedVnfc{affectedVnfc("vnfc-9", model.ChangeTemporary)}}
	})
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: scale.ID, op: model.OpScale, state: model.FailedTemp, status: "RESULT", at: e, error: true, vnfcs: 1})
	e = advance(t, st, scale.ID, model.RollingBack, nil)
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: scale.ID, op: model.OpScale, state: model.RollingBack, status: "RESULT", at: e, vnfcs: 1})
	e = advance(t, st, scale.ID, model.RolledBack, func(op *store.OpOcc) {
		op.ResourceChanges = &model.ResourceChanges{AffectedVnfcs: []model.AffectedVnfc{affectedVnfc("vnfc-9", model.ChangeRemoved)}}
	})
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: scale.ID, op: model.OpScale, state: model.RolledBack, status: "RESULT", at: e, error: true, vnfcs: 1})

	// MODIFY_INFO on B, with changedInfo; then HEAL, which fails for good.
	modify := newOpOcc(instB.ID, model.OpModifyInfo)
	require.NoError(t, st.CreateOpOcc(ctx, modify))
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: modify.ID, op: model.OpModifyInfo, state: model.Starting, status: "START", at: modify.StateEnteredTime})
	e = advance(t, st, modify.ID, model.Completed, func(op *store.OpOcc) {
		name := "fw-renamed"
		op.ChangedInfo = &model.ChangedInfo{VnfInstanceName: &name, Metadata: map[string]any{"site": "east"}}
	})
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: modify.ID, op: model.OpModifyInfo, state: model.Completed, status: "RESULT", at: e})
	heal := newOpOcc(instB.ID, model.OpHeal)
	require.NoError(t, st.CreateOpOcc(ctx, heal))
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: heal.ID, op: model.OpHeal, state: model.Starting, status: "START", at: heal.StateEnteredTime})
	e = advance(t, st, heal.ID, model.Failed, func(op *store.OpOcc) {
		op.Error = &model.ProblemDetails{Type: "https://vnfm.example/problems/heal", Title: "Heal failed", Status: 500, Detail: "cannot rebuild"}
	})
	expect(sent{typ: model.NotifOpOcc, instID: instB.ID, opID: heal.ID, op: model.OpHeal, state: model.Failed, status: "RESULT", at: e, error: true})

	// Deleting: a wrong revision fails and announces nothing; then A goes.
	require.ErrorIs(t, st.DeleteInstance(ctx, instA.ID, instA.Revision+5), store.ErrConflict)
	nothing("conflicting delete")
	require.ErrorIs(t, st.DeleteInstance(ctx, "inst-missing", 1), store.ErrNotFound)
	nothing("missing instance")
	before := time.Now()
	require.NoError(t, st.DeleteInstance(ctx, instA.ID, instA.Revision))
	expect(sent{typ: model.NotifIdentifierDeletion, instID: instA.ID})
	err = st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteInstance(ctx, instB.ID, instB.Revision); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	nothing("rolled back delete")
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error { return tx.DeleteInstance(ctx, instB.ID, instB.Revision) }))
	expect(sent{typ: model.NotifIdentifierDeletion, instID: instB.ID})
	after := time.Now()

	// Every subscription got exactly what it wanted, in order; one event
	// has one notification id, whatever the subscription.
	all := pending(t, raw, subs["all"].sub.ID)
	require.Len(t, all, len(events))
	ids := map[string]bool{}
	for _, n := range all {
		ids[n.ID] = true
	}
	require.Len(t, ids, len(events), "a notification id per event")
	for name, s := range subs {
		got := pending(t, raw, s.sub.ID)
		var want []int
		for i, ev := range events {
			if s.wants(ev) {
				want = append(want, i)
			}
		}
		require.Len(t, got, len(want), name)
		for j, i := range want {
			n := got[j]
			ev := events[i]
			require.Equal(t, all[i].ID, n.ID, "%s: same id as the other subscriptions' for event %d", name, i)
			require.Equal(t, s.sub.ID, n.SubscriptionID)
			checkBody(t, n.Body, ev, n.ID, s.sub.ID)
			var ts struct {
				TimeStamp time.Time `json:"timeStamp"`
			}
			require.NoError(t, json.Unmarshal(n.Body, &ts))
			if ev.at.IsZero() { // deletions: the time of the delete
				require.False(t, ts.TimeStamp.Before(before.Add(-time.Millisecond)) || ts.TimeStamp.After(after), "%s: deletion timeStamp %v", name, ts.TimeStamp)
			} else {
				require.True(t, ev.at.Equal(ts.TimeStamp), "%s: timeStamp %v, want %v", name, ts.TimeStamp, ev.at)
				require.WithinDuration(t, ev.at, n.CreatedAt, time.Microsecond, "%s: the row is as old as the event (to the store's precision)", name)
			}
			require.Zero(t, n.Attempts)
		}
	}
}

// save writes the op occ with a change that leaves its state as is.
func save(t *testing.T, st store.Store, id string, mutate func(op *store.OpOcc)) {
	t.Helper()
	require.NoError(t, st.InTx(t.Context(), func(tx store.Tx) error {
		op, err := tx.GetOpOcc(t.Context(), id, true)
		if err != nil {
			return err
		}
		mutate(op)
		return tx.UpdateOpOcc(t.Context(), op)
	}))
}

// advance moves the op occ to state (through the Store or a transaction,
// alternately) and returns the stateEnteredTime.
func advance(t *testing.T, st *Store, id string, state model.OperationState, mutate func(op *store.OpOcc)) time.Time {
	t.Helper()
	ctx := t.Context()
	op, err := st.GetOpOcc(ctx, id, false)
	require.NoError(t, err)
	op.OperationState = state
	op.StateEnteredTime = time.Now().UTC()
	if mutate != nil {
		mutate(op)
	}
	if op.Revision%2 == 0 {
		require.NoError(t, st.UpdateOpOcc(ctx, op))
	} else {
		require.NoError(t, st.InTx(ctx, func(tx store.Tx) error { return tx.UpdateOpOcc(ctx, op) }))
	}
	return op.StateEnteredTime
}

func affectedVnfc(id string, ct model.ChangeType) model.AffectedVnfc {
	return model.AffectedVnfc{
		ID: id, VduID: "vdu1", ChangeType: ct,
		ComputeResource:         model.ResourceHandle{VimConnectionID: "vim-1", ResourceID: "server-" + id, VimLevelResourceType: "OS::Nova::Server"},
		AffectedVnfcCpIDs:       []string{id + "-cp0"},
		AddedStorageResourceIDs: []string{"vs-1"},
		Metadata:                map[string]any{"zone": "az1"},
	}
}

// checkBody validates a notification against its ETSI schema and what the
// test caused.
func checkBody(t *testing.T, body []byte, ev sent, id, subID string) {
	t.Helper()
	etsischema.Validate(t, ev.typ, body)
	var n struct {
		ID                    string               `json:"id"`
		NotificationType      string               `json:"notificationType"`
		SubscriptionID        string               `json:"subscriptionId"`
		VnfInstanceID         string               `json:"vnfInstanceId"`
		NotificationStatus    string               `json:"notificationStatus"`
		OperationState        model.OperationState `json:"operationState"`
		Operation             model.Operation      `json:"operation"`
		VnfLcmOpOccID         string               `json:"vnfLcmOpOccId"`
		IsAutomaticInvocation *bool                `json:"isAutomaticInvocation"`
		Error                 *model.ProblemDetails
		AffectedVnfcs         []model.AffectedVnfc `json:"affectedVnfcs"`
		Links                 map[string]struct {
			Href string `json:"href"`
		} `json:"_links"`
	}
	require.NoError(t, json.Unmarshal(body, &n))
	require.Equal(t, id, n.ID)
	require.Equal(t, ev.typ, n.NotificationType)
	require.Equal(t, subID, n.SubscriptionID)
	require.Equal(t, ev.instID, n.VnfInstanceID)
	require.Equal(t, "http://vnfm.example:8080/api/vnflcm/v1/vnf_instances/"+ev.instID, n.Links["vnfInstance"].Href)
	require.Equal(t, "http://vnfm.example:8080/api/vnflcm/v1/subscriptions/"+subID, n.Links["subscription"].Href)
	if ev.typ != model.NotifOpOcc {
		require.NotContains(t, n.Links, "vnfLcmOpOcc")
		require.NotContains(t, string(body), "operationState")
		return
	}
	require.Equal(t, "http://vnfm.example:8080/api/vnflcm/v1/vnf_lcm_op_occs/"+ev.opID, n.Links["vnfLcmOpOcc"].Href)
	require.Equal(t, ev.opID, n.VnfLcmOpOccID)
	require.Equal(t, ev.state, n.OperationState)
	require.Equal(t, ev.status, n.NotificationStatus, "%s", ev.state)
	require.Equal(t, ev.op, n.Operation)
	require.NotNil(t, n.IsAutomaticInvocation)
	require.Equal(t, ev.op == model.OpScale, *n.IsAutomaticInvocation)
	require.Equal(t, ev.error, n.Error != nil, "error in %s: %s", ev.state, body)
	if ev.state == model.Starting {
		require.Empty(t, n.AffectedVnfcs, "a START notification has no result")
	}
	require.Len(t, n.AffectedVnfcs, ev.vnfcs, "%s", body)
	if ev.op == model.OpModifyInfo && ev.state == model.Completed {
		require.Contains(t, string(body), `"changedInfo":{"vnfInstanceName":"fw-renamed"`)
	}
}

func testStoreNoSubscriptions(t *testing.T, raw store.Store) {
	ctx := t.Context()
	var calls int
	st := Wrap(raw, Config{})
	st.OnEnqueue(func() { calls++ })
	inst := newInstance()
	require.NoError(t, st.CreateInstance(ctx, inst))
	op := newOpOcc(inst.ID, model.OpInstantiate)
	require.NoError(t, st.CreateOpOcc(ctx, op))
	op.OperationState = model.Completed
	require.NoError(t, st.UpdateOpOcc(ctx, op))
	require.NoError(t, st.DeleteInstance(ctx, inst.ID, inst.Revision))
	require.Zero(t, depth(t, raw))
	require.Zero(t, calls)

	// A subscription that matches nothing: no rows, no wakeup.
	putSubscription(t, raw, "http://nfvo.example/x", &model.LifecycleChangeNotificationsFilter{
		NotificationTypes: []string{model.NotifIdentifierDeletion},
	})
	inst = newInstance()
	require.NoError(t, st.CreateInstance(ctx, inst))
	require.Zero(t, depth(t, raw))
	require.Zero(t, calls)

	// Without a BaseURL the links are relative.
	all := putSubscription(t, raw, "http://nfvo.example/all", nil)
	require.NoError(t, st.DeleteInstance(ctx, inst.ID, inst.Revision))
	require.Equal(t, 1, calls)
	ns := pending(t, raw, all.ID)
	require.Len(t, ns, 1)
	etsischema.Validate(t, model.NotifIdentifierDeletion, ns[0].Body)
	assert.Contains(t, string(ns[0].Body), `"vnfInstance":{"href":"/vnflcm/v1/vnf_instances/`+inst.ID+`"}`)
}

// Writes that fail leave the outbox alone, and a transaction that enqueues
// and then fails for another reason takes its notifications with it.
func testStoreFailedWrites(t *testing.T, raw store.Store) {
	ctx := t.Context()
	var calls int
	st := Wrap(raw, Config{BaseURL: func() string { return testBase }})
	st.OnEnqueue(func() { calls++ })
	putSubscription(t, raw, "http://nfvo.example/all", nil)

	inst := newInstance()
	require.NoError(t, st.CreateInstance(ctx, inst))
	require.EqualValues(t, 1, depth(t, raw))
	require.ErrorIs(t, st.CreateInstance(ctx, inst), store.ErrDuplicate)
	require.EqualValues(t, 1, depth(t, raw))

	op := newOpOcc(inst.ID, model.OpInstantiate)
	boom := errors.New("boom")
	err := st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateOpOcc(ctx, op); err != nil {
			return err
		}
		op.OperationState = model.Processing
		if err := tx.UpdateOpOcc(ctx, op); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.EqualValues(t, 1, depth(t, raw), "two enqueued in the transaction, both rolled back")
	require.Equal(t, 1, calls)

	// Several announcing writes in one transaction: one wakeup, all rows.
	op = newOpOcc(inst.ID, model.OpInstantiate)
	require.NoError(t, st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateOpOcc(ctx, op); err != nil {
			return err
		}
		op.OperationState = model.Processing
		if err := tx.UpdateOpOcc(ctx, op); err != nil {
			return err
		}
		op.OperationState = model.Completed
		return tx.UpdateOpOcc(ctx, op)
	}))
	require.EqualValues(t, 4, depth(t, raw))
	require.Equal(t, 2, calls)

	// A stale revision fails the update and announces nothing.
	stale, err := raw.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	stale.Revision--
	stale.OperationState = model.Failed
	require.ErrorIs(t, st.UpdateOpOcc(ctx, stale), store.ErrConflict)
	require.EqualValues(t, 4, depth(t, raw))
	require.Equal(t, 2, calls)
	_, err = raw.GetOpOcc(ctx, "op-missing", false)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, st.UpdateOpOcc(ctx, &store.OpOcc{VnfLcmOpOcc: model.VnfLcmOpOcc{ID: "op-missing", OperationState: model.Completed}}), store.ErrNotFound)
	require.Equal(t, 2, calls)
}

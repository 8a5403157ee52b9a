// Package storetest holds the contract tests every store.Store must pass and
// helpers that give tests of other packages a real, migrated store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// Run runs the contract suite. open must return a fresh, migrated, empty store
// for each call and close it when its test ends; subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"InstanceCRUD", testInstanceCRUD},
		{"InstanceRevisionConflicts", testInstanceRevisionConflicts},
		{"Duplicates", testDuplicates},
		{"EmptyIDRejected", testEmptyIDRejected},
		{"InstancePaging", testInstancePaging},
		{"InstanceWhere", testInstanceWhere},
		{"OpOccPagingAndWhere", testOpOccPagingAndWhere},
		{"UnknownAttr", testUnknownAttr},
		{"OpOccCRUD", testOpOccCRUD},
		{"OpOccExclusive", testOpOccExclusive},
		{"OpOccOutlivesInstance", testOpOccOutlivesInstance},
		{"ConcurrentCreateOpOcc", testConcurrentCreateOpOcc},
		{"ConcurrentCreateOpOccLocked", testConcurrentCreateOpOccLocked},
		{"InTxRollback", testInTxRollback},
		{"InTxCommit", testInTxCommit},
		{"InTxForUpdateSerializes", testInTxForUpdateSerializes},
		{"ReadsDuringTx", testReadsDuringTx},
		{"ClaimJob", testClaimJob},
		{"ConcurrentClaims", testConcurrentClaims},
		{"RenewLeases", testRenewLeases},
		{"UpdateKeepsRenewedLease", testUpdateKeepsRenewedLease},
		{"ExpiredAndOwnedJobs", testExpiredAndOwnedJobs},
		{"OpaqueRoundTrip", testOpaqueRoundTrip},
		{"DocumentRoundTrip", testDocumentRoundTrip},
		{"Wakeups", testWakeups},
		{"Ping", testPing},
	}
	tests = append(tests, packageTests...)
	tests = append(tests, vimTests...)
	tests = append(tests, subscriptionTests...)
	tests = append(tests, rekeyTests...)
	tests = append(tests, statusTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func newID(prefix string) string { return prefix + "-" + uuid.NewString() }

func newInstance(id string) *store.Instance {
	return &store.Instance{VnfInstance: model.VnfInstance{
		ID:                 id,
		VnfInstanceName:    "name-" + id,
		VnfdID:             "vnfd-a",
		VnfProvider:        "acme",
		VnfProductName:     "firewall",
		VnfSoftwareVersion: "1.0",
		VnfdVersion:        "1.0",
		InstantiationState: model.NotInstantiated,
	}}
}

func newOpOcc(instanceID string, state model.OperationState, job store.Job) *store.OpOcc {
	now := time.Now().UTC()
	return &store.OpOcc{
		VnfLcmOpOcc: model.VnfLcmOpOcc{
			ID:               newID("op"),
			OperationState:   state,
			StateEnteredTime: now,
			StartTime:        now,
			VnfInstanceID:    instanceID,
			Operation:        model.OpInstantiate,
			OperationParams:  json.RawMessage(`{"flavourId":"small"}`),
		},
		Job: job,
	}
}

func createInstance(t *testing.T, s store.Store) *store.Instance {
	t.Helper()
	inst := newInstance(newID("inst"))
	require.NoError(t, s.CreateInstance(t.Context(), inst))
	return inst
}

func createOpOcc(t *testing.T, s store.Store, instanceID string, state model.OperationState, job store.Job) *store.OpOcc {
	t.Helper()
	op := newOpOcc(instanceID, state, job)
	require.NoError(t, s.CreateOpOcc(t.Context(), op))
	return op
}

func instanceIDs(l []store.Instance) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].ID
	}
	return out
}

func opIDs(l []store.OpOcc) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].ID
	}
	return out
}

// sameTime compares at the stores' (microsecond) precision.
func sameTime(t *testing.T, want, got time.Time, msg string) {
	t.Helper()
	want = want.Truncate(time.Microsecond)
	assert.Truef(t, want.Equal(got), "%s: want %v, got %v", msg, want, got)
}

func testInstanceCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	inst := newInstance(newID("inst"))
	require.NoError(t, s.CreateInstance(ctx, inst))
	assert.Equal(t, int64(1), inst.Revision)
	assert.Positive(t, inst.Seq)
	assert.True(t, inst.CreatedAt.After(before), "CreatedAt set")

	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, inst.VnfInstance, got.VnfInstance)
	assert.Equal(t, inst.Revision, got.Revision)
	assert.Equal(t, inst.Seq, got.Seq)
	sameTime(t, inst.CreatedAt, got.CreatedAt, "CreatedAt")

	got.InstantiationState = model.Instantiated
	got.InstantiatedVnfInfo = &model.InstantiatedVnfInfo{FlavourID: "small", VnfState: model.VnfStarted}
	require.NoError(t, s.UpdateInstance(ctx, got))
	assert.Equal(t, int64(2), got.Revision)

	again, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, int64(2), again.Revision)
	assert.Equal(t, model.Instantiated, again.InstantiationState)
	assert.Equal(t, got.InstantiatedVnfInfo, again.InstantiatedVnfInfo)
	assert.Equal(t, inst.Seq, again.Seq, "update keeps seq")
	sameTime(t, inst.CreatedAt, again.CreatedAt, "update keeps CreatedAt")

	list, err := s.ListInstances(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{inst.ID}, instanceIDs(list))

	require.NoError(t, s.DeleteInstance(ctx, inst.ID, again.Revision))
	_, err = s.GetInstance(ctx, inst.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
	list, err = s.ListInstances(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testInstanceRevisionConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	stale := *inst

	inst.VnfInstanceName = "first"
	require.NoError(t, s.UpdateInstance(ctx, inst))

	stale.VnfInstanceName = "second"
	assert.ErrorIs(t, s.UpdateInstance(ctx, &stale), store.ErrConflict)
	assert.Equal(t, int64(1), stale.Revision, "a failed update leaves Revision alone")
	assert.ErrorIs(t, s.DeleteInstance(ctx, inst.ID, 1), store.ErrConflict)

	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, "first", got.VnfInstanceName)

	missing := newInstance(newID("missing"))
	missing.Revision = 1
	assert.ErrorIs(t, s.UpdateInstance(ctx, missing), store.ErrNotFound)
	assert.ErrorIs(t, s.DeleteInstance(ctx, missing.ID, 1), store.ErrNotFound)
	_, err = s.GetInstance(ctx, missing.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testDuplicates(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	dup := newInstance(inst.ID)
	dup.VnfInstanceName = "other"
	assert.ErrorIs(t, s.CreateInstance(ctx, dup), store.ErrDuplicate)
	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, inst.VnfInstanceName, got.VnfInstanceName, "the original is untouched")

	op := createOpOcc(t, s, inst.ID, model.Completed, store.JobNone)
	again := newOpOcc(inst.ID, model.Completed, store.JobNone)
	again.ID = op.ID
	assert.ErrorIs(t, s.CreateOpOcc(ctx, again), store.ErrDuplicate)

	// Both in one transaction: the failures leave the transaction usable.
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateInstance(ctx, newInstance(inst.ID)); !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("want ErrDuplicate, got %w", err)
		}
		return tx.CreateInstance(ctx, newInstance(newID("inst")))
	})
	require.NoError(t, err)
}

func testEmptyIDRejected(t *testing.T, s store.Store) {
	ctx := t.Context()
	assert.Error(t, s.CreateInstance(ctx, newInstance("")))
	op := newOpOcc("x", model.Starting, store.JobNone)
	op.ID = ""
	assert.Error(t, s.CreateOpOcc(ctx, op))
}

func testInstancePaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []string
	var lastSeq int64
	for range 7 {
		inst := createInstance(t, s)
		assert.Greater(t, inst.Seq, lastSeq, "seq increases")
		lastSeq = inst.Seq
		ids = append(ids, inst.ID)
	}
	var got []string
	var after int64
	pages := 0
	for {
		page, err := s.ListInstances(ctx, store.ListOptions{AfterSeq: after, Limit: 3})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		pages++
		require.LessOrEqual(t, len(page), 3)
		for _, inst := range page {
			require.Greater(t, inst.Seq, after, "seq order")
			after = inst.Seq
			got = append(got, inst.ID)
		}
	}
	assert.Equal(t, ids, got)
	assert.Equal(t, 3, pages)

	all, err := s.ListInstances(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, ids, instanceIDs(all), "no limit returns everything in seq order")

	// A deleted row leaves a gap; paging past it still works.
	require.NoError(t, s.DeleteInstance(ctx, ids[1], 1))
	page, err := s.ListInstances(ctx, store.ListOptions{AfterSeq: all[0].Seq, Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{ids[2], ids[3]}, instanceIDs(page))
}

func testInstanceWhere(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newInstance(newID("a"))
	b := newInstance(newID("b"))
	b.VnfdID = "vnfd-b"
	b.VnfProvider = "globex"
	c := newInstance(newID("c"))
	c.VnfdID = "vnfd-c"
	c.VnfProductName = "router"
	for _, inst := range []*store.Instance{a, b, c} {
		require.NoError(t, s.CreateInstance(ctx, inst))
	}
	list := func(where ...store.Cond) []string {
		t.Helper()
		l, err := s.ListInstances(ctx, store.ListOptions{Where: where})
		require.NoError(t, err)
		return instanceIDs(l)
	}
	assert.Equal(t, []string{b.ID}, list(store.Cond{Attr: "vnfdId", Values: []string{"vnfd-b"}}))
	assert.Equal(t, []string{a.ID, c.ID}, list(store.Cond{Attr: "vnfdId", Values: []string{"vnfd-a", "vnfd-c"}}))
	assert.Equal(t, []string{c.ID}, list(
		store.Cond{Attr: "vnfdId", Values: []string{"vnfd-a", "vnfd-c"}},
		store.Cond{Attr: "vnfProductName", Values: []string{"router"}}))
	assert.Equal(t, []string{b.ID}, list(store.Cond{Attr: "vnfProvider", Values: []string{"globex"}}))
	assert.Equal(t, []string{a.ID}, list(store.Cond{Attr: "vnfInstanceName", Values: []string{a.VnfInstanceName}}))
	assert.Equal(t, []string{b.ID, c.ID}, list(store.Cond{Attr: "id", Values: []string{c.ID, b.ID}}))
	assert.Empty(t, list(store.Cond{Attr: "vnfdId", Values: []string{"nope"}}))
	assert.Empty(t, list(store.Cond{Attr: "vnfdId"}), "no values: nothing equals one of them")

	// The indexed columns follow updates of the document.
	assert.Empty(t, list(store.Cond{Attr: "instantiationState", Values: []string{"INSTANTIATED"}}))
	b.InstantiationState = model.Instantiated
	require.NoError(t, s.UpdateInstance(ctx, b))
	assert.Equal(t, []string{b.ID}, list(store.Cond{Attr: "instantiationState", Values: []string{"INSTANTIATED"}}))
	assert.Equal(t, []string{a.ID, c.ID}, list(store.Cond{Attr: "instantiationState", Values: []string{"NOT_INSTANTIATED"}}))

	// Cond combines with paging.
	l, err := s.ListInstances(ctx, store.ListOptions{
		AfterSeq: a.Seq, Limit: 1,
		Where: []store.Cond{{Attr: "vnfProvider", Values: []string{"acme", "globex"}}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID}, instanceIDs(l))

	// Every advertised attribute is accepted.
	for _, attr := range store.InstanceAttrs {
		_, err := s.ListInstances(ctx, store.ListOptions{Where: []store.Cond{{Attr: attr, Values: []string{"x"}}}})
		assert.NoError(t, err, attr)
	}
}

func testOpOccPagingAndWhere(t *testing.T, s store.Store) {
	ctx := t.Context()
	i1, i2 := createInstance(t, s), createInstance(t, s)
	o1 := createOpOcc(t, s, i1.ID, model.Completed, store.JobNone)
	o2 := newOpOcc(i1.ID, model.Processing, store.JobRun)
	o2.Operation = model.OpScale
	require.NoError(t, s.CreateOpOcc(ctx, o2))
	o3 := createOpOcc(t, s, i2.ID, model.FailedTemp, store.JobNone)

	list := func(opts store.ListOptions) []string {
		t.Helper()
		l, err := s.ListOpOccs(ctx, opts)
		require.NoError(t, err)
		return opIDs(l)
	}
	assert.Equal(t, []string{o1.ID, o2.ID, o3.ID}, list(store.ListOptions{}))
	assert.Equal(t, []string{o1.ID, o2.ID}, list(store.ListOptions{Limit: 2}))
	assert.Equal(t, []string{o2.ID, o3.ID}, list(store.ListOptions{AfterSeq: o1.Seq}))
	assert.Equal(t, []string{o1.ID, o2.ID}, list(store.ListOptions{Where: []store.Cond{{Attr: "vnfInstanceId", Values: []string{i1.ID}}}}))
	assert.Equal(t, []string{o2.ID}, list(store.ListOptions{Where: []store.Cond{{Attr: "operation", Values: []string{"SCALE"}}}}))
	assert.Equal(t, []string{o1.ID, o3.ID}, list(store.ListOptions{Where: []store.Cond{{Attr: "operationState", Values: []string{"COMPLETED", "FAILED_TEMP"}}}}))
	assert.Equal(t, []string{o3.ID}, list(store.ListOptions{Where: []store.Cond{{Attr: "id", Values: []string{o3.ID}}}}))

	// operationState follows updates.
	o2.OperationState = model.Completed
	require.NoError(t, s.UpdateOpOcc(ctx, o2))
	assert.Equal(t, []string{o1.ID, o2.ID}, list(store.ListOptions{Where: []store.Cond{{Attr: "operationState", Values: []string{"COMPLETED"}}}}))

	for _, attr := range store.OpOccAttrs {
		_, err := s.ListOpOccs(ctx, store.ListOptions{Where: []store.Cond{{Attr: attr, Values: []string{"x"}}}})
		assert.NoError(t, err, attr)
	}
}

func testUnknownAttr(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ListInstances(ctx, store.ListOptions{Where: []store.Cond{{Attr: "vnfSoftwareVersion", Values: []string{"1"}}}})
	assert.Error(t, err)
	_, err = s.ListOpOccs(ctx, store.ListOptions{Where: []store.Cond{{Attr: "grantId", Values: []string{"1"}}}})
	assert.Error(t, err)
	// Attribute names are the JSON names, not column names.
	_, err = s.ListInstances(ctx, store.ListOptions{Where: []store.Cond{{Attr: "vnfd_id", Values: []string{"1"}}}})
	assert.Error(t, err)
}

func testOpOccCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	op := createOpOcc(t, s, inst.ID, model.Starting, store.JobRun)
	assert.Equal(t, int64(1), op.Revision)
	assert.Positive(t, op.Seq)

	got, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, op.Revision, got.Revision)
	assert.Equal(t, op.Seq, got.Seq)
	assert.Equal(t, store.JobRun, got.Job)
	assert.Empty(t, got.Owner)
	assert.True(t, got.LeaseUntil.IsZero())
	assert.Equal(t, op.ID, got.ID)
	assert.Equal(t, model.Starting, got.OperationState)

	stale := *got
	got.OperationState = model.Processing
	require.NoError(t, s.UpdateOpOcc(ctx, got))
	assert.Equal(t, int64(2), got.Revision)
	assert.ErrorIs(t, s.UpdateOpOcc(ctx, &stale), store.ErrConflict)

	missing := newOpOcc(inst.ID, model.Processing, store.JobNone)
	missing.Revision = 1
	assert.ErrorIs(t, s.UpdateOpOcc(ctx, missing), store.ErrNotFound)
	_, err = s.GetOpOcc(ctx, missing.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)

	again, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.Processing, again.OperationState)
	assert.Equal(t, int64(2), again.Revision)
}

func testOpOccExclusive(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	other := createInstance(t, s)

	_, err := s.ActiveOpOcc(ctx, inst.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)

	for _, final := range model.FinalStates {
		op := createOpOcc(t, s, inst.ID, model.Starting, store.JobRun)

		active, err := s.ActiveOpOcc(ctx, inst.ID)
		require.NoError(t, err)
		assert.Equal(t, op.ID, active.ID)

		// Every non-final state holds the instance.
		for _, state := range []model.OperationState{model.Starting, model.Processing, model.FailedTemp, model.RollingBack} {
			if state != op.OperationState {
				op.OperationState = state
				require.NoError(t, s.UpdateOpOcc(ctx, op))
			}
			second := newOpOcc(inst.ID, model.Starting, store.JobRun)
			assert.ErrorIs(t, s.CreateOpOcc(ctx, second), store.ErrOpInProgress, "while %s", state)
			_, err = s.GetOpOcc(ctx, second.ID, false)
			assert.ErrorIs(t, err, store.ErrNotFound, "the loser is not stored")
		}
		// Another instance is not affected; a final op occ never conflicts.
		createOpOcc(t, s, other.ID, model.Completed, store.JobNone)
		createOpOcc(t, s, inst.ID, model.Failed, store.JobNone)

		op.OperationState = final
		op.Job = store.JobNone
		require.NoError(t, s.UpdateOpOcc(ctx, op))
		_, err = s.ActiveOpOcc(ctx, inst.ID)
		assert.ErrorIs(t, err, store.ErrNotFound, "after %s", final)

		// Moving a final op occ back to a non-final state must not create a
		// second active one.
		next := createOpOcc(t, s, inst.ID, model.Starting, store.JobRun)
		op.OperationState = model.Processing
		assert.ErrorIs(t, s.UpdateOpOcc(ctx, op), store.ErrOpInProgress)

		next.OperationState = model.Completed
		require.NoError(t, s.UpdateOpOcc(ctx, next))
	}
}

func testOpOccOutlivesInstance(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	op := createOpOcc(t, s, inst.ID, model.Completed, store.JobNone)
	require.NoError(t, s.DeleteInstance(ctx, inst.ID, inst.Revision))
	got, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, inst.ID, got.VnfInstanceID)
	// Op occs for an instance that is not (or no longer) stored are accepted:
	// callers serialize with GetInstance(forUpdate) instead.
	createOpOcc(t, s, "never-existed", model.Starting, store.JobNone)
}

// raceCreateOpOcc has n goroutines create an op occ for one instance at once,
// each through create, and checks that exactly one wins.
func raceCreateOpOcc(t *testing.T, s store.Store, n int, create func(ctx context.Context, op *store.OpOcc) error) {
	t.Helper()
	ctx := t.Context()
	inst := createInstance(t, s)
	start := make(chan struct{})
	errs := make([]error, n)
	ops := make([]*store.OpOcc, n)
	var wg sync.WaitGroup
	for i := range n {
		ops[i] = newOpOcc(inst.ID, model.Starting, store.JobRun)
		wg.Go(func() {
			<-start
			errs[i] = create(ctx, ops[i])
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	var winner string
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = ops[i].ID
		case errors.Is(err, store.ErrOpInProgress):
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	require.Equal(t, 1, wins, "exactly one CreateOpOcc wins")
	active, err := s.ActiveOpOcc(ctx, inst.ID)
	require.NoError(t, err)
	assert.Equal(t, winner, active.ID)
	all, err := s.ListOpOccs(ctx, store.ListOptions{Where: []store.Cond{{Attr: "vnfInstanceId", Values: []string{inst.ID}}}})
	require.NoError(t, err)
	assert.Len(t, all, 1)
}

func testConcurrentCreateOpOcc(t *testing.T, s store.Store) {
	for range 3 {
		raceCreateOpOcc(t, s, 8, s.CreateOpOcc)
	}
}

// testConcurrentCreateOpOccLocked is the API's pattern: lock the instance,
// check there is no active op occ, create one.
func testConcurrentCreateOpOccLocked(t *testing.T, s store.Store) {
	raceCreateOpOcc(t, s, 8, func(ctx context.Context, op *store.OpOcc) error {
		return s.InTx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetInstance(ctx, op.VnfInstanceID, true); err != nil {
				return err
			}
			if _, err := tx.ActiveOpOcc(ctx, op.VnfInstanceID); err == nil {
				return store.ErrOpInProgress
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return tx.CreateOpOcc(ctx, op)
		})
	})
}

func testInTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := createInstance(t, s)
	inst := newInstance(newID("inst"))
	var op *store.OpOcc
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateInstance(ctx, inst); err != nil {
			return err
		}
		op = newOpOcc(inst.ID, model.Starting, store.JobRun)
		if err := tx.CreateOpOcc(ctx, op); err != nil {
			return err
		}
		e, err := tx.GetInstance(ctx, existing.ID, true)
		if err != nil {
			return err
		}
		e.VnfInstanceName = "changed"
		if err := tx.UpdateInstance(ctx, e); err != nil {
			return err
		}
		// Inside, the writes are visible.
		if _, err := tx.GetInstance(ctx, inst.ID, false); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)

	_, err = s.GetInstance(ctx, inst.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetOpOcc(ctx, op.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
	got, err := s.GetInstance(ctx, existing.ID, false)
	require.NoError(t, err)
	assert.Equal(t, existing.VnfInstanceName, got.VnfInstanceName)
	assert.Equal(t, int64(1), got.Revision)
	claimed, err := s.ClaimJob(ctx, "w", time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.Nil(t, claimed, "the rolled-back job is not queued")
	// The instance is free: the rolled-back op occ held nothing.
	createOpOcc(t, s, inst.ID, model.Starting, store.JobNone)

	// A panic in fn rolls back too.
	panicked := newInstance(newID("panic"))
	assert.Panics(t, func() {
		_ = s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.CreateInstance(ctx, panicked); err != nil {
				return err
			}
			panic("boom")
		})
	})
	_, err = s.GetInstance(ctx, panicked.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testInTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := newInstance(newID("inst"))
	op := newOpOcc(inst.ID, model.Starting, store.JobRun)
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateInstance(ctx, inst); err != nil {
			return err
		}
		locked, err := tx.GetInstance(ctx, inst.ID, true)
		if err != nil {
			return err
		}
		locked.VnfInstanceName = "renamed"
		if err := tx.UpdateInstance(ctx, locked); err != nil {
			return err
		}
		if err := tx.CreateOpOcc(ctx, op); err != nil {
			return err
		}
		if _, err := tx.GetOpOcc(ctx, op.ID, true); err != nil {
			return err
		}
		l, err := tx.ListOpOccs(ctx, store.ListOptions{})
		if err != nil {
			return err
		}
		if len(l) != 1 {
			return fmt.Errorf("list in tx: %d op occs", len(l))
		}
		if _, err := tx.ActiveOpOcc(ctx, inst.ID); err != nil {
			return err
		}
		li, err := tx.ListInstances(ctx, store.ListOptions{})
		if err != nil {
			return err
		}
		if len(li) != 1 {
			return fmt.Errorf("list in tx: %d instances", len(li))
		}
		return nil
	})
	require.NoError(t, err)
	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, "renamed", got.VnfInstanceName)
	assert.Equal(t, int64(2), got.Revision)
	active, err := s.ActiveOpOcc(ctx, inst.ID)
	require.NoError(t, err)
	assert.Equal(t, op.ID, active.ID)

	// Deleting inside a transaction.
	err = s.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.GetInstance(ctx, inst.ID, true)
		if err != nil {
			return err
		}
		return tx.DeleteInstance(ctx, cur.ID, cur.Revision)
	})
	require.NoError(t, err)
	_, err = s.GetInstance(ctx, inst.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// testInTxForUpdateSerializes: read-modify-write transactions on one locked
// instance never lose an update and never see a conflict.
func testInTxForUpdateSerializes(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	inst.VnfInstanceName = "0"
	require.NoError(t, s.UpdateInstance(ctx, inst))
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(tx store.Tx) error {
				cur, err := tx.GetInstance(ctx, inst.ID, true)
				if err != nil {
					return err
				}
				v, err := strconv.Atoi(cur.VnfInstanceName)
				if err != nil {
					return err
				}
				cur.VnfInstanceName = strconv.Itoa(v + 1)
				return tx.UpdateInstance(ctx, cur)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "transaction %d", i)
	}
	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(n), got.VnfInstanceName)
	assert.Equal(t, int64(2+n), got.Revision)
}

// testReadsDuringTx: an open write transaction does not block readers, who
// see the last committed state.
func testReadsDuringTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := createInstance(t, s)
	err := s.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.GetInstance(ctx, inst.ID, true)
		if err != nil {
			return err
		}
		cur.VnfInstanceName = "uncommitted"
		if err := tx.UpdateInstance(ctx, cur); err != nil {
			return err
		}
		// Read from other goroutines, as other requests would.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				got, err := s.GetInstance(rctx, inst.ID, false)
				if err != nil {
					errs[i] = err
					return
				}
				if got.VnfInstanceName != inst.VnfInstanceName || got.Revision != 1 {
					errs[i] = fmt.Errorf("read uncommitted state: %q rev %d", got.VnfInstanceName, got.Revision)
					return
				}
				if _, err := s.ListInstances(rctx, store.ListOptions{}); err != nil {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	require.NoError(t, err)
}

func testClaimJob(t *testing.T, s store.Store) {
	ctx := t.Context()
	lease := time.Now().Add(time.Minute).UTC()

	none, err := s.ClaimJob(ctx, "w1", lease)
	require.NoError(t, err)
	assert.Nil(t, none)

	var insts []*store.Instance
	for range 4 {
		insts = append(insts, createInstance(t, s))
	}
	createOpOcc(t, s, insts[0].ID, model.Completed, store.JobNone) // no job
	owned := newOpOcc(insts[1].ID, model.Processing, store.JobRun) // owned elsewhere
	owned.Owner, owned.LeaseUntil = "other", lease
	require.NoError(t, s.CreateOpOcc(ctx, owned))
	first := createOpOcc(t, s, insts[2].ID, model.Starting, store.JobRun)
	second := createOpOcc(t, s, insts[3].ID, model.FailedTemp, store.JobRollback)

	got, err := s.ClaimJob(ctx, "w1", lease)
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, first.ID, got.ID, "oldest unowned job first")
	assert.Equal(t, "w1", got.Owner)
	sameTime(t, lease, got.LeaseUntil, "lease")
	assert.Equal(t, first.Revision+1, got.Revision)
	assert.Equal(t, store.JobRun, got.Job)
	assert.Equal(t, first.VnfInstanceID, got.VnfInstanceID)

	stored, err := s.GetOpOcc(ctx, first.ID, false)
	require.NoError(t, err)
	assert.Equal(t, "w1", stored.Owner)
	assert.Equal(t, got.Revision, stored.Revision)
	sameTime(t, lease, stored.LeaseUntil, "stored lease")
	assert.ErrorIs(t, s.UpdateOpOcc(ctx, first), store.ErrConflict, "a claim is a change")

	got2, err := s.ClaimJob(ctx, "w2", lease)
	require.NoError(t, err)
	require.NotNil(t, got2)
	assert.Equal(t, second.ID, got2.ID)
	assert.Equal(t, store.JobRollback, got2.Job)

	got3, err := s.ClaimJob(ctx, "w1", lease)
	require.NoError(t, err)
	assert.Nil(t, got3)

	// Releasing the job (no owner, job kept) queues it again.
	got.Owner, got.LeaseUntil = "", time.Time{}
	require.NoError(t, s.UpdateOpOcc(ctx, got))
	again, err := s.ClaimJob(ctx, "w3", lease)
	require.NoError(t, err)
	require.NotNil(t, again)
	assert.Equal(t, first.ID, again.ID)

	// Clearing the job dequeues it for good.
	again.Job, again.Owner, again.LeaseUntil = store.JobNone, "", time.Time{}
	require.NoError(t, s.UpdateOpOcc(ctx, again))
	none, err = s.ClaimJob(ctx, "w1", lease)
	require.NoError(t, err)
	assert.Nil(t, none)

	_, err = s.ClaimJob(ctx, "", lease)
	assert.Error(t, err, "an empty owner would leave the job unclaimed")
}

func testConcurrentClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	const jobs, workers = 40, 8
	queued := make([]string, 0, jobs)
	for range jobs {
		op := newOpOcc(newID("inst"), model.Starting, store.JobRun)
		require.NoError(t, s.CreateOpOcc(ctx, op))
		queued = append(queued, op.ID)
	}
	lease := time.Now().Add(time.Minute)
	claimed := make([][]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			owner := "worker-" + strconv.Itoa(w)
			for {
				op, err := s.ClaimJob(ctx, owner, lease)
				if err != nil {
					errs[w] = err
					return
				}
				if op == nil {
					return
				}
				if op.Owner != owner {
					errs[w] = fmt.Errorf("claimed %s with owner %q", op.ID, op.Owner)
					return
				}
				claimed[w] = append(claimed[w], op.ID)
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	var all []string
	owners := map[string]string{}
	for w, ids := range claimed {
		for _, id := range ids {
			if prev, dup := owners[id]; dup {
				t.Errorf("%s claimed by worker-%s and worker-%d", id, prev, w)
			}
			owners[id] = strconv.Itoa(w)
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	slices.Sort(queued)
	assert.Equal(t, queued, all, "every queued job claimed exactly once")

	owned, err := s.OwnedJobs(ctx)
	require.NoError(t, err)
	assert.Len(t, owned, jobs)
	for _, op := range owned {
		assert.Equal(t, "worker-"+owners[op.ID], op.Owner)
	}
}

func testRenewLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	var ops []*store.OpOcc
	for range 3 {
		createOpOcc(t, s, newID("inst"), model.Starting, store.JobRun)
	}
	for _, owner := range []string{"a", "a", "b"} {
		op, err := s.ClaimJob(ctx, owner, now.Add(time.Second))
		require.NoError(t, err)
		require.NotNil(t, op)
		ops = append(ops, op)
	}
	later := now.Add(time.Hour)
	// b's job is listed but not a's to renew; the unknown id is ignored.
	require.NoError(t, s.RenewLeases(ctx, "a", []string{ops[0].ID, ops[2].ID, "unknown"}, later))
	require.NoError(t, s.RenewLeases(ctx, "a", nil, later))

	get := func(id string) *store.OpOcc {
		t.Helper()
		op, err := s.GetOpOcc(ctx, id, false)
		require.NoError(t, err)
		return op
	}
	sameTime(t, later, get(ops[0].ID).LeaseUntil, "renewed")
	sameTime(t, now.Add(time.Second), get(ops[1].ID).LeaseUntil, "not listed")
	sameTime(t, now.Add(time.Second), get(ops[2].ID).LeaseUntil, "other owner")
	assert.Equal(t, ops[0].Revision, get(ops[0].ID).Revision, "renewal does not change the revision")

	// The holder can still update with the revision it has.
	ops[0].OperationState = model.Processing
	require.NoError(t, s.UpdateOpOcc(ctx, ops[0]))
}

// testUpdateKeepsRenewedLease: an owner writing back the op occ it claimed
// must not shorten a lease renewed in the meantime; a change of owner sets
// the lease as given.
func testUpdateKeepsRenewedLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	createOpOcc(t, s, newID("inst"), model.Starting, store.JobRun)
	op, err := s.ClaimJob(ctx, "a", now.Add(time.Second))
	require.NoError(t, err)
	require.NotNil(t, op)
	require.NoError(t, s.RenewLeases(ctx, "a", []string{op.ID}, now.Add(time.Hour)))

	op.OperationState = model.Processing // op.LeaseUntil is the stale claim lease
	require.NoError(t, s.UpdateOpOcc(ctx, op))
	sameTime(t, now.Add(time.Hour), op.LeaseUntil, "returned lease")
	got, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	sameTime(t, now.Add(time.Hour), got.LeaseUntil, "stored lease")

	// The owner may extend it itself.
	op.LeaseUntil = now.Add(2 * time.Hour)
	require.NoError(t, s.UpdateOpOcc(ctx, op))
	sameTime(t, now.Add(2*time.Hour), op.LeaseUntil, "extended")

	// A new owner gets the lease it asks for.
	op.Owner, op.LeaseUntil = "b", now.Add(time.Minute)
	require.NoError(t, s.UpdateOpOcc(ctx, op))
	sameTime(t, now.Add(time.Minute), op.LeaseUntil, "new owner")

	// Releasing clears it.
	op.Owner, op.LeaseUntil = "", time.Time{}
	require.NoError(t, s.UpdateOpOcc(ctx, op))
	got, err = s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Empty(t, got.Owner)
	assert.True(t, got.LeaseUntil.IsZero(), "released lease: %v", got.LeaseUntil)
}

func testExpiredAndOwnedJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()
	for range 4 {
		createOpOcc(t, s, newID("inst"), model.Starting, store.JobRun)
	}
	unowned := createOpOcc(t, s, newID("inst"), model.Starting, store.JobRun)

	claim := func(owner string, lease time.Time) *store.OpOcc {
		t.Helper()
		op, err := s.ClaimJob(ctx, owner, lease)
		require.NoError(t, err)
		require.NotNil(t, op)
		return op
	}
	expiredA := claim("a", now.Add(-time.Minute))
	liveA := claim("a", now.Add(time.Minute))
	expiredB := claim("b", now.Add(-time.Second))
	liveB := claim("b", now.Add(time.Hour))

	expired, err := s.ExpiredJobs(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, []string{expiredA.ID, expiredB.ID}, opIDs(expired))
	for _, op := range expired {
		assert.NotEmpty(t, op.Owner)
		assert.True(t, op.LeaseUntil.Before(now))
	}

	owned, err := s.OwnedJobs(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{expiredA.ID, liveA.ID, expiredB.ID, liveB.ID}, opIDs(owned))
	assert.NotContains(t, opIDs(owned), unowned.ID)

	expired, err = s.ExpiredJobs(ctx, now.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, []string{expiredA.ID, liveA.ID, expiredB.ID}, opIDs(expired))

	// Renewal takes a job off the expired list.
	require.NoError(t, s.RenewLeases(ctx, "a", []string{expiredA.ID}, now.Add(time.Hour)))
	expired, err = s.ExpiredJobs(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, []string{expiredB.ID}, opIDs(expired))
}

func testOpaqueRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	sealed := []byte{0, 1, 2, 0xff, 0xfe, 0, '\'', '"', '\\', 0x80}
	// Key order, spacing and escapes must survive (no JSON normalization).
	private := json.RawMessage("{ \"z\": 1,\n  \"a\" : [1, 2.50, \"\\u00e9\"], \"z\": 2 }")
	sealedParams := []byte("\x00\x00secret\xc3\x28")
	progress := json.RawMessage(`{"steps":[{"name":"create-vm","done":true}],  "b":null}`)

	inst := newInstance(newID("inst"))
	inst.Sealed, inst.Private = sealed, private
	require.NoError(t, s.CreateInstance(ctx, inst))
	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, sealed, got.Sealed)
	assert.Equal(t, string(private), string(got.Private))

	op := newOpOcc(inst.ID, model.Starting, store.JobRun)
	op.SealedParams, op.Progress = sealedParams, progress
	require.NoError(t, s.CreateOpOcc(ctx, op))
	gotOp, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, sealedParams, gotOp.SealedParams)
	assert.Equal(t, string(progress), string(gotOp.Progress))

	// Through an update, and through the claim and list paths.
	got.Sealed = append([]byte{}, got.Sealed...)
	got.Sealed[0] = 42
	got.Private = json.RawMessage(`[ ]`)
	require.NoError(t, s.UpdateInstance(ctx, got))
	l, err := s.ListInstances(ctx, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l, 1)
	assert.Equal(t, got.Sealed, l[0].Sealed)
	assert.Equal(t, "[ ]", string(l[0].Private))

	gotOp.Progress = json.RawMessage(`{"steps" : []}`)
	require.NoError(t, s.UpdateOpOcc(ctx, gotOp))
	claimed, err := s.ClaimJob(ctx, "w", time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.NotNil(t, claimed)
	assert.Equal(t, sealedParams, claimed.SealedParams)
	assert.Equal(t, `{"steps" : []}`, string(claimed.Progress))

	// Absent values stay absent.
	bare := createInstance(t, s)
	gotBare, err := s.GetInstance(ctx, bare.ID, false)
	require.NoError(t, err)
	assert.Nil(t, gotBare.Sealed)
	assert.Nil(t, gotBare.Private)
	bareOp := createOpOcc(t, s, bare.ID, model.Starting, store.JobNone)
	gotBareOp, err := s.GetOpOcc(ctx, bareOp.ID, false)
	require.NoError(t, err)
	assert.Nil(t, gotBareOp.SealedParams)
	assert.Nil(t, gotBareOp.Progress)
}

func testDocumentRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := &store.Instance{VnfInstance: model.VnfInstance{
		ID:                     newID("inst"),
		VnfInstanceName:        "fw-1 \u00e9\u4e2d <&>",
		VnfInstanceDescription: "a description",
		VnfdID:                 "vnfd-1",
		VnfProvider:            "acme",
		VnfProductName:         "firewall",
		VnfSoftwareVersion:     "2.1",
		VnfdVersion:            "1.3",
		VnfPkgID:               "pkg-1",
		VnfConfigurableProperties: map[string]any{
			"isAutoscaleEnabled": true, "nested": map[string]any{"n": 1.5, "l": []any{"a", nil}},
		},
		VimConnectionInfo: []model.VimConnectionInfo{{
			ID: "vim-1", VimID: "v", VimType: "ETSINFV.OPENSTACK_KEYSTONE.V_3",
			InterfaceInfo: map[string]any{"endpoint": "https://keystone:5000/v3"},
		}},
		InstantiationState: model.Instantiated,
		InstantiatedVnfInfo: &model.InstantiatedVnfInfo{
			FlavourID:   "small",
			VnfState:    model.VnfStarted,
			ScaleStatus: []model.ScaleInfo{{AspectID: "workers", ScaleLevel: 2}},
			ExtCpInfo:   []json.RawMessage{json.RawMessage(`{"id":"cp1","cpdId":"ext"}`)},
			VnfcResourceInfo: []model.VnfcResourceInfo{{
				ID: "vnfc-1", VduID: "vdu1",
				ComputeResource: model.ResourceHandle{VimConnectionID: "vim-1", ResourceID: "server-1", VimLevelResourceType: "OS::Nova::Server"},
				VnfcCpInfo: []model.VnfcCpInfo{{ID: "cp-1", CpdID: "cpd", CpProtocolInfo: []model.CpProtocolInfo{{
					LayerProtocol: "IP_OVER_ETHERNET",
					IPOverEthernet: &model.IPOverEthernet{MacAddress: "fa:16:3e:00:00:01",
						IPAddresses: []model.IPAddressInfo{{Type: "IPV4", Addresses: []string{"10.0.0.5"}, IsDynamic: true}}},
				}}}},
			}},
		},
		Metadata:   map[string]any{"owner": "team-a"},
		Extensions: map[string]any{"x": []any{1.0, "two"}},
		Links:      &model.VnfInstanceLinks{Self: model.Link{Href: "/vnflcm/v1/vnf_instances/x"}, Terminate: &model.Link{Href: "/t"}},
	}}
	require.NoError(t, s.CreateInstance(ctx, inst))
	got, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assertSameJSON(t, inst.VnfInstance, got.VnfInstance)

	start := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", 3600))
	op := &store.OpOcc{VnfLcmOpOcc: model.VnfLcmOpOcc{
		ID:                    newID("op"),
		OperationState:        model.FailedTemp,
		StateEnteredTime:      start.Add(time.Minute),
		StartTime:             start,
		VnfInstanceID:         inst.ID,
		GrantID:               "grant-1",
		Operation:             model.OpScale,
		IsAutomaticInvocation: true,
		OperationParams:       json.RawMessage(`{"type":"SCALE_OUT","aspectId":"workers","numberOfSteps":1}`),
		IsCancelPending:       true,
		CancelMode:            "GRACEFUL",
		Error:                 &model.ProblemDetails{Status: 500, Detail: "VIM said no", Title: "Driver error"},
		ResourceChanges: &model.ResourceChanges{AffectedVnfcs: []model.AffectedVnfc{{
			ID: "vnfc-2", VduID: "vdu1", ChangeType: model.ChangeAdded,
			ComputeResource: model.ResourceHandle{VimConnectionID: "vim-1", ResourceID: "server-2"},
		}}},
		ChangedInfo:            &model.ChangedInfo{VnfInstanceName: ptr("new")},
		ChangedExtConnectivity: []json.RawMessage{json.RawMessage(`{"id":"ev1"}`)},
		Links: &model.OpOccLinks{Self: model.Link{Href: "/op"}, VnfInstance: model.Link{Href: "/inst"},
			Retry: &model.Link{Href: "/retry"}},
	}}
	require.NoError(t, s.CreateOpOcc(ctx, op))
	gotOp, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assertSameJSON(t, op.VnfLcmOpOcc, gotOp.VnfLcmOpOcc)
	assert.True(t, start.Equal(gotOp.StartTime), "the document keeps full time precision")
}

func assertSameJSON(t *testing.T, want, got any) {
	t.Helper()
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g))
	assert.Equal(t, string(w), string(g), "re-marshalled documents are identical")
}

func ptr[T any](v T) *T { return &v }

func testWakeups(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := s.Wakeups(ctx)
	if ch == nil {
		assert.False(t, s.Shared(), "a shared store must announce jobs")
		return
	}
	drain := func() {
		for {
			select {
			case <-ch:
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wakeup after %s", what)
		}
	}
	drain()
	createOpOcc(t, s, newID("inst"), model.Starting, store.JobRun)
	wait("CreateOpOcc with a job")

	claimed, err := s.ClaimJob(ctx, "w", time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.NotNil(t, claimed)
	drain()
	claimed.Owner, claimed.LeaseUntil = "", time.Time{}
	require.NoError(t, s.UpdateOpOcc(ctx, claimed))
	wait("UpdateOpOcc releasing a job")

	// Inside a transaction the wakeup comes with the commit, not before.
	drain()
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateOpOcc(ctx, newOpOcc(newID("inst"), model.Starting, store.JobRun)); err != nil {
			return err
		}
		select {
		case <-ch:
			return errors.New("wakeup before commit")
		case <-time.After(300 * time.Millisecond):
			return nil
		}
	})
	require.NoError(t, err)
	wait("commit of a transaction that queued a job")
}

func testPing(t *testing.T, s store.Store) {
	require.NoError(t, s.Ping(t.Context()))
}

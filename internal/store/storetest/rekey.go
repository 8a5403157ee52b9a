package storetest

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

var rekeyTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SealedRowsAndSetSealed", testSealedRows},
	{"SealedRowsPaging", testSealedRowsPaging},
	{"SetSealedKeepsConcurrentWriter", testSetSealedConcurrent},
}

// rekeyTx runs fn in a transaction as a store.RekeyTx.
func rekeyTx(t *testing.T, s store.Store, fn func(tx store.RekeyTx) error) {
	t.Helper()
	require.NoError(t, s.InTx(t.Context(), func(tx store.Tx) error {
		rtx, ok := tx.(store.RekeyTx)
		require.True(t, ok, "the store's Tx implements store.RekeyTx")
		return fn(rtx)
	}))
}

func sealedRows(t *testing.T, s store.Store, table store.SealedTable) []store.SealedRow {
	t.Helper()
	var out []store.SealedRow
	rekeyTx(t, s, func(tx store.RekeyTx) error {
		var err error
		out, err = tx.SealedRows(t.Context(), table, "", 1000)
		return err
	})
	return out
}

// testSealedRows: every table's sealed column (and JSON column) reads back
// byte for byte, rows without anything sealed are left out, and SetSealed
// rewrites just those columns: document and revision stay.
func testSealedRows(t *testing.T, s store.Store) {
	ctx := t.Context()
	sealed := func(b byte) []byte { return []byte{1, b, 0, 0xff, '"', '\\', 0x80} }
	private := json.RawMessage(`{"vimConnectionId":"v", "infraSealed":"AQID"}`)
	progress := json.RawMessage(`{"done":["a"],"data":{"sealed":"AQID"}}`)

	inst := newInstance(newID("inst"))
	inst.Sealed, inst.Private = sealed(1), private
	require.NoError(t, s.CreateInstance(ctx, inst))
	onlyPrivate := newInstance(newID("inst"))
	onlyPrivate.Private = json.RawMessage(`{"infraSealed":"AQ=="}`)
	require.NoError(t, s.CreateInstance(ctx, onlyPrivate))
	createInstance(t, s) // nothing sealed

	op := newOpOcc(inst.ID, model.Completed, store.JobNone)
	op.SealedParams, op.Progress = sealed(2), progress
	require.NoError(t, s.CreateOpOcc(ctx, op))
	createOpOcc(t, s, onlyPrivate.ID, model.Completed, store.JobNone) // nothing sealed

	v := newVim("rekey", false)
	v.Sealed = sealed(3)
	require.NoError(t, s.CreateVim(ctx, v))
	sub := newSubscription("k-"+newID("sub"), "http://nfvo.example/cb")
	sub.Sealed = sealed(4)
	require.NoError(t, s.CreateSubscription(ctx, sub))
	pkg := newPackage(newID("pkg"))
	pkg.SealedSource = sealed(5)
	require.NoError(t, s.CreatePackage(ctx, pkg))
	createPackage(t, s) // nothing sealed

	want := map[store.SealedTable][]store.SealedRow{
		store.SealedInstances: {
			{ID: inst.ID, Sealed: sealed(1), JSON: private},
			{ID: onlyPrivate.ID, JSON: onlyPrivate.Private},
		},
		store.SealedOpOccs:        {{ID: op.ID, Sealed: sealed(2), JSON: progress}},
		store.SealedVims:          {{ID: v.ID, Sealed: sealed(3)}},
		store.SealedSubscriptions: {{ID: sub.ID, Sealed: sealed(4)}},
		store.SealedPackages:      {{ID: pkg.ID, Sealed: sealed(5)}},
	}
	require.ElementsMatch(t, store.SealedTables, mapKeys(want), "the test covers every table")
	for table, rows := range want {
		sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
		got := sealedRows(t, s, table)
		require.Len(t, got, len(rows), table)
		for i := range rows {
			assert.Equal(t, rows[i].ID, got[i].ID, table)
			assert.Equal(t, rows[i].Sealed, got[i].Sealed, table)
			assert.Equal(t, string(rows[i].JSON), string(got[i].JSON), table)
		}
	}

	// Rewrite every row; the content the store knows stays.
	newPrivate := json.RawMessage(`{"vimConnectionId":"v","infraSealed":"BAUG"}`)
	newProgress := json.RawMessage(`{"done":["a"],"data":{"sealed":"BAUG"}}`)
	rekeyTx(t, s, func(tx store.RekeyTx) error {
		for _, w := range []struct {
			table store.SealedTable
			row   store.SealedRow
		}{
			{store.SealedInstances, store.SealedRow{ID: inst.ID, Sealed: sealed(11), JSON: newPrivate}},
			{store.SealedInstances, store.SealedRow{ID: onlyPrivate.ID}},
			{store.SealedOpOccs, store.SealedRow{ID: op.ID, Sealed: sealed(12), JSON: newProgress}},
			{store.SealedVims, store.SealedRow{ID: v.ID, Sealed: sealed(13)}},
			{store.SealedSubscriptions, store.SealedRow{ID: sub.ID, Sealed: sealed(14)}},
			{store.SealedPackages, store.SealedRow{ID: pkg.ID, Sealed: sealed(15)}},
		} {
			require.NoError(t, tx.SetSealed(ctx, w.table, w.row))
		}
		err := tx.SetSealed(ctx, store.SealedVims, store.SealedRow{ID: "no-such-vim", Sealed: sealed(1)})
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	})

	gotInst, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, sealed(11), gotInst.Sealed)
	assert.Equal(t, string(newPrivate), string(gotInst.Private))
	assert.Equal(t, inst.Revision, gotInst.Revision, "re-encrypting is no change")
	assert.Equal(t, inst.VnfInstanceName, gotInst.VnfInstanceName)
	cleared, err := s.GetInstance(ctx, onlyPrivate.ID, false)
	require.NoError(t, err)
	assert.Nil(t, cleared.Private)
	assert.Len(t, sealedRows(t, s, store.SealedInstances), 1, "a row with nothing sealed left drops out")

	gotOp, err := s.GetOpOcc(ctx, op.ID, false)
	require.NoError(t, err)
	assert.Equal(t, sealed(12), gotOp.SealedParams)
	assert.Equal(t, string(newProgress), string(gotOp.Progress))
	assert.Equal(t, op.Revision, gotOp.Revision)
	assert.Equal(t, model.Completed, gotOp.OperationState)

	gotVim, err := s.GetVim(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, sealed(13), gotVim.Sealed)
	assert.Equal(t, v.Revision, gotVim.Revision)
	assert.Equal(t, "rekey", gotVim.Name)
	gotSub, err := s.GetSubscription(ctx, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, sealed(14), gotSub.Sealed)
	assert.Equal(t, sub.CallbackURI, gotSub.CallbackURI)
	gotPkg, err := s.GetPackage(ctx, pkg.ID, false)
	require.NoError(t, err)
	assert.Equal(t, sealed(15), gotPkg.SealedSource)
	assert.Equal(t, pkg.Revision, gotPkg.Revision)
}

// testSealedRowsPaging: afterID and limit page in id order.
func testSealedRowsPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []string
	for range 7 {
		v := newVim(newID("page"), false)
		require.NoError(t, s.CreateVim(ctx, v))
		ids = append(ids, v.ID)
	}
	sort.Strings(ids)
	var got []string
	after := ""
	pages := 0
	for {
		var rows []store.SealedRow
		rekeyTx(t, s, func(tx store.RekeyTx) error {
			var err error
			rows, err = tx.SealedRows(ctx, store.SealedVims, after, 3)
			return err
		})
		if len(rows) == 0 {
			break
		}
		require.LessOrEqual(t, len(rows), 3)
		pages++
		for _, r := range rows {
			got = append(got, r.ID)
		}
		after = rows[len(rows)-1].ID
	}
	assert.Equal(t, ids, got)
	assert.Equal(t, 3, pages)
}

// testSetSealedConcurrent: rows a rotation read are held until it commits,
// and since the revision stays, a writer that read the row before still
// succeeds afterwards (its write wins, as it would have anyway).
func testSetSealedConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	inst := newInstance(newID("inst"))
	inst.Sealed = []byte{1, 1, 1}
	require.NoError(t, s.CreateInstance(ctx, inst))
	stale, err := s.GetInstance(ctx, inst.ID, false)
	require.NoError(t, err)

	locked := make(chan struct{})
	release := make(chan struct{})
	rotated := make(chan error, 1)
	go func() {
		rotated <- s.InTx(ctx, func(tx store.Tx) error {
			rtx := tx.(store.RekeyTx)
			rows, err := rtx.SealedRows(ctx, store.SealedInstances, "", 10)
			if err != nil {
				return err
			}
			close(locked)
			<-release
			return rtx.SetSealed(ctx, store.SealedInstances, store.SealedRow{ID: rows[0].ID, Sealed: []byte{2, 2, 2}})
		})
	}()
	<-locked
	written := make(chan error, 1)
	go func() {
		stale.Sealed = []byte{3, 3, 3}
		written <- s.InTx(ctx, func(tx store.Tx) error { return tx.UpdateInstance(ctx, stale) })
	}()
	select {
	case err := <-written:
		t.Fatalf("an update went through while a rotation held the row: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-rotated)
	select {
	case err := <-written:
		require.NoError(t, err, "the revision did not move, so the writer's compare-and-swap holds")
	case <-time.After(10 * time.Second):
		t.Fatal("the update stayed blocked after the rotation committed")
	}
	got, err := s.GetInstance(context.Background(), inst.ID, false)
	require.NoError(t, err)
	assert.Equal(t, []byte{3, 3, 3}, got.Sealed)
	assert.EqualValues(t, 2, got.Revision)
}

func mapKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

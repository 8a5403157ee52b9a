package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

var vimTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"VimCRUD", testVimCRUD},
	{"VimUniqueNameAndDefault", testVimUnique},
	{"VimUniqueInTx", testVimUniqueInTx},
}

func newVim(name string, def bool) *store.Vim {
	return &store.Vim{
		Vim: model.Vim{
			ID: newID("vim"), Name: name, Type: "openstack", AuthURL: "http://127.0.0.1:5000/v3",
			VimProject: map[string]any{"name": "admin"}, Status: "ACTIVE", IsDefault: def,
			Extra: map[string]any{"k": "v"},
		},
		Sealed: []byte{1, 2, 3},
	}
}

func testVimCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	v := newVim("a", true)
	require.NoError(t, s.CreateVim(ctx, v))
	require.EqualValues(t, 1, v.Revision)
	require.False(t, v.CreatedAt.IsZero())

	got, err := s.GetVim(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, "a", got.Name)
	require.True(t, got.IsDefault)
	require.Equal(t, []byte{1, 2, 3}, got.Sealed)
	require.Equal(t, map[string]any{"k": "v"}, got.Extra)

	got.Description = "changed"
	got.IsDefault = false
	require.NoError(t, s.UpdateVim(ctx, got))
	require.EqualValues(t, 2, got.Revision)

	stale := *got
	stale.Revision = 1
	require.ErrorIs(t, s.UpdateVim(ctx, &stale), store.ErrConflict)

	b := newVim("b", false)
	require.NoError(t, s.CreateVim(ctx, b))
	list, err := s.ListVims(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{v.ID, b.ID}, []string{list[0].ID, list[1].ID})
	require.Equal(t, "changed", list[0].Description)

	require.NoError(t, s.DeleteVim(ctx, v.ID))
	_, err = s.GetVim(ctx, v.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.DeleteVim(ctx, v.ID), store.ErrNotFound)
	missing := newVim("missing", false)
	missing.Revision = 1
	require.ErrorIs(t, s.UpdateVim(ctx, missing), store.ErrNotFound)
}

func testVimUnique(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newVim("a", true)
	require.NoError(t, s.CreateVim(ctx, a))
	require.ErrorIs(t, s.CreateVim(ctx, newVim("a", false)), store.ErrDuplicate)
	require.ErrorIs(t, s.CreateVim(ctx, newVim("b", true)), store.ErrDuplicate)
	dupID := newVim("c", false)
	dupID.ID = a.ID
	require.ErrorIs(t, s.CreateVim(ctx, dupID), store.ErrDuplicate)

	b := newVim("b", false)
	require.NoError(t, s.CreateVim(ctx, b))
	b.Name = "a"
	require.ErrorIs(t, s.UpdateVim(ctx, b), store.ErrDuplicate)
	b.Name, b.IsDefault = "b", true
	require.ErrorIs(t, s.UpdateVim(ctx, b), store.ErrDuplicate)
}

// A refused write inside a transaction leaves it usable, so the caller can
// move the default from one VIM to another in one transaction.
func testVimUniqueInTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := newVim("a", true)
	b := newVim("b", false)
	require.NoError(t, s.CreateVim(ctx, a))
	require.NoError(t, s.CreateVim(ctx, b))
	err := s.InTx(ctx, func(tx store.Tx) error {
		b2, err := tx.GetVim(ctx, b.ID)
		if err != nil {
			return err
		}
		b2.IsDefault = true
		if err := tx.UpdateVim(ctx, b2); !errors.Is(err, store.ErrDuplicate) {
			return errors.Join(errors.New("want ErrDuplicate"), err)
		}
		a2, err := tx.GetVim(ctx, a.ID)
		if err != nil {
			return err
		}
		a2.IsDefault = false
		if err := tx.UpdateVim(ctx, a2); err != nil {
			return err
		}
		return tx.UpdateVim(ctx, b2)
	})
	require.NoError(t, err)
	got, err := s.GetVim(ctx, b.ID)
	require.NoError(t, err)
	require.True(t, got.IsDefault)
}

package sqlitestore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/sqlitestore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.SQLite(t) })
}

func TestOpenCreatesDirectoryAndMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a", "b", "vnfm.db")
	s, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	require.NoError(t, s.Migrate(ctx))
	inst := &store.Instance{}
	inst.ID = "x"
	require.NoError(t, s.CreateInstance(ctx, inst))
	require.NoError(t, s.Close())

	// Reopened, the data and the schema version are still there.
	s, err = sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(ctx))
	_, err = s.GetInstance(ctx, "x", false)
	require.NoError(t, err)
	assert.False(t, s.Shared())
	assert.Nil(t, s.Wakeups(ctx))
}

// TestConcurrentMigrate: stores opening one file at once (as two processes
// would) all migrate without error, and the schema is applied once.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vnfm.db")
	const n = 4
	stores := make([]*sqlitestore.Store, n)
	for i := range stores {
		s, err := sqlitestore.Open(ctx, path, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	inst := &store.Instance{}
	inst.ID = "x"
	require.NoError(t, stores[0].CreateInstance(ctx, inst))
	_, err := stores[n-1].GetInstance(ctx, "x", false)
	require.NoError(t, err)
}

func TestPathWithURIMetacharacters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "vnfm.db")
	s, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(ctx))
	assert.FileExists(t, path)
}

package pgstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

// TestSchemaVersionBeforeMigrate: a database never migrated reports
// version 0 (not an error), and the latest version once migrated.
func TestSchemaVersionBeforeMigrate(t *testing.T) {
	t.Parallel()
	s, err := pgstore.Open(t.Context(), storetest.EmptyPostgresURL(t), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	applied, latest, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Zero(t, applied)
	assert.Positive(t, latest)

	require.NoError(t, s.Migrate(t.Context()))
	applied, _, err = s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Equal(t, latest, applied)
	assert.Positive(t, s.PoolStat().TotalConns(), "the pool has connected")
}

// TestOpenBoundsSilentServer: a server that accepts connections and never
// answers fails Open after the default connect timeout, although the
// context has no deadline.
func TestOpenBoundsSilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	start := time.Now()
	_, err = pgstore.Open(context.Background(), "postgres://postgres@"+ln.Addr().String()+"/x?sslmode=disable", nil)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 20*time.Second)
}

package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/sqlitestore"
)

// TestSchemaVersionBeforeMigrate: a database never migrated reports
// version 0 (not an error), and the latest version once migrated.
func TestSchemaVersionBeforeMigrate(t *testing.T) {
	t.Parallel()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "vnfm.db"), nil)
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
	assert.Positive(t, s.DB().Stats().OpenConnections, "the handle has a connection")
}

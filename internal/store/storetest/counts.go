package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// statusTests are the store.Status subtests of Run.
var statusTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"CountOpOccs", testCountOpOccs},
	{"SchemaVersion", testSchemaVersion},
}

func testCountOpOccs(t *testing.T, s store.Store) {
	ctx := t.Context()
	counts, err := s.CountOpOccs(ctx)
	require.NoError(t, err)
	assert.Empty(t, counts, "an empty database has no op occs")

	// Each instance may hold one non-final op occ; final ones pile up.
	add := func(inst string, op model.Operation, state model.OperationState) {
		o := newOpOcc(inst, state, store.JobNone)
		o.Operation = op
		require.NoError(t, s.CreateOpOcc(ctx, o))
	}
	a, b := createInstance(t, s).ID, createInstance(t, s).ID
	add(a, model.OpInstantiate, model.Completed)
	add(b, model.OpInstantiate, model.Completed)
	add(a, model.OpInstantiate, model.Failed)
	add(a, model.OpScale, model.Completed)
	add(a, model.OpScale, model.FailedTemp)
	add(b, model.OpHeal, model.Processing)

	counts, err = s.CountOpOccs(ctx)
	require.NoError(t, err)
	assert.Equal(t, []store.OpOccCount{
		{Operation: model.OpHeal, State: model.Processing, Count: 1},
		{Operation: model.OpInstantiate, State: model.Completed, Count: 2},
		{Operation: model.OpInstantiate, State: model.Failed, Count: 1},
		{Operation: model.OpScale, State: model.Completed, Count: 1},
		{Operation: model.OpScale, State: model.FailedTemp, Count: 1},
	}, counts)
}

func testSchemaVersion(t *testing.T, s store.Store) {
	applied, latest, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	assert.Positive(t, latest, "the binary embeds migrations")
	assert.Equal(t, latest, applied, "a migrated store has the latest version")
}

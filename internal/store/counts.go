package store

import (
	"context"

	"github.com/vnfm-project/vnfm/internal/model"
)

// OpOccCount is how many op occs have one operation and state.
type OpOccCount struct {
	Operation model.Operation
	State     model.OperationState
	Count     int64
}

// Status is what readiness checks and metrics read from the database. It
// is cheap enough to run on every scrape or probe: one aggregate query on
// indexed columns.
type Status interface {
	// CountOpOccs counts op occs by operation and state, ordered by
	// operation then state; combinations without any are left out.
	CountOpOccs(ctx context.Context) ([]OpOccCount, error)
	// SchemaVersion returns the highest migration version recorded in the
	// database (0 when it was never migrated) and the latest version this
	// binary embeds for its dialect.
	SchemaVersion(ctx context.Context) (applied, latest int64, err error)
}

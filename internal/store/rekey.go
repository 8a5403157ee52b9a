package store

import (
	"context"
	"encoding/json"
)

// SealedTable names a table whose rows hold sealed values, for a key
// rotation that re-encrypts them.
type SealedTable string

// The tables with sealed values. Sealed is the row's sealed column; JSON is
// the JSON column some of them keep further sealed values in (opaque to the
// store: whoever wrote them knows where).
const (
	// SealedInstances: Sealed = Instance.Sealed, JSON = Instance.Private.
	SealedInstances SealedTable = "vnf_instances"
	// SealedOpOccs: Sealed = OpOcc.SealedParams, JSON = OpOcc.Progress.
	SealedOpOccs SealedTable = "vnf_lcm_op_occs"
	// SealedVims: Sealed = Vim.Sealed.
	SealedVims SealedTable = "vims"
	// SealedSubscriptions: Sealed = Subscription.Sealed.
	SealedSubscriptions SealedTable = "subscriptions"
	// SealedPackages: Sealed = Package.SealedSource.
	SealedPackages SealedTable = "vnf_packages"
)

// SealedTables lists every SealedTable.
var SealedTables = []SealedTable{SealedInstances, SealedOpOccs, SealedVims, SealedSubscriptions, SealedPackages}

// SealedRow is one row's sealed column and JSON column (nil when the table
// has none or the row holds none).
type SealedRow struct {
	ID     string
	Sealed []byte
	JSON   json.RawMessage
}

// RekeyTx is what a key rotation needs inside a transaction. Both stores'
// transactions implement it; callers type-assert a Tx.
type RekeyTx interface {
	// SealedRows returns up to limit rows of table with an id greater than
	// afterID, in id order, locked until the transaction ends.
	SealedRows(ctx context.Context, table SealedTable, afterID string, limit int) ([]SealedRow, error)
	// SetSealed rewrites a row's sealed and JSON columns and nothing else:
	// the revision stays, as re-encrypting changes no content (a
	// concurrent writer's compare-and-swap still succeeds). ErrNotFound
	// when the row is gone.
	SetSealed(ctx context.Context, table SealedTable, row SealedRow) error
}

// Package store persists VNF instances and LCM operation occurrences.
//
// Two implementations share one contract: Postgres (pgx, production, several
// vnfm replicas may share it) and SQLite (embedded default). Resources are kept
// as JSON documents next to the few columns that filters, paging and the
// conductor need indexed. The op occ row is also the conductor's job: a job
// kind says what work is pending, an owner and lease say who runs it.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
)

var (
	// ErrNotFound: no row with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row changed since it was read (revision mismatch).
	ErrConflict = errors.New("modified concurrently")
	// ErrOpInProgress: the instance already has a non-final operation
	// occurrence. The database enforces this with a unique partial index, so
	// two replicas cannot both win.
	ErrOpInProgress = errors.New("another LCM operation is in progress on this VNF instance")
	// ErrDuplicate: a row with that id already exists.
	ErrDuplicate = errors.New("already exists")
)

// Instance is a stored VNF instance.
type Instance struct {
	model.VnfInstance
	// Sealed holds the encrypted secrets stripped from the public document
	// (vimConnectionInfo in full). Opaque to the store.
	Sealed []byte
	// Private is internal state that is never served (driver state).
	Private json.RawMessage
	// Revision increases on every update; it is the ETag.
	Revision int64
	// Seq orders rows for paging; assigned by the store on create.
	Seq       int64
	CreatedAt time.Time
}

// Job is the conductor work pending on an op occ.
type Job string

const (
	JobNone     Job = ""
	JobRun      Job = "run"      // run (or resume) the workflow forward
	JobRollback Job = "rollback" // undo finished steps in reverse
)

// OpOcc is a stored VNF LCM operation occurrence and its conductor job.
type OpOcc struct {
	model.VnfLcmOpOcc
	// SealedParams is the full request (with secrets), encrypted.
	SealedParams []byte
	// Progress is the conductor's step journal, opaque to the store.
	Progress json.RawMessage
	Job      Job
	// Owner is the conductor instance running the job; empty when unclaimed.
	Owner      string
	LeaseUntil time.Time
	Revision   int64
	Seq        int64
}

// Cond is a conservative pre-filter: the attribute (a top-level JSON name
// such as "vnfdId" or "operationState") equals one of Values. The store maps
// the attribute to an indexed column; callers still apply the full SOL013
// filter to what comes back, so a Cond may only narrow, never decide.
type Cond struct {
	Attr   string
	Values []string
}

// ListOptions selects a page of rows ordered by Seq.
type ListOptions struct {
	AfterSeq int64 // only rows with Seq > AfterSeq
	Limit    int   // 0 = no limit
	Where    []Cond
}

// InstanceAttrs and OpOccAttrs name the attributes usable in Cond.
var (
	InstanceAttrs = []string{"id", "vnfdId", "vnfInstanceName", "instantiationState", "vnfProvider", "vnfProductName"}
	OpOccAttrs    = []string{"id", "vnfInstanceId", "operation", "operationState"}
)

// Tx is what can be done inside one transaction (and, through Store, in an
// implicit one).
type Tx interface {
	// CreateInstance inserts inst, setting Revision=1, Seq and CreatedAt.
	CreateInstance(ctx context.Context, inst *Instance) error
	// GetInstance reads one instance; forUpdate locks the row until the
	// transaction ends (a no-op outside InTx).
	GetInstance(ctx context.Context, id string, forUpdate bool) (*Instance, error)
	ListInstances(ctx context.Context, opts ListOptions) ([]Instance, error)
	// UpdateInstance writes inst if the stored revision equals inst.Revision
	// (else ErrConflict) and increments inst.Revision.
	UpdateInstance(ctx context.Context, inst *Instance) error
	// DeleteInstance removes the instance if its revision matches (else
	// ErrConflict). Op occs of the instance are kept.
	DeleteInstance(ctx context.Context, id string, revision int64) error

	// CreateOpOcc inserts op (Revision=1, Seq assigned). ErrOpInProgress when
	// the instance has another non-final op occ.
	CreateOpOcc(ctx context.Context, op *OpOcc) error
	GetOpOcc(ctx context.Context, id string, forUpdate bool) (*OpOcc, error)
	ListOpOccs(ctx context.Context, opts ListOptions) ([]OpOcc, error)
	// UpdateOpOcc writes op if the revision matches (else ErrConflict) and
	// increments op.Revision. A change to a final state frees the instance.
	// While Owner stays the same the stored lease is never shortened (a
	// RenewLeases since op was read wins over its stale LeaseUntil);
	// op.LeaseUntil is set to the stored value.
	UpdateOpOcc(ctx context.Context, op *OpOcc) error
	// ActiveOpOcc returns the instance's non-final op occ or ErrNotFound.
	ActiveOpOcc(ctx context.Context, instanceID string) (*OpOcc, error)

	PackageTx
	VimTx
	SubscriptionTx
}

// Store is a database.
type Store interface {
	Tx
	Outbox
	Status
	// InTx runs fn in one transaction: committed when fn returns nil, rolled
	// back otherwise. Conflicting concurrent transactions surface as
	// ErrConflict or ErrOpInProgress from the methods, never as a silent
	// lost update.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	// ClaimJob picks one op occ with a Job and no Owner (oldest first), sets
	// Owner and LeaseUntil, increments Revision and returns it. It returns
	// (nil, nil) when there is none. Safe against concurrent claimers in
	// other processes (SKIP LOCKED on Postgres).
	ClaimJob(ctx context.Context, owner string, leaseUntil time.Time) (*OpOcc, error)
	// RenewLeases extends the lease of the owner's jobs with these ids. It
	// does not change Revision, so the holder's copy stays current.
	RenewLeases(ctx context.Context, owner string, ids []string, leaseUntil time.Time) error
	// ExpiredJobs lists op occs that have an Owner whose lease ended before now
	// (or that have no lease at all).
	ExpiredJobs(ctx context.Context, now time.Time) ([]OpOcc, error)
	// StalePackages lists packages in UPLOADING or PROCESSING that nobody
	// holds: no Owner, or a lease that ended before now.
	StalePackages(ctx context.Context, now time.Time) ([]Package, error)
	// OwnedJobs lists op occs that have any Owner (used by the embedded store
	// on start-up, where no other process can be running them).
	OwnedJobs(ctx context.Context) ([]OpOcc, error)

	// Wakeups delivers a value (best effort) when another process may have
	// queued a job; nil when the store cannot tell (then callers poll).
	Wakeups(ctx context.Context) <-chan struct{}
	// Shared reports whether several processes may use the database at once.
	Shared() bool
	Ping(ctx context.Context) error
	Close() error
}

package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
)

// Package is a stored VNF package. Its content (the CSAR) lives in the
// database too, so every replica serves and onboards the same bytes and an
// upload commits whole or not at all.
type Package struct {
	model.VnfPkgInfo
	// Vnfd is the parsed VNFD (the vnfd package's model as JSON), opaque to
	// the store; set when the package is ONBOARDED.
	Vnfd json.RawMessage
	// SealedSource is the encrypted upload_from_uri request (address and
	// credentials), kept so an interrupted fetch can be redone.
	SealedSource []byte
	// Owner and LeaseUntil claim the onboarding work (UPLOADING and
	// PROCESSING states) for one process.
	Owner      string
	LeaseUntil time.Time
	Revision   int64
	Seq        int64
	CreatedAt  time.Time
}

// PackageAttrs name the attributes usable in Cond for packages.
var PackageAttrs = []string{"id", "vnfdId", "onboardingState", "operationalState", "usageState", "vnfProvider", "vnfProductName"}

// PackageTx is what can be done with packages inside one transaction.
type PackageTx interface {
	// CreatePackage inserts p (Revision=1, Seq, CreatedAt assigned).
	CreatePackage(ctx context.Context, p *Package) error
	GetPackage(ctx context.Context, id string, forUpdate bool) (*Package, error)
	ListPackages(ctx context.Context, opts ListOptions) ([]Package, error)
	// UpdatePackage writes p if the revision matches (else ErrConflict) and
	// increments p.Revision. ErrDuplicate when p is ONBOARDED with a vnfdId
	// that another ONBOARDED package already has (a unique partial index).
	UpdatePackage(ctx context.Context, p *Package) error
	// DeletePackage removes the package and its content if the revision
	// matches.
	DeletePackage(ctx context.Context, id string, revision int64) error
	// PutPackageContent stores (replaces) the package's CSAR bytes.
	PutPackageContent(ctx context.Context, id string, content []byte) error
	// PackageContent returns the CSAR bytes, ErrNotFound when none.
	PackageContent(ctx context.Context, id string) ([]byte, error)
	// OnboardedPackageByVnfd returns the ONBOARDED package with that vnfdId,
	// ErrNotFound when none.
	OnboardedPackageByVnfd(ctx context.Context, vnfdID string, forUpdate bool) (*Package, error)
}

// Package pkgm manages VNF packages (SOL005 VNF package management, the
// subset Tacker serves): creation, asynchronous onboarding of a CSAR
// uploaded directly or fetched from a URI, enabling and disabling, content,
// VNFD and artifact access, and the VNFD lookups LCM needs.
package pkgm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/mergepatch"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// Config configures a Service.
type Config struct {
	Store store.Store
	Box   lcm.Sealer
	Log   *slog.Logger
	Now   func() time.Time
	// Limits bound what a CSAR may unpack to.
	Limits csar.Limits
	// MaxPackageSize bounds an uploaded or fetched CSAR; 0 = 512 MiB.
	MaxPackageSize int64
	// Lease bounds how long an onboarding claim lives without renewal.
	Lease time.Duration
	// HTTPClient fetches upload_from_uri sources; nil = a client with a
	// 5 minute timeout.
	HTTPClient *http.Client
}

// Service implements package management.
type Service struct {
	st      store.Store
	box     lcm.Sealer
	log     *slog.Logger
	now     func() time.Time
	limits  csar.Limits
	maxSize int64
	lease   time.Duration
	client  *http.Client
	owner   string

	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	started bool
}

// New makes a Service; Start begins onboarding recovery.
func New(cfg Config) *Service {
	s := &Service{
		st: cfg.Store, box: cfg.Box, log: cfg.Log, now: cfg.Now, limits: cfg.Limits,
		maxSize: cfg.MaxPackageSize, lease: cfg.Lease, client: cfg.HTTPClient,
		owner: "pkgm-" + uuid.NewString()[:8],
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxSize <= 0 {
		s.maxSize = 512 << 20
	}
	if s.lease <= 0 {
		s.lease = 2 * time.Minute
	}
	if s.client == nil {
		// Shorter than the lease, so a slow fetch is not taken over.
		s.client = &http.Client{Timeout: s.lease / 2}
	}
	if s.limits == (csar.Limits{}) {
		s.limits = csar.DefaultLimits()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// MaxPackageSize is the largest CSAR accepted.
func (s *Service) MaxPackageSize() int64 { return s.maxSize }

// Start resumes onboarding left unfinished by a stopped process, now and
// periodically.
func (s *Service) Start(ctx context.Context) {
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.lease / 2)
		defer t.Stop()
		for {
			s.recoverStale(s.ctx)
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends background work and waits for it.
func (s *Service) Stop() {
	s.cancel()
	s.wg.Wait()
}

func (s *Service) nowUTC() time.Time { return s.now().UTC() }

// Create makes a package in CREATED / DISABLED / NOT_IN_USE.
func (s *Service) Create(ctx context.Context, userDefinedData map[string]any) (*store.Package, error) {
	p := &store.Package{VnfPkgInfo: model.VnfPkgInfo{
		ID:               uuid.NewString(),
		OnboardingState:  model.PkgCreated,
		OperationalState: model.PkgDisabled,
		UsageState:       model.PkgNotInUse,
		UserDefinedData:  userDefinedData,
	}}
	if err := s.st.CreatePackage(ctx, p); err != nil {
		return nil, fmt.Errorf("create package: %w", err)
	}
	s.log.Info("vnf package created", "vnf_pkg_id", p.ID)
	return p, nil
}

// Get returns a package with its usage state.
func (s *Service) Get(ctx context.Context, id string) (*store.Package, error) {
	p, err := s.st.GetPackage(ctx, id, false)
	if err != nil {
		return nil, notFound(err, id)
	}
	if err := s.fillUsage(ctx, s.st, p); err != nil {
		return nil, err
	}
	return p, nil
}

// List returns a page of packages with their usage state.
func (s *Service) List(ctx context.Context, opts store.ListOptions) ([]store.Package, error) {
	ps, err := s.st.ListPackages(ctx, opts)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if err := s.fillUsage(ctx, s.st, &ps[i]); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// fillUsage derives usageState: IN_USE while an instance refers to the
// package's VNFD. Deriving it (rather than counting) cannot drift.
func (s *Service) fillUsage(ctx context.Context, tx store.Tx, p *store.Package) error {
	p.UsageState = model.PkgNotInUse
	if p.OnboardingState != model.PkgOnboarded || p.VnfdID == "" {
		return nil
	}
	insts, err := tx.ListInstances(ctx, store.ListOptions{Limit: 1, Where: []store.Cond{{Attr: "vnfdId", Values: []string{p.VnfdID}}}})
	if err != nil {
		return fmt.Errorf("usage of package %s: %w", p.ID, err)
	}
	if len(insts) > 0 {
		p.UsageState = model.PkgInUse
	}
	return nil
}

func notFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: VNF package %s does not exist", lcm.ErrNotFound, id)
	}
	return err
}

// Modification is the body of PATCH /vnf_packages/{id}
// (VnfPkgInfoModifications), also returned as the response.
type Modification struct {
	OperationalState model.OperationalState `json:"operationalState,omitempty"`
	UserDefinedData  map[string]any         `json:"userDefinedData,omitempty"`
}

// Modify changes the operational state and/or merges user defined data.
// Changing the operational state to the one it has is a 409 (SOL005).
func (s *Service) Modify(ctx context.Context, id string, m *Modification) (*Modification, error) {
	if m.OperationalState == "" && m.UserDefinedData == nil {
		return nil, fmt.Errorf("%w: give operationalState and/or userDefinedData", lcm.ErrBadRequest)
	}
	if m.OperationalState != "" && m.OperationalState != model.PkgEnabled && m.OperationalState != model.PkgDisabled {
		return nil, fmt.Errorf("%w: operationalState must be ENABLED or DISABLED", lcm.ErrBadRequest)
	}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetPackage(ctx, id, true)
		if err != nil {
			return notFound(err, id)
		}
		if m.OperationalState != "" {
			if p.OnboardingState != model.PkgOnboarded {
				return fmt.Errorf("%w: the package is %s; only an ONBOARDED package can be enabled or disabled", lcm.ErrStateConflict, p.OnboardingState)
			}
			if p.OperationalState == m.OperationalState {
				return fmt.Errorf("%w: the package is already %s", lcm.ErrStateConflict, m.OperationalState)
			}
			p.OperationalState = m.OperationalState
		}
		if m.UserDefinedData != nil {
			p.UserDefinedData = mergepatch.Objects(p.UserDefinedData, m.UserDefinedData)
		}
		return tx.UpdatePackage(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("vnf package modified", "vnf_pkg_id", id, "operational_state", string(m.OperationalState))
	return m, nil
}

// Delete removes a DISABLED package no instance uses.
func (s *Service) Delete(ctx context.Context, id string) error {
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetPackage(ctx, id, true)
		if err != nil {
			return notFound(err, id)
		}
		if p.OperationalState != model.PkgDisabled {
			return fmt.Errorf("%w: the package is %s; disable it before deleting it", lcm.ErrStateConflict, p.OperationalState)
		}
		if err := s.fillUsage(ctx, tx, p); err != nil {
			return err
		}
		if p.UsageState == model.PkgInUse {
			return fmt.Errorf("%w: VNF instances use this package (vnfdId %s)", lcm.ErrStateConflict, p.VnfdID)
		}
		return tx.DeletePackage(ctx, id, p.Revision)
	})
	if err != nil {
		return err
	}
	s.log.Info("vnf package deleted", "vnf_pkg_id", id)
	return nil
}

// Package lcm is the VNF lifecycle management core: it checks each request
// against the instance's state, takes the instance's operation slot and
// queues the op occ in one transaction, and defines the workflow (steps) the
// conductor runs for each operation.
package lcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// VnfdInfo is what an instance copies from its VNFD at creation.
type VnfdInfo struct {
	VnfProvider        string
	VnfProductName     string
	VnfSoftwareVersion string
	VnfdVersion        string
	VnfPkgID           string
	// Enabled is the package's operational state: new instances need an
	// ENABLED package, existing ones keep working when it is disabled.
	Enabled bool
	// VNFD is the parsed descriptor (nil when no VNFD source is wired in).
	VNFD *vnfd.VNFD
	// MgmtDrivers names, per deployment flavour, the management driver the
	// VNFD's Vnflcm interface refers to ("" key: any flavour).
	MgmtDrivers map[string]string
}

// MgmtDriver returns the management driver for a flavour, "" for none.
func (i *VnfdInfo) MgmtDriver(flavourID string) string {
	if d, ok := i.MgmtDrivers[flavourID]; ok {
		return d
	}
	return i.MgmtDrivers[""]
}

// Vnfds looks up onboarded VNFDs. Without one (no package support wired in)
// any vnfdId is accepted with empty product information.
type Vnfds interface {
	// Lookup returns the VNFD's information, or an error wrapping
	// ErrNotFound when no ONBOARDED package has it. Within tx it locks the
	// package against deletion until tx ends.
	Lookup(ctx context.Context, tx store.Tx, vnfdID string) (*VnfdInfo, error)
}

// VimRegistry resolves registered VIMs (package vims). Errors for unknown
// ids wrap ErrNotFound. tx is the transaction to read in (nil: none): a
// read outside the caller's open transaction would need a second pooled
// connection, which deadlocks once every connection is held by a
// transaction waiting the same way.
type VimRegistry interface {
	// Connection returns a registered VIM's full connection info.
	Connection(ctx context.Context, tx store.VimTx, vimID string) (*model.VimConnectionInfo, error)
	// DefaultConnection returns the default VIM's, nil when there is none.
	DefaultConnection(ctx context.Context, tx store.VimTx) (*model.VimConnectionInfo, error)
}

// Waker is told when a job was queued (the conductor).
type Waker interface {
	Notify()
	CancelLocal(opID, mode string)
}

// Config holds the Service's collaborators.
type Config struct {
	Store   store.Store
	Box     Sealer
	Drivers *driver.Registry
	Vnfds   Vnfds   // optional
	Granter Granter // optional
	// BaseURL is the API root for absolute links sent to other servers (the
	// GrantRequest's _links); nil or "" leaves them relative.
	BaseURL func() string
	Log     *slog.Logger
	Now     func() time.Time
	NewID   func() string
	// DefaultVim is used for instances whose requests name no VIM.
	DefaultVim *model.VimConnectionInfo
	// Vims is the VIM registry (optional): vimId references and the
	// registered default VIM, which wins over DefaultVim.
	Vims VimRegistry
}

// Service implements the LCM operations.
type Service struct {
	st      store.Store
	box     Sealer
	drivers *driver.Registry
	vnfds   Vnfds
	granter Granter
	baseURL func() string
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
	defVim  *model.VimConnectionInfo
	vimReg  VimRegistry
	waker   Waker
}

// New makes a Service.
func New(cfg Config) *Service {
	s := &Service{
		st: cfg.Store, box: cfg.Box, drivers: cfg.Drivers, vnfds: cfg.Vnfds,
		granter: cfg.Granter, baseURL: cfg.BaseURL, log: cfg.Log, now: cfg.Now, newID: cfg.NewID,
		defVim: cfg.DefaultVim, vimReg: cfg.Vims,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = func() string { return uuid.NewString() }
	}
	if s.drivers == nil {
		s.drivers = driver.NewRegistry()
	}
	return s
}

// SetWaker connects the conductor (built after the Service, which is its
// Planner).
func (s *Service) SetWaker(w Waker) { s.waker = w }

func (s *Service) nowUTC() time.Time { return s.now().UTC() }

// CreateInstance creates a NOT_INSTANTIATED instance from an onboarded,
// enabled VNFD (any vnfdId when no VNFD source is wired in).
func (s *Service) CreateInstance(ctx context.Context, req *CreateVnfRequest) (*store.Instance, error) {
	inst := &store.Instance{VnfInstance: model.VnfInstance{
		ID:                     s.newID(),
		VnfInstanceName:        req.VnfInstanceName,
		VnfInstanceDescription: req.VnfInstanceDescription,
		VnfdID:                 req.VnfdID,
		InstantiationState:     model.NotInstantiated,
		Metadata:               req.Metadata,
	}}
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		if s.vnfds != nil {
			info, err := s.vnfds.Lookup(ctx, tx, req.VnfdID)
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					return fmt.Errorf("%w: vnfdId %q: no ONBOARDED and ENABLED VNF package has this VNFD", ErrUnprocessable, req.VnfdID)
				}
				return fmt.Errorf("look up vnfd: %w", err)
			}
			if !info.Enabled {
				return fmt.Errorf("%w: the VNF package %s with vnfdId %q is DISABLED", ErrUnprocessable, info.VnfPkgID, req.VnfdID)
			}
			inst.VnfProvider, inst.VnfProductName = info.VnfProvider, info.VnfProductName
			inst.VnfSoftwareVersion, inst.VnfdVersion, inst.VnfPkgID = info.VnfSoftwareVersion, info.VnfdVersion, info.VnfPkgID
		}
		if err := tx.CreateInstance(ctx, inst); err != nil {
			return fmt.Errorf("create instance: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("vnf instance created", "vnf_instance_id", inst.ID, "vnfd_id", inst.VnfdID)
	return inst, nil
}

// GetInstance returns an instance (public view: no secrets).
func (s *Service) GetInstance(ctx context.Context, id string) (*store.Instance, error) {
	inst, err := s.st.GetInstance(ctx, id, false)
	if err != nil {
		return nil, notFound(err, "VNF instance", id)
	}
	return inst, nil
}

// DeleteInstance deletes a NOT_INSTANTIATED instance with no operation in
// progress. ifMatch, when not empty, must equal the instance's ETag.
func (s *Service) DeleteInstance(ctx context.Context, id, ifMatch string) error {
	return s.st.InTx(ctx, func(tx store.Tx) error {
		inst, err := tx.GetInstance(ctx, id, true)
		if err != nil {
			return notFound(err, "VNF instance", id)
		}
		if ifMatch != "" && !ETagMatches(ifMatch, inst.Revision) {
			return fmt.Errorf("%w: If-Match %s does not match the current ETag %s", ErrPrecondition, ifMatch, ETag(inst.Revision))
		}
		if inst.InstantiationState != model.NotInstantiated {
			return fmt.Errorf("%w: VNF instance %s is %s; terminate it before deleting it", ErrStateConflict, id, inst.InstantiationState)
		}
		if active, err := tx.ActiveOpOcc(ctx, id); err == nil {
			return fmt.Errorf("%w: operation occurrence %s (%s) is %s on this VNF instance", ErrStateConflict, active.ID, active.Operation, active.OperationState)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.DeleteInstance(ctx, id, inst.Revision); err != nil {
			return fmt.Errorf("delete instance: %w", err)
		}
		s.log.Info("vnf instance deleted", "vnf_instance_id", id)
		return nil
	})
}

// ETag is the entity tag of a revision.
func ETag(rev int64) string { return fmt.Sprintf(`"%d"`, rev) }

// ETagMatches reports whether an If-Match header value matches rev.
func ETagMatches(ifMatch string, rev int64) bool {
	want := ETag(rev)
	for _, t := range strings.Split(ifMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == want || t == "W/"+want {
			return true
		}
	}
	return false
}

func notFound(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s %s does not exist", ErrNotFound, what, id)
	}
	return err
}

// GetOpOcc returns an op occ (public view).
func (s *Service) GetOpOcc(ctx context.Context, id string) (*store.OpOcc, error) {
	op, err := s.st.GetOpOcc(ctx, id, false)
	if err != nil {
		return nil, notFound(err, "VNF LCM operation occurrence", id)
	}
	return op, nil
}

// vims returns the instance's full vimConnectionInfo (secrets included).
func (s *Service) vims(inst *store.Instance) ([]model.VimConnectionInfo, error) {
	var vims []model.VimConnectionInfo
	if inst.Sealed == nil {
		return inst.VimConnectionInfo, nil
	}
	if err := s.openJSON(inst.Sealed, &vims); err != nil {
		return nil, err
	}
	return vims, nil
}

// setVims stores full vims sealed and their redacted copy in the document.
func (s *Service) setVims(inst *store.Instance, vims []model.VimConnectionInfo) error {
	if len(vims) == 0 {
		inst.VimConnectionInfo, inst.Sealed = nil, nil
		return nil
	}
	sealed, err := s.sealJSON(vims)
	if err != nil {
		return err
	}
	inst.Sealed = sealed
	inst.VimConnectionInfo = redactVims(vims)
	return nil
}

// private is the instance's internal state (store.Instance.Private).
type private struct {
	// VimConnectionID is the VIM the infrastructure driver works on.
	VimConnectionID string `json:"vimConnectionId,omitempty"`
	// The drivers' states are kept sealed at rest: a management driver
	// keeps node credentials in its, an infrastructure driver chart
	// values.
	InfraState  json.RawMessage `json:"-"`
	MgmtState   json.RawMessage `json:"-"`
	InfraSealed []byte          `json:"infraSealed,omitempty"`
	MgmtSealed  []byte          `json:"mgmtSealed,omitempty"`
	// PlainInfraState is how earlier versions stored InfraState; it is
	// read, and sealed on the next write.
	PlainInfraState json.RawMessage `json:"infraState,omitempty"`
}

func (s *Service) readPrivate(raw json.RawMessage) (*private, error) {
	p := &private{}
	if len(raw) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("decode instance private state: %w", err)
	}
	p.InfraState, p.PlainInfraState = p.PlainInfraState, nil
	for _, f := range []struct {
		sealed []byte
		dst    *json.RawMessage
		what   string
	}{{p.InfraSealed, &p.InfraState, "infrastructure"}, {p.MgmtSealed, &p.MgmtState, "management"}} {
		if f.sealed == nil {
			continue
		}
		st, err := s.box.Open(f.sealed)
		if err != nil {
			return nil, fmt.Errorf("open %s driver state: %w", f.what, err)
		}
		*f.dst = st
	}
	return p, nil
}

func (s *Service) writePrivate(p *private) (json.RawMessage, error) {
	seal := func(st json.RawMessage) ([]byte, error) {
		if len(st) == 0 {
			return nil, nil
		}
		return s.box.Seal(st)
	}
	var err error
	p.PlainInfraState = nil
	if p.InfraSealed, err = seal(p.InfraState); err != nil {
		return nil, fmt.Errorf("seal infrastructure driver state: %w", err)
	}
	if p.MgmtSealed, err = seal(p.MgmtState); err != nil {
		return nil, fmt.Errorf("seal management driver state: %w", err)
	}
	return json.Marshal(p)
}

// ListInstances returns a page of instances (public view) in creation order.
func (s *Service) ListInstances(ctx context.Context, opts store.ListOptions) ([]store.Instance, error) {
	return s.st.ListInstances(ctx, opts)
}

// ListOpOccs returns a page of op occs (public view) in creation order.
func (s *Service) ListOpOccs(ctx context.Context, opts store.ListOptions) ([]store.OpOcc, error) {
	return s.st.ListOpOccs(ctx, opts)
}

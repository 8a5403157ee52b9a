// Package driver declares what vnfm asks of infrastructure drivers (one per
// VIM type: OpenStack, Kubernetes, Helm) and management drivers (the Vnflcm
// hooks a VNFD names), and the registry that maps names to drivers.
//
// Drivers keep no state of their own: what they need later they return in
// Result.State, the conductor stores it with the instance and hands it back in
// the next Request.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// ErrNotSupported is returned by a driver for an operation it cannot do.
var ErrNotSupported = errors.New("operation not supported by this driver")

// Request is everything a driver gets for one step. Instance and Vim carry
// secrets in clear: drivers must not log them.
type Request struct {
	Operation model.Operation
	OpOccID   string
	// Instance as it was when the operation started, with full
	// vimConnectionInfo (secrets included).
	Instance *model.VnfInstance
	// Vim is the VIM connection the infrastructure driver works on.
	Vim *model.VimConnectionInfo
	// Vnfd is the instance's VNFD (nil for instances without one, in tests).
	Vnfd *vnfd.VNFD
	// Package is the content of the instance's VNF package (BaseHOT,
	// Scripts, charts...), nil when there is none. It is read on first use.
	Package fs.FS
	// Params is the operation's request body (InstantiateVnfRequest,
	// HealVnfRequest, ...), secrets included.
	Params json.RawMessage
	// State is what this driver returned in Result.State last time.
	State json.RawMessage
	// Info is the instantiatedVnfInfo as changed by the steps before this
	// one in the same operation.
	Info *model.InstantiatedVnfInfo
	// Rollback is set when the call undoes the operation named in Operation.
	Rollback bool
	// Grant is what the NFVO granted; nil when the grant was local.
	Grant *Grant
	Log   *slog.Logger
}

// Grant is what an infrastructure driver uses of the NFVO's grant: the VIM
// assets and zones it chose. Drivers apply what they can and ignore what
// does not apply to their VIM.
type Grant struct {
	ID string `json:"id"`
	// Flavours maps a VDU's virtual compute descriptor (the VDU name) to a
	// VIM flavour; Images a software image descriptor (the VDU or storage
	// name) to a VIM image; Zones a VDU to the zone its new VNFCs go to.
	Flavours map[string]string `json:"flavours,omitempty"`
	Images   map[string]string `json:"images,omitempty"`
	Zones    map[string]string `json:"zones,omitempty"`
	// VimConnections are the VIMs the NFVO assigned (with credentials).
	VimConnections []model.VimConnectionInfo `json:"vimConnections,omitempty"`
}

// Result is what a step changed. Nil fields mean "unchanged".
type Result struct {
	State               json.RawMessage
	InstantiatedVnfInfo *model.InstantiatedVnfInfo
	ResourceChanges     *model.ResourceChanges
	// VimConnectionInfo entries replace those with the same id or are added
	// (a management driver that registers a Kubernetes VIM returns one).
	VimConnectionInfo []model.VimConnectionInfo
	// RemoveVimConnectionIDs are dropped from the instance.
	RemoveVimConnectionIDs []string
}

// Infra drives resources on one kind of VIM.
type Infra interface {
	Instantiate(ctx context.Context, req *Request) (*Result, error)
	Terminate(ctx context.Context, req *Request) (*Result, error)
	Scale(ctx context.Context, req *Request) (*Result, error)
	Heal(ctx context.Context, req *Request) (*Result, error)
}

// Optional capabilities of an Infra driver, found by type assertion.
type (
	ScaleToLeveler interface {
		ScaleToLevel(ctx context.Context, req *Request) (*Result, error)
	}
	ExtConnChanger interface {
		ChangeExtConn(ctx context.Context, req *Request) (*Result, error)
	}
	FlavourChanger interface {
		ChangeFlavour(ctx context.Context, req *Request) (*Result, error)
	}
	Operator interface {
		Operate(ctx context.Context, req *Request) (*Result, error)
	}
	// Rollbacker undoes what the driver did for req.Operation. Without it
	// only INSTANTIATE (by Terminate) can be rolled back.
	Rollbacker interface {
		Rollback(ctx context.Context, req *Request) (*Result, error)
	}
)

// NotSupported can be embedded by an Infra driver that lacks some core
// operations.
type NotSupported struct{}

func (NotSupported) Instantiate(context.Context, *Request) (*Result, error) {
	return nil, fmt.Errorf("instantiate: %w", ErrNotSupported)
}
func (NotSupported) Terminate(context.Context, *Request) (*Result, error) {
	return nil, fmt.Errorf("terminate: %w", ErrNotSupported)
}
func (NotSupported) Scale(context.Context, *Request) (*Result, error) {
	return nil, fmt.Errorf("scale: %w", ErrNotSupported)
}
func (NotSupported) Heal(context.Context, *Request) (*Result, error) {
	return nil, fmt.Errorf("heal: %w", ErrNotSupported)
}

// Hook names a management driver hook, as the VNFD's Vnflcm interface does.
type Hook string

const (
	InstantiateStart   Hook = "instantiate_start"
	InstantiateEnd     Hook = "instantiate_end"
	TerminateStart     Hook = "terminate_start"
	TerminateEnd       Hook = "terminate_end"
	ScaleStart         Hook = "scale_start"
	ScaleEnd           Hook = "scale_end"
	HealStart          Hook = "heal_start"
	HealEnd            Hook = "heal_end"
	ChangeExtConnStart Hook = "change_external_connectivity_start"
	ChangeExtConnEnd   Hook = "change_external_connectivity_end"
)

// Mgmt is a management driver: code run before and after the infrastructure
// step of an operation (cluster installation, node removal, ...). Hooks are
// idempotent and honour ctx cancellation.
type Mgmt interface {
	InstantiateStart(ctx context.Context, req *Request) (*Result, error)
	InstantiateEnd(ctx context.Context, req *Request) (*Result, error)
	TerminateStart(ctx context.Context, req *Request) (*Result, error)
	TerminateEnd(ctx context.Context, req *Request) (*Result, error)
	ScaleStart(ctx context.Context, req *Request) (*Result, error)
	ScaleEnd(ctx context.Context, req *Request) (*Result, error)
	HealStart(ctx context.Context, req *Request) (*Result, error)
	HealEnd(ctx context.Context, req *Request) (*Result, error)
	ChangeExtConnStart(ctx context.Context, req *Request) (*Result, error)
	ChangeExtConnEnd(ctx context.Context, req *Request) (*Result, error)
}

// MgmtDefaults can be embedded by a management driver; its hooks do nothing.
type MgmtDefaults struct{}

func (MgmtDefaults) InstantiateStart(context.Context, *Request) (*Result, error)   { return nil, nil }
func (MgmtDefaults) InstantiateEnd(context.Context, *Request) (*Result, error)     { return nil, nil }
func (MgmtDefaults) TerminateStart(context.Context, *Request) (*Result, error)     { return nil, nil }
func (MgmtDefaults) TerminateEnd(context.Context, *Request) (*Result, error)       { return nil, nil }
func (MgmtDefaults) ScaleStart(context.Context, *Request) (*Result, error)         { return nil, nil }
func (MgmtDefaults) ScaleEnd(context.Context, *Request) (*Result, error)           { return nil, nil }
func (MgmtDefaults) HealStart(context.Context, *Request) (*Result, error)          { return nil, nil }
func (MgmtDefaults) HealEnd(context.Context, *Request) (*Result, error)            { return nil, nil }
func (MgmtDefaults) ChangeExtConnStart(context.Context, *Request) (*Result, error) { return nil, nil }
func (MgmtDefaults) ChangeExtConnEnd(context.Context, *Request) (*Result, error)   { return nil, nil }

// CallHook invokes the hook h of m.
func CallHook(ctx context.Context, m Mgmt, h Hook, req *Request) (*Result, error) {
	switch h {
	case InstantiateStart:
		return m.InstantiateStart(ctx, req)
	case InstantiateEnd:
		return m.InstantiateEnd(ctx, req)
	case TerminateStart:
		return m.TerminateStart(ctx, req)
	case TerminateEnd:
		return m.TerminateEnd(ctx, req)
	case ScaleStart:
		return m.ScaleStart(ctx, req)
	case ScaleEnd:
		return m.ScaleEnd(ctx, req)
	case HealStart:
		return m.HealStart(ctx, req)
	case HealEnd:
		return m.HealEnd(ctx, req)
	case ChangeExtConnStart:
		return m.ChangeExtConnStart(ctx, req)
	case ChangeExtConnEnd:
		return m.ChangeExtConnEnd(ctx, req)
	}
	return nil, fmt.Errorf("unknown hook %q", h)
}

// TransientError marks a failure worth retrying within the step (a timeout,
// a 503, a refused connection). Everything else ends the step.
type TransientError struct {
	Err error
	// After, when set, is the delay the peer asked for.
	After time.Duration
}

func (e *TransientError) Error() string { return "transient: " + e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a TransientError.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err}
}

// ProblemError carries the ProblemDetails status and title a driver wants
// the failed op occ to show (for example 422 for a request the VIM refused).
type ProblemError struct {
	Status int
	Title  string
	Err    error
}

func (e *ProblemError) Error() string { return e.Err.Error() }
func (e *ProblemError) Unwrap() error { return e.Err }

// HookRollbacker is an optional Mgmt capability: undo what hook h did when
// the operation is rolled back. Without it, hooks are not undone.
type HookRollbacker interface {
	RollbackHook(ctx context.Context, h Hook, req *Request) (*Result, error)
}

package lcm

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/vnfm-project/vnfm/internal/conductor"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// flow is a workflow's accumulated state, kept sealed in the conductor's
// journal (it can hold VIM credentials a management driver registered).
type flow struct {
	Info       *model.InstantiatedVnfInfo `json:"info,omitempty"`
	InfraState json.RawMessage            `json:"infraState,omitempty"`
	MgmtState  json.RawMessage            `json:"mgmtState,omitempty"`
	Changes    model.ResourceChanges      `json:"changes"`
	VimUpserts []model.VimConnectionInfo  `json:"vimUpserts,omitempty"`
	VimRemove  []string                   `json:"vimRemove,omitempty"`
	// Grant is the NFVO's grant, kept so a retry does not ask again.
	Grant *driver.Grant `json:"grant,omitempty"`
	// GrantVim is the VIM the grant assigned to an instantiation that
	// named none (full connection info).
	GrantVim *model.VimConnectionInfo `json:"grantVim,omitempty"`
}

type sealedData struct {
	Sealed []byte `json:"sealed"`
}

func (s *Service) loadFlow(x *conductor.Exec, inst *store.Instance, p *private) (*flow, error) {
	f := &flow{}
	if len(x.Data) == 0 {
		f.Info = inst.InstantiatedVnfInfo
		f.InfraState, f.MgmtState = p.InfraState, p.MgmtState
		return f, nil
	}
	var sd sealedData
	if err := json.Unmarshal(x.Data, &sd); err != nil {
		return nil, fmt.Errorf("decode workflow data: %w", err)
	}
	if err := s.openJSON(sd.Sealed, f); err != nil {
		return nil, err
	}
	return f, nil
}

func (s *Service) saveFlow(x *conductor.Exec, f *flow) error {
	sealed, err := s.sealJSON(f)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(sealedData{Sealed: sealed})
	if err != nil {
		return err
	}
	x.Data = raw
	return nil
}

// apply folds a driver result into the flow.
func (f *flow) apply(r *driver.Result, mgmt bool) {
	if r == nil {
		return
	}
	if r.State != nil {
		if mgmt {
			f.MgmtState = r.State
		} else {
			f.InfraState = r.State
		}
	}
	if r.InstantiatedVnfInfo != nil {
		f.Info = r.InstantiatedVnfInfo
	}
	if rc := r.ResourceChanges; rc != nil {
		f.Changes.AffectedVnfcs = append(f.Changes.AffectedVnfcs, rc.AffectedVnfcs...)
		f.Changes.AffectedVirtualLinks = append(f.Changes.AffectedVirtualLinks, rc.AffectedVirtualLinks...)
		f.Changes.AffectedVirtualStorages = append(f.Changes.AffectedVirtualStorages, rc.AffectedVirtualStorages...)
	}
	f.VimUpserts = mergeVims(f.VimUpserts, r.VimConnectionInfo, nil)
	f.VimRemove = append(f.VimRemove, r.RemoveVimConnectionIDs...)
}

// planCtx is what every step of one op occ shares.
type planCtx struct {
	s      *Service
	inst   *store.Instance
	priv   *private
	vims   []model.VimConnectionInfo // full, with the request's own merged in
	infra  driver.Infra
	vim    *model.VimConnectionInfo
	mgmt   driver.Mgmt
	params json.RawMessage
	opName model.Operation
	vnfd   *vnfd.VNFD
	pkg    fs.FS
	// noVim: neither the instance nor the request named a VIM, so the
	// default was chosen and a grant may choose another.
	noVim bool
}

// vimOf is the VIM the infrastructure driver works on.
func (pc *planCtx) vimOf(f *flow) *model.VimConnectionInfo {
	if f.GrantVim != nil {
		return f.GrantVim
	}
	return pc.vim
}

func (pc *planCtx) request(x *conductor.Exec, f *flow, mgmt bool) *driver.Request {
	inst := pc.inst.VnfInstance
	inst.VimConnectionInfo = mergeVims(pc.vims, f.VimUpserts, f.VimRemove)
	inst.InstantiatedVnfInfo = f.Info
	state := f.InfraState
	if mgmt {
		state = f.MgmtState
	}
	return &driver.Request{
		Operation: pc.opName,
		OpOccID:   x.Op.ID,
		Instance:  &inst,
		Vim:       pc.vimOf(f),
		Vnfd:      pc.vnfd,
		Package:   pc.pkg,
		Params:    pc.params,
		State:     state,
		Info:      f.Info,
		Grant:     f.Grant,
		Log:       x.Log,
	}
}

// call runs one driver call against the flow and persists the flow.
func (pc *planCtx) call(mgmt bool, fn func(ctx context.Context, req *driver.Request) (*driver.Result, error)) func(context.Context, *conductor.Exec) error {
	return pc.callRollback(mgmt, false, fn)
}

func (pc *planCtx) callRollback(mgmt, rollback bool, fn func(ctx context.Context, req *driver.Request) (*driver.Result, error)) func(context.Context, *conductor.Exec) error {
	return func(ctx context.Context, x *conductor.Exec) error {
		f, err := pc.s.loadFlow(x, pc.inst, pc.priv)
		if err != nil {
			return err
		}
		req := pc.request(x, f, mgmt)
		req.Rollback = rollback
		res, err := fn(ctx, req)
		if err != nil {
			return err
		}
		f.apply(res, mgmt)
		return pc.s.saveFlow(x, f)
	}
}

func (pc *planCtx) hook(h driver.Hook) conductor.Step {
	st := conductor.Step{
		Name: "mgmt_" + string(h),
		Do: pc.call(true, func(ctx context.Context, req *driver.Request) (*driver.Result, error) {
			return driver.CallHook(ctx, pc.mgmt, h, req)
		}),
	}
	if rb, ok := pc.mgmt.(driver.HookRollbacker); ok {
		st.Undo = pc.callRollback(true, true, func(ctx context.Context, req *driver.Request) (*driver.Result, error) {
			return rb.RollbackHook(ctx, h, req)
		})
	}
	return st
}

// Plan builds the workflow of an op occ. It implements conductor.Planner.
func (s *Service) Plan(ctx context.Context, op *store.OpOcc) (*conductor.Plan, error) {
	inst, err := s.st.GetInstance(ctx, op.VnfInstanceID, false)
	if err != nil {
		return nil, notFound(err, "VNF instance", op.VnfInstanceID)
	}
	priv, err := s.readPrivate(inst.Private)
	if err != nil {
		return nil, err
	}
	vims, err := s.vims(inst)
	if err != nil {
		return nil, err
	}
	params, err := s.box.Open(op.SealedParams)
	if err != nil {
		return nil, fmt.Errorf("open operation parameters: %w", err)
	}
	pc := &planCtx{s: s, inst: inst, priv: priv, params: params, opName: op.Operation, mgmt: driver.MgmtDefaults{}}

	if op.Operation == model.OpModifyInfo {
		var req VnfInfoModificationRequest
		if err := json.Unmarshal(params, &req); err != nil {
			return nil, fmt.Errorf("decode parameters: %w", err)
		}
		return &conductor.Plan{Complete: func(ctx context.Context, tx store.Tx, x *conductor.Exec) error {
			return s.completeModify(ctx, tx, x, &req)
		}}, nil
	}

	// The request's own vimConnectionInfo joins the instance's.
	var withVims struct {
		VimConnectionInfo []model.VimConnectionInfo `json:"vimConnectionInfo"`
	}
	_ = json.Unmarshal(params, &withVims)
	pc.vims = mergeVims(vims, withVims.VimConnectionInfo, nil)
	pc.noVim = len(pc.vims) == 0
	if pc.infra, pc.vim, err = s.infraFor(ctx, s.st, inst, pc.vims); err != nil {
		return nil, err
	}
	if s.vnfds != nil {
		info, err := s.vnfds.Lookup(ctx, s.st, inst.VnfdID)
		if err != nil {
			return nil, fmt.Errorf("look up VNFD %s: %w", inst.VnfdID, err)
		}
		pc.vnfd = info.VNFD
		if pf, ok := s.vnfds.(PackageFiles); ok && info.VnfPkgID != "" {
			pc.pkg = &lazyFS{load: func() (fs.FS, error) { return pf.PackageFS(context.WithoutCancel(ctx), info.VnfPkgID) }}
		}
		if name := info.MgmtDriver(flavourOf(inst, params)); name != "" {
			if pc.mgmt, err = s.drivers.Mgmt(name); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUnprocessable, err)
			}
		}
	}

	steps, err := pc.steps()
	if err != nil {
		return nil, err
	}
	return &conductor.Plan{
		Steps: steps,
		Complete: func(ctx context.Context, tx store.Tx, x *conductor.Exec) error {
			return pc.complete(ctx, tx, x)
		},
		RolledBack: func(ctx context.Context, tx store.Tx, x *conductor.Exec) error {
			return pc.rolledBack(ctx, tx, x)
		},
	}, nil
}

func (pc *planCtx) steps() ([]conductor.Step, error) {
	d := pc.infra
	infra := func(name string, fn func(context.Context, *driver.Request) (*driver.Result, error)) conductor.Step {
		return conductor.Step{Name: "infra_" + name, Do: pc.call(false, fn)}
	}
	// undoBy lets a driver's Rollbacker undo a step, else fallback.
	undoBy := func(st conductor.Step, fallback func(context.Context, *driver.Request) (*driver.Result, error)) conductor.Step {
		if rb, ok := d.(driver.Rollbacker); ok {
			// A driver with its own rollback cleans up after a failed
			// step too (the stack a failed instantiate left behind).
			st.Undo = pc.callRollback(false, true, rb.Rollback)
			st.UndoFailed = true
		} else if fallback != nil {
			st.Undo = pc.callRollback(false, true, fallback)
		} else {
			st.Irreversible = true
		}
		return st
	}
	switch pc.opName {
	case model.OpInstantiate:
		return []conductor.Step{
			pc.grant(),
			pc.hook(driver.InstantiateStart),
			undoBy(infra("instantiate", d.Instantiate), func(ctx context.Context, req *driver.Request) (*driver.Result, error) {
				req.Params = json.RawMessage(`{"terminationType":"FORCEFUL"}`)
				return d.Terminate(ctx, req)
			}),
			pc.hook(driver.InstantiateEnd),
		}, nil
	case model.OpTerminate:
		t := infra("terminate", d.Terminate)
		t.Irreversible = true
		return []conductor.Step{pc.grant(), pc.hook(driver.TerminateStart), t, pc.hook(driver.TerminateEnd)}, nil
	case model.OpScale:
		var req ScaleVnfRequest
		if err := json.Unmarshal(pc.params, &req); err != nil {
			return nil, fmt.Errorf("decode parameters: %w", err)
		}
		var fallback func(context.Context, *driver.Request) (*driver.Result, error)
		if req.Type == "SCALE_OUT" {
			fallback = func(ctx context.Context, r *driver.Request) (*driver.Result, error) {
				back := req
				back.Type = "SCALE_IN"
				raw, err := json.Marshal(back)
				if err != nil {
					return nil, err
				}
				r.Params = raw
				return d.Scale(ctx, r)
			}
		}
		return []conductor.Step{pc.grant(), pc.hook(driver.ScaleStart), undoBy(infra("scale", d.Scale), fallback), pc.hook(driver.ScaleEnd)}, nil
	case model.OpScaleToLevel:
		sl, ok := d.(driver.ScaleToLeveler)
		if !ok {
			return nil, fmt.Errorf("%w: the %s driver does not support %s", ErrUnprocessable, pc.vim.VimType, pc.opName)
		}
		return []conductor.Step{pc.grant(), pc.hook(driver.ScaleStart), undoBy(infra("scale_to_level", sl.ScaleToLevel), nil), pc.hook(driver.ScaleEnd)}, nil
	case model.OpHeal:
		h := infra("heal", d.Heal)
		h.Irreversible = true
		return []conductor.Step{pc.grant(), pc.hook(driver.HealStart), h, pc.hook(driver.HealEnd)}, nil
	case model.OpChangeExtConn:
		c, ok := d.(driver.ExtConnChanger)
		if !ok {
			return nil, fmt.Errorf("%w: the %s driver does not support %s", ErrUnprocessable, pc.vim.VimType, pc.opName)
		}
		return []conductor.Step{pc.grant(), pc.hook(driver.ChangeExtConnStart), undoBy(infra("change_ext_conn", c.ChangeExtConn), nil), pc.hook(driver.ChangeExtConnEnd)}, nil
	case model.OpChangeFlavour:
		c, ok := d.(driver.FlavourChanger)
		if !ok {
			return nil, fmt.Errorf("%w: the %s driver does not support %s", ErrUnprocessable, pc.vim.VimType, pc.opName)
		}
		return []conductor.Step{pc.grant(), undoBy(infra("change_flavour", c.ChangeFlavour), nil)}, nil
	case model.OpOperate:
		o, ok := d.(driver.Operator)
		if !ok {
			return nil, fmt.Errorf("%w: the %s driver does not support %s", ErrUnprocessable, pc.vim.VimType, pc.opName)
		}
		return []conductor.Step{undoBy(infra("operate", o.Operate), nil)}, nil
	}
	return nil, fmt.Errorf("%w: unknown operation %s", ErrUnprocessable, pc.opName)
}

// flavourOf is the deployment flavour an operation works on: the one being
// instantiated, else the instance's.
func flavourOf(inst *store.Instance, params json.RawMessage) string {
	var req struct {
		FlavourID string `json:"flavourId"`
	}
	if json.Unmarshal(params, &req) == nil && req.FlavourID != "" {
		return req.FlavourID
	}
	if inst.InstantiatedVnfInfo != nil {
		return inst.InstantiatedVnfInfo.FlavourID
	}
	return ""
}

package lcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/vnfm-project/vnfm/internal/conductor"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// startOp takes the instance's operation slot and queues op in one
// transaction. check validates the request against the locked instance.
func (s *Service) startOp(ctx context.Context, instID string, operation model.Operation, params any, check func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error) (*store.OpOcc, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("marshal params: %w", err)
	}
	public, err := redactJSON(raw)
	if err != nil {
		return nil, err
	}
	sealed, err := s.box.Seal(raw)
	if err != nil {
		return nil, fmt.Errorf("seal params: %w", err)
	}
	now := s.nowUTC()
	op := &store.OpOcc{
		VnfLcmOpOcc: model.VnfLcmOpOcc{
			ID:               s.newID(),
			OperationState:   model.Starting,
			StateEnteredTime: now,
			StartTime:        now,
			VnfInstanceID:    instID,
			Operation:        operation,
			OperationParams:  public,
		},
		SealedParams: sealed,
		Job:          store.JobRun,
	}
	err = s.st.InTx(ctx, func(tx store.Tx) error {
		inst, err := tx.GetInstance(ctx, instID, true)
		if err != nil {
			return notFound(err, "VNF instance", instID)
		}
		want := model.Instantiated
		if operation == model.OpInstantiate {
			want = model.NotInstantiated
		}
		if operation != model.OpModifyInfo && inst.InstantiationState != want {
			return fmt.Errorf("%w: %s needs the VNF instance to be %s, it is %s", ErrStateConflict, operation, want, inst.InstantiationState)
		}
		if active, err := tx.ActiveOpOcc(ctx, instID); err == nil {
			return busy(active)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		vims, err := s.vims(inst)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(tx, inst, vims); err != nil {
				return err
			}
		}
		if err := tx.CreateOpOcc(ctx, op); err != nil {
			if errors.Is(err, store.ErrOpInProgress) {
				return fmt.Errorf("%w: %w", ErrStateConflict, err)
			}
			return fmt.Errorf("create op occ: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("op occ queued", "op_occ_id", op.ID, "vnf_instance_id", instID, "operation", string(operation))
	if s.waker != nil {
		s.waker.Notify()
	}
	return op, nil
}

func busy(active *store.OpOcc) error {
	return fmt.Errorf("%w: operation occurrence %s (%s) is %s on this VNF instance; wait for it, or retry, roll back or fail it if FAILED_TEMP", ErrStateConflict, active.ID, active.Operation, active.OperationState)
}

// infraFor chooses the VIM and infrastructure driver for an instance: the one
// recorded at instantiation, else the first given VIM with a driver, else the
// default VIM. A VIM given only by vimId is resolved through the registry;
// the returned connection info then has full credentials.
func (s *Service) infraFor(ctx context.Context, tx store.VimTx, inst *store.Instance, vims []model.VimConnectionInfo) (driver.Infra, *model.VimConnectionInfo, error) {
	p, err := s.readPrivate(inst.Private)
	if err != nil {
		return nil, nil, err
	}
	if p.VimConnectionID != "" {
		for i := range vims {
			if vims[i].ID == p.VimConnectionID {
				return s.infraOn(ctx, tx, &vims[i])
			}
		}
		if s.defVim != nil && s.defVim.ID == p.VimConnectionID {
			return s.infraOn(ctx, tx, s.defVim)
		}
		return nil, nil, fmt.Errorf("%w: the VIM connection %q this VNF instance was instantiated on is no longer in its vimConnectionInfo", ErrUnprocessable, p.VimConnectionID)
	}
	var tried []string
	for i := range vims {
		if _, err := s.drivers.Infra(vims[i].VimType); err == nil {
			return s.infraOn(ctx, tx, &vims[i])
		}
		tried = append(tried, vims[i].VimType)
	}
	if len(tried) > 0 {
		return nil, nil, fmt.Errorf("%w: no infrastructure driver for vimType %q (supported: %v)", ErrUnprocessable, tried, s.drivers.InfraTypes())
	}
	if s.vimReg != nil {
		def, err := s.vimReg.DefaultConnection(ctx, tx)
		if err != nil {
			return nil, nil, fmt.Errorf("default VIM: %w", err)
		}
		if def != nil {
			// The instance records a reference, not the credentials.
			return s.infraOn(ctx, tx, &model.VimConnectionInfo{ID: def.ID, VimID: def.VimID, VimType: def.VimType})
		}
	}
	if s.defVim == nil {
		return nil, nil, fmt.Errorf("%w: the request names no VIM (vimConnectionInfo) and no default VIM is registered", ErrUnprocessable)
	}
	return s.infraOn(ctx, tx, s.defVim)
}

// infraOn returns the driver for one VIM connection and the connection with
// a registered VIM's details filled in.
func (s *Service) infraOn(ctx context.Context, tx store.VimTx, vim *model.VimConnectionInfo) (driver.Infra, *model.VimConnectionInfo, error) {
	v := *vim
	if v.VimID != "" && len(v.AccessInfo) == 0 && s.vimReg != nil {
		reg, err := s.vimReg.Connection(ctx, tx, v.VimID)
		if errors.Is(err, ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: vimConnectionInfo %q names vimId %s, which is not a registered VIM", ErrUnprocessable, v.ID, v.VimID)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("resolve VIM %s: %w", v.VimID, err)
		}
		if v.VimType == "" {
			v.VimType = reg.VimType
		}
		v.InterfaceInfo, v.AccessInfo = reg.InterfaceInfo, reg.AccessInfo
		if len(v.Extra) == 0 {
			v.Extra = reg.Extra
		}
	}
	d, err := s.drivers.Infra(v.VimType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnprocessable, err)
	}
	return d, &v, nil
}

// supports reports whether d can run operation op.
func supports(d driver.Infra, op model.Operation) bool {
	switch op {
	case model.OpScaleToLevel:
		_, ok := d.(driver.ScaleToLeveler)
		return ok
	case model.OpChangeExtConn:
		_, ok := d.(driver.ExtConnChanger)
		return ok
	case model.OpChangeFlavour:
		_, ok := d.(driver.FlavourChanger)
		return ok
	case model.OpOperate:
		_, ok := d.(driver.Operator)
		return ok
	}
	return true
}

func (s *Service) checkDriver(ctx context.Context, op model.Operation, extra []model.VimConnectionInfo) func(store.Tx, *store.Instance, []model.VimConnectionInfo) error {
	return func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error {
		d, vim, err := s.infraFor(ctx, tx, inst, mergeVims(vims, extra, nil))
		if err != nil {
			return err
		}
		if !supports(d, op) {
			return fmt.Errorf("%w: the %s driver does not support %s", ErrUnprocessable, vim.VimType, op)
		}
		return nil
	}
}

// Instantiate queues INSTANTIATE.
func (s *Service) Instantiate(ctx context.Context, id string, req *InstantiateVnfRequest) (*store.OpOcc, error) {
	for i, v := range req.VimConnectionInfo {
		if v.ID == "" || v.VimType == "" {
			return nil, fmt.Errorf("%w: vimConnectionInfo[%d] needs id and vimType", ErrBadRequest, i)
		}
	}
	return s.startOp(ctx, id, model.OpInstantiate, req, s.checkDriver(ctx, model.OpInstantiate, req.VimConnectionInfo))
}

// Terminate queues TERMINATE.
func (s *Service) Terminate(ctx context.Context, id string, req *TerminateVnfRequest) (*store.OpOcc, error) {
	if req.TerminationType != "FORCEFUL" && req.TerminationType != "GRACEFUL" {
		return nil, fmt.Errorf("%w: terminationType must be FORCEFUL or GRACEFUL", ErrBadRequest)
	}
	if req.GracefulTerminationTimeout != nil && *req.GracefulTerminationTimeout < 0 {
		return nil, fmt.Errorf("%w: gracefulTerminationTimeout must not be negative", ErrBadRequest)
	}
	return s.startOp(ctx, id, model.OpTerminate, req, s.checkDriver(ctx, model.OpTerminate, nil))
}

// Scale queues SCALE.
func (s *Service) Scale(ctx context.Context, id string, req *ScaleVnfRequest) (*store.OpOcc, error) {
	if req.Type != "SCALE_OUT" && req.Type != "SCALE_IN" {
		return nil, fmt.Errorf("%w: type must be SCALE_OUT or SCALE_IN", ErrBadRequest)
	}
	if req.Steps() < 1 {
		return nil, fmt.Errorf("%w: numberOfSteps must be at least 1", ErrBadRequest)
	}
	check := s.checkDriver(ctx, model.OpScale, nil)
	return s.startOp(ctx, id, model.OpScale, req, func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error {
		if err := check(tx, inst, vims); err != nil {
			return err
		}
		info := inst.InstantiatedVnfInfo
		if info == nil || len(info.ScaleStatus) == 0 {
			// Without a known aspect list the driver validates the aspect.
			if req.Type == "SCALE_IN" {
				return fmt.Errorf("%w: aspect %q is at scale level 0 and cannot be scaled in", ErrUnprocessable, req.AspectID)
			}
			return nil
		}
		for _, sc := range info.ScaleStatus {
			if sc.AspectID != req.AspectID {
				continue
			}
			if req.Type == "SCALE_IN" && sc.ScaleLevel-req.Steps() < 0 {
				return fmt.Errorf("%w: aspect %q is at scale level %d; scaling in by %d step(s) would go below 0", ErrUnprocessable, req.AspectID, sc.ScaleLevel, req.Steps())
			}
			if req.Type == "SCALE_OUT" {
				return s.checkMaxLevel(ctx, tx, inst, req.AspectID, sc.ScaleLevel+req.Steps())
			}
			return nil
		}
		known := make([]string, 0, len(info.ScaleStatus))
		for _, sc := range info.ScaleStatus {
			known = append(known, sc.AspectID)
		}
		return fmt.Errorf("%w: aspectId %q is not a scaling aspect of this VNF (known: %v)", ErrUnprocessable, req.AspectID, known)
	})
}

// checkMaxLevel refuses a scale beyond the aspect's max_scale_level in the
// VNFD, before anything is queued.
func (s *Service) checkMaxLevel(ctx context.Context, tx store.Tx, inst *store.Instance, aspect string, level int) error {
	if s.vnfds == nil || inst.InstantiatedVnfInfo == nil {
		return nil
	}
	info, err := s.vnfds.Lookup(ctx, tx, inst.VnfdID)
	if err != nil || info.VNFD == nil {
		return nil // the driver checks again with what it has
	}
	f, ok := info.VNFD.Flavour(inst.InstantiatedVnfInfo.FlavourID)
	if !ok {
		return nil
	}
	if _, ok := f.Aspect(aspect); !ok {
		return nil
	}
	if max := f.MaxScaleLevel(aspect); level > max {
		return fmt.Errorf("%w: aspect %q would reach scale level %d, beyond its max_scale_level %d", ErrUnprocessable, aspect, level, max)
	}
	return nil
}

// ScaleToLevel queues SCALE_TO_LEVEL.
func (s *Service) ScaleToLevel(ctx context.Context, id string, req *ScaleVnfToLevelRequest) (*store.OpOcc, error) {
	if (req.InstantiationLevelID == "") == (len(req.ScaleInfo) == 0) {
		return nil, fmt.Errorf("%w: give exactly one of instantiationLevelId and scaleInfo", ErrBadRequest)
	}
	for _, si := range req.ScaleInfo {
		if si.ScaleLevel < 0 {
			return nil, fmt.Errorf("%w: scaleInfo: scaleLevel of aspect %q must not be negative", ErrBadRequest, si.AspectID)
		}
	}
	return s.startOp(ctx, id, model.OpScaleToLevel, req, s.checkDriver(ctx, model.OpScaleToLevel, nil))
}

// Heal queues HEAL (SOL003 whole-VNF or SOL002 per-VNFC).
func (s *Service) Heal(ctx context.Context, id string, req *HealVnfRequest) (*store.OpOcc, error) {
	check := s.checkDriver(ctx, model.OpHeal, nil)
	return s.startOp(ctx, id, model.OpHeal, req, func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error {
		if err := check(tx, inst, vims); err != nil {
			return err
		}
		var missing []string
		for _, vnfc := range req.VnfcInstanceID {
			if !hasVnfc(inst.InstantiatedVnfInfo, vnfc) {
				missing = append(missing, vnfc)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%w: vnfcInstanceId %v: no such VNFC in this VNF instance", ErrUnprocessable, missing)
		}
		return nil
	})
}

func hasVnfc(info *model.InstantiatedVnfInfo, id string) bool {
	if info == nil {
		return false
	}
	return slices.ContainsFunc(info.VnfcResourceInfo, func(v model.VnfcResourceInfo) bool { return v.ID == id })
}

// ChangeExtConn queues CHANGE_EXT_CONN.
func (s *Service) ChangeExtConn(ctx context.Context, id string, req *ChangeExtVnfConnectivityRequest) (*store.OpOcc, error) {
	return s.startOp(ctx, id, model.OpChangeExtConn, req, s.checkDriver(ctx, model.OpChangeExtConn, req.VimConnectionInfo))
}

// ChangeFlavour queues CHANGE_FLAVOUR.
func (s *Service) ChangeFlavour(ctx context.Context, id string, req *ChangeVnfFlavourRequest) (*store.OpOcc, error) {
	check := s.checkDriver(ctx, model.OpChangeFlavour, req.VimConnectionInfo)
	return s.startOp(ctx, id, model.OpChangeFlavour, req, func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error {
		if inst.InstantiatedVnfInfo != nil && inst.InstantiatedVnfInfo.FlavourID == req.NewFlavourID {
			return fmt.Errorf("%w: the VNF instance already uses flavour %q", ErrStateConflict, req.NewFlavourID)
		}
		return check(tx, inst, vims)
	})
}

// Operate queues OPERATE.
func (s *Service) Operate(ctx context.Context, id string, req *OperateVnfRequest) (*store.OpOcc, error) {
	if req.ChangeStateTo != model.VnfStarted && req.ChangeStateTo != model.VnfStopped {
		return nil, fmt.Errorf("%w: changeStateTo must be STARTED or STOPPED", ErrBadRequest)
	}
	check := s.checkDriver(ctx, model.OpOperate, nil)
	return s.startOp(ctx, id, model.OpOperate, req, func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error {
		if inst.InstantiatedVnfInfo != nil && inst.InstantiatedVnfInfo.VnfState == req.ChangeStateTo {
			return fmt.Errorf("%w: the VNF instance is already %s", ErrStateConflict, req.ChangeStateTo)
		}
		return check(tx, inst, vims)
	})
}

// Modify queues MODIFY_INFO. ifMatch, when not empty, must match the ETag.
func (s *Service) Modify(ctx context.Context, id string, req *VnfInfoModificationRequest, ifMatch string) (*store.OpOcc, error) {
	if req.VnfdID != "" && s.vnfds != nil {
		info, err := s.vnfds.Lookup(ctx, s.st, req.VnfdID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("%w: vnfdId %q: no ONBOARDED VNF package has this VNFD", ErrUnprocessable, req.VnfdID)
			}
			return nil, err
		}
		if !info.Enabled {
			return nil, fmt.Errorf("%w: the VNF package %s with vnfdId %q is DISABLED", ErrUnprocessable, info.VnfPkgID, req.VnfdID)
		}
	}
	return s.startOp(ctx, id, model.OpModifyInfo, req, func(tx store.Tx, inst *store.Instance, vims []model.VimConnectionInfo) error {
		if ifMatch != "" && !ETagMatches(ifMatch, inst.Revision) {
			return fmt.Errorf("%w: If-Match %s does not match the current ETag %s", ErrPrecondition, ifMatch, ETag(inst.Revision))
		}
		for i, v := range req.VimConnectionInfo {
			if v.ID == "" {
				return fmt.Errorf("%w: vimConnectionInfo[%d] needs an id", ErrBadRequest, i)
			}
			if v.VimType == "" && !slices.ContainsFunc(vims, func(o model.VimConnectionInfo) bool { return o.ID == v.ID }) {
				return fmt.Errorf("%w: vimConnectionInfo[%d] (%s) is new and needs a vimType", ErrBadRequest, i, v.ID)
			}
		}
		return nil
	})
}

// Retry resumes a FAILED_TEMP op occ after its last finished step.
func (s *Service) Retry(ctx context.Context, opID string) (*store.OpOcc, error) {
	return s.resolve(ctx, opID, "retry", func(op *store.OpOcc) error {
		op.OperationState = model.Processing
		op.Job = store.JobRun
		return nil
	})
}

// Rollback undoes a FAILED_TEMP op occ's finished steps in reverse.
func (s *Service) Rollback(ctx context.Context, opID string) (*store.OpOcc, error) {
	return s.resolve(ctx, opID, "rollback", func(op *store.OpOcc) error {
		plan, err := s.Plan(ctx, op)
		if err != nil {
			return err
		}
		done, err := conductor.DoneSteps(op)
		if err != nil {
			return err
		}
		for _, st := range plan.Steps {
			if slices.Contains(done, st.Name) && st.Irreversible {
				return fmt.Errorf("%w: %s cannot be rolled back once step %q has run; retry or fail it instead", ErrStateConflict, op.Operation, st.Name)
			}
		}
		op.OperationState = model.RollingBack
		op.Job = store.JobRollback
		return nil
	})
}

// Fail marks a FAILED_TEMP op occ FAILED (final) and frees the instance.
func (s *Service) Fail(ctx context.Context, opID string) (*store.OpOcc, error) {
	return s.resolve(ctx, opID, "fail", func(op *store.OpOcc) error {
		op.OperationState = model.Failed
		op.Job = store.JobNone
		return nil
	})
}

func (s *Service) resolve(ctx context.Context, opID, action string, apply func(op *store.OpOcc) error) (*store.OpOcc, error) {
	var out *store.OpOcc
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		op, err := tx.GetOpOcc(ctx, opID, true)
		if err != nil {
			return notFound(err, "VNF LCM operation occurrence", opID)
		}
		if op.OperationState != model.FailedTemp {
			return fmt.Errorf("%w: %s is only possible in FAILED_TEMP; the operation occurrence is %s", ErrStateConflict, action, op.OperationState)
		}
		if err := apply(op); err != nil {
			return err
		}
		op.StateEnteredTime = s.nowUTC()
		if err := tx.UpdateOpOcc(ctx, op); err != nil {
			return fmt.Errorf("update op occ: %w", err)
		}
		out = op
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("op occ "+action, "op_occ_id", opID, "vnf_instance_id", out.VnfInstanceID)
	if out.Job != store.JobNone && s.waker != nil {
		s.waker.Notify()
	}
	return out, nil
}

// Cancel stops an op occ that is STARTING, PROCESSING or ROLLING_BACK. A
// STARTING one has done nothing and goes straight to ROLLED_BACK; a running
// one ends in FAILED_TEMP: FORCEFUL interrupts the current step, GRACEFUL
// lets it finish.
func (s *Service) Cancel(ctx context.Context, opID string, req *CancelMode) error {
	mode := req.CancelMode
	if mode == "" {
		mode = "GRACEFUL"
	}
	if mode != "GRACEFUL" && mode != "FORCEFUL" {
		return fmt.Errorf("%w: cancelMode must be GRACEFUL or FORCEFUL", ErrBadRequest)
	}
	var running bool
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		op, err := tx.GetOpOcc(ctx, opID, true)
		if err != nil {
			return notFound(err, "VNF LCM operation occurrence", opID)
		}
		switch op.OperationState {
		case model.Starting:
			if op.Owner == "" {
				op.OperationState = model.RolledBack
				op.StateEnteredTime = s.nowUTC()
				op.Job = store.JobNone
				break
			}
			fallthrough
		case model.Processing, model.RollingBack:
			if op.IsCancelPending {
				return fmt.Errorf("%w: a cancel is already pending for this operation occurrence", ErrStateConflict)
			}
			op.IsCancelPending = true
			op.CancelMode = mode
			running = true
		default:
			return fmt.Errorf("%w: cancel is only possible in STARTING, PROCESSING or ROLLING_BACK; the operation occurrence is %s", ErrStateConflict, op.OperationState)
		}
		return tx.UpdateOpOcc(ctx, op)
	})
	if err != nil {
		return err
	}
	s.log.Info("op occ cancel requested", "op_occ_id", opID, "mode", mode)
	if running && s.waker != nil {
		s.waker.CancelLocal(opID, mode)
	}
	return nil
}

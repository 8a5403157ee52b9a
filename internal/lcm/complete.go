package lcm

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vnfm-project/vnfm/internal/conductor"
	"github.com/vnfm-project/vnfm/internal/mergepatch"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// complete applies a finished workflow to the instance, in the transaction
// that moves the op occ to COMPLETED.
func (pc *planCtx) complete(ctx context.Context, tx store.Tx, x *conductor.Exec) error {
	s := pc.s
	inst, err := tx.GetInstance(ctx, pc.inst.ID, true)
	if err != nil {
		return fmt.Errorf("reload instance: %w", err)
	}
	vims, err := s.vims(inst)
	if err != nil {
		return err
	}
	f, err := s.loadFlow(x, inst, pc.priv)
	if err != nil {
		return err
	}
	priv, err := s.readPrivate(inst.Private)
	if err != nil {
		return err
	}
	priv.InfraState, priv.MgmtState = f.InfraState, f.MgmtState
	info := f.Info
	if info != nil {
		cp := *info
		info = &cp
	}
	// The request's vimConnectionInfo (and a default VIM that was used)
	// become the instance's, then what drivers registered.
	var reqVims struct {
		VimConnectionInfo []model.VimConnectionInfo `json:"vimConnectionInfo"`
	}
	_ = json.Unmarshal(pc.params, &reqVims)
	vims = mergeVims(vims, reqVims.VimConnectionInfo, nil)

	switch pc.opName {
	case model.OpInstantiate:
		var req InstantiateVnfRequest
		if err := json.Unmarshal(pc.params, &req); err != nil {
			return fmt.Errorf("decode parameters: %w", err)
		}
		if info == nil {
			info = &model.InstantiatedVnfInfo{}
		}
		info.FlavourID = req.FlavourID
		if info.VnfState == "" {
			info.VnfState = model.VnfStarted
		}
		if info.LocalizationLanguage == "" {
			info.LocalizationLanguage = req.LocalizationLanguage
		}
		inst.InstantiationState = model.Instantiated
		vim := pc.vimOf(f)
		priv.VimConnectionID = vim.ID
		if !hasVim(vims, vim.ID) {
			used := *vim
			if used.VimID != "" && pc.s.vimReg != nil {
				// A registered VIM: keep the reference, so that credentials
				// changed in the registry apply to later operations.
				used = model.VimConnectionInfo{ID: used.ID, VimID: used.VimID, VimType: used.VimType}
			}
			vims = append(vims, used)
		}
		if req.VnfConfigurableProperties != nil {
			inst.VnfConfigurableProperties = mergepatch.Objects(inst.VnfConfigurableProperties, req.VnfConfigurableProperties)
		}
		if req.Extensions != nil {
			inst.Extensions = mergepatch.Objects(inst.Extensions, req.Extensions)
		}
	case model.OpTerminate:
		inst.InstantiationState = model.NotInstantiated
		info = nil
		priv = &private{}
	case model.OpScale:
		var req ScaleVnfRequest
		if err := json.Unmarshal(pc.params, &req); err != nil {
			return fmt.Errorf("decode parameters: %w", err)
		}
		if info != nil {
			delta := req.Steps()
			if req.Type == "SCALE_IN" {
				delta = -delta
			}
			info.ScaleStatus = setLevel(info.ScaleStatus, req.AspectID, func(l int) int { return max(l+delta, 0) })
		}
	case model.OpScaleToLevel:
		var req ScaleVnfToLevelRequest
		if err := json.Unmarshal(pc.params, &req); err != nil {
			return fmt.Errorf("decode parameters: %w", err)
		}
		if info != nil {
			for _, si := range req.ScaleInfo {
				info.ScaleStatus = setLevel(info.ScaleStatus, si.AspectID, func(int) int { return si.ScaleLevel })
			}
		}
	case model.OpChangeFlavour:
		var req ChangeVnfFlavourRequest
		if err := json.Unmarshal(pc.params, &req); err != nil {
			return fmt.Errorf("decode parameters: %w", err)
		}
		if info != nil {
			info.FlavourID = req.NewFlavourID
		}
	case model.OpOperate:
		var req OperateVnfRequest
		if err := json.Unmarshal(pc.params, &req); err != nil {
			return fmt.Errorf("decode parameters: %w", err)
		}
		if info != nil {
			info.VnfState = req.ChangeStateTo
		}
	}
	vims = mergeVims(vims, f.VimUpserts, f.VimRemove)
	inst.InstantiatedVnfInfo = info
	if err := s.setVims(inst, vims); err != nil {
		return err
	}
	if inst.Private, err = s.writePrivate(priv); err != nil {
		return err
	}
	if err := tx.UpdateInstance(ctx, inst); err != nil {
		return fmt.Errorf("update instance: %w", err)
	}
	if !f.Changes.Empty() {
		rc := f.Changes
		x.Op.ResourceChanges = &rc
	}
	if f.Grant != nil {
		x.Op.GrantID = f.Grant.ID
	}
	return nil
}

// rolledBack keeps the drivers' state after a rollback; the instance is
// otherwise as before the operation.
func (pc *planCtx) rolledBack(ctx context.Context, tx store.Tx, x *conductor.Exec) error {
	s := pc.s
	inst, err := tx.GetInstance(ctx, pc.inst.ID, true)
	if err != nil {
		return fmt.Errorf("reload instance: %w", err)
	}
	f, err := s.loadFlow(x, inst, pc.priv)
	if err != nil {
		return err
	}
	priv, err := s.readPrivate(inst.Private)
	if err != nil {
		return err
	}
	priv.InfraState, priv.MgmtState = f.InfraState, f.MgmtState
	if pc.opName == model.OpInstantiate {
		priv = &private{}
	} else if f.Info != nil {
		inst.InstantiatedVnfInfo = f.Info
	}
	if inst.Private, err = s.writePrivate(priv); err != nil {
		return err
	}
	if err := tx.UpdateInstance(ctx, inst); err != nil {
		return fmt.Errorf("update instance: %w", err)
	}
	if !f.Changes.Empty() {
		rc := f.Changes
		x.Op.ResourceChanges = &rc
	}
	if f.Grant != nil {
		x.Op.GrantID = f.Grant.ID
	}
	return nil
}

// completeModify applies a VnfInfoModificationRequest (JSON merge patch
// semantics for the maps and for each vimConnectionInfo entry).
func (s *Service) completeModify(ctx context.Context, tx store.Tx, x *conductor.Exec, req *VnfInfoModificationRequest) error {
	inst, err := tx.GetInstance(ctx, x.Op.VnfInstanceID, true)
	if err != nil {
		return fmt.Errorf("reload instance: %w", err)
	}
	vims, err := s.vims(inst)
	if err != nil {
		return err
	}
	ch := &model.ChangedInfo{}
	if req.VnfInstanceName != nil {
		inst.VnfInstanceName = *req.VnfInstanceName
		ch.VnfInstanceName = req.VnfInstanceName
	}
	if req.VnfInstanceDescription != nil {
		inst.VnfInstanceDescription = *req.VnfInstanceDescription
		ch.VnfInstanceDescription = req.VnfInstanceDescription
	}
	if req.VnfdID != "" {
		inst.VnfdID = req.VnfdID
		ch.VnfdID = req.VnfdID
		if s.vnfds != nil {
			info, err := s.vnfds.Lookup(ctx, tx, req.VnfdID)
			if err != nil {
				return fmt.Errorf("look up VNFD %s: %w", req.VnfdID, err)
			}
			inst.VnfProvider, inst.VnfProductName = info.VnfProvider, info.VnfProductName
			inst.VnfSoftwareVersion, inst.VnfdVersion, inst.VnfPkgID = info.VnfSoftwareVersion, info.VnfdVersion, info.VnfPkgID
			ch.VnfProvider, ch.VnfProductName = info.VnfProvider, info.VnfProductName
			ch.VnfSoftwareVersion, ch.VnfdVersion, ch.VnfPkgID = info.VnfSoftwareVersion, info.VnfdVersion, info.VnfPkgID
		}
	}
	if req.VnfPkgID != "" {
		inst.VnfPkgID = req.VnfPkgID
		ch.VnfPkgID = req.VnfPkgID
	}
	if req.VnfConfigurableProperties != nil {
		inst.VnfConfigurableProperties = mergepatch.Objects(inst.VnfConfigurableProperties, req.VnfConfigurableProperties)
		ch.VnfConfigurableProperties = req.VnfConfigurableProperties
	}
	if req.Metadata != nil {
		inst.Metadata = mergepatch.Objects(inst.Metadata, req.Metadata)
		ch.Metadata = req.Metadata
	}
	if req.Extensions != nil {
		inst.Extensions = mergepatch.Objects(inst.Extensions, req.Extensions)
		ch.Extensions = req.Extensions
	}
	if len(req.VimConnectionInfo) > 0 || len(req.VimConnectionInfoDeleteIDs) > 0 {
		patched := make([]model.VimConnectionInfo, 0, len(req.VimConnectionInfo))
		for _, p := range req.VimConnectionInfo {
			patched = append(patched, patchVim(findVim(vims, p.ID), p))
		}
		vims = mergeVims(vims, patched, req.VimConnectionInfoDeleteIDs)
		ch.VimConnectionInfo = redactVims(req.VimConnectionInfo)
		if err := s.setVims(inst, vims); err != nil {
			return err
		}
	}
	if err := tx.UpdateInstance(ctx, inst); err != nil {
		return fmt.Errorf("update instance: %w", err)
	}
	x.Op.ChangedInfo = ch
	return nil
}

func hasVim(vims []model.VimConnectionInfo, id string) bool {
	return findVim(vims, id) != nil
}

func findVim(vims []model.VimConnectionInfo, id string) *model.VimConnectionInfo {
	for i := range vims {
		if vims[i].ID == id {
			return &vims[i]
		}
	}
	return nil
}

// patchVim merge-patches one vimConnectionInfo entry, so that changing the
// region does not drop the stored password.
func patchVim(old *model.VimConnectionInfo, p model.VimConnectionInfo) model.VimConnectionInfo {
	if old == nil {
		return p
	}
	out := *old
	if p.VimID != "" {
		out.VimID = p.VimID
	}
	if p.VimType != "" {
		out.VimType = p.VimType
	}
	if p.InterfaceInfo != nil {
		out.InterfaceInfo = mergepatch.Objects(old.InterfaceInfo, p.InterfaceInfo)
	}
	if p.AccessInfo != nil {
		out.AccessInfo = mergepatch.Objects(old.AccessInfo, p.AccessInfo)
	}
	if p.Extra != nil {
		out.Extra = mergepatch.Objects(old.Extra, p.Extra)
	}
	return out
}

func setLevel(status []model.ScaleInfo, aspect string, f func(int) int) []model.ScaleInfo {
	out := append([]model.ScaleInfo(nil), status...)
	for i := range out {
		if out[i].AspectID == aspect {
			out[i].ScaleLevel = f(out[i].ScaleLevel)
			return out
		}
	}
	return append(out, model.ScaleInfo{AspectID: aspect, ScaleLevel: f(0)})
}

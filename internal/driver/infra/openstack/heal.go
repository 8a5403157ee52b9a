package openstack

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
)

type healParams struct {
	VnfcInstanceID   []string       `json:"vnfcInstanceId"`
	Cause            string         `json:"cause"`
	AdditionalParams map[string]any `json:"additionalParams"`
}

// Heal rebuilds VNFCs: each server is marked unhealthy in its (nested)
// stack and a stack update replaces it; its ports stay and the VNFC keeps
// its id. SOL002 names the VNFCs (vnfcInstanceId); a SOL003 heal (none
// named) rebuilds every VNFC. With additionalParams.all = true the VNFCs'
// volumes are rebuilt too.
func (d *Driver) Heal(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p healParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	if req.Info == nil {
		return nil, unprocessable("the VNF instance has no resources to heal", nil)
	}
	var targets []model.VnfcResourceInfo
	if len(p.VnfcInstanceID) == 0 {
		targets = req.Info.VnfcResourceInfo
	} else {
		for _, id := range p.VnfcInstanceID {
			i := slices.IndexFunc(req.Info.VnfcResourceInfo, func(v model.VnfcResourceInfo) bool { return v.ID == id })
			if i < 0 {
				return nil, unprocessable(fmt.Sprintf("vnfcInstanceId %q is not a VNFC of the instance", id), nil)
			}
			targets = append(targets, req.Info.VnfcResourceInfo[i])
		}
	}
	all, _ := p.AdditionalParams["all"].(bool)

	c, err := d.begin(ctx, req, req.Info.FlavourID, p.AdditionalParams)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("heal", start, err) }()
	s, err := c.existing(ctx)
	if err != nil {
		return nil, err
	}
	t, _, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	storages := map[string]model.VirtualStorageResourceInfo{}
	for _, st := range req.Info.VirtualStorageResourceInfo {
		storages[st.ID] = st
	}
	for _, v := range targets {
		srv := t.find(metaString(v.Metadata, "stackId"), v.VduID)
		if srv == nil {
			return nil, &driver.ProblemError{Status: http.StatusConflict, Title: "VNFC not found in the Heat stack",
				Err: fmt.Errorf("VNFC %s: no server resource %s in stack %s", v.ID, v.VduID, metaString(v.Metadata, "stackId"))}
		}
		// A server already replaced was healed by an earlier attempt of
		// this step: marking it again would rebuild it twice.
		if srv.PhysicalID == v.ComputeResource.ResourceID {
			c.log.Info("marking VNFC server unhealthy", "vnfcId", v.ID, "vduId", v.VduID, "server", srv.PhysicalID)
			if err := c.heat.markUnhealthy(ctx, srv.stackName, srv.stackID, srv.Name, "heal of VNFC "+v.ID); err != nil {
				return nil, err
			}
		}
		if !all {
			continue
		}
		for _, sid := range v.StorageResourceIDs {
			st, ok := storages[sid]
			if !ok {
				continue
			}
			vol := t.find(metaString(st.Metadata, "stackId"), st.VirtualStorageDescID)
			if vol != nil && vol.PhysicalID == st.StorageResource.ResourceID {
				if err := c.heat.markUnhealthy(ctx, vol.stackName, vol.stackID, vol.Name, "heal of VNFC "+v.ID); err != nil {
					return nil, err
				}
			}
		}
	}
	if s, err = c.update(ctx, s, nil, nil); err != nil {
		return nil, err
	}
	_, info, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	var healed []model.VnfcResourceInfo
	for _, v := range info.VnfcResourceInfo {
		if slices.ContainsFunc(targets, func(x model.VnfcResourceInfo) bool { return x.ID == v.ID }) {
			healed = append(healed, v)
		}
	}
	if err := c.checkServers(ctx, healed); err != nil {
		return nil, err
	}
	c.state.StackID = s.ID
	if c.state.Params == nil {
		if c.state.Params, err = c.params(s); err != nil {
			c.state.Params = nil // only a record; heal itself worked
		}
	}
	c.state.Prev, c.state.OpOccID = nil, req.OpOccID
	return &driver.Result{State: c.state.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

type changeExtConnParams struct {
	ExtVirtualLinks  []extVirtualLink `json:"extVirtualLinks"`
	AdditionalParams map[string]any   `json:"additionalParams"`
}

// ChangeExtConn reconnects external CPs: their nfv.CP entries are
// replaced and the stack updated.
func (d *Driver) ChangeExtConn(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p changeExtConnParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	if len(p.ExtVirtualLinks) == 0 {
		return nil, unprocessable("extVirtualLinks is empty", nil)
	}
	cps, err := cpParams(p.ExtVirtualLinks)
	if err != nil {
		return nil, err
	}
	flavour := ""
	if req.Info != nil {
		flavour = req.Info.FlavourID
	}
	c, err := d.begin(ctx, req, flavour, p.AdditionalParams)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("change external connectivity", start, err) }()
	if c.flavour != nil {
		for cp := range cps {
			if c.flavour.Topology.Cps[cp] == nil {
				return nil, unprocessable(fmt.Sprintf("extCps cpdId %q is not a CP of flavour %s", cp, c.flavour.ID), nil)
			}
		}
	}
	s, params, nfv, err := c.nfvParams(ctx, "change its CPs")
	if err != nil {
		return nil, err
	}
	for cp, e := range cps {
		setPath(nfv, e, "CP", cp)
	}
	next := deepCopy(params)
	next["nfv"] = nfv
	c.log.Info("updating external CPs", "stackId", s.ID, "cps", len(cps))
	if s, err = c.update(ctx, s, nil, map[string]any{"nfv": nfv}); err != nil {
		return nil, err
	}
	_, info, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	info.ExtVirtualLinkInfo = extVLInfo(info.ExtVirtualLinkInfo, p.ExtVirtualLinks, c.auth.vimConnID)
	c.state = state{StackID: s.ID, StackName: s.Name, Params: next, Prev: params, OpOccID: req.OpOccID}
	return &driver.Result{State: c.state.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

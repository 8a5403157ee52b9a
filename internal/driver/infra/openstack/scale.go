package openstack

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/scaling"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

type scaleParams struct {
	scaling.Request
	AdditionalParams map[string]any `json:"additionalParams"`
}

type scaleToLevelParams struct {
	scaling.LevelRequest
	AdditionalParams map[string]any `json:"additionalParams"`
}

// instanceFlavour is the instance's flavour id and its VNFD flavour.
func (d *Driver) instanceFlavour(req *driver.Request) (string, *vnfd.Flavour, error) {
	f, err := scaling.Flavour(req, "the OpenStack driver")
	if err != nil {
		return "", nil, scaling.Titled(err, titleInvalid)
	}
	return req.Info.FlavourID, f, nil
}

// Scale scales an aspect out or in by changing the desired capacities in
// nfv; scale-in first marks the newest VNFCs' group members unhealthy so
// that Heat removes those.
func (d *Driver) Scale(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	var p scaleParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	fl, f, err := d.instanceFlavour(req)
	if err != nil {
		return nil, err
	}
	targets, err := scaling.Targets(f, req.Info, p.Request)
	if err != nil {
		return nil, scaling.Titled(err, titleInvalid)
	}
	return d.scaleTo(ctx, req, fl, targets, nil, p.AdditionalParams, "scale")
}

// ScaleToLevel scales to an instantiation level or to per-aspect levels.
func (d *Driver) ScaleToLevel(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	var p scaleToLevelParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	fl, f, err := d.instanceFlavour(req)
	if err != nil {
		return nil, err
	}
	targets, err := scaling.LevelTargets(f, req.Info, p.LevelRequest)
	if err != nil {
		return nil, scaling.Titled(err, titleInvalid)
	}
	// lcm sets scaleStatus from scaleInfo but not from an instantiation
	// level, so the driver reports the levels reached itself.
	levels := map[string]int{}
	if p.InstantiationLevelID != "" {
		levels = f.ScaleLevelsAt(p.InstantiationLevelID)
	}
	for _, si := range p.ScaleInfo {
		levels[si.AspectID] = si.ScaleLevel
	}
	return d.scaleTo(ctx, req, fl, targets, levels, p.AdditionalParams, "scale to level")
}

// scaleTo brings VDUs to target counts; levels, when given, are the aspect
// levels reached.
func (d *Driver) scaleTo(ctx context.Context, req *driver.Request, flavour string, targets, levels map[string]int, add map[string]any, what string) (res *driver.Result, err error) {
	c, err := d.begin(ctx, req, flavour, add)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end(what, start, err) }()
	s, params, nfv, err := c.nfvParams(ctx, "scale it")
	if err != nil {
		return nil, err
	}
	t, live, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	// Live counts, not req.Info's: a retried step may already have removed
	// some VNFCs.
	if err := c.removeNewest(ctx, t, live, targets); err != nil {
		return nil, err
	}
	for vdu, n := range targets {
		setPath(nfv, n, "VDU", vdu, "desired_capacity")
	}
	next := deepCopy(params)
	next["nfv"] = nfv
	c.log.Info("updating desired capacities", "stackId", s.ID, "targets", targets)
	if s, err = c.update(ctx, s, nil, map[string]any{"nfv": nfv}); err != nil {
		return nil, err
	}
	_, info, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	got := scaling.Counts(info)
	for vdu, n := range targets {
		if got[vdu] != n {
			return nil, &driver.ProblemError{Status: http.StatusInternalServerError, Title: "Scaling did not take effect",
				Err: fmt.Errorf("VDU %s has %d VNFCs after the stack update, %d wanted: does the Base HOT take desired_capacity from nfv.VDU.%s?", vdu, got[vdu], n, vdu)}
		}
	}
	if levels != nil {
		for a, l := range levels {
			info.ScaleStatus = scaling.SetLevel(info.ScaleStatus, a, l)
		}
	}
	c.state = state{StackID: s.ID, StackName: s.Name, Params: next, Prev: params, OpOccID: req.OpOccID}
	return &driver.Result{State: c.state.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

// removeNewest marks unhealthy the group members of the newest VNFCs of
// each VDU beyond its target, so the coming capacity change removes them
// (Heat removes unhealthy members first).
func (c *call) removeNewest(ctx context.Context, t *topo, live *model.InstantiatedVnfInfo, targets map[string]int) error {
	byVDU := map[string][]model.VnfcResourceInfo{}
	for _, v := range live.VnfcResourceInfo { // oldest first per VDU
		byVDU[v.VduID] = append(byVDU[v.VduID], v)
	}
	vdus := make([]string, 0, len(targets))
	for v := range targets {
		vdus = append(vdus, v)
	}
	sort.Strings(vdus)
	for _, vdu := range vdus {
		have := byVDU[vdu]
		for i := len(have) - 1; i >= targets[vdu] && i >= 0; i-- {
			v := have[i]
			srv := t.find(metaString(v.Metadata, "stackId"), v.VduID)
			if srv == nil {
				continue
			}
			m := t.member(srv)
			if m == nil {
				return unprocessable(fmt.Sprintf("VDU %s is not in a Heat scaling group: it cannot be scaled in", vdu), nil)
			}
			c.log.Info("marking scale-in victim unhealthy", "vnfcId", v.ID, "vduId", vdu, "member", m.Name, "memberStackId", m.stackID)
			if err := c.heat.markUnhealthy(ctx, m.stackName, m.stackID, m.Name, "scale-in of VNFC "+v.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

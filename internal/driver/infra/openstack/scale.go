package openstack

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

type scaleParams struct {
	Type             string         `json:"type"`
	AspectID         string         `json:"aspectId"`
	NumberOfSteps    *int           `json:"numberOfSteps"`
	AdditionalParams map[string]any `json:"additionalParams"`
}

type scaleToLevelParams struct {
	InstantiationLevelID string            `json:"instantiationLevelId"`
	ScaleInfo            []model.ScaleInfo `json:"scaleInfo"`
	AdditionalParams     map[string]any    `json:"additionalParams"`
}

func currentLevel(info *model.InstantiatedVnfInfo, aspect string) int {
	if info != nil {
		for _, s := range info.ScaleStatus {
			if s.AspectID == aspect {
				return s.ScaleLevel
			}
		}
	}
	return 0
}

func vnfcCounts(info *model.InstantiatedVnfInfo) map[string]int {
	out := map[string]int{}
	if info != nil {
		for _, v := range info.VnfcResourceInfo {
			out[v.VduID]++
		}
	}
	return out
}

// moveLevel adds to targets the instances each VDU gains (or loses) when
// an aspect goes from level `from` to level `to`: the deltas of every step
// crossed.
func moveLevel(f *vnfd.Flavour, aspect string, from, to int, targets map[string]int) {
	sign, lo, hi := 1, from+1, to
	if to < from {
		sign, lo, hi = -1, to+1, from
	}
	for s := lo; s <= hi; s++ {
		for vdu, n := range f.AspectDelta(aspect, s) {
			targets[vdu] += sign * n
		}
	}
}

// scaleTargets computes the VDU instance counts a ScaleVnfRequest asks for,
// from the VNFCs in info; it fails with 422 when a count or the aspect's
// level leaves what the VNFD allows.
func scaleTargets(f *vnfd.Flavour, info *model.InstantiatedVnfInfo, p *scaleParams) (map[string]int, error) {
	a, ok := f.Aspect(p.AspectID)
	if !ok {
		return nil, unprocessable(fmt.Sprintf("aspect %q is not in flavour %s", p.AspectID, f.ID), nil)
	}
	steps := 1
	if p.NumberOfSteps != nil {
		steps = *p.NumberOfSteps
	}
	if steps < 1 {
		return nil, unprocessable("numberOfSteps must be at least 1", nil)
	}
	from := currentLevel(info, a.ID)
	to := from + steps
	switch p.Type {
	case "SCALE_OUT":
	case "SCALE_IN":
		to = from - steps
	default:
		return nil, unprocessable(fmt.Sprintf("scale type %q is neither SCALE_OUT nor SCALE_IN", p.Type), nil)
	}
	if to < 0 || to > a.MaxScaleLevel {
		return nil, unprocessable(fmt.Sprintf("aspect %s would go from level %d to %d, outside 0..%d", a.ID, from, to, a.MaxScaleLevel), nil)
	}
	delta := map[string]int{}
	moveLevel(f, a.ID, from, to, delta)
	return applyDelta(f, info, delta)
}

// levelTargets computes the VDU counts of a ScaleVnfToLevelRequest.
func levelTargets(f *vnfd.Flavour, info *model.InstantiatedVnfInfo, p *scaleToLevelParams) (map[string]int, error) {
	switch {
	case p.InstantiationLevelID != "" && len(p.ScaleInfo) > 0:
		return nil, unprocessable("give instantiationLevelId or scaleInfo, not both", nil)
	case p.InstantiationLevelID != "":
		if _, ok := f.Scaling.Levels[p.InstantiationLevelID]; !ok {
			return nil, unprocessable(fmt.Sprintf("instantiationLevelId %q is not a level of flavour %s", p.InstantiationLevelID, f.ID), nil)
		}
		out := map[string]int{}
		for _, d := range f.VDUs() {
			if len(f.AspectsOf(d.Name)) > 0 {
				out[d.Name] = f.InstancesAt(d.Name, p.InstantiationLevelID)
			}
		}
		return out, checkProfile(f, out)
	case len(p.ScaleInfo) > 0:
		delta := map[string]int{}
		for _, si := range p.ScaleInfo {
			a, ok := f.Aspect(si.AspectID)
			if !ok {
				return nil, unprocessable(fmt.Sprintf("aspect %q is not in flavour %s", si.AspectID, f.ID), nil)
			}
			if si.ScaleLevel < 0 || si.ScaleLevel > a.MaxScaleLevel {
				return nil, unprocessable(fmt.Sprintf("scale level %d of aspect %s is outside 0..%d", si.ScaleLevel, a.ID, a.MaxScaleLevel), nil)
			}
			moveLevel(f, a.ID, currentLevel(info, a.ID), si.ScaleLevel, delta)
		}
		return applyDelta(f, info, delta)
	}
	return nil, unprocessable("instantiationLevelId or scaleInfo is required", nil)
}

func applyDelta(f *vnfd.Flavour, info *model.InstantiatedVnfInfo, delta map[string]int) (map[string]int, error) {
	counts := vnfcCounts(info)
	out := map[string]int{}
	for vdu, n := range delta {
		out[vdu] = counts[vdu] + n
	}
	return out, checkProfile(f, out)
}

func checkProfile(f *vnfd.Flavour, targets map[string]int) error {
	vdus := make([]string, 0, len(targets))
	for v := range targets {
		vdus = append(vdus, v)
	}
	sort.Strings(vdus)
	for _, vdu := range vdus {
		if _, ok := f.VDU(vdu); !ok {
			return unprocessable(fmt.Sprintf("the scaling aspect names VDU %s, which is not in flavour %s", vdu, f.ID), nil)
		}
		lo, hi := f.VduProfile(vdu)
		if n := targets[vdu]; n < lo || n > hi {
			return unprocessable(fmt.Sprintf("VDU %s would have %d instances; its vdu_profile allows %d..%d", vdu, n, lo, hi), nil)
		}
	}
	return nil
}

func (d *Driver) flavourID(req *driver.Request) (string, error) {
	if req.Vnfd == nil {
		return "", unprocessable("the OpenStack driver needs the VNFD", nil)
	}
	if req.Info == nil || req.Info.FlavourID == "" {
		return "", unprocessable("the VNF instance has no instantiated flavour", nil)
	}
	return req.Info.FlavourID, nil
}

// instanceFlavour is the instance's flavour id and its VNFD flavour.
func (d *Driver) instanceFlavour(req *driver.Request) (string, *vnfd.Flavour, error) {
	fl, err := d.flavourID(req)
	if err != nil {
		return "", nil, err
	}
	f, ok := req.Vnfd.Flavour(fl)
	if !ok {
		return "", nil, unprocessable(fmt.Sprintf("flavour %q is not in the VNFD", fl), nil)
	}
	return fl, f, nil
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
	targets, err := scaleTargets(f, req.Info, &p)
	if err != nil {
		return nil, err
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
	targets, err := levelTargets(f, req.Info, &p)
	if err != nil {
		return nil, err
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
	got := vnfcCounts(info)
	for vdu, n := range targets {
		if got[vdu] != n {
			return nil, &driver.ProblemError{Status: http.StatusInternalServerError, Title: "Scaling did not take effect",
				Err: fmt.Errorf("VDU %s has %d VNFCs after the stack update, %d wanted: does the Base HOT take desired_capacity from nfv.VDU.%s?", vdu, got[vdu], n, vdu)}
		}
	}
	if levels != nil {
		for a, l := range levels {
			info.ScaleStatus = setLevel(info.ScaleStatus, a, l)
		}
	}
	c.state = state{StackID: s.ID, StackName: s.Name, Params: next, Prev: params, OpOccID: req.OpOccID}
	return &driver.Result{State: c.state.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

func setLevel(ss []model.ScaleInfo, aspect string, level int) []model.ScaleInfo {
	for i := range ss {
		if ss[i].AspectID == aspect {
			ss[i].ScaleLevel = level
			return ss
		}
	}
	ss = append(ss, model.ScaleInfo{AspectID: aspect, ScaleLevel: level})
	sort.Slice(ss, func(i, j int) bool { return ss[i].AspectID < ss[j].AspectID })
	return ss
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

// Package scaling computes the VDU instance counts a scale request asks
// for, from the VNFD: the VNFCs each VDU has now, moved by the deltas of
// the aspect steps crossed, within the aspects' max_scale_level and the
// VDUs' vdu_profile. The infrastructure drivers share it and differ only in
// how they bring the VDUs to the counts.
package scaling

import (
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// Title is the ProblemDetails title of the errors of this package; a
// driver gives them its own with Titled.
const Title = "Unprocessable Entity"

// Request is a ScaleVnfRequest's type, aspect and steps. Drivers embed it
// in what they decode the request into.
type Request struct {
	Type          string `json:"type"`
	AspectID      string `json:"aspectId"`
	NumberOfSteps *int   `json:"numberOfSteps"`
}

// LevelRequest is a ScaleVnfToLevelRequest's instantiation level or
// per-aspect levels. Drivers embed it in what they decode the request into.
type LevelRequest struct {
	InstantiationLevelID string            `json:"instantiationLevelId"`
	ScaleInfo            []model.ScaleInfo `json:"scaleInfo"`
}

// CurrentLevel is the level of aspect in info's scaleStatus, 0 when absent.
func CurrentLevel(info *model.InstantiatedVnfInfo, aspect string) int {
	if info != nil {
		for _, s := range info.ScaleStatus {
			if s.AspectID == aspect {
				return s.ScaleLevel
			}
		}
	}
	return 0
}

// SetLevel is ss with aspect at level: the entry changed in place, or a
// new one added (ss then sorted by aspect).
func SetLevel(ss []model.ScaleInfo, aspect string, level int) []model.ScaleInfo {
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

// Counts is the number of VNFCs of each VDU in info.
func Counts(info *model.InstantiatedVnfInfo) map[string]int {
	out := map[string]int{}
	if info != nil {
		for _, v := range info.VnfcResourceInfo {
			out[v.VduID]++
		}
	}
	return out
}

// Targets is the VDU counts a ScaleVnfRequest asks for: the VNFCs each of
// the aspect's VDUs has in info, plus or minus the deltas of the steps
// taken; 422 when the aspect's level or a count leaves what the VNFD
// allows.
func Targets(f *vnfd.Flavour, info *model.InstantiatedVnfInfo, r Request) (map[string]int, error) {
	a, ok := f.Aspect(r.AspectID)
	if !ok {
		return nil, invalid(fmt.Sprintf("aspect %q is not in flavour %s", r.AspectID, f.ID))
	}
	steps := 1
	if r.NumberOfSteps != nil {
		steps = *r.NumberOfSteps
	}
	if steps < 1 {
		return nil, invalid("numberOfSteps must be at least 1")
	}
	from := CurrentLevel(info, a.ID)
	to := from + steps
	switch r.Type {
	case "SCALE_OUT":
	case "SCALE_IN":
		to = from - steps
	default:
		return nil, invalid(fmt.Sprintf("scale type %q is neither SCALE_OUT nor SCALE_IN", r.Type))
	}
	if to < 0 || to > a.MaxScaleLevel {
		return nil, invalid(fmt.Sprintf("aspect %s would go from level %d to %d, outside 0..%d", a.ID, from, to, a.MaxScaleLevel))
	}
	delta := map[string]int{}
	moveLevel(f, a.ID, from, to, delta)
	return applyDelta(f, info, delta)
}

// LevelTargets is the VDU counts a ScaleVnfToLevelRequest asks for: those
// of the instantiation level for every VDU an aspect scales, or the VNFCs
// in info moved by the steps between each aspect's current and requested
// level; 422 as for Targets.
func LevelTargets(f *vnfd.Flavour, info *model.InstantiatedVnfInfo, r LevelRequest) (map[string]int, error) {
	switch {
	case r.InstantiationLevelID != "" && len(r.ScaleInfo) > 0:
		return nil, invalid("give instantiationLevelId or scaleInfo, not both")
	case r.InstantiationLevelID != "":
		if _, ok := f.Scaling.Levels[r.InstantiationLevelID]; !ok {
			return nil, invalid(fmt.Sprintf("instantiationLevelId %q is not a level of flavour %s", r.InstantiationLevelID, f.ID))
		}
		out := map[string]int{}
		for _, d := range f.VDUs() {
			if len(f.AspectsOf(d.Name)) > 0 {
				out[d.Name] = f.InstancesAt(d.Name, r.InstantiationLevelID)
			}
		}
		return out, CheckProfile(f, out)
	case len(r.ScaleInfo) > 0:
		delta := map[string]int{}
		for _, si := range r.ScaleInfo {
			a, ok := f.Aspect(si.AspectID)
			if !ok {
				return nil, invalid(fmt.Sprintf("aspect %q is not in flavour %s", si.AspectID, f.ID))
			}
			if si.ScaleLevel < 0 || si.ScaleLevel > a.MaxScaleLevel {
				return nil, invalid(fmt.Sprintf("scale level %d of aspect %s is outside 0..%d", si.ScaleLevel, a.ID, a.MaxScaleLevel))
			}
			moveLevel(f, a.ID, CurrentLevel(info, a.ID), si.ScaleLevel, delta)
		}
		return applyDelta(f, info, delta)
	}
	return nil, invalid("instantiationLevelId or scaleInfo is required")
}

// CheckProfile fails with 422 when a target names a VDU not in f or a
// count outside the VDU's vdu_profile; VDUs are checked in name order.
func CheckProfile(f *vnfd.Flavour, targets map[string]int) error {
	vdus := make([]string, 0, len(targets))
	for v := range targets {
		vdus = append(vdus, v)
	}
	sort.Strings(vdus)
	for _, vdu := range vdus {
		if _, ok := f.VDU(vdu); !ok {
			return invalid(fmt.Sprintf("the scaling aspect names VDU %s, which is not in flavour %s", vdu, f.ID))
		}
		lo, hi := f.VduProfile(vdu)
		if n := targets[vdu]; n < lo || n > hi {
			return invalid(fmt.Sprintf("VDU %s would have %d instances; its vdu_profile allows %d..%d", vdu, n, lo, hi))
		}
	}
	return nil
}

// Titled is err with the ProblemDetails title given when it is an error
// of this package (a *driver.ProblemError titled Title), else err.
func Titled(err error, title string) error {
	if pe, ok := err.(*driver.ProblemError); ok && pe.Title == Title {
		return &driver.ProblemError{Status: pe.Status, Title: title, Err: pe.Err}
	}
	return err
}

// moveLevel adds to delta the instances each VDU gains (or loses) when an
// aspect goes from level `from` to `to`: the deltas of every step crossed.
func moveLevel(f *vnfd.Flavour, aspect string, from, to int, delta map[string]int) {
	sign, lo, hi := 1, from+1, to
	if to < from {
		sign, lo, hi = -1, to+1, from
	}
	for s := lo; s <= hi; s++ {
		for vdu, n := range f.AspectDelta(aspect, s) {
			delta[vdu] += sign * n
		}
	}
}

// applyDelta is the VNFCs in info of each VDU in delta plus its delta,
// checked against the vdu_profiles.
func applyDelta(f *vnfd.Flavour, info *model.InstantiatedVnfInfo, delta map[string]int) (map[string]int, error) {
	counts := Counts(info)
	out := map[string]int{}
	for vdu, n := range delta {
		out[vdu] = counts[vdu] + n
	}
	return out, CheckProfile(f, out)
}

// Flavour is the VNFD flavour the instance runs, which every scale
// computation needs; who names the caller in the error ("the OpenStack
// driver").
func Flavour(req *driver.Request, who string) (*vnfd.Flavour, error) {
	if req.Vnfd == nil {
		return nil, invalid(who + " needs the VNFD")
	}
	if req.Info == nil || req.Info.FlavourID == "" {
		return nil, invalid("the VNF instance has no instantiated flavour")
	}
	f, ok := req.Vnfd.Flavour(req.Info.FlavourID)
	if !ok {
		return nil, invalid(fmt.Sprintf("flavour %q is not in the VNFD", req.Info.FlavourID))
	}
	return f, nil
}

func invalid(msg string) error {
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: Title, Err: errors.New(msg)}
}

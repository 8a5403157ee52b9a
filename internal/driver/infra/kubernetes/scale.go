package kubernetes

import (
	"context"
	"fmt"
	"maps"
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

// instanceFlavour is the instance's VNFD flavour.
func instanceFlavour(req *driver.Request) (*vnfd.Flavour, error) {
	f, err := scaling.Flavour(req, "the Kubernetes driver")
	return f, scaling.Titled(err, titleInvalid)
}

// Scale scales an aspect out or in by changing its VDUs' replicas.
// Kubernetes picks the pods a scale-in removes; their VNFCs are reported
// REMOVED.
func (d *Driver) Scale(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	var p scaleParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	f, err := instanceFlavour(req)
	if err != nil {
		return nil, err
	}
	targets, err := scaling.Targets(f, req.Info, p.Request)
	if err != nil {
		return nil, scaling.Titled(err, titleInvalid)
	}
	return d.scaleTo(ctx, req, targets, nil, "scale")
}

// ScaleToLevel scales to an instantiation level or to per-aspect levels.
func (d *Driver) ScaleToLevel(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	var p scaleToLevelParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	f, err := instanceFlavour(req)
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
	return d.scaleTo(ctx, req, targets, levels, "scale to level")
}

// scaleTo brings VDUs to target replicas; levels, when given, are the
// aspect levels reached.
func (d *Driver) scaleTo(ctx context.Context, req *driver.Request, targets, levels map[string]int, what string) (res *driver.Result, err error) {
	c, err := d.begin(req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end(what, start, err) }()
	prev := maps.Clone(c.st.Replicas)
	if c.st.OpOccID == req.OpOccID && c.st.Prev != nil {
		prev = maps.Clone(c.st.Prev) // a retry of this step: keep what was before it
	}
	info, err := c.setReplicas(ctx, targets)
	if err != nil {
		return nil, err
	}
	got := scaling.Counts(info)
	for vdu, n := range targets {
		if got[vdu] != n {
			return nil, &driver.ProblemError{Status: http.StatusInternalServerError, Title: "Scaling did not take effect",
				Err: fmt.Errorf("VDU %s has %d pods after scaling, %d wanted", vdu, got[vdu], n)}
		}
	}
	for a, l := range levels {
		info.ScaleStatus = scaling.SetLevel(info.ScaleStatus, a, l)
	}
	c.st.Prev, c.st.OpOccID = prev, req.OpOccID
	return &driver.Result{State: c.st.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

// setReplicas patches the replicas of the targets' workloads, waits for
// them and reads the VNFCs back.
func (c *call) setReplicas(ctx context.Context, targets map[string]int) (*model.InstantiatedVnfInfo, error) {
	vdus := make([]string, 0, len(targets))
	for v := range targets {
		vdus = append(vdus, v)
	}
	sort.Strings(vdus)
	var touched []Workload
	for _, vdu := range vdus {
		w, ok := c.st.workload(vdu)
		if !ok {
			return nil, unprocessable(fmt.Sprintf("VDU %s has no workload recorded for the instance", vdu), nil)
		}
		if !scalable(w.Kind) {
			return nil, unprocessable(fmt.Sprintf("VDU %s: %s cannot be scaled: only Deployments, StatefulSets and ReplicaSets have replicas", vdu, w), nil)
		}
		touched = append(touched, w)
	}
	for i, vdu := range vdus {
		if err := c.k.scaleTo(ctx, touched[i], targets[vdu]); err != nil {
			return nil, err
		}
		if c.st.Replicas == nil {
			c.st.Replicas = map[string]int{}
		}
		c.st.Replicas[vdu] = targets[vdu]
	}
	if err := WaitReady(ctx, c.k.c, touched, c.d.cfg.ReadyTimeout); err != nil {
		return nil, err
	}
	vnfcs, err := Vnfcs(ctx, c.k.c, c.vimID, c.st.workloads(), prevVnfcs(c.req.Info))
	if err != nil {
		return nil, err
	}
	return withVnfcs(c.req.Info, vnfcs), nil
}

// restore puts back the replicas from before a scale: Prev when the
// operation's own step completed (State is then its result), else the
// replicas in State, which the failed step never replaced.
func (d *Driver) restore(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	c, err := d.begin(req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("rollback of "+string(req.Operation), start, err) }()
	back := c.st.Replicas
	if c.st.OpOccID == req.OpOccID && c.st.Prev != nil {
		back = c.st.Prev
	}
	if len(back) == 0 {
		return nil, fmt.Errorf("rollback of %s: no replicas recorded to go back to", req.Operation)
	}
	info, err := c.setReplicas(ctx, maps.Clone(back))
	if err != nil {
		return nil, err
	}
	c.st.Prev, c.st.OpOccID = nil, req.OpOccID
	return &driver.Result{State: c.st.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

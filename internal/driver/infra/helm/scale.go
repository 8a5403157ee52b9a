package helm

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnfm-project/vnfm/internal/driver"
	kinfra "github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/driver/scaling"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

type scaleParams struct {
	scaling.Request
}

type scaleToLevelParams struct {
	scaling.LevelRequest
}

// instanceFlavour is the instance's VNFD flavour.
func instanceFlavour(req *driver.Request) (*vnfd.Flavour, error) {
	f, err := scaling.Flavour(req, "scaling")
	return f, scaling.Titled(err, titleInvalid)
}

// Scale scales an aspect out or in: the releases backing its VDUs are
// upgraded with their values kept and the aspect's helm_replica_values
// path set to the new counts.
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
	return d.scaleTo(ctx, req, f, targets, p.AspectID, nil, "scale")
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
	// lcm sets scaleStatus from scaleInfo, not from an instantiation level.
	var levels map[string]int
	if p.InstantiationLevelID != "" {
		levels = f.ScaleLevelsAt(p.InstantiationLevelID)
	}
	return d.scaleTo(ctx, req, f, targets, "", levels, "scale to level")
}

// restore is the rollback of a scale: the counts from before the
// operation (Prev when its step completed, else those of req.Info, which
// the failed step never replaced).
func (d *Driver) restore(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	f, err := instanceFlavour(req)
	if err != nil {
		return nil, err
	}
	st, err := readState(req.State)
	if err != nil {
		return nil, err
	}
	back := scaling.Counts(req.Info)
	if st.OpOccID == req.OpOccID && st.Prev != nil {
		back = st.Prev
	}
	targets := map[string]int{}
	for _, w := range st.Workloads {
		if len(f.AspectsOf(w.VduID)) > 0 {
			targets[w.VduID] = back[w.VduID]
		}
	}
	return d.scaleTo(ctx, req, f, targets, "", nil, "rollback of "+string(req.Operation))
}

// scaleTo brings VDUs to target counts; aspect, when given, names the
// replica value to use; levels, when given, are the aspect levels reached.
func (d *Driver) scaleTo(ctx context.Context, req *driver.Request, f *vnfd.Flavour, targets map[string]int, aspect string, levels map[string]int, what string) (res *driver.Result, err error) {
	st, err := readState(req.State)
	if err != nil {
		return nil, err
	}
	if len(st.Releases) == 0 {
		return nil, &driver.ProblemError{Status: http.StatusConflict, Title: "No Helm release recorded",
			Err: fmt.Errorf("the VNF instance has no Helm release to %s", what)}
	}
	// Per release, the values to set; the state's values follow, so that
	// a re-install (SOL003 heal) keeps the counts.
	sets := map[string]map[string]any{}
	paths := map[string]map[string]int{} // release -> path -> count
	for _, vdu := range sortedKeys(targets) {
		w, ok := st.workload(vdu)
		if !ok {
			return nil, unprocessable(fmt.Sprintf("VDU %s has no workload recorded for the instance", vdu), nil)
		}
		switch w.Kind {
		case kinfra.KindDeployment, kinfra.KindStatefulSet, kinfra.KindReplicaSet:
		default:
			return nil, unprocessable(fmt.Sprintf("VDU %s is a %s, which cannot be scaled", vdu, w.Kind), nil)
		}
		path := replicaPath(f, st.ReplicaValues, vdu, aspect)
		if path == "" {
			return nil, unprocessable(fmt.Sprintf("no %s entry gives the replicas of VDU %s", ParamReplicaValues, vdu), nil)
		}
		n := targets[vdu]
		if paths[w.Release] == nil {
			paths[w.Release], sets[w.Release] = map[string]int{}, map[string]any{}
		}
		if m, dup := paths[w.Release][path]; dup && m != n {
			return nil, unprocessable(fmt.Sprintf("release %s: %s %q would need both %d and %d replicas", w.Release, ParamReplicaValues, path, m, n), nil)
		}
		paths[w.Release][path] = n
		if err := setPath(sets[w.Release], path, n); err != nil {
			return nil, err
		}
		rs := st.release(w.Release)
		if rs == nil {
			return nil, fmt.Errorf("helm: VDU %s: release %s is not in the driver state", vdu, w.Release)
		}
		if rs.Values == nil {
			rs.Values = map[string]any{}
		}
		if err := setPath(rs.Values, path, n); err != nil {
			return nil, err
		}
	}
	c, err := d.begin(ctx, req, st)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end(what, start, err) }()
	c.markVictims(ctx, vnfcsOf(req.Info), targets)
	for _, name := range sortedKeys(sets) {
		rs := st.release(name)
		c.log.Info("upgrading Helm release with new replicas", "release", name, "targets", paths[name])
		tr, err := c.helm(ctx)
		if err != nil {
			return nil, err
		}
		r, err := tr.Upgrade(ctx, c.spec(rs, sets[name], true))
		if err != nil {
			return nil, err
		}
		rs.Revision = r.Version
	}
	if err := kinfra.WaitReady(ctx, c.kube, st.kubeWorkloads(), d.cfg.Timeout); err != nil {
		return nil, err
	}
	vnfcs, err := kinfra.Vnfcs(ctx, c.kube, req.Vim.ID, st.kubeWorkloads(), vnfcsOf(req.Info))
	if err != nil {
		return nil, err
	}
	info := newInfo(req.Info, vnfcs)
	got := scaling.Counts(info)
	for _, vdu := range sortedKeys(targets) {
		if got[vdu] != targets[vdu] {
			w, _ := st.workload(vdu)
			return nil, &driver.ProblemError{Status: http.StatusInternalServerError, Title: "Scaling did not take effect",
				Err: fmt.Errorf("VDU %s has %d pods after the upgrade, %d wanted: does the chart take the replicas of %s from %q?",
					vdu, got[vdu], targets[vdu], w.kube(), replicaPath(f, st.ReplicaValues, vdu, aspect))}
		}
	}
	for a, l := range levels {
		info.ScaleStatus = scaling.SetLevel(info.ScaleStatus, a, l)
	}
	st.Prev, st.OpOccID = scaling.Counts(req.Info), req.OpOccID
	return &driver.Result{State: st.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(vnfcsOf(req.Info), vnfcs)}, nil
}

// podDeletionCost is the annotation a ReplicaSet controller reads to
// choose which pods go first on scale-in.
const podDeletionCost = "controller.kubernetes.io/pod-deletion-cost"

// markVictims makes the newest VNFCs beyond each target the first pods a
// Deployment or ReplicaSet removes, so that scale-in keeps the older VNFCs
// (and their ids), as it does on OpenStack. Best effort: the controller
// decides in the end, and the VNFCs are read back afterwards anyway.
func (c *call) markVictims(ctx context.Context, vnfcs []model.VnfcResourceInfo, targets map[string]int) {
	byVdu := map[string][]model.VnfcResourceInfo{}
	for _, v := range vnfcs { // oldest first per VDU
		byVdu[v.VduID] = append(byVdu[v.VduID], v)
	}
	patch := []byte(`{"metadata":{"annotations":{"` + podDeletionCost + `":"-1000"}}}`)
	for _, vdu := range sortedKeys(targets) {
		w, _ := c.st.workload(vdu)
		if w.Kind != kinfra.KindDeployment && w.Kind != kinfra.KindReplicaSet {
			continue
		}
		have := byVdu[vdu]
		for i := len(have) - 1; i >= targets[vdu] && i >= 0; i-- {
			pod := have[i].ComputeResource.ResourceID
			_, err := c.kube.CoreV1().Pods(w.Namespace).Patch(ctx, pod, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "vnfm"})
			if err != nil && !apierrors.IsNotFound(err) {
				c.log.Warn("cannot mark a scale-in victim", "vnfc_id", have[i].ID, "pod", pod, "err", err)
				continue
			}
			c.log.Info("marked scale-in victim", "vnfc_id", have[i].ID, "vdu_id", vdu, "pod", pod)
		}
	}
}

package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
)

type healParams struct {
	VnfcInstanceID   []string       `json:"vnfcInstanceId"`
	Cause            string         `json:"cause"`
	AdditionalParams map[string]any `json:"additionalParams"`
}

// Heal replaces pods. SOL002 names the VNFCs (vnfcInstanceId): their pods
// are deleted and each VNFC takes its workload's replacement pod, keeping
// its id. A SOL003 heal (none named) re-creates every workload from the
// manifests at its current replicas; the new pods take the VNFC ids of the
// old ones, oldest first per VDU.
func (d *Driver) Heal(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p healParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	if req.Info == nil {
		return nil, unprocessable("the VNF instance has no resources to heal", nil)
	}
	c, err := d.begin(req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("heal", start, err) }()
	ws := c.st.workloads()
	if len(ws) == 0 {
		return nil, unprocessable("no workloads are recorded for the VNF instance: nothing to heal", nil)
	}
	var (
		vnfcs  []model.VnfcResourceInfo
		healed []string
	)
	if len(p.VnfcInstanceID) > 0 {
		c.log.Info("healing VNFCs by replacing their pods", "vnfcs", p.VnfcInstanceID)
		if vnfcs, _, err = HealPods(ctx, c.k.c, req.Info.VnfcResourceInfo, p.VnfcInstanceID, ws, d.cfg.ReadyTimeout); err != nil {
			return nil, err
		}
		healed = p.VnfcInstanceID
	} else {
		c.log.Info("healing the VNF by re-creating its workloads", "workloads", len(ws))
		if vnfcs, healed, err = c.recreate(ctx, ws); err != nil {
			return nil, err
		}
	}
	// Re-read, for the order and ids every other operation sees.
	if vnfcs, err = Vnfcs(ctx, c.k.c, c.vimID, ws, vnfcs); err != nil {
		return nil, err
	}
	info := withVnfcs(req.Info, vnfcs)
	c.st.Prev, c.st.OpOccID = nil, req.OpOccID
	return &driver.Result{State: c.st.raw(), InstantiatedVnfInfo: info, ResourceChanges: healChanges(req.Info, info, healed)}, nil
}

// healChanges is diff, with every healed VNFC still there MODIFIED (a
// StatefulSet's or bare Pod's replacement keeps the pod name).
func healChanges(old, new *model.InstantiatedVnfInfo, healed []string) *model.ResourceChanges {
	rc := diff(old, new)
	for _, v := range prevVnfcs(new) {
		if !slices.Contains(healed, v.ID) {
			continue
		}
		if !slices.ContainsFunc(rc.AffectedVnfcs, func(a model.AffectedVnfc) bool { return a.ID == v.ID }) {
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeModified))
		}
	}
	return rc
}

// recreate deletes the workloads (with their pods) and applies them again
// from the manifests, at the replicas they had. It returns the new VNFCs
// and the ids they took over.
func (c *call) recreate(ctx context.Context, ws []Workload) ([]model.VnfcResourceInfo, []string, error) {
	if len(c.st.Files) == 0 {
		return nil, nil, unprocessable("the manifests of the VNF instance are not recorded: cannot re-create its workloads", nil)
	}
	ms, err := loadManifests(c.req.Package, c.st.Files)
	if err != nil {
		return nil, nil, err
	}
	var (
		refs []objRef
		objs []manifest
	)
	for _, w := range ws {
		i := slices.IndexFunc(ms, func(m manifest) bool {
			o := m.obj
			return o.GetKind() == w.Kind && o.GetName() == w.Name && (o.GetNamespace() == "" || o.GetNamespace() == w.Namespace) &&
				workloadKind(o.GetAPIVersion(), o.GetKind())
		})
		if i < 0 {
			return nil, nil, unprocessable(fmt.Sprintf("%s (VDU %s) is not in %v any more", w, w.VduID, c.st.Files), nil)
		}
		m := manifest{file: ms[i].file, doc: ms[i].doc, obj: ms[i].obj.DeepCopy()}
		if scalable(w.Kind) {
			n, err := replicasNow(ctx, c.k.c, w)
			switch {
			case apierrors.IsNotFound(err):
				r, ok := c.st.Replicas[w.VduID]
				if !ok {
					r = len(vnfcsOf(c.req.Info, w.VduID))
				}
				n = int32(r)
			case err != nil:
				return nil, nil, err
			}
			if err := unstructured.SetNestedField(m.obj.Object, int64(n), "spec", "replicas"); err != nil {
				return nil, nil, unprocessable(fmt.Sprintf("%s: cannot set spec.replicas", m), err)
			}
		}
		objs = append(objs, m)
		refs = append(refs, objRef{APIVersion: m.obj.GetAPIVersion(), Kind: w.Kind, Namespace: w.Namespace, Name: w.Name})
	}
	o := deleteOpts{propagation: metav1.DeletePropagationForeground}
	if err := c.k.deleteAll(ctx, refs, ws, o, c.d.cfg.ReadyTimeout); err != nil {
		return nil, nil, err
	}
	for i, m := range objs {
		if _, err := c.k.apply(ctx, m, ws[i].Namespace); err != nil {
			return nil, nil, err
		}
	}
	if err := WaitReady(ctx, c.k.c, ws, c.d.cfg.ReadyTimeout); err != nil {
		return nil, nil, err
	}
	fresh, err := Vnfcs(ctx, c.k.c, c.vimID, ws, nil)
	if err != nil {
		return nil, nil, err
	}
	out, took := adoptIDs(prevVnfcs(c.req.Info), fresh)
	return out, took, nil
}

func vnfcsOf(info *model.InstantiatedVnfInfo, vdu string) []model.VnfcResourceInfo {
	var out []model.VnfcResourceInfo
	for _, v := range prevVnfcs(info) {
		if v.VduID == vdu {
			out = append(out, v)
		}
	}
	return out
}

// adoptIDs gives fresh VNFCs the ids of old ones of the same VDU, in
// order; it returns the ids taken over.
func adoptIDs(old, fresh []model.VnfcResourceInfo) ([]model.VnfcResourceInfo, []string) {
	byVdu := map[string][]string{}
	for _, v := range old {
		byVdu[v.VduID] = append(byVdu[v.VduID], v.ID)
	}
	out := slices.Clone(fresh)
	var took []string
	for i := range out {
		ids := byVdu[out[i].VduID]
		if len(ids) == 0 {
			continue
		}
		out[i].ID = ids[0]
		byVdu[out[i].VduID] = ids[1:]
		took = append(took, ids[0])
	}
	return out, took
}

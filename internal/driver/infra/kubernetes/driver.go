// Package kubernetes is the infrastructure driver for Kubernetes VIMs
// deploying plain manifests, the way Tacker's Kubernetes driver does: the
// files named by additionalParams.lcm-kubernetes-def-files are applied
// (server-side apply) into the VNF's namespace; each VDU is the workload
// (Deployment, StatefulSet, ReplicaSet, DaemonSet or Pod) named by the
// VDU's name property, and each of its pods is a VNFC.
//
// The driver keeps no state: the namespace, the applied objects and the
// VDU↔workload map go to Result.State. Every call is idempotent (apply is,
// deletes tolerate NotFound), so the conductor may retry a step.
//
// Connect, Namespace, Vnfcs, WaitReady and HealPods are shared with the
// Helm driver.
package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// VimTypes are the vimType values the driver serves.
var VimTypes = []string{"ETSINFV.KUBERNETES.V_1", "kubernetes"}

// Config tunes the driver.
type Config struct {
	// Log is used when a request carries no logger.
	Log *slog.Logger
	// ReadyTimeout bounds each wait for workloads to be ready, and for
	// deleted objects to be gone (default 5m).
	ReadyTimeout time.Duration
}

// Driver deploys manifests on Kubernetes. It is safe for concurrent use.
type Driver struct {
	cfg Config
}

// New returns a Driver.
func New(cfg Config) *Driver {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Driver{cfg: cfg}
}

var (
	_ driver.Infra          = (*Driver)(nil)
	_ driver.ScaleToLeveler = (*Driver)(nil)
	_ driver.Rollbacker     = (*Driver)(nil)
)

// state is the driver's Result.State.
type state struct {
	Namespace string `json:"namespace"`
	// Files are the manifests, re-read for a SOL003 heal.
	Files []string `json:"files,omitempty"`
	// Objects are what was applied, in apply order.
	Objects   []objRef      `json:"objects,omitempty"`
	Workloads []workloadRef `json:"workloads,omitempty"`
	// Replicas are the desired pods of each scalable VDU.
	Replicas map[string]int `json:"replicas,omitempty"`
	// Prev are the replicas before the change OpOccID made, for its
	// rollback.
	Prev    map[string]int `json:"prev,omitempty"`
	OpOccID string         `json:"opOccId,omitempty"`
}

type workloadRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	VduID     string `json:"vduId"`
}

func (s state) workloads() []Workload {
	out := make([]Workload, 0, len(s.Workloads))
	for _, w := range s.Workloads {
		out = append(out, Workload{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, VduID: w.VduID})
	}
	return out
}

func workloadRefs(ws []Workload) []workloadRef {
	out := make([]workloadRef, 0, len(ws))
	for _, w := range ws {
		out = append(out, workloadRef{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, VduID: w.VduID})
	}
	return out
}

func (s state) raw() json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func (s state) workload(vdu string) (Workload, bool) {
	for _, w := range s.workloads() {
		if w.VduID == vdu {
			return w, true
		}
	}
	return Workload{}, false
}

// call is one driver call: the request, its logger and the VIM's API.
type call struct {
	d     *Driver
	req   *driver.Request
	log   *slog.Logger
	k     *kube
	st    state
	vimID string
}

// begin validates what every operation needs and connects to the VIM.
func (d *Driver) begin(req *driver.Request) (*call, error) {
	log := req.Log
	if log == nil {
		log = d.cfg.Log
	}
	if req.Instance == nil || req.Instance.ID == "" {
		return nil, errors.New("kubernetes: request without a VNF instance")
	}
	c := &call{d: d, req: req}
	if len(req.State) > 0 && string(req.State) != "null" {
		if err := json.Unmarshal(req.State, &c.st); err != nil {
			return nil, fmt.Errorf("kubernetes: decode driver state: %w", err)
		}
	}
	c.log = log.With("driver", "kubernetes", "operation", string(req.Operation), "vnf_instance_id", req.Instance.ID, "op_occ_id", req.OpOccID)
	cfg, err := Connect(req.Vim)
	if err != nil {
		return nil, err
	}
	c.vimID = req.Vim.ID
	if c.k, err = newKube(cfg, c.log); err != nil {
		return nil, err
	}
	return c, nil
}

// end logs the outcome.
func (c *call) end(what string, start time.Time, err error) {
	if err != nil {
		c.log.Warn(what+" failed", "namespace", c.st.Namespace, "duration", time.Since(start).Round(time.Millisecond), "err", err)
		return
	}
	c.log.Info(what+" done", "namespace", c.st.Namespace, "duration", time.Since(start).Round(time.Millisecond))
}

func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return unprocessable("invalid operation parameters", err)
	}
	return nil
}

type instantiateParams struct {
	FlavourID            string         `json:"flavourId"`
	InstantiationLevelID string         `json:"instantiationLevelId"`
	AdditionalParams     map[string]any `json:"additionalParams"`
}

// plan is what an instantiation deploys.
type plan struct {
	ns        string
	files     []string
	manifests []manifest
	workloads []Workload
	replicas  map[string]int
}

// planInstantiate reads the manifests of an InstantiateVnfRequest and maps
// them onto the flavour's VDUs.
func planInstantiate(req *driver.Request, p *instantiateParams) (*vnfd.Flavour, *plan, error) {
	if req.Vnfd == nil {
		return nil, nil, unprocessable("the Kubernetes driver needs the VNFD", nil)
	}
	if p.FlavourID == "" {
		return nil, nil, unprocessable("flavourId is missing", nil)
	}
	f, ok := req.Vnfd.Flavour(p.FlavourID)
	if !ok {
		return nil, nil, unprocessable(fmt.Sprintf("flavour %q is not in the VNFD", p.FlavourID), nil)
	}
	files, err := defFiles(p.AdditionalParams)
	if err != nil {
		return nil, nil, err
	}
	ms, err := loadManifests(req.Package, files)
	if err != nil {
		return nil, nil, err
	}
	pl := &plan{ns: Namespace(p.AdditionalParams, req.Vim), files: files}
	ws, objs, err := mapVdus(f, ms, pl.ns)
	if err != nil {
		return nil, nil, err
	}
	if pl.replicas, err = initialReplicas(f, p.InstantiationLevelID, ws, objs); err != nil {
		return nil, nil, err
	}
	sortForApply(ms)
	pl.manifests, pl.workloads = ms, ws
	return f, pl, nil
}

// Instantiate applies the manifests, waits for the VDUs' workloads to be
// ready and records one VNFC per pod.
func (d *Driver) Instantiate(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p instantiateParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	f, pl, err := planInstantiate(req, &p)
	if err != nil {
		return nil, err
	}
	c, err := d.begin(req)
	if err != nil {
		return nil, err
	}
	c.st.Namespace = pl.ns
	start := time.Now()
	defer func() { c.end("instantiate", start, err) }()
	refs, err := c.k.applyAll(ctx, pl.manifests, pl.ns)
	if err != nil {
		return nil, err
	}
	c.log.Info("manifests applied, waiting for workloads", "objects", len(refs), "workloads", len(pl.workloads))
	if err := WaitReady(ctx, c.k.c, pl.workloads, d.cfg.ReadyTimeout); err != nil {
		return nil, err
	}
	vnfcs, err := Vnfcs(ctx, c.k.c, c.vimID, pl.workloads, prevVnfcs(req.Info))
	if err != nil {
		return nil, err
	}
	info := withVnfcs(req.Info, vnfcs)
	info.FlavourID = p.FlavourID
	if info.VnfState == "" {
		info.VnfState = model.VnfStarted
	}
	info.ScaleStatus = scaleStatus(f.ScaleLevelsAt(p.InstantiationLevelID))
	c.st = state{Namespace: pl.ns, Files: pl.files, Objects: refs, Workloads: workloadRefs(pl.workloads), Replicas: pl.replicas, OpOccID: req.OpOccID}
	return &driver.Result{State: c.st.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

func prevVnfcs(info *model.InstantiatedVnfInfo) []model.VnfcResourceInfo {
	if info == nil {
		return nil
	}
	return info.VnfcResourceInfo
}

// withVnfcs is a copy of info (or a new one) with the given VNFCs.
func withVnfcs(info *model.InstantiatedVnfInfo, vnfcs []model.VnfcResourceInfo) *model.InstantiatedVnfInfo {
	out := &model.InstantiatedVnfInfo{}
	if info != nil {
		cp := *info
		cp.ScaleStatus = slices.Clone(info.ScaleStatus)
		out = &cp
	}
	out.VnfcResourceInfo = vnfcs
	return out
}

func scaleStatus(levels map[string]int) []model.ScaleInfo {
	out := make([]model.ScaleInfo, 0, len(levels))
	for a, l := range levels {
		out = append(out, model.ScaleInfo{AspectID: a, ScaleLevel: l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AspectID < out[j].AspectID })
	return out
}

type terminateParams struct {
	TerminationType            string         `json:"terminationType"`
	GracefulTerminationTimeout *int           `json:"gracefulTerminationTimeout"`
	AdditionalParams           map[string]any `json:"additionalParams"`
}

// deleteOptsFor: GRACEFUL with a timeout gives the pods that long;
// FORCEFUL deletes them at once. Deletion is in the foreground either way,
// so that an object is gone only when what it owns is.
func deleteOptsFor(p *terminateParams) (deleteOpts, time.Duration) {
	o := deleteOpts{propagation: metav1.DeletePropagationForeground}
	if p.TerminationType == "GRACEFUL" {
		if p.GracefulTerminationTimeout != nil && *p.GracefulTerminationTimeout >= 0 {
			g := int64(*p.GracefulTerminationTimeout)
			o.grace = &g
			return o, time.Duration(g) * time.Second
		}
		return o, 30 * time.Second // the pods' default grace
	}
	zero := int64(0)
	o.grace = &zero
	return o, 0
}

// Terminate deletes every applied object, in reverse order, and waits
// until they and their pods are gone.
func (d *Driver) Terminate(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p terminateParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	c, err := d.begin(req)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("terminate", start, err) }()
	if err := c.deleteEverything(ctx, &p); err != nil {
		return nil, err
	}
	return &driver.Result{State: json.RawMessage("null"), ResourceChanges: diff(req.Info, nil)}, nil
}

// deleteEverything deletes what the state records; without a record (an
// instantiation that failed before returning one), what the instantiation
// request's manifests name; without either, the workloads the VNFCs name.
func (c *call) deleteEverything(ctx context.Context, p *terminateParams) error {
	refs, ws := c.st.Objects, c.st.workloads()
	if len(refs) == 0 && c.req.Operation == model.OpInstantiate {
		var ip instantiateParams
		if err := decode(c.req.Params, &ip); err != nil {
			return err
		}
		_, pl, err := planInstantiate(c.req, &ip)
		var pe *driver.ProblemError
		if errors.As(err, &pe) {
			// The same check refused the instantiation before it applied
			// anything.
			c.log.Info("the instantiation applied nothing", "reason", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("find what the failed instantiation applied: %w", err)
		}
		c.st.Namespace = pl.ns
		ws = pl.workloads
		for _, m := range pl.manifests {
			_, namespaced, err := c.k.resource(ctx, m.obj.GetAPIVersion(), m.obj.GetKind(), pl.ns)
			if err != nil {
				var pe *driver.ProblemError
				if errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity {
					continue // never applied: the kind is unknown
				}
				return err
			}
			ref := objRef{APIVersion: m.obj.GetAPIVersion(), Kind: m.obj.GetKind(), Name: m.obj.GetName()}
			if namespaced {
				ref.Namespace = m.obj.GetNamespace()
				if ref.Namespace == "" {
					ref.Namespace = pl.ns
				}
			}
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 && c.req.Info != nil {
		seen := map[objRef]bool{}
		for _, v := range c.req.Info.VnfcResourceInfo {
			w := Workload{Kind: v.ComputeResource.VimLevelResourceType, Namespace: metaString(v.Metadata, "namespace"), Name: metaString(v.Metadata, "workload"), VduID: v.VduID}
			if w.Name == "" || w.Namespace == "" || !workloadKind(apiVersionOf(w.Kind), w.Kind) {
				continue
			}
			ref := objRef{APIVersion: apiVersionOf(w.Kind), Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
			if !seen[ref] {
				seen[ref] = true
				refs, ws = append(refs, ref), append(ws, w)
			}
		}
	}
	if len(refs) == 0 {
		c.log.Info("nothing recorded to delete")
		return nil
	}
	o, grace := deleteOptsFor(p)
	c.log.Info("deleting objects", "objects", len(refs), "terminationType", p.TerminationType)
	return c.k.deleteAll(ctx, refs, ws, o, c.d.cfg.ReadyTimeout+grace)
}

func apiVersionOf(kind string) string {
	if kind == KindPod {
		return "v1"
	}
	return "apps/v1"
}

// Rollback undoes an operation: INSTANTIATE deletes what was applied;
// SCALE and SCALE_TO_LEVEL put back the replicas from before.
func (d *Driver) Rollback(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	switch req.Operation {
	case model.OpInstantiate:
		c, err := d.begin(req)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		defer func() { c.end("rollback of instantiate", start, err) }()
		if err := c.deleteEverything(ctx, &terminateParams{TerminationType: "FORCEFUL"}); err != nil {
			return nil, err
		}
		return &driver.Result{State: json.RawMessage("null"), ResourceChanges: diff(req.Info, nil)}, nil
	case model.OpScale, model.OpScaleToLevel:
		return d.restore(ctx, req)
	}
	return nil, fmt.Errorf("rollback of %s: %w", req.Operation, driver.ErrNotSupported)
}

// diff lists what changed from old to new VNFCs, by id: a VNFC whose pod
// changed is MODIFIED.
func diff(old, new *model.InstantiatedVnfInfo) *model.ResourceChanges {
	rc := &model.ResourceChanges{}
	oldV := map[string]model.VnfcResourceInfo{}
	for _, v := range prevVnfcs(old) {
		oldV[v.ID] = v
	}
	newV := map[string]bool{}
	for _, v := range prevVnfcs(new) {
		newV[v.ID] = true
		o, ok := oldV[v.ID]
		switch {
		case !ok:
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeAdded))
		case o.ComputeResource.ResourceID != v.ComputeResource.ResourceID:
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeModified))
		}
	}
	for _, v := range prevVnfcs(old) {
		if !newV[v.ID] {
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeRemoved))
		}
	}
	return rc
}

func affected(v model.VnfcResourceInfo, ct model.ChangeType) model.AffectedVnfc {
	return model.AffectedVnfc{ID: v.ID, VduID: v.VduID, ChangeType: ct, ComputeResource: v.ComputeResource, Metadata: v.Metadata}
}

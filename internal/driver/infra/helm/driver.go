// Package helm is the infrastructure driver for CNFs deployed as Helm
// releases, with Tacker's v1 parameters (additionalParams
// using_helm_install_param, helm_replica_values, vdu_mapping): the VIM is
// a Kubernetes cluster (vimType ETSINFV.HELM.V_3, or a Kubernetes VIM with
// use_helm), charts come from the VNF package or an external repository.
//
// Helm runs in-process with the SDK by default, or as the helm CLI on a
// master node over SSH (additionalParams.helm_transport "ssh", the VIM's
// extra.helm_info), as Tacker v1 does; pods are read, waited for and
// healed through the Kubernetes API either way.
//
// The driver keeps no state: the releases, their chart and values, and the
// workload behind each VDU go to Result.State. Every call is idempotent: a
// retried instantiate finds its release and upgrades it rather than
// installing a second one.
package helm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vnfm-project/vnfm/internal/driver"
	kinfra "github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// VimTypes are the vimType values the driver serves. Kubernetes VIMs
// reach it through the Kubernetes driver when use_helm is set (Wants).
var VimTypes = []string{"ETSINFV.HELM.V_3"}

// LabelInstance marks a release (its storage Secrets) with the VNF
// instance that owns it, so that a release of the same name belonging to
// another instance is never upgraded or uninstalled.
const LabelInstance = "vnfm.io/vnf-instance-id"

// Config tunes the driver.
type Config struct {
	// Log is used when a request carries no logger.
	Log *slog.Logger
	// DataDir holds the Helm repository config, index cache and downloaded
	// charts, one subdirectory per VNF instance (default: a directory in
	// the system's temporary directory).
	DataDir string
	// Timeout bounds each Helm action and each wait for workloads
	// (default 10m).
	Timeout time.Duration
}

// Driver drives Helm releases. It is safe for concurrent use.
type Driver struct {
	cfg Config
}

// New returns a Driver.
func New(cfg Config) *Driver {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(os.TempDir(), "vnfm-helm")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	return &Driver{cfg: cfg}
}

var (
	_ driver.Infra          = (*Driver)(nil)
	_ driver.ScaleToLeveler = (*Driver)(nil)
	_ driver.Rollbacker     = (*Driver)(nil)
)

// workload is a VDU's workload and the release that renders it.
type workload struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	VduID     string `json:"vduId"`
	Release   string `json:"release"`
}

func (w workload) kube() kinfra.Workload {
	return kinfra.Workload{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, VduID: w.VduID}
}

// relState is one release as the driver last made it.
type relState struct {
	Name  string   `json:"name"`
	Chart chartRef `json:"chart"`
	// Values are the release's user values: helmparameter, with the
	// replica paths at their current counts (what a re-install applies).
	Values   map[string]any `json:"values,omitempty"`
	Revision int            `json:"revision,omitempty"`
}

// state is the driver's Result.State.
type state struct {
	// Driver marks the state as this driver's (see Owns).
	Driver        string            `json:"driver"`
	Namespace     string            `json:"namespace"`
	Transport     string            `json:"transport"`
	Releases      []relState        `json:"releases"`
	ReplicaValues map[string]string `json:"replicaValues,omitempty"`
	Workloads     []workload        `json:"workloads,omitempty"`
	// Prev are the VDU counts before the scale OpOccID made, for its
	// rollback.
	Prev     map[string]int    `json:"prev,omitempty"`
	OpOccID  string            `json:"opOccId,omitempty"`
	HostKeys map[string]string `json:"hostKeys,omitempty"`
}

const stateMark = "helm"

// Owns reports whether a driver state (Result.State) was written by this
// driver: how a Kubernetes driver delegating use_helm instances tells
// them apart in operations after instantiate, whose parameters do not say.
func (d *Driver) Owns(state json.RawMessage) bool {
	var s struct {
		Driver string `json:"driver"`
	}
	return json.Unmarshal(state, &s) == nil && s.Driver == stateMark
}

func (s *state) raw() json.RawMessage {
	s.Driver = stateMark
	b, _ := json.Marshal(s)
	return b
}

func (s *state) release(name string) *relState {
	for i := range s.Releases {
		if s.Releases[i].Name == name {
			return &s.Releases[i]
		}
	}
	return nil
}

func (s *state) workload(vdu string) (workload, bool) {
	for _, w := range s.Workloads {
		if w.VduID == vdu {
			return w, true
		}
	}
	return workload{}, false
}

func (s *state) kubeWorkloads() []kinfra.Workload {
	out := make([]kinfra.Workload, 0, len(s.Workloads))
	for _, w := range s.Workloads {
		out = append(out, w.kube())
	}
	return out
}

func readState(raw json.RawMessage) (*state, error) {
	st := &state{}
	if len(raw) == 0 || string(raw) == "null" {
		return st, nil
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("helm: decode driver state: %w", err)
	}
	return st, nil
}

// call is one driver call: the request, its logger, the Kubernetes client
// and the Helm transport.
type call struct {
	d    *Driver
	req  *driver.Request
	log  *slog.Logger
	st   *state
	kube kubernetes.Interface
	rc   *rest.Config
	info *helmInfo // helm_info, for the ssh transport
	tr   transport // opened by helm()
}

// begin opens the VIM's Kubernetes client and the Helm transport st names.
func (d *Driver) begin(ctx context.Context, req *driver.Request, st *state) (*call, error) {
	log := req.Log
	if log == nil {
		log = d.cfg.Log
	}
	if req.Instance == nil || req.Instance.ID == "" {
		return nil, errors.New("helm: request without a VNF instance")
	}
	id := req.Instance.ID
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil, unprocessable("the VNF instance id is not usable as a directory name", nil)
	}
	if req.Vim == nil {
		return nil, unprocessable("no vimConnectionInfo for the Helm driver", nil)
	}
	c := &call{d: d, req: req, st: st}
	c.log = log.With("driver", "helm", "operation", string(req.Operation), "vnf_instance_id", id,
		"op_occ_id", req.OpOccID, "namespace", st.Namespace, "transport", st.Transport)
	rc, err := kinfra.Connect(req.Vim)
	if err != nil {
		return nil, err
	}
	if c.kube, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, unprocessable("Kubernetes client for the VIM", err)
	}
	c.rc = rc
	if st.Transport == transportSSH {
		// Checked now, so that bad helm_info fails before anything is done.
		if c.info, err = parseHelmInfo(req.Vim); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// helm opens the Helm transport on first use: a SOL002 heal needs none,
// and must not depend on a master node being reachable.
func (c *call) helm(ctx context.Context) (transport, error) {
	if c.tr != nil {
		return c.tr, nil
	}
	var err error
	if c.st.Transport == transportSSH {
		if c.st.HostKeys == nil {
			c.st.HostKeys = map[string]string{}
		}
		c.tr, err = dialSSH(ctx, c.info, c.st.HostKeys, c.st.Namespace, c.req.Instance.ID, c.d.cfg.Timeout, c.log)
	} else {
		c.tr, err = newSDK(c.rc, c.st.Namespace, filepath.Join(c.d.cfg.DataDir, c.req.Instance.ID), c.d.cfg.Timeout, c.log)
	}
	if err != nil {
		c.tr = nil
		return nil, err
	}
	return c.tr, nil
}

// end closes the transport and logs the outcome.
func (c *call) end(what string, start time.Time, err error) {
	if c.tr != nil {
		_ = c.tr.Close()
	}
	if err != nil {
		c.log.Warn(what+" failed", "duration", time.Since(start).Round(time.Millisecond), "err", err)
		return
	}
	c.log.Info(what+" done", "duration", time.Since(start).Round(time.Millisecond))
}

func (c *call) labels() map[string]string {
	return map[string]string{LabelInstance: c.req.Instance.ID}
}

// spec is what release rs should be; a packaged chart is read from the
// VNF package when there is one.
func (c *call) spec(rs *relState, vals map[string]any, reuse bool) *spec {
	sp := &spec{Name: rs.Name, Chart: rs.Chart, Values: vals, Reuse: reuse, Labels: c.labels()}
	if rs.Chart.File != "" && c.req.Package != nil {
		b, err := fs.ReadFile(c.req.Package, rs.Chart.File)
		if err != nil {
			c.log.Warn("cannot read the chart from the VNF package", "chart", rs.Chart.File, "err", err)
		} else {
			sp.Archive = b
		}
	}
	return sp
}

// owned fails (409) when a release of that name exists in the namespace
// and belongs to someone else: another VNF instance, or nobody vnfm knows.
// The check reads the release's storage Secrets, which carry its labels
// whatever the transport.
func (c *call) owned(ctx context.Context, name string) error {
	list, err := c.kube.CoreV1().Secrets(c.st.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		return classify("list the records of Helm release "+name, err)
	}
	if len(list.Items) == 0 {
		return nil
	}
	owner := ""
	for _, s := range list.Items {
		if o := s.Labels[LabelInstance]; o == c.req.Instance.ID {
			return nil
		} else if o != "" {
			owner = o
		}
	}
	if owner != "" {
		return conflict(fmt.Sprintf("Helm release %s in namespace %s belongs to VNF instance %s: choose another helmreleasename", name, c.st.Namespace, owner))
	}
	return conflict(fmt.Sprintf("Helm release %s in namespace %s exists and was not installed by vnfm for this VNF instance: choose another helmreleasename", name, c.st.Namespace))
}

// ensure brings release rs to its chart and values: install it, or
// upgrade the one an earlier attempt left (deployed or failed).
func (c *call) ensure(ctx context.Context, rs *relState) (*release.Release, error) {
	if err := c.owned(ctx, rs.Name); err != nil {
		return nil, err
	}
	tr, err := c.helm(ctx)
	if err != nil {
		return nil, err
	}
	last, err := tr.Last(ctx, rs.Name)
	if err != nil {
		return nil, err
	}
	sp := c.spec(rs, rs.Values, false)
	var r *release.Release
	if last == nil {
		c.log.Info("installing Helm release", "release", rs.Name, "chart", rs.Chart.String())
		r, err = tr.Install(ctx, sp)
	} else {
		status := ""
		if last.Info != nil {
			status = string(last.Info.Status)
		}
		c.log.Info("Helm release exists, upgrading it to the requested chart and values", "release", rs.Name, "revision", last.Version, "status", status)
		r, err = tr.Upgrade(ctx, sp)
	}
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("Helm release %s vanished after its installation", rs.Name)
	}
	if rs.Chart.File == "" && rs.Chart.Version == "" && r.Chart != nil && r.Chart.Metadata != nil {
		rs.Chart.Version = r.Chart.Metadata.Version
	}
	rs.Revision = r.Version
	return r, nil
}

// remove uninstalls the releases (last first), forgets their
// repositories and deletes the instance's Helm files. Releases that are
// gone are fine; releases of someone else are left alone.
func (c *call) remove(ctx context.Context) error {
	tr, err := c.helm(ctx)
	if err != nil {
		return err
	}
	for i := len(c.st.Releases) - 1; i >= 0; i-- {
		rs := c.st.Releases[i]
		if err := c.owned(ctx, rs.Name); err != nil {
			var pe *driver.ProblemError
			if errors.As(err, &pe) && pe.Status == http.StatusConflict {
				c.log.Warn("not uninstalling a Helm release of someone else", "release", rs.Name, "err", err)
				continue
			}
			return err
		}
		c.log.Info("uninstalling Helm release", "release", rs.Name)
		if err := tr.Uninstall(ctx, rs.Name); err != nil {
			return err
		}
	}
	done := map[string]bool{}
	for _, rs := range c.st.Releases {
		if r := rs.Chart.Repo; r != "" && !done[r] {
			done[r] = true
			if err := tr.RepoRemove(ctx, r); err != nil {
				return err
			}
		}
	}
	return tr.Cleanup(ctx)
}

func vnfcsOf(info *model.InstantiatedVnfInfo) []model.VnfcResourceInfo {
	if info == nil {
		return nil
	}
	return info.VnfcResourceInfo
}

// newInfo is prev (or an empty info) with the VNFCs replaced.
func newInfo(prev *model.InstantiatedVnfInfo, vnfcs []model.VnfcResourceInfo) *model.InstantiatedVnfInfo {
	out := &model.InstantiatedVnfInfo{}
	if prev != nil {
		*out = *prev
		out.ScaleStatus = slices.Clone(prev.ScaleStatus)
	}
	out.VnfcResourceInfo = vnfcs
	return out
}

// Instantiate installs the releases using_helm_install_param lists, maps
// each VDU to its workload, sets the replicas of the instantiation level
// through helm_replica_values, and records one VNFC per pod.
func (d *Driver) Instantiate(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p instantiateParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	var f *vnfd.Flavour
	if req.Vnfd != nil {
		if p.FlavourID == "" {
			return nil, unprocessable("flavourId is missing", nil)
		}
		var ok bool
		if f, ok = req.Vnfd.Flavour(p.FlavourID); !ok {
			return nil, unprocessable(fmt.Sprintf("flavour %q is not in the VNFD", p.FlavourID), nil)
		}
		if p.InstantiationLevelID != "" {
			if _, ok := f.Scaling.Levels[p.InstantiationLevelID]; !ok {
				return nil, unprocessable(fmt.Sprintf("instantiationLevelId %q is not a level of flavour %s", p.InstantiationLevelID, f.ID), nil)
			}
		}
	}
	hp, err := parseParams(p.AdditionalParams, req.Vim, f, req.Package)
	if err != nil {
		return nil, err
	}
	for _, ip := range hp.Installs {
		if !ip.External && req.Package == nil {
			return nil, unprocessable("helmchartfile_path "+ip.ChartFile+": the VNF instance has no package", nil)
		}
	}
	prev, err := readState(req.State)
	if err != nil {
		return nil, err
	}
	st := &state{Namespace: hp.Namespace, Transport: hp.Transport, ReplicaValues: hp.ReplicaValues, HostKeys: prev.HostKeys, OpOccID: req.OpOccID}
	c, err := d.begin(ctx, req, st)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("instantiate", start, err) }()

	// The instances of each scalable VDU at the level, set through its
	// aspect's replica value; before the install when the VDU's release is
	// known, after (an upgrade) otherwise.
	desired := map[string]int{}
	if f != nil {
		for _, v := range f.VDUs() {
			if len(f.AspectsOf(v.Name)) > 0 {
				desired[v.Name] = f.InstancesAt(v.Name, p.InstantiationLevelID)
			}
		}
	}
	releaseOf := func(vdu string) string {
		if m, ok := hp.VduMapping[vdu]; ok && m.Release != "" {
			return m.Release
		}
		if len(hp.Installs) == 1 {
			return hp.Installs[0].Release
		}
		return ""
	}
	var objs []object
	preset := map[string]bool{} // VDUs whose replicas went into the install
	for _, ip := range hp.Installs {
		vals, err := ip.values()
		if err != nil {
			return nil, err
		}
		rs := relState{Name: ip.Release, Values: vals}
		if ip.External {
			rs.Chart = chartRef{Repo: ip.RepoName, RepoURL: ip.RepoURL, Name: ip.ChartName, Version: ip.Version}
		} else {
			rs.Chart = chartRef{File: ip.ChartFile}
		}
		for _, vdu := range sortedKeys(desired) {
			if releaseOf(vdu) == ip.Release {
				if err := setPath(rs.Values, replicaPath(f, st.ReplicaValues, vdu, ""), desired[vdu]); err != nil {
					return nil, err
				}
				preset[vdu] = true
			}
		}
		r, err := c.ensure(ctx, &rs)
		if err != nil {
			return nil, err
		}
		st.Releases = append(st.Releases, rs)
		o, err := parseManifest(rs.Name, r.Manifest, st.Namespace)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	workloads, byVdu, err := mapVdus(f, hp.VduMapping, objs)
	if err != nil {
		return nil, err
	}
	st.Workloads = workloads
	if err := c.fixReplicas(ctx, f, desired, preset, byVdu); err != nil {
		return nil, err
	}
	if err := kinfra.WaitReady(ctx, c.kube, st.kubeWorkloads(), d.cfg.Timeout); err != nil {
		return nil, err
	}
	vnfcs, err := kinfra.Vnfcs(ctx, c.kube, req.Vim.ID, st.kubeWorkloads(), vnfcsOf(req.Info))
	if err != nil {
		return nil, err
	}
	info := newInfo(req.Info, vnfcs)
	info.FlavourID = p.FlavourID
	if info.VnfState == "" {
		info.VnfState = model.VnfStarted
	}
	if f != nil {
		info.ScaleStatus = nil
		levels := f.ScaleLevelsAt(p.InstantiationLevelID)
		for _, a := range sortedKeys(levels) {
			info.ScaleStatus = append(info.ScaleStatus, model.ScaleInfo{AspectID: a, ScaleLevel: levels[a]})
		}
	}
	return &driver.Result{State: st.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(vnfcsOf(req.Info), vnfcs)}, nil
}

// replicaPath is the values path of a VDU's replicas: that of aspect (when
// given), else of the first of the VDU's aspects that has one.
func replicaPath(f *vnfd.Flavour, paths map[string]string, vdu, aspect string) string {
	if p := paths[aspect]; aspect != "" && p != "" {
		return p
	}
	if f != nil {
		for _, a := range f.AspectsOf(vdu) {
			if p := paths[a]; p != "" {
				return p
			}
		}
	}
	return ""
}

// fixReplicas upgrades the releases whose rendered replicas differ from
// the level's (VDUs whose release was not known before the install), and
// fails when the replica value set at install did not reach the workload.
func (c *call) fixReplicas(ctx context.Context, f *vnfd.Flavour, desired map[string]int, preset map[string]bool, byVdu map[string]object) error {
	replicas := func(o object) int {
		if o.Replicas == nil {
			return 1
		}
		return *o.Replicas
	}
	fixes := map[string]map[string]any{}
	for _, vdu := range sortedKeys(desired) {
		o, ok := byVdu[vdu]
		if !ok || replicas(o) == desired[vdu] {
			continue
		}
		if o.Kind == kinfra.KindDaemonSet || o.Kind == kinfra.KindPod {
			return unprocessable(fmt.Sprintf("VDU %s is a %s, which has no replicas to set for its scaling aspect", vdu, o.Kind), nil)
		}
		path := replicaPath(f, c.st.ReplicaValues, vdu, "")
		rs := c.st.release(o.Release)
		if preset[vdu] {
			return unprocessable(fmt.Sprintf("VDU %s: the chart does not take the replicas of %s from %s %q (it renders %d, %d were set)",
				vdu, o, ParamReplicaValues, path, replicas(o), desired[vdu]), nil)
		}
		if fixes[o.Release] == nil {
			fixes[o.Release] = map[string]any{}
		}
		if err := setPath(fixes[o.Release], path, desired[vdu]); err != nil {
			return err
		}
		if err := setPath(rs.Values, path, desired[vdu]); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(fixes) {
		rs := c.st.release(name)
		c.log.Info("setting the instantiation level's replicas", "release", name)
		tr, err := c.helm(ctx)
		if err != nil {
			return err
		}
		r, err := tr.Upgrade(ctx, c.spec(rs, fixes[name], true))
		if err != nil {
			return err
		}
		rs.Revision = r.Version
	}
	return nil
}

// Terminate uninstalls the releases (waiting for their objects, pods
// included, to go), removes the repositories the instance added and its
// Helm files. GRACEFUL termination first waits gracefulTerminationTimeout.
func (d *Driver) Terminate(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p struct {
		TerminationType            string `json:"terminationType"`
		GracefulTerminationTimeout *int   `json:"gracefulTerminationTimeout"`
	}
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	st, err := readState(req.State)
	if err != nil {
		return nil, err
	}
	if len(st.Releases) == 0 {
		return &driver.Result{State: json.RawMessage("null"), ResourceChanges: diff(vnfcsOf(req.Info), nil)}, nil
	}
	c, err := d.begin(ctx, req, st)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("terminate", start, err) }()
	if p.TerminationType == "GRACEFUL" && p.GracefulTerminationTimeout != nil && *p.GracefulTerminationTimeout > 0 {
		wait := time.Duration(*p.GracefulTerminationTimeout) * time.Second
		c.log.Info("graceful termination: waiting before uninstalling", "timeout", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("graceful termination wait: %w", ctx.Err())
		case <-t.C:
		}
	}
	if err := c.remove(ctx); err != nil {
		return nil, err
	}
	return &driver.Result{State: json.RawMessage("null"), ResourceChanges: diff(vnfcsOf(req.Info), nil)}, nil
}

// Rollback undoes an operation: INSTANTIATE uninstalls what it installed
// (also when the failed step recorded nothing: the releases are then those
// of its parameters); SCALE and SCALE_TO_LEVEL put the VDU counts back.
func (d *Driver) Rollback(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	switch req.Operation {
	case model.OpInstantiate:
		st, err := readState(req.State)
		if err != nil {
			return nil, err
		}
		var p instantiateParams
		if err := decode(req.Params, &p); err != nil {
			return nil, err
		}
		if hp, perr := parseParams(p.AdditionalParams, req.Vim, nil, nil); perr == nil {
			if len(st.Releases) == 0 {
				st.Namespace, st.Transport = hp.Namespace, hp.Transport
			}
			for _, ip := range hp.Installs {
				if st.release(ip.Release) == nil {
					st.Releases = append(st.Releases, relState{Name: ip.Release, Chart: chartRef{Repo: ip.RepoName}})
				}
			}
		}
		if len(st.Releases) == 0 {
			return &driver.Result{State: json.RawMessage("null"), ResourceChanges: diff(vnfcsOf(req.Info), nil)}, nil
		}
		c, err := d.begin(ctx, req, st)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		defer func() { c.end("rollback of instantiate", start, err) }()
		if err := c.remove(ctx); err != nil {
			return nil, err
		}
		return &driver.Result{State: json.RawMessage("null"), ResourceChanges: diff(vnfcsOf(req.Info), nil)}, nil
	case model.OpScale, model.OpScaleToLevel:
		return d.restore(ctx, req)
	}
	return nil, fmt.Errorf("rollback of %s: %w", req.Operation, driver.ErrNotSupported)
}

// diff lists VNFCs added, removed, and modified (same id, another pod).
func diff(old, cur []model.VnfcResourceInfo) *model.ResourceChanges {
	rc := &model.ResourceChanges{}
	before := map[string]model.VnfcResourceInfo{}
	for _, v := range old {
		before[v.ID] = v
	}
	now := map[string]bool{}
	for _, v := range cur {
		now[v.ID] = true
		o, ok := before[v.ID]
		switch {
		case !ok:
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeAdded))
		case o.ComputeResource.ResourceID != v.ComputeResource.ResourceID:
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeModified))
		}
	}
	for _, v := range old {
		if !now[v.ID] {
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affected(v, model.ChangeRemoved))
		}
	}
	return rc
}

func affected(v model.VnfcResourceInfo, ct model.ChangeType) model.AffectedVnfc {
	return model.AffectedVnfc{ID: v.ID, VduID: v.VduID, ChangeType: ct, ComputeResource: v.ComputeResource, Metadata: v.Metadata}
}

package kubernetes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
	"github.com/vnfm-project/vnfm/test/k8slab"
)

const (
	sampleDir  = "../../../../test/samples/cnf-helm"
	deployFile = "Files/kubernetes/deployment.yaml"
	extraFile  = "Files/kubernetes/extra.yaml"
	secretData = "never-logged-7f3a9c"
	// Generous: the machine is shared, a step can take tens of seconds.
	readyTimeout = 4 * time.Minute
	vduSelector  = "app.kubernetes.io/instance=vdu1"
)

// TestLab runs the driver against one real control plane (etcd,
// kube-apiserver, controller-manager, scheduler, kwok nodes); every subtest
// has a namespace of its own.
func TestLab(t *testing.T) {
	cp := k8slab.StartControlPlane(t, 2)
	l := &lab{cp: cp, pkg: samplePackage(t), vnfd: sampleVNFD(t), logs: &syncBuffer{}}
	l.log = slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.d = kubernetes.New(kubernetes.Config{Log: l.log, ReadyTimeout: readyTimeout})

	t.Run("group", func(t *testing.T) {
		t.Run("lifecycle", l.testLifecycle)
		t.Run("instantiate at level 2, rollback", l.testLevelAndRollback)
		t.Run("scale rollback", l.testScaleRollback)
		t.Run("request errors", l.testErrors)
		t.Run("not ready", l.testNotReady)
		for _, kind := range []string{"StatefulSet", "ReplicaSet", "DaemonSet", "Pod"} {
			t.Run("workload "+kind, func(t *testing.T) { l.testWorkloadKind(t, kind) })
		}
	})
	assert.NotContains(t, l.logs.String(), secretData, "a Secret's data reached the log")
	assert.NotContains(t, l.logs.String(), cp.Token, "the bearer token reached the log")
	l.report(t)
}

type lab struct {
	cp   *k8slab.ControlPlane
	d    *kubernetes.Driver
	pkg  fs.FS
	vnfd *vnfd.VNFD
	log  *slog.Logger
	logs *syncBuffer

	mu      sync.Mutex
	timings []string
}

func (l *lab) timed(t *testing.T, what string, fn func() (*driver.Result, error)) (*driver.Result, error) {
	t.Helper()
	start := time.Now()
	res, err := fn()
	d := time.Since(start).Round(time.Millisecond)
	t.Logf("%s: %s (err=%v)", what, d, err)
	l.mu.Lock()
	l.timings = append(l.timings, fmt.Sprintf("%-48s %8s", t.Name()+" "+what, d))
	l.mu.Unlock()
	return res, err
}

func (l *lab) report(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("timings:\n%s", strings.Join(l.timings, "\n"))
}

// samplePackage is the cnf-helm sample with testdata/extra.yaml added as
// Files/kubernetes/extra.yaml.
func samplePackage(t *testing.T) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	require.NoError(t, fs.WalkDir(os.DirFS(sampleDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(sampleDir, p))
		out[p] = &fstest.MapFile{Data: b}
		return err
	}))
	b, err := os.ReadFile("testdata/extra.yaml")
	require.NoError(t, err)
	out[extraFile] = &fstest.MapFile{Data: b}
	return out
}

func sampleVNFD(t *testing.T) *vnfd.VNFD {
	t.Helper()
	v, err := vnfd.Parse(os.DirFS(sampleDir), "Definitions/cnf_helm_top.vnfd.yaml")
	require.NoError(t, err)
	return v
}

// instance is what lcm keeps of a VNF instance between operations.
type instance struct {
	l     *lab
	id    string
	ns    string
	vim   *model.VimConnectionInfo
	info  *model.InstantiatedVnfInfo
	state json.RawMessage
	pkg   fs.FS
	vnfd  *vnfd.VNFD
	kind  string // of VDU1's workload
}

func (l *lab) newInstance(t *testing.T) *instance {
	t.Helper()
	ns := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(strings.TrimPrefix(t.Name(), "TestLab/group/")))
	if len(ns) > 40 {
		ns = ns[:40]
	}
	ns = "t-" + strings.Trim(ns, "-") + "-" + uuid.NewString()[:6]
	_, err := l.cp.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return &instance{l: l, id: uuid.NewString(), ns: ns, pkg: l.pkg, vnfd: l.vnfd, kind: "Deployment", vim: &model.VimConnectionInfo{
		ID: "vim-lab", VimType: "ETSINFV.KUBERNETES.V_1",
		InterfaceInfo: map[string]any{"endpoint": l.cp.URL, "ssl_ca_cert": string(l.cp.CA)},
		AccessInfo:    map[string]any{"bearer_token": l.cp.Token},
	}}
}

func (in *instance) request(op model.Operation, params any) *driver.Request {
	raw, _ := json.Marshal(params)
	return &driver.Request{
		Operation: op, OpOccID: uuid.NewString(), Instance: &model.VnfInstance{ID: in.id},
		Vim: in.vim, Vnfd: in.vnfd, Package: in.pkg, Params: raw, State: in.state, Info: in.info, Log: in.l.log,
	}
}

// keep folds a result into the instance, as lcm does.
func (in *instance) keep(res *driver.Result) {
	if res.State != nil {
		in.state = res.State
	}
	if res.InstantiatedVnfInfo != nil {
		in.info = res.InstantiatedVnfInfo
	}
}

func (in *instance) instantiateParams(level string, files ...string) map[string]any {
	if len(files) == 0 {
		files = []string{deployFile, extraFile}
	}
	p := map[string]any{
		"flavourId":        "helmchart",
		"additionalParams": map[string]any{kubernetes.ParamDefFiles: files, "namespace": in.ns},
	}
	if level != "" {
		p["instantiationLevelId"] = level
	}
	return p
}

// pods are the VDU's live pods: name -> UID.
func (in *instance) pods(t *testing.T) map[string]types.UID {
	t.Helper()
	list, err := in.l.cp.Client.CoreV1().Pods(in.ns).List(context.Background(), metav1.ListOptions{LabelSelector: vduSelector})
	require.NoError(t, err)
	out := map[string]types.UID{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.UID
		}
	}
	return out
}

func vnfcPods(info *model.InstantiatedVnfInfo) map[string]string {
	out := map[string]string{}
	for _, v := range info.VnfcResourceInfo {
		out[v.ComputeResource.ResourceID] = v.ID
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkVnfcs: one VNFC per live pod, all of VDU1 on the Deployment.
func (in *instance) checkVnfcs(t *testing.T, want int) {
	t.Helper()
	pods := in.pods(t)
	require.Len(t, pods, want)
	require.Len(t, in.info.VnfcResourceInfo, want)
	assert.Equal(t, sortedKeys(pods), sortedKeys(vnfcPods(in.info)))
	for _, v := range in.info.VnfcResourceInfo {
		assert.Equal(t, "VDU1", v.VduID)
		assert.Equal(t, "vim-lab", v.ComputeResource.VimConnectionID)
		assert.Equal(t, in.kind, v.ComputeResource.VimLevelResourceType)
		assert.Equal(t, map[string]any{"namespace": in.ns, "workload": "vdu1-localhelm"}, v.Metadata)
	}
}

func changes(rc *model.ResourceChanges) map[model.ChangeType][]string {
	out := map[model.ChangeType][]string{}
	if rc == nil {
		return out
	}
	for _, a := range rc.AffectedVnfcs {
		out[a.ChangeType] = append(out[a.ChangeType], a.ID)
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func ids(info *model.InstantiatedVnfInfo) []string {
	var out []string
	for _, v := range info.VnfcResourceInfo {
		out = append(out, v.ID)
	}
	sort.Strings(out)
	return out
}

func (in *instance) level() int {
	for _, s := range in.info.ScaleStatus {
		if s.AspectID == "vdu1_aspect" {
			return s.ScaleLevel
		}
	}
	return 0
}

// scale runs a ScaleVnfRequest and sets scaleStatus as lcm does.
func (in *instance) scale(t *testing.T, typ string, n int) (*driver.Result, error) {
	t.Helper()
	req := in.request(model.OpScale, map[string]any{"type": typ, "aspectId": "vdu1_aspect", "numberOfSteps": n})
	res, err := in.l.timed(t, fmt.Sprintf("scale %s %d", typ, n), func() (*driver.Result, error) { return in.l.d.Scale(context.Background(), req) })
	if err != nil {
		return nil, err
	}
	lvl := in.level()
	if typ == "SCALE_OUT" {
		lvl += n
	} else {
		lvl -= n
	}
	in.keep(res)
	in.info.ScaleStatus = []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: lvl}}
	return res, nil
}

func problem(t *testing.T, err error, status int) *driver.ProblemError {
	t.Helper()
	var pe *driver.ProblemError
	require.True(t, errors.As(err, &pe), "want ProblemError %d, got %v", status, err)
	assert.Equal(t, status, pe.Status, pe.Error())
	return pe
}

// empty checks that nothing of what the driver applied is left in the
// namespace: every kind the manifests hold, and the ReplicaSets and pods
// the Deployment made.
func (in *instance) empty(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := in.l.cp.Client
	var left []string
	deps, err := c.AppsV1().Deployments(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range deps.Items {
		left = append(left, "Deployment "+x.Name)
	}
	stss, err := c.AppsV1().StatefulSets(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range stss.Items {
		left = append(left, "StatefulSet "+x.Name)
	}
	dss, err := c.AppsV1().DaemonSets(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range dss.Items {
		left = append(left, "DaemonSet "+x.Name)
	}
	rss, err := c.AppsV1().ReplicaSets(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range rss.Items {
		left = append(left, "ReplicaSet "+x.Name)
	}
	pods, err := c.CoreV1().Pods(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range pods.Items {
		left = append(left, "Pod "+x.Name)
	}
	svcs, err := c.CoreV1().Services(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range svcs.Items {
		left = append(left, "Service "+x.Name)
	}
	cms, err := c.CoreV1().ConfigMaps(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range cms.Items {
		if x.Name != "kube-root-ca.crt" { // every namespace has it
			left = append(left, "ConfigMap "+x.Name)
		}
	}
	secrets, err := c.CoreV1().Secrets(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, x := range secrets.Items {
		left = append(left, "Secret "+x.Name)
	}
	assert.Empty(t, left, "left in namespace %s", in.ns)
}

func (l *lab) testLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInstance(t)
	c := l.cp.Client

	// Instantiate: Deployment, Service, ConfigMap, Secret; one pod.
	res, err := l.timed(t, "instantiate", func() (*driver.Result, error) {
		return l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("")))
	})
	require.NoError(t, err)
	in.keep(res)
	dep, err := c.AppsV1().Deployments(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(1), dep.Status.AvailableReplicas)
	for _, get := range []func() error{
		func() error {
			_, err := c.CoreV1().Services(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := c.CoreV1().ConfigMaps(in.ns).Get(ctx, "vdu1-config", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := c.CoreV1().Secrets(in.ns).Get(ctx, "vdu1-secret", metav1.GetOptions{})
			return err
		},
	} {
		require.NoError(t, get())
	}
	assert.True(t, slices.ContainsFunc(dep.ManagedFields, func(m metav1.ManagedFieldsEntry) bool {
		return m.Manager == "vnfm" && m.Operation == metav1.ManagedFieldsOperationApply
	}), "server-side applied by vnfm")
	in.checkVnfcs(t, 1)
	assert.Equal(t, "helmchart", in.info.FlavourID)
	assert.Equal(t, model.VnfStarted, in.info.VnfState)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 0}}, in.info.ScaleStatus)
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeAdded: ids(in.info)}, changes(res.ResourceChanges))
	var st map[string]any
	require.NoError(t, json.Unmarshal(in.state, &st))
	assert.Equal(t, in.ns, st["namespace"])
	assert.Len(t, st["objects"], 4)
	assert.Equal(t, []any{map[string]any{"kind": "Deployment", "namespace": in.ns, "name": "vdu1-localhelm", "vduId": "VDU1"}}, st["workloads"])
	assert.NotContains(t, string(in.state), secretData)

	// Instantiate again (a retried step): nothing changes.
	again, err := l.timed(t, "instantiate again", func() (*driver.Result, error) {
		return l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("")))
	})
	require.NoError(t, err)
	assert.Equal(t, ids(in.info), ids(again.InstantiatedVnfInfo), "VNFC ids are stable")
	assert.Empty(t, changes(again.ResourceChanges))

	// Scale out by one, then one more: 3 pods, known VNFCs keep their ids.
	first := ids(in.info)
	res, err = in.scale(t, "SCALE_OUT", 1)
	require.NoError(t, err)
	in.checkVnfcs(t, 2)
	assert.Subset(t, ids(in.info), first)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeAdded], 1)
	assert.Len(t, changes(res.ResourceChanges), 1)
	res, err = in.scale(t, "SCALE_OUT", 1)
	require.NoError(t, err)
	in.checkVnfcs(t, 3)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeAdded], 1)

	// Beyond max_scale_level 2 / max_number_of_instances 3: 422, nothing
	// touched.
	before := in.pods(t)
	_, err = in.scale(t, "SCALE_OUT", 1)
	assert.Contains(t, problem(t, err, 422).Error(), "outside 0..2")
	assert.Equal(t, before, in.pods(t))

	// Scale in by one: the VNFC whose pod went is REMOVED.
	three := ids(in.info)
	res, err = in.scale(t, "SCALE_IN", 1)
	require.NoError(t, err)
	in.checkVnfcs(t, 2)
	rc := changes(res.ResourceChanges)
	require.Len(t, rc[model.ChangeRemoved], 1)
	assert.Len(t, rc, 1)
	assert.Contains(t, three, rc[model.ChangeRemoved][0])
	assert.NotContains(t, ids(in.info), rc[model.ChangeRemoved][0])

	// Heal SOL002: exactly the named pod is replaced, its VNFC keeps its
	// id, the other pod is untouched.
	before = in.pods(t)
	target := in.info.VnfcResourceInfo[0]
	other := in.info.VnfcResourceInfo[1]
	res, err = l.timed(t, "heal SOL002 (1 VNFC)", func() (*driver.Result, error) {
		return l.d.Heal(ctx, in.request(model.OpHeal, map[string]any{"vnfcInstanceId": []string{target.ID}, "cause": "test"}))
	})
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, 2)
	after := in.pods(t)
	assert.NotContains(t, after, target.ComputeResource.ResourceID, "the healed pod is gone")
	assert.Equal(t, before[other.ComputeResource.ResourceID], after[other.ComputeResource.ResourceID], "the other pod is untouched")
	assert.ElementsMatch(t, []string{target.ID, other.ID}, ids(in.info))
	healedPod := podOf(in.info, target.ID)
	assert.NotEqual(t, target.ComputeResource.ResourceID, healedPod)
	assert.Contains(t, after, healedPod)
	assert.Equal(t, other.ComputeResource.ResourceID, podOf(in.info, other.ID))
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeModified: {target.ID}}, changes(res.ResourceChanges))

	// Heal SOL002 with an unknown VNFC: 422.
	_, err = l.d.Heal(ctx, in.request(model.OpHeal, map[string]any{"vnfcInstanceId": []string{"nope"}}))
	problem(t, err, 422)

	// Heal SOL003: the Deployment is re-created, every pod is new, the
	// VNFCs keep their ids, the replicas stay.
	before = in.pods(t)
	oldUID := dep.UID
	res, err = l.timed(t, "heal SOL003 (re-create)", func() (*driver.Result, error) {
		return l.d.Heal(ctx, in.request(model.OpHeal, map[string]any{"cause": "test"}))
	})
	require.NoError(t, err)
	prevIDs := ids(in.info)
	in.keep(res)
	in.checkVnfcs(t, 2)
	dep, err = c.AppsV1().Deployments(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, oldUID, dep.UID, "the Deployment was re-created")
	for name := range in.pods(t) {
		assert.NotContains(t, before, name, "every pod is new")
	}
	assert.Equal(t, prevIDs, ids(in.info))
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeModified: prevIDs}, changes(res.ResourceChanges))

	// Scale to level 1 (one pod).
	req := in.request(model.OpScaleToLevel, map[string]any{"instantiationLevelId": "instantiation_level_1"})
	res, err = l.timed(t, "scale to level 1", func() (*driver.Result, error) { return l.d.ScaleToLevel(ctx, req) })
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, 1)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 0}}, in.info.ScaleStatus)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeRemoved], 1)

	// Terminate (graceful, 5 s): nothing is left.
	last := ids(in.info)
	res, err = l.timed(t, "terminate GRACEFUL", func() (*driver.Result, error) {
		return l.d.Terminate(ctx, in.request(model.OpTerminate, map[string]any{"terminationType": "GRACEFUL", "gracefulTerminationTimeout": 5}))
	})
	require.NoError(t, err)
	assert.Equal(t, "null", string(res.State))
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeRemoved: last}, changes(res.ResourceChanges))
	in.empty(t)

	// Terminate again (a retried step): nothing to do, no error.
	in.keep(res)
	in.state = nil
	_, err = l.d.Terminate(ctx, in.request(model.OpTerminate, map[string]any{"terminationType": "FORCEFUL"}))
	require.NoError(t, err)
}

func podOf(info *model.InstantiatedVnfInfo, id string) string {
	i := slices.IndexFunc(info.VnfcResourceInfo, func(v model.VnfcResourceInfo) bool { return v.ID == id })
	if i < 0 {
		return ""
	}
	return info.VnfcResourceInfo[i].ComputeResource.ResourceID
}

func (l *lab) testLevelAndRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInstance(t)
	params := in.instantiateParams("instantiation_level_2")
	res, err := l.timed(t, "instantiate at level 2 (3 pods)", func() (*driver.Result, error) {
		return l.d.Instantiate(ctx, in.request(model.OpInstantiate, params))
	})
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, 3)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 2}}, in.info.ScaleStatus)

	// The rollback of an instantiation whose step failed gets no state:
	// the driver finds the objects from the request's manifests.
	req := in.request(model.OpInstantiate, params)
	req.State, req.Rollback = nil, true
	res, err = l.timed(t, "rollback of instantiate (no state)", func() (*driver.Result, error) { return l.d.Rollback(ctx, req) })
	require.NoError(t, err)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeRemoved], 3)
	in.empty(t)
}

func (l *lab) testScaleRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInstance(t)
	res, err := l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("", deployFile)))
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, 1)

	req := in.request(model.OpScale, map[string]any{"type": "SCALE_OUT", "aspectId": "vdu1_aspect", "numberOfSteps": 2})
	res, err = l.d.Scale(ctx, req)
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, 3)

	// The operation failed later (a mgmt hook, say): undo the scale.
	back := in.request(model.OpScale, nil)
	back.OpOccID, back.Params, back.Rollback = req.OpOccID, req.Params, true
	res, err = l.timed(t, "rollback of scale out 2", func() (*driver.Result, error) { return l.d.Rollback(ctx, back) })
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, 1)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeRemoved], 2)

	res, err = l.timed(t, "terminate FORCEFUL", func() (*driver.Result, error) {
		return l.d.Terminate(ctx, in.request(model.OpTerminate, map[string]any{"terminationType": "FORCEFUL"}))
	})
	require.NoError(t, err)
	in.empty(t)
}

func (l *lab) testErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInstance(t)
	with := func(name, content string) fs.FS {
		m := fstest.MapFS{}
		for k, v := range l.pkg.(fstest.MapFS) {
			m[k] = v
		}
		m[name] = &fstest.MapFile{Data: []byte(content)}
		return m
	}
	for _, tc := range []struct {
		name   string
		pkg    fs.FS
		files  []string
		ns     string
		status int
		want   string
	}{
		{name: "missing file", files: []string{deployFile, "Files/kubernetes/nope.yaml"}, status: 422, want: "Files/kubernetes/nope.yaml is not in the VNF package"},
		{name: "no workload for the VDU", files: []string{extraFile}, status: 422, want: `VDU VDU1: no Deployment, StatefulSet, ReplicaSet, DaemonSet or Pod named "vdu1-localhelm"`},
		{name: "bad YAML", pkg: with("Files/bad.yaml", "apiVersion: v1\nkind: [\n"), files: []string{deployFile, "Files/bad.yaml"}, status: 422, want: "Files/bad.yaml: document 1 is not valid YAML"},
		{name: "unknown kind", pkg: with("Files/widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\n"),
			files: []string{deployFile, "Files/widget.yaml"}, status: 422, want: "Widget w1 (Files/widget.yaml, document 1): kind Widget of apiVersion example.com/v1 is not served"},
		{name: "invalid object", pkg: with("Files/invalid.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n"),
			files: []string{deployFile, "Files/invalid.yaml"}, status: 422, want: "apply ConfigMap Not_Valid (Files/invalid.yaml, document 1)"},
		{name: "invalid Secret is not quoted", pkg: with("Files/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: "+secretData+"}\n"),
			files: []string{deployFile, "Files/secret.yaml"}, status: 422, want: "message withheld"},
		{name: "namespace missing", ns: "no-such-namespace", status: 422, want: "namespace no-such-namespace does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := *in
			if tc.pkg != nil {
				in.pkg = tc.pkg
			}
			if tc.ns != "" {
				in.ns = tc.ns
			}
			_, err := l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("", tc.files...)))
			pe := problem(t, err, tc.status)
			assert.Contains(t, pe.Error(), tc.want)
			assert.NotContains(t, pe.Error(), secretData)
		})
	}
	t.Run("refused credentials", func(t *testing.T) {
		in := *in
		in.vim = &model.VimConnectionInfo{ID: "vim-lab", VimType: "kubernetes",
			InterfaceInfo: map[string]any{"endpoint": l.cp.URL, "ssl_ca_cert": string(l.cp.CA)},
			AccessInfo:    map[string]any{"bearer_token": "wrong-token"}}
		_, err := l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("", deployFile)))
		pe := problem(t, err, 500)
		assert.Equal(t, "Kubernetes refused the request", pe.Title)
		assert.NotContains(t, pe.Error(), "wrong-token")
	})
	t.Run("unknown CA", func(t *testing.T) {
		in := *in
		in.vim = &model.VimConnectionInfo{ID: "vim-lab", VimType: "kubernetes",
			InterfaceInfo: map[string]any{"endpoint": l.cp.URL}, AccessInfo: map[string]any{"bearer_token": l.cp.Token}}
		_, err := l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("", deployFile)))
		assert.Contains(t, problem(t, err, 422).Error(), "ssl_ca_cert")
	})
	t.Run("API server down is transient", func(t *testing.T) {
		in := *in
		in.vim = &model.VimConnectionInfo{ID: "vim-lab", VimType: "kubernetes",
			InterfaceInfo: map[string]any{"endpoint": "https://127.0.0.1:1"}, AccessInfo: map[string]any{"bearer_token": "x"}}
		_, err := l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("", deployFile)))
		var te *driver.TransientError
		assert.True(t, errors.As(err, &te), "want TransientError, got %v", err)
	})
	// What the failing instantiations applied before failing is cleaned
	// by their rollback.
	req := in.request(model.OpInstantiate, in.instantiateParams("", deployFile, extraFile))
	req.Rollback = true
	_, err := l.d.Rollback(ctx, req)
	require.NoError(t, err)
	for _, name := range []string{"vdu1-localhelm"} {
		_, err := l.cp.Client.AppsV1().Deployments(in.ns).Get(ctx, name, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "%v", err)
	}
	cleanup(t, l.cp.Client, in.ns)
}

// cleanup removes what the error cases applied outside the driver's
// records (the ConfigMap of the invalid-object case never was).
func cleanup(t *testing.T, c k8s.Interface, ns string) {
	t.Helper()
	_ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
}

// testNotReady: a Deployment whose pods cannot be scheduled fails the
// instantiation with the scheduler's reason; its rollback cleans up.
func (l *lab) testNotReady(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInstance(t)
	raw, err := fs.ReadFile(l.pkg, deployFile)
	require.NoError(t, err)
	unschedulable := strings.Replace(string(raw), "      containers:", "      nodeSelector:\n        no-such-label: \"true\"\n      containers:", 1)
	require.NotEqual(t, string(raw), unschedulable)
	m := fstest.MapFS{}
	for k, v := range l.pkg.(fstest.MapFS) {
		m[k] = v
	}
	m[deployFile] = &fstest.MapFile{Data: []byte(unschedulable)}
	in.pkg = m
	quick := kubernetes.New(kubernetes.Config{Log: l.log, ReadyTimeout: 20 * time.Second})
	params := in.instantiateParams("", deployFile)
	_, err = l.timed(t, "instantiate unschedulable (20 s ready timeout)", func() (*driver.Result, error) {
		return quick.Instantiate(ctx, in.request(model.OpInstantiate, params))
	})
	pe := problem(t, err, 504)
	assert.Contains(t, pe.Error(), "Deployment "+in.ns+"/vdu1-localhelm: 0/1 available")
	assert.Contains(t, pe.Error(), "Unschedulable")

	req := in.request(model.OpInstantiate, params)
	req.Rollback = true
	_, err = l.timed(t, "rollback of failed instantiate", func() (*driver.Result, error) { return l.d.Rollback(ctx, req) })
	require.NoError(t, err)
	in.empty(t)
}

// workloadManifests are VDU1 as other kinds of workload.
var workloadManifests = map[string]string{
	"StatefulSet": `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: vdu1-localhelm}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/instance: vdu1}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: vdu1}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
`,
	"ReplicaSet": `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: vdu1-localhelm}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/instance: vdu1}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: vdu1}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
`,
	"DaemonSet": `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: vdu1-localhelm}
spec:
  selector: {matchLabels: {app.kubernetes.io/instance: vdu1}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: vdu1}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
`,
	"Pod": `apiVersion: v1
kind: Pod
metadata:
  name: vdu1-localhelm
  labels: {app.kubernetes.io/instance: vdu1}
spec: {containers: [{name: app, image: "nginx:1.27"}]}
`,
}

// withoutAspects is v with no scaling aspects: a DaemonSet's or a Pod's
// VDU cannot be scaled.
func withoutAspects(v *vnfd.VNFD) *vnfd.VNFD {
	cp := *v
	cp.DeploymentFlavours = map[string]*vnfd.Flavour{}
	for id, f := range v.DeploymentFlavours {
		g := *f
		g.Scaling = vnfd.Scaling{}
		cp.DeploymentFlavours[id] = &g
	}
	return &cp
}

// testWorkloadKind runs VDU1 as a StatefulSet, ReplicaSet, DaemonSet or
// bare Pod: instantiate, scale out (when it scales), heal one VNFC (for a
// StatefulSet and a Pod the replacement has the same name), heal the VNF,
// terminate.
func (l *lab) testWorkloadKind(t *testing.T, kind string) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInstance(t)
	in.kind = kind
	file := "Files/kubernetes/" + strings.ToLower(kind) + ".yaml"
	m := fstest.MapFS{}
	for k, v := range l.pkg.(fstest.MapFS) {
		m[k] = v
	}
	m[file] = &fstest.MapFile{Data: []byte(workloadManifests[kind])}
	in.pkg = m
	want := 1
	switch kind {
	case "DaemonSet":
		in.vnfd, want = withoutAspects(l.vnfd), len(l.cp.Nodes)
	case "Pod":
		in.vnfd = withoutAspects(l.vnfd)
	}
	res, err := l.timed(t, "instantiate", func() (*driver.Result, error) {
		return l.d.Instantiate(ctx, in.request(model.OpInstantiate, in.instantiateParams("", file, extraFile)))
	})
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, want)

	if kind == "StatefulSet" || kind == "ReplicaSet" {
		_, err := in.scale(t, "SCALE_OUT", 1)
		require.NoError(t, err)
		want++
		in.checkVnfcs(t, want)
	} else {
		_, err := in.scale(t, "SCALE_OUT", 1)
		problem(t, err, 422)
	}

	before := in.pods(t)
	target := in.info.VnfcResourceInfo[0]
	res, err = l.timed(t, "heal SOL002 (1 VNFC)", func() (*driver.Result, error) {
		return l.d.Heal(ctx, in.request(model.OpHeal, map[string]any{"vnfcInstanceId": []string{target.ID}}))
	})
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, want)
	after := in.pods(t)
	healed := podOf(in.info, target.ID)
	require.Contains(t, after, healed)
	assert.NotEqual(t, before[target.ComputeResource.ResourceID], after[healed], "a new pod")
	for _, v := range in.info.VnfcResourceInfo {
		if v.ID != target.ID {
			assert.Equal(t, before[v.ComputeResource.ResourceID], after[v.ComputeResource.ResourceID], "untouched: %s", v.ComputeResource.ResourceID)
		}
	}
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeModified: {target.ID}}, changes(res.ResourceChanges))

	prevIDs := ids(in.info)
	before = in.pods(t)
	res, err = l.timed(t, "heal SOL003 (re-create)", func() (*driver.Result, error) {
		return l.d.Heal(ctx, in.request(model.OpHeal, map[string]any{}))
	})
	require.NoError(t, err)
	in.keep(res)
	in.checkVnfcs(t, want)
	assert.Equal(t, prevIDs, ids(in.info))
	for name, uid := range in.pods(t) {
		assert.NotEqual(t, before[name], uid, "pod %s is new", name)
	}

	_, err = l.timed(t, "terminate FORCEFUL", func() (*driver.Result, error) {
		return l.d.Terminate(ctx, in.request(model.OpTerminate, map[string]any{"terminationType": "FORCEFUL"}))
	})
	require.NoError(t, err)
	in.empty(t)
}

// syncBuffer is a log sink shared by parallel subtests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	helmtime "helm.sh/helm/v3/pkg/time"

	"github.com/vnfm-project/vnfm/internal/driver"
	kinfra "github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/driver/scaling"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
	"github.com/vnfm-project/vnfm/test/k8slab"
)

const (
	chartFile = "Files/kubernetes/localhelm-0.1.0.tgz"
	// secretValue goes in as a helmparameter and must reach no log line.
	secretValue = "never-logged-5b8e1d"
	// Generous: the machine is shared, a step can take tens of seconds.
	readyTimeout = 4 * time.Minute
	podSelector  = "app.kubernetes.io/name=localhelm"
)

// TestLab runs the driver against one real control plane (etcd,
// kube-apiserver, controller-manager, scheduler, kwok nodes); every subtest
// has a namespace of its own.
func TestLab(t *testing.T) {
	cp := k8slab.StartControlPlane(t, 2)
	v, err := vnfd.Parse(os.DirFS(sampleDir), "Definitions/cnf_helm_top.vnfd.yaml")
	require.NoError(t, err)
	l := &lab{cp: cp, pkg: os.DirFS(sampleDir), vnfd: v, logs: &syncBuffer{}, dataDir: t.TempDir()}
	l.log = slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l.d = New(Config{Log: l.log, DataDir: l.dataDir, Timeout: readyTimeout})

	t.Run("group", func(t *testing.T) {
		t.Run("package chart lifecycle", l.testPackageChart)
		t.Run("external repository", l.testExternalRepo)
		t.Run("helm CLI over SSH", l.testSSH)
		t.Run("release of another instance", l.testForeignRelease)
		t.Run("two releases", l.testTwoReleases)
		t.Run("wrong replica value", l.testWrongReplicaValue)
		t.Run("stuck release", l.testStuckRelease)
	})
	if t.Failed() || os.Getenv("VNFM_TEST_LOG") != "" {
		t.Logf("driver log:\n%s", l.logs.String())
	}
	assert.NotContains(t, l.logs.String(), secretValue, "a helmparameter value reached the log")
	assert.NotContains(t, l.logs.String(), cp.Token, "the bearer token reached the log")
	l.mu.Lock()
	t.Logf("timings:\n%s", strings.Join(l.timings, "\n"))
	l.mu.Unlock()
}

type lab struct {
	cp      *k8slab.ControlPlane
	d       *Driver
	pkg     fs.FS
	vnfd    *vnfd.VNFD
	log     *slog.Logger
	logs    *syncBuffer
	dataDir string

	mu      sync.Mutex
	timings []string
}

// inst is what lcm keeps of a VNF instance between operations.
type inst struct {
	l     *lab
	id    string
	ns    string
	vim   *model.VimConnectionInfo
	info  *model.InstantiatedVnfInfo
	state json.RawMessage
}

func (l *lab) newInst(t *testing.T, ns string) *inst {
	t.Helper()
	if ns == "" {
		ns = "h-" + strings.Trim(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(strings.TrimPrefix(t.Name(), "TestLab/group/"))), "-") + "-" + uuid.NewString()[:6]
		_, err := l.cp.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	return &inst{l: l, id: uuid.NewString(), ns: ns, vim: &model.VimConnectionInfo{
		ID: "vim-lab", VimType: "ETSINFV.HELM.V_3",
		InterfaceInfo: map[string]any{"endpoint": l.cp.URL, "ssl_ca_cert": string(l.cp.CA)},
		AccessInfo:    map[string]any{"bearer_token": l.cp.Token},
	}}
}

func (in *inst) req(op model.Operation, params any) *driver.Request {
	raw, _ := json.Marshal(params)
	return &driver.Request{
		Operation: op, OpOccID: uuid.NewString(), Instance: &model.VnfInstance{ID: in.id},
		Vim: in.vim, Vnfd: in.l.vnfd, Package: in.l.pkg, Params: raw, State: in.state, Info: in.info, Log: in.l.log,
	}
}

// do runs one driver call, timed, and folds its result into the instance
// as lcm does (scaleStatus of a SCALE included).
func (in *inst) do(t *testing.T, what string, req *driver.Request, fn func(context.Context, *driver.Request) (*driver.Result, error)) (*driver.Result, error) {
	t.Helper()
	start := time.Now()
	res, err := fn(context.Background(), req)
	d := time.Since(start).Round(time.Millisecond)
	t.Logf("%s: %s (err=%v)", what, d, err)
	in.l.mu.Lock()
	in.l.timings = append(in.l.timings, fmt.Sprintf("%-62s %8s", strings.TrimPrefix(t.Name(), "TestLab/group/")+": "+what, d))
	in.l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if res.State != nil {
		in.state = res.State
	}
	if res.InstantiatedVnfInfo != nil {
		in.info = res.InstantiatedVnfInfo
	}
	if req.Operation == model.OpScale && !req.Rollback {
		var p scaleParams
		require.NoError(t, json.Unmarshal(req.Params, &p))
		n := 1
		if p.NumberOfSteps != nil {
			n = *p.NumberOfSteps
		}
		if p.Type == "SCALE_IN" {
			n = -n
		}
		in.info.ScaleStatus = scaling.SetLevel(in.info.ScaleStatus, p.AspectID, scaling.CurrentLevel(in.info, p.AspectID)+n)
	}
	return res, nil
}

func (in *inst) must(t *testing.T, what string, req *driver.Request, fn func(context.Context, *driver.Request) (*driver.Result, error)) *driver.Result {
	t.Helper()
	res, err := in.do(t, what, req, fn)
	require.NoError(t, err, what)
	return res
}

func (in *inst) params(level string, add map[string]any) map[string]any {
	a := map[string]any{"namespace": in.ns, "use_helm": "true",
		"helm_replica_values": map[string]any{"vdu1_aspect": "replicaCount"}}
	for k, v := range add {
		a[k] = v
	}
	p := map[string]any{"flavourId": "helmchart", "additionalParams": a}
	if level != "" {
		p["instantiationLevelId"] = level
	}
	return p
}

func localChart(release string, params ...string) map[string]any {
	return map[string]any{"using_helm_install_param": []any{map[string]any{
		"exthelmchart": "false", "helmchartfile_path": chartFile, "helmreleasename": release, "helmparameter": params}}}
}

// pods are the chart's live pods: name -> node.
func (in *inst) pods(t *testing.T) map[string]string {
	t.Helper()
	list, err := in.l.cp.Client.CoreV1().Pods(in.ns).List(context.Background(), metav1.ListOptions{LabelSelector: podSelector})
	require.NoError(t, err)
	out := map[string]string{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Spec.NodeName
		}
	}
	return out
}

// vnfcs are the recorded VNFCs: id -> pod, and the ids in order.
func (in *inst) vnfcs(t *testing.T) (map[string]string, []string) {
	t.Helper()
	out := map[string]string{}
	var ids []string
	for _, v := range in.info.VnfcResourceInfo {
		assert.Equal(t, "VDU1", v.VduID)
		assert.Equal(t, "vim-lab", v.ComputeResource.VimConnectionID)
		out[v.ID] = v.ComputeResource.ResourceID
		ids = append(ids, v.ID)
	}
	return out, ids
}

// consistent checks that the VNFCs are exactly the live pods.
func (in *inst) consistent(t *testing.T, n int) map[string]string {
	t.Helper()
	byID, _ := in.vnfcs(t)
	require.Len(t, byID, n)
	var pods []string
	for p := range in.pods(t) {
		pods = append(pods, p)
	}
	assert.ElementsMatch(t, pods, values(byID), "VNFCs are the pods")
	return byID
}

func (in *inst) releaseSecrets(t *testing.T, name string) []corev1.Secret {
	t.Helper()
	sel := "owner=helm"
	if name != "" {
		sel += ",name=" + name
	}
	list, err := in.l.cp.Client.CoreV1().Secrets(in.ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	require.NoError(t, err)
	return list.Items
}

// gone checks that nothing of the chart is left in the namespace.
func (in *inst) gone(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := in.l.cp.Client
	deps, err := c.AppsV1().Deployments(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, deps.Items, "Deployments left")
	rss, err := c.AppsV1().ReplicaSets(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, rss.Items, "ReplicaSets left")
	svcs, err := c.CoreV1().Services(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, svcs.Items, "Services left")
	pods, err := c.CoreV1().Pods(in.ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, pods.Items, "pods left (terminating ones included)")
	assert.Empty(t, in.releaseSecrets(t, ""), "Helm release records left")
}

func changes(rc *model.ResourceChanges) map[model.ChangeType][]string {
	out := map[model.ChangeType][]string{}
	for _, a := range rc.AffectedVnfcs {
		out[a.ChangeType] = append(out[a.ChangeType], a.ID)
	}
	return out
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func scale(typ string, steps int) map[string]any {
	return map[string]any{"type": typ, "aspectId": "vdu1_aspect", "numberOfSteps": steps}
}

func (l *lab) testPackageChart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInst(t, "")
	params := in.params("", localChart("vdu1", "service.port=8081", "extra.secret="+secretValue))

	res := in.must(t, "instantiate", in.req(model.OpInstantiate, params), l.d.Instantiate)
	dep, err := l.cp.Client.AppsV1().Deployments(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, dep.Status.AvailableReplicas, "the Deployment is available")
	assert.Equal(t, in.id, in.releaseSecrets(t, "vdu1")[0].Labels[LabelInstance])
	svc, err := l.cp.Client.CoreV1().Services(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 8081, svc.Spec.Ports[0].Port, "helmparameter applied")
	first := in.consistent(t, 1)
	assert.Equal(t, "Deployment", in.info.VnfcResourceInfo[0].ComputeResource.VimLevelResourceType)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeAdded], 1)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 0}}, in.info.ScaleStatus)
	assert.Equal(t, model.VnfStarted, in.info.VnfState)

	// The step retried after it succeeded (its result lost): the release
	// is upgraded in place, not installed twice.
	in.state, in.info = nil, nil
	in.must(t, "instantiate again (retry)", in.req(model.OpInstantiate, params), l.d.Instantiate)
	recs := in.releaseSecrets(t, "vdu1")
	require.Len(t, recs, 2, "two revisions of one release")
	statuses := []string{recs[0].Labels["status"], recs[1].Labels["status"]}
	assert.ElementsMatch(t, []string{"superseded", "deployed"}, statuses)
	assert.ElementsMatch(t, values(first), values(in.consistent(t, 1)), "same pod: nothing to roll out")

	before, _ := in.vnfcs(t)
	res = in.must(t, "scale out", in.req(model.OpScale, scale("SCALE_OUT", 1)), l.d.Scale)
	after := in.consistent(t, 2)
	for id, pod := range before {
		assert.Equal(t, pod, after[id], "the existing VNFC keeps its id and pod")
	}
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeAdded], 1)
	assert.Len(t, res.ResourceChanges.AffectedVnfcs, 1)

	_, err = in.do(t, "scale out beyond max_scale_level", in.req(model.OpScale, scale("SCALE_OUT", 2)), l.d.Scale)
	problem(t, err, 422)
	in.consistent(t, 2)

	in.must(t, "scale to level 2", in.req(model.OpScaleToLevel, map[string]any{"instantiationLevelId": "instantiation_level_2"}), l.d.ScaleToLevel)
	before = in.consistent(t, 3)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 2}}, in.info.ScaleStatus)

	_, ids := in.vnfcs(t)
	victim := ids[1]
	res = in.must(t, "heal one VNFC (SOL002)", in.req(model.OpHeal, map[string]any{"vnfcInstanceId": []string{victim}}), l.d.Heal)
	after = in.consistent(t, 3)
	assert.NotEqual(t, before[victim], after[victim], "the healed VNFC has a new pod")
	for id, pod := range before {
		if id != victim {
			assert.Equal(t, pod, after[id], "other VNFCs are untouched")
		}
	}
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeModified: {victim}}, changes(res.ResourceChanges))

	_, ids = in.vnfcs(t)
	res = in.must(t, "scale in", in.req(model.OpScale, scale("SCALE_IN", 1)), l.d.Scale)
	in.consistent(t, 2)
	assert.Equal(t, map[model.ChangeType][]string{model.ChangeRemoved: {ids[2]}}, changes(res.ResourceChanges), "the newest VNFC goes")

	// Rollback of a scale out whose step completed: the counts before.
	out := in.req(model.OpScale, scale("SCALE_OUT", 1))
	in.must(t, "scale out (to roll back)", out, l.d.Scale)
	in.consistent(t, 3)
	back := in.req(model.OpScale, scale("SCALE_OUT", 1))
	back.OpOccID, back.Rollback = out.OpOccID, true
	in.must(t, "rollback of the scale out", back, l.d.Rollback)
	before = in.consistent(t, 2)
	in.info.ScaleStatus = scaling.SetLevel(in.info.ScaleStatus, "vdu1_aspect", 1) // lcm's part

	res = in.must(t, "heal the whole VNF (SOL003)", in.req(model.OpHeal, map[string]any{"cause": "rebuild"}), l.d.Heal)
	after = in.consistent(t, 2)
	assert.ElementsMatch(t, keys(before), keys(after), "the VNFCs keep their ids")
	for id := range after {
		assert.NotEqual(t, before[id], after[id], "every pod is new")
	}
	assert.ElementsMatch(t, keys(before), changes(res.ResourceChanges)[model.ChangeModified])
	recs = in.releaseSecrets(t, "vdu1")
	require.Len(t, recs, 1, "a new release")
	assert.Equal(t, "1", recs[0].Labels["version"])

	res = in.must(t, "terminate", in.req(model.OpTerminate, map[string]any{"terminationType": "FORCEFUL"}), l.d.Terminate)
	in.gone(t)
	assert.ElementsMatch(t, keys(after), changes(res.ResourceChanges)[model.ChangeRemoved])
	_, err = os.Stat(filepath.Join(l.dataDir, in.id))
	assert.True(t, errors.Is(err, fs.ErrNotExist), "the instance's Helm files are removed")
	// Terminate retried: the release is gone, which is fine.
	in.state = res.State
	stale := in.req(model.OpTerminate, map[string]any{"terminationType": "FORCEFUL"})
	stale.State = mustState(t, in, "vdu1")
	in.must(t, "terminate again", stale, l.d.Terminate)
}

// mustState is a driver state naming one release, as a terminate retried
// after its success would see.
func mustState(t *testing.T, in *inst, release string) json.RawMessage {
	t.Helper()
	st := &state{Namespace: in.ns, Transport: transportSDK, Releases: []relState{{Name: release, Chart: chartRef{File: chartFile}}}}
	return st.raw()
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// chartRepo serves a chart repository on loopback: the sample chart under
// charts/ and an index generated by Helm.
func (l *lab) chartRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := fs.ReadFile(l.pkg, chartFile)
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "charts"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "charts", filepath.Base(chartFile)), b, 0o644))
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	idx, err := repo.IndexDirectory(dir, srv.URL)
	require.NoError(t, err)
	require.NoError(t, idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644))
	return srv.URL
}

// testExternalRepo installs the chart from a repository the test serves
// on loopback (index generated by Helm), at instantiation level 2, with
// vdu_mapping naming the workload.
func (l *lab) testExternalRepo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srvURL := l.chartRepo(t)
	in := l.newInst(t, "")
	params := in.params("instantiation_level_2", map[string]any{
		"using_helm_install_param": []any{map[string]any{"exthelmchart": true, "helmreleasename": "ext",
			"helmrepositoryname": "lab-charts", "helmchartname": "localhelm", "exthelmrepo_url": srvURL}},
		"vdu_mapping": map[string]any{"VDU1": map[string]any{"kind": "Deployment", "name": "ext-localhelm"}},
	})
	in.must(t, "instantiate from a repository (level 2)", in.req(model.OpInstantiate, params), l.d.Instantiate)
	dep, err := l.cp.Client.AppsV1().Deployments(in.ns).Get(ctx, "ext-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 3, dep.Status.AvailableReplicas)
	in.consistent(t, 3)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 2}}, in.info.ScaleStatus)
	st, err := readState(in.state)
	require.NoError(t, err)
	assert.Equal(t, chartRef{Repo: "lab-charts", RepoURL: srvURL, Name: "localhelm", Version: "0.1.0"}, st.Releases[0].Chart, "the version is pinned")
	rf, err := repo.LoadFile(filepath.Join(l.dataDir, in.id, "repositories.yaml"))
	require.NoError(t, err)
	assert.True(t, rf.Has("lab-charts"))

	in.must(t, "scale in", in.req(model.OpScale, scale("SCALE_IN", 1)), l.d.Scale)
	in.consistent(t, 2)

	in.must(t, "terminate", in.req(model.OpTerminate, map[string]any{}), l.d.Terminate)
	in.gone(t)
	_, err = os.Stat(filepath.Join(l.dataDir, in.id))
	assert.True(t, errors.Is(err, fs.ErrNotExist), "repository entry, index and chart removed")
}

// testSSH does the Tacker v1 thing: helm on a "master" reached over SSH
// (a real sshd on loopback) with the cluster's kubeconfig there.
func (l *lab) testSSH(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	helmBin := filepath.Join(k8slab.BinFor(t, "helm"), "helm")
	addr, key := startSSHD(t)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kc, l.cp.Kubeconfig, 0o600))

	in := l.newInst(t, "")
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	remoteDir := filepath.Join(home, ".vnfm", "helm", in.id)
	t.Cleanup(func() { _ = os.RemoveAll(remoteDir) })
	in.vim.Extra = map[string]any{"helm_info": map[string]any{
		"masternode_ip": []any{addr}, "masternode_username": "root", "masternode_private_key": string(key),
		"kubeconfig": kc, "helm_path": helmBin,
	}}
	add := localChart("vdu1", "extra.secret="+secretValue)
	add["helm_transport"] = "ssh"
	in.must(t, "instantiate", in.req(model.OpInstantiate, in.params("", add)), l.d.Instantiate)
	dep, err := l.cp.Client.AppsV1().Deployments(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, dep.Status.AvailableReplicas)
	in.consistent(t, 1)
	st, err := readState(in.state)
	require.NoError(t, err)
	assert.NotEmpty(t, st.HostKeys[addr], "the master's host key is pinned")
	assert.Equal(t, in.id, in.releaseSecrets(t, "vdu1")[0].Labels[LabelInstance], "the CLI labels the release too")
	entries, err := os.ReadDir(remoteDir)
	require.NoError(t, err)
	assert.False(t, slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), "values-") }), "values files are removed after use")

	in.must(t, "scale out", in.req(model.OpScale, scale("SCALE_OUT", 2)), l.d.Scale)
	in.consistent(t, 3)
	in.must(t, "scale in", in.req(model.OpScale, scale("SCALE_IN", 1)), l.d.Scale)
	in.consistent(t, 2)

	// A changed host key is refused.
	bad := in.req(model.OpScale, scale("SCALE_IN", 1))
	var forged state
	require.NoError(t, json.Unmarshal(in.state, &forged))
	other, _ := genKey(t)
	forged.HostKeys = map[string]string{addr: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other)))}
	bad.State = forged.raw()
	_, err = in.do(t, "scale with a changed host key", bad, l.d.Scale)
	problem(t, err, 500)

	in.must(t, "terminate", in.req(model.OpTerminate, map[string]any{}), l.d.Terminate)
	in.gone(t)
	_, err = os.Stat(remoteDir)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "the instance's files on the master are removed")

	// A chart from a repository, added on the master for the instance.
	ext := l.newInst(t, "")
	ext.vim.Extra = in.vim.Extra
	extDir := filepath.Join(home, ".vnfm", "helm", ext.id)
	t.Cleanup(func() { _ = os.RemoveAll(extDir) })
	p := ext.params("", map[string]any{"helm_transport": "ssh",
		"using_helm_install_param": []any{map[string]any{"exthelmchart": "true", "helmreleasename": "vdu1",
			"helmrepositoryname": "lab-charts", "helmchartname": "localhelm", "exthelmrepo_url": l.chartRepo(t)}}})
	ext.must(t, "instantiate from a repository", ext.req(model.OpInstantiate, p), l.d.Instantiate)
	ext.consistent(t, 1)
	st, err = readState(ext.state)
	require.NoError(t, err)
	assert.Equal(t, "0.1.0", st.Releases[0].Chart.Version, "the version is pinned")
	_, err = os.Stat(filepath.Join(extDir, "repositories.yaml"))
	require.NoError(t, err, "the repository is the instance's own")
	ext.must(t, "scale out (chart from the repository)", ext.req(model.OpScale, scale("SCALE_OUT", 1)), l.d.Scale)
	ext.consistent(t, 2)
	ext.must(t, "terminate (repository chart)", ext.req(model.OpTerminate, map[string]any{}), l.d.Terminate)
	ext.gone(t)
	_, err = os.Stat(extDir)
	assert.True(t, errors.Is(err, fs.ErrNotExist))
}

// testForeignRelease: a release name taken by another instance is never
// touched, neither by instantiate nor by its rollback; a rollback without
// any recorded state still removes the instance's own release.
func (l *lab) testForeignRelease(t *testing.T) {
	t.Parallel()
	a := l.newInst(t, "")
	b := l.newInst(t, a.ns)
	add := localChart("shared")
	add["vdu_mapping"] = map[string]any{"VDU1": map[string]any{"kind": "Deployment", "name": "shared-localhelm", "helmreleasename": "shared"}}
	params := a.params("", add)
	a.must(t, "instantiate A", a.req(model.OpInstantiate, params), l.d.Instantiate)

	_, err := b.do(t, "instantiate B, same release name", b.req(model.OpInstantiate, params), l.d.Instantiate)
	assert.Contains(t, problem(t, err, 409).Error(), a.id)
	rb := b.req(model.OpInstantiate, params)
	rb.Rollback = true
	b.must(t, "rollback of B's instantiate", rb, l.d.Rollback)
	a.consistent(t, 1)
	assert.Len(t, a.releaseSecrets(t, "shared"), 1, "A's release is untouched")

	ra := a.req(model.OpInstantiate, params)
	ra.Rollback, ra.State = true, nil // the step failed before recording anything
	a.must(t, "rollback of A's instantiate (no state)", ra, l.d.Rollback)
	a.gone(t)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testTwoReleases: VDU1's release is known only once both are rendered,
// so the level's replicas come with an upgrade after the install.
func (l *lab) testTwoReleases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := l.newInst(t, "")
	add := localChart("vdu1")
	add["using_helm_install_param"] = append(add["using_helm_install_param"].([]any),
		map[string]any{"exthelmchart": "false", "helmchartfile_path": chartFile, "helmreleasename": "other"})
	in.must(t, "instantiate two releases (level 2)", in.req(model.OpInstantiate, in.params("instantiation_level_2", add)), l.d.Instantiate)
	for name, n := range map[string]int32{"vdu1-localhelm": 3, "other-localhelm": 1} {
		dep, err := l.cp.Client.AppsV1().Deployments(in.ns).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, n, dep.Status.AvailableReplicas, name)
	}
	byID, _ := in.vnfcs(t)
	require.Len(t, byID, 3, "VNFCs of VDU1 only")
	for _, pod := range byID {
		assert.True(t, strings.HasPrefix(pod, "vdu1-localhelm-"), pod)
	}
	in.must(t, "scale in", in.req(model.OpScale, scale("SCALE_IN", 1)), l.d.Scale)
	dep, err := l.cp.Client.AppsV1().Deployments(in.ns).Get(ctx, "vdu1-localhelm", metav1.GetOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, dep.Status.AvailableReplicas)
	assert.Len(t, in.info.VnfcResourceInfo, 2)
	in.must(t, "terminate", in.req(model.OpTerminate, map[string]any{}), l.d.Terminate)
	in.gone(t)
}

// testWrongReplicaValue: a helm_replica_values path the chart ignores is
// found at instantiate (the level's replicas do not show), not at the
// first scale.
func (l *lab) testWrongReplicaValue(t *testing.T) {
	t.Parallel()
	in := l.newInst(t, "")
	p := in.params("instantiation_level_2", localChart("vdu1"))
	p["additionalParams"].(map[string]any)["helm_replica_values"] = map[string]any{"vdu1_aspect": "replicas"}
	req := in.req(model.OpInstantiate, p)
	_, err := in.do(t, "instantiate with a replica value the chart ignores", req, l.d.Instantiate)
	assert.Contains(t, problem(t, err, 422).Error(), `"replicas"`)
	req.Rollback = true
	in.must(t, "rollback of instantiate", req, l.d.Rollback)
	in.gone(t)
}

// testStuckRelease: a release left pending by a helm call that died with
// its process is retried later (transient) while it may still be live,
// and taken over once older than the timeout.
func (l *lab) testStuckRelease(t *testing.T) {
	t.Parallel()
	in := l.newInst(t, "")
	in.must(t, "instantiate", in.req(model.OpInstantiate, in.params("", localChart("vdu1"))), l.d.Instantiate)
	rc, err := kinfra.Connect(in.vim)
	require.NoError(t, err)
	tr, err := newSDK(rc, in.ns, t.TempDir(), readyTimeout, l.log)
	require.NoError(t, err)
	stick := func(age time.Duration) {
		r, err := tr.cfg.Releases.Last("vdu1")
		require.NoError(t, err)
		r.Info.Status = release.StatusPendingUpgrade
		r.Info.LastDeployed = helmtime.Time{Time: time.Now().Add(-age)}
		require.NoError(t, tr.cfg.Releases.Update(r))
	}

	stick(time.Minute)
	_, err = in.do(t, "scale out, release pending for a minute", in.req(model.OpScale, scale("SCALE_OUT", 1)), l.d.Scale)
	var te *driver.TransientError
	require.True(t, errors.As(err, &te), "a young pending release may still be in use: %v", err)

	stick(time.Hour)
	in.must(t, "scale out, release pending for an hour", in.req(model.OpScale, scale("SCALE_OUT", 1)), l.d.Scale)
	in.consistent(t, 2)
	r, err := tr.cfg.Releases.Last("vdu1")
	require.NoError(t, err)
	assert.Equal(t, release.StatusDeployed, r.Info.Status)
	in.must(t, "terminate", in.req(model.OpTerminate, map[string]any{}), l.d.Terminate)
	in.gone(t)
}

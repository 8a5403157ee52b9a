package kubernetes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fieldpath "k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

const samples = "../../../../test/samples/"

// cnfHelm is the cnf-helm sample's VNFD and its flavour.
func cnfHelm(t *testing.T) (*vnfd.VNFD, *vnfd.Flavour) {
	t.Helper()
	v, err := vnfd.Parse(os.DirFS(samples+"cnf-helm"), "Definitions/cnf_helm_top.vnfd.yaml")
	require.NoError(t, err)
	f, ok := v.Flavour("helmchart")
	require.True(t, ok)
	return v, f
}

func problem(t *testing.T, err error, status int) *driver.ProblemError {
	t.Helper()
	var pe *driver.ProblemError
	require.True(t, errors.As(err, &pe), "want ProblemError, got %v", err)
	assert.Equal(t, status, pe.Status, pe.Error())
	return pe
}

func TestDefFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  map[string]any
		want []string
		bad  string
	}{
		{name: "list", add: map[string]any{ParamDefFiles: []any{"Files/kubernetes/deployment.yaml", "./Files/x.yaml"}},
			want: []string{"Files/kubernetes/deployment.yaml", "Files/x.yaml"}},
		{name: "one string", add: map[string]any{ParamDefFiles: "Files/a.yaml"}, want: []string{"Files/a.yaml"}},
		{name: "missing", add: map[string]any{}, bad: "is missing"},
		{name: "empty", add: map[string]any{ParamDefFiles: []any{}}, bad: "is empty"},
		{name: "not strings", add: map[string]any{ParamDefFiles: []any{1}}, bad: "list of file paths"},
		{name: "object", add: map[string]any{ParamDefFiles: map[string]any{}}, bad: "list of file paths"},
		{name: "escapes", add: map[string]any{ParamDefFiles: []any{"../etc/passwd"}}, bad: "not a path inside"},
		{name: "absolute", add: map[string]any{ParamDefFiles: []any{"/etc/passwd"}}, bad: "not a path inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := defFiles(tc.add)
			if tc.bad != "" {
				assert.Contains(t, problem(t, err, 422).Error(), tc.bad)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeManifests(t *testing.T) {
	raw := `# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  resourceVersion: "12"
  uid: abc
data: {a: "1"}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: s1}
  stringData: {password: hunter2}
- apiVersion: v1
  kind: Service
  metadata: {name: svc, namespace: other}
  spec: {ports: [{port: 80}]}
---
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}, "status": {"replicas": 9}}
`
	ms, err := decodeManifests("f.yaml", []byte(raw))
	require.NoError(t, err)
	require.Len(t, ms, 4)
	assert.Equal(t, "ConfigMap cm (f.yaml, document 1)", ms[0].String())
	assert.Equal(t, "Secret", ms[1].obj.GetKind())
	assert.Equal(t, "other", ms[2].obj.GetNamespace())
	assert.Equal(t, 3, ms[3].doc, "empty documents are not counted")
	// What the cluster owns is dropped; integers stay integers.
	assert.Empty(t, ms[0].obj.GetResourceVersion())
	assert.Empty(t, string(ms[0].obj.GetUID()))
	_, has := ms[3].obj.Object["status"]
	assert.False(t, has)
	assert.Equal(t, int64(2), ms[3].obj.Object["spec"].(map[string]any)["replicas"])

	for _, tc := range []struct{ doc, want string }{
		{"kind: ConfigMap\nmetadata: {name: x}\n", "f.yaml: document 1 has no apiVersion"},
		{"apiVersion: v1\nmetadata: {name: x}\n", "f.yaml: document 1 has no kind"},
		{"apiVersion: v1\nkind: ConfigMap\n", "f.yaml: document 1 (ConfigMap) has no metadata.name"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n", "generateName is not supported"},
		{"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n- 1\n- 2\n", "f.yaml: document 2 is not a Kubernetes object"},
		{"apiVersion: v1\nkind: [\n", "f.yaml: document 1 is not valid YAML"},
	} {
		_, err := decodeManifests("f.yaml", []byte(tc.doc))
		assert.Contains(t, problem(t, err, 422).Error(), tc.want)
	}
}

func TestLoadManifestsErrorsNameTheFileNotTheContent(t *testing.T) {
	pkg := fstest.MapFS{
		"Files/secret.yaml": {Data: []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n  bad: [\n")},
	}
	_, err := loadManifests(pkg, []string{"Files/missing.yaml"})
	assert.Contains(t, problem(t, err, 422).Error(), "Files/missing.yaml is not in the VNF package")
	_, err = loadManifests(pkg, []string{"Files/secret.yaml"})
	pe := problem(t, err, 422)
	assert.Contains(t, pe.Error(), "Files/secret.yaml: document 1")
	assert.NotContains(t, pe.Error(), "hunter2")
	_, err = loadManifests(nil, []string{"x"})
	problem(t, err, 422)
	_, err = loadManifests(fstest.MapFS{"e.yaml": {Data: []byte("# nothing\n")}}, []string{"e.yaml"})
	assert.Contains(t, problem(t, err, 422).Error(), "hold no Kubernetes object")
}

func sampleManifests(t *testing.T, extra string) []manifest {
	t.Helper()
	raw, err := os.ReadFile(samples + "cnf-helm/Files/kubernetes/deployment.yaml")
	require.NoError(t, err)
	ms, err := decodeManifests("Files/kubernetes/deployment.yaml", raw)
	require.NoError(t, err)
	if extra != "" {
		more, err := decodeManifests("Files/extra.yaml", []byte(extra))
		require.NoError(t, err)
		ms = append(more, ms...)
	}
	return ms
}

// The sample's Service has the VDU's name too: only workloads count.
const sameNameService = `apiVersion: v1
kind: Service
metadata: {name: vdu1-localhelm}
spec: {ports: [{port: 80}]}
`

func TestMapVdusAndInitialReplicas(t *testing.T) {
	_, f := cnfHelm(t)
	ms := sampleManifests(t, sameNameService)
	ws, objs, err := mapVdus(f, ms, "ns1")
	require.NoError(t, err)
	assert.Equal(t, []Workload{{Kind: "Deployment", Namespace: "ns1", Name: "vdu1-localhelm", VduID: "VDU1"}}, ws)
	require.Contains(t, objs, "VDU1")
	assert.Equal(t, "Deployment", objs["VDU1"].obj.GetKind())

	// VDU1 is in vdu1_aspect: replicas follow the instantiation level.
	for level, want := range map[string]int{"": 1, "instantiation_level_1": 1, "instantiation_level_2": 3} {
		ms := sampleManifests(t, "")
		ws, objs, err := mapVdus(f, ms, "ns1")
		require.NoError(t, err)
		got, err := initialReplicas(f, level, ws, objs)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"VDU1": want}, got, level)
		assert.Equal(t, int64(want), objs["VDU1"].obj.Object["spec"].(map[string]any)["replicas"], level)
	}
	_, err = initialReplicas(f, "nope", ws, objs)
	assert.Contains(t, problem(t, err, 422).Error(), `instantiationLevelId "nope"`)

	// The manifest's namespace wins over the VNF's.
	ms = sampleManifests(t, "")
	ms[0].obj.SetNamespace("mine")
	ws, _, err = mapVdus(f, ms, "ns1")
	require.NoError(t, err)
	assert.Equal(t, "mine", ws[0].Namespace)

	// No workload for VDU1: 422 naming the VDU and the name looked for.
	other, err := decodeManifests("Files/x.yaml", []byte(sameNameService))
	require.NoError(t, err)
	_, _, err = mapVdus(f, other, "ns1")
	pe := problem(t, err, 422)
	assert.Contains(t, pe.Error(), "VDU VDU1")
	assert.Contains(t, pe.Error(), `"vdu1-localhelm"`)

	// Two workloads with the VDU's name: ambiguous.
	twice := sampleManifests(t, "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: vdu1-localhelm}\n")
	_, _, err = mapVdus(f, twice, "ns1")
	assert.Contains(t, problem(t, err, 422).Error(), "several workloads")

	// A VDU in an aspect must be scalable.
	pod, err := decodeManifests("Files/pod.yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: vdu1-localhelm}\n"))
	require.NoError(t, err)
	ws, objs, err = mapVdus(f, pod, "ns1")
	require.NoError(t, err)
	_, err = initialReplicas(f, "", ws, objs)
	assert.Contains(t, problem(t, err, 422).Error(), "no replicas to scale")
}

func TestInitialReplicasOutsideAspects(t *testing.T) {
	_, f := cnfHelm(t)
	// A copy of the flavour without aspects: the manifest's replicas stay.
	g := *f
	g.Scaling = vnfd.Scaling{}
	for _, tc := range []struct {
		doc  string
		want int
	}{
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: vdu1-localhelm}\nspec: {replicas: 4}\n", 4},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: vdu1-localhelm}\nspec: {}\n", 1},
	} {
		ms, err := decodeManifests("f.yaml", []byte(tc.doc))
		require.NoError(t, err)
		ws, objs, err := mapVdus(&g, ms, "ns")
		require.NoError(t, err)
		got, err := initialReplicas(&g, "", ws, objs)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"VDU1": tc.want}, got)
	}
	ms, err := decodeManifests("f.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: vdu1-localhelm}\nspec: {replicas: two}\n"))
	require.NoError(t, err)
	ws, objs, err := mapVdus(&g, ms, "ns")
	require.NoError(t, err)
	_, err = initialReplicas(&g, "", ws, objs)
	assert.Contains(t, problem(t, err, 422).Error(), "spec.replicas")
}

func TestSortForApply(t *testing.T) {
	ms, err := decodeManifests("f.yaml", []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns1}
---
apiVersion: v1
kind: Secret
metadata: {name: x}
`))
	require.NoError(t, err)
	sortForApply(ms)
	var kinds []string
	for _, m := range ms {
		kinds = append(kinds, m.obj.GetKind())
	}
	assert.Equal(t, []string{"Namespace", "Secret", "ConfigMap", "Service", "Deployment", "Widget"}, kinds)
}

func steps(n int) *int { return &n }

func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func TestConnect(t *testing.T) {
	cert, key := selfSigned(t)
	vim := func(ii, ai map[string]any) *model.VimConnectionInfo {
		if ii == nil {
			ii = map[string]any{}
		}
		if _, ok := ii["endpoint"]; !ok {
			ii["endpoint"] = "https://k8s.example:6443"
		}
		return &model.VimConnectionInfo{ID: "vim1", VimType: "kubernetes", InterfaceInfo: ii, AccessInfo: ai}
	}
	cfg, err := Connect(vim(map[string]any{"ssl_ca_cert": cert}, map[string]any{"bearer_token": "s3cret-token"}))
	require.NoError(t, err)
	assert.Equal(t, "https://k8s.example:6443", cfg.Host)
	assert.Equal(t, "s3cret-token", cfg.BearerToken)
	assert.Equal(t, []byte(cert), cfg.CAData)
	assert.Positive(t, cfg.Timeout)

	cfg, err = Connect(vim(nil, map[string]any{"username": "u", "password": "p"}))
	require.NoError(t, err)
	assert.Equal(t, "u", cfg.Username)
	assert.Empty(t, cfg.CAData, "no ssl_ca_cert: system roots")

	cfg, err = Connect(vim(nil, map[string]any{"client_cert": cert, "client_key": key}))
	require.NoError(t, err)
	assert.Equal(t, []byte(cert), cfg.CertData)
	assert.Equal(t, []byte(key), cfg.KeyData)

	for _, tc := range []struct {
		name string
		v    *model.VimConnectionInfo
		want string
	}{
		{"nil", nil, "no vimConnectionInfo"},
		{"no endpoint", &model.VimConnectionInfo{AccessInfo: map[string]any{"bearer_token": "x"}}, "endpoint"},
		{"bad endpoint", vim(map[string]any{"endpoint": "k8s:6443"}, map[string]any{"bearer_token": "x"}), "not an http(s) URL"},
		{"bad CA", vim(map[string]any{"ssl_ca_cert": "not pem"}, map[string]any{"bearer_token": "x"}), "ssl_ca_cert holds no PEM"},
		{"no credentials", vim(nil, map[string]any{"username": "u"}), "needs bearer_token"},
		{"token not a string", vim(nil, map[string]any{"bearer_token": 42}), "accessInfo.bearer_token must be a string"},
		{"bad client key", vim(nil, map[string]any{"client_cert": cert, "client_key": "s3cret-key"}), "client_key is not PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect(tc.v)
			pe := problem(t, err, 422)
			assert.Contains(t, pe.Error(), tc.want)
			assert.NotContains(t, pe.Error(), "s3cret")
		})
	}
}

func TestNamespace(t *testing.T) {
	vim := &model.VimConnectionInfo{InterfaceInfo: map[string]any{"namespace": "from-vim"}}
	assert.Equal(t, "from-params", Namespace(map[string]any{"namespace": "from-params"}, vim))
	assert.Equal(t, "from-vim", Namespace(map[string]any{"namespace": ""}, vim))
	assert.Equal(t, "from-vim", Namespace(nil, vim))
	assert.Equal(t, "default", Namespace(nil, &model.VimConnectionInfo{}))
	assert.Equal(t, "default", Namespace(nil, nil))
}

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	transient := func(err error) *driver.TransientError {
		var te *driver.TransientError
		require.True(t, errors.As(err, &te), "want TransientError, got %v", err)
		return te
	}
	te := transient(classify("x", apierrors.NewTooManyRequests("slow down", 7)))
	assert.Equal(t, 7*time.Second, te.After)
	transient(classify("x", apierrors.NewServiceUnavailable("busy")))
	transient(classify("x", apierrors.NewInternalError(errors.New("boom"))))
	transient(classify("x", apierrors.NewServerTimeout(gr, "get", 1)))
	transient(classify("x", apierrors.NewTimeoutError("slow", 1)))
	transient(classify("x", &url.Error{Op: "Get", URL: "https://k", Err: syscall.ECONNREFUSED}))

	problem(t, classify("x", apierrors.NewForbidden(gr, "d", errors.New("no"))), 500)
	problem(t, classify("x", apierrors.NewUnauthorized("who")), 500)
	nf := classify("x", apierrors.NewNotFound(gr, "d"))
	problem(t, nf, 404)
	assert.True(t, apierrors.IsNotFound(nf), "the chain is kept")
	problem(t, classify("x", apierrors.NewConflict(gr, "d", errors.New("changed"))), 409)
	problem(t, classify("x", apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "d",
		fieldpath.ErrorList{fieldpath.Invalid(fieldpath.NewPath("spec", "replicas"), -1, "must be >= 0")})), 422)
	problem(t, classify("x", apierrors.NewBadRequest("bad")), 422)
	problem(t, classify("x", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: "Widget"}}), 422)

	// A request timeout is worth a retry; a cancellation is not.
	transient(classify("x", &url.Error{Op: "Get", URL: "https://k", Err: context.DeadlineExceeded}))
	ctxErr := classify("x", context.Canceled)
	assert.ErrorIs(t, ctxErr, context.Canceled)
	var pe *driver.ProblemError
	var te2 *driver.TransientError
	assert.False(t, errors.As(ctxErr, &pe) || errors.As(ctxErr, &te2))
}

func TestRedactSecretErrors(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "s",
		fieldpath.ErrorList{fieldpath.Invalid(fieldpath.NewPath("data", "k"), "hunter2", "too long")})
	require.Contains(t, err.Error(), "hunter2")
	red := classify("apply Secret s", redact(err))
	pe := problem(t, red, 422)
	assert.NotContains(t, pe.Error(), "hunter2")
	assert.Contains(t, pe.Error(), "data.k")
	assert.True(t, apierrors.IsInvalid(red))
}

func TestDiffAndAdopt(t *testing.T) {
	v := func(id, vdu, pod string) model.VnfcResourceInfo {
		return model.VnfcResourceInfo{ID: id, VduID: vdu, ComputeResource: model.ResourceHandle{ResourceID: pod}}
	}
	old := &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{v("a", "VDU1", "p1"), v("b", "VDU1", "p2")}}
	cur := &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{v("a", "VDU1", "p1"), v("c", "VDU1", "p3")}}
	changes := func(rc *model.ResourceChanges) map[string]model.ChangeType {
		out := map[string]model.ChangeType{}
		for _, a := range rc.AffectedVnfcs {
			out[a.ID] = a.ChangeType
		}
		return out
	}
	assert.Equal(t, map[string]model.ChangeType{"c": model.ChangeAdded, "b": model.ChangeRemoved}, changes(diff(old, cur)))
	assert.Equal(t, map[string]model.ChangeType{"a": model.ChangeRemoved, "b": model.ChangeRemoved}, changes(diff(old, nil)))
	assert.Equal(t, map[string]model.ChangeType{"a": model.ChangeAdded, "b": model.ChangeAdded}, changes(diff(nil, old)))

	// A heal that kept the pod name is still MODIFIED.
	same := &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{v("a", "VDU1", "p1"), v("b", "VDU1", "p2x")}}
	assert.Equal(t, map[string]model.ChangeType{"a": model.ChangeModified, "b": model.ChangeModified}, changes(healChanges(old, same, []string{"a", "b"})))

	fresh := []model.VnfcResourceInfo{v("n1", "VDU1", "q1"), v("n2", "VDU2", "q2"), v("n3", "VDU1", "q3"), v("n4", "VDU1", "q4")}
	got, took := adoptIDs(old.VnfcResourceInfo, fresh)
	assert.Equal(t, []string{"a", "b"}, took)
	assert.Equal(t, []string{"a", "n2", "b", "n4"}, []string{got[0].ID, got[1].ID, got[2].ID, got[3].ID})
}

func TestDeleteOpts(t *testing.T) {
	o, g := deleteOptsFor(&terminateParams{TerminationType: "FORCEFUL"})
	require.NotNil(t, o.grace)
	assert.Zero(t, *o.grace)
	assert.Zero(t, g)
	o, g = deleteOptsFor(&terminateParams{TerminationType: "GRACEFUL", GracefulTerminationTimeout: steps(20)})
	require.NotNil(t, o.grace)
	assert.Equal(t, int64(20), *o.grace)
	assert.Equal(t, 20*time.Second, g)
	assert.Equal(t, metav1.DeletePropagationForeground, o.propagation)
	o, _ = deleteOptsFor(&terminateParams{TerminationType: "GRACEFUL"})
	assert.Nil(t, o.grace, "the pods' own grace period")
}

func TestStateJSON(t *testing.T) {
	st := state{Namespace: "ns", Files: []string{"f.yaml"},
		Objects:   []objRef{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "ns", Name: "d"}},
		Workloads: workloadRefs([]Workload{{Kind: "Deployment", Namespace: "ns", Name: "d", VduID: "VDU1"}}),
		Replicas:  map[string]int{"VDU1": 2}}
	var back map[string]any
	require.NoError(t, json.Unmarshal(st.raw(), &back))
	assert.Equal(t, "ns", back["namespace"])
	assert.Equal(t, []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "ns", "name": "d"}}, back["objects"])
	assert.Equal(t, []any{map[string]any{"kind": "Deployment", "namespace": "ns", "name": "d", "vduId": "VDU1"}}, back["workloads"])
	w, ok := st.workload("VDU1")
	require.True(t, ok)
	assert.Equal(t, Workload{Kind: "Deployment", Namespace: "ns", Name: "d", VduID: "VDU1"}, w)
}

// --- Vnfcs and WaitReady on a fake clientset: owner references, ids,
// order. The real control plane tests are in lab_test.go.

func yes() *bool { b := true; return &b }

func fakePod(ns, name string, uid types.UID, owner metav1.Object, kind string, created time.Time, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: uid, Labels: labels,
		CreationTimestamp: metav1.NewTime(created)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: yes()}}
	}
	return p
}

func TestVnfcsFollowOwnerReferences(t *testing.T) {
	lbl := map[string]string{"app": "a"}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "dep-uid"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: lbl}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1", UID: "rs-uid", Labels: lbl,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "dep-uid", Controller: yes()}}}}
	foreignRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other-1", UID: "rs2-uid", Labels: lbl}}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "db", UID: "sts-uid"},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}
	gone := fakePod("ns", "web-1-old", "p0", rs, "ReplicaSet", t0, lbl)
	now := metav1.Now()
	gone.DeletionTimestamp = &now
	failed := fakePod("ns", "web-1-failed", "p9", rs, "ReplicaSet", t0, lbl)
	failed.Status.Phase = corev1.PodFailed
	c := fake.NewClientset(dep, rs, foreignRS, sts,
		fakePod("ns", "web-1-b", "p2", rs, "ReplicaSet", t0.Add(2*time.Second), lbl),
		fakePod("ns", "web-1-a", "p1", rs, "ReplicaSet", t0.Add(time.Second), lbl),
		fakePod("ns", "stray", "p3", foreignRS, "ReplicaSet", t0, lbl), // same labels, other owner
		gone, failed,
		fakePod("ns", "db-0", "p4", sts, "StatefulSet", t0, map[string]string{"app": "db"}),
		fakePod("ns", "solo", "p5", nil, "", t0, nil),
	)
	ws := []Workload{
		{Kind: KindStatefulSet, Namespace: "ns", Name: "db", VduID: "VDU2"},
		{Kind: KindDeployment, Namespace: "ns", Name: "web", VduID: "VDU1"},
		{Kind: KindPod, Namespace: "ns", Name: "solo", VduID: "VDU3"},
	}
	prev := []model.VnfcResourceInfo{{ID: "keep-b", VduID: "VDU1", ComputeResource: model.ResourceHandle{ResourceID: "web-1-b"}, Metadata: map[string]any{"namespace": "ns"}},
		{ID: "lost", VduID: "VDU1", ComputeResource: model.ResourceHandle{ResourceID: "web-1-old"}, Metadata: map[string]any{"namespace": "ns"}}}
	got, err := Vnfcs(context.Background(), c, "vim1", ws, prev)
	require.NoError(t, err)
	var pods, vdus []string
	for _, v := range got {
		pods, vdus = append(pods, v.ComputeResource.ResourceID), append(vdus, v.VduID)
	}
	// VDUs in workload order, oldest pod first.
	assert.Equal(t, []string{"db-0", "web-1-a", "web-1-b", "solo"}, pods)
	assert.Equal(t, []string{"VDU2", "VDU1", "VDU1", "VDU3"}, vdus)
	assert.Equal(t, "keep-b", got[2].ID)
	assert.NotEqual(t, "lost", got[1].ID)
	assert.Equal(t, model.ResourceHandle{VimConnectionID: "vim1", ResourceID: "web-1-a", VimLevelResourceType: "Deployment"}, got[1].ComputeResource)
	assert.Equal(t, map[string]any{"namespace": "ns", "workload": "web"}, got[1].Metadata)

	_, err = Vnfcs(context.Background(), c, "vim1", []Workload{{Kind: KindDeployment, Namespace: "ns", Name: "nope"}}, nil)
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
}

func TestWaitReadyTimesOutWithReasons(t *testing.T) {
	lbl := map[string]string{"app": "a"}
	two := int32(2)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "dep-uid", Generation: 1},
		Spec:   appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: lbl}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-1", UID: "rs-uid", Labels: lbl,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "dep-uid", Controller: yes()}}}}
	pending := fakePod("ns", "web-1-x", "p1", rs, "ReplicaSet", time.Now(), lbl)
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no such image"}}}}}
	readyDep := dep.DeepCopy()
	readyDep.Name, readyDep.UID, readyDep.Status.AvailableReplicas = "ok", "ok-uid", 2
	c := fake.NewClientset(dep, readyDep, rs, pending, fakePod("ns", "web-1-y", "p2", rs, "ReplicaSet", time.Now(), lbl))

	require.NoError(t, WaitReady(context.Background(), c, []Workload{{Kind: KindDeployment, Namespace: "ns", Name: "ok"}}, time.Second))
	err := WaitReady(context.Background(), c, []Workload{{Kind: KindDeployment, Namespace: "ns", Name: "web"}, {Kind: KindDeployment, Namespace: "ns", Name: "ok"}}, time.Second)
	pe := problem(t, err, 504)
	msg := pe.Error()
	assert.Contains(t, msg, "Deployment ns/web: 1/2 available")
	assert.Contains(t, msg, "web-1-x: container app waiting: ImagePullBackOff no such image")
	assert.NotContains(t, msg, "ns/ok")
	assert.False(t, strings.Contains(msg, "web-1-y"), "ready pods are not reasons")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = WaitReady(ctx, c, []Workload{{Kind: KindDeployment, Namespace: "ns", Name: "web"}}, time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestWaitReadyMissingWorkloadFailsAtOnce(t *testing.T) {
	start := time.Now()
	err := WaitReady(context.Background(), fake.NewClientset(), []Workload{{Kind: KindStatefulSet, Namespace: "ns", Name: "gone"}}, time.Minute)
	problem(t, err, 404)
	assert.True(t, apierrors.IsNotFound(err))
	assert.Less(t, time.Since(start), 10*time.Second)
}

// The rollback of an instantiation its own checks refused has nothing to
// delete (and must not fail on the same check).
func TestRollbackOfRefusedInstantiate(t *testing.T) {
	v, _ := cnfHelm(t)
	raw, err := json.Marshal(map[string]any{"flavourId": "helmchart", "additionalParams": map[string]any{ParamDefFiles: []string{"Files/nope.yaml"}}})
	require.NoError(t, err)
	req := &driver.Request{
		Operation: model.OpInstantiate, OpOccID: "op1", Instance: &model.VnfInstance{ID: "i1"}, Rollback: true,
		Vim:  &model.VimConnectionInfo{ID: "v", InterfaceInfo: map[string]any{"endpoint": "https://127.0.0.1:1"}, AccessInfo: map[string]any{"bearer_token": "x"}},
		Vnfd: v, Package: os.DirFS(samples + "cnf-helm"), Params: raw,
	}
	d := New(Config{})
	_, err = d.Instantiate(context.Background(), req)
	problem(t, err, 422)
	res, err := d.Rollback(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "null", string(res.State))

	// Operations without a rollback say so.
	req.Operation = model.OpHeal
	_, err = d.Rollback(context.Background(), req)
	assert.ErrorIs(t, err, driver.ErrNotSupported)
}

// Package scaling's refusals reach the user with the driver's title.
func TestScaleRefusedTitle(t *testing.T) {
	v, _ := cnfHelm(t)
	req := &driver.Request{Vnfd: v, Info: &model.InstantiatedVnfInfo{FlavourID: "helmchart"}, Params: json.RawMessage(`{"aspectId": "nope"}`)}
	_, errScale := New(Config{}).Scale(context.Background(), req)
	_, errLevel := New(Config{}).ScaleToLevel(context.Background(), req)
	const title = "Invalid request for the Kubernetes driver"
	assert.Equal(t, []error{&driver.ProblemError{Status: 422, Title: title, Err: errors.New(`aspect "nope" is not in flavour helmchart`)},
		&driver.ProblemError{Status: 422, Title: title, Err: errors.New("instantiationLevelId or scaleInfo is required")}}, []error{errScale, errLevel})
}

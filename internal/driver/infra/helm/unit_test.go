package helm

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

const sampleDir = "../../../../test/samples/cnf-helm"

func sampleFlavour(t *testing.T) (*vnfd.VNFD, *vnfd.Flavour) {
	t.Helper()
	v, err := vnfd.Parse(os.DirFS(sampleDir), "Definitions/cnf_helm_top.vnfd.yaml")
	require.NoError(t, err)
	f, ok := v.Flavour("helmchart")
	require.True(t, ok)
	return v, f
}

func problem(t *testing.T, err error, status int) *driver.ProblemError {
	t.Helper()
	var pe *driver.ProblemError
	require.True(t, errors.As(err, &pe), "want a ProblemError, got %v", err)
	assert.Equal(t, status, pe.Status, "%v", err)
	return pe
}

func TestWantsAndOwns(t *testing.T) {
	t.Parallel()
	d := New(Config{})
	for raw, want := range map[string]bool{
		`{"additionalParams":{"use_helm":"true"}}`:  true,
		`{"additionalParams":{"use_helm":true}}`:    true,
		`{"additionalParams":{"use_helm":"TRUE"}}`:  true,
		`{"additionalParams":{"use_helm":"false"}}`: false,
		`{"additionalParams":{"use_helm":1}}`:       false,
		`{"additionalParams":{}}`:                   false,
		`{}`:                                        false,
		``:                                          false,
		`not json`:                                  false,
	} {
		assert.Equal(t, want, d.Wants(json.RawMessage(raw)), raw)
	}
	st := &state{Namespace: "x"}
	assert.True(t, d.Owns(st.raw()))
	assert.False(t, d.Owns(json.RawMessage(`{"namespace":"x","objects":[]}`)))
	assert.False(t, d.Owns(nil))
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	_, f := sampleFlavour(t)
	pkg := fstest.MapFS{"Files/kubernetes/localhelm-0.1.0.tgz": {Data: []byte("x")}}
	local := func() map[string]any {
		return map[string]any{"exthelmchart": "false", "helmchartfile_path": "Files/kubernetes/localhelm-0.1.0.tgz", "helmreleasename": "vdu1"}
	}
	base := func(installs ...map[string]any) map[string]any {
		l := []any{}
		for _, i := range installs {
			l = append(l, i)
		}
		return map[string]any{"namespace": "ns1", "using_helm_install_param": l,
			"helm_replica_values": map[string]any{"vdu1_aspect": "replicaCount"}}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }

	p, err := parseParams(base(with(local(), "helmparameter", []any{"service.port=8081"})), nil, f, pkg)
	require.NoError(t, err)
	assert.Equal(t, "ns1", p.Namespace)
	assert.Equal(t, transportSDK, p.Transport)
	require.Len(t, p.Installs, 1)
	assert.Equal(t, installParam{Release: "vdu1", ChartFile: "Files/kubernetes/localhelm-0.1.0.tgz", Params: []string{"service.port=8081"}}, p.Installs[0])
	assert.Equal(t, map[string]string{"vdu1_aspect": "replicaCount"}, p.ReplicaValues)

	ext := map[string]any{"exthelmchart": true, "helmreleasename": "ext", "helmrepositoryname": "lab",
		"helmchartname": "localhelm", "exthelmrepo_url": "http://127.0.0.1:1/charts"}
	add := with(base(ext), "vdu_mapping", map[string]any{"VDU1": map[string]any{"kind": "Deployment", "name": "ext-localhelm"}})
	add["helm_transport"] = "ssh"
	p, err = parseParams(add, nil, nil, nil)
	require.NoError(t, err)
	assert.True(t, p.Installs[0].External)
	assert.Equal(t, transportSSH, p.Transport)
	assert.Equal(t, "default", kinfraDefault(t))
	assert.Equal(t, vduMapping{Kind: "Deployment", Name: "ext-localhelm"}, p.VduMapping["VDU1"])

	for name, tc := range map[string]struct {
		add  map[string]any
		want string
	}{
		"no installs":       {map[string]any{}, "using_helm_install_param"},
		"no release name":   {base(with(local(), "helmreleasename", "")), "helmreleasename is missing"},
		"bad bool":          {base(with(local(), "exthelmchart", "yes")), "true or false"},
		"twice":             {base(local(), local()), "given twice"},
		"ext without url":   {base(with(ext, "exthelmrepo_url", nil)), "exthelmrepo_url"},
		"ext bad url":       {base(with(map[string]any{"exthelmchart": "true", "helmreleasename": "e", "helmrepositoryname": "r", "helmchartname": "c"}, "exthelmrepo_url", "ftp://x")), "http(s) URL"},
		"chart not in pkg":  {base(with(local(), "helmchartfile_path", "Files/other.tgz")), "not in the VNF package"},
		"chart outside pkg": {base(with(local(), "helmchartfile_path", "../x.tgz")), "inside the VNF package"},
		"bad parameter":     {base(with(local(), "helmparameter", []any{"password"})), `key "password"`},
		"no replica value":  {with(base(local()), "helm_replica_values", map[string]any{}), `aspectId "vdu1_aspect"`},
		"unknown aspect":    {with(base(local()), "helm_replica_values", map[string]any{"vdu1_aspect": "r", "x": "y"}), `"x" is not an aspect`},
		"bad mapping kind":  {with(base(local()), "vdu_mapping", map[string]any{"VDU1": map[string]any{"kind": "Service", "name": "s"}}), "needs kind"},
		"mapping bad vdu":   {with(base(local()), "vdu_mapping", map[string]any{"VDU9": map[string]any{"kind": "Pod", "name": "s"}}), "not a VDU"},
		"mapping release":   {with(base(local()), "vdu_mapping", map[string]any{"VDU1": map[string]any{"kind": "Pod", "name": "s", "helmreleasename": "zz"}}), `"zz" is not in`},
		"transport":         {with(base(local()), "helm_transport", "scp"), "helm_transport"},
	} {
		_, err := parseParams(tc.add, nil, f, pkg)
		pe := problem(t, err, 422)
		assert.Contains(t, pe.Error(), tc.want, name)
	}
	// A bad --set entry is named by its key only: values may be secrets.
	_, err = parseParams(base(with(local(), "helmparameter", []any{"pass[word=hunter22"})), nil, f, pkg)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter22")
}

func kinfraDefault(t *testing.T) string {
	t.Helper()
	p, err := parseParams(map[string]any{"using_helm_install_param": []any{map[string]any{"helmreleasename": "r", "helmchartfile_path": "c.tgz"}}},
		&model.VimConnectionInfo{}, nil, nil)
	require.NoError(t, err)
	return p.Namespace
}

func TestValues(t *testing.T) {
	t.Parallel()
	ip := installParam{Release: "r", Params: []string{"service.port=8081", "image.tag=1.2", "list={a,b}"}}
	vals, err := ip.values()
	require.NoError(t, err)
	require.NoError(t, setPath(vals, "replicaCount", 3))
	require.NoError(t, setPath(vals, "vdu2.replicas", 2))
	assert.Equal(t, map[string]any{
		"service": map[string]any{"port": int64(8081)}, "image": map[string]any{"tag": "1.2"},
		"list": []any{"a", "b"}, "replicaCount": int64(3), "vdu2": map[string]any{"replicas": int64(2)},
	}, vals)
}

const manifest = `---
# Source: localhelm/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: vdu1-localhelm
---
# Source: localhelm/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: vdu1-localhelm
spec:
  replicas: 2
---
# Source: x/templates/sts.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: other
`

func TestManifestAndMapping(t *testing.T) {
	t.Parallel()
	_, f := sampleFlavour(t)
	objs, err := parseManifest("vdu1", manifest, "ns1")
	require.NoError(t, err)
	require.Len(t, objs, 3)
	assert.Equal(t, "Service", objs[0].Kind)
	assert.False(t, objs[0].workload())
	assert.Equal(t, 2, *objs[1].Replicas)
	assert.Equal(t, "ns1", objs[1].Namespace)
	assert.Equal(t, "other", objs[2].Namespace)

	ws, byVdu, err := mapVdus(f, nil, objs)
	require.NoError(t, err)
	assert.Equal(t, []workload{{Kind: "Deployment", Namespace: "ns1", Name: "vdu1-localhelm", VduID: "VDU1", Release: "vdu1"}}, ws)
	assert.Equal(t, "vdu1-localhelm", byVdu["VDU1"].Name)

	ws, _, err = mapVdus(f, map[string]vduMapping{"VDU1": {Kind: "StatefulSet", Name: "db"}}, objs)
	require.NoError(t, err)
	assert.Equal(t, "db", ws[0].Name)
	assert.Equal(t, "other", ws[0].Namespace)

	_, _, err = mapVdus(f, map[string]vduMapping{"VDU1": {Kind: "Deployment", Name: "db"}}, objs)
	assert.Contains(t, problem(t, err, 422).Error(), "render no Deployment db")
	_, _, err = mapVdus(f, map[string]vduMapping{"VDU1": {Kind: "Deployment", Name: "vdu1-localhelm", Release: "other"}}, objs)
	problem(t, err, 422)
	twice := append(objs, object{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "vdu1-localhelm", Namespace: "ns1", Release: "b"})
	_, _, err = mapVdus(f, nil, twice)
	assert.Contains(t, problem(t, err, 422).Error(), "several workloads")
	_, _, err = mapVdus(nil, nil, objs)
	problem(t, err, 422)
}

func TestKeepIDsAndDiff(t *testing.T) {
	t.Parallel()
	v := func(id, vdu, pod string) model.VnfcResourceInfo {
		return model.VnfcResourceInfo{ID: id, VduID: vdu, ComputeResource: model.ResourceHandle{ResourceID: pod}}
	}
	old := []model.VnfcResourceInfo{v("a", "VDU1", "p1"), v("b", "VDU1", "p2"), v("c", "VDU2", "q1")}
	fresh := []model.VnfcResourceInfo{v("n1", "VDU1", "p3"), v("n2", "VDU1", "p4"), v("n3", "VDU1", "p5"), v("n4", "VDU2", "q2")}
	got := keepIDs(old, fresh)
	assert.Equal(t, []model.VnfcResourceInfo{v("a", "VDU1", "p3"), v("b", "VDU1", "p4"), v("n3", "VDU1", "p5"), v("c", "VDU2", "q2")}, got)
	rc := diff(old, got)
	changes := map[string]model.ChangeType{}
	for _, a := range rc.AffectedVnfcs {
		changes[a.ID] = a.ChangeType
	}
	assert.Equal(t, map[string]model.ChangeType{"a": model.ChangeModified, "b": model.ChangeModified, "c": model.ChangeModified, "n3": model.ChangeAdded}, changes)
	rc = diff(old, old[:1])
	assert.Len(t, rc.AffectedVnfcs, 2)
	assert.Equal(t, model.ChangeRemoved, rc.AffectedVnfcs[0].ChangeType)
	assert.True(t, diff(old, old).Empty())
}

func TestQuote(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "--namespace", quote("--namespace"))
	assert.Equal(t, ".vnfm/helm/x/values-r.json", quote(".vnfm/helm/x/values-r.json"))
	assert.Equal(t, "'^vdu1$'", quote("^vdu1$"))
	assert.Equal(t, `'it'\''s'`, quote("it's"))
	assert.Equal(t, "''", quote(""))
}

func TestHelmInfo(t *testing.T) {
	t.Parallel()
	vim := &model.VimConnectionInfo{Extra: map[string]any{"helm_info": map[string]any{
		"masternode_ip": []any{"10.0.0.1", "10.0.0.2:2222"}, "masternode_username": "u", "masternode_password": "hunter22"}}}
	h, err := parseHelmInfo(vim)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.1", "10.0.0.2:2222"}, h.IPs)
	assert.Equal(t, "helm", h.HelmPath)
	// Tacker stores it as a JSON string.
	vim.Extra["helm_info"] = `{"masternode_ip": ["10.0.0.3"], "masternode_username": "u", "masternode_password": "hunter22"}`
	h, err = parseHelmInfo(vim)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.3"}, h.IPs)
	vim.Extra["helm_info"] = map[string]any{"masternode_ip": []any{"10.0.0.1"}, "masternode_password": "hunter22"}
	_, err = parseHelmInfo(vim)
	problem(t, err, 422)
	assert.NotContains(t, err.Error(), "hunter22")
	_, err = parseHelmInfo(&model.VimConnectionInfo{})
	problem(t, err, 422)
}

// Package scaling's refusals reach the user with the driver's title.
func TestScaleRefusedTitle(t *testing.T) {
	v, _ := sampleFlavour(t)
	req := &driver.Request{Vnfd: v, Info: &model.InstantiatedVnfInfo{FlavourID: "helmchart"}, Params: json.RawMessage(`{"aspectId": "nope"}`)}
	_, errScale := New(Config{}).Scale(context.Background(), req)
	_, errLevel := New(Config{}).ScaleToLevel(context.Background(), req)
	const title = "Invalid request for the Helm driver"
	assert.Equal(t, []error{&driver.ProblemError{Status: 422, Title: title, Err: errors.New(`aspect "nope" is not in flavour helmchart`)},
		&driver.ProblemError{Status: 422, Title: title, Err: errors.New("instantiationLevelId or scaleInfo is required")}}, []error{errScale, errLevel})
}

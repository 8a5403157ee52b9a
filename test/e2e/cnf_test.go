package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/helm"
	"github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/k8slab"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// The cnf-helm sample through the API on a real control plane (etcd,
// kube-apiserver, controller-manager, scheduler, kwok nodes): once from its
// manifest with the Kubernetes driver, once from its chart with Helm.
func TestCNFSample(t *testing.T) {
	cp := k8slab.StartControlPlane(t, 2)
	e := newEnvDeps(t, storetest.SQLite(t), 100, func(reg *driver.Registry, _ *scripted.Driver, d server.Deps) {
		h := helm.New(helm.Config{Log: d.Log, DataDir: t.TempDir()})
		reg.RegisterInfra(helm.OnKubernetes(kubernetes.New(kubernetes.Config{Log: d.Log}), h), kubernetes.VimTypes...)
		reg.RegisterInfra(h, helm.VimTypes...)
	}, realPackages)
	r := e.do("POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{
		"name": "lab-k8s", "type": "kubernetes", "auth_url": cp.URL,
		"vim_project": map[string]any{"name": "default"},
		"auth_cred":   map[string]any{"bearer_token": cp.Token, "ssl_ca_cert": string(cp.CA)},
	}})
	require.Equal(t, 201, r.status, "%s", r.body)
	vimID := r.json(t)["vim"].(map[string]any)["id"].(string)
	p := e.onboard(buildSample(t, "cnf-helm", nil), "ONBOARDED")
	vnfdID := p["vnfdId"].(string)

	for _, tc := range []struct {
		name   string
		params func(ns string) map[string]any
	}{
		{"manifests", func(ns string) map[string]any {
			return map[string]any{"namespace": ns, "lcm-kubernetes-def-files": []string{"Files/kubernetes/deployment.yaml"}}
		}},
		{"helm", func(ns string) map[string]any {
			return map[string]any{"namespace": ns, "use_helm": true,
				"using_helm_install_param": []any{map[string]any{
					"exthelmchart": "false", "helmchartfile_path": "Files/kubernetes/localhelm-0.1.0.tgz", "helmreleasename": "vdu1"}},
				"helm_replica_values": map[string]any{"vdu1_aspect": "replicaCount"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := "cnf-" + tc.name
			_, err := cp.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			require.NoError(t, err)
			r := e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": vnfdID, "vnfInstanceName": "cnf-" + tc.name})
			require.Equal(t, 201, r.status, "%s", r.body)
			id := r.json(t)["id"].(string)
			timed := func(what, task string, body any) {
				t.Helper()
				start := time.Now()
				e.waitFor(e.task(id, task, body), 5*time.Minute, "COMPLETED")
				t.Logf("%s %s: %v", tc.name, what, time.Since(start).Round(10*time.Millisecond))
			}
			pods := func() []string {
				list, err := cp.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
				require.NoError(t, err)
				var out []string
				for _, p := range list.Items {
					if p.DeletionTimestamp == nil {
						out = append(out, p.Name)
					}
				}
				return out
			}
			vnfcs := func() map[string]string { // VNFC id → pod
				out := map[string]string{}
				info, _ := e.instance(id)["instantiatedVnfInfo"].(map[string]any)
				list, _ := info["vnfcResourceInfo"].([]any)
				for _, x := range list {
					v := x.(map[string]any)
					assert.Equal(t, "VDU1", v["vduId"])
					out[v["id"].(string)] = v["computeResource"].(map[string]any)["resourceId"].(string)
				}
				return out
			}

			timed("instantiate (level 2: 3 pods)", "instantiate", map[string]any{
				"flavourId": "helmchart", "instantiationLevelId": "instantiation_level_2",
				"vimConnectionInfo": []any{map[string]any{"id": "k8s", "vimId": vimID, "vimType": "kubernetes"}},
				"additionalParams":  tc.params(ns),
			})
			require.Len(t, vnfcs(), 3)
			assert.ElementsMatch(t, pods(), values(vnfcs()))

			timed("scale in", "scale", map[string]any{"type": "SCALE_IN", "aspectId": "vdu1_aspect"})
			require.Len(t, vnfcs(), 2)
			require.Eventually(t, func() bool { return len(pods()) == 2 }, time.Minute, 200*time.Millisecond)
			r = e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/scale", map[string]any{"type": "SCALE_OUT", "aspectId": "vdu1_aspect", "numberOfSteps": 2})
			assert.Equal(t, 422, r.status, "beyond max_scale_level: %s", r.body)
			timed("scale out", "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "vdu1_aspect"})
			before := vnfcs()
			require.Len(t, before, 3)

			var victim string
			for v := range before {
				victim = v
				break
			}
			timed("heal one pod (SOL002)", "heal", map[string]any{"vnfcInstanceId": []string{victim}})
			after := vnfcs()
			require.Len(t, after, 3)
			assert.NotEqual(t, before[victim], after[victim], "the VNFC keeps its id, its pod is new")
			for v, pod := range before {
				if v != victim {
					assert.Equal(t, pod, after[v], "other pods are untouched")
				}
			}
			require.Eventually(t, func() bool { return !contains(pods(), before[victim]) }, time.Minute, 200*time.Millisecond)

			timed("heal the whole CNF (SOL003)", "heal", map[string]any{"cause": "rebuild"})
			require.Len(t, vnfcs(), 3)

			timed("terminate", "terminate", map[string]any{"terminationType": "FORCEFUL"})
			require.Eventually(t, func() bool { return len(pods()) == 0 }, time.Minute, 200*time.Millisecond, "pods left: %v", pods())
			deps, err := cp.Client.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
			require.NoError(t, err)
			assert.Empty(t, deps.Items)
			secrets, err := cp.Client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{})
			require.NoError(t, err)
			for _, s := range secrets.Items {
				assert.False(t, strings.HasPrefix(s.Name, "sh.helm.release"), "helm release secret %s left", s.Name)
			}
		})
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

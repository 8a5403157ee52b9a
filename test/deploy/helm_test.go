// Package deploy checks the deployment artefacts in deploy/: the Helm
// chart (linted and rendered with the Helm SDK), the systemd unit
// (systemd-analyze), the Dockerfile and the sample environment file.
package deploy

import (
	"encoding/base64"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

const chartDir = "../../deploy/helm/vnfm"

const externalURL = "postgres://vnfm:pa%40ss@db.example.net:5432/vnfm?sslmode=verify-full"

func TestChartLints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"defaults", nil},
		{"external postgres", map[string]any{"postgresql": map[string]any{"external": map[string]any{"url": externalURL}}}},
		{"tls", map[string]any{"tls": map[string]any{"enabled": true, "secretName": "vnfm-tls"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := lint.All(chartDir, tc.values, "nfv", false)
			require.NotEmpty(t, l.Messages, "the linter ran (it always reports at least the chart's icon)")
			for _, m := range l.Messages {
				// As helm lint --strict: warnings fail too.
				require.Less(t, m.Severity, support.WarningSev, "%s", m)
			}
		})
	}
}

// manifest is a rendered release, by kind and name.
type manifest map[string]runtime.Object

func (m manifest) get(t *testing.T, kind, name string) runtime.Object {
	t.Helper()
	o, ok := m[kind+"/"+name]
	require.True(t, ok, "no %s %s in %v", kind, name, m.names())
	return o
}

func (m manifest) names() []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// render is `helm template vnfm deploy/helm/vnfm -n nfv` with values,
// decoded into typed objects.
func render(t *testing.T, values map[string]any) (manifest, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	require.NoError(t, err)
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = "vnfm", "nfv"
	rel, err := inst.Run(ch, values)
	if err != nil {
		return nil, err
	}
	m := manifest{}
	dec := scheme.Codecs.UniversalDeserializer()
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		obj, gvk, err := dec.Decode([]byte(doc), nil, nil)
		require.NoError(t, err, "%s", doc)
		name := obj.(interface{ GetName() string }).GetName()
		require.NotContains(t, m, gvk.Kind+"/"+name, "rendered twice")
		m[gvk.Kind+"/"+name] = obj
	}
	return m, nil
}

func TestChartRenders(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, tc := range []struct {
		name   string
		values map[string]any
		// what the replicas must get
		keySecret, dbSecret string
		dbURL               string // "" = the bundled PostgreSQL's
		key                 string // "" = generated
		bundled, tls, pdb   bool
		replicas            int32
	}{
		{name: "defaults", keySecret: "vnfm-keys", dbSecret: "vnfm-database", bundled: true, pdb: true, replicas: 2},
		{
			name:      "external postgres",
			values:    map[string]any{"postgresql": map[string]any{"external": map[string]any{"url": externalURL}}},
			keySecret: "vnfm-keys", dbSecret: "vnfm-database", dbURL: externalURL, pdb: true, replicas: 2,
		},
		{
			name: "existing secrets",
			values: map[string]any{
				"encryptionKey": map[string]any{"existingSecret": "my-key"},
				"postgresql":    map[string]any{"external": map[string]any{"existingSecret": "my-db"}},
			},
			keySecret: "my-key", dbSecret: "my-db", pdb: true, replicas: 2,
		},
		{
			name: "given key, tls, three replicas",
			values: map[string]any{
				"replicaCount":  3,
				"encryptionKey": map[string]any{"value": key},
				"tls":           map[string]any{"enabled": true, "secretName": "vnfm-tls"},
			},
			keySecret: "vnfm-keys", dbSecret: "vnfm-database", key: key, bundled: true, tls: true, pdb: true, replicas: 3,
		},
		{
			name:      "one replica",
			values:    map[string]any{"replicaCount": 1},
			keySecret: "vnfm-keys", dbSecret: "vnfm-database", bundled: true, replicas: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := render(t, tc.values)
			require.NoError(t, err)
			d := m.get(t, "Deployment", "vnfm").(*appsv1.Deployment)
			require.Equal(t, tc.replicas, *d.Spec.Replicas)
			pod := d.Spec.Template.Spec
			require.Len(t, pod.Containers, 1)
			c := pod.Containers[0]
			require.Equal(t, []string{"serve"}, c.Args)
			require.Len(t, c.Ports, 1)
			require.Equal(t, int32(9890), c.Ports[0].ContainerPort)

			// Probes on the API port.
			scheme := corev1.URISchemeHTTP
			if tc.tls {
				scheme = corev1.URISchemeHTTPS
			}
			for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz", c.StartupProbe: "/healthz"} {
				require.NotNil(t, probe)
				require.Equal(t, want, probe.HTTPGet.Path)
				require.Equal(t, c.Ports[0].Name, probe.HTTPGet.Port.String())
				require.Equal(t, scheme, probe.HTTPGet.Scheme)
			}

			// Non-root, read-only, no privileges.
			require.True(t, *pod.SecurityContext.RunAsNonRoot)
			require.NotZero(t, *pod.SecurityContext.RunAsUser)
			require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
			require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
			require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
			require.False(t, *pod.AutomountServiceAccountToken)
			require.False(t, c.Resources.Requests.Cpu().IsZero())
			require.False(t, c.Resources.Requests.Memory().IsZero())
			require.False(t, c.Resources.Limits.Memory().IsZero())

			// Settings from the ConfigMap; the key file is the Secret
			// every replica mounts (one pod template: no replica can get
			// another key), the database URL from a Secret.
			require.Len(t, c.EnvFrom, 1)
			cm := m.get(t, "ConfigMap", c.EnvFrom[0].ConfigMapRef.Name).(*corev1.ConfigMap)
			env := func(name string) *corev1.EnvVar {
				for i := range c.Env {
					if c.Env[i].Name == name {
						return &c.Env[i]
					}
				}
				return nil
			}
			require.Equal(t, "0.0.0.0:9890", cm.Data["VNFM_LISTEN"])
			keyFile := cm.Data["VNFM_ENCRYPTION_KEY_FILE"]
			require.NotEmpty(t, keyFile)
			require.Nil(t, env("VNFM_ENCRYPTION_KEY_FILE"))
			mountedFrom := ""
			for _, vm := range c.VolumeMounts {
				if vm.MountPath == filepath.Dir(keyFile) {
					require.True(t, vm.ReadOnly)
					for _, v := range pod.Volumes {
						if v.Name == vm.Name {
							require.NotNil(t, v.Secret, "the key comes from a Secret")
							mountedFrom = v.Secret.SecretName
							require.Equal(t, []corev1.KeyToPath{{Key: "encryption.key", Path: filepath.Base(keyFile)}}, v.Secret.Items)
						}
					}
				}
			}
			require.Equal(t, tc.keySecret, mountedFrom, "the key file is mounted from the key Secret")
			dbEnv := env("VNFM_DATABASE_URL")
			require.NotNil(t, dbEnv)
			require.Equal(t, tc.dbSecret, dbEnv.ValueFrom.SecretKeyRef.Name)
			require.Equal(t, "database-url", dbEnv.ValueFrom.SecretKeyRef.Key)
			require.NotContains(t, cm.Data, "VNFM_DATABASE_URL", "the URL (with its password) is not in the ConfigMap")
			if tc.tls {
				require.Equal(t, "/etc/vnfm/tls/tls.crt", cm.Data["VNFM_TLS_CERT_FILE"])
				require.Equal(t, "/etc/vnfm/tls/tls.key", cm.Data["VNFM_TLS_KEY_FILE"])
			} else {
				require.NotContains(t, cm.Data, "VNFM_TLS_CERT_FILE")
			}

			// The Secrets the chart makes.
			if tc.keySecret == "vnfm-keys" {
				s := m.get(t, "Secret", "vnfm-keys").(*corev1.Secret)
				require.Equal(t, "keep", s.Annotations["helm.sh/resource-policy"], "uninstall keeps the key")
				raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(s.Data["encryption.key"])))
				require.NoError(t, err, "the key file is base64")
				require.Len(t, raw, 32, "an AES-256 key")
				if tc.key != "" {
					require.Equal(t, tc.key, string(s.Data["encryption.key"]))
				}
			} else {
				require.NotContains(t, m, "Secret/vnfm-keys")
			}
			_, hasSTS := m["StatefulSet/vnfm-postgresql"]
			require.Equal(t, tc.bundled, hasSTS, "bundled PostgreSQL")
			if tc.dbSecret == "vnfm-database" {
				s := m.get(t, "Secret", "vnfm-database").(*corev1.Secret)
				got := string(s.Data["database-url"])
				if tc.bundled {
					u, err := url.Parse(got)
					require.NoError(t, err)
					m.get(t, "Service", u.Hostname())
					require.Equal(t, "5432", u.Port())
					require.Equal(t, "/vnfm", u.Path)
					pw, _ := u.User.Password()
					require.Len(t, pw, 32)
					require.Equal(t, pw, string(s.Data["postgres-password"]), "vnfm logs in with the password PostgreSQL is given")
					sts := m.get(t, "StatefulSet", "vnfm-postgresql").(*appsv1.StatefulSet)
					pg := sts.Spec.Template.Spec.Containers[0]
					var ref *corev1.SecretKeySelector
					for _, e := range pg.Env {
						if e.Name == "POSTGRES_PASSWORD" {
							ref = e.ValueFrom.SecretKeyRef
						}
					}
					require.Equal(t, &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "vnfm-database"}, Key: "postgres-password"}, ref)
					require.True(t, *sts.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
					require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
					require.Len(t, pod.InitContainers, 1, "waits for PostgreSQL")
				} else {
					require.Equal(t, tc.dbURL, got)
					require.NotContains(t, s.Data, "postgres-password")
					require.Empty(t, pod.InitContainers)
				}
			} else {
				require.NotContains(t, m, "Secret/vnfm-database")
			}

			// Service and disruption budget select the replicas, and only
			// them (not the bundled PostgreSQL).
			svc := m.get(t, "Service", "vnfm").(*corev1.Service)
			require.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)
			require.Equal(t, c.Ports[0].Name, svc.Spec.Ports[0].TargetPort.String())
			sel := labels.SelectorFromSet(svc.Spec.Selector)
			require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)))
			if tc.bundled {
				sts := m.get(t, "StatefulSet", "vnfm-postgresql").(*appsv1.StatefulSet)
				require.False(t, sel.Matches(labels.Set(sts.Spec.Template.Labels)), "the vnfm Service does not select PostgreSQL")
				pgSel := labels.SelectorFromSet(m.get(t, "Service", "vnfm-postgresql").(*corev1.Service).Spec.Selector)
				require.True(t, pgSel.Matches(labels.Set(sts.Spec.Template.Labels)))
				require.False(t, pgSel.Matches(labels.Set(d.Spec.Template.Labels)))
			}
			pdb, ok := m["PodDisruptionBudget/vnfm"]
			require.Equal(t, tc.pdb, ok, "PodDisruptionBudget")
			if tc.pdb {
				p := pdb.(*policyv1.PodDisruptionBudget)
				require.Equal(t, 1, p.Spec.MinAvailable.IntValue())
				require.Equal(t, d.Spec.Selector.MatchLabels, p.Spec.Selector.MatchLabels)
			}
		})
	}
}

func TestChartRefusesBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"short key", map[string]any{"encryptionKey": map[string]any{"value": base64.StdEncoding.EncodeToString([]byte("short"))}}, "32 bytes"},
		{"tls without a secret", map[string]any{"tls": map[string]any{"enabled": true}}, "tls.secretName"},
		{"no replicas", map[string]any{"replicaCount": 0}, "replicaCount"},
		{"not a postgres URL", map[string]any{"postgresql": map[string]any{"external": map[string]any{"url": "mysql://db/vnfm"}}}, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.values)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

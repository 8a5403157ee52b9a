package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

const samples = "../samples"

// realPackages makes the env resolve VNFDs from onboarded packages.
func realPackages(c *server.Config) { c.Vnfds = nil }

// buildSample zips a sample (after edit, when given, changes a copy).
func buildSample(t testing.TB, name string, edit func(dir string)) []byte {
	t.Helper()
	dir := filepath.Join(samples, name)
	if edit != nil {
		tmp := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.CopyFS(tmp, os.DirFS(dir)))
		edit(tmp)
		dir = tmp
	}
	var buf bytes.Buffer
	require.NoError(t, csar.Build(dir, &buf))
	return buf.Bytes()
}

func sampleVnfdID(t testing.TB, name string) string {
	t.Helper()
	fsys := os.DirFS(filepath.Join(samples, name))
	meta, err := os.ReadFile(filepath.Join(samples, name, "TOSCA-Metadata", "TOSCA.meta"))
	require.NoError(t, err)
	var entry string
	for _, l := range strings.Split(string(meta), "\n") {
		if v, ok := strings.CutPrefix(l, "Entry-Definitions:"); ok {
			entry = strings.TrimSpace(v)
		}
	}
	v, err := vnfd.Parse(fsys, entry)
	require.NoError(t, err)
	return v.ID()
}

// pkgDo sends a package management request the way the Tacker CLI does:
// without a Version header.
func (e *env) pkgDo(method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	return e.do(method, "/vnfpkgm/v1"+path, body, append([]string{"Version", ""}, headers...)...)
}

// onboard creates a package, uploads csar and waits for a final
// onboarding state; it returns the package.
func (e *env) onboard(csarBytes []byte, want model.OnboardingState) map[string]any {
	e.t.Helper()
	r := e.pkgDo("POST", "/vnf_packages", map[string]any{"userDefinedData": map[string]any{"team": "core"}})
	require.Equal(e.t, 201, r.status, "%s", r.body)
	p := r.json(e.t)
	require.Equal(e.t, "CREATED", p["onboardingState"])
	id := p["id"].(string)
	r = e.upload(id, csarBytes)
	require.Equal(e.t, 202, r.status, "%s", r.body)
	return e.waitPackage(id, want)
}

func (e *env) upload(id string, data []byte) *resp {
	e.t.Helper()
	req, err := http.NewRequest("PUT", e.url+"/vnfpkgm/v1/vnf_packages/"+id+"/package_content", bytes.NewReader(data))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/zip")
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

func (e *env) waitPackage(id string, want model.OnboardingState) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := e.pkgDo("GET", "/vnf_packages/"+id, nil).json(e.t)
		st := p["onboardingState"]
		if st == string(want) {
			return p
		}
		if st == "ONBOARDED" || st == "ERROR" || time.Now().After(deadline) {
			e.t.Fatalf("package %s is %v, want %s: %v", id, st, want, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPackageOnboardingAndInstances(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t), 100, realPackages)
			for _, sample := range []string{"vm-simple", "k8s-cluster", "cnf-helm"} {
				data := buildSample(t, sample, nil)
				p := e.onboard(data, model.PkgOnboarded)
				id := p["id"].(string)
				require.Equal(t, sampleVnfdID(t, sample), p["vnfdId"], sample)
				require.Equal(t, "ENABLED", p["operationalState"])
				require.Equal(t, "NOT_IN_USE", p["usageState"])
				require.NotEmpty(t, p["vnfProvider"])
				require.Contains(t, p["_links"].(map[string]any), "packageContent")
				require.Equal(t, map[string]any{"team": "core"}, p["userDefinedData"])
				// Content download, whole and by range.
				r := e.pkgDo("GET", "/vnf_packages/"+id+"/package_content", nil, "Accept", "application/zip")
				require.Equal(t, 200, r.status)
				require.Equal(t, data, r.body)
				r = e.pkgDo("GET", "/vnf_packages/"+id+"/package_content", nil, "Range", "bytes=10-19", "Accept", "application/zip")
				require.Equal(t, 206, r.status)
				require.Equal(t, data[10:20], r.body)
				r = e.pkgDo("GET", "/vnf_packages/"+id+"/package_content", nil, "Range", "bytes=999999999-", "Accept", "application/zip")
				require.Equal(t, 416, r.status)
				// The VNFD as a zip of its files.
				r = e.pkgDo("GET", "/vnf_packages/"+id+"/vnfd", nil, "Accept", "application/zip")
				require.Equal(t, 200, r.status)
				zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
				require.NoError(t, err)
				var names []string
				for _, f := range zr.File {
					names = append(names, f.Name)
				}
				require.Contains(t, names, "TOSCA-Metadata/TOSCA.meta")
			}

			// Artifacts.
			p := e.pkgDo("GET", "/vnf_packages?filter=(eq,vnfdId,"+sampleVnfdID(t, "vm-simple")+")", nil).list(t)
			require.Len(t, p, 1)
			require.NotContains(t, p[0], "softwareImages", "excluded from lists by default")
			vmPkg := p[0]["id"].(string)
			r := e.pkgDo("GET", "/vnf_packages/"+vmPkg+"/artifacts/BaseHOT/simple/simple_hot_top.yaml", nil, "Accept", "*/*")
			require.Equal(t, 200, r.status)
			want, err := os.ReadFile(filepath.Join(samples, "vm-simple", "BaseHOT/simple/simple_hot_top.yaml"))
			require.NoError(t, err)
			require.Equal(t, want, r.body)
			require.Equal(t, 404, e.pkgDo("GET", "/vnf_packages/"+vmPkg+"/artifacts/nope.txt", nil, "Accept", "*/*").status)
			require.Equal(t, 406, e.pkgDo("GET", "/vnf_packages/"+vmPkg+"/vnfd", nil, "Accept", "text/plain").status, "a multi-file VNFD is not served as one text file")

			// Instances need an onboarded, enabled VNFD and take its product data.
			r = e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "no-such-vnfd"})
			require.Equal(t, 422, r.status)
			vnfdID := sampleVnfdID(t, "vm-simple")
			r = e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": vnfdID})
			require.Equal(t, 201, r.status, "%s", r.body)
			inst := r.json(t)
			require.Equal(t, "VM Simple", inst["vnfProductName"])
			require.Equal(t, vmPkg, inst["vnfPkgId"])
			require.Equal(t, vmPkg, inst["vnfPkgInfoId"])
			require.Equal(t, "IN_USE", e.pkgDo("GET", "/vnf_packages/"+vmPkg, nil).json(t)["usageState"])

			// PATCH: a no-op state change is 409; disabling blocks new instances.
			r = e.pkgDo("PATCH", "/vnf_packages/"+vmPkg, map[string]any{"operationalState": "ENABLED"})
			require.Equal(t, 409, r.status)
			r = e.pkgDo("PATCH", "/vnf_packages/"+vmPkg, map[string]any{"operationalState": "DISABLED", "userDefinedData": map[string]any{"team": nil, "x": "y"}})
			require.Equal(t, 200, r.status, "%s", r.body)
			require.Equal(t, "DISABLED", r.json(t)["operationalState"])
			got := e.pkgDo("GET", "/vnf_packages/"+vmPkg, nil).json(t)
			require.Equal(t, map[string]any{"x": "y"}, got["userDefinedData"])
			require.Equal(t, 422, e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": vnfdID}).status)
			// In use: cannot be deleted; once the instance is gone it can.
			r = e.pkgDo("DELETE", "/vnf_packages/"+vmPkg, nil)
			require.Equal(t, 409, r.status)
			require.Contains(t, string(r.body), "use")
			require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+inst["id"].(string), nil).status)
			require.Equal(t, "NOT_IN_USE", e.pkgDo("GET", "/vnf_packages/"+vmPkg, nil).json(t)["usageState"])
			require.Equal(t, 204, e.pkgDo("DELETE", "/vnf_packages/"+vmPkg, nil).status)
			require.Equal(t, 404, e.pkgDo("GET", "/vnf_packages/"+vmPkg, nil).status)
			// An ENABLED package cannot be deleted.
			other := e.pkgDo("GET", "/vnf_packages?filter=(eq,onboardingState,ONBOARDED)", nil).list(t)[0]["id"].(string)
			require.Equal(t, 409, e.pkgDo("DELETE", "/vnf_packages/"+other, nil).status)

			// The same VNFD again: the second package ends in ERROR.
			dup := e.onboard(buildSample(t, "cnf-helm", nil), model.PkgError)
			require.Contains(t, dup["onboardingFailureDetails"].(map[string]any)["detail"], "already onboarded")
			// Uploading to a package not in CREATED is a conflict.
			require.Equal(t, 409, e.upload(other, buildSample(t, "vm-simple", nil)).status)
		})
	}
}

func TestPackageBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends["sqlite"](t), 100, realPackages, func(c *server.Config) {
		c.PackageLimits = csar.Limits{MaxTotalSize: 1 << 20, MaxEntries: 100, MaxFileSize: 1 << 20}
	})
	zipOf := func(files map[string]string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range files {
			w, err := zw.Create(name)
			require.NoError(t, err)
			_, _ = w.Write([]byte(body))
		}
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	writeFile := func(dir, name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	withHashMismatch := func() []byte {
		data := buildSample(t, "vm-simple", nil)
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		require.NoError(t, err)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, f := range zr.File {
			rc, err := f.Open()
			require.NoError(t, err)
			var b bytes.Buffer
			_, _ = b.ReadFrom(rc)
			rc.Close()
			if f.Name == "BaseHOT/simple/simple_hot_top.yaml" {
				b.WriteString("\n# tampered\n")
			}
			w, err := zw.Create(f.Name)
			require.NoError(t, err)
			_, _ = w.Write(b.Bytes())
		}
		require.NoError(t, zw.Close())
		return buf.Bytes()
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"not a zip", "zip", []byte("this is not a zip file at all")},
		{"escaping entry", "escapes", zipOf(map[string]string{"../evil.yaml": "x", "TOSCA-Metadata/TOSCA.meta": "Entry-Definitions: a.yaml\n"})},
		{"absolute entry", "escapes", zipOf(map[string]string{"/etc/passwd": "x"})},
		{"bomb", "limit", zipOf(map[string]string{"big.yaml": strings.Repeat("a", 2<<20)})},
		{"too many entries", "entries", func() []byte {
			m := map[string]string{}
			for i := range 150 {
				m[filepath.Join("Files", strings.Repeat("x", 3)+string(rune('a'+i%26))+strings.Repeat("y", i/26))] = "z"
			}
			return zipOf(m)
		}()},
		{"no entry definitions", "Entry-Definitions", zipOf(map[string]string{"TOSCA-Metadata/TOSCA.meta": "TOSCA-Meta-File-Version: 1.0\n", "a.yaml": "x: 1\n"})},
		{"yaml error", "vm_simple_df_simple.yaml:", buildSample(t, "vm-simple", func(dir string) {
			writeFile(dir, "Definitions/vm_simple_df_simple.yaml", "tosca_definitions_version: tosca_simple_yaml_1_2\ntopology_template:\n  node_templates: [unclosed\n")
		})},
		{"import leaves package", "import", buildSample(t, "vm-simple", func(dir string) {
			top := filepath.Join(dir, "Definitions/vm_simple_top.vnfd.yaml")
			b, err := os.ReadFile(top)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(top, bytes.Replace(b, []byte("  - example_types.yaml"), []byte("  - ../../outside.yaml"), 1), 0o644))
		})},
		{"hash mismatch", "mismatch", withHashMismatch()},
	}
	for _, c := range cases {
		p := e.onboard(c.data, model.PkgError)
		pd := p["onboardingFailureDetails"].(map[string]any)
		require.Contains(t, strings.ToLower(pd["detail"].(string)), strings.ToLower(c.want), c.name)
		require.Equal(t, "DISABLED", p["operationalState"], c.name)
	}
	// Wrong media type, empty body, unknown package.
	r := e.pkgDo("POST", "/vnf_packages", map[string]any{})
	id := r.json(t)["id"].(string)
	r = e.do("PUT", "/vnfpkgm/v1/vnf_packages/"+id+"/package_content", "abc", "Content-Type", "text/plain", "Version", "")
	require.Equal(t, 415, r.status)
	require.Equal(t, 400, e.upload(id, nil).status)
	require.Equal(t, 404, e.upload("6f1d3e46-0000-4000-8000-000000000000", []byte("x")).status)
	require.Equal(t, 400, e.pkgDo("POST", "/vnf_packages/"+id+"/package_content/upload_from_uri", map[string]any{"addressInformation": "ftp://x"}).status)
	require.Equal(t, 400, e.pkgDo("POST", "/vnf_packages", `{"userDefinedData": 5}`).status)
	require.Equal(t, 409, e.pkgDo("GET", "/vnf_packages/"+id+"/package_content", nil, "Accept", "application/zip").status, "no content before ONBOARDED")
	require.Equal(t, "CREATED", e.pkgDo("GET", "/vnf_packages/"+id, nil).json(t)["onboardingState"], "nothing written by the bad requests")
}

func TestPackageUploadFromURI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends["sqlite"](t), 100, realPackages)
	data := buildSample(t, "k8s-cluster", nil)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "fetcher" || p != "s3cret-VIM-password" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(data)
	}))
	defer src.Close()
	mk := func() string {
		return e.pkgDo("POST", "/vnf_packages", map[string]any{}).json(t)["id"].(string)
	}
	id := mk()
	r := e.pkgDo("POST", "/vnf_packages/"+id+"/package_content/upload_from_uri", map[string]any{"addressInformation": src.URL + "/pkg.zip", "userName": "fetcher", "password": "s3cret-VIM-password"})
	require.Equal(t, 202, r.status, "%s", r.body)
	p := e.waitPackage(id, model.PkgOnboarded)
	require.Equal(t, sampleVnfdID(t, "k8s-cluster"), p["vnfdId"])
	// Wrong credentials: ERROR naming the answer, without the password.
	id = mk()
	require.Equal(t, 202, e.pkgDo("POST", "/vnf_packages/"+id+"/package_content/upload_from_uri", map[string]any{"addressInformation": src.URL + "/pkg.zip", "userName": "fetcher", "password": "wrong"}).status)
	p = e.waitPackage(id, model.PkgError)
	require.Contains(t, p["onboardingFailureDetails"].(map[string]any)["detail"], "401")
}

// A process that stops while onboarding leaves the package PROCESSING;
// another one (or the same after restart) finishes it from the stored bytes.
func TestPackageOnboardingRecovery(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	key := filepath.Join(t.TempDir(), "encryption.key")
	open := func() store.Store {
		st, err := pgstore.Open(context.Background(), url, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st := open()
	ctx := context.Background()
	p := &store.Package{VnfPkgInfo: model.VnfPkgInfo{ID: "0b4c1e7a-0000-4000-8000-00000000000a", OnboardingState: model.PkgCreated, OperationalState: model.PkgDisabled, UsageState: model.PkgNotInUse}}
	require.NoError(t, st.CreatePackage(ctx, p))
	require.NoError(t, st.PutPackageContent(ctx, p.ID, buildSample(t, "vm-simple", nil)))
	p.OnboardingState = model.PkgProcessing
	p.Owner = "a-process-that-died"
	p.LeaseUntil = time.Now().Add(-time.Second)
	require.NoError(t, st.UpdatePackage(ctx, p))

	e := newEnv(t, open(), 100, realPackages, func(c *server.Config) { c.EncryptionKeyFile = key })
	got := e.waitPackage(p.ID, model.PkgOnboarded)
	require.Equal(t, sampleVnfdID(t, "vm-simple"), got["vnfdId"])
}

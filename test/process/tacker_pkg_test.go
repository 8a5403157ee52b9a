package process

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// uriPassword is the basic-auth password of the upload_from_uri source; no
// CLI output and no server output may contain it.
const uriPassword = "pkg-URI-s3cret-password"

func init() { testsecrets.Register(uriPassword) }

// sample is a package directory of test/samples and what its VNFD says.
type sample struct {
	dir                       string
	vnfdID, provider, product string
	swVersion                 string
}

var (
	vmSimple = sample{dir: "vm-simple", vnfdID: "8d3f4a2c-5b1e-4c7a-9f60-2e1d0b7c4a11",
		provider: "Example", product: "VM Simple", swVersion: "1.0"}
	k8sCluster = sample{dir: "k8s-cluster", vnfdID: "3b0e4c51-7d2a-4f9e-a8c6-5f1b2d9e0c77",
		provider: "Example", product: "Kubernetes Cluster", swVersion: "1.30"}
)

func (s sample) path(rel string) string {
	return filepath.Join("..", "samples", s.dir, filepath.FromSlash(rel))
}

// buildCSAR zips the sample into dir and returns the file and its bytes.
func buildCSAR(t *testing.T, dir string, s sample) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, csar.Build(s.path(""), &buf))
	file := filepath.Join(dir, s.dir+".zip")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o600))
	return file, buf.Bytes()
}

// TestTackerCLIPackages drives vnfm's VNF package management with `openstack
// vnf package ...` (python-tackerclient, vnfpkgm v1).
func TestTackerCLIPackages(t *testing.T) {
	t.Parallel()
	for _, f := range []string{systemPython, openstackCLI, tackerPlugin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the Tacker CLI is not installed (%v); install it with\n"+
				"\tapt-get install python3-tackerclient python3-openstackclient", err)
		}
	}
	srv := startServer(t, "", t.TempDir())
	c := &tacker{endpoint: srv.url}
	dir := t.TempDir()

	vmFile, vmCSAR := buildCSAR(t, dir, vmSimple)
	_, k8sCSAR := buildCSAR(t, dir, k8sCluster)
	broken := filepath.Join(dir, "broken.zip")
	require.NoError(t, os.WriteFile(broken, vmCSAR[:len(vmCSAR)/2], 0o600))

	// The upload_from_uri source: it serves the k8s-cluster CSAR, and only
	// with the right basic auth.
	var fetched, refused atomic.Int32
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "u" || subtle.ConstantTimeCompare([]byte(p), []byte(uriPassword)) != 1 {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="csar"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/k8s-cluster.zip" {
			http.NotFound(w, r)
			return
		}
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/zip")
		_, _ = w.Write(k8sCSAR)
	}))
	t.Cleanup(src.Close)

	// Each python invocation takes most of a second: the three packages are
	// driven side by side on the one server.
	t.Run("scenarios", func(t *testing.T) {
		t.Run("lifecycle", func(t *testing.T) {
			t.Parallel()
			pkgLifecycle(t, c, vmFile, vmCSAR)
		})
		t.Run("upload_from_uri", func(t *testing.T) {
			t.Parallel()
			id := pkgCreate(t, c)
			out := c.run(t, "vnf", "package", "upload", "--url", src.URL+"/k8s-cluster.zip",
				"--user-name", "u", "--password", uriPassword, id)
			require.Contains(t, out, "Upload request for VNF package "+id+" has been accepted.")
			pkg := pkgAwait(t, c, id, "ONBOARDED")
			require.Equal(t, k8sCluster.vnfdID, pkg["VNFD ID"])
			require.Equal(t, k8sCluster.provider, pkg["VNF Provider"])
			require.Equal(t, k8sCluster.product, pkg["VNF Product Name"])
			require.Equal(t, k8sCluster.swVersion, pkg["VNF Software Version"])
			require.Equal(t, "ENABLED", pkg["Operational State"])
			require.EqualValues(t, 1, fetched.Load(), "the server fetched the CSAR once, with the credentials")
			require.Zero(t, refused.Load(), "the server always sent the credentials")

			file := filepath.Join(t.TempDir(), "k8s.zip")
			c.run(t, "vnf", "package", "download", "--file", file, id)
			got, err := os.ReadFile(file)
			require.NoError(t, err)
			require.True(t, bytes.Equal(k8sCSAR, got), "downloaded content (%d bytes) differs from the fetched CSAR (%d bytes)", len(got), len(k8sCSAR))

			c.run(t, "vnf", "package", "update", "--operational-state", "DISABLED", id)
			require.Contains(t, c.run(t, "vnf", "package", "delete", id), "All specified vnf-package(s) deleted successfully")
		})
		t.Run("broken", func(t *testing.T) {
			t.Parallel()
			id := pkgCreate(t, c)
			out := c.run(t, "vnf", "package", "upload", "--path", broken, id)
			require.Contains(t, out, "Upload request for VNF package "+id+" has been accepted.")
			pkg := pkgAwait(t, c, id, "ERROR")
			require.Equal(t, "DISABLED", pkg["Operational State"])
			require.NotContains(t, pkg, "VNFD ID", "show prints the VNFD columns only for ONBOARDED packages")
			// show has an onboardingFailureDetails row, but this
			// tackerclient prints it empty: the key is missing from its
			// _mixed_case_fields, so osc-lib looks up
			// "onboardingfailuredetails". The details the server sent are
			// in the --debug log of the response body.
			require.Contains(t, pkg, "onboardingFailureDetails")
			stderr := pkgDebug(t, c, true, "vnf", "package", "show", id)
			require.Contains(t, stderr, "RESP: [200]")
			body := respBody(t, stderr)
			require.Contains(t, body, `"onboardingState":"ERROR"`)
			require.Contains(t, body, `"onboardingFailureDetails":{`)
			require.Contains(t, body, `"status":422`)
			require.Contains(t, body, "not a valid zip archive")

			// Content exists only once ONBOARDED: 409.
			stderr = pkgDebug(t, c, false, "vnf", "package", "download", "--file", filepath.Join(t.TempDir(), "x.zip"), id)
			require.Contains(t, stderr, "RESP: [409]")
			require.Contains(t, stderr, "the package is ERROR; its content is available once ONBOARDED")
			// A package in ERROR is DISABLED: it can be deleted.
			require.Contains(t, c.run(t, "vnf", "package", "delete", id), "All specified vnf-package(s) deleted successfully")
		})
	})

	var list []map[string]any
	c.json(t, &list, "vnf", "package", "list")
	require.Empty(t, list, "every package was deleted")

	srv.stop()
	srv.assertNoSecret(t, uriPassword)
	c.assertNoSecret(t, uriPassword)
}

func pkgLifecycle(t *testing.T, c *tacker, csarFile string, csarBytes []byte) {
	var pkg map[string]any
	c.json(t, &pkg, "vnf", "package", "create", "--user-data", "k=v")
	id, _ := pkg["ID"].(string)
	require.NotEmpty(t, id, "create prints the ID: %v", pkg)
	require.Equal(t, "CREATED", pkg["Onboarding State"])
	require.Equal(t, "DISABLED", pkg["Operational State"])
	require.Equal(t, "NOT_IN_USE", pkg["Usage State"])
	require.Equal(t, map[string]any{"k": "v"}, pkg["User Defined Data"])

	var list []map[string]any
	c.json(t, &list, "vnf", "package", "list")
	var mine map[string]any
	for _, p := range list {
		if p["Id"] == id {
			mine = p
		}
	}
	require.NotNil(t, mine, "list shows %s: %v", id, list)
	require.Equal(t, "CREATED", mine["Onboarding State"])
	require.Equal(t, "DISABLED", mine["Operational State"])
	require.Equal(t, "NOT_IN_USE", mine["Usage State"])
	require.Contains(t, mine["Links"].(map[string]any)["self"], "href")

	pkg = pkgShow(t, c, id)
	require.Equal(t, "CREATED", pkg["Onboarding State"])
	require.Equal(t, map[string]any{"k": "v"}, pkg["User Defined Data"])
	require.NotContains(t, pkg, "VNFD ID")

	out := c.run(t, "vnf", "package", "upload", "--path", csarFile, id)
	require.Contains(t, out, "Upload request for VNF package "+id+" has been accepted.")
	pkg = pkgAwait(t, c, id, "ONBOARDED")
	require.Equal(t, vmSimple.vnfdID, pkg["VNFD ID"])
	require.Equal(t, vmSimple.provider, pkg["VNF Provider"])
	require.Equal(t, vmSimple.product, pkg["VNF Product Name"])
	require.Equal(t, vmSimple.swVersion, pkg["VNF Software Version"])
	require.Equal(t, "1.0", pkg["VNFD Version"])
	require.Equal(t, "ENABLED", pkg["Operational State"])
	require.Equal(t, "NOT_IN_USE", pkg["Usage State"])
	require.Len(t, pkg["Software Images"], 2)
	require.Contains(t, pkg["Additional Artifacts"], map[string]any{
		"artifactPath": "BaseHOT/simple/simple_hot_top.yaml",
		"checksum":     map[string]any{"algorithm": "SHA-256", "hash": sha256Hex(t, vmSimple.path("BaseHOT/simple/simple_hot_top.yaml"))},
	})

	// A second upload to the same package: 409.
	stderr := pkgDebug(t, c, false, "vnf", "package", "upload", "--path", csarFile, id)
	require.Contains(t, stderr, "RESP: [409]")
	require.Contains(t, stderr, "content can only be uploaded to a package in CREATED; this one is ONBOARDED")

	// An ENABLED package cannot be deleted: 409, after the CLI's GET.
	stderr = pkgDebug(t, c, false, "vnf", "package", "delete", id)
	requireGetThenDelete(t, stderr, id)
	require.Contains(t, stderr, "RESP: [409]")
	require.Contains(t, stderr, "Cannot delete "+id+": the package is ENABLED; disable it before deleting it")

	var disabled map[string]any
	c.json(t, &disabled, "vnf", "package", "update", "--operational-state", "DISABLED", id)
	require.Equal(t, map[string]any{"Operational State": "DISABLED"}, disabled)
	// Already DISABLED: the server's 409 (SOL005), which the CLI reports.
	stderr = pkgDebug(t, c, false, "vnf", "package", "update", "--operational-state", "DISABLED", id)
	require.Contains(t, stderr, "RESP: [409]")
	require.Contains(t, stderr, "the package is already DISABLED")

	var updated map[string]any
	c.json(t, &updated, "vnf", "package", "update", "--user-data", "a=b", id)
	require.Equal(t, map[string]any{"User Defined Data": map[string]any{"a": "b"}}, updated)
	pkg = pkgShow(t, c, id)
	require.Equal(t, map[string]any{"k": "v", "a": "b"}, pkg["User Defined Data"], "user data is merged")
	require.Equal(t, "DISABLED", pkg["Operational State"])
	require.Equal(t, "ONBOARDED", pkg["Onboarding State"])

	// Content, VNFD and artifacts remain readable while DISABLED.
	dir := t.TempDir()
	out = filepath.Join(dir, "out.zip")
	require.Empty(t, strings.TrimSpace(c.run(t, "vnf", "package", "download", "--file", out, id)))
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(csarBytes, got), "downloaded content (%d bytes) differs from the uploaded CSAR (%d bytes)", len(got), len(csarBytes))

	out = filepath.Join(dir, "vnfd.zip")
	c.run(t, "vnf", "package", "download", "--vnfd", "--type", "application/zip", "--file", out, id)
	got, err = os.ReadFile(out)
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
	require.NoError(t, err, "the VNFD download is a zip")
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		want, err := os.ReadFile(vmSimple.path(f.Name))
		require.NoError(t, err)
		require.Equal(t, string(want), string(data), "%s in the VNFD zip", f.Name)
	}
	require.ElementsMatch(t, []string{
		"TOSCA-Metadata/TOSCA.meta",
		"Definitions/vm_simple_top.vnfd.yaml",
		"Definitions/vm_simple_df_simple.yaml",
		"Definitions/example_types.yaml",
	}, names)

	// The VNFD is three YAML files: text/plain alone is a 406 (SOL005).
	out = filepath.Join(dir, "vnfd.yaml")
	stderr = pkgDebug(t, c, false, "vnf", "package", "download", "--vnfd", "--type", "text/plain", "--file", out, id)
	require.Contains(t, stderr, "RESP: [406]")
	require.Contains(t, stderr, "the VNFD is made of 3 files; ask for application/zip")
	require.NoFileExists(t, out)

	out = filepath.Join(dir, "x.yaml")
	c.run(t, "vnf", "package", "artifact", "download", id, "BaseHOT/simple/simple_hot_top.yaml", "--file", out)
	got, err = os.ReadFile(out)
	require.NoError(t, err)
	want, err := os.ReadFile(vmSimple.path("BaseHOT/simple/simple_hot_top.yaml"))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))

	// DISABLED: the CLI GETs the package, then DELETEs it.
	stderr = pkgDebug(t, c, true, "vnf", "package", "delete", id)
	requireGetThenDelete(t, stderr, id)
	require.Contains(t, stderr, "RESP: [204]")
	stderr = c.runFail(t, "vnf", "package", "show", id)
	require.Contains(t, stderr, "VNF package "+id+" does not exist")
}

// pkgCreate makes a package without user data and returns its ID.
func pkgCreate(t *testing.T, c *tacker) string {
	t.Helper()
	var pkg map[string]any
	c.json(t, &pkg, "vnf", "package", "create")
	require.Equal(t, "CREATED", pkg["Onboarding State"])
	require.Equal(t, "", pkg["User Defined Data"], "no user data")
	return pkg["ID"].(string)
}

func pkgShow(t *testing.T, c *tacker, id string) map[string]any {
	t.Helper()
	var pkg map[string]any
	c.json(t, &pkg, "vnf", "package", "show", id)
	require.Equal(t, id, pkg["ID"])
	return pkg
}

// pkgAwait polls `vnf package show` until onboarding has finished and
// requires it to have ended in state.
func pkgAwait(t *testing.T, c *tacker, id, state string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pkg := pkgShow(t, c, id)
		switch got := pkg["Onboarding State"]; got {
		case "CREATED", "UPLOADING", "PROCESSING":
			if time.Now().After(deadline) {
				t.Fatalf("package %s still %v, want %s", id, got, state)
			}
			time.Sleep(200 * time.Millisecond)
		default:
			require.Equal(t, state, got, "package %s: %v", id, pkg)
			return pkg
		}
	}
}

// pkgDebug runs openstack --debug and returns its standard error (the
// request and response log). It requires exit status 0 if ok, else 1.
func pkgDebug(t *testing.T, c *tacker, ok bool, args ...string) string {
	t.Helper()
	err, stdout, stderr := c.exec(t, append([]string{"--debug"}, args...)...)
	if ok {
		require.NoError(t, err, "openstack %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, tail(stderr, 40))
		return stderr
	}
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "openstack %s should fail: %v\nstdout:\n%s", strings.Join(args, " "), err, stdout)
	require.Equal(t, 1, exit.ExitCode(), "openstack %s\nstderr:\n%s", strings.Join(args, " "), tail(stderr, 40))
	return stderr
}

// requireGetThenDelete checks in a --debug log that the CLI sent a GET of
// the package and then its DELETE.
func requireGetThenDelete(t *testing.T, log, id string) {
	t.Helper()
	url := "/vnfpkgm/v1/vnf_packages/" + id + " "
	get := strings.Index(log, "REQ: curl -g -i -X GET ")
	del := strings.Index(log, "REQ: curl -g -i -X DELETE ")
	require.True(t, get >= 0 && del >= 0, "no GET and DELETE in:\n%s", tail(log, 40))
	require.Greater(t, del, get, "GET before DELETE")
	require.True(t, strings.HasPrefix(log[get:del], "REQ: curl -g -i -X GET http://") && strings.Contains(log[get:del], url), "GET %s:\n%s", id, log[get:del])
	require.Contains(t, strings.SplitN(log[del:], "\n", 2)[0], url)
}

func sha256Hex(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// respBody is the first logged response body of a --debug log.
func respBody(t *testing.T, log string) string {
	t.Helper()
	_, after, ok := strings.Cut(log, "RESP BODY: ")
	require.True(t, ok, "no response body logged:\n%s", tail(log, 40))
	body, _, _ := strings.Cut(after, "\n")
	return body
}

package process

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// The HTTP Basic passwords of TestTackerCLIBasicAuth: in no response body,
// no server output and no CLI output.
const (
	operatorPassword = "s3cret-operator-pw"
	viewerPassword   = "s3cret-viewer-pw"
)

func init() { testsecrets.Register(operatorPassword, viewerPassword) }

// hashPassword runs `vnfm hash-password` with the password on stdin.
func hashPassword(t *testing.T, pw string) string {
	t.Helper()
	cmd := exec.Command(vnfmBinary, "hash-password")
	cmd.Stdin = strings.NewReader(pw + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	h := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(h, "$2a$10$"), "a bcrypt hash of cost 10: %s", h)
	require.NotContains(t, h, pw)
	return h
}

// TestTackerCLIBasicAuth: `openstack --os-auth-type http_basic` works
// against vnfm --auth basic, for VNF LCM and package commands; a wrong
// password and a missing scope fail cleanly.
func TestTackerCLIBasicAuth(t *testing.T) {
	t.Parallel()
	for _, f := range []string{systemPython, openstackCLI, tackerPlugin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the Tacker CLI is not installed (%v); install it with\n"+
				"\tapt-get install python3-tackerclient python3-openstackclient", err)
		}
	}
	users := filepath.Join(t.TempDir(), "users.yaml")
	require.NoError(t, os.WriteFile(users, []byte(`
- name: operator
  password_bcrypt: '`+hashPassword(t, operatorPassword)+`'
  scopes: ["*"]
- name: viewer
  password_bcrypt: '`+hashPassword(t, viewerPassword)+`'
  scopes: [vnflcm:read, vnfpkgm:read]
`), 0o600))
	srv := startServer(t, "", t.TempDir(), "--auth", "basic", "--auth-users-file", users)
	require.Equal(t, 401, srv.do("GET", "/vnflcm/v1/vnf_instances", "").status)
	require.Equal(t, 200, srv.do("GET", "/vnflcm/v1/api_versions", "").status, "version discovery is open")

	basicAuth := func(user, pw string) *tacker {
		return &tacker{endpoint: srv.url, auth: []string{"--os-auth-type", "http_basic", "--os-username", user, "--os-password", pw}}
	}
	op, viewer := basicAuth("operator", operatorPassword), basicAuth("viewer", viewerPassword)
	wrong := basicAuth("operator", viewerPassword)
	clis := []*tacker{op, viewer, wrong}

	var list []map[string]any
	op.json(t, &list, "vnflcm", "list")
	require.Empty(t, list)
	var inst map[string]any
	op.json(t, &inst, "vnflcm", "create", "vnfd-1", "--name", "basic-auth")
	id := inst["ID"].(string)
	viewer.json(t, &list, "vnflcm", "list")
	require.Len(t, list, 1)
	require.Equal(t, id, list[0]["ID"])
	var pkgs []map[string]any
	op.json(t, &pkgs, "vnf", "package", "list")
	require.Empty(t, pkgs)
	viewer.json(t, &pkgs, "vnf", "package", "list")
	require.Empty(t, pkgs)

	// Clean failures: an error message and a non-zero exit, no traceback.
	for _, tc := range []struct {
		name string
		c    *tacker
		args []string
		want string
	}{
		{"wrong password", wrong, []string{"vnflcm", "list"}, "wrong user name or password"},
		{"wrong password, packages", wrong, []string{"vnf", "package", "list"}, "wrong user name or password"},
		{"no write scope", viewer, []string{"vnflcm", "delete", id}, "needs the scope vnflcm:write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := tc.c.runFail(t, tc.args...)
			require.Contains(t, stderr, tc.want)
			require.NotContains(t, stderr, "Traceback")
		})
	}
	require.Contains(t, op.run(t, "vnflcm", "delete", id), "is deleted successfully")

	out := srv.out.String()
	require.Contains(t, out, `"principal":"operator"`)
	require.Contains(t, out, `"principal":"viewer"`)
	srv.stop()
	for _, pw := range []string{operatorPassword, viewerPassword} {
		srv.assertNoSecret(t, pw)
		for _, c := range clis {
			c.assertNoSecret(t, pw)
		}
	}
}

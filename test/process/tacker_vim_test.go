package process

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTackerCLIVims drives the VIM registry with `openstack vim ...`.
func TestTackerCLIVims(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "", t.TempDir())
	c := &tacker{endpoint: srv.url}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vim.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`auth_url: 'http://127.0.0.1:5000/v3'
username: 'admin'
password: '`+vimPassword+`'
project_name: 'admin'
project_domain_name: 'Default'
user_domain_name: 'Default'
cert_verify: 'False'
`), 0o600))

	var v map[string]any
	c.json(t, &v, "vim", "register", "--config-file", cfg, "--description", "lab", "--is-default", "lab-vim")
	id, _ := v["id"].(string)
	require.NotEmpty(t, id, "%v", v)
	require.Equal(t, "lab-vim", v["name"])
	require.Equal(t, true, v["is_default"])

	var list []map[string]any
	c.json(t, &list, "vim", "list")
	require.Len(t, list, 1)
	require.Equal(t, id, list[0]["ID"])
	require.Equal(t, "openstack", list[0]["Type"])

	// show and set accept the name or the id.
	c.json(t, &v, "vim", "show", "lab-vim")
	require.Equal(t, id, v["id"])
	c.json(t, &v, "vim", "set", "--description", "changed", "--is-default", "False", id)
	require.Equal(t, "changed", v["description"])
	require.Equal(t, false, v["is_default"])

	// A refused registration is an error with vnfm's message.
	stderr := c.runFail(t, "vim", "register", "--config-file", cfg, "lab-vim")
	require.Contains(t, stderr, "already exists")

	require.Contains(t, c.run(t, "vim", "delete", "lab-vim"), "deleted successfully")
	c.json(t, &list, "vim", "list")
	require.Empty(t, list)
	c.assertNoSecret(t, vimPassword)
	srv.assertNoSecret(t, vimPassword)
}

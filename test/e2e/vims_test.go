package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

func vimBody(name string, def bool) map[string]any {
	return map[string]any{"vim": map[string]any{
		"name": name, "description": "lab cloud", "type": "openstack", "is_default": def,
		"auth_url":    "http://127.0.0.1:5000/v3",
		"vim_project": map[string]any{"name": "admin", "project_domain_name": "Default"},
		"auth_cred": map[string]any{"username": "admin", "password": "s3cret-VIM-password",
			"user_domain_name": "Default", "cert_verify": "True"},
	}}
}

// TestVimRegistry covers Tacker's /v1.0/vims on both stores: register, list
// with Tacker's filters, show, update (partial credentials), default
// hand-over, refusals, and delete; credentials never come back.
func TestVimRegistry(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/v1.0/vims.json", vimBody("lab", true))
		require.Equal(t, 201, r.status, "%s", r.body)
		v := r.json(t)["vim"].(map[string]any)
		id := v["id"].(string)
		require.Equal(t, "lab", v["name"])
		require.Equal(t, true, v["is_default"])
		require.Equal(t, "ACTIVE", v["status"])
		require.Equal(t, "admin", v["auth_cred"].(map[string]any)["username"])
		require.NotContains(t, v["auth_cred"], "password")
		require.Contains(t, r.header.Get("Location"), "/v1.0/vims/"+id)

		// The Tacker client finds a VIM by ?id= or ?name= with fields=id.
		r = e.do("GET", "/v1.0/vims.json?name=lab&fields=id", nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, map[string]any{"vims": []any{map[string]any{"id": id}}}, r.json(t))
		r = e.do("GET", "/v1.0/vims.json?name=nope", nil)
		require.Equal(t, map[string]any{"vims": []any{}}, r.json(t))

		r = e.do("GET", "/v1.0/vims/"+id+".json", nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, "lab cloud", r.json(t)["vim"].(map[string]any)["description"])

		// A second default takes the flag.
		r = e.do("POST", "/v1.0/vims.json", vimBody("lab2", true))
		require.Equal(t, 201, r.status, "%s", r.body)
		id2 := r.json(t)["vim"].(map[string]any)["id"].(string)
		r = e.do("GET", "/v1.0/vims/"+id, nil)
		require.Equal(t, false, r.json(t)["vim"].(map[string]any)["is_default"])

		// Partial update: new password only, username kept.
		r = e.do("PUT", "/v1.0/vims/"+id+".json", map[string]any{"vim": map[string]any{
			"description": "renamed", "auth_cred": map[string]any{"password": "s3cret-VIM-password"}}})
		require.Equal(t, 200, r.status, "%s", r.body)
		got := r.json(t)["vim"].(map[string]any)
		require.Equal(t, "renamed", got["description"])
		require.Equal(t, "admin", got["auth_cred"].(map[string]any)["username"])
		require.NotNil(t, got["updated_at"])

		for _, tc := range []struct {
			name   string
			method string
			path   string
			body   any
			status int
			detail string
		}{
			{"duplicate name", "POST", "/v1.0/vims.json", vimBody("lab", false), 409, "already exists"},
			{"rename onto another", "PUT", "/v1.0/vims/" + id2, map[string]any{"vim": map[string]any{"name": "lab"}}, 409, "already exists"},
			{"no project", "POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{"name": "x", "auth_url": "http://h/v3",
				"auth_cred": map[string]any{"username": "u", "password": "p"}}}, 400, "vim_project.name"},
			{"no password", "POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{"name": "x", "auth_url": "http://h/v3",
				"vim_project": map[string]any{"name": "p"}, "auth_cred": map[string]any{"username": "u"}}}, 400, "username and password"},
			{"bad url", "POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{"name": "x", "auth_url": "h:5000",
				"vim_project": map[string]any{"name": "p"}, "auth_cred": map[string]any{"username": "u", "password": "p"}}}, 400, "auth_url"},
			{"bad type", "POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{"name": "x", "type": "vmware", "auth_url": "http://h",
				"auth_cred": map[string]any{"username": "u", "password": "p"}}}, 400, "not supported"},
			{"k8s without credentials", "POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{"name": "x", "type": "kubernetes",
				"auth_url": "https://h:6443", "vim_project": map[string]any{"name": "default"}}}, 400, "bearer_token"},
			{"unknown attribute", "POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{"name": "x", "colour": "red"}}, 400, "colour"},
			{"no envelope", "POST", "/v1.0/vims.json", map[string]any{"name": "x"}, 400, ""},
			{"type change", "PUT", "/v1.0/vims/" + id, map[string]any{"vim": map[string]any{"type": "kubernetes"}}, 400, "cannot change"},
			{"unknown vim", "GET", "/v1.0/vims/4a0e3f0e-6c5b-4a43-9b8e-1c2d3e4f5a6b.json", nil, 404, "does not exist"},
			{"delete unknown", "DELETE", "/v1.0/vims/nope.json", nil, 404, "does not exist"},
		} {
			r := e.do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
			pd := r.json(t)
			require.Contains(t, pd["detail"], tc.detail, tc.name)
			te := pd["TackerError"].(map[string]any)
			require.Equal(t, pd["detail"], te["message"], "%s: the Tacker CLI prints TackerError.message", tc.name)
		}

		// An instance that names the VIM by vimId cannot be left dangling.
		inst := e.create()
		op := e.task(inst, "instantiate", map[string]any{"flavourId": "simple",
			"vimConnectionInfo": []any{map[string]any{"id": "c1", "vimId": id, "vimType": scripted.VimType}}})
		e.wait(op, "COMPLETED")
		r = e.do("DELETE", "/v1.0/vims/"+id, nil)
		require.Equal(t, 409, r.status, "%s", r.body)
		require.Contains(t, string(r.body), inst)

		require.Equal(t, 204, e.do("DELETE", "/v1.0/vims/"+id2+".json", nil).status)
		require.Equal(t, 404, e.do("GET", "/v1.0/vims/"+id2, nil).status)
	})
}

// TestVimResolution: an instance naming a registered VIM by vimId, or
// naming none while a default is registered, reaches its driver with the
// registry's full credentials, while the instance stores only the reference.
func TestVimResolution(t *testing.T) {
	t.Parallel()
	const osType = "ETSINFV.OPENSTACK_KEYSTONE.V_3"
	e := newEnvWith(t, storetest.SQLite(t), 20, func(reg *driver.Registry, d *scripted.Driver) {
		reg.RegisterInfra(d, osType)
	})
	r := e.do("POST", "/v1.0/vims.json", vimBody("lab", true))
	require.Equal(t, 201, r.status, "%s", r.body)
	vimID := r.json(t)["vim"].(map[string]any)["id"].(string)

	check := func(op string) {
		t.Helper()
		v, ok := e.drv.Vim(op)
		require.True(t, ok)
		require.Equal(t, osType, v.VimType)
		require.Equal(t, vimID, v.VimID)
		require.Equal(t, "http://127.0.0.1:5000/v3", v.InterfaceInfo["endpoint"])
		require.Equal(t, "s3cret-VIM-password", v.AccessInfo["password"])
		require.Equal(t, "admin", v.AccessInfo["project"])
		require.Equal(t, "Default", v.AccessInfo["userDomain"])
	}

	// By default VIM: no vimConnectionInfo in the request.
	a := e.create()
	op := e.task(a, "instantiate", map[string]any{"flavourId": "simple"})
	e.wait(op, "COMPLETED")
	check(op)
	vims := e.instance(a)["vimConnectionInfo"].([]any)
	require.Len(t, vims, 1)
	require.Equal(t, map[string]any{"id": vimID, "vimId": vimID, "vimType": osType}, vims[0])
	// Later operations resolve it again.
	op = e.task(a, "heal", map[string]any{})
	e.wait(op, "COMPLETED")
	check(op)

	// By vimId.
	b := e.create()
	op = e.task(b, "instantiate", map[string]any{"flavourId": "simple",
		"vimConnectionInfo": []any{map[string]any{"id": "mine", "vimId": vimID, "vimType": osType}}})
	e.wait(op, "COMPLETED")
	check(op)

	// An unknown vimId is refused when asked.
	c := e.create()
	r = e.do("POST", "/vnflcm/v1/vnf_instances/"+c+"/instantiate", map[string]any{"flavourId": "simple",
		"vimConnectionInfo": []any{map[string]any{"id": "x", "vimId": "no-such-vim", "vimType": osType}}})
	require.Equal(t, 422, r.status, "%s", r.body)
	require.Contains(t, string(r.body), "not a registered VIM")
}

package osemu

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"
	"github.com/stretchr/testify/require"
)

func TestAuthMethods(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()

	// Token details of the name-based login give us the ids.
	idc, err := openstack.NewIdentityV3(v.pc, gophercloud.EndpointOpts{})
	require.NoError(t, err)
	tok := tokens.Get(ctx, idc, v.pc.Token())
	user, err := tok.ExtractUser()
	require.NoError(t, err)
	project, err := tok.ExtractProject()
	require.NoError(t, err)
	require.Equal(t, DefaultUser, user.Name)
	require.Equal(t, DefaultProject, project.Name)

	cat, err := tok.ExtractServiceCatalog()
	require.NoError(t, err)
	urls := map[string]string{}
	for _, e := range cat.Entries {
		for _, ep := range e.Endpoints {
			require.Equal(t, "RegionOne", ep.Region)
			if ep.Interface == "public" {
				urls[e.Type] = ep.URL
			}
		}
	}
	require.Equal(t, v.srv.URL+"/v3", urls["identity"])
	require.Equal(t, v.srv.URL+"/heat-api/v1/"+project.ID, urls["orchestration"])
	require.Equal(t, v.srv.URL+"/compute/v2.1", urls["compute"])
	require.Equal(t, v.srv.URL+"/networking", urls["network"])
	require.Equal(t, v.srv.URL+"/networking/v2.0/", v.net.ResourceBaseURL())

	cases := map[string]gophercloud.AuthOptions{
		"ids":                {UserID: user.ID, Password: DefaultPassword, TenantID: project.ID},
		"domain id":          {Username: DefaultUser, Password: DefaultPassword, DomainID: "default", TenantName: DefaultProject},
		"app cred id":        {ApplicationCredentialID: DefaultAppCredID, ApplicationCredentialSecret: DefaultAppCredSecret},
		"app cred name+user": {ApplicationCredentialName: "vnfm-app-cred", ApplicationCredentialSecret: DefaultAppCredSecret, Username: DefaultUser, DomainName: DefaultDomain},
	}
	for name, ao := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pc := authClient(t, v.srv.URL, ao)
			hc, err := openstack.NewOrchestrationV1(pc, gophercloud.EndpointOpts{})
			require.NoError(t, err)
			_, err = stacks.List(hc, nil).AllPages(ctx)
			require.NoError(t, err)
		})
	}

	bad := map[string]gophercloud.AuthOptions{
		"wrong password":   {Username: DefaultUser, Password: "nope", DomainName: DefaultDomain, TenantName: DefaultProject},
		"wrong domain":     {Username: DefaultUser, Password: DefaultPassword, DomainName: "Other", TenantName: DefaultProject},
		"wrong project":    {Username: DefaultUser, Password: DefaultPassword, DomainName: DefaultDomain, TenantID: "nope"},
		"wrong app secret": {ApplicationCredentialID: DefaultAppCredID, ApplicationCredentialSecret: "nope"},
	}
	for name, ao := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ao.IdentityEndpoint = v.srv.URL + "/v3"
			_, err := openstack.AuthenticatedClient(ctx, ao)
			require.Error(t, err)
			require.True(t, gophercloud.ResponseCodeIs(err, http.StatusUnauthorized), "got %v", err)
		})
	}
}

func TestUnauthorizedBodyAndNoToken(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	resp, err := http.Post(v.srv.URL+"/v3/auth/tokens", "application/json", strings.NewReader(
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"x"}}}}}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	var body struct {
		Error struct {
			Code  int    `json:"code"`
			Title string `json:"title"`
		} `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, 401, body.Error.Code)
	require.Equal(t, "Unauthorized", body.Error.Title)

	for _, p := range []string{"/compute/v2.1/servers", "/networking/v2.0/networks", "/heat-api/v1/x/stacks"} {
		resp, err := http.Get(v.srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, p)
	}
}

func TestTokenExpiryReauth(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	before := v.pc.Token()
	v.emu.ExpireTokens()
	_, err := stacks.List(v.heat, nil).AllPages(ctx)
	require.NoError(t, err, "AllowReauth must re-authenticate transparently")
	require.NotEqual(t, before, v.pc.Token())

	// Over HTTP, and without AllowReauth the client sees the 401.
	pc := authClient(t, v.srv.URL, gophercloud.AuthOptions{Username: DefaultUser, Password: DefaultPassword, DomainName: DefaultDomain, TenantName: DefaultProject})
	hc, err := openstack.NewOrchestrationV1(pc, gophercloud.EndpointOpts{})
	require.NoError(t, err)
	resp, err := http.Post(v.srv.URL+"/admin/tokens/expire", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, err = stacks.List(hc, nil).AllPages(ctx)
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusUnauthorized), "got %v", err)
}

func TestTokenTTL(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{TokenTTL: 100 * time.Millisecond})
	first := v.pc.Token()
	time.Sleep(150 * time.Millisecond)
	_, err := stacks.List(v.heat, nil).AllPages(context.Background())
	require.NoError(t, err)
	require.NotEqual(t, first, v.pc.Token())
}

func TestKeystoneFault(t *testing.T) {
	t.Parallel()
	emu, err := New(Config{ActionDelay: 10 * time.Millisecond})
	require.NoError(t, err)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(func() { srv.Close(); _ = emu.Close() })

	b, _ := json.Marshal(Fault{Target: "keystone", Status: 401, Times: 1})
	resp, err := http.Post(srv.URL+"/admin/faults", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	ao := gophercloud.AuthOptions{IdentityEndpoint: srv.URL + "/v3", Username: DefaultUser, Password: DefaultPassword, DomainName: DefaultDomain, TenantName: DefaultProject}
	_, err = openstack.AuthenticatedClient(context.Background(), ao)
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusUnauthorized), "got %v", err)
	_, err = openstack.AuthenticatedClient(context.Background(), ao)
	require.NoError(t, err, "the fault fires once")
}

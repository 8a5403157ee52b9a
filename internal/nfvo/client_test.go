package nfvo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/nfvo"
	"github.com/vnfm-project/vnfm/internal/nfvo/nfvotest"
)

const secret = "nfvo-client-s3cret"

func grantReq(opOcc string) *model.GrantRequest {
	return &model.GrantRequest{
		VnfInstanceID:         "inst-1",
		VnfLcmOpOccID:         opOcc,
		VnfdID:                "vnfd-1",
		FlavourID:             "default",
		Operation:             model.OpInstantiate,
		IsAutomaticInvocation: false,
		AddResources: []model.ResourceDefinition{
			{ID: "c1", Type: model.ResourceCompute, VduID: "vdu1"},
			{ID: "s1", Type: model.ResourceStorage, VduID: "vdu1"},
		},
		RemoveResources: []model.ResourceDefinition{
			{ID: "old", Type: model.ResourceCompute, Resource: &model.ResourceHandle{VimConnectionID: "vim", ResourceID: "srv-9"}},
		},
		PlacementConstraints: []model.PlacementConstraint{{
			AffinityOrAntiAffinity: model.AntiAffinity, Scope: model.ScopeNfviNode,
			Resource: []model.ConstraintResourceRef{{IDType: model.ConstraintRefGrant, ResourceID: "c1"}},
		}},
		Links: model.GrantRequestLinks{
			VnfLcmOpOcc: model.Link{Href: "http://vnfm/vnflcm/v1/vnf_lcm_op_occs/" + opOcc},
			VnfInstance: model.Link{Href: "http://vnfm/vnflcm/v1/vnf_instances/inst-1"},
		},
	}
}

// syncBuffer is a log sink safe for the client's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newClient(t *testing.T, cfg nfvo.Config) (*nfvo.Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	c, err := nfvo.New(cfg)
	require.NoError(t, err)
	return c, logs
}

func TestGrantSync(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.SetGrantTemplate(func(req *model.GrantRequest) *model.Grant {
		return &model.Grant{
			Zones: []model.ZoneInfo{{ID: "z", ZoneID: "nova"}},
			VimAssets: &model.VimAssets{SoftwareImages: []model.VimSoftwareImage{
				{VnfdSoftwareImageID: "img", VimSoftwareImageID: "glance-1"},
			}},
		}
	})
	c, logs := newClient(t, nfvo.Config{BaseURL: f.URL() + "/"})

	g, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.NoError(t, err)
	require.NotEmpty(t, g.ID)
	require.Equal(t, "occ-1", g.VnfLcmOpOccID)
	require.Equal(t, []model.GrantInfo{{ResourceDefinitionID: "c1"}, {ResourceDefinitionID: "s1"}}, g.AddResources)
	require.Equal(t, []model.GrantInfo{{ResourceDefinitionID: "old"}}, g.RemoveResources)
	require.Equal(t, "nova", g.Zones[0].ZoneID)
	require.Equal(t, "glance-1", g.VimAssets.SoftwareImages[0].VimSoftwareImageID)
	require.Equal(t, f.URL()+nfvotest.GrantsPath+"/"+g.ID, g.Links.Self.Href)

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, *grantReq("occ-1"), reqs[0])

	require.Equal(t, 1, strings.Count(logs.String(), `"msg":"grant"`))
	require.Contains(t, logs.String(), `"outcome":"granted"`)
	require.Contains(t, logs.String(), `"vnf_lcm_op_occ_id":"occ-1"`)
	require.Contains(t, logs.String(), `"operation":"INSTANTIATE"`)
}

func TestGrantRejected(t *testing.T) {
	t.Parallel()
	for _, async := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "async"}[async], func(t *testing.T) {
			t.Parallel()
			f := nfvotest.New(t)
			f.Reject("no capacity in zone A")
			if async {
				f.Async(2)
			}
			c, logs := newClient(t, nfvo.Config{BaseURL: f.URL()})

			_, err := c.Grant(context.Background(), grantReq("occ-1"))
			var rej *nfvo.Rejected
			require.ErrorAs(t, err, &rej)
			require.Equal(t, http.StatusForbidden, rej.Status)
			require.Equal(t, "no capacity in zone A", rej.Detail)
			require.EqualError(t, rej, "the NFVO rejected the grant: no capacity in zone A")
			require.False(t, nfvo.IsTransient(err))
			require.Contains(t, logs.String(), `"outcome":"rejected"`)
		})
	}
}

func TestGrantAsync(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.Async(3)
	c, _ := newClient(t, nfvo.Config{BaseURL: f.URL()})

	g, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.NoError(t, err)
	require.Equal(t, "occ-1", g.VnfLcmOpOccID)
	require.Len(t, g.AddResources, 2)
	require.Equal(t, 1+4, f.Calls(), "one POST, three pending polls, one final")
}

func TestGrantOAuth2(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.RequireOAuth2("vnfm", secret)
	f.Async(1)
	c, logs := newClient(t, nfvo.Config{BaseURL: f.URL(), Auth: f.Auth()})

	for i := range 3 {
		_, err := c.Grant(context.Background(), grantReq("occ-"+string(rune('a'+i))))
		require.NoError(t, err)
	}
	require.Equal(t, 1, f.TokenRequests(), "the token is cached across grants and polls")

	f.RevokeTokens()
	_, err := c.Grant(context.Background(), grantReq("occ-z"))
	require.NoError(t, err, "a 401 gets a fresh token and the request is resent")
	require.Equal(t, 2, f.TokenRequests())
	require.NotContains(t, logs.String(), secret)
}

func TestGrantOAuth2TokenExpiry(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t, nfvotest.WithTokenTTL(time.Second))
	f.RequireOAuth2("vnfm", secret)
	c, _ := newClient(t, nfvo.Config{BaseURL: f.URL(), Auth: f.Auth()})

	_, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.NoError(t, err)
	time.Sleep(1100 * time.Millisecond)
	_, err = c.Grant(context.Background(), grantReq("occ-2"))
	require.NoError(t, err)
	require.Equal(t, 2, f.TokenRequests())
}

func TestGrantOAuth2BadSecret(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.RequireOAuth2("vnfm", secret)
	auth := f.Auth()
	auth.ParamsOauth2ClientCredentials.ClientPassword = "wrong-" + secret
	c, logs := newClient(t, nfvo.Config{BaseURL: f.URL(), Auth: auth})

	_, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.ErrorContains(t, err, "invalid_client")
	require.False(t, nfvo.IsTransient(err), "a refused client stays refused")
	require.NotContains(t, err.Error(), secret)
	require.NotContains(t, logs.String(), secret)
	require.Empty(t, f.Requests())
}

func TestGrantBasic(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.RequireBasic("vnfm", secret)
	f.Async(1)

	c, logs := newClient(t, nfvo.Config{BaseURL: f.URL(), Auth: f.Auth()})
	_, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.NoError(t, err)

	bad, _ := newClient(t, nfvo.Config{BaseURL: f.URL(), Auth: &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: "vnfm", Password: "nope"},
	}})
	_, err = bad.Grant(context.Background(), grantReq("occ-2"))
	require.ErrorContains(t, err, "401")
	require.False(t, nfvo.IsTransient(err))

	none, _ := newClient(t, nfvo.Config{BaseURL: f.URL()})
	_, err = none.Grant(context.Background(), grantReq("occ-3"))
	require.ErrorContains(t, err, "missing or invalid credentials")
	require.NotContains(t, logs.String(), secret)
}

func TestGrantFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		transient bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusTooManyRequests, true},
		{http.StatusBadRequest, false},
		{http.StatusNotFound, false},
		{http.StatusConflict, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			f := nfvotest.New(t)
			f.Fail(tt.status, 1)
			c, logs := newClient(t, nfvo.Config{BaseURL: f.URL()})

			_, err := c.Grant(context.Background(), grantReq("occ-1"))
			require.ErrorContains(t, err, "injected failure")
			require.Equal(t, tt.transient, nfvo.IsTransient(err))
			var rej *nfvo.Rejected
			require.False(t, errors.As(err, &rej))
			require.Contains(t, logs.String(), `"outcome":"failed"`)

			_, err = c.Grant(context.Background(), grantReq("occ-1"))
			require.NoError(t, err, "only the next call fails")
		})
	}
}

func TestGrantPollToleratesTransientFailures(t *testing.T) {
	t.Parallel()
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", nfvotest.GrantsPath+"/g1")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		switch polls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusAccepted)
		default:
			_ = json.NewEncoder(w).Encode(model.Grant{ID: "g1", VnfLcmOpOccID: "occ-1"})
		}
	}))
	t.Cleanup(srv.Close)
	c, _ := newClient(t, nfvo.Config{BaseURL: srv.URL})

	g, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.NoError(t, err, "the grant still exists at the NFVO: a 503 while polling is waited out")
	require.Equal(t, "g1", g.ID)
	require.EqualValues(t, 3, polls.Load())
}

func TestGrantRetryAfter(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.Async(1)
	f.SetRetryAfter(1)
	c, _ := newClient(t, nfvo.Config{BaseURL: f.URL(), PollInterval: time.Hour, Timeout: 10 * time.Second})

	start := time.Now()
	_, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.NoError(t, err, "Retry-After wins over the hour-long poll interval")
	d := time.Since(start)
	require.GreaterOrEqual(t, d, 2*time.Second, "two waits of one second: after the POST and after the pending poll")
	require.Less(t, d, 8*time.Second)
}

func TestGrantTimeout(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.Async(1_000_000)
	c, logs := newClient(t, nfvo.Config{BaseURL: f.URL(), PollInterval: 10 * time.Millisecond, Timeout: 150 * time.Millisecond})

	start := time.Now()
	_, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.ErrorIs(t, err, nfvo.ErrTimeout)
	require.False(t, nfvo.IsTransient(err))
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, logs.String(), `"outcome":"timeout"`)
}

func TestGrantCallerCancels(t *testing.T) {
	t.Parallel()
	f := nfvotest.New(t)
	f.Async(1_000_000)
	c, _ := newClient(t, nfvo.Config{BaseURL: f.URL()})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Grant(ctx, grantReq("occ-1"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, nfvo.ErrTimeout)
	require.False(t, nfvo.IsTransient(err))
}

func TestGrantMismatchedOpOcc(t *testing.T) {
	t.Parallel()
	for _, async := range []bool{false, true} {
		f := nfvotest.New(t)
		if async {
			f.Async(1)
		}
		f.SetGrantTemplate(func(*model.GrantRequest) *model.Grant { return &model.Grant{VnfLcmOpOccID: "occ-other"} })
		c, _ := newClient(t, nfvo.Config{BaseURL: f.URL()})

		_, err := c.Grant(context.Background(), grantReq("occ-1"))
		require.ErrorContains(t, err, "occ-other")
		require.False(t, nfvo.IsTransient(err))
	}
}

func TestGrantNetworkError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := newClient(t, nfvo.Config{BaseURL: url})

	_, err := c.Grant(context.Background(), grantReq("occ-1"))
	require.Error(t, err)
	require.True(t, nfvo.IsTransient(err))
}

func TestGrantHeadersAndLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		location string
		want     string // error substring; "" = success
	}{
		{name: "relative location", location: "/grant/v1/grants/g1"},
		{name: "no location", location: "", want: "without a Location"},
		{name: "foreign location", location: "http://evil.example/grant/v1/grants/g1", want: "another origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var seen []http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Clone())
				mu.Unlock()
				if r.Method == http.MethodPost {
					if tt.location != "" {
						w.Header().Set("Location", tt.location)
					}
					w.WriteHeader(http.StatusAccepted)
					return
				}
				_ = json.NewEncoder(w).Encode(model.Grant{ID: "g1", VnfLcmOpOccID: "occ-1"})
			}))
			t.Cleanup(srv.Close)
			c, _ := newClient(t, nfvo.Config{BaseURL: srv.URL, Auth: &model.SubscriptionAuthentication{
				AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: "u", Password: secret},
			}})

			g, err := c.Grant(context.Background(), grantReq("occ-1"))
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "g1", g.ID)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, seen, 2)
			for _, h := range seen {
				require.Equal(t, nfvo.APIVersion, h.Get("Version"))
				require.Equal(t, "application/json", h.Get("Accept"))
				require.True(t, strings.HasPrefix(h.Get("Authorization"), "Basic "))
			}
			require.Equal(t, "application/json", seen[0].Get("Content-Type"))
		})
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  nfvo.Config
		want string
	}{
		{name: "ok", cfg: nfvo.Config{BaseURL: "http://nfvo:9890"}},
		{name: "empty", cfg: nfvo.Config{}, want: "BaseURL"},
		{name: "relative", cfg: nfvo.Config{BaseURL: "nfvo:9890/x"}, want: "BaseURL"},
		{name: "userinfo", cfg: nfvo.Config{BaseURL: "http://u:" + secret + "@nfvo"}, want: "user information"},
		{name: "tls auth", cfg: nfvo.Config{BaseURL: "http://nfvo", Auth: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthTLS}}}, want: "TLS_CERT is not supported"},
		{name: "incomplete oauth2", cfg: nfvo.Config{BaseURL: "http://nfvo", Auth: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
				ClientID: "id", ClientPassword: secret}}}, want: "tokenEndpoint is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := nfvo.New(tt.cfg)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), secret)
		})
	}
}

func TestGrantNilRequest(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, nfvo.Config{BaseURL: "http://nfvo"})
	_, err := c.Grant(context.Background(), nil)
	require.Error(t, err)
}

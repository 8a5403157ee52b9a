package callauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
)

const (
	testClientID = "vnfm"
	testSecret   = "s3cr3t&p@ss word"
)

// clock is an injectable, settable now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// authServer is a token endpoint plus a resource that wants its tokens.
type authServer struct {
	srv       *httptest.Server
	expiresIn int
	delay     time.Duration
	fetches   atomic.Int32
	mu        sync.Mutex
	valid     map[string]bool
	bodies    []string
	failWith  int // the token endpoint answers this status with invalid_client
	seen      []string
	resources atomic.Int32
}

// newAuthServer starts the server after set has configured it, so that
// its handlers read the settings race-free.
func newAuthServer(t *testing.T, set ...func(*authServer)) *authServer {
	t.Helper()
	a := &authServer{expiresIn: 3600, valid: map[string]bool{}}
	for _, f := range set {
		f(a)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", a.token)
	mux.HandleFunc("/resource", a.resource)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authServer) token(w http.ResponseWriter, r *http.Request) {
	n := a.fetches.Add(1)
	time.Sleep(a.delay)
	w.Header().Set("Content-Type", "application/json")
	if a.failWith != 0 {
		w.WriteHeader(a.failWith)
		_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"bad secret"}`)
		return
	}
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != testClientID || secret != testSecret || r.FormValue("grant_type") != "client_credentials" ||
		r.Header.Get("Accept") != "application/json" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	tok := fmt.Sprintf("tok-%d", n)
	a.mu.Lock()
	a.valid[tok] = true
	a.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": a.expiresIn})
}

func (a *authServer) resource(w http.ResponseWriter, r *http.Request) {
	a.resources.Add(1)
	body, _ := io.ReadAll(r.Body)
	h := r.Header.Get("Authorization")
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, h)
	a.bodies = append(a.bodies, string(body))
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || !a.valid[tok] {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *authServer) revokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.valid)
}

func (a *authServer) auth() *model.SubscriptionAuthentication {
	return &model.SubscriptionAuthentication{
		AuthType:    []string{model.AuthBasic, model.AuthOAuth2},
		ParamsBasic: &model.BasicAuthParams{UserName: "u", Password: "p"},
		ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
			ClientID: testClientID, ClientPassword: testSecret, TokenEndpoint: a.srv.URL + "/token",
		},
	}
}

func (a *authServer) get(t *testing.T, c *Client) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/resource", nil)
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestBasic(t *testing.T) {
	t.Parallel()
	var got struct{ user, pass string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.user, got.pass, _ = r.BasicAuth()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	c, err := NewTokens(nil, nil).Client(srv.Client(), &model.SubscriptionAuthentication{
		AuthType:    []string{model.AuthBasic},
		ParamsBasic: &model.BasicAuthParams{UserName: "alice", Password: "pw:1"},
	})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "alice", got.user)
	require.Equal(t, "pw:1", got.pass)
	require.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")
}

func TestNoAuth(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewTokens(nil, nil).Client(nil, nil)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestOAuth2CachedAcrossClients(t *testing.T) {
	t.Parallel()
	a := newAuthServer(t)
	tokens := NewTokens(a.srv.Client(), nil)
	c1, err := tokens.Client(a.srv.Client(), a.auth())
	require.NoError(t, err)
	c2, err := tokens.Client(a.srv.Client(), a.auth())
	require.NoError(t, err)

	for range 5 {
		require.Equal(t, http.StatusNoContent, a.get(t, c1))
		require.Equal(t, http.StatusNoContent, a.get(t, c2))
	}
	require.EqualValues(t, 1, a.fetches.Load())
	require.Equal(t, "Bearer tok-1", a.seen[0], "OAuth 2.0 wins over BASIC")
}

func TestOAuth2SecretChangeGetsOwnToken(t *testing.T) {
	t.Parallel()
	a := newAuthServer(t)
	tokens := NewTokens(a.srv.Client(), nil)
	c1, err := tokens.Client(a.srv.Client(), a.auth())
	require.NoError(t, err)
	other := a.auth()
	other.ParamsOauth2ClientCredentials.ClientPassword = "other"
	c2, err := tokens.Client(a.srv.Client(), other)
	require.NoError(t, err)

	require.Equal(t, http.StatusNoContent, a.get(t, c1))
	_, err = c2.Do(context.Background(), mustGet(t, a.srv.URL+"/resource"))
	require.Error(t, err, "the other secret is refused by the token endpoint")
	require.NotContains(t, err.Error(), "other")
	require.EqualValues(t, 2, a.fetches.Load())
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}

func TestOAuth2RefreshAfterExpiry(t *testing.T) {
	t.Parallel()
	a := newAuthServer(t, func(a *authServer) { a.expiresIn = 600 })
	clk := newClock()
	c, err := NewTokens(a.srv.Client(), clk.now).Client(a.srv.Client(), a.auth())
	require.NoError(t, err)

	require.Equal(t, http.StatusNoContent, a.get(t, c))
	clk.advance(500 * time.Second)
	require.Equal(t, http.StatusNoContent, a.get(t, c))
	require.EqualValues(t, 1, a.fetches.Load(), "still valid")

	clk.advance(75 * time.Second) // 575 s: within the 30 s early-renewal margin
	require.Equal(t, http.StatusNoContent, a.get(t, c))
	require.EqualValues(t, 2, a.fetches.Load())
	require.Equal(t, "Bearer tok-2", a.seen[2])
}

func TestOAuth2RetryOn401WithSameBody(t *testing.T) {
	t.Parallel()
	a := newAuthServer(t)
	c, err := NewTokens(a.srv.Client(), nil).Client(a.srv.Client(), a.auth())
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, a.get(t, c))

	a.revokeAll()
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/resource", strings.NewReader(`{"n":1}`))
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.EqualValues(t, 2, a.fetches.Load())
	require.Equal(t, []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-2"}, a.seen)
	require.Equal(t, []string{"", `{"n":1}`, `{"n":1}`}, a.bodies)
}

func TestOAuth2401WithoutGetBody(t *testing.T) {
	t.Parallel()
	a := newAuthServer(t)
	c, err := NewTokens(a.srv.Client(), nil).Client(a.srv.Client(), a.auth())
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, a.get(t, c))
	a.revokeAll()

	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/resource", io.NopCloser(strings.NewReader("x")))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := c.Do(context.Background(), req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.EqualValues(t, 2, a.resources.Load(), "not resent")
}

func TestOAuth2RetryOnlyOnce(t *testing.T) {
	t.Parallel()
	var calls, fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			fetches.Add(1)
			_, _ = io.WriteString(w, `{"access_token":"t","token_type":"bearer","expires_in":"3600"}`)
			return
		}
		calls.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	c, err := NewTokens(srv.Client(), nil).Client(srv.Client(), &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthOAuth2},
		ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
			ClientID: "id", ClientPassword: "pw", TokenEndpoint: srv.URL + "/token",
		},
	})
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), mustGet(t, srv.URL+"/x"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.EqualValues(t, 2, calls.Load())
	require.EqualValues(t, 2, fetches.Load())
}

func TestOAuth2TokenEndpointError(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			a := newAuthServer(t, func(a *authServer) { a.failWith = status })
			auth := a.auth()
			auth.ParamsOauth2ClientCredentials.TokenEndpoint += "?tenant=abc"
			c, err := NewTokens(a.srv.Client(), nil).Client(a.srv.Client(), auth)
			require.NoError(t, err)
			_, err = c.Do(context.Background(), mustGet(t, a.srv.URL+"/resource"))
			require.Error(t, err)
			msg := err.Error()
			require.Contains(t, msg, a.srv.URL+"/token")
			require.Contains(t, msg, fmt.Sprint(status))
			require.Contains(t, msg, "invalid_client")
			require.NotContains(t, msg, testSecret)
			require.NotContains(t, msg, url.QueryEscape(testSecret))
			require.NotContains(t, msg, "tenant=abc")
			require.EqualValues(t, 0, a.resources.Load())
		})
	}
}

func TestOAuth2BadTokenAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"not json", `hello`, "not a JSON token response"},
		{"no token", `{"token_type":"bearer"}`, "no access_token"},
		{"mac token", `{"access_token":"x","token_type":"mac"}`, `token_type "mac" is not bearer`},
		{"bad expiry", `{"access_token":"x","token_type":"bearer","expires_in":"soon"}`, "expires_in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			c, err := NewTokens(srv.Client(), nil).Client(srv.Client(), &model.SubscriptionAuthentication{
				AuthType: []string{model.AuthOAuth2},
				ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
					ClientID: "id", ClientPassword: "pw", TokenEndpoint: srv.URL,
				},
			})
			require.NoError(t, err)
			_, err = c.Do(context.Background(), mustGet(t, srv.URL))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestOAuth2ConcurrentShareOneFetch(t *testing.T) {
	t.Parallel()
	// The delay lets all callers pile up on one fetch.
	a := newAuthServer(t, func(a *authServer) { a.delay = 100 * time.Millisecond })
	tokens := NewTokens(a.srv.Client(), nil)

	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		c, err := tokens.Client(a.srv.Client(), a.auth())
		require.NoError(t, err)
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/resource", nil)
			if !assert.NoError(t, err) {
				return
			}
			resp, err := c.Do(context.Background(), req)
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, a.fetches.Load())
	for _, code := range codes {
		require.Equal(t, http.StatusNoContent, code)
	}
}

func TestOAuth2WaiterContextCancelled(t *testing.T) {
	t.Parallel()
	a := newAuthServer(t, func(a *authServer) { a.delay = 200 * time.Millisecond })
	tokens := NewTokens(a.srv.Client(), nil)
	c, err := tokens.Client(a.srv.Client(), a.auth())
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, mustGet(t, a.srv.URL+"/resource"))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The detached fetch still completes and serves the next caller.
	require.Equal(t, http.StatusNoContent, a.get(t, c))
	require.EqualValues(t, 1, a.fetches.Load())
}

func TestValidate(t *testing.T) {
	t.Parallel()
	okOAuth := func() *model.OAuth2ClientCredentials {
		return &model.OAuth2ClientCredentials{ClientID: "id", ClientPassword: "topsecret", TokenEndpoint: "https://idp.example/token"}
	}
	tests := []struct {
		name string
		in   *model.SubscriptionAuthentication
		want []string // substrings of the error; nil = valid
	}{
		{name: "nil", in: nil},
		{name: "basic", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: "u", Password: "topsecret"}}},
		{name: "oauth2", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: okOAuth()}},
		{name: "both", in: &model.SubscriptionAuthentication{
			AuthType:                      []string{model.AuthOAuth2, model.AuthBasic},
			ParamsBasic:                   &model.BasicAuthParams{UserName: "u", Password: "topsecret"},
			ParamsOauth2ClientCredentials: okOAuth()}},
		{name: "no type", in: &model.SubscriptionAuthentication{},
			want: []string{"authentication.authType is required"}},
		{name: "unknown type", in: &model.SubscriptionAuthentication{AuthType: []string{"KERBEROS"}},
			want: []string{`authentication.authType[0]: unknown value "KERBEROS"`}},
		{name: "tls", in: &model.SubscriptionAuthentication{AuthType: []string{model.AuthTLS}},
			want: []string{"authentication.authType[0]: TLS_CERT is not supported"}},
		{name: "basic params missing", in: &model.SubscriptionAuthentication{AuthType: []string{model.AuthBasic}},
			want: []string{"authentication.paramsBasic is required"}},
		{name: "basic password missing", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: "u"}},
			want: []string{"authentication.paramsBasic.password is required"}},
		{name: "basic user missing", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{Password: "topsecret"}},
			want: []string{"authentication.paramsBasic.userName is required"}},
		{name: "basic user colon", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: "a:b", Password: "topsecret"}},
			want: []string{"authentication.paramsBasic.userName must not contain ':'"}},
		{name: "oauth2 params missing", in: &model.SubscriptionAuthentication{AuthType: []string{model.AuthOAuth2}},
			want: []string{"authentication.paramsOauth2ClientCredentials is required"}},
		{name: "oauth2 fields missing", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{}},
			want: []string{".clientId is required", ".clientPassword is required", ".tokenEndpoint is required"}},
		{name: "oauth2 relative endpoint", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
				ClientID: "id", ClientPassword: "topsecret", TokenEndpoint: "/token"}},
			want: []string{"authentication.paramsOauth2ClientCredentials.tokenEndpoint must be an absolute http or https URL"}},
		{name: "oauth2 ftp endpoint", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
				ClientID: "id", ClientPassword: "topsecret", TokenEndpoint: "ftp://idp/token"}},
			want: []string{"tokenEndpoint must be an absolute http or https URL"}},
		{name: "oauth2 userinfo endpoint", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
				ClientID: "id", ClientPassword: "topsecret", TokenEndpoint: "https://id:topsecret@idp/token"}},
			want: []string{"tokenEndpoint must not contain user information"}},
		{name: "oauth2 fragment endpoint", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthOAuth2}, ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
				ClientID: "id", ClientPassword: "topsecret", TokenEndpoint: "https://idp/token#x"}},
			want: []string{"tokenEndpoint must not contain a fragment"}},
		{name: "tls with basic", in: &model.SubscriptionAuthentication{
			AuthType: []string{model.AuthBasic, model.AuthTLS}, ParamsBasic: &model.BasicAuthParams{UserName: "u", Password: "topsecret"}},
			want: []string{"TLS_CERT is not supported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tt.in)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var inv *InvalidError
			require.ErrorAs(t, err, &inv)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.NotContains(t, err.Error(), "topsecret")
		})
	}
}

func TestClientRefusesInvalid(t *testing.T) {
	t.Parallel()
	_, err := NewTokens(nil, nil).Client(nil, &model.SubscriptionAuthentication{AuthType: []string{model.AuthTLS}})
	require.ErrorContains(t, err, "TLS_CERT is not supported")
}

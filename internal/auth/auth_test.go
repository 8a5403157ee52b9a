package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// Secrets of the fixture: no response body and no log line may hold one.
const (
	alicePassword  = "alice-s3cret-pw"
	readerPassword = "reader-s3cret-pw"
	rwSecret       = "rw-client-s3cret"
	adminSecret    = "admin-client-s3cret"
	oddSecret      = "odd+client/s3cret:%"
	plusSecret     = "plus+s3cret"
)

var fixtureSecrets = []string{alicePassword, readerPassword, rwSecret, adminSecret, oddSecret, plusSecret}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

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

func hashOf(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

// writeFile writes content into a new file of a test directory.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func usersFile(t testing.TB) string {
	t.Helper()
	return writeFile(t, "users.yaml", `
- name: alice
  password_bcrypt: '`+hashOf(t, alicePassword)+`'
  scopes: ["*"]
- name: reader
  password_bcrypt: '`+hashOf(t, readerPassword)+`'
  scopes: [vnflcm:read, vnfpkgm:read]
`)
}

// clientsFile is JSON: both formats are accepted.
func clientsFile(t testing.TB) string {
	t.Helper()
	return writeFile(t, "clients.json", `[
 {"client_id": "rw", "secret_bcrypt": "`+hashOf(t, rwSecret)+`", "scopes": ["vnflcm:read", "vnflcm:write"]},
 {"client_id": "admin", "secret_bcrypt": "`+hashOf(t, adminSecret)+`", "scopes": ["*"]},
 {"client_id": "odd:id+1", "secret_bcrypt": "`+hashOf(t, oddSecret)+`", "scopes": ["vnflcm:read"]},
 {"client_id": "plus", "secret_bcrypt": "`+hashOf(t, plusSecret)+`", "scopes": ["vnflcm:read"]}
]`)
}

type fixture struct {
	t     *testing.T
	g     *Guard
	clock *clock
	logs  *syncBuffer
	h     http.Handler // the token endpoint and a protected echo of the principal
	mu    sync.Mutex
	body  [][]byte
}

// newFixture builds a Guard with modes; cfg may adjust the Config.
func newFixture(t *testing.T, modes string, cfg func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, logs: &syncBuffer{}}
	c := Config{Modes: modes, DataDir: t.TempDir(), Log: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: f.clock.Now, FailBurst: 1000}
	if strings.Contains(modes, "basic") {
		c.UsersFile = usersFile(t)
	}
	if strings.Contains(modes, "oauth2") {
		c.ClientsFile = clientsFile(t)
	}
	if cfg != nil {
		cfg(&c)
	}
	g, err := New(context.Background(), c)
	require.NoError(t, err)
	f.g = g
	mux := http.NewServeMux()
	if th := g.TokenHandler(); th != nil {
		mux.Handle("POST "+TokenPath, th)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := FromContext(r.Context())
		name := "(open)"
		if p != nil {
			name = p.Name + "/" + p.Method
		}
		_, _ = io.WriteString(w, name)
	})
	f.h = g.Middleware(mux)
	t.Cleanup(func() { f.assertNoSecrets(fixtureSecrets...) })
	return f
}

type result struct {
	status int
	header http.Header
	body   string
	logged string // the principal the log slot received
}

// do serves a request from remote (default 192.0.2.1) with headers in
// pairs.
func (f *fixture) do(method, target, body string, headers ...string) result {
	f.t.Helper()
	return f.doFrom("192.0.2.1:4321", method, target, body, headers...)
}

func (f *fixture) doFrom(remote, method, target, body string, headers ...string) result {
	f.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	r = r.WithContext(WithLogSlot(r.Context()))
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	f.mu.Lock()
	f.body = append(f.body, w.Body.Bytes())
	f.mu.Unlock()
	res := result{status: w.Code, header: w.Header(), body: w.Body.String(), logged: LoggedPrincipal(r.Context())}
	if w.Code == http.StatusUnauthorized || w.Code == http.StatusForbidden || w.Code == http.StatusTooManyRequests {
		if !strings.HasPrefix(target, TokenPath) {
			require.Equal(f.t, "application/problem+json", w.Header().Get("Content-Type"))
			var pd map[string]any
			require.NoError(f.t, json.Unmarshal(w.Body.Bytes(), &pd), "%s", w.Body)
			require.EqualValues(f.t, w.Code, pd["status"])
			require.NotEmpty(f.t, pd["detail"])
		}
	}
	return res
}

// token gets a token from the endpoint.
func (f *fixture) token(form url.Values, headers ...string) (int, map[string]any) {
	f.t.Helper()
	res := f.do("POST", TokenPath, form.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
	var m map[string]any
	require.NoError(f.t, json.Unmarshal([]byte(res.body), &m), "%s", res.body)
	require.Equal(f.t, "no-store", res.header.Get("Cache-Control"))
	return res.status, m
}

func (f *fixture) clientToken(id, secret, scope string) string {
	f.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	status, m := f.token(form, "Authorization", basic(url.QueryEscape(id), url.QueryEscape(secret)))
	require.Equal(f.t, 200, status, "%v", m)
	return m["access_token"].(string)
}

func (f *fixture) assertNoSecrets(secrets ...string) {
	f.t.Helper()
	logs := f.logs.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range secrets {
		require.NotContains(f.t, logs, s, "secret in the log")
		for _, b := range f.body {
			require.NotContains(f.t, string(b), s, "secret in a response body")
		}
	}
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func bearer(tok string) string { return "Bearer " + tok }

func TestParseModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "", want: []string{"none"}},
		{in: "none", want: []string{"none"}},
		{in: "basic", want: []string{"basic"}},
		{in: " Basic , JWT,oauth2 ", want: []string{"basic", "jwt", "oauth2"}},
		{in: "none,basic", err: "cannot be combined"},
		{in: "ldap", err: `auth mode "ldap"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseModes(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for _, m := range tc.want {
				require.True(t, got[m], m)
			}
		})
	}
}

func TestNewRefusesBadSetups(t *testing.T) {
	t.Parallel()
	good := hashOf(t, "pw")
	users := func(s string) func(*Config) {
		return func(c *Config) { c.UsersFile = writeFile(t, "u.yaml", s) }
	}
	for _, tc := range []struct {
		name  string
		modes string
		cfg   func(*Config)
		err   string
	}{
		{"basic without users", "basic", nil, "needs --auth-users-file"},
		{"oauth2 without clients", "oauth2", nil, "needs --auth-clients-file"},
		{"jwt without issuer", "jwt", func(c *Config) { c.JWKSURL = "https://idp.example/jwks" }, "needs --auth-jwks-url, --auth-issuer and --auth-audience"},
		{"jwt with a bad URL", "jwt", func(c *Config) { c.JWKSURL, c.Issuer, c.Audience = "ftp://x", "i", "a" }, "want an http(s) URL"},
		{"users file for mode none", "none", func(c *Config) { c.UsersFile = "/x" }, "--auth-users-file is set but --auth does not include basic"},
		{"issuer for mode basic", "basic", func(c *Config) { c.UsersFile, c.Issuer = "/x", "i" }, "--auth-issuer is set"},
		{"missing users file", "basic", func(c *Config) { c.UsersFile = "/nonexistent/users.yaml" }, "no such file"},
		{"not a hash", "basic", users("- {name: a, password_bcrypt: plain-password, scopes: ['*']}"), `user "a": password_bcrypt is not a bcrypt hash`},
		{"unknown scope", "basic", users("- {name: a, password_bcrypt: '" + good + "', scopes: [admin]}"), `unknown scope "admin"`},
		{"no scopes", "basic", users("- {name: a, password_bcrypt: '" + good + "'}"), "no scopes"},
		{"twice", "basic", users("- {name: a, password_bcrypt: '" + good + "', scopes: ['*']}\n- {name: a, password_bcrypt: '" + good + "', scopes: ['*']}"), "listed twice"},
		{"colon in user", "basic", users("- {name: 'a:b', password_bcrypt: '" + good + "', scopes: ['*']}"), "cannot hold a colon"},
		{"unknown field", "basic", users("- {name: a, password: pw, scopes: ['*']}"), "not a YAML or JSON list"},
		{"client fields in users", "basic", users("- {client_id: a, secret_bcrypt: '" + good + "', scopes: ['*']}"), "a user has name and password_bcrypt"},
		{"empty", "basic", users(""), "no users"},
		{"ttl", "oauth2", func(c *Config) { c.ClientsFile, c.TokenTTL = clientsFile(t), 48*time.Hour }, "want 1m to 24h"},
		{"short token key", "oauth2", func(c *Config) {
			c.ClientsFile, c.TokenKeyFile = clientsFile(t), writeFile(t, "k", base64.StdEncoding.EncodeToString([]byte("short")))
		}, "want at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Config{Modes: tc.modes, DataDir: t.TempDir()}
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			_, err := New(context.Background(), c)
			require.ErrorContains(t, err, tc.err)
			require.NotContains(t, err.Error(), "plain-password")
		})
	}
}

func TestNoneLetsEverythingThrough(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "none", nil)
	require.Nil(t, f.g.TokenHandler())
	res := f.do("POST", "/vnflcm/v1/vnf_instances", "")
	require.Equal(t, 200, res.status)
	require.Equal(t, "(open)", res.body)
}

func TestBasic(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "basic", nil)
	colon := writeFile(t, "u.yaml", "- {name: carol, password_bcrypt: '"+hashOf(t, "a:b:c")+"', scopes: ['*']}")
	fc := newFixture(t, "basic", func(c *Config) { c.UsersFile = colon })
	for _, tc := range []struct {
		name   string
		f      *fixture
		header []string
		status int
		body   string
	}{
		{"right", f, []string{"Authorization", basic("alice", alicePassword)}, 200, "alice/basic"},
		{"scheme in lower case", f, []string{"Authorization", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+alicePassword))}, 200, "alice/basic"},
		{"no padding", f, []string{"Authorization", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("reader:"+readerPassword))}, 200, "reader/basic"},
		{"colon in the password", fc, []string{"Authorization", basic("carol", "a:b:c")}, 200, "carol/basic"},
		{"wrong password", f, []string{"Authorization", basic("alice", readerPassword)}, 401, ""},
		{"unknown user", f, []string{"Authorization", basic("mallory", alicePassword)}, 401, ""},
		{"password too long", f, []string{"Authorization", basic("alice", alicePassword+strings.Repeat("x", 80))}, 401, ""},
		{"no credentials", f, nil, 401, ""},
		{"not base64", f, []string{"Authorization", "Basic !!!"}, 401, ""},
		{"no colon", f, []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, 401, ""},
		{"bearer not accepted", f, []string{"Authorization", "Bearer abc.def.ghi"}, 401, ""},
		{"two headers", f, []string{"Authorization", basic("alice", alicePassword), "Authorization", basic("alice", alicePassword)}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := tc.f.do("GET", "/vnflcm/v1/vnf_instances", "", tc.header...)
			require.Equal(t, tc.status, res.status, res.body)
			if tc.status == 200 {
				require.Equal(t, tc.body, res.body)
				require.Equal(t, strings.Split(tc.body, "/")[0], res.logged, "the log names the principal")
				return
			}
			require.Empty(t, res.logged)
			// Basic only: no Bearer challenge for tokens nobody accepts.
			require.Equal(t, []string{`Basic realm="vnfm", charset="UTF-8"`}, res.header.Values("WWW-Authenticate"))
		})
	}
}

func TestRequired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "basic", nil)
	pub := newFixture(t, "basic", func(c *Config) { c.MetricsPublic = true })
	for _, tc := range []struct {
		method, target string
		want           string
		metricsPublic  string
	}{
		{"GET", "/healthz", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/vnflcm/api_versions", "", ""},
		{"GET", "/vnflcm/v1/api_versions", "", ""},
		{"GET", "/vnfpkgm/api_versions", "", ""},
		{"GET", "/vnfpkgm/v1/api_versions", "", ""},
		{"GET", "/vnflcm/v1/openapi.yaml", "", ""},
		{"GET", "/docs", "", ""},
		{"POST", "/oauth2/token", "", ""},
		{"GET", "/metrics", ScopeMetrics, ""},
		{"GET", "/vnflcm/v1/vnf_instances", ScopeLCMRead, ScopeLCMRead},
		{"HEAD", "/vnflcm/v1/vnf_instances/x", ScopeLCMRead, ScopeLCMRead},
		{"POST", "/vnflcm/v1/vnf_instances/x/instantiate", ScopeLCMWrite, ScopeLCMWrite},
		{"PATCH", "/vnflcm/v1/vnf_instances/x", ScopeLCMWrite, ScopeLCMWrite},
		{"DELETE", "/vnflcm/v1/vnf_instances/x", ScopeLCMWrite, ScopeLCMWrite},
		{"GET", "/vnflcm/v1/vnf_lcm_op_occs", ScopeLCMRead, ScopeLCMRead},
		{"GET", "/vnflcm/v1/subscriptions", ScopeSubscriptions, ScopeSubscriptions},
		{"DELETE", "/vnflcm/v1/subscriptions/x", ScopeSubscriptions, ScopeSubscriptions},
		{"GET", "/vnflcm/v1/subscriptionsx", ScopeLCMRead, ScopeLCMRead},
		{"GET", "/vnfpkgm/v1/vnf_packages", ScopePkgmRead, ScopePkgmRead},
		{"PUT", "/vnfpkgm/v1/vnf_packages/x/package_content", ScopePkgmWrite, ScopePkgmWrite},
		{"GET", "/v1.0/vims.json", ScopeVimsRead, ScopeVimsRead},
		{"POST", "/v1.0/vims", ScopeVimsWrite, ScopeVimsWrite},
		{"DELETE", "/v1.0/vims/x.json", ScopeVimsWrite, ScopeVimsWrite},
		// An escaped spelling is checked as the router sees it (raw), which
		// routes nowhere; a trailing slash is another path.
		{"GET", "/vnflcm/v1/%73ubscriptions", ScopeLCMRead, ScopeLCMRead},
		{"GET", "/healthz/", ScopeAll, ScopeAll},
		{"GET", "/vnflcm/v1/api_versions/../vnf_instances", ScopeLCMRead, ScopeLCMRead},
		{"GET", "/vnffm/v1/alarms", ScopeAll, ScopeAll},
		{"GET", "/nothing", ScopeAll, ScopeAll},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, "http://vnfm"+tc.target, nil)
			require.Equal(t, tc.want, f.g.Required(r))
			require.Equal(t, tc.metricsPublic, pub.g.Required(r))
			res := f.do(tc.method, tc.target, "")
			if tc.want == "" {
				require.NotEqual(t, 401, res.status)
			} else {
				require.Equal(t, 401, res.status)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "basic,oauth2", nil)
	reader := []string{"Authorization", basic("reader", readerPassword)}
	for _, tc := range []struct {
		method, target string
		status         int
		scope          string
	}{
		{"GET", "/vnflcm/v1/vnf_instances", 200, ""},
		{"GET", "/vnfpkgm/v1/vnf_packages", 200, ""},
		{"POST", "/vnflcm/v1/vnf_instances", 403, ScopeLCMWrite},
		{"GET", "/vnflcm/v1/subscriptions", 403, ScopeSubscriptions},
		{"DELETE", "/vnfpkgm/v1/vnf_packages/x", 403, ScopePkgmWrite},
		{"GET", "/v1.0/vims", 403, ScopeVimsRead},
		{"GET", "/metrics", 403, ScopeMetrics},
		{"GET", "/somewhere", 403, ScopeAll},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			res := f.do(tc.method, tc.target, "", reader...)
			require.Equal(t, tc.status, res.status, res.body)
			require.Equal(t, "reader", res.logged, "a refused request still names its principal in the log")
			if tc.status == 403 {
				require.Equal(t, `Bearer realm="vnfm", error="insufficient_scope", scope="`+tc.scope+`"`, res.header.Get("WWW-Authenticate"))
				require.Contains(t, res.body, tc.scope)
			}
			admin := f.do(tc.method, tc.target, "", "Authorization", basic("alice", alicePassword))
			require.Equal(t, 200, admin.status, "* allows everything")
		})
	}
}

func TestUnauthorizedChallenges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "basic,oauth2", nil)
	res := f.do("GET", "/vnflcm/v1/vnf_instances", "")
	require.Equal(t, 401, res.status)
	require.Equal(t, []string{`Bearer realm="vnfm"`, `Basic realm="vnfm", charset="UTF-8"`}, res.header.Values("WWW-Authenticate"))
	require.Contains(t, res.body, "HTTP Basic credentials or an OAuth 2.0 Bearer token")

	res = f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", "Bearer not-a-jwt")
	require.Equal(t, 401, res.status)
	require.Equal(t, `Bearer realm="vnfm", error="invalid_token", error_description="the token is malformed"`, res.header.Values("WWW-Authenticate")[0])

	res = f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", "Negotiate abc")
	require.Equal(t, 401, res.status)
	require.Contains(t, res.body, "neither Basic nor Bearer")
	require.Len(t, res.header.Values("WWW-Authenticate"), 2)
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h, err := HashPassword([]byte(alicePassword))
	require.NoError(t, err)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte(alicePassword)))
	cost, err := bcrypt.Cost([]byte(h))
	require.NoError(t, err)
	require.Equal(t, bcrypt.DefaultCost, cost)
	_, err = HashPassword(nil)
	require.Error(t, err)
	_, err = HashPassword(bytes.Repeat([]byte("x"), 73))
	require.ErrorContains(t, err, "72 bytes")
}

func TestTokenKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "auth-token.key")
	k1, err := loadOrCreateTokenKey(path)
	require.NoError(t, err)
	require.Len(t, k1, tokenKeySize)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, err := loadOrCreateTokenKey(path)
	require.NoError(t, err)
	require.Equal(t, k1, k2, "the key is reused")
	require.NoError(t, os.WriteFile(path, []byte("not base64!"), 0o600))
	_, err = loadOrCreateTokenKey(path)
	require.ErrorContains(t, err, "not base64")
}

// TestLogSlot: the slot carries the principal up, and nothing when none.
func TestLogSlot(t *testing.T) {
	t.Parallel()
	require.Empty(t, LoggedPrincipal(context.Background()))
	ctx := WithLogSlot(context.Background())
	require.Empty(t, LoggedPrincipal(ctx))
	record(ctx, "alice")
	require.Equal(t, "alice", LoggedPrincipal(ctx))
	record(context.Background(), "nobody") // no slot: no effect, no panic
}

// decodeClaims reads a JWT's claims without verifying it.
func decodeClaims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(tok, c)
	require.NoError(t, err)
	return c
}

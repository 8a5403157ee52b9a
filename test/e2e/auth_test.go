package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/vnfm-project/vnfm/internal/auth"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// The credentials of these tests: never in a response body or the log.
const (
	authRootPassword = "s3cret-root-password"
	authRWSecret     = "s3cret-rw-client"
	authROSecret     = "s3cret-ro-client"
	authAdminSecret  = "s3cret-admin-client"
)

var authSecrets = []string{authRootPassword, authRWSecret, authROSecret, authAdminSecret}

func init() { testsecrets.Register(authSecrets...) }

func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)
	return string(h)
}

func authFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// withAuth turns authentication on: user root (*), clients admin (*), rw
// (vnflcm read and write) and ro (vnflcm read).
func withAuth(t *testing.T, modes string, more func(*auth.Options)) func(*server.Config) {
	users := authFile(t, "users.yaml", "- {name: root, password_bcrypt: '"+bcryptOf(t, authRootPassword)+"', scopes: ['*']}\n")
	clients := authFile(t, "clients.yaml", `
- {client_id: admin, secret_bcrypt: '`+bcryptOf(t, authAdminSecret)+`', scopes: ['*']}
- {client_id: rw, secret_bcrypt: '`+bcryptOf(t, authRWSecret)+`', scopes: [vnflcm:read, vnflcm:write]}
- {client_id: ro, secret_bcrypt: '`+bcryptOf(t, authROSecret)+`', scopes: [vnflcm:read]}
`)
	return func(c *server.Config) {
		c.Auth = modes
		if strings.Contains(modes, "basic") {
			c.AuthOptions.UsersFile = users
		}
		if strings.Contains(modes, "oauth2") {
			c.AuthOptions.ClientsFile = clients
		}
		if more != nil {
			more(&c.AuthOptions)
		}
	}
}

// fetchToken asks the token endpoint, as callauth does (form-encoded
// credentials in HTTP Basic).
func (e *env) fetchToken(t *testing.T, client, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, err := http.NewRequest("POST", e.url+auth.TokenPath, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&m))
	require.Equal(t, 200, res.StatusCode, "%v", m)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	return m["access_token"].(string)
}

// assertNoAuthSecrets: the credentials are in no body and no log line, the
// tokens in no log line.
func (e *env) assertNoAuthSecrets(t *testing.T, tokens ...string) {
	t.Helper()
	logs := e.logBuf.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range authSecrets {
		require.NotContains(t, logs, s, "a credential in the log")
		for _, b := range e.bodies {
			require.NotContains(t, string(b), s, "a credential in a response body")
		}
	}
	for _, tok := range tokens {
		require.NotContains(t, logs, tok, "a token in the log")
		require.NotContains(t, logs, tok[strings.LastIndex(tok, ".")+1:], "a token's signature in the log")
	}
}

// jwksServer is an external issuer with one EC key; sign makes its tokens.
func jwksServer(t *testing.T) (url string, sign func(scope string) string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	raw, err := key.PublicKey.Bytes()
	require.NoError(t, err)
	b64 := base64.RawURLEncoding.EncodeToString
	set, err := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "EC", "kid": "k1", "crv": "P-256", "use": "sig",
		"x": b64(raw[1:33]), "y": b64(raw[33:])}}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
	t.Cleanup(srv.Close)
	return srv.URL, func(scope string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": "https://idp.test", "aud": "vnfm", "sub": "nfvo-7",
			"exp": time.Now().Add(time.Hour).Unix(), "scope": scope})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
}

// openRoutes answer without credentials.
var openRoutes = []string{"/healthz", "/readyz", "/vnflcm/api_versions", "/vnfpkgm/api_versions", "/vnflcm/v1/api_versions",
	"/vnfpkgm/v1/api_versions", "/vnflcm/v1/openapi.yaml", "/docs", auth.TokenPath}

// TestAuthEveryRoute walks the real router: every route but the open ones
// answers 401 without credentials, and none answers 401 or 403 to full
// (*) credentials of each kind.
func TestAuthEveryRoute(t *testing.T) {
	t.Parallel()
	jwksURL, sign := jwksServer(t)
	e := newEnv(t, storetest.SQLite(t), 20, withAuth(t, "basic,oauth2,jwt", func(o *auth.Options) {
		o.JWKSURL, o.Issuer, o.Audience = jwksURL, "https://idp.test", "vnfm"
	}))
	own := e.fetchToken(t, "admin", authAdminSecret, "")
	creds := map[string]string{
		"basic":  "Basic " + base64.StdEncoding.EncodeToString([]byte("root:"+authRootPassword)),
		"oauth2": "Bearer " + own,
		"jwt":    "Bearer " + sign("*"),
	}

	routes, ok := e.srv.Handler().(chi.Routes)
	require.True(t, ok, "the server's handler is the chi router")
	type route struct{ method, pattern string }
	var all []route
	require.NoError(t, chi.Walk(routes, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method != http.MethodConnect {
			all = append(all, route{method, pattern})
		}
		return nil
	}))
	require.Greater(t, len(all), 40)
	t.Logf("%d routes", len(all))
	var seenOpen []string
	send := func(method, path, authz string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, e.url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Version", "1.3.0")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, res.Header, body
	}
	for _, r := range all {
		path := strings.NewReplacer("{id}", "c3d0ab2c-0000-4000-8000-0000000000aa", "*", "x").Replace(r.pattern)
		status, h, body := send(r.method, path, "")
		if slices.Contains(openRoutes, r.pattern) {
			seenOpen = append(seenOpen, r.pattern)
			if r.pattern == auth.TokenPath {
				// An empty POST: an RFC 6749 error, not a ProblemDetails.
				require.Equal(t, 400, status)
				require.Contains(t, string(body), `"error":"invalid_request"`)
				continue
			}
			require.NotEqual(t, 401, status, "%s %s is open: %s", r.method, path, body)
			continue
		}
		require.Equal(t, 401, status, "%s %s without credentials: %s", r.method, path, body)
		require.Equal(t, []string{`Bearer realm="vnfm"`, `Basic realm="vnfm", charset="UTF-8"`}, h.Values("WWW-Authenticate"), "%s %s", r.method, path)
		if r.method != http.MethodHead {
			require.Equal(t, "application/problem+json", h.Get("Content-Type"))
			validate(t, "ProblemDetails", body)
		}
		for kind, c := range creds {
			status, _, body := send(r.method, path, c)
			require.NotContains(t, []int{401, 403}, status, "%s %s with %s credentials: %s", r.method, path, kind, body)
		}
	}
	slices.Sort(seenOpen)
	want := slices.Clone(openRoutes)
	slices.Sort(want)
	require.Equal(t, want, slices.Compact(seenOpen), "every open route exists (the list is not stale)")
	e.assertNoAuthSecrets(t, own)
}

// TestAuthLifecycle: a VNF instantiated with a write-scoped token; a
// read-only token reads but gets 403 on every POST.
func TestAuthLifecycle(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t), 20, withAuth(t, "oauth2", nil))
			rw := "Bearer " + e.fetchToken(t, "rw", authRWSecret, "")
			ro := "Bearer " + e.fetchToken(t, "ro", authROSecret, "")
			narrowed := "Bearer " + e.fetchToken(t, "rw", authRWSecret, "vnflcm:read")

			r := e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "vnfd-1"})
			require.Equal(t, 401, r.status)
			require.Equal(t, `Bearer realm="vnfm"`, r.header.Get("WWW-Authenticate"))
			for _, tok := range []string{ro, narrowed} {
				r = e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "vnfd-1"}, "Authorization", tok)
				require.Equal(t, 403, r.status, "%s", r.body)
				require.Equal(t, `Bearer realm="vnfm", error="insufficient_scope", scope="vnflcm:write"`, r.header.Get("WWW-Authenticate"))
			}

			r = e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "vnfd-1", "vnfInstanceName": "authz"}, "Authorization", rw)
			require.Equal(t, 201, r.status, "%s", r.body)
			id := r.json(t)["id"].(string)
			r = e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/instantiate", instantiateBody, "Authorization", ro)
			require.Equal(t, 403, r.status, "%s", r.body)
			r = e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/instantiate", instantiateBody, "Authorization", rw)
			require.Equal(t, 202, r.status, "%s", r.body)
			loc := r.header.Get("Location")
			opID := loc[strings.LastIndex(loc, "/")+1:]
			deadline := time.Now().Add(30 * time.Second)
			for {
				r = e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+opID, nil, "Authorization", ro)
				require.Equal(t, 200, r.status, "%s", r.body)
				state := r.json(t)["operationState"]
				if state == "COMPLETED" {
					break
				}
				require.NotContains(t, []any{"FAILED_TEMP", "FAILED", "ROLLED_BACK"}, state)
				require.True(t, time.Now().Before(deadline), "op occ still %v", state)
				time.Sleep(20 * time.Millisecond)
			}
			r = e.do("GET", "/vnflcm/v1/vnf_instances/"+id, nil, "Authorization", ro)
			require.Equal(t, 200, r.status)
			require.Equal(t, "INSTANTIATED", r.json(t)["instantiationState"])
			r = e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/terminate", map[string]any{"terminationType": "FORCEFUL"}, "Authorization", ro)
			require.Equal(t, 403, r.status)
			r = e.do("GET", "/vnflcm/v1/subscriptions", nil, "Authorization", rw)
			require.Equal(t, 403, r.status, "subscriptions are a scope of their own")

			// The access log names the principal of each request.
			var sawRW, sawRO bool
			for _, line := range strings.Split(e.logBuf.String(), "\n") {
				var l map[string]any
				if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != "http request" {
					continue
				}
				if l["path"] == "/vnflcm/v1/vnf_instances/"+id+"/instantiate" {
					switch l["status"] {
					case float64(202):
						sawRW = l["principal"] == "rw"
					case float64(403):
						sawRO = l["principal"] == "ro"
					}
				}
			}
			require.True(t, sawRW && sawRO, "access log lines with the principal")
			e.assertNoAuthSecrets(t, strings.TrimPrefix(rw, "Bearer "), strings.TrimPrefix(ro, "Bearer "), strings.TrimPrefix(narrowed, "Bearer "))
		})
	}
}

// TestAuthMetrics: /metrics needs the metrics scope unless it is public.
func TestAuthMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t), 20, withAuth(t, "basic", nil))
	res, err := http.Get(e.url + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode)

	pub := newEnv(t, storetest.SQLite(t), 20, withAuth(t, "basic", func(o *auth.Options) { o.MetricsPublic = true }))
	res, err = http.Get(pub.url + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(body), "# TYPE")
	res, err = http.Get(pub.url + "/vnflcm/v1/vnf_instances")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 401, res.StatusCode, "only /metrics is public")
}

package auth

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "oauth2", func(c *Config) { c.SelfIssuer = "https://vnfm.example.net/" })
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range cc {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	rwBasic := []string{"Authorization", basic("rw", rwSecret)}
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
		status  int
		err     string // the error code, or the scope granted
	}{
		{"basic", cc, rwBasic, 200, "vnflcm:read vnflcm:write"},
		{"form", with("client_id", "rw", "client_secret", rwSecret), nil, 200, "vnflcm:read vnflcm:write"},
		{"form-encoded basic (RFC 6749 §2.3.1)", cc, []string{"Authorization", basic(url.QueryEscape("odd:id+1"), url.QueryEscape(oddSecret))}, 200, "vnflcm:read"},
		{"raw basic secret", cc, []string{"Authorization", basic("admin", adminSecret)}, 200, "*"},
		{"raw basic secret with a plus", cc, []string{"Authorization", basic("plus", plusSecret)}, 200, "vnflcm:read"},
		{"form-encoded basic secret with a plus", cc, []string{"Authorization", basic("plus", url.QueryEscape(plusSecret))}, 200, "vnflcm:read"},
		{"client_id matching basic", with("client_id", "rw"), rwBasic, 200, "vnflcm:read vnflcm:write"},
		{"scope subset", with("scope", "vnflcm:read"), rwBasic, 200, "vnflcm:read"},
		{"* client narrows", with("scope", "vnfpkgm:read subscriptions"), []string{"Authorization", basic("admin", adminSecret)}, 200, "vnfpkgm:read subscriptions"},
		{"scope not granted", with("scope", "vnflcm:read vims:write"), rwBasic, 400, "invalid_scope"},
		{"* not granted", with("scope", "*"), rwBasic, 400, "invalid_scope"},
		{"unknown scope", with("scope", "root"), rwBasic, 400, "invalid_scope"},
		{"wrong secret", cc, []string{"Authorization", basic("rw", adminSecret)}, 401, "invalid_client"},
		{"wrong form secret", with("client_id", "rw", "client_secret", "nope"), nil, 401, "invalid_client"},
		{"unknown client", cc, []string{"Authorization", basic("ghost", rwSecret)}, 401, "invalid_client"},
		{"no client authentication", cc, nil, 401, "invalid_client"},
		{"client_id alone", with("client_id", "rw"), nil, 401, "invalid_client"},
		{"bearer is no client authentication", cc, []string{"Authorization", "Bearer abc"}, 401, "invalid_client"},
		{"two ways", with("client_secret", rwSecret), rwBasic, 400, "invalid_request"},
		{"client_id not the basic user", with("client_id", "admin"), rwBasic, 400, "invalid_request"},
		{"no grant_type", url.Values{}, rwBasic, 400, "invalid_request"},
		{"password grant", with("grant_type", "password"), rwBasic, 400, "unsupported_grant_type"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials"}, "scope": {"a", "b"}}, rwBasic, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, m := f.token(tc.form, tc.headers...)
			require.Equal(t, tc.status, status, "%v", m)
			if status != 200 {
				require.Equal(t, tc.err, m["error"])
				require.NotEmpty(t, m["error_description"])
				if status == 401 {
					// The header check is in token(); the challenge:
					res := f.do("POST", TokenPath, tc.form.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, tc.headers...)...)
					require.Equal(t, `Basic realm="vnfm", charset="UTF-8"`, res.header.Get("WWW-Authenticate"))
				}
				return
			}
			require.Equal(t, "Bearer", m["token_type"])
			require.EqualValues(t, 3600, m["expires_in"])
			require.Equal(t, tc.err, m["scope"])
			c := decodeClaims(t, m["access_token"].(string))
			require.Equal(t, "https://vnfm.example.net", c["iss"])
			require.Equal(t, []any{"https://vnfm.example.net"}, c["aud"])
			require.Equal(t, c["client_id"], c["sub"])
			require.Equal(t, tc.err, c["scope"])
			require.EqualValues(t, f.clock.Now().Add(time.Hour).Unix(), c["exp"])
			require.NotEmpty(t, c["jti"])
		})
	}

	t.Run("wrong content type", func(t *testing.T) {
		t.Parallel()
		res := f.do("POST", TokenPath, cc.Encode(), append([]string{"Content-Type", "application/json"}, rwBasic...)...)
		require.Equal(t, 400, res.status)
		require.Contains(t, res.body, "invalid_request")
	})
	t.Run("body too large", func(t *testing.T) {
		t.Parallel()
		res := f.do("POST", TokenPath, "grant_type=client_credentials&x="+strings.Repeat("a", maxTokenRequest), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, rwBasic...)...)
		require.Equal(t, 400, res.status)
		require.Contains(t, res.body, "exceeds")
	})
	t.Run("the token's client in the log, not its secret", func(t *testing.T) {
		t.Parallel()
		res := f.do("POST", TokenPath, cc.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, rwBasic...)...)
		require.Equal(t, 200, res.status)
		require.Equal(t, "rw", res.logged)
		require.Contains(t, f.logs.String(), `"msg":"token issued","client_id":"rw"`)
	})
}

func TestIssuedTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "oauth2", nil)
	rw := f.clientToken("rw", rwSecret, "")
	ro := f.clientToken("rw", rwSecret, "vnflcm:read")
	admin := f.clientToken("admin", adminSecret, "")

	res := f.do("POST", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(rw))
	require.Equal(t, 200, res.status, res.body)
	require.Equal(t, "rw/oauth2", res.body)
	require.Equal(t, "rw", res.logged)
	res = f.do("POST", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(ro))
	require.Equal(t, 403, res.status)
	require.Contains(t, res.header.Get("WWW-Authenticate"), `error="insufficient_scope", scope="vnflcm:write"`)
	require.Equal(t, 200, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(ro)).status)
	require.Equal(t, 200, f.do("DELETE", "/v1.0/vims/x", "", "Authorization", bearer(admin)).status)
	require.Equal(t, 200, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", "bearer "+rw).status, "the scheme is case-insensitive")

	// No token reaches the log (the token response body holds it, of course).
	for _, tok := range []string{rw, ro, admin} {
		require.NotContains(t, f.logs.String(), tok)
		require.NotContains(t, f.logs.String(), strings.Split(tok, ".")[2], "not even the signature")
	}

	invalid := func(t *testing.T, tok, desc string) {
		t.Helper()
		res := f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok))
		require.Equal(t, 401, res.status, res.body)
		require.Equal(t, `Bearer realm="vnfm", error="invalid_token", error_description="`+desc+`"`, res.header.Get("WWW-Authenticate"))
		require.Contains(t, res.body, desc)
	}
	sign := func(t *testing.T, key []byte, mutate func(*ownClaims)) string {
		t.Helper()
		now := f.clock.Now()
		c := ownClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "vnfm", Subject: "admin", Audience: jwt.ClaimStrings{"vnfm"},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}, Scope: "*", ClientID: "admin"}
		mutate(&c)
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		require.NoError(t, err)
		return s
	}
	key := f.g.issuer.key
	t.Run("control: a token signed like ours is accepted", func(t *testing.T) {
		require.Equal(t, 200, f.do("GET", "/x", "", "Authorization", bearer(sign(t, key, func(*ownClaims) {}))).status)
	})
	t.Run("another key", func(t *testing.T) {
		invalid(t, sign(t, []byte(strings.Repeat("k", 32)), func(*ownClaims) {}), "the token signature is invalid")
	})
	t.Run("another issuer", func(t *testing.T) {
		invalid(t, sign(t, key, func(c *ownClaims) { c.Issuer = "evil" }), "the token is from another issuer")
	})
	t.Run("another audience", func(t *testing.T) {
		invalid(t, sign(t, key, func(c *ownClaims) { c.Audience = jwt.ClaimStrings{"other"} }), "the token is for another audience")
	})
	t.Run("no exp", func(t *testing.T) {
		invalid(t, sign(t, key, func(c *ownClaims) { c.ExpiresAt = nil }), "the token lacks a required claim")
	})
	t.Run("issued in the future", func(t *testing.T) {
		invalid(t, sign(t, key, func(c *ownClaims) { c.IssuedAt = jwt.NewNumericDate(f.clock.Now().Add(time.Minute)) }), "the token is not valid yet")
	})
	t.Run("unknown client", func(t *testing.T) {
		invalid(t, sign(t, key, func(c *ownClaims) { c.Subject = "ghost" }), "the token's client is no longer known")
	})
	t.Run("scope beyond the client's", func(t *testing.T) {
		tok := sign(t, key, func(c *ownClaims) { c.Subject, c.Scope = "rw", "vnflcm:read *" })
		res := f.do("GET", "/v1.0/vims", "", "Authorization", bearer(tok))
		require.Equal(t, 403, res.status, "the client's scopes bound the token's")
		require.Equal(t, 200, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status)
	})
	t.Run("alg none", func(t *testing.T) {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "vnfm", "aud": "vnfm", "sub": "admin", "scope": "*",
			"exp": f.clock.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		require.NoError(t, err)
		invalid(t, s, "the token algorithm is not accepted")
	})
	t.Run("HS512", func(t *testing.T) {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"iss": "vnfm", "aud": "vnfm", "sub": "admin", "scope": "*",
			"exp": f.clock.Now().Add(time.Hour).Unix()}).SignedString(key)
		require.NoError(t, err)
		invalid(t, s, "the token algorithm is not accepted")
	})
}

func TestIssuedTokenExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "oauth2", func(c *Config) { c.TokenTTL = 10 * time.Minute })
	tok := f.clientToken("rw", rwSecret, "")
	f.clock.Add(10*time.Minute + leeway - time.Second)
	require.Equal(t, 200, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status, "within the leeway")
	f.clock.Add(2 * time.Second)
	res := f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok))
	require.Equal(t, 401, res.status)
	require.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token", error_description="the token has expired"`)
}

// TestTokensAcrossRestarts: a new Guard with the same key file accepts the
// tokens; one without the client refuses them.
func TestTokensAcrossRestarts(t *testing.T) {
	t.Parallel()
	keyFile := t.TempDir() + "/token.key"
	f := newFixture(t, "oauth2", func(c *Config) { c.TokenKeyFile = keyFile })
	tok := f.clientToken("rw", rwSecret, "")
	again := newFixture(t, "oauth2", func(c *Config) { c.TokenKeyFile = keyFile; c.Now = f.clock.Now })
	require.Equal(t, 200, again.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status)
	fewer := newFixture(t, "oauth2", func(c *Config) {
		c.TokenKeyFile, c.Now = keyFile, f.clock.Now
		c.ClientsFile = writeFile(t, "c.yaml", "- {client_id: admin, secret_bcrypt: '"+hashOf(t, adminSecret)+"', scopes: ['*']}")
	})
	require.Equal(t, 401, fewer.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status)
	other := newFixture(t, "oauth2", func(c *Config) { c.Now = f.clock.Now })
	require.Equal(t, 401, other.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status, "another key")
}

package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "https://idp.example.net/realms/nfv"
	testAudience = "vnfm"
)

// idp is an external issuer: keys and the JWKS it serves.
type idp struct {
	t       *testing.T
	srv     *httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	keys    []map[string]any
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ec384   *ecdsa.PrivateKey
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid, crv string, k *ecdsa.PublicKey) map[string]any {
	size := (k.Curve.Params().BitSize + 7) / 8
	raw, err := k.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
}

var (
	keysOnce              sync.Once
	sharedRSA, weakRSA    *rsa.PrivateKey
	sharedEC, sharedEC384 *ecdsa.PrivateKey
)

// testKeys are made once: RSA key generation is slow under -race.
func testKeys(t *testing.T) {
	keysOnce.Do(func() {
		var err error
		sharedRSA, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		weakRSA, err = rsa.GenerateKey(rand.Reader, 1024)
		require.NoError(t, err)
		sharedEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		sharedEC384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
	})
}

func newIdP(t *testing.T) *idp {
	testKeys(t)
	p := &idp{t: t, rsa: sharedRSA, ec: sharedEC, ec384: sharedEC384}
	p.keys = []map[string]any{
		rsaJWK("rsa-1", &p.rsa.PublicKey),
		ecJWK("ec-1", "P-256", &p.ec.PublicKey),
		// Skipped: too weak, an encryption key, a symmetric key.
		rsaJWK("weak", &weakRSA.PublicKey),
		func() map[string]any { k := rsaJWK("enc", &p.rsa.PublicKey); k["use"] = "enc"; return k }(),
		{"kty": "oct", "kid": "oct-1", "k": b64([]byte("a shared secret of 32 bytes....."))},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": p.keys})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) add(k map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
}

func (p *idp) claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": testIssuer, "aud": []string{"account", testAudience}, "sub": "nfvo-1",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "scope": "vnflcm:read vnflcm:write"}
}

func (p *idp) sign(m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	p.t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(p.t, err)
	return s
}

func jwtFixture(t *testing.T, modes string, p *idp) *fixture {
	return newFixture(t, modes, func(c *Config) {
		c.JWKSURL, c.Issuer, c.Audience = p.srv.URL+"/jwks", testIssuer, testAudience
	})
}

func TestExternalJWT(t *testing.T) {
	t.Parallel()
	p := newIdP(t)
	f := jwtFixture(t, "jwt", p)
	require.EqualValues(t, 1, p.fetches.Load(), "fetched at start")
	now := f.clock.Now()
	mod := func(kv ...any) jwt.MapClaims {
		c := p.claims(now)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: func() []byte {
		b, err := x509.MarshalPKIXPublicKey(&p.rsa.PublicKey)
		require.NoError(t, err)
		return b
	}()})
	rsaDER := x509.MarshalPKCS1PublicKey(&p.rsa.PublicKey)

	for _, tc := range []struct {
		name   string
		token  string
		status int
		want   string // the principal, or the error description
	}{
		{"RS256", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod()), 200, "nfvo-1/jwt"},
		{"PS384", p.sign(jwt.SigningMethodPS384, "rsa-1", p.rsa, mod()), 200, "nfvo-1/jwt"},
		{"ES256, scp array", p.sign(jwt.SigningMethodES256, "ec-1", p.ec, mod("scope", nil, "scp", []string{"vnflcm:read"})), 200, "nfvo-1/jwt"},
		{"no sub: client_id", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("sub", nil, "client_id", "svc")), 200, "svc/jwt"},
		{"no kid, one key fits", p.sign(jwt.SigningMethodES256, "", p.ec, mod()), 200, "nfvo-1/jwt"},
		{"aud as a string", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("aud", testAudience)), 200, "nfvo-1/jwt"},
		{"expired within the leeway", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("exp", now.Add(-10*time.Second).Unix())), 200, "nfvo-1/jwt"},
		{"expired", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("exp", now.Add(-time.Minute).Unix())), 401, "the token has expired"},
		{"no exp", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("exp", nil)), 401, "the token lacks a required claim"},
		{"not before", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("nbf", now.Add(time.Minute).Unix())), 401, "the token is not valid yet"},
		{"wrong audience", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("aud", "other")), 401, "the token is for another audience"},
		{"no audience", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("aud", nil)), 401, "the token lacks a required claim"},
		{"wrong issuer", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("iss", "https://evil.example")), 401, "the token is from another issuer"},
		{"no subject", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("sub", nil)), 401, "the token has no subject"},
		{"bad scope type", p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("scope", 42)), 401, "the token is malformed"},
		{"alg none", p.sign(jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, mod()), 401, "the token algorithm is not accepted"},
		// The classic confusion: HMAC with the public key (PEM or DER) as
		// the secret. vnfm issues no tokens here, so HS256 is refused
		// outright.
		{"HS256 with the public key PEM", p.sign(jwt.SigningMethodHS256, "rsa-1", pubPEM, mod()), 401, "the token algorithm is not accepted"},
		{"HS256 with the public key DER", p.sign(jwt.SigningMethodHS256, "rsa-1", rsaDER, mod()), 401, "the token algorithm is not accepted"},
		{"HS256 with the oct key", p.sign(jwt.SigningMethodHS256, "oct-1", []byte("a shared secret of 32 bytes....."), mod()), 401, "the token algorithm is not accepted"},
		{"ES256 naming the RSA key", p.sign(jwt.SigningMethodES256, "rsa-1", p.ec, mod()), 401, "the token is signed by an unknown key"},
		{"ES384 with a P-256 kid", p.sign(jwt.SigningMethodES384, "ec-1", p.ec384, mod()), 401, "the token is signed by an unknown key"},
		{"RS256 by another key", p.sign(jwt.SigningMethodRS256, "rsa-1", func() *rsa.PrivateKey { return weakRSA }(), mod()), 401, "the token signature is invalid"},
		{"skipped weak key", p.sign(jwt.SigningMethodRS256, "weak", weakRSA, mod()), 401, "the token is signed by an unknown key"},
		{"skipped encryption key", p.sign(jwt.SigningMethodRS256, "enc", p.rsa, mod()), 401, "the token is signed by an unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tc.token))
			require.Equal(t, tc.status, res.status, res.body)
			if tc.status == 200 {
				require.Equal(t, tc.want, res.body)
				return
			}
			require.Equal(t, `Bearer realm="vnfm", error="invalid_token", error_description="`+tc.want+`"`, res.header.Get("WWW-Authenticate"))
		})
	}

	t.Run("scope", func(t *testing.T) {
		t.Parallel()
		tok := p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("scope", "vnfpkgm:read"))
		require.Equal(t, 403, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status)
		require.Equal(t, 200, f.do("GET", "/vnfpkgm/v1/vnf_packages", "", "Authorization", bearer(tok)).status)
		none := p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, mod("scope", nil))
		require.Equal(t, 403, f.do("GET", "/vnfpkgm/v1/vnf_packages", "", "Authorization", bearer(none)).status, "no scope claim: no scope")
	})
}

// TestHSConfusionWithOwnTokens: with vnfm issuing HS256 tokens too, an
// HS256 token signed with the issuer's public key is checked against
// vnfm's own secret, and fails.
func TestHSConfusionWithOwnTokens(t *testing.T) {
	t.Parallel()
	p := newIdP(t)
	f := jwtFixture(t, "oauth2,jwt", p)
	c := p.claims(f.clock.Now())
	der, err := x509.MarshalPKIXPublicKey(&p.rsa.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	res := f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(p.sign(jwt.SigningMethodHS256, "rsa-1", pubPEM, c)))
	require.Equal(t, 401, res.status)
	require.Contains(t, res.header.Get("WWW-Authenticate"), `error="invalid_token"`)
	// Both kinds work side by side.
	require.Equal(t, 200, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(p.sign(jwt.SigningMethodRS256, "rsa-1", p.rsa, c))).status)
	require.Equal(t, 200, f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(f.clientToken("rw", rwSecret, ""))).status)
}

func TestJWKSRefresh(t *testing.T) {
	t.Parallel()
	p := newIdP(t)
	f := jwtFixture(t, "jwt", p)
	require.EqualValues(t, 1, p.fetches.Load())
	rotated, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	get := func(tok string) int {
		return f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok)).status
	}
	tok := func() string { return p.sign(jwt.SigningMethodES256, "ec-2", rotated, p.claims(f.clock.Now())) }

	// Unknown kids refetch at most every jwksMinInterval, however many
	// tokens ask.
	for range 5 {
		require.Equal(t, 401, get(tok()))
	}
	require.EqualValues(t, 1, p.fetches.Load(), "the start fetch was within the interval")
	f.clock.Add(jwksMinInterval)
	require.Equal(t, 401, get(tok()))
	require.EqualValues(t, 2, p.fetches.Load())
	require.Equal(t, 401, get(tok()))
	require.EqualValues(t, 2, p.fetches.Load())

	// The issuer rotates in a new key: found at the next allowed refetch.
	p.add(ecJWK("ec-2", "P-256", &rotated.PublicKey))
	f.clock.Add(jwksMinInterval)
	require.Equal(t, 200, get(tok()))
	require.EqualValues(t, 3, p.fetches.Load())
	require.Equal(t, 200, get(tok()), "cached")
	require.EqualValues(t, 3, p.fetches.Load())

	// Known keys are refetched once old, so that withdrawn keys go.
	f.clock.Add(jwksMaxAge)
	p.mu.Lock()
	p.keys = p.keys[:1]
	p.mu.Unlock()
	require.Equal(t, 401, get(tok()))
	require.EqualValues(t, 4, p.fetches.Load())
}

func TestJWKSUnreachable(t *testing.T) {
	t.Parallel()
	testKeys(t)
	hang := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	start := time.Now()
	f := newFixture(t, "jwt", func(c *Config) {
		c.JWKSURL, c.Issuer, c.Audience = srv.URL, testIssuer, testAudience
		c.HTTP = &http.Client{Timeout: 200 * time.Millisecond}
	})
	require.Less(t, time.Since(start), 5*time.Second, "the start fetch times out")
	require.Contains(t, f.logs.String(), "JWKS not fetched at start")
	p := &idp{t: t}
	tok := p.sign(jwt.SigningMethodRS256, "rsa-1", sharedRSA, p.claims(f.clock.Now()))
	f.clock.Add(jwksMinInterval)
	res := f.do("GET", "/vnflcm/v1/vnf_instances", "", "Authorization", bearer(tok))
	require.Equal(t, 401, res.status)
	require.Contains(t, res.header.Get("WWW-Authenticate"), "unknown key")
	require.EqualValues(t, 2, hits.Load())
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	testKeys(t)
	ec := ecJWK("ec", "P-256", &sharedEC.PublicKey)
	offCurve := ecJWK("off", "P-256", &sharedEC.PublicKey)
	offCurve["y"] = offCurve["x"]
	short := ecJWK("short", "P-256", &sharedEC.PublicKey)
	short["x"] = b64([]byte{1, 2, 3})
	withAlg := rsaJWK("rs512only", &sharedRSA.PublicKey)
	withAlg["alg"] = "RS512"
	hsAlg := rsaJWK("hs", &sharedRSA.PublicKey)
	hsAlg["alg"] = "HS256"
	body, err := json.Marshal(map[string]any{"keys": []any{ec, offCurve, short, withAlg, hsAlg, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AA"}}})
	require.NoError(t, err)
	keys, skipped, err := parseJWKS(body)
	require.NoError(t, err)
	require.Equal(t, 4, skipped, "off the curve, short coordinate, HS alg, OKP")
	require.Len(t, keys, 2)
	require.Equal(t, "RS512", keys["rs512only"][0].alg)
	s := &jwks{now: time.Now, byKid: keys, fetched: time.Now()}
	k, _ := s.lookup("rs512only", "RS256")
	require.Nil(t, k, "a key's alg binds it")
	k, _ = s.lookup("rs512only", "RS512")
	require.NotNil(t, k)
	_, _, err = parseJWKS([]byte("not json"))
	require.Error(t, err)
}

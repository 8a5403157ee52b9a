package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// jwksFetchTimeout bounds one JWKS fetch; token checks wait for it.
	jwksFetchTimeout = 10 * time.Second
	// jwksMinInterval bounds fetches: a token with an unknown kid (anyone
	// can make one) refetches at most this often.
	jwksMinInterval = 30 * time.Second
	// jwksMaxAge refetches known keys too, so that a key the issuer
	// withdrew stops being accepted.
	jwksMaxAge = time.Hour
	maxJWKS    = 1 << 20
	minRSABits = 2048
)

// externalAlgs are the algorithms accepted from an external issuer: public
// key ones only, so that a public key can never serve as an HMAC secret.
var externalAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// external checks tokens of an external issuer against its JWKS.
type external struct {
	iss, aud string
	keys     *jwks
	now      func() time.Time
}

// extClaims: scope as a space-separated string or an array ("scp").
type extClaims struct {
	jwt.RegisteredClaims
	Scope    scopeList `json:"scope"`
	Scp      scopeList `json:"scp"`
	ClientID string    `json:"client_id"`
	Azp      string    `json:"azp"`
}

// scopeList is a space-separated string or an array of strings.
type scopeList []string

func (s *scopeList) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = strings.Fields(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("scope is neither a string nor an array of strings")
	}
	for _, e := range list {
		*s = append(*s, strings.Fields(e)...)
	}
	return nil
}

func newExternal(ctx context.Context, cfg Config, now func() time.Time, log *slog.Logger) (*external, error) {
	if cfg.JWKSURL == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth mode jwt needs --auth-jwks-url, --auth-issuer and --auth-audience")
	}
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("--auth-jwks-url: want an http(s) URL")
	}
	if u.User != nil {
		return nil, errors.New("--auth-jwks-url: no credentials in the URL")
	}
	if u.Scheme == "http" {
		log.Warn("the JWKS is fetched over plain HTTP: anyone on the path can substitute keys", "jwks_url", u.Redacted())
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: jwksFetchTimeout}
	}
	e := &external{iss: cfg.Issuer, aud: cfg.Audience, now: now,
		keys: &jwks{url: u.String(), hc: hc, now: now, log: log, byKid: map[string][]jwk{}}}
	// A first fetch now finds a wrong URL at start; a failure is not fatal
	// (the issuer may come up later).
	if err := e.keys.refresh(ctx, true); err != nil {
		log.Warn("JWKS not fetched at start; tokens are refused until it is", "jwks_url", u.Redacted(), "err", err)
	}
	return e, nil
}

// verify checks an external token: signature by a JWKS key of a matching
// type, iss, aud, exp (required) and nbf/iat with leeway.
func (e *external) verify(ctx context.Context, raw string) (*extClaims, error) {
	var c extClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return e.keys.key(ctx, kid, t.Method.Alg())
	}, jwt.WithValidMethods(externalAlgs), jwt.WithIssuer(e.iss), jwt.WithAudience(e.aud),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(leeway), jwt.WithTimeFunc(e.now))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// jwks is a cached JSON Web Key Set.
type jwks struct {
	url string
	hc  *http.Client
	now func() time.Time
	log *slog.Logger

	fetchMu sync.Mutex // one fetch at a time
	mu      sync.RWMutex
	byKid   map[string][]jwk
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt
}

type jwk struct {
	alg string // "" = any algorithm of the key's type
	key crypto.PublicKey
}

var errUnknownKey = errors.New("no JWKS key for the token's kid and alg")

// key finds the verification key for kid and alg, refetching the set (at
// most every jwksMinInterval) when it has none or is old.
func (s *jwks) key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	if k, fresh := s.lookup(kid, alg); k != nil && fresh {
		return k, nil
	}
	if err := s.refresh(ctx, false); err != nil {
		s.log.Warn("JWKS refresh failed", "err", err)
	}
	if k, _ := s.lookup(kid, alg); k != nil {
		return k, nil
	}
	return nil, errUnknownKey
}

func (s *jwks) lookup(kid, alg string) (crypto.PublicKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fresh := s.now().Sub(s.fetched) < jwksMaxAge
	var found []crypto.PublicKey
	for k, keys := range s.byKid {
		// Without a kid, a key is used only when it is the one that fits.
		if kid != "" && k != kid {
			continue
		}
		for _, j := range keys {
			if (j.alg == "" || j.alg == alg) && fits(j.key, alg) {
				found = append(found, j.key)
			}
		}
	}
	if len(found) != 1 {
		return nil, fresh
	}
	return found[0], fresh
}

// fits reports whether key can verify alg: RSA for RS/PS, and the curve
// that goes with each ES.
func fits(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	}
	return false
}

// refresh fetches the set unless one was tried within jwksMinInterval
// (force skips that, for the first fetch).
func (s *jwks) refresh(ctx context.Context, force bool) error {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	s.mu.RLock()
	recent := s.now().Sub(s.tried) < jwksMinInterval
	s.mu.RUnlock()
	if recent && !force {
		return nil
	}
	s.mu.Lock()
	s.tried = s.now()
	s.mu.Unlock()
	// Detached from the request: other requests wait on this fetch.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	keys, err := s.fetch(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.byKid, s.fetched = keys, s.now()
	s.mu.Unlock()
	return nil
}

func (s *jwks) fetch(ctx context.Context) (map[string][]jwk, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("read JWKS: %w", err)
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("JWKS exceeds %d bytes", maxJWKS)
	}
	keys, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		s.log.Debug("JWKS keys skipped (not RSA or EC signature keys, or unusable)", "count", skipped)
	}
	return keys, nil
}

// rawJWK is RFC 7517 §4 / RFC 7518 §6 (public members only).
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS keeps the RSA and EC signature keys; others are skipped.
func parseJWKS(body []byte) (map[string][]jwk, int, error) {
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("JWKS is not a JSON key set: %w", err)
	}
	keys := map[string][]jwk{}
	skipped := 0
	for _, k := range set.Keys {
		key, err := k.publicKey()
		if err != nil || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && !slices.Contains(externalAlgs, k.Alg)) {
			skipped++
			continue
		}
		keys[k.Kid] = append(keys[k.Kid], jwk{alg: k.Alg, key: key})
	}
	return keys, skipped, nil
}

func (k rawJWK) publicKey() (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return nil, errors.New("weak RSA key")
		}
		return pub, nil
	case "EC":
		var c elliptic.Curve
		switch k.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, errors.New("unsupported curve")
		}
		size := (c.Params().BitSize + 7) / 8
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC key")
		}
		// ParseUncompressedPublicKey checks that the point is on the curve.
		return ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
	}
	return nil, errors.New("unsupported key type")
}

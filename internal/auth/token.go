package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// leeway absorbs clock skew in exp, nbf and iat.
const leeway = 30 * time.Second

// issuer signs and checks the tokens vnfm issues. HS256: only vnfm (every
// replica, sharing the key file as they share the encryption key) ever
// checks them, so a public key to hand out would buy nothing.
type issuer struct {
	key []byte
	iss string // also the audience
	ttl time.Duration
}

// ownClaims are the claims of an issued token (RFC 9068 names).
type ownClaims struct {
	jwt.RegisteredClaims
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

const tokenKeySize = 32

// loadOrCreateTokenKey reads the base64 HS256 key, creating a random one
// (mode 0600) when the file does not exist.
func loadOrCreateTokenKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, tokenKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate token key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("token key dir: %w", err)
		}
		// O_EXCL: two replicas starting at once must not overwrite each
		// other's key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("write token key file: %w", err)
			}
			return key, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create token key file: %w", err)
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read token key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("token key file %s: not base64", path)
	}
	if len(key) < tokenKeySize {
		return nil, fmt.Errorf("token key file %s: %d bytes, want at least %d", path, len(key), tokenKeySize)
	}
	return key, nil
}

func (i *issuer) issue(clientID string, scopes []string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	c := ownClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.iss,
			Subject:   clientID,
			Audience:  jwt.ClaimStrings{i.iss},
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
		Scope:    strings.Join(scopes, " "),
		ClientID: clientID,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["typ"] = "at+jwt"
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// verify checks an issued token: HS256 only, our iss and aud, not expired.
func (i *issuer) verify(raw string, now func() time.Time) (*ownClaims, error) {
	var c ownClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return i.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(i.iss), jwt.WithAudience(i.iss),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(leeway), jwt.WithTimeFunc(now))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// maxTokenRequest bounds a token request body.
const maxTokenRequest = 16 << 10

// tokenError is an RFC 6749 §5.2 error answer.
type tokenError struct {
	status int
	code   string
	desc   string
}

// serveToken is the token endpoint for the client credentials grant (RFC
// 6749 §4.4): client authentication by HTTP Basic or client_id and
// client_secret in the form, optional scope.
func (g *Guard) serveToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	now := g.now()
	body, e := g.tokenRequest(w, r, now)
	if e != nil {
		if e.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", basicChallenge)
		}
		writeTokenJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
		return
	}
	writeTokenJSON(w, http.StatusOK, body)
}

func (g *Guard) tokenRequest(w http.ResponseWriter, r *http.Request, now time.Time) (map[string]any, *tokenError) {
	invalid := func(format string, args ...any) *tokenError {
		return &tokenError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, invalid("send the parameters as application/x-www-form-urlencoded")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest+1))
	if err != nil {
		return nil, invalid("cannot read the request body")
	}
	if len(raw) > maxTokenRequest {
		return nil, invalid("the request body exceeds %d bytes", maxTokenRequest)
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, invalid("the request body is not form-encoded")
	}
	for k, v := range form {
		if len(v) > 1 {
			// RFC 6749 §3.1: parameters must not be repeated. The name is
			// safe to echo only when it is one of ours.
			if slices.Contains([]string{"grant_type", "scope", "client_id", "client_secret"}, k) {
				return nil, invalid("parameter %s is repeated", k)
			}
			return nil, invalid("a parameter is repeated")
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return nil, invalid("grant_type is missing")
	case "client_credentials":
	default:
		return nil, &tokenError{http.StatusBadRequest, "unsupported_grant_type", "only grant_type=client_credentials is supported"}
	}

	// Client authentication: exactly one of HTTP Basic and the form.
	var ids, secrets []string
	headers := r.Header.Values("Authorization")
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	switch {
	case len(headers) > 1:
		return nil, invalid("send one Authorization header")
	case len(headers) == 1:
		c, err := parseAuthorization(headers[0])
		if err != nil || c.scheme != MethodBasic {
			return nil, &tokenError{http.StatusUnauthorized, "invalid_client", "authenticate the client with HTTP Basic or client_id and client_secret"}
		}
		if formSecret != "" {
			return nil, invalid("authenticate the client one way: HTTP Basic or client_secret, not both")
		}
		// RFC 6749 §2.3.1 form-encodes both before Basic; not every
		// client does, so the raw value is tried too (second).
		ids, secrets = unescaped(c.user), unescaped(c.password)
		if formID != "" && !slices.Contains(ids, formID) {
			return nil, invalid("client_id does not match the HTTP Basic user")
		}
	case formSecret != "" && formID != "":
		ids, secrets = []string{formID}, []string{formSecret}
	default:
		return nil, &tokenError{http.StatusUnauthorized, "invalid_client", "client authentication is required: HTTP Basic or client_id and client_secret"}
	}
	done, wait := g.limit.begin(clientKey(r), now)
	if done == nil {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(wait)))
		return nil, &tokenError{http.StatusTooManyRequests, "slow_down", "too many failed attempts from this address; retry later"}
	}
	var client *account
	for _, id := range ids {
		for _, s := range secrets {
			if client = g.clients.check(id, s, now); client != nil {
				break
			}
		}
		if client != nil {
			break
		}
	}
	done(client != nil, g.now())
	if client == nil {
		g.log.Info("token request refused: wrong client credentials", "client_ip", clientKey(r))
		return nil, &tokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	}
	record(r.Context(), client.name)

	granted := client.scopes
	if s := strings.Fields(form.Get("scope")); len(s) > 0 {
		for _, want := range s {
			if !slices.Contains(knownScopes, want) {
				return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "unknown scope; known: " + strings.Join(knownScopes, " ")}
			}
			if !grantable(client.scopes, want) {
				return nil, &tokenError{http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %s is not granted to this client", want)}
			}
		}
		granted = s
	}
	tok, err := g.issuer.issue(client.name, granted, now)
	if err != nil {
		g.log.Error("issue token", "err", err)
		return nil, &tokenError{http.StatusInternalServerError, "server_error", "cannot issue a token; see the vnfm log"}
	}
	g.log.Info("token issued", "client_id", client.name, "scope", strings.Join(granted, " "), "expires_in", g.issuer.ttl.String())
	return map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(g.issuer.ttl.Seconds()),
		"scope":        strings.Join(granted, " "),
	}, nil
}

// unescaped is s form-decoded, then s itself when that differs.
func unescaped(s string) []string {
	if u, err := url.QueryUnescape(s); err == nil && u != s {
		return []string{u, s}
	}
	return []string{s}
}

func writeTokenJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

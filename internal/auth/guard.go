package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vnfm-project/vnfm/internal/model"
)

const (
	realm          = `realm="vnfm"`
	basicChallenge = `Basic realm="vnfm", charset="UTF-8"`
	// TokenPath is where the token endpoint is served.
	TokenPath = "/oauth2/token"
)

// openPaths answer without credentials: probes, version discovery (a
// client asks before it authenticates), the OpenAPI document and the token
// endpoint itself.
var openPaths = []string{"/healthz", "/readyz", "/vnflcm/api_versions", "/vnflcm/v1/api_versions",
	"/vnfpkgm/api_versions", "/vnfpkgm/v1/api_versions", "/vnflcm/v1/openapi.yaml", "/docs", TokenPath}

// Required is the scope a request needs, "" when it is open. Paths are
// compared as the router sees them (the raw path when the request has
// one), so that no spelling of a path routes to one interface while being
// checked as another.
func (g *Guard) Required(r *http.Request) string {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if slices.Contains(openPaths, path) || (path == "/metrics" && g.metricsPublic) {
		return ""
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	rw := func(rd, wr string) string {
		if read {
			return rd
		}
		return wr
	}
	switch {
	case under(path, "/vnflcm/v1/subscriptions"):
		return ScopeSubscriptions
	case under(path, "/vnflcm/v1"):
		return rw(ScopeLCMRead, ScopeLCMWrite)
	case under(path, "/vnfpkgm/v1"):
		return rw(ScopePkgmRead, ScopePkgmWrite)
	case under(path, "/v1.0/vims"), path == "/v1.0/vims.json":
		return rw(ScopeVimsRead, ScopeVimsWrite)
	case path == "/metrics":
		return ScopeMetrics
	}
	// Anything else (an interface added later, or no route at all) is for
	// full access only until it gets scopes of its own.
	return ScopeAll
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// Middleware authenticates each request that is not open and checks its
// scope; it answers 401, 403 and 429 itself, as ProblemDetails.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	if g.off {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := g.Required(r)
		if scope == "" {
			next.ServeHTTP(w, r)
			return
		}
		p := g.authenticate(w, r)
		if p == nil {
			return
		}
		record(r.Context(), p.Name)
		if !p.Allows(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer `+realm+`, error="insufficient_scope", scope="`+scope+`"`)
			problem(w, http.StatusForbidden, "Forbidden", "this request needs the scope "+scope)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

// TokenHandler serves POST /oauth2/token; nil unless mode oauth2 is on.
func (g *Guard) TokenHandler() http.Handler {
	if g.issuer == nil {
		return nil
	}
	return http.HandlerFunc(g.serveToken)
}

// authenticate returns the principal, or nil after answering.
func (g *Guard) authenticate(w http.ResponseWriter, r *http.Request) *Principal {
	headers := r.Header.Values("Authorization")
	if len(headers) == 0 {
		g.unauthorized(w, "", "authentication required: "+g.accepted())
		return nil
	}
	now := g.now()
	key := clientKey(r)
	var c credential
	var err error
	if len(headers) > 1 {
		err = errors.New("more than one Authorization header")
	} else {
		c, err = parseAuthorization(headers[0])
	}
	switch {
	case err == nil && c.scheme == MethodBasic && g.basic:
	case err == nil && c.scheme == schemeBearer && (g.issuer != nil || g.ext != nil):
	default:
		if err == nil {
			err = errors.New("this scheme is not accepted here; " + g.accepted())
		}
		if wait := g.limit.fail(key, now); wait > 0 {
			g.tooMany(w, wait)
			return nil
		}
		g.unauthorized(w, "", err.Error())
		return nil
	}

	if c.scheme == MethodBasic {
		done, wait := g.limit.begin(key, now)
		if done == nil {
			g.tooMany(w, wait)
			return nil
		}
		acct := g.users.check(c.user, c.password, now)
		done(acct != nil, g.now())
		if acct == nil {
			g.log.Info("wrong HTTP Basic credentials", "client_ip", key)
			g.unauthorized(w, "", "wrong user name or password")
			return nil
		}
		return &Principal{Name: acct.name, Method: MethodBasic, Scopes: acct.scopes}
	}

	p, err := g.verifyToken(r.Context(), c.token)
	if err != nil {
		if wait := g.limit.fail(key, now); wait > 0 {
			g.tooMany(w, wait)
			return nil
		}
		desc := tokenProblem(err)
		g.log.Info("invalid bearer token", "client_ip", key, "reason", desc)
		g.unauthorized(w, `error="invalid_token", error_description="`+desc+`"`, "the Bearer token is not valid: "+desc)
		return nil
	}
	return p
}

var errNoSubject = errors.New("the token has no subject")

// verifyToken dispatches on alg: HS256 is vnfm's own (when it issues
// tokens), public-key algorithms are the external issuer's; none and
// anything else are refused before any key is looked at.
func (g *Guard) verifyToken(ctx context.Context, raw string) (*Principal, error) {
	t, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		return nil, err
	}
	alg, _ := t.Header["alg"].(string)
	switch {
	case alg == jwt.SigningMethodHS256.Alg() && g.issuer != nil:
		c, err := g.issuer.verify(raw, g.now)
		if err != nil {
			return nil, err
		}
		// A client removed from the clients file loses its tokens at the
		// next start, and keeps no scope it no longer has.
		client := g.clients.byName[c.Subject]
		if client == nil {
			return nil, errUnknownClient
		}
		var scopes []string
		for _, s := range strings.Fields(c.Scope) {
			if grantable(client.scopes, s) {
				scopes = append(scopes, s)
			}
		}
		return &Principal{Name: client.name, Method: MethodOAuth2, Scopes: scopes}, nil
	case slices.Contains(externalAlgs, alg) && g.ext != nil:
		c, err := g.ext.verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		name := c.Subject
		for _, n := range []string{c.ClientID, c.Azp} {
			if name == "" {
				name = n
			}
		}
		if name == "" {
			return nil, errNoSubject
		}
		if len(name) > 256 {
			name = name[:256]
		}
		return &Principal{Name: name, Method: MethodJWT, Scopes: append(slices.Clone(c.Scope), c.Scp...)}, nil
	}
	return nil, errAlg
}

var (
	errAlg           = errors.New("token algorithm not accepted")
	errUnknownClient = errors.New("the token's client is not known")
)

// tokenProblem says what is wrong with a token in words safe for a header
// (no quotes, nothing from the token).
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is from another issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is for another audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim"
	case errors.Is(err, errAlg), errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		return "the token algorithm is not accepted"
	case errors.Is(err, errUnknownKey):
		return "the token is signed by an unknown key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the token signature is invalid"
	case errors.Is(err, errUnknownClient):
		return "the token's client is no longer known"
	case errors.Is(err, errNoSubject):
		return "the token has no subject"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	}
	return "the token cannot be verified"
}

func (g *Guard) accepted() string {
	var ways []string
	if g.basic {
		ways = append(ways, "HTTP Basic credentials")
	}
	if g.issuer != nil || g.ext != nil {
		ways = append(ways, "an OAuth 2.0 Bearer token")
	}
	return "send " + strings.Join(ways, " or ")
}

// unauthorized answers 401 with a challenge for each accepted scheme;
// bearerErr goes into the Bearer one.
func (g *Guard) unauthorized(w http.ResponseWriter, bearerErr, detail string) {
	if g.issuer != nil || g.ext != nil {
		v := "Bearer " + realm
		if bearerErr != "" {
			v += ", " + bearerErr
		}
		w.Header().Add("WWW-Authenticate", v)
	}
	if g.basic {
		w.Header().Add("WWW-Authenticate", basicChallenge)
	}
	problem(w, http.StatusUnauthorized, "Unauthorized", detail)
}

func (g *Guard) tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := strconv.Itoa(retryAfter(wait))
	w.Header().Set("Retry-After", secs)
	problem(w, http.StatusTooManyRequests, "Too Many Requests", "too many failed authentication attempts from this address; retry after "+secs+" s")
}

// problem writes a ProblemDetails (as the API does).
func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(model.ProblemDetails{Status: status, Title: title, Detail: detail})
}

// grantable reports whether an account with scopes have may hold s: * only
// when it has *.
func grantable(have []string, s string) bool {
	return slices.Contains(have, ScopeAll) || slices.Contains(have, s)
}

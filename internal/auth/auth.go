// Package auth authenticates and authorizes API clients (SOL013 §8): HTTP
// Basic against a users file, OAuth 2.0 client credentials with vnfm as its
// own token endpoint (it issues HS256 JWTs), and JWTs from an external
// issuer validated against its JWKS. Every API route needs a scope; a few
// (probes, api_versions, the OpenAPI document, the token endpoint) are open.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Scopes, one read/write pair per interface (SOL013 leaves their names to
// the API producer).
const (
	ScopeLCMRead       = "vnflcm:read"
	ScopeLCMWrite      = "vnflcm:write"
	ScopePkgmRead      = "vnfpkgm:read"
	ScopePkgmWrite     = "vnfpkgm:write"
	ScopeSubscriptions = "subscriptions"
	ScopeVimsRead      = "vims:read"
	ScopeVimsWrite     = "vims:write"
	ScopeMetrics       = "metrics"
	ScopeAll           = "*"
)

var knownScopes = []string{ScopeLCMRead, ScopeLCMWrite, ScopePkgmRead, ScopePkgmWrite, ScopeSubscriptions,
	ScopeVimsRead, ScopeVimsWrite, ScopeMetrics, ScopeAll}

// Authentication methods.
const (
	MethodBasic  = "basic"
	MethodOAuth2 = "oauth2"
	MethodJWT    = "jwt"
	methodNone   = "none"
)

// Options are the --auth-* settings.
type Options struct {
	// UsersFile lists HTTP Basic users (basic).
	UsersFile string
	// ClientsFile lists OAuth 2.0 clients of the token endpoint (oauth2).
	ClientsFile string
	// TokenKeyFile is the HS256 key of issued tokens; empty =
	// DATA_DIR/auth-token.key, generated if missing.
	TokenKeyFile string
	// TokenTTL is the lifetime of issued tokens; 0 = 1 h.
	TokenTTL time.Duration
	// JWKSURL, Issuer and Audience check tokens of an external issuer (jwt).
	JWKSURL  string
	Issuer   string
	Audience string
	// MetricsPublic serves /metrics without credentials.
	MetricsPublic bool
}

// Config configures a Guard.
type Config struct {
	// Modes is "none" or a comma-separated set of basic, oauth2 and jwt;
	// empty = none.
	Modes string
	Options
	DataDir string
	// SelfIssuer is the iss and aud of the tokens vnfm issues (its public
	// URL); empty = "vnfm".
	SelfIssuer string
	Log        *slog.Logger
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// HTTP fetches the JWKS; nil = a client with a 10 s timeout.
	HTTP *http.Client
	// FailBurst wrong credentials are allowed per client IP, then one per
	// FailEvery (0 = 10 and 6 s).
	FailBurst int
	FailEvery time.Duration
}

// Guard checks every request's credentials and scope.
type Guard struct {
	off           bool
	basic         bool
	log           *slog.Logger
	now           func() time.Time
	users         *accounts
	clients       *accounts
	issuer        *issuer // nil unless oauth2
	ext           *external
	metricsPublic bool
	limit         *failLimiter
}

// ParseModes reads a --auth value: "none" alone, or a set of basic, oauth2
// and jwt.
func ParseModes(s string) (map[string]bool, error) {
	modes := map[string]bool{}
	for _, m := range strings.Split(s, ",") {
		m = strings.ToLower(strings.TrimSpace(m))
		switch m {
		case "":
		case methodNone, MethodBasic, MethodOAuth2, MethodJWT:
			modes[m] = true
		default:
			return nil, fmt.Errorf("auth mode %q: want none, or a comma-separated set of basic, oauth2, jwt", m)
		}
	}
	if len(modes) == 0 {
		modes[methodNone] = true
	}
	if modes[methodNone] && len(modes) > 1 {
		return nil, errors.New("auth mode none cannot be combined with others")
	}
	return modes, nil
}

// New builds a Guard; with mode none it lets everything through.
func New(ctx context.Context, cfg Config) (*Guard, error) {
	modes, err := ParseModes(cfg.Modes)
	if err != nil {
		return nil, err
	}
	g := &Guard{log: cfg.Log, now: cfg.Now, metricsPublic: cfg.MetricsPublic}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	// A file or URL for a mode that is off is a configuration mistake:
	// whoever set it expects that mode to be on.
	for _, c := range []struct {
		set  bool
		flag string
		mode string
	}{
		{cfg.UsersFile != "", "--auth-users-file", MethodBasic},
		{cfg.ClientsFile != "", "--auth-clients-file", MethodOAuth2},
		{cfg.TokenKeyFile != "", "--auth-token-key-file", MethodOAuth2},
		{cfg.JWKSURL != "", "--auth-jwks-url", MethodJWT},
		{cfg.Issuer != "", "--auth-issuer", MethodJWT},
		{cfg.Audience != "", "--auth-audience", MethodJWT},
	} {
		if c.set && !modes[c.mode] {
			return nil, fmt.Errorf("%s is set but --auth does not include %s", c.flag, c.mode)
		}
	}
	if modes[methodNone] {
		g.off = true
		return g, nil
	}
	g.limit = newFailLimiter(cfg.FailBurst, cfg.FailEvery)
	if modes[MethodBasic] {
		if cfg.UsersFile == "" {
			return nil, errors.New("auth mode basic needs --auth-users-file")
		}
		if g.users, err = loadAccounts(cfg.UsersFile, kindUser); err != nil {
			return nil, err
		}
		g.basic = true
	}
	if modes[MethodOAuth2] {
		if cfg.ClientsFile == "" {
			return nil, errors.New("auth mode oauth2 needs --auth-clients-file")
		}
		if g.clients, err = loadAccounts(cfg.ClientsFile, kindClient); err != nil {
			return nil, err
		}
		keyFile := cfg.TokenKeyFile
		if keyFile == "" {
			keyFile = filepath.Join(cfg.DataDir, "auth-token.key")
		}
		key, err := loadOrCreateTokenKey(keyFile)
		if err != nil {
			return nil, err
		}
		ttl := cfg.TokenTTL
		if ttl == 0 {
			ttl = time.Hour
		}
		if ttl < time.Minute || ttl > 24*time.Hour {
			return nil, fmt.Errorf("--auth-token-ttl %v: want 1m to 24h", ttl)
		}
		iss := strings.TrimRight(cfg.SelfIssuer, "/")
		if iss == "" {
			iss = "vnfm"
		}
		g.issuer = &issuer{key: key, iss: iss, ttl: ttl}
	}
	if modes[MethodJWT] {
		if g.ext, err = newExternal(ctx, cfg, g.now, g.log); err != nil {
			return nil, err
		}
	}
	g.log.Info("client authentication", "modes", slices.Sorted(maps.Keys(modes)), "metrics_public", g.metricsPublic)
	return g, nil
}

// Principal is an authenticated client.
type Principal struct {
	Name   string // user name, client id or token subject
	Method string // MethodBasic, MethodOAuth2 or MethodJWT
	Scopes []string
}

// Allows reports whether the principal holds scope (or *).
func (p *Principal) Allows(scope string) bool {
	return slices.Contains(p.Scopes, ScopeAll) || slices.Contains(p.Scopes, scope)
}

type ctxKey int

const (
	principalKey ctxKey = iota
	slotKey
)

// FromContext is the request's principal, nil when none authenticated.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey).(*Principal)
	return p
}

// WithLogSlot prepares ctx to carry the principal back up to an access
// log middleware that runs before the Guard; LoggedPrincipal reads it after
// the request.
func WithLogSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, slotKey, new(atomic.Pointer[string]))
}

// LoggedPrincipal is the principal's name (never a credential) recorded in
// ctx's slot, "" when nobody authenticated.
func LoggedPrincipal(ctx context.Context) string {
	if s, ok := ctx.Value(slotKey).(*atomic.Pointer[string]); ok {
		if p := s.Load(); p != nil {
			return *p
		}
	}
	return ""
}

func record(ctx context.Context, name string) {
	if s, ok := ctx.Value(slotKey).(*atomic.Pointer[string]); ok {
		s.Store(&name)
	}
}

package callauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
)

const (
	// defaultLifetime applies when the token answer has no expires_in; the
	// 401 refresh in Client.Do covers a server that expires it sooner.
	defaultLifetime = 5 * time.Minute
	// maxEarly bounds how long before expiry a token is renewed, so that a
	// request in flight does not carry a token that expires on the way.
	maxEarly = 30 * time.Second
	// fetchTimeout bounds a token fetch, which runs detached from the
	// caller's context because other callers may be waiting on it.
	fetchTimeout = 30 * time.Second
	// maxTokenBody bounds what is read from a token endpoint.
	maxTokenBody = 1 << 20
)

// Tokens caches OAuth 2.0 client-credentials tokens per (tokenEndpoint,
// clientId, hash of secret). It is safe for concurrent use and meant to be
// shared by many Clients.
type Tokens struct {
	hc  *http.Client
	now func() time.Time

	mu      sync.Mutex
	entries map[tokenKey]*tokenEntry
}

// tokenKey holds a hash, not the secret, so that a changed secret gets its
// own token and the map never holds secrets.
type tokenKey struct {
	endpoint string
	clientID string
	secret   [sha256.Size]byte
}

type tokenEntry struct {
	token     string
	refreshAt time.Time  // the token is used until then
	inflight  *fetchCall // non-nil while a fetch runs for this key
}

// fetchCall is one token fetch that concurrent callers share.
type fetchCall struct {
	done  chan struct{}
	token string
	err   error
}

// NewTokens returns an empty cache. hc fetches the tokens (nil: a client
// with a 30 s timeout); now is the clock (nil: time.Now).
func NewTokens(hc *http.Client, now func() time.Time) *Tokens {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{hc: hc, now: now, entries: map[tokenKey]*tokenEntry{}}
}

func keyOf(p *model.OAuth2ClientCredentials) tokenKey {
	return tokenKey{endpoint: p.TokenEndpoint, clientID: p.ClientID, secret: sha256.Sum256([]byte(p.ClientPassword))}
}

// token returns a valid token for key, fetching one if needed. Concurrent
// callers for the same key share one fetch.
func (t *Tokens) token(ctx context.Context, key tokenKey, p model.OAuth2ClientCredentials) (string, error) {
	t.mu.Lock()
	e := t.entries[key]
	if e == nil {
		e = &tokenEntry{}
		t.entries[key] = e
	}
	if e.token != "" && t.now().Before(e.refreshAt) {
		tok := e.token
		t.mu.Unlock()
		return tok, nil
	}
	call := e.inflight
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		e.inflight = call
		go t.run(context.WithoutCancel(ctx), key, e, call, p)
	}
	t.mu.Unlock()

	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for an oauth2 token from %s: %w", redact(p.TokenEndpoint), ctx.Err())
	}
}

func (t *Tokens) run(ctx context.Context, key tokenKey, e *tokenEntry, call *fetchCall, p model.OAuth2ClientCredentials) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	tok, refreshAt, err := t.fetch(ctx, &p)

	t.mu.Lock()
	e.inflight = nil
	if err == nil {
		e.token, e.refreshAt = tok, refreshAt
	} else {
		e.token = ""
	}
	t.prune()
	t.mu.Unlock()

	call.token, call.err = tok, err
	close(call.done)
}

// prune drops idle expired entries so that the cache does not grow with
// every credential ever used. Callers hold t.mu.
func (t *Tokens) prune() {
	now := t.now()
	for k, e := range t.entries {
		if e.inflight == nil && !now.Before(e.refreshAt) {
			delete(t.entries, k)
		}
	}
}

// invalidate drops tok if it is still the cached token for key; a token
// fetched meanwhile by another caller stays.
func (t *Tokens) invalidate(key tokenKey, tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[key]; e != nil && e.token == tok {
		e.token = ""
	}
}

// TokenError is a token endpoint's refusal (a non-2xx answer) or an
// unusable 2xx answer. It holds no secrets.
type TokenError struct {
	Endpoint string // without user info, query or fragment
	Status   int    // the HTTP status of the answer
	Code     string // the OAuth error code of a refusal, if any
	Reason   string // what is wrong with a 2xx answer
}

func (e *TokenError) Error() string {
	msg := fmt.Sprintf("oauth2 token endpoint %s answered %d %s", e.Endpoint, e.Status, http.StatusText(e.Status))
	switch {
	case e.Reason != "":
		msg = fmt.Sprintf("oauth2 token endpoint %s: %s", e.Endpoint, e.Reason)
	case e.Code != "":
		msg += " (" + e.Code + ")"
	}
	return msg
}

type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Error       string          `json:"error"`
}

// fetch runs the client-credentials grant (RFC 6749 §4.4) and returns the
// token and when to stop using it.
func (t *Tokens) fetch(ctx context.Context, p *model.OAuth2ClientCredentials) (string, time.Time, error) {
	ep := redact(p.TokenEndpoint)
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth2 token endpoint %s: %w", ep, unwrapURL(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: form-encode id and secret before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientPassword))

	sent := t.now()
	resp, err := t.hc.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth2 token endpoint %s: %w", ep, unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth2 token endpoint %s: reading the answer: %w", ep, err)
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(body, &a)
	te := &TokenError{Endpoint: ep, Status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if jsonErr == nil {
			te.Code = safeCode(a.Error, p.ClientPassword)
		}
		return "", time.Time{}, te
	}
	switch {
	case jsonErr != nil:
		te.Reason = "the answer is not a JSON token response"
	case a.AccessToken == "":
		te.Reason = "the answer has no access_token"
	case !strings.EqualFold(a.TokenType, "bearer"):
		te.Reason = fmt.Sprintf("token_type %q is not bearer", clip(a.TokenType))
	}
	if te.Reason != "" {
		return "", time.Time{}, te
	}
	life, err := lifetime(a.ExpiresIn)
	if err != nil {
		te.Reason = err.Error()
		return "", time.Time{}, te
	}
	early := min(maxEarly, life/10)
	return a.AccessToken, sent.Add(life - early), nil
}

// lifetime parses expires_in, which some servers send as a string.
func lifetime(raw json.RawMessage) (time.Duration, error) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return defaultLifetime, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("expires_in is not a number")
	}
	if n <= 0 {
		return 0, nil // use once, do not cache
	}
	return time.Duration(n * float64(time.Second)), nil
}

// safeCode returns an OAuth error code fit for an error message: RFC 6749
// limits it to printable ASCII without '"' and '\'; anything else, or a
// code that echoes the secret, is dropped.
func safeCode(code, secret string) string {
	if code == "" || len(code) > 64 || (secret != "" && strings.Contains(code, secret)) {
		return ""
	}
	for _, r := range code {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return ""
		}
	}
	return code
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// redact shows an endpoint without user info, query or fragment, which
// may carry credentials.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// unwrapURL drops a *url.Error's copy of the URL (which still has the
// query) in favour of the redacted one the caller adds.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

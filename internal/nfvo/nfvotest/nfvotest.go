// Package nfvotest is a fake NFVO for tests: a real HTTP server speaking
// the SOL003 Grant API, with switchable behaviour.
package nfvotest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/model"
)

// GrantsPath is where the fake serves the Grants resource.
const GrantsPath = "/grant/v1/grants"

// TokenPath is where the fake serves its OAuth 2.0 token endpoint.
const TokenPath = "/token"

// Option configures New.
type Option func(*NFVO)

// WithTokenTTL sets how long issued OAuth 2.0 tokens are accepted
// (default 1 h). expires_in is announced in whole seconds.
func WithTokenTTL(d time.Duration) Option { return func(n *NFVO) { n.tokenTTL = d } }

// NFVO is the fake. By default it grants synchronously, with no
// authentication. Its methods are safe for concurrent use.
type NFVO struct {
	srv *httptest.Server

	mu         sync.Mutex
	requests   []model.GrantRequest
	reject     bool
	detail     string
	async      bool
	polls      int
	retryAfter int // seconds; < 0 = no header
	template   func(*model.GrantRequest) *model.Grant
	failStatus int
	failN      int
	calls      int
	grants     map[string]*grantState

	basicUser, basicPass string
	clientID, secret     string
	tokenTTL             time.Duration
	tokens               map[string]time.Time // token → expiry
	tokenRequests        int
}

type grantState struct {
	grant    *model.Grant // nil when rejected
	detail   string       // rejection detail
	pending  int          // 202 answers left
	rejected bool
}

// New starts a fake NFVO, closed when the test ends.
func New(t testing.TB, opts ...Option) *NFVO {
	t.Helper()
	n := &NFVO{
		retryAfter: -1,
		tokenTTL:   time.Hour,
		grants:     map[string]*grantState{},
		tokens:     map[string]time.Time{},
	}
	for _, o := range opts {
		o(n)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, n.serveToken)
	mux.HandleFunc("POST "+GrantsPath, n.servePost)
	mux.HandleFunc("GET "+GrantsPath+"/{id}", n.serveGet)
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

// URL is the API root, to use as nfvo.Config.BaseURL.
func (n *NFVO) URL() string { return n.srv.URL }

// Requests returns the grant requests received so far.
func (n *NFVO) Requests() []model.GrantRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]model.GrantRequest(nil), n.requests...)
}

// Calls counts answered Grant API calls (POSTs and polls, not tokens).
func (n *NFVO) Calls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls
}

// TokenRequests counts calls of the token endpoint.
func (n *NFVO) TokenRequests() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tokenRequests
}

// Grant makes later requests granted (the default): every add, temp,
// remove and update resource gets a GrantInfo with its resourceDefinitionId.
func (n *NFVO) Grant() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reject, n.detail = false, ""
}

// Reject makes later requests rejected with 403 and detail; asynchronous
// requests are rejected when their polls are over.
func (n *NFVO) Reject(detail string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reject, n.detail = true, detail
}

// Async makes later requests asynchronous: 202 + Location, and the
// individual grant answers 202 polls times before the decision.
func (n *NFVO) Async(polls int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.async, n.polls = true, max(0, polls)
}

// Sync makes later requests synchronous again (the default).
func (n *NFVO) Sync() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.async, n.polls = false, 0
}

// SetRetryAfter adds "Retry-After: seconds" to 202 and Fail answers;
// a negative value removes it (the default).
func (n *NFVO) SetRetryAfter(seconds int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.retryAfter = seconds
}

// SetGrantTemplate sets f to build granted Grants, e.g. with zones,
// vimAssets or vimConnections. The fake fills what f leaves empty: id,
// vnfInstanceId, vnfLcmOpOccId, the resource lists and _links. nil resets.
func (n *NFVO) SetGrantTemplate(f func(req *model.GrantRequest) *model.Grant) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.template = f
}

// RequireOAuth2 makes Grant API calls require a Bearer token from the
// fake's token endpoint (URL()+"/token"), which authenticates clientID and
// secret with HTTP Basic.
func (n *NFVO) RequireOAuth2(clientID, secret string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.clientID, n.secret = clientID, secret
}

// RequireBasic makes Grant API calls require HTTP Basic user and pass.
// With RequireOAuth2 as well, either is accepted.
func (n *NFVO) RequireBasic(user, pass string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.basicUser, n.basicPass = user, pass
}

// SetTokenTTL changes the lifetime of tokens issued from now on.
func (n *NFVO) SetTokenTTL(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tokenTTL = d
}

// RevokeTokens makes every issued token invalid.
func (n *NFVO) RevokeTokens() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.tokens)
}

// Fail makes the next count Grant API calls (POSTs or polls) answer status
// with a ProblemDetails body.
func (n *NFVO) Fail(status, count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failStatus, n.failN = status, count
}

// Auth returns the authentication the fake requires, for
// nfvo.Config.Auth; nil when it requires none.
func (n *NFVO) Auth() *model.SubscriptionAuthentication {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := &model.SubscriptionAuthentication{}
	if n.clientID != "" {
		a.AuthType = append(a.AuthType, model.AuthOAuth2)
		a.ParamsOauth2ClientCredentials = &model.OAuth2ClientCredentials{
			ClientID: n.clientID, ClientPassword: n.secret, TokenEndpoint: n.srv.URL + TokenPath,
		}
	}
	if n.basicUser != "" {
		a.AuthType = append(a.AuthType, model.AuthBasic)
		a.ParamsBasic = &model.BasicAuthParams{UserName: n.basicUser, Password: n.basicPass}
	}
	if len(a.AuthType) == 0 {
		return nil
	}
	return a
}

func (n *NFVO) serveToken(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tokenRequests++
	if n.clientID == "" {
		http.NotFound(w, r)
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: both are form-encoded inside Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || id != n.clientID || secret != n.secret {
		w.Header().Set("WWW-Authenticate", `Basic realm="nfvotest"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	tok := rand.Text()
	n.tokens[tok] = time.Now().Add(n.tokenTTL)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(n.tokenTTL / time.Second),
	})
}

// admit runs the checks common to Grant API calls and reports whether the
// call may proceed. Callers hold n.mu.
func (n *NFVO) admit(w http.ResponseWriter, r *http.Request) bool {
	n.calls++
	if n.failN > 0 {
		n.failN--
		n.setRetryAfter(w)
		problem(w, n.failStatus, "injected failure")
		return false
	}
	if !n.authorized(r) {
		if n.clientID != "" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="nfvotest"`)
		}
		problem(w, http.StatusUnauthorized, "missing or invalid credentials")
		return false
	}
	if r.Header.Get("Version") == "" {
		problem(w, http.StatusBadRequest, "the Version header is missing")
		return false
	}
	return true
}

func (n *NFVO) authorized(r *http.Request) bool {
	if n.clientID == "" && n.basicUser == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok && n.clientID != "" {
		exp, ok := n.tokens[tok]
		return ok && time.Now().Before(exp)
	}
	if u, p, ok := r.BasicAuth(); ok && n.basicUser != "" {
		return u == n.basicUser && p == n.basicPass
	}
	return false
}

func (n *NFVO) servePost(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.admit(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		problem(w, http.StatusUnsupportedMediaType, "the request body must be application/json")
		return
	}
	var req model.GrantRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		problem(w, http.StatusBadRequest, "the request body is not a GrantRequest: "+err.Error())
		return
	}
	if err := checkRequest(&req); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	n.requests = append(n.requests, req)

	st := &grantState{rejected: n.reject, detail: n.detail}
	if !n.reject {
		st.grant = n.build(&req)
	}
	if !n.async {
		if st.rejected {
			problem(w, http.StatusForbidden, st.detail)
			return
		}
		n.grants[st.grant.ID] = st
		w.Header().Set("Location", st.grant.Links.Self.Href)
		writeJSON(w, http.StatusCreated, st.grant)
		return
	}
	id := uuid.NewString()
	if st.grant != nil {
		id = st.grant.ID
	}
	st.pending = n.polls
	n.grants[id] = st
	w.Header().Set("Location", n.srv.URL+GrantsPath+"/"+id)
	n.setRetryAfter(w)
	w.WriteHeader(http.StatusAccepted)
}

func (n *NFVO) serveGet(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.admit(w, r) {
		return
	}
	st, ok := n.grants[r.PathValue("id")]
	switch {
	case !ok:
		problem(w, http.StatusNotFound, "no such grant")
	case st.pending > 0:
		st.pending--
		n.setRetryAfter(w)
		w.WriteHeader(http.StatusAccepted)
	case st.rejected:
		problem(w, http.StatusForbidden, st.detail)
	default:
		writeJSON(w, http.StatusOK, st.grant)
	}
}

func (n *NFVO) setRetryAfter(w http.ResponseWriter) {
	if n.retryAfter >= 0 {
		w.Header().Set("Retry-After", strconv.Itoa(n.retryAfter))
	}
}

// build makes the Grant for req. Callers hold n.mu.
func (n *NFVO) build(req *model.GrantRequest) *model.Grant {
	g := &model.Grant{}
	if n.template != nil {
		if t := n.template(req); t != nil {
			g = t
		}
	}
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	if g.VnfInstanceID == "" {
		g.VnfInstanceID = req.VnfInstanceID
	}
	if g.VnfLcmOpOccID == "" {
		g.VnfLcmOpOccID = req.VnfLcmOpOccID
	}
	fill := func(dst *[]model.GrantInfo, src []model.ResourceDefinition) {
		if *dst != nil {
			return
		}
		for _, d := range src {
			*dst = append(*dst, model.GrantInfo{ResourceDefinitionID: d.ID})
		}
	}
	fill(&g.AddResources, req.AddResources)
	fill(&g.TempResources, req.TempResources)
	fill(&g.RemoveResources, req.RemoveResources)
	fill(&g.UpdateResources, req.UpdateResources)
	if g.Links.Self.Href == "" {
		g.Links.Self.Href = n.srv.URL + GrantsPath + "/" + g.ID
	}
	if g.Links.VnfLcmOpOcc.Href == "" {
		g.Links.VnfLcmOpOcc = req.Links.VnfLcmOpOcc
	}
	if g.Links.VnfInstance.Href == "" {
		g.Links.VnfInstance = req.Links.VnfInstance
	}
	return g
}

// checkRequest checks the attributes SOL003 makes mandatory.
func checkRequest(r *model.GrantRequest) error {
	var missing []string
	for name, v := range map[string]string{
		"vnfInstanceId":      r.VnfInstanceID,
		"vnfLcmOpOccId":      r.VnfLcmOpOccID,
		"vnfdId":             r.VnfdID,
		"operation":          string(r.Operation),
		"_links.vnfLcmOpOcc": r.Links.VnfLcmOpOcc.Href,
		"_links.vnfInstance": r.Links.VnfInstance.Href,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	for i, d := range slices.Concat(r.AddResources, r.TempResources, r.RemoveResources, r.UpdateResources) {
		if d.ID == "" || d.Type == "" {
			missing = append(missing, fmt.Sprintf("resource definition %d: id and type", i))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing) // map order is random
		return errors.New("missing " + strings.Join(missing, ", "))
	}
	return nil
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(model.ProblemDetails{Status: status, Title: http.StatusText(status), Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

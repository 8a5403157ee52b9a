package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/notify"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/test/scripted"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// Secrets of this file, checked like the harness's testSecrets.
const (
	callbackPassword = "s3cret-callback-password"
	oauthSecret      = "s3cret-oauth-client-secret"
	wrongSecret      = "s3cret-wrong-password"
)

func init() { testsecrets.Register(callbackPassword, oauthSecret, wrongSecret) }

// notifyEnv is an env whose notifications can be followed: its public URL
// is a proxy in front of the API (the in-process server has no listen
// address of its own to put into _links).
type notifyEnv struct {
	*env
	pub string
}

// fastNotify makes delivery poll and retry quickly.
func fastNotify(c *server.Config) {
	c.Notify = notify.DeliveryConfig{
		Poll: 50 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Timeout: 3 * time.Second,
	}
}

func newNotifyEnv(t testing.TB, st store.Store, pageSize int, opts ...func(*server.Config)) *notifyEnv {
	t.Helper()
	var target atomic.Pointer[url.URL]
	front := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target.Load()) }})
	t.Cleanup(front.Close)
	all := append([]func(*server.Config){fastNotify, func(c *server.Config) { c.PublicURL = front.URL }}, opts...)
	e := newEnv(t, st, pageSize, all...)
	u, err := url.Parse(e.url)
	require.NoError(t, err)
	target.Store(u)
	return &notifyEnv{env: e, pub: front.URL}
}

// forEachNotifyStore runs fn as a parallel subtest per backend.
func forEachNotifyStore(t *testing.T, pageSize int, fn func(t *testing.T, e *notifyEnv), opts ...func(*server.Config)) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newNotifyEnv(t, open(t), pageSize, opts...))
		})
	}
}

// raw sends a request without following redirects.
func (e *env) raw(method, target string, body string) *resp {
	e.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = e.url + target
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(e.t, err)
	req.Header.Set("Version", "1.3.0")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, res.Header.Get("Version"), "every response carries a Version header")
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// subscribe creates a subscription and returns its id.
func (e *env) subscribe(req map[string]any) string {
	e.t.Helper()
	r := e.do("POST", "/vnflcm/v1/subscriptions", req)
	require.Equal(e.t, 201, r.status, "%s", r.body)
	sub := checkSubscription(e.t, r.body)
	require.Equal(e.t, sub["_links"].(map[string]any)["self"].(map[string]any)["href"], r.header.Get("Location"))
	return sub["id"].(string)
}

// checkSubscription validates an LccnSubscription body and returns it.
func checkSubscription(t testing.TB, body []byte) map[string]any {
	t.Helper()
	validate(t, "LccnSubscription", body)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	require.NotContains(t, m, "authentication", "authentication is write-only")
	require.NotContains(t, string(body), "paramsBasic")
	require.NotContains(t, string(body), "paramsOauth2ClientCredentials")
	return m
}

// assertAbsent checks that none of secrets was in a response body or log.
func assertAbsent(t testing.TB, e *env, secrets ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	logs := e.logBuf.String()
	for _, s := range secrets {
		for _, b := range e.bodies {
			require.NotContains(t, string(b), s, "secret in a response body")
		}
		require.NotContains(t, logs, s, "secret in the log")
	}
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- a recording subscriber ---

type received struct {
	body   []byte
	header http.Header
}

// subscriber is a notification endpoint on loopback: GET answers 204 (the
// callback check), POST records the body. It can be told to fail, be slow,
// or require credentials.
type subscriber struct {
	t    testing.TB
	addr string

	mu         sync.Mutex
	srv        *httptest.Server
	posts      []received // accepted POSTs in arrival order
	attempts   int        // every POST, accepted or not
	gets       []http.Header
	getStatus  int                        // GET answer; 0 = 204
	postStatus func(n int) int            // answer to the n-th POST (from 1); nil = 204
	delay      func(n int) time.Duration  // before answering the n-th POST
	check      func(r *http.Request) bool // credentials; false = 401
	onPost     func(n int, body []byte)   // told of each accepted POST
}

func newSubscriber(t testing.TB) *subscriber {
	t.Helper()
	s := &subscriber{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.addr = s.srv.Listener.Addr().String()
	t.Cleanup(s.close)
	return s
}

func (s *subscriber) url() string { return "http://" + s.addr + "/notify" }

func (s *subscriber) set(f func(s *subscriber)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	if s.check != nil && !s.check(r) {
		s.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.gets = append(s.gets, r.Header.Clone())
		status := cmp.Or(s.getStatus, http.StatusNoContent)
		s.mu.Unlock()
		w.WriteHeader(status)
	case http.MethodPost:
		s.attempts++
		n := s.attempts
		status := http.StatusNoContent
		if s.postStatus != nil {
			status = s.postStatus(n)
		}
		var d time.Duration
		if s.delay != nil {
			d = s.delay(n)
		}
		if status/100 == 2 {
			s.posts = append(s.posts, received{body: body, header: r.Header.Clone()})
			if s.onPost != nil {
				s.onPost(n, body)
			}
		}
		s.mu.Unlock()
		if d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
	default:
		s.mu.Unlock()
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// close stops the subscriber (its port is then refused).
func (s *subscriber) close() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	srv.CloseClientConnections()
	srv.Close()
}

// restart brings the subscriber up again on the same address.
func (s *subscriber) restart() {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(s.t, err, "listen again on %s", s.addr)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	s.set(func(s *subscriber) { s.srv = srv })
}

// notif is a received notification.
type notif struct {
	ID                 string            `json:"id"`
	NotificationType   string            `json:"notificationType"`
	SubscriptionID     string            `json:"subscriptionId"`
	TimeStamp          string            `json:"timeStamp"`
	NotificationStatus string            `json:"notificationStatus"`
	OperationState     string            `json:"operationState"`
	Operation          string            `json:"operation"`
	VnfInstanceID      string            `json:"vnfInstanceId"`
	VnfLcmOpOccID      string            `json:"vnfLcmOpOccId"`
	AffectedVnfcs      []json.RawMessage `json:"affectedVnfcs"`
	Error              *struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	} `json:"error"`
	Links map[string]struct {
		Href string `json:"href"`
	} `json:"_links"`
	raw    []byte
	header http.Header
}

const opOccNotif = "VnfLcmOperationOccurrenceNotification"

// label is what the order checks compare.
func (n *notif) label() string {
	if n.NotificationType == opOccNotif {
		return n.VnfLcmOpOccID + " " + n.Operation + " " + n.NotificationStatus + " " + n.OperationState
	}
	return n.NotificationType + " " + n.VnfInstanceID
}

// unique returns the accepted notifications in order, without repeats of
// one already received (delivery is at least once), and how many repeats
// there were. A repeat must be identical to the first copy.
func (s *subscriber) unique(t testing.TB) ([]*notif, int) {
	t.Helper()
	s.mu.Lock()
	posts := append([]received(nil), s.posts...)
	s.mu.Unlock()
	seen := map[string][]byte{}
	var out []*notif
	dups := 0
	for _, p := range posts {
		n := &notif{raw: p.body, header: p.header}
		require.NoError(t, json.Unmarshal(p.body, n), "%s", p.body)
		if prev, ok := seen[n.ID]; ok {
			require.JSONEq(t, string(prev), string(p.body), "a repeated notification is the same")
			dups++
			continue
		}
		seen[n.ID] = p.body
		out = append(out, n)
	}
	return out, dups
}

// waitUnique waits until n distinct notifications arrived, then a little
// longer to catch extra ones, and returns them.
func (s *subscriber) waitUnique(t testing.TB, n int, timeout time.Duration) []*notif {
	t.Helper()
	waitUntil(t, timeout, fmt.Sprintf("%d notifications at %s", n, s.addr), func() bool {
		got, _ := s.unique(t)
		return len(got) >= n
	})
	time.Sleep(150 * time.Millisecond)
	got, _ := s.unique(t)
	return got
}

func labels(ns []*notif) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.label()
	}
	return out
}

func created(id string) string { return "VnfIdentifierCreationNotification " + id }
func deleted(id string) string { return "VnfIdentifierDeletionNotification " + id }

// opStates is the expected notifications of an op occ going through states.
func opStates(opID, operation string, states ...string) []string {
	var out []string
	for _, s := range states {
		status := "RESULT"
		if s == "STARTING" {
			status = "START"
		}
		out = append(out, opID+" "+operation+" "+status+" "+s)
	}
	return out
}

// checkNotifications validates every body against its ETSI schema and
// checks the headers, the subscription id and the _links.
func (e *notifyEnv) checkNotifications(t testing.TB, ns []*notif, subID string) {
	t.Helper()
	for _, n := range ns {
		validate(t, n.NotificationType, n.raw)
		require.Equal(t, "application/json", n.header.Get("Content-Type"))
		require.Equal(t, "1.3.0", n.header.Get("Version"))
		require.Equal(t, subID, n.SubscriptionID)
		require.NotEmpty(t, n.TimeStamp)
		require.Equal(t, e.pub+"/vnflcm/v1/subscriptions/"+subID, n.Links["subscription"].Href)
		require.Equal(t, e.pub+"/vnflcm/v1/vnf_instances/"+n.VnfInstanceID, n.Links["vnfInstance"].Href)
		if n.NotificationType != opOccNotif {
			require.NotContains(t, n.Links, "vnfLcmOpOcc")
			continue
		}
		require.Equal(t, e.pub+"/vnflcm/v1/vnf_lcm_op_occs/"+n.VnfLcmOpOccID, n.Links["vnfLcmOpOcc"].Href)
		switch n.OperationState {
		case "STARTING":
			require.Equal(t, "START", n.NotificationStatus)
			require.Empty(t, n.AffectedVnfcs, "a START notification has no changes")
			require.Nil(t, n.Error)
		case "FAILED_TEMP", "FAILED":
			require.NotNil(t, n.Error, "%s carries the error: %s", n.OperationState, n.raw)
			require.NotEmpty(t, n.Error.Detail)
		case "PROCESSING", "COMPLETED", "ROLLING_BACK":
			require.Nil(t, n.Error, "%s", n.raw)
		}
		if n.OperationState != "STARTING" {
			require.Equal(t, "RESULT", n.NotificationStatus)
		}
	}
}

// listAll follows the Link rel="next" pages of a subscriptions list; each
// page has at most pageSize items, each a valid LccnSubscription.
func (e *notifyEnv) listAll(t testing.TB, path string, pageSize int) ([]map[string]any, int) {
	t.Helper()
	var out []map[string]any
	pages := 0
	for path != "" {
		r := e.do("GET", path, nil)
		require.Equal(t, 200, r.status, "%s", r.body)
		items := r.list(t)
		require.LessOrEqual(t, len(items), pageSize)
		for _, it := range items {
			raw, err := json.Marshal(it)
			require.NoError(t, err)
			checkSubscription(t, raw)
		}
		out = append(out, items...)
		pages++
		path = ""
		if l := r.header.Get("Link"); l != "" {
			require.Regexp(t, `^<`+regexp.QuoteMeta(e.pub)+`/vnflcm/v1/subscriptions\?[^>]*nextpage_opaque_marker=[^>]+>; rel="next"$`, l)
			path = l[1:strings.Index(l, ">")]
		}
	}
	return out, pages
}

// TestSubscriptionAPI covers the subscriptions resource: create, the
// callback check, validation, duplicates, list with filter and paging,
// read, delete, and methods that do not exist.
func TestSubscriptionAPI(t *testing.T) {
	t.Parallel()
	forEachNotifyStore(t, 2, func(t *testing.T, e *notifyEnv) {
		sub := newSubscriber(t)
		sub.set(func(s *subscriber) {
			// BASIC credentials are required by this endpoint, on the
			// check GET as on notifications.
			s.check = func(r *http.Request) bool {
				u, p, ok := r.BasicAuth()
				return !ok || (u == "vnfm" && p == callbackPassword)
			}
		})

		// Create: 201, Location, a valid LccnSubscription without the
		// credentials; the callback was checked with a GET.
		basic := map[string]any{"authType": []string{"BASIC"}, "paramsBasic": map[string]any{"userName": "vnfm", "password": callbackPassword}}
		r := e.do("POST", "/vnflcm/v1/subscriptions", map[string]any{
			"callbackUri": sub.url(), "authentication": basic,
			"filter": map[string]any{"notificationTypes": []string{opOccNotif}, "operationTypes": []string{"INSTANTIATE", "SCALE"}},
		})
		require.Equal(t, 201, r.status, "%s", r.body)
		first := checkSubscription(t, r.body)
		firstID := first["id"].(string)
		self := first["_links"].(map[string]any)["self"].(map[string]any)["href"].(string)
		require.Equal(t, e.pub+"/vnflcm/v1/subscriptions/"+firstID, self)
		require.Equal(t, self, r.header.Get("Location"))
		require.Equal(t, sub.url(), first["callbackUri"])
		require.Equal(t, []any{"INSTANTIATE", "SCALE"}, first["filter"].(map[string]any)["operationTypes"])
		sub.mu.Lock()
		require.Len(t, sub.gets, 1, "the callback is checked once")
		require.Equal(t, "1.3.0", sub.gets[0].Get("Version"))
		require.True(t, strings.HasPrefix(sub.gets[0].Get("Authorization"), "Basic "), "the check GET carries the credentials")
		sub.mu.Unlock()
		stored, err := e.st.GetSubscription(context.Background(), firstID)
		require.NoError(t, err)
		require.NotEmpty(t, stored.Sealed)
		require.NotContains(t, string(stored.Sealed), callbackPassword, "sealed at rest")

		// The callback check: only 204 passes.
		bad := newSubscriber(t)
		for _, status := range []int{200, 401, 404, 500} {
			bad.set(func(s *subscriber) { s.getStatus = status })
			r = e.do("POST", "/vnflcm/v1/subscriptions", map[string]any{"callbackUri": bad.url()})
			require.Equal(t, 422, r.status, "GET answered %d: %s", status, r.body)
			require.Contains(t, string(r.body), strconv.Itoa(status))
			require.Contains(t, string(r.body), "204")
		}
		down := newSubscriber(t)
		down.close()
		r = e.do("POST", "/vnflcm/v1/subscriptions", map[string]any{"callbackUri": down.url()})
		require.Equal(t, 422, r.status, "%s", r.body)
		// Wrong credentials: the endpoint refuses the check.
		r = e.do("POST", "/vnflcm/v1/subscriptions", map[string]any{"callbackUri": sub.url() + "/wrong",
			"authentication": map[string]any{"authType": []string{"BASIC"}, "paramsBasic": map[string]any{"userName": "vnfm", "password": wrongSecret}}})
		require.Equal(t, 422, r.status, "%s", r.body)
		require.Contains(t, string(r.body), "401")

		// Invalid requests: 400 (or 415), and the callback is not called.
		sub.mu.Lock()
		gets := len(sub.gets)
		sub.mu.Unlock()
		for name, body := range map[string]string{
			"empty":                   `{}`,
			"malformed":               `{"callbackUri":`,
			"not an object":           `[]`,
			"callback not a string":   `{"callbackUri": 42}`,
			"callback relative":       `{"callbackUri": "/notify"}`,
			"callback not http":       `{"callbackUri": "ftp://127.0.0.1/x"}`,
			"callback no host":        `{"callbackUri": "http:///x"}`,
			"filter not an object":    `{"callbackUri": "` + sub.url() + `", "filter": "all"}`,
			"unknown type":            `{"callbackUri": "` + sub.url() + `", "filter": {"notificationTypes": ["VnfPackageChangeNotification"]}}`,
			"unknown operation":       `{"callbackUri": "` + sub.url() + `", "filter": {"operationTypes": ["EXPLODE"]}}`,
			"unknown state":           `{"callbackUri": "` + sub.url() + `", "filter": {"operationStates": ["DONE"]}}`,
			"provider without name":   `{"callbackUri": "` + sub.url() + `", "filter": {"vnfInstanceSubscriptionFilter": {"vnfProductsFromProviders": [{"vnfProducts": []}]}}}`,
			"no authType":             `{"callbackUri": "` + sub.url() + `", "authentication": {}}`,
			"unknown authType":        `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": ["KERBEROS"]}}`,
			"TLS_CERT":                `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": ["TLS_CERT"]}}`,
			"BASIC without params":    `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": ["BASIC"]}}`,
			"BASIC colon user":        `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": ["BASIC"], "paramsBasic": {"userName": "a:b", "password": "` + wrongSecret + `"}}}`,
			"OAUTH2 without params":   `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": ["OAUTH2_CLIENT_CREDENTIALS"]}}`,
			"OAUTH2 bad endpoint":     `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": ["OAUTH2_CLIENT_CREDENTIALS"], "paramsOauth2ClientCredentials": {"clientId": "c", "clientPassword": "` + wrongSecret + `", "tokenEndpoint": "token"}}}`,
			"authType not an array":   `{"callbackUri": "` + sub.url() + `", "authentication": {"authType": "BASIC", "paramsBasic": {"userName": "u", "password": "p"}}}`,
			"operationTypes a string": `{"callbackUri": "` + sub.url() + `", "filter": {"operationTypes": "INSTANTIATE"}}`,
		} {
			r := e.do("POST", "/vnflcm/v1/subscriptions", body)
			require.Equal(t, 400, r.status, "%s: %s", name, r.body)
		}
		r = e.do("POST", "/vnflcm/v1/subscriptions", `{"callbackUri": "`+sub.url()+`"}`, "Content-Type", "text/plain")
		require.Equal(t, 415, r.status, "%s", r.body)
		sub.mu.Lock()
		require.Len(t, sub.gets, gets, "invalid requests do not reach the callback")
		sub.mu.Unlock()

		// A duplicate (same callback and filter, arrays in another order,
		// other credentials) is 303 See Other to the first, with no body.
		dup := `{"callbackUri": "` + sub.url() + `", "filter": {"operationTypes": ["SCALE", "INSTANTIATE"], "notificationTypes": ["` + opOccNotif + `"]}}`
		r = e.raw("POST", "/vnflcm/v1/subscriptions", dup)
		require.Equal(t, 303, r.status, "%s", r.body)
		require.Equal(t, self, r.header.Get("Location"))
		require.Empty(t, r.body)
		// A client that follows the redirect reads the first one.
		r = e.do("POST", "/vnflcm/v1/subscriptions", dup)
		require.Equal(t, 200, r.status, "%s", r.body)
		require.Equal(t, firstID, checkSubscription(t, r.body)["id"])
		// The Tacker CLI may POST again to the Location: 405, not a crash.
		for _, m := range []string{"POST", "PUT", "PATCH"} {
			r = e.do(m, self, `{"callbackUri": "`+sub.url()+`"}`)
			require.Equal(t, 405, r.status, "%s %s", m, r.body)
		}
		// Another filter, or another callback, is a new subscription.
		otherFilter := e.subscribe(map[string]any{"callbackUri": sub.url(), "filter": map[string]any{"operationTypes": []string{"INSTANTIATE"}}})
		noFilter := e.subscribe(map[string]any{"callbackUri": sub.url()})
		require.NotEqual(t, otherFilter, noFilter)

		// Individual subscription: GET, then DELETE 204 and 404 after.
		r = e.do("GET", "/vnflcm/v1/subscriptions/"+firstID, nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, first, checkSubscription(t, r.body))
		for _, id := range []string{"6f1d3e46-0000-4000-8000-000000000000", "not-a-uuid"} {
			r = e.do("GET", "/vnflcm/v1/subscriptions/"+id, nil)
			require.Equal(t, 404, r.status, "%s", r.body)
			require.Equal(t, 404, e.do("DELETE", "/vnflcm/v1/subscriptions/"+id, nil).status)
		}

		// List: page size 2, Link rel="next" while there is more; every
		// item a valid subscription; filter on callbackUri.
		ids := []string{firstID, otherFilter, noFilter}
		for i := range 3 {
			ids = append(ids, e.subscribe(map[string]any{"callbackUri": fmt.Sprintf("%s/%d", sub.url(), i)}))
		}
		items, pages := e.listAll(t, "/vnflcm/v1/subscriptions", 2)
		require.Equal(t, 3, pages)
		var got []string
		for _, it := range items {
			got = append(got, it["id"].(string))
		}
		require.Equal(t, ids, got)
		target := sub.url() + "/1"
		for _, q := range []string{
			"filter=(eq,callbackUri," + target + ")",
			url.Values{"filter": {"(eq,callbackUri," + target + ")"}}.Encode(),
		} {
			l, _ := e.listAll(t, "/vnflcm/v1/subscriptions?"+q, 2)
			require.Len(t, l, 1, q)
			require.Equal(t, ids[4], l[0]["id"])
		}
		l, _ := e.listAll(t, "/vnflcm/v1/subscriptions?filter=(cont,callbackUri,/notify/)", 2)
		require.Len(t, l, 3)
		l, _ = e.listAll(t, "/vnflcm/v1/subscriptions?filter=(eq,filter/operationTypes,INSTANTIATE)", 2)
		require.Len(t, l, 2)
		require.Equal(t, 400, e.do("GET", "/vnflcm/v1/subscriptions?filter=(eq,authentication,x)", nil).status)
		require.Equal(t, 400, e.do("GET", "/vnflcm/v1/subscriptions?filter=(eq,callbackUri", nil).status)

		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/subscriptions/"+firstID, nil).status)
		require.Equal(t, 404, e.do("GET", "/vnflcm/v1/subscriptions/"+firstID, nil).status)
		require.Equal(t, 404, e.do("DELETE", "/vnflcm/v1/subscriptions/"+firstID, nil).status)
		require.Len(t, e.do("GET", "/vnflcm/v1/subscriptions?filter=(eq,id,"+firstID+")", nil).list(t), 0)
		// Now the same request is no longer a duplicate.
		r = e.raw("POST", "/vnflcm/v1/subscriptions", dup)
		require.Equal(t, 201, r.status, "%s", r.body)

		assertAbsent(t, e.env, callbackPassword, wrongSecret)
	})
}

func TestSubscriptionDuplicatesAllowed(t *testing.T) {
	t.Parallel()
	e := newNotifyEnv(t, backends["sqlite"](t), 20, func(c *server.Config) { c.AllowDuplicateSubscriptions = true })
	sub := newSubscriber(t)
	req := map[string]any{"callbackUri": sub.url(), "filter": map[string]any{"operationStates": []string{"COMPLETED"}}}
	a := e.subscribe(req)
	b := e.subscribe(req)
	require.NotEqual(t, a, b)
	l := e.do("GET", "/vnflcm/v1/subscriptions?filter=(eq,callbackUri,"+sub.url()+")", nil).list(t)
	require.Len(t, l, 2)
}

// TestNotificationSequence runs a lifecycle with a failure, a retry and a
// rollback, and checks every notification each subscription gets.
func TestNotificationSequence(t *testing.T) {
	t.Parallel()
	forEachNotifyStore(t, 20, func(t *testing.T, e *notifyEnv) {
		all := newSubscriber(t)
		allID := e.subscribe(map[string]any{"callbackUri": all.url()})
		filtered := newSubscriber(t)
		filteredID := e.subscribe(map[string]any{"callbackUri": filtered.url(), "filter": map[string]any{
			"notificationTypes": []string{opOccNotif}, "operationTypes": []string{"INSTANTIATE"}, "operationStates": []string{"COMPLETED"},
		}})
		ident := newSubscriber(t)
		identID := e.subscribe(map[string]any{"callbackUri": ident.url(), "filter": map[string]any{
			"notificationTypes":             []string{"VnfIdentifierCreationNotification", "VnfIdentifierDeletionNotification"},
			"vnfInstanceSubscriptionFilter": map[string]any{"vnfdIds": []string{"vnfd-1"}},
		}})
		nobody := newSubscriber(t)
		e.subscribe(map[string]any{"callbackUri": nobody.url(), "filter": map[string]any{
			"vnfInstanceSubscriptionFilter": map[string]any{"vnfInstanceNames": []string{"some-other-vnf"}},
		}})

		id := e.create()
		// The creation arrives while the instance exists: its link works.
		ns := all.waitUnique(t, 1, 10*time.Second)
		require.Equal(t, []string{created(id)}, labels(ns))
		require.Equal(t, 200, e.do("GET", ns[0].Links["vnfInstance"].Href, nil).status)

		// Instantiate fails once, is retried and completes.
		inst := e.task(id, "instantiate", withScript(map[string]string{"instantiate": "failonce"}))
		e.wait(inst, "FAILED_TEMP")
		require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+inst+"/retry", nil).status)
		e.wait(inst, "COMPLETED")
		scaleOut := e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect})
		e.wait(scaleOut, "COMPLETED")
		// A scale out that fails is rolled back.
		rolled := e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect,
			"additionalParams": map[string]any{"script": map[string]string{"scale_end": "fail"}}})
		e.wait(rolled, "FAILED_TEMP")
		require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+rolled+"/rollback", nil).status)
		e.wait(rolled, "ROLLED_BACK")
		heal := e.task(id, "heal", map[string]any{"cause": "test"})
		e.wait(heal, "COMPLETED")
		term := e.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"})
		e.wait(term, "COMPLETED")
		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)

		want := []string{created(id)}
		want = append(want, opStates(inst, "INSTANTIATE", "STARTING", "PROCESSING", "FAILED_TEMP", "PROCESSING", "COMPLETED")...)
		want = append(want, opStates(scaleOut, "SCALE", "STARTING", "PROCESSING", "COMPLETED")...)
		want = append(want, opStates(rolled, "SCALE", "STARTING", "PROCESSING", "FAILED_TEMP", "ROLLING_BACK", "ROLLED_BACK")...)
		want = append(want, opStates(heal, "HEAL", "STARTING", "PROCESSING", "COMPLETED")...)
		want = append(want, opStates(term, "TERMINATE", "STARTING", "PROCESSING", "COMPLETED")...)
		want = append(want, deleted(id))

		ns = all.waitUnique(t, len(want), 20*time.Second)
		require.Equal(t, want, labels(ns))
		_, dups := all.unique(t)
		require.Zero(t, dups, "a healthy subscriber gets each notification once")
		e.checkNotifications(t, ns, allID)

		// What the notifications carry.
		byLabel := map[string]*notif{}
		for _, n := range ns {
			byLabel[n.label()] = n
		}
		failed := byLabel[inst+" INSTANTIATE RESULT FAILED_TEMP"]
		require.Contains(t, failed.Error.Detail, "scripted one-time failure")
		done := byLabel[inst+" INSTANTIATE RESULT COMPLETED"]
		require.Len(t, done.AffectedVnfcs, 2, "COMPLETED lists the changes")
		require.Len(t, byLabel[scaleOut+" SCALE RESULT COMPLETED"].AffectedVnfcs, 1)
		require.Contains(t, byLabel[rolled+" SCALE RESULT FAILED_TEMP"].Error.Detail, "scale_end")

		// The links point at the real resources: op occs and the
		// subscription are there, the instance is gone now.
		for _, n := range ns {
			require.Equal(t, 200, e.do("GET", n.Links["subscription"].Href, nil).status)
			require.Equal(t, 404, e.do("GET", n.Links["vnfInstance"].Href, nil).status)
			if n.NotificationType == opOccNotif {
				r := e.do("GET", n.Links["vnfLcmOpOcc"].Href, nil)
				require.Equal(t, 200, r.status)
				require.Equal(t, n.VnfLcmOpOccID, r.json(t)["id"])
			}
		}

		// The filtered subscriptions got only what matches.
		fs := filtered.waitUnique(t, 1, 10*time.Second)
		require.Equal(t, opStates(inst, "INSTANTIATE", "COMPLETED"), labels(fs))
		e.checkNotifications(t, fs, filteredID)
		is := ident.waitUnique(t, 2, 10*time.Second)
		require.Equal(t, []string{created(id), deleted(id)}, labels(is))
		e.checkNotifications(t, is, identID)
		got, _ := nobody.unique(t)
		require.Empty(t, got, "no instance matches that filter")

		// A deleted subscription gets nothing more.
		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/subscriptions/"+identID, nil).status)
		id2 := e.create()
		all.waitUnique(t, len(want)+1, 10*time.Second)
		is, _ = ident.unique(t)
		require.Len(t, is, 2)
		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id2, nil).status)
		waitUntil(t, 10*time.Second, "an empty outbox", func() bool {
			n, err := e.st.OutboxDepth(context.Background())
			require.NoError(t, err)
			return n == 0
		})
	})
}

// TestNotificationSubscriberDown60s stops the subscriber for a minute
// while operations (one failing and retried) run, then brings it back on
// the same address: every notification arrives, in order.
func TestNotificationSubscriberDown60s(t *testing.T) {
	t.Parallel()
	forEachNotifyStore(t, 20, func(t *testing.T, e *notifyEnv) {
		sub := newSubscriber(t)
		subID := e.subscribe(map[string]any{"callbackUri": sub.url()})
		id := e.create()
		sub.waitUnique(t, 1, 10*time.Second)

		sub.close()
		downAt := time.Now()
		inst := e.task(id, "instantiate", withScript(map[string]string{"instantiate_end": "failonce"}))
		e.wait(inst, "FAILED_TEMP")
		require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+inst+"/retry", nil).status)
		e.wait(inst, "COMPLETED")
		out := e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect, "numberOfSteps": 2})
		e.wait(out, "COMPLETED")
		in := e.task(id, "scale", map[string]any{"type": "SCALE_IN", "aspectId": scripted.Aspect})
		e.wait(in, "COMPLETED")
		heal := e.task(id, "heal", map[string]any{})
		e.wait(heal, "COMPLETED")
		term := e.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"})
		e.wait(term, "COMPLETED")
		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
		id2 := e.create()
		inst2 := e.task(id2, "instantiate", instantiateBody)
		e.wait(inst2, "COMPLETED")
		opsDone := time.Since(downAt)

		want := []string{created(id)}
		want = append(want, opStates(inst, "INSTANTIATE", "STARTING", "PROCESSING", "FAILED_TEMP", "PROCESSING", "COMPLETED")...)
		for _, op := range []struct{ id, name string }{{out, "SCALE"}, {in, "SCALE"}, {heal, "HEAL"}, {term, "TERMINATE"}} {
			want = append(want, opStates(op.id, op.name, "STARTING", "PROCESSING", "COMPLETED")...)
		}
		want = append(want, deleted(id), created(id2))
		want = append(want, opStates(inst2, "INSTANTIATE", "STARTING", "PROCESSING", "COMPLETED")...)

		time.Sleep(time.Until(downAt.Add(60 * time.Second)))
		depth, err := e.st.OutboxDepth(context.Background())
		require.NoError(t, err)
		require.EqualValues(t, len(want)-1, depth, "everything since the subscriber went down is queued")
		failures := metric(t, e.env, "vnfm_notification_delivery_failures_total")
		require.Greater(t, failures, 10.0, "delivery kept trying while the subscriber was down")

		sub.restart()
		upAt := time.Now()
		ns := sub.waitUnique(t, len(want), 30*time.Second)
		caughtUp := time.Since(upAt) - 150*time.Millisecond // waitUnique's settling
		_, dups := sub.unique(t)
		t.Logf("subscriber down %v (operations done after %v, %v failed attempts); all %d notifications delivered %v after it came back; %d duplicates",
			upAt.Sub(downAt).Round(time.Millisecond), opsDone.Round(time.Millisecond), failures, len(want), caughtUp.Round(time.Millisecond), dups)
		require.Equal(t, want, labels(ns), "none lost, in order")
		require.Less(t, caughtUp, 10*time.Second, "delivery resumes within the maximum backoff")
		e.checkNotifications(t, ns, subID)
		waitUntil(t, 5*time.Second, "an empty outbox", func() bool {
			n, err := e.st.OutboxDepth(context.Background())
			require.NoError(t, err)
			return n == 0
		})
	}, func(c *server.Config) { c.Notify.MaxBackoff = 2 * time.Second })
}

// metric reads a counter from /metrics.
func metric(t testing.TB, e *env, name string) float64 {
	t.Helper()
	res, err := http.Get(e.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(raw)
	require.NotNil(t, m, "%s in %s", name, raw)
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// TestNotificationRetries: a subscriber answering 5xx, a slow one and one
// slower than the delivery timeout all get everything in order; the
// operations do not wait for them.
func TestNotificationRetries(t *testing.T) {
	t.Parallel()
	forEachNotifyStore(t, 20, func(t *testing.T, e *notifyEnv) {
		failing := newSubscriber(t)
		failing.set(func(s *subscriber) {
			s.postStatus = func(n int) int {
				if n <= 3 {
					return 503
				}
				return 204
			}
		})
		slow := newSubscriber(t)
		slow.set(func(s *subscriber) { s.delay = func(int) time.Duration { return 700 * time.Millisecond } })
		// The first POST is recorded but answered after the 3 s timeout:
		// vnfm sends it again.
		late := newSubscriber(t)
		late.set(func(s *subscriber) {
			s.delay = func(n int) time.Duration {
				if n == 1 {
					return 4 * time.Second
				}
				return 0
			}
		})
		subs := map[*subscriber]string{}
		for _, s := range []*subscriber{failing, slow, late} {
			subs[s] = e.subscribe(map[string]any{"callbackUri": s.url()})
		}

		start := time.Now()
		id := e.create()
		op := e.task(id, "instantiate", instantiateBody)
		e.wait(op, "COMPLETED")
		took := time.Since(start)
		got, _ := slow.unique(t)
		require.Less(t, len(got), 4, "the operation did not wait for the slow subscriber (took %v)", took)

		want := append([]string{created(id)}, opStates(op, "INSTANTIATE", "STARTING", "PROCESSING", "COMPLETED")...)
		for s, subID := range subs {
			ns := s.waitUnique(t, len(want), 20*time.Second)
			require.Equal(t, want, labels(ns))
			e.checkNotifications(t, ns, subID)
		}
		failing.mu.Lock()
		require.Equal(t, len(want)+3, failing.attempts, "each failure is retried")
		failing.mu.Unlock()
		_, dups := late.unique(t)
		require.GreaterOrEqual(t, dups, 1, "a timed-out delivery is repeated (at least once)")
		require.Contains(t, e.logBuf.String(), "notification delivery failed, will retry")
	})
}

// TestNotificationGivenUp: past Notify.RetryFor a notification is dropped;
// other subscriptions are not held up.
func TestNotificationGivenUp(t *testing.T) {
	t.Parallel()
	e := newNotifyEnv(t, backends["sqlite"](t), 20, func(c *server.Config) { c.Notify.RetryFor = time.Second })
	broken := newSubscriber(t)
	brokenID := e.subscribe(map[string]any{"callbackUri": broken.url()})
	broken.set(func(s *subscriber) { s.postStatus = func(int) int { return 500 } })
	ok := newSubscriber(t)
	e.subscribe(map[string]any{"callbackUri": ok.url()})
	id := e.create()
	ok.waitUnique(t, 1, 10*time.Second)
	waitUntil(t, 15*time.Second, "the notification given up", func() bool {
		n, err := e.st.OutboxDepth(context.Background())
		require.NoError(t, err)
		return n == 0
	})
	require.Contains(t, e.logBuf.String(), "notification given up")
	require.Contains(t, e.logBuf.String(), brokenID)
	require.GreaterOrEqual(t, metric(t, e.env, "vnfm_notifications_abandoned_total"), 1.0)
	got, _ := broken.unique(t)
	require.Empty(t, got)
	broken.mu.Lock()
	require.Greater(t, broken.attempts, 1)
	broken.mu.Unlock()
	require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
	ok.waitUnique(t, 2, 10*time.Second)
}

// tokenServer is an OAuth 2.0 token endpoint (client credentials).
type tokenServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	issued  map[string]bool
	fetches int
}

func newTokenServer(t testing.TB, clientID, secret string) *tokenServer {
	ts := &tokenServer{issued: map[string]bool{}}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, pw, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		pw, _ = url.QueryUnescape(pw)
		w.Header().Set("Content-Type", "application/json")
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.fetches++
		if r.Method != http.MethodPost || !ok || id != clientID || pw != secret || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		tok := fmt.Sprintf("token-%d", ts.fetches)
		ts.issued[tok] = true
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) valid(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ok && ts.issued[tok]
}

// TestNotificationAuthentication: BASIC and OAuth 2.0 client credentials
// subscriptions get every notification with their credentials, which
// never show in a response or the log.
func TestNotificationAuthentication(t *testing.T) {
	t.Parallel()
	forEachNotifyStore(t, 20, func(t *testing.T, e *notifyEnv) {
		basic := newSubscriber(t)
		basic.set(func(s *subscriber) {
			s.check = func(r *http.Request) bool {
				u, p, ok := r.BasicAuth()
				return ok && u == "vnfm" && p == callbackPassword
			}
		})
		ts := newTokenServer(t, "vnfm-client", oauthSecret)
		oauth := newSubscriber(t)
		oauth.set(func(s *subscriber) { s.check = ts.valid })

		// Without (or with wrong) credentials the callback check fails.
		r := e.do("POST", "/vnflcm/v1/subscriptions", map[string]any{"callbackUri": basic.url()})
		require.Equal(t, 422, r.status, "%s", r.body)
		r = e.do("POST", "/vnflcm/v1/subscriptions", map[string]any{"callbackUri": oauth.url(), "authentication": map[string]any{
			"authType":                      []string{"OAUTH2_CLIENT_CREDENTIALS"},
			"paramsOauth2ClientCredentials": map[string]any{"clientId": "vnfm-client", "clientPassword": wrongSecret, "tokenEndpoint": ts.srv.URL + "/token"},
		}})
		require.Equal(t, 422, r.status, "%s", r.body)
		require.Contains(t, string(r.body), "invalid_client")

		basicID := e.subscribe(map[string]any{"callbackUri": basic.url(), "authentication": map[string]any{
			"authType": []string{"BASIC"}, "paramsBasic": map[string]any{"userName": "vnfm", "password": callbackPassword},
		}})
		oauthID := e.subscribe(map[string]any{"callbackUri": oauth.url(), "authentication": map[string]any{
			"authType":                      []string{"OAUTH2_CLIENT_CREDENTIALS"},
			"paramsOauth2ClientCredentials": map[string]any{"clientId": "vnfm-client", "clientPassword": oauthSecret, "tokenEndpoint": ts.srv.URL + "/token"},
		}})
		for _, id := range []string{basicID, oauthID} {
			checkSubscription(t, e.do("GET", "/vnflcm/v1/subscriptions/"+id, nil).body)
		}
		for _, it := range e.do("GET", "/vnflcm/v1/subscriptions?all_fields", nil).list(t) {
			require.NotContains(t, it, "authentication")
		}

		id := e.create()
		op := e.task(id, "instantiate", instantiateBody)
		e.wait(op, "COMPLETED")
		term := e.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"})
		e.wait(term, "COMPLETED")
		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
		want := append([]string{created(id)}, opStates(op, "INSTANTIATE", "STARTING", "PROCESSING", "COMPLETED")...)
		want = append(want, opStates(term, "TERMINATE", "STARTING", "PROCESSING", "COMPLETED")...)
		want = append(want, deleted(id))

		ns := basic.waitUnique(t, len(want), 20*time.Second)
		require.Equal(t, want, labels(ns))
		e.checkNotifications(t, ns, basicID)
		ns = oauth.waitUnique(t, len(want), 20*time.Second)
		require.Equal(t, want, labels(ns))
		e.checkNotifications(t, ns, oauthID)
		for _, n := range ns {
			require.True(t, strings.HasPrefix(n.header.Get("Authorization"), "Bearer token-"))
		}
		ts.mu.Lock()
		// One refused fetch (the wrong secret) and one for the check GET
		// and every notification: tokens are cached.
		require.LessOrEqual(t, ts.fetches, 3, "tokens are reused")
		ts.mu.Unlock()
		basic.mu.Lock()
		require.Zero(t, basic.attempts-len(basic.posts), "no notification was refused")
		basic.mu.Unlock()

		for _, id := range []string{basicID, oauthID} {
			stored, err := e.st.GetSubscription(context.Background(), id)
			require.NoError(t, err)
			require.False(t, bytes.Contains(stored.Sealed, []byte("s3cret")), "credentials are sealed at rest")
		}
		assertAbsent(t, e.env, callbackPassword, oauthSecret, wrongSecret)
	})
}

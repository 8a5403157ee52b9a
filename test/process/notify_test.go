package process

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

// subscriber is a notification endpoint on the loopback interface: it
// answers the subscription test GET with 204 and records every POST (with
// the time it arrived) before answering it with the current status.
type subscriber struct {
	t   *testing.T
	srv *httptest.Server
	url string

	// user and pass, when set, are the BASIC credentials every request must
	// carry (else 401).
	user, pass string

	mu       sync.Mutex
	status   int // the answer to a POST
	gets     int
	unauth   int
	attempts []notification // every POST, whatever the answer
	accepted []notification // the POSTs answered 2xx
	changed  chan struct{}  // closed and replaced at every POST
}

// notification is one POST a subscriber received.
type notification struct {
	at   time.Time
	raw  []byte
	body map[string]any
	// status is what the subscriber answered.
	status int
}

func (n notification) String() string {
	s := fmt.Sprintf("%v", n.body["notificationType"])
	if st, ok := n.body["operationState"]; ok {
		s += fmt.Sprintf(" %v %v", n.body["operation"], st)
	}
	return s
}

func newSubscriber(t *testing.T) *subscriber {
	t.Helper()
	return newBasicSubscriber(t, "", "")
}

// newBasicSubscriber is a subscriber that requires BASIC authentication
// (none when user is empty).
func newBasicSubscriber(t *testing.T, user, pass string) *subscriber {
	t.Helper()
	s := &subscriber{t: t, user: user, pass: pass, status: http.StatusNoContent, changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.url = s.srv.URL + "/callback"
	return s
}

func (s *subscriber) serve(w http.ResponseWriter, r *http.Request) {
	if s.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pass {
			s.mu.Lock()
			s.unauth++
			s.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		s.gets++
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		raw, err := io.ReadAll(r.Body)
		at := time.Now()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := notification{at: at, raw: raw}
		if json.Unmarshal(raw, &n.body) != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		n.status = s.status
		s.attempts = append(s.attempts, n)
		if n.status/100 == 2 {
			s.accepted = append(s.accepted, n)
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		w.WriteHeader(n.status)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// answer sets the status POSTs get from now on.
func (s *subscriber) answer(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

func (s *subscriber) received() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.accepted...)
}

func (s *subscriber) tried() []notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification(nil), s.attempts...)
}

// waitFor waits until cond holds for the POSTs received so far (attempts,
// accepted), failing after timeout.
func (s *subscriber) waitFor(timeout time.Duration, what string, cond func(attempts, accepted []notification) bool) {
	t := s.t
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ok := cond(s.attempts, s.accepted)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("subscriber: no %s within %v; accepted %v; %d attempts", what, timeout, s.received(), len(s.tried()))
		}
	}
}

// waitAccepted waits until n notifications were accepted.
func (s *subscriber) waitAccepted(n int, timeout time.Duration) []notification {
	s.t.Helper()
	s.waitFor(timeout, fmt.Sprintf("%d accepted notifications", n), func(_, acc []notification) bool { return len(acc) >= n })
	return s.received()
}

// subscribe posts a subscription to the subscriber's callback and returns
// its id.
func subscribe(t *testing.T, p *proc, s *subscriber, extra map[string]any) string {
	t.Helper()
	req := map[string]any{"callbackUri": s.url}
	for k, v := range extra {
		req[k] = v
	}
	body, err := json.Marshal(req)
	require.NoError(t, err)
	r := p.do("POST", "/vnflcm/v1/subscriptions", string(body))
	require.Equal(t, 201, r.status, "%s", r.body)
	validate(t, "LccnSubscription", r.body)
	sub := r.json(t)
	require.Equal(t, s.url, sub["callbackUri"])
	require.NotContains(t, sub, "authentication")
	return sub["id"].(string)
}

// wantNotification checks one received notification: its type, op occ
// state (for op occ notifications), instance, subscription, and schema.
func wantNotification(t *testing.T, n notification, typ, state, instID, opID, subID string) {
	t.Helper()
	b := n.body
	require.Equal(t, typ, b["notificationType"], "notification %s", n.raw)
	validate(t, typ, n.raw)
	require.Equal(t, instID, b["vnfInstanceId"], "%s", n.raw)
	require.Equal(t, subID, b["subscriptionId"], "%s", n.raw)
	links := b["_links"].(map[string]any)
	require.True(t, strings.HasSuffix(links["subscription"].(map[string]any)["href"].(string), "/vnflcm/v1/subscriptions/"+subID), "%s", n.raw)
	require.True(t, strings.HasSuffix(links["vnfInstance"].(map[string]any)["href"].(string), "/vnflcm/v1/vnf_instances/"+instID), "%s", n.raw)
	ts, err := time.Parse(time.RFC3339Nano, b["timeStamp"].(string))
	require.NoError(t, err, "timeStamp of %s", n.raw)
	require.False(t, ts.After(n.at.Add(time.Second)), "timeStamp %v after the receipt %v", ts, n.at)
	if state == "" {
		return
	}
	require.Equal(t, opID, b["vnfLcmOpOccId"], "%s", n.raw)
	require.Equal(t, "INSTANTIATE", b["operation"], "%s", n.raw)
	require.Equal(t, state, b["operationState"], "%s", n.raw)
	wantStatus := "RESULT"
	if state == "STARTING" {
		wantStatus = "START"
	}
	require.Equal(t, wantStatus, b["notificationStatus"], "%s", n.raw)
}

var notifyStores = []struct {
	name  string
	dbURL func(t *testing.T) string
}{
	{"sqlite", func(*testing.T) string { return "" }},
	{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
}

// TestNotifyOutboxSurvivesSIGKILL: while the subscriber answers 503, an
// instantiate runs to COMPLETED and its notifications pile up in the outbox;
// vnfm is then SIGKILLed and, once the subscriber answers 204 again, a new
// process on the same database delivers every one of them, in order,
// exactly once.
func TestNotifyOutboxSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	for _, store := range notifyStores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			notifyOutboxSurvivesSIGKILL(t, store.dbURL(t))
		})
	}
}

func notifyOutboxSurvivesSIGKILL(t *testing.T, dbURL string) {
	dataDir := t.TempDir()
	sub := newSubscriber(t)
	first := startServer(t, dbURL, dataDir)
	subID := subscribe(t, first, sub, nil)
	sub.answer(http.StatusServiceUnavailable)

	r := first.do("POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":"vnfd-1"}`)
	require.Equal(t, 201, r.status, "%s", r.body)
	instID := r.json(t)["id"].(string)
	r = first.do("POST", "/vnflcm/v1/vnf_instances/"+instID+"/instantiate", instantiateBody(t, "{}"))
	require.Equal(t, 202, r.status, "%s", r.body)
	opID := opOf(t, r)
	waitOpState(t, first, opID, 15*time.Second, "COMPLETED")

	// Two failed attempts (the second after the first backoff), so the
	// outbox has certainly been retried; then the kill, between attempts
	// (the next one is at least half a second after the last failure, and
	// the subscription's delivery lease is released right after a failure).
	sub.waitFor(10*time.Second, "second failed attempt", func(att, _ []notification) bool { return len(att) >= 2 })
	waitMetric(t, first, "vnfm_notification_delivery_failures_total", 2)
	time.Sleep(300 * time.Millisecond)
	first.kill()
	killed := time.Now()
	require.Empty(t, sub.received(), "nothing was accepted before the kill")
	// Head-of-line: every attempt was the first notification, the same one.
	attempts := sub.tried()
	for _, a := range attempts {
		require.Equal(t, "VnfIdentifierCreationNotification", a.body["notificationType"], "attempt %v", a)
		require.Equal(t, attempts[0].body["id"], a.body["id"], "a retry sends the same notification")
	}

	sub.answer(http.StatusNoContent)
	second := startServer(t, dbURL, dataDir)
	// (Within the backoff of a few seconds; a kill during an attempt would
	// add the dead process's 30 s delivery lease.)
	got := sub.waitAccepted(4, 45*time.Second)
	t.Logf("4 notifications delivered %v after the SIGKILL (%d failed attempts before it)",
		time.Since(killed).Round(time.Millisecond), len(attempts))
	require.Equal(t, attempts[0].body["id"], got[0].body["id"], "the notification retried before the crash")
	wantNotification(t, got[0], "VnfIdentifierCreationNotification", "", instID, "", subID)
	wantNotification(t, got[1], "VnfLcmOperationOccurrenceNotification", "STARTING", instID, opID, subID)
	wantNotification(t, got[2], "VnfLcmOperationOccurrenceNotification", "PROCESSING", instID, opID, subID)
	wantNotification(t, got[3], "VnfLcmOperationOccurrenceNotification", "COMPLETED", instID, opID, subID)
	require.NotEmpty(t, got[3].body["affectedVnfcs"], "COMPLETED carries the resource changes")
	ids := map[any]bool{}
	for _, n := range got {
		require.False(t, ids[n.body["id"]], "notification %v delivered twice", n)
		ids[n.body["id"]] = true
	}
	// Nothing more comes (no duplicates, nothing extra).
	time.Sleep(1500 * time.Millisecond)
	require.Len(t, sub.received(), 4, "%v", sub.received())

	second.stop()
}

// TestNotifyFailedTempAfterSIGKILL kills vnfm inside the driver step of an
// instantiate; the new process fails the op occ over to FAILED_TEMP and
// announces it, and a retry then announces PROCESSING and COMPLETED.
func TestNotifyFailedTempAfterSIGKILL(t *testing.T) {
	t.Parallel()
	for _, store := range notifyStores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			notifyFailedTempAfterSIGKILL(t, store.dbURL(t))
		})
	}
}

func notifyFailedTempAfterSIGKILL(t *testing.T, dbURL string) {
	dataDir := t.TempDir()
	release := filepath.Join(t.TempDir(), "release")
	sub := newSubscriber(t)
	first := startServer(t, dbURL, dataDir)
	subID := subscribe(t, first, sub, nil)

	r := first.do("POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":"vnfd-1"}`)
	require.Equal(t, 201, r.status, "%s", r.body)
	instID := r.json(t)["id"].(string)
	r = first.do("POST", "/vnflcm/v1/vnf_instances/"+instID+"/instantiate",
		instantiateBody(t, `{"instantiate":"block:`+release+`"}`))
	require.Equal(t, 202, r.status, "%s", r.body)
	opID := opOf(t, r)
	waitStepDone(t, first, opID, "mgmt_instantiate_start")
	// Creation, STARTING and PROCESSING are delivered before the kill; the
	// pause lets the deliverer remove the last one from the outbox, so the
	// kill cannot make it a duplicate.
	got := sub.waitAccepted(3, 10*time.Second)
	waitMetric(t, first, "vnfm_notifications_delivered_total", 3)
	time.Sleep(200 * time.Millisecond)
	first.kill()
	killed := time.Now()

	second := startServer(t, dbURL, dataDir)
	got = sub.waitAccepted(4, lease+40*time.Second)
	t.Logf("FAILED_TEMP notification received %v after the SIGKILL", got[3].at.Sub(killed).Round(time.Millisecond))
	wantNotification(t, got[0], "VnfIdentifierCreationNotification", "", instID, "", subID)
	wantNotification(t, got[1], "VnfLcmOperationOccurrenceNotification", "STARTING", instID, opID, subID)
	wantNotification(t, got[2], "VnfLcmOperationOccurrenceNotification", "PROCESSING", instID, opID, subID)
	wantNotification(t, got[3], "VnfLcmOperationOccurrenceNotification", "FAILED_TEMP", instID, opID, subID)
	pd, ok := got[3].body["error"].(map[string]any)
	require.True(t, ok, "FAILED_TEMP carries the error: %s", got[3].raw)
	require.Equal(t, "Operation interrupted", pd["title"])
	op := waitOpState(t, second, opID, 5*time.Second, "FAILED_TEMP")
	require.Equal(t, op["stateEnteredTime"], got[3].body["timeStamp"], "timeStamp is the state change")

	// The retry: PROCESSING, then COMPLETED.
	require.NoError(t, os.WriteFile(release, nil, 0o600))
	r = second.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", "")
	require.Equal(t, 202, r.status, "%s", r.body)
	waitOpState(t, second, opID, 15*time.Second, "COMPLETED")
	got = sub.waitAccepted(6, 10*time.Second)
	wantNotification(t, got[4], "VnfLcmOperationOccurrenceNotification", "PROCESSING", instID, opID, subID)
	wantNotification(t, got[5], "VnfLcmOperationOccurrenceNotification", "COMPLETED", instID, opID, subID)
	for i := 1; i < len(got); i++ {
		require.NotEqual(t, got[i-1].body["id"], got[i].body["id"], "duplicate %v", got[i])
	}
	time.Sleep(time.Second)
	require.Len(t, sub.received(), 6, "%v", sub.received())

	second.stop()
	for _, p := range []*proc{first, second} {
		p.assertNoSecret(t, vimPassword)
	}
	for _, n := range sub.tried() {
		require.NotContains(t, string(n.raw), vimPassword, "secret in a notification")
	}
}

// waitMetric waits until the counter reaches at least want in p's /metrics.
func waitMetric(t *testing.T, p *proc, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(p.url + "/metrics")
		require.NoError(t, err)
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		got := -1.0
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				got, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
				require.NoError(t, err, "%s", line)
			}
		}
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %v", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// instantiateBody is an instantiate request on the scripted VIM with a
// script (JSON object text).
func instantiateBody(t *testing.T, script string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"flavourId": "simple",
		"vimConnectionInfo": []any{map[string]any{
			"id": "vim-1", "vimType": "TEST.SCRIPTED.V_1",
			"accessInfo": map[string]any{"password": vimPassword},
		}},
		"additionalParams": map[string]any{"script": json.RawMessage(script)},
	})
	require.NoError(t, err)
	return string(body)
}

// opOf is the op occ id in a 202's Location.
func opOf(t *testing.T, r *resp) string {
	t.Helper()
	loc := r.header.Get("Location")
	require.Contains(t, loc, "/vnflcm/v1/vnf_lcm_op_occs/")
	return loc[strings.LastIndex(loc, "/")+1:]
}

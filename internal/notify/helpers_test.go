package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// waitFor is the generous bound of every require.Eventually here: the
// conditions are met in milliseconds when things work.
const (
	waitFor = 20 * time.Second
	tick    = 5 * time.Millisecond
)

// backends are the real stores the tests run against.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store { return storetest.SQLite(t) }},
	{"postgres", func(t *testing.T) store.Store { return storetest.Postgres(t) }},
}

// logBuf is a concurrency-safe log sink that also echoes to the test
// output.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out io.Writer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	return l.out.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newLog returns a debug-level logger writing to the test output and the
// returned buffer. When the test ends the buffer must hold no registered
// test secret.
func newLog(t *testing.T) (*slog.Logger, *logBuf) {
	lb := &logBuf{out: t.Output()}
	t.Cleanup(func() {
		if s, ok := testsecrets.Find([]byte(lb.String())); ok {
			t.Errorf("secret %q appeared in the log", s)
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func newBox(t *testing.T) *secret.Box {
	t.Helper()
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	return box
}

func newID(prefix string) string { return prefix + "-" + uuid.NewString() }

// newInstance is a NOT_INSTANTIATED instance of acme's firewall 1.0.
func newInstance() *store.Instance {
	id := newID("inst")
	return &store.Instance{VnfInstance: model.VnfInstance{
		ID:                 id,
		VnfInstanceName:    "fw-" + id[len(id)-6:],
		VnfdID:             "vnfd-fw",
		VnfProvider:        "acme",
		VnfProductName:     "firewall",
		VnfSoftwareVersion: "1.0",
		VnfdVersion:        "1.1",
		VnfPkgID:           "pkg-fw",
		VnfPkgInfoID:       "pkg-fw",
		InstantiationState: model.NotInstantiated,
	}}
}

func newOpOcc(instID string, op model.Operation) *store.OpOcc {
	now := time.Now().UTC()
	return &store.OpOcc{
		VnfLcmOpOcc: model.VnfLcmOpOcc{
			ID:               newID("op"),
			OperationState:   model.Starting,
			StateEnteredTime: now,
			StartTime:        now,
			VnfInstanceID:    instID,
			Operation:        op,
			OperationParams:  json.RawMessage(`{"flavourId":"small"}`),
		},
		Job: store.JobRun,
	}
}

// putSubscription stores a subscription directly (no callback test).
func putSubscription(t *testing.T, st store.Store, callback string, f *model.LifecycleChangeNotificationsFilter) *store.Subscription {
	t.Helper()
	sub := &store.Subscription{
		LccnSubscription: model.LccnSubscription{ID: newID("sub"), CallbackURI: callback, Filter: f},
		Key:              newID("key"),
	}
	require.NoError(t, st.CreateSubscription(t.Context(), sub))
	return sub
}

// receipt is one POST a subscriber received.
type receipt struct {
	subID, id string
	seq       int // the body's "seq", when the test put one there
	status    int // what the subscriber answered
}

// subscriber is a recording notification endpoint. It answers the
// callback test GET with 204, and each POST with what answer says (204 by
// default). It records every POST and checks that no subscription ever has
// two requests in flight at once.
type subscriber struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	answer      func(r *http.Request, n int) int // n: POSTs so far, this one included
	receipts    []receipt
	gets        int
	posts       int
	inflight    map[string]int
	maxInflight int // over all subscriptions at once
	overlap     []string
	badRequests []string
	delay       time.Duration
	onPost      func(r *http.Request, body []byte) // runs outside mu
	// auth, when set, must accept a request's credentials (else 401).
	auth func(r *http.Request) bool
}

func newSubscriber(t *testing.T) *subscriber {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return newSubscriberOn(t, l)
}

// newSubscriberOn serves on l (to come back on a known address).
func newSubscriberOn(t *testing.T, l net.Listener) *subscriber {
	s := &subscriber{t: t, inflight: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *subscriber) url(path string) string { return s.srv.URL + path }

func (s *subscriber) setAnswer(f func(r *http.Request, n int) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = f
}

func (s *subscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	auth := s.auth
	s.mu.Unlock()
	authorized := auth == nil || auth(r)
	if r.Method == http.MethodGet {
		s.mu.Lock()
		s.gets++
		s.mu.Unlock()
		if !authorized {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body, err := io.ReadAll(r.Body)
	var n struct {
		ID             string `json:"id"`
		SubscriptionID string `json:"subscriptionId"`
		Seq            int    `json:"seq"`
	}
	if err == nil {
		err = json.Unmarshal(body, &n)
	}
	s.mu.Lock()
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Version") != APIVersion || n.ID == "" || n.SubscriptionID == "" {
		s.badRequests = append(s.badRequests, r.Method+" "+r.URL.Path+" "+string(body))
	}
	s.inflight[n.SubscriptionID]++
	if s.inflight[n.SubscriptionID] > 1 {
		s.overlap = append(s.overlap, n.SubscriptionID)
	}
	total := 0
	for _, c := range s.inflight {
		total += c
	}
	s.maxInflight = max(s.maxInflight, total)
	s.posts++
	count := s.posts
	answer, delay, onPost := s.answer, s.delay, s.onPost
	s.mu.Unlock()

	if onPost != nil {
		onPost(r, body)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	status := http.StatusNoContent
	switch {
	case !authorized:
		status = http.StatusUnauthorized
	case answer != nil:
		status = answer(r, count)
	}

	s.mu.Lock()
	s.inflight[n.SubscriptionID]--
	s.receipts = append(s.receipts, receipt{subID: n.SubscriptionID, id: n.ID, seq: n.Seq, status: status})
	s.mu.Unlock()
	w.WriteHeader(status)
}

func (s *subscriber) all() []receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receipt(nil), s.receipts...)
}

// delivered lists, per subscription, the seqs accepted (2xx), in order of
// their first acceptance, and counts the duplicates.
func (s *subscriber) delivered(subID string) (seqs []int, dups int) {
	seen := map[string]bool{}
	for _, r := range s.all() {
		if r.subID != subID || r.status/100 != 2 {
			continue
		}
		if seen[r.id] {
			dups++
			continue
		}
		seen[r.id] = true
		seqs = append(seqs, r.seq)
	}
	return seqs, dups
}

// firstReceipts lists a subscription's seqs in the order they were first
// received, whatever the answer.
func (s *subscriber) firstReceipts(subID string) []int {
	seen := map[string]bool{}
	var out []int
	for _, r := range s.all() {
		if r.subID == subID && !seen[r.id] {
			seen[r.id] = true
			out = append(out, r.seq)
		}
	}
	return out
}

// check fails the test if a request was malformed or a subscription had
// two requests in flight.
func (s *subscriber) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Empty(t, s.badRequests, "malformed notification requests")
	require.Empty(t, s.overlap, "subscriptions with two notifications in flight at once")
}

// enqueueSeq enqueues n notifications numbered from first for sub, as
// one transaction, and returns their ids.
func enqueueSeq(t *testing.T, st store.Store, subID string, first, n int) []string {
	t.Helper()
	ns := make([]store.Notification, n)
	ids := make([]string, n)
	for i := range ns {
		ids[i] = newID("notif")
		body, err := json.Marshal(map[string]any{
			"id": ids[i], "notificationType": model.NotifIdentifierCreation, "subscriptionId": subID,
			"timeStamp": time.Now().UTC(), "vnfInstanceId": "inst-x", "seq": first + i,
		})
		require.NoError(t, err)
		ns[i] = store.Notification{ID: ids[i], SubscriptionID: subID, Body: body}
	}
	require.NoError(t, st.EnqueueNotifications(t.Context(), ns))
	return ids
}

func seqRange(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

func depth(t *testing.T, st store.Store) int64 {
	t.Helper()
	d, err := st.OutboxDepth(context.Background())
	require.NoError(t, err)
	return d
}

func pending(t *testing.T, st store.Store, subID string) []store.Notification {
	t.Helper()
	ns, err := st.PendingNotifications(context.Background(), subID, 1000)
	require.NoError(t, err)
	return ns
}

func containsAny(s string, subs ...string) string {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return sub
		}
	}
	return ""
}

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/etsischema"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// fastDelivery is the tests' DeliveryConfig.
func fastDelivery() DeliveryConfig {
	return DeliveryConfig{
		Poll: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Lease: 2 * time.Second, Timeout: 5 * time.Second,
	}
}

// deliverEnv is what a VNFM process has around its Deliverer.
type deliverEnv struct {
	st     store.Store
	box    *secret.Box
	tokens *callauth.Tokens
	reg    *prometheus.Registry
	log    *slog.Logger
	logs   *logBuf
	subs   *Subscriptions
}

func newDeliverEnv(t *testing.T, st store.Store) *deliverEnv {
	e := &deliverEnv{st: st, box: newBox(t), reg: prometheus.NewRegistry()}
	e.log, e.logs = newLog(t)
	hc := &http.Client{Timeout: 10 * time.Second}
	e.tokens = callauth.NewTokens(hc, nil)
	e.subs = NewSubscriptions(SubscriptionsConfig{Store: st, Box: e.box, Tokens: e.tokens, HTTP: hc, Log: e.log})
	return e
}

// start runs a Deliverer until the test ends.
func (e *deliverEnv) start(t *testing.T, cfg DeliveryConfig) *Deliverer {
	d := NewDeliverer(e.st, e.box, e.tokens, &http.Client{}, e.log, e.reg, cfg)
	d.Start(t.Context())
	t.Cleanup(d.Stop)
	return d
}

// subscribe creates a subscription the way the API does.
func (e *deliverEnv) subscribe(t *testing.T, callback string, auth *model.SubscriptionAuthentication) *store.Subscription {
	t.Helper()
	sub, existing, err := e.subs.Create(t.Context(), &SubscriptionRequest{CallbackURI: callback, Authentication: auth})
	require.NoError(t, err)
	require.False(t, existing)
	return sub
}

// counter reads a counter through the registry.
func counter(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

const (
	mDelivered = "vnfm_notifications_delivered_total"
	mFailed    = "vnfm_notification_delivery_failures_total"
	mAbandoned = "vnfm_notifications_abandoned_total"
)

// waitDelivered waits until subID's subscriber accepted want seqs.
func waitDelivered(t *testing.T, s *subscriber, subID string, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, _ := s.delivered(subID)
		return len(got) >= want
	}, waitFor, tick, "delivered to %s", subID)
}

func TestDeliverInOrder(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newDeliverEnv(t, b.open(t))
			s := newSubscriber(t)
			sub := e.subscribe(t, s.url("/cb"), nil)
			other := e.subscribe(t, s.url("/other"), nil) // nothing queued: never POSTed to
			e.start(t, fastDelivery())

			// Enqueued while delivery runs, in batches larger and smaller
			// than the Deliverer's page.
			const total = 150
			n := 0
			for _, size := range []int{1, 40, 7, 32, 33, 2, 35} {
				enqueueSeq(t, e.st, sub.ID, n, size)
				n += size
			}
			require.Equal(t, total, n)
			waitDelivered(t, s, sub.ID, total)
			got, dups := s.delivered(sub.ID)
			require.Equal(t, seqRange(0, total), got)
			require.Zero(t, dups)
			require.Equal(t, seqRange(0, total), s.firstReceipts(sub.ID))
			require.Len(t, s.all(), total, "one POST each")
			s.check(t)
			require.Eventually(t, func() bool { return depth(t, e.st) == 0 }, waitFor, tick)
			require.Eventually(t, func() bool { return counter(t, e.reg, mDelivered) == total }, waitFor, tick)
			require.Zero(t, counter(t, e.reg, mFailed))
			require.Empty(t, s.firstReceipts(other.ID))
		})
	}
}

// The store decorator's wakeup starts delivery at once: with polls and
// lease renewals an hour apart, only OnEnqueue can have told the
// Deliverer. What arrives are the real notifications, valid against the
// ETSI schemas.
func TestDeliverWakeupEndToEnd(t *testing.T) {
	t.Parallel()
	raw := storetest.SQLite(t)
	e := newDeliverEnv(t, raw)
	st := Wrap(raw, Config{BaseURL: func() string { return testBase }, Log: e.log})
	e.st = st
	s := newSubscriber(t)
	var mu sync.Mutex
	var bodies [][]byte
	s.onPost = func(r *http.Request, body []byte) {
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
	}
	sub := e.subscribe(t, s.url("/cb"), nil)
	cfg := fastDelivery()
	cfg.Poll, cfg.Lease = time.Hour, 3*time.Hour
	d := e.start(t, cfg)
	st.OnEnqueue(d.Notify)

	ctx := t.Context()
	inst := newInstance()
	require.NoError(t, st.CreateInstance(ctx, inst))
	waitDelivered(t, s, sub.ID, 1)
	op := newOpOcc(inst.ID, model.OpInstantiate)
	require.NoError(t, st.CreateOpOcc(ctx, op))
	waitDelivered(t, s, sub.ID, 2)
	for _, state := range []model.OperationState{model.Processing, model.Completed} {
		op.OperationState, op.StateEnteredTime = state, time.Now().UTC()
		if state == model.Completed {
			op.ResourceChanges = &model.ResourceChanges{AffectedVnfcs: []model.AffectedVnfc{affectedVnfc("vnfc-1", model.ChangeAdded)}}
		}
		require.NoError(t, st.UpdateOpOcc(ctx, op))
	}
	require.NoError(t, st.DeleteInstance(ctx, inst.ID, inst.Revision))
	waitDelivered(t, s, sub.ID, 5)
	s.check(t)

	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, body := range bodies {
		var b map[string]any
		require.NoError(t, json.Unmarshal(body, &b))
		typ, _ := b["notificationType"].(string)
		etsischema.Validate(t, typ, body)
		got = append(got, fmt.Sprint(typ, " ", b["operationState"]))
		require.Equal(t, sub.ID, b["subscriptionId"])
	}
	require.Equal(t, []string{
		"VnfIdentifierCreationNotification <nil>",
		"VnfLcmOperationOccurrenceNotification STARTING",
		"VnfLcmOperationOccurrenceNotification PROCESSING",
		"VnfLcmOperationOccurrenceNotification COMPLETED",
		"VnfIdentifierDeletionNotification <nil>",
	}, got)
	require.Eventually(t, func() bool { return depth(t, raw) == 0 }, waitFor, tick)
}

// Subscriptions are served in parallel: the first notification of each is
// held until every subscription's first one has arrived, which cannot
// happen if they are served one after the other.
func TestDeliverSubscriptionsInParallel(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	s := newSubscriber(t)
	const subsN, each = 5, 25
	var arrived atomic.Int32
	all := make(chan struct{})
	var timedOut atomic.Bool
	var firstSeen sync.Map
	s.onPost = func(r *http.Request, body []byte) {
		var n struct {
			SubscriptionID string `json:"subscriptionId"`
			Seq            int    `json:"seq"`
		}
		_ = json.Unmarshal(body, &n)
		if n.Seq != 0 {
			return
		}
		if _, dup := firstSeen.LoadOrStore(n.SubscriptionID, true); dup {
			return
		}
		if arrived.Add(1) == subsN {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			timedOut.Store(true)
		}
	}
	var subs []*store.Subscription
	for i := range subsN {
		sub := e.subscribe(t, s.url(fmt.Sprintf("/cb/%d", i)), nil)
		subs = append(subs, sub)
		enqueueSeq(t, e.st, sub.ID, 0, each)
	}
	e.start(t, fastDelivery())
	for _, sub := range subs {
		waitDelivered(t, s, sub.ID, each)
	}
	require.False(t, timedOut.Load(), "subscriptions were not served in parallel")
	s.check(t)
	for _, sub := range subs {
		got, dups := s.delivered(sub.ID)
		require.Equal(t, seqRange(0, each), got, sub.ID)
		require.Zero(t, dups)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Equal(t, subsN, s.maxInflight, "all subscriptions in flight at once")
}

// A subscriber that fails for a while loses nothing, and order holds: a
// failed head holds back the rest.
func TestDeliverRetriesInOrder(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newDeliverEnv(t, b.open(t))
			s := newSubscriber(t)
			const failFirst, total = 12, 30
			s.setAnswer(func(r *http.Request, n int) int {
				switch {
				case n <= failFirst:
					return http.StatusInternalServerError
				case n%5 == 0: // and now and then afterwards
					return http.StatusServiceUnavailable
				}
				return http.StatusNoContent
			})
			sub := e.subscribe(t, s.url("/cb"), nil)
			enqueueSeq(t, e.st, sub.ID, 0, total/2)
			e.start(t, fastDelivery())
			require.Eventually(t, func() bool { return s.received() > failFirst/2 }, waitFor, tick)
			enqueueSeq(t, e.st, sub.ID, total/2, total-total/2)

			waitDelivered(t, s, sub.ID, total)
			s.check(t)
			got, dups := s.delivered(sub.ID)
			require.Equal(t, seqRange(0, total), got, "all delivered, in order")
			require.Equal(t, seqRange(0, total), s.firstReceipts(sub.ID), "none sent before its predecessor")
			var failures int
			for _, r := range s.all() {
				if r.status/100 != 2 {
					failures++
				}
			}
			t.Logf("%d POSTs: %d failed, %d duplicate deliveries", len(s.all()), failures, dups)
			require.GreaterOrEqual(t, failures, failFirst)
			require.Zero(t, dups, "a 2xx answer is final")
			// The first failures were all for the head.
			for _, r := range s.all()[:failFirst] {
				require.Equal(t, 0, r.seq)
			}
			require.Eventually(t, func() bool { return depth(t, e.st) == 0 }, waitFor, tick)
			require.Eventually(t, func() bool { return counter(t, e.reg, mDelivered) == total }, waitFor, tick)
			require.Equal(t, float64(failures), counter(t, e.reg, mFailed))
			require.Zero(t, counter(t, e.reg, mAbandoned))
			require.Contains(t, e.logs.String(), "notification delivery failed, will retry")
		})
	}
}

func (s *subscriber) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.receipts)
}

// A subscriber that is down (connection refused) gets everything once it
// is back on its address.
func TestDeliverSubscriberComesBack(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	first := newSubscriberOn(t, l)
	sub := e.subscribe(t, first.url("/cb"), nil)
	first.srv.Close()

	const total = 20
	enqueueSeq(t, e.st, sub.ID, 0, total)
	e.start(t, fastDelivery())
	// Several attempts fail.
	require.Eventually(t, func() bool {
		ns := pending(t, e.st, sub.ID)
		return len(ns) == total && ns[0].Attempts >= 3
	}, waitFor, tick)
	head := pending(t, e.st, sub.ID)[0]
	require.Contains(t, head.LastError, "connection refused")
	require.True(t, head.NextAttempt.After(head.CreatedAt))
	for _, n := range pending(t, e.st, sub.ID)[1:] {
		require.Zero(t, n.Attempts, "only the head is tried")
	}

	var l2 net.Listener
	require.Eventually(t, func() bool {
		l2, err = net.Listen("tcp", addr)
		return err == nil
	}, waitFor, 10*time.Millisecond, "listen again on %s", addr)
	second := newSubscriberOn(t, l2)
	waitDelivered(t, second, sub.ID, total)
	second.check(t)
	got, dups := second.delivered(sub.ID)
	require.Equal(t, seqRange(0, total), got)
	require.Zero(t, dups)
	require.Eventually(t, func() bool { return depth(t, e.st) == 0 }, waitFor, tick)
	require.GreaterOrEqual(t, counter(t, e.reg, mFailed), 3.0)
}

// A notification that keeps failing is given up after RetryFor: its row
// goes, the counter and the log say so, and the next one is tried.
// Other subscriptions are not held up meanwhile.
func TestDeliverGivesUp(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	bad, good := newSubscriber(t), newSubscriber(t)
	badSub := e.subscribe(t, bad.url("/cb"), nil)
	goodSub := e.subscribe(t, good.url("/cb"), nil)
	bad.setAnswer(func(*http.Request, int) int { return http.StatusBadGateway })

	ids := enqueueSeq(t, e.st, badSub.ID, 0, 3)
	enqueueSeq(t, e.st, goodSub.ID, 0, 10)
	cfg := fastDelivery()
	cfg.RetryFor = 300 * time.Millisecond
	e.start(t, cfg)
	waitDelivered(t, good, goodSub.ID, 10)

	require.Eventually(t, func() bool { return len(pending(t, e.st, badSub.ID)) == 0 }, waitFor, tick)
	require.Eventually(t, func() bool { return counter(t, e.reg, mAbandoned) == 3 }, waitFor, tick)
	require.Equal(t, []int{0, 1, 2}, bad.firstReceipts(badSub.ID), "each tried, in order")
	var head int
	for _, r := range bad.all() {
		if r.seq == 0 {
			head++
		}
	}
	require.Greater(t, head, 2, "the head was retried before it was given up")
	logs := e.logs.String()
	for _, id := range ids {
		require.Contains(t, logs, "notification_id="+id)
	}
	require.Equal(t, 3, strings.Count(logs, "notification given up"))
	require.Eventually(t, func() bool { return depth(t, e.st) == 0 }, waitFor, tick)
	bad.check(t)
	good.check(t)
}

func TestDeliverBasicAuth(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	s := newSubscriber(t)
	const user, pass = "nfvo", "b@sic:pässword"
	testsecrets.Register(pass)
	s.auth = func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == user && p == pass
	}
	sub := e.subscribe(t, s.url("/cb"), &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: user, Password: pass},
	})
	require.NotContains(t, string(sub.Sealed), pass)
	enqueueSeq(t, e.st, sub.ID, 0, 20)
	e.start(t, fastDelivery())
	waitDelivered(t, s, sub.ID, 20)
	for _, r := range s.all() {
		require.Equal(t, http.StatusNoContent, r.status, "every POST carried the credentials")
	}
	got, _ := s.delivered(sub.ID)
	require.Equal(t, seqRange(0, 20), got)
	s.check(t)

	// Without the right credentials nothing is accepted.
	wrong := putSubscription(t, e.st, s.url("/wrong"), nil)
	enqueueSeq(t, e.st, wrong.ID, 0, 1)
	require.Eventually(t, func() bool {
		ns := pending(t, e.st, wrong.ID)
		return len(ns) == 1 && ns[0].Attempts >= 2
	}, waitFor, tick)
	require.Contains(t, pending(t, e.st, wrong.ID)[0].LastError, "401")
	require.NotContains(t, e.logs.String(), pass)
}

// tokenServer is an OAuth 2.0 client-credentials token endpoint and the
// tokens it issued.
type tokenServer struct {
	mu         sync.Mutex
	id, secret string // the one client it knows
	valid      map[string]bool
	fetches    int
	bad        int // requests with wrong client credentials
}

func newTokenServer(id, secret string) *tokenServer {
	return &tokenServer{id: id, secret: secret, valid: map[string]bool{}}
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	_ = r.ParseForm()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok || id != ts.id || secret != ts.secret || r.PostForm.Get("grant_type") != "client_credentials" {
		ts.bad++
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	ts.fetches++
	tok := fmt.Sprintf("token-%d", ts.fetches)
	ts.valid[tok] = true
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func (ts *tokenServer) accepts(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ok && ts.valid[tok]
}

func (ts *tokenServer) setSecret(s string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.secret = s
}

func (ts *tokenServer) revokeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.valid)
}

func (ts *tokenServer) fetched() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.fetches
}

func TestDeliverOAuth2(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	testsecrets.Register("cl!ent secret")
	ts := newTokenServer("vnfm", "cl!ent secret")
	tokSrv := httptest.NewServer(ts)
	t.Cleanup(tokSrv.Close)
	s := newSubscriber(t)
	s.auth = ts.accepts
	sub := e.subscribe(t, s.url("/cb"), &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthOAuth2},
		ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
			ClientID: "vnfm", ClientPassword: "cl!ent secret", TokenEndpoint: tokSrv.URL + "/token",
		},
	})
	require.Equal(t, 1, ts.fetched(), "the callback test fetched a token")

	e.start(t, fastDelivery())
	enqueueSeq(t, e.st, sub.ID, 0, 30)
	waitDelivered(t, s, sub.ID, 30)
	require.Equal(t, 1, ts.fetched(), "one token for all of them")

	// The token is revoked: the next POST gets a 401, a new token is
	// fetched and delivery goes on.
	ts.revokeAll()
	enqueueSeq(t, e.st, sub.ID, 30, 30)
	waitDelivered(t, s, sub.ID, 60)
	require.Equal(t, 2, ts.fetched())
	got, dups := s.delivered(sub.ID)
	require.Equal(t, seqRange(0, 60), got)
	require.Zero(t, dups)
	var unauthorized []int
	for _, r := range s.all() {
		if r.status == http.StatusUnauthorized {
			unauthorized = append(unauthorized, r.seq)
		}
	}
	require.Equal(t, []int{30}, unauthorized, "one 401, answered by a refresh")
	require.Zero(t, counter(t, e.reg, mFailed), "the refresh is within the attempt")
	require.Zero(t, ts.bad)
	s.check(t)
}

// claimRecorder is a store that remembers what its Deliverer claimed.
type claimRecorder struct {
	store.Store
	mu      sync.Mutex
	claimed map[string]int
	calls   atomic.Int64
}

func (c *claimRecorder) ClaimOutbox(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]string, error) {
	c.calls.Add(1)
	ids, err := c.Store.ClaimOutbox(ctx, owner, now, leaseUntil, limit)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimed == nil {
		c.claimed = map[string]int{}
	}
	for _, id := range ids {
		c.claimed[id]++
	}
	return ids, err
}

func (c *claimRecorder) claims() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.claimed {
		n += k
	}
	return n
}

// Two replicas on one Postgres database share the work without ever
// serving one subscription at once, and keep every subscription's order.
func TestDeliverTwoReplicas(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresURL(t)
	open := func() *claimRecorder {
		log, _ := newLog(t)
		st, err := pgstore.Open(context.Background(), dsn, log)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return &claimRecorder{Store: st}
	}
	a, b := open(), open()
	box := newBox(t)
	log, logs := newLog(t)
	s := newSubscriber(t)
	s.delay = 2 * time.Millisecond
	s.setAnswer(func(_ *http.Request, n int) int {
		if n%11 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	subsN, rounds, each := 8, 4, 10
	var subs []*store.Subscription
	for i := range subsN {
		subs = append(subs, putSubscription(t, a, s.url(fmt.Sprintf("/cb/%d", i)), nil))
	}
	cfg := fastDelivery()
	cfg.Workers = 2
	for _, st := range []*claimRecorder{a, b} {
		d := NewDeliverer(st, box, callauth.NewTokens(nil, nil), &http.Client{}, log, prometheus.NewRegistry(), cfg)
		d.Start(t.Context())
		t.Cleanup(d.Stop)
	}
	// Enqueued in rounds, alternately through either replica's store,
	// while both deliver.
	for r := range rounds {
		st := []*claimRecorder{a, b}[r%2]
		for _, sub := range subs {
			enqueueSeq(t, st, sub.ID, r*each, each)
		}
		if r == 1 {
			require.Eventually(t, func() bool { return s.received() > subsN }, waitFor, tick)
		}
	}
	for _, sub := range subs {
		waitDelivered(t, s, sub.ID, rounds*each)
	}
	s.check(t)
	for _, sub := range subs {
		got, dups := s.delivered(sub.ID)
		require.Equal(t, seqRange(0, rounds*each), got, sub.ID)
		require.Equal(t, seqRange(0, rounds*each), s.firstReceipts(sub.ID), sub.ID)
		require.Zero(t, dups, sub.ID)
	}
	require.Eventually(t, func() bool { return depth(t, a) == 0 }, waitFor, tick)
	t.Logf("claims: replica a %d, replica b %d", a.claims(), b.claims())
	require.Positive(t, a.claims(), "replica a served")
	require.Positive(t, b.claims(), "replica b served")
	require.NotContains(t, logs.String(), "level=ERROR")
}

// Stop returns at once even with a POST in flight (it is abandoned, not
// counted as a failure), releases the leases and leaves what was not
// delivered in the outbox, where the next Deliverer finds it.
func TestDeliverStop(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			e := newDeliverEnv(t, b.open(t))
			s := newSubscriber(t)
			release := make(chan struct{})
			var hung atomic.Int32
			s.onPost = func(r *http.Request, body []byte) {
				if hung.Add(1) == 1 {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
			}
			sub := e.subscribe(t, s.url("/cb"), nil)
			enqueueSeq(t, e.st, sub.ID, 0, 5)
			cfg := fastDelivery()
			cfg.Timeout = time.Hour
			cfg.Lease = time.Hour
			d := NewDeliverer(e.st, e.box, e.tokens, &http.Client{}, e.log, e.reg, cfg)
			d.Stop() // before Start: nothing to stop
			d.Start(t.Context())
			require.Eventually(t, func() bool { return hung.Load() == 1 }, waitFor, tick)

			stopped := make(chan struct{})
			go func() { d.Stop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				close(release)
				t.Fatal("Stop did not return with a POST in flight")
			}
			d.Stop() // again: no-op
			ns := pending(t, e.st, sub.ID)
			require.Len(t, ns, 5, "nothing delivered, nothing lost")
			require.Zero(t, ns[0].Attempts, "a shutdown is not a failed attempt")
			require.Zero(t, counter(t, e.reg, mFailed))
			close(release)

			// Lease released: another Deliverer takes over without waiting
			// for the hour-long lease.
			e.start(t, fastDelivery())
			waitDelivered(t, s, sub.ID, 5)
			got, _ := s.delivered(sub.ID)
			require.Equal(t, seqRange(0, 5), got)
			require.Equal(t, 0, s.firstReceipts(sub.ID)[0])
			require.Eventually(t, func() bool { return depth(t, e.st) == 0 }, waitFor, tick)
		})
	}
}

// A subscription whose credentials cannot be opened (sealed with another
// key) fails like an unreachable callback: its notifications are retried
// with backoff and given up after RetryFor, instead of the subscription
// being claimed again and again in a tight loop.
func TestDeliverUnopenableCredentials(t *testing.T) {
	t.Parallel()
	raw := storetest.SQLite(t)
	rec := &claimRecorder{Store: raw}
	e := newDeliverEnv(t, rec)
	s := newSubscriber(t)
	other := newBox(t)
	sealed, err := other.Seal([]byte(`{"authType":["BASIC"],"paramsBasic":{"userName":"u","password":"p"}}`))
	require.NoError(t, err)
	sub := &store.Subscription{
		LccnSubscription: model.LccnSubscription{ID: newID("sub"), CallbackURI: s.url("/cb")},
		Key:              "k", Sealed: sealed,
	}
	require.NoError(t, raw.CreateSubscription(t.Context(), sub))
	enqueueSeq(t, raw, sub.ID, 0, 2)
	cfg := fastDelivery()
	cfg.RetryFor = 300 * time.Millisecond
	e.start(t, cfg)
	defer func() { t.Logf("%d claims", rec.calls.Load()) }()

	require.Eventually(t, func() bool { return depth(t, raw) == 0 }, waitFor, tick)
	require.Eventually(t, func() bool { return counter(t, e.reg, mAbandoned) == 2 }, waitFor, tick)
	require.Empty(t, s.all(), "nothing sent without the credentials")
	// 300 ms of retries with at least 5 ms (half the minimum backoff)
	// between attempts, plus polls: far fewer than a busy loop makes.
	require.Less(t, rec.calls.Load(), int64(300), "claims")
	require.Contains(t, e.logs.String(), "subscription credentials")
}

// Two Deliverers in one process (and one registry) count into the same
// metrics.
func TestDeliverSharedRegistry(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	s := newSubscriber(t)
	first := NewDeliverer(e.st, e.box, e.tokens, nil, e.log, e.reg, fastDelivery())
	_ = first // registered, never started
	sub := e.subscribe(t, s.url("/cb"), nil)
	enqueueSeq(t, e.st, sub.ID, 0, 3)
	e.start(t, fastDelivery()) // the second
	waitDelivered(t, s, sub.ID, 3)
	require.Eventually(t, func() bool { return counter(t, e.reg, mDelivered) == 3 }, waitFor, tick)
}

// A subscription deleted with notifications pending is not POSTed to
// again.
func TestDeliverDeletedSubscription(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, storetest.SQLite(t))
	s := newSubscriber(t)
	s.setAnswer(func(*http.Request, int) int { return http.StatusInternalServerError })
	sub := e.subscribe(t, s.url("/cb"), nil)
	enqueueSeq(t, e.st, sub.ID, 0, 3)
	d := e.start(t, fastDelivery())
	require.Eventually(t, func() bool { return s.received() >= 2 }, waitFor, tick)
	require.NoError(t, e.subs.Delete(t.Context(), sub.ID))
	require.Zero(t, depth(t, e.st))
	after := s.received()
	// Once its serving ends (a POST in flight may still fail) ...
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.held) == 0
	}, waitFor, tick)
	s.setAnswer(nil)
	other := e.subscribe(t, s.url("/other"), nil)
	enqueueSeq(t, e.st, other.ID, 0, 1)
	waitDelivered(t, s, other.ID, 1) // the Deliverer has been round again
	var late int
	for _, r := range s.all()[after:] {
		if r.subID == sub.ID {
			late++
		}
	}
	// At most the POST in flight when it was deleted.
	assert.LessOrEqual(t, late, 1)
}

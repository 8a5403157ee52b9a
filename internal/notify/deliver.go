package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// DeliveryConfig tunes a Deliverer. Zero values take the defaults.
type DeliveryConfig struct {
	// Workers bounds the subscriptions served at once by this process.
	Workers int
	// Lease is how long a claim on a subscription's outbox lasts without
	// renewal (another replica takes over after that).
	Lease time.Duration
	// Poll is how often the outbox is checked without a wakeup (other
	// replicas' notifications, retries that fell due).
	Poll time.Duration
	// RetryFor is how long a notification is retried before it is given up.
	RetryFor time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (with jitter)
	// between attempts.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one POST.
	Timeout time.Duration
	Now     func() time.Time
}

func (c *DeliveryConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Workers <= 0 {
		c.Workers = 32
	}
	def(&c.Lease, 30*time.Second)
	def(&c.Poll, time.Second)
	def(&c.RetryFor, 24*time.Hour)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, 5*time.Minute)
	def(&c.Timeout, 10*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Opener opens sealed subscription authentication (*secret.Box).
type Opener interface {
	Open(sealed []byte) ([]byte, error)
}

// Deliverer POSTs outbox notifications to their subscriptions' callbacks.
type Deliverer struct {
	st     store.Store
	box    Opener
	tokens *callauth.Tokens
	hc     *http.Client
	log    *slog.Logger
	cfg    DeliveryConfig
	id     string
	m      *metrics

	wake     chan struct{}
	mu       sync.Mutex
	held     map[string]bool // subscriptions being served here
	wg       sync.WaitGroup
	stop     context.CancelFunc
	loopDone chan struct{}
}

type metrics struct {
	delivered prometheus.Counter
	failed    prometheus.Counter
	abandoned prometheus.Counter
	latency   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "vnfm_notifications_delivered_total", Help: "Notifications delivered to subscribers."}),
		failed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "vnfm_notification_delivery_failures_total", Help: "Failed notification delivery attempts (each is retried)."}),
		abandoned: prometheus.NewCounter(prometheus.CounterOpts{Name: "vnfm_notifications_abandoned_total", Help: "Notifications given up after the retry window."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vnfm_notification_delivery_latency_seconds", Help: "From the state change to the subscriber's answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}),
	}
	if reg != nil {
		// A second Deliverer in one process (tests) shares the first's.
		m.delivered = register(reg, m.delivered)
		m.failed = register(reg, m.failed)
		m.abandoned = register(reg, m.abandoned)
		m.latency = register(reg, m.latency)
	}
	return m
}

// register registers c, or returns the collector already registered in
// its place.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	var are prometheus.AlreadyRegisteredError
	if err := reg.Register(c); errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}

// NewDeliverer makes a Deliverer; Start runs it. hc carries the transport
// (TLS settings); each POST is bounded by cfg.Timeout. reg may be nil.
func NewDeliverer(st store.Store, box Opener, tokens *callauth.Tokens, hc *http.Client, log *slog.Logger, reg prometheus.Registerer, cfg DeliveryConfig) *Deliverer {
	cfg.defaults()
	if hc == nil {
		hc = &http.Client{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Deliverer{
		st: st, box: box, tokens: tokens, hc: hc, log: log, cfg: cfg, m: newMetrics(reg),
		id: "notify-" + hex.EncodeToString(b), wake: make(chan struct{}, 1), held: map[string]bool{},
	}
}

// Notify wakes the delivery loop.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the delivery loop until Stop.
func (d *Deliverer) Start(ctx context.Context) {
	ctx, d.stop = context.WithCancel(context.WithoutCancel(ctx))
	d.loopDone = make(chan struct{})
	go d.loop(ctx)
}

// Stop ends the loop and waits for deliveries in flight (undelivered
// notifications stay in the outbox for the next run or another replica).
func (d *Deliverer) Stop() {
	if d.stop == nil {
		return
	}
	d.stop()
	<-d.loopDone
	d.wg.Wait()
}

func (d *Deliverer) loop(ctx context.Context) {
	defer close(d.loopDone)
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	renew := time.NewTicker(d.cfg.Lease / 3)
	defer renew.Stop()
	for {
		d.claim(ctx)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-poll.C:
		case <-renew.C:
			d.renew(ctx)
		}
	}
}

func (d *Deliverer) claim(ctx context.Context) {
	d.mu.Lock()
	free := d.cfg.Workers - len(d.held)
	d.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return
	}
	now := d.cfg.Now()
	ids, err := d.st.ClaimOutbox(ctx, d.id, now, now.Add(d.cfg.Lease), free)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("claim outbox", "err", err)
		}
		return
	}
	for _, id := range ids {
		d.mu.Lock()
		if d.held[id] {
			d.mu.Unlock()
			continue
		}
		d.held[id] = true
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.serve(ctx, id)
			d.mu.Lock()
			delete(d.held, id)
			d.mu.Unlock()
			// Something may have been enqueued while the lease was held.
			d.Notify()
		}()
	}
}

func (d *Deliverer) renew(ctx context.Context) {
	d.mu.Lock()
	ids := make([]string, 0, len(d.held))
	for id := range d.held {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := d.st.RenewOutbox(ctx, d.id, ids, d.cfg.Now().Add(d.cfg.Lease)); err != nil {
		d.log.Error("renew outbox leases", "err", err)
	}
}

// serve delivers one subscription's due notifications in order, then
// releases its lease. A failure defers the head and stops: later ones wait
// behind it, which keeps the order.
func (d *Deliverer) serve(ctx context.Context, subID string) {
	dbCtx := context.WithoutCancel(ctx)
	defer func() {
		if err := d.st.ReleaseOutbox(dbCtx, d.id, subID); err != nil {
			d.log.Error("release outbox", "subscription_id", subID, "err", err)
		}
	}()
	log := d.log.With("subscription_id", subID)
	sub, err := d.st.GetSubscription(ctx, subID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Error("read subscription", "err", err)
		}
		return
	}
	client, err := d.client(sub)
	if err != nil {
		log.Error("subscription credentials", "err", err)
		// A failed attempt on the head, as for a failed POST: retried with
		// backoff, given up after RetryFor, not claimed again at once.
		if head, perr := d.st.PendingNotifications(ctx, subID, 1); perr == nil && len(head) > 0 && !head[0].NextAttempt.After(d.cfg.Now()) {
			d.m.failed.Inc()
			d.failed(dbCtx, log, &head[0], err)
		}
		return
	}
	for ctx.Err() == nil {
		batch, err := d.st.PendingNotifications(ctx, subID, 32)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("read outbox", "err", err)
			}
			return
		}
		if len(batch) == 0 {
			return
		}
		for i := range batch {
			n := &batch[i]
			if n.NextAttempt.After(d.cfg.Now()) {
				return
			}
			err := d.post(ctx, client, sub.CallbackURI, n.Body)
			if ctx.Err() != nil {
				return // shutting down: it stays queued
			}
			if err == nil {
				if err := d.st.DeleteNotification(dbCtx, n.Seq); err != nil {
					log.Error("remove delivered notification", "err", err)
					return
				}
				d.m.delivered.Inc()
				d.m.latency.Observe(d.cfg.Now().Sub(n.CreatedAt).Seconds())
				continue
			}
			d.m.failed.Inc()
			d.failed(dbCtx, log, n, err)
			return
		}
	}
}

// failed defers n with backoff, or gives it up after the retry window.
func (d *Deliverer) failed(ctx context.Context, log *slog.Logger, n *store.Notification, cause error) {
	now := d.cfg.Now()
	if now.Sub(n.CreatedAt) >= d.cfg.RetryFor {
		d.m.abandoned.Inc()
		log.Warn("notification given up", "notification_id", n.ID, "attempts", n.Attempts+1,
			"since", n.CreatedAt, "err", cause)
		if err := d.st.DeleteNotification(ctx, n.Seq); err != nil {
			log.Error("remove abandoned notification", "err", err)
		}
		return
	}
	n.Attempts++
	n.NextAttempt = now.Add(d.backoff(n.Attempts))
	n.LastError = cause.Error()
	if n.Attempts == 1 || n.Attempts%10 == 0 {
		log.Warn("notification delivery failed, will retry", "notification_id", n.ID, "attempts", n.Attempts, "next", n.NextAttempt, "err", cause)
	}
	if err := d.st.DeferNotification(ctx, n); err != nil {
		log.Error("defer notification", "err", err)
	}
}

// backoff is min·2^(attempt-1), capped, with "equal jitter": half fixed,
// half random, so that many subscribers that failed together spread out.
func (d *Deliverer) backoff(attempt int) time.Duration {
	b := d.cfg.MinBackoff
	for i := 1; i < attempt && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	half := b / 2
	return half + time.Duration(mrand.Int64N(int64(half)+1))
}

func (d *Deliverer) client(sub *store.Subscription) (*callauth.Client, error) {
	auth, err := OpenAuth(d.box, sub.Sealed)
	if err != nil {
		return nil, err
	}
	return d.tokens.Client(d.hc, auth)
}

// OpenAuth opens a subscription's sealed authentication (nil when none).
func OpenAuth(box Opener, sealed []byte) (*model.SubscriptionAuthentication, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	raw, err := box.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("open subscription authentication: %w", err)
	}
	var a model.SubscriptionAuthentication
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode subscription authentication: %w", err)
	}
	return &a, nil
}

// errStatus is a callback's unexpected answer.
type errStatus struct {
	code int
	body string
}

func (e *errStatus) Error() string {
	if e.body == "" {
		return fmt.Sprintf("callback answered %d", e.code)
	}
	return fmt.Sprintf("callback answered %d: %s", e.code, e.body)
}

func (d *Deliverer) post(ctx context.Context, c *callauth.Client, uri string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("callback request: %w", err)
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Version", APIVersion)
	resp, err := c.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", uri, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return &errStatus{code: resp.StatusCode, body: string(bytes.TrimSpace(snippet))}
	}
	return nil
}

// APIVersion is the VNF LCM interface version notifications are sent as.
const APIVersion = "1.3.0"

// Package metrics exposes vnfm's Prometheus metrics: HTTP requests by route,
// LCM operation occurrences and their steps, the notification outbox, the
// database connection pool and the Go runtime.
//
// Labels are bounded by construction: HTTP requests are labelled with chi's
// route pattern (never the raw path, which carries ids), a method from a
// fixed list and the status code; operations, states and step names come
// from the code, not from clients.
package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vnfm-project/vnfm/internal/conductor"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// ScrapeTimeout bounds the database queries of one scrape.
const ScrapeTimeout = 5 * time.Second

// DB is what a scrape reads from the database.
type DB interface {
	CountOpOccs(ctx context.Context) ([]store.OpOccCount, error)
	OutboxDepth(ctx context.Context) (int64, error)
}

// Optional capabilities of the concrete stores, for pool statistics.
type (
	pgxPool   interface{ PoolStat() *pgxpool.Stat }
	sqlHandle interface{ DB() *sql.DB }
)

// Metrics holds the metrics vnfm code updates. It implements
// conductor.Observer.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	opOccs   *prometheus.HistogramVec
	steps    *prometheus.HistogramVec
}

var _ conductor.Observer = (*Metrics)(nil)

// Register creates vnfm's metrics on reg, with collectors that read db
// at every scrape. When db is a concrete store with pool statistics
// (pgstore's PoolStat, sqlitestore's DB) they are collected too.
func Register(reg prometheus.Registerer, db DB, log *slog.Logger) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vnfm_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vnfm_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern, method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vnfm_http_requests_in_flight",
			Help: "HTTP requests being answered.",
		}),
		opOccs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vnfm_op_occ_duration_seconds",
			Help: "Time from an LCM operation occurrence's start to a final state or FAILED_TEMP.",
			// Operations take seconds (scripted, modify) to an hour (a
			// cluster with many nodes).
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"operation", "state"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vnfm_step_duration_seconds",
			Help:    "Duration of one attempt of an LCM workflow step (a driver call), by result: ok, transient (retried), error, panic, cancelled.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12), // 10 ms to 30 min
		}, []string{"operation", "step", "result"}),
	}
	cs := []prometheus.Collector{
		m.requests, m.duration, m.inFlight, m.opOccs, m.steps,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newDBCollector(db, log),
	}
	switch p := db.(type) {
	case pgxPool:
		cs = append(cs, newPoolCollector(p))
	case sqlHandle:
		cs = append(cs, collectors.NewDBStatsCollector(p.DB(), "sqlite"))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// StepAttempted observes one attempt of a step.
func (m *Metrics) StepAttempted(op model.Operation, step string, result conductor.StepResult, d time.Duration) {
	m.steps.WithLabelValues(string(op), step, string(result)).Observe(d.Seconds())
}

// OpOccEnded observes an op occ reaching a final state or FAILED_TEMP.
func (m *Metrics) OpOccEnded(op model.Operation, state model.OperationState, d time.Duration) {
	m.opOccs.WithLabelValues(string(op), string(state)).Observe(d.Seconds())
}

// unmatchedRoute labels requests no route matched (404s outside any
// subrouter).
const unmatchedRoute = "unmatched"

// knownMethods bounds the method label: a client may send any token.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// Middleware counts and times requests. It must run inside a chi router
// (as a middleware of it): the route pattern is read from chi's routing
// context once the request is answered.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := routeOf(r)
		method := r.Method
		if !knownMethods[method] {
			method = "OTHER"
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		status := strconv.Itoa(code)
		m.requests.WithLabelValues(route, method, status).Inc()
		m.duration.WithLabelValues(route, method, status).Observe(time.Since(start).Seconds())
	})
}

// routeOf is the route pattern the request was routed to; for one
// answered before routing (429 from the rate limit) the pattern it would
// have been routed to.
func routeOf(r *http.Request) string {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return unmatchedRoute
	}
	if p := rc.RoutePattern(); p != "" {
		return p
	}
	if rc.Routes == nil {
		return unmatchedRoute
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	p := rc.Routes.Find(chi.NewRouteContext(), r.Method, path)
	if p == "" {
		return unmatchedRoute
	}
	if p != "/" {
		p = strings.TrimSuffix(strings.TrimSuffix(p, "//"), "/")
	}
	return p
}

// statusWriter records the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

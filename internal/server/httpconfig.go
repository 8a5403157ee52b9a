package server

import (
	"net/http"
	"time"

	"github.com/vnfm-project/vnfm/internal/metrics"
	"github.com/vnfm-project/vnfm/internal/ratelimit"
)

// HTTPConfig bounds what clients may do to the listener.
type HTTPConfig struct {
	// RateLimit is the requests/s one client may sustain (0 = no limit);
	// RateBurst how many it may send at once (0 = RateLimit rounded up).
	// Probes and scrapes (/healthz, /readyz, /metrics) are never limited.
	RateLimit float64
	RateBurst int
	// ClientKey names the client of a request for rate limiting; nil = its
	// remote address (IPv6 by /64). Authentication may return the principal.
	ClientKey func(*http.Request) string
	// Slow clients are cut off after these; zero = the defaults: 10 s to
	// send the headers, 60 s the whole request, 60 s to take the response,
	// 120 s idle between requests.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// NoRequestMetrics leaves out the per-request HTTP metrics (to measure
	// what they cost).
	NoRequestMetrics bool
}

func (c HTTPConfig) withDefaults() HTTPConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 60*time.Second)
	def(&c.WriteTimeout, 60*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	return c
}

// httpMiddleware is what runs on every request before routing: metrics
// first, so that 429s are counted too.
func (s *Server) httpMiddleware(m *metrics.Metrics) []func(http.Handler) http.Handler {
	var mw []func(http.Handler) http.Handler
	if !s.cfg.HTTP.NoRequestMetrics {
		mw = append(mw, m.Middleware)
	}
	if l := ratelimit.New(ratelimit.Config{Rate: s.cfg.HTTP.RateLimit, Burst: s.cfg.HTTP.RateBurst, Key: s.cfg.HTTP.ClientKey}); l != nil {
		s.log.Info("rate limit per client", "requests_per_second", s.cfg.HTTP.RateLimit, "burst", s.cfg.HTTP.RateBurst)
		mw = append(mw, l.Middleware)
	}
	return mw
}

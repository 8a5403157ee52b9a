// Package ratelimit bounds how fast each client may call the API: a token
// bucket per client (golang.org/x/time/rate); an empty bucket answers 429
// Too Many Requests with Retry-After.
//
// The clients tracked are bounded: a bucket idle long enough to have
// refilled is the same as a new one, so it is forgotten, and beyond
// MaxClients the least recently seen client is forgotten first. An attacker
// with many addresses can always get fresh buckets; what the bound
// prevents is that they grow the map without limit.
package ratelimit

import (
	"container/list"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vnfm-project/vnfm/internal/model"
)

// DefaultMaxClients bounds the buckets kept when Config.MaxClients is 0.
const DefaultMaxClients = 10000

// DefaultExempt are paths never limited: probes and scrapes come from a
// few addresses at a fixed pace and must not be starved by API traffic
// from the same address.
var DefaultExempt = []string{"/healthz", "/readyz", "/metrics"}

// Config configures a Limiter.
type Config struct {
	// Rate is the sustained requests per second allowed to one client.
	Rate float64
	// Burst is how many requests a client may send at once; < 1 = the
	// rate rounded up (at least 1).
	Burst int
	// Key names the client of a request; nil = RemoteIP. Authentication
	// may key by principal instead, with a middleware that runs before
	// this one setting it in the request context.
	Key func(r *http.Request) string
	// MaxClients bounds the buckets kept; 0 = DefaultMaxClients.
	MaxClients int
	// Exempt are paths (exact) that are never limited; nil = DefaultExempt.
	Exempt []string
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Limiter is a per-client rate limit.
type Limiter struct {
	cfg    Config
	exempt map[string]bool
	// idle is how long a bucket takes to refill completely: after that a
	// client's bucket equals a fresh one.
	idle time.Duration

	mu      sync.Mutex
	clients map[string]*list.Element // of *client
	lru     list.List                // front = most recently seen
}

type client struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter; nil when cfg.Rate is not positive (no limit).
func New(cfg Config) *Limiter {
	if cfg.Rate <= 0 {
		return nil
	}
	if cfg.Burst < 1 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	if cfg.Key == nil {
		cfg.Key = RemoteIP
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Exempt == nil {
		cfg.Exempt = DefaultExempt
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{
		cfg:     cfg,
		exempt:  map[string]bool{},
		idle:    time.Duration(min(float64(cfg.Burst)/cfg.Rate, 86400) * float64(time.Second)),
		clients: map[string]*list.Element{},
	}
	for _, p := range cfg.Exempt {
		l.exempt[p] = true
	}
	return l
}

// Middleware answers 429 to a client over its rate. A nil Limiter passes
// every request through.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.exempt[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		if wait := l.reserve(l.cfg.Key(r)); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(w).Encode(model.ProblemDetails{
				Status: http.StatusTooManyRequests, Title: "Too Many Requests",
				Detail: fmt.Sprintf("this client sent more than %g requests/s (burst %d); retry after %d s", l.cfg.Rate, l.cfg.Burst, secs),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// reserve takes a token from key's bucket and returns 0, or how long until
// one is available (taking none).
func (l *Limiter) reserve(key string) time.Duration {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evictIdle(now)
	var c *client
	if e, ok := l.clients[key]; ok {
		c = e.Value.(*client)
		l.lru.MoveToFront(e)
	} else {
		if len(l.clients) >= l.cfg.MaxClients {
			l.remove(l.lru.Back())
		}
		c = &client{key: key, lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.clients[key] = l.lru.PushFront(c)
	}
	c.seen = now
	res := c.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now) // a refused request does not use up the future
		return d
	}
	return 0
}

// evictIdle forgets refilled buckets. The list is ordered by last use, so
// this looks only at its tail: O(1) per request amortized.
func (l *Limiter) evictIdle(now time.Time) {
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*client).seen) >= l.idle; e = l.lru.Back() {
		l.remove(e)
	}
}

func (l *Limiter) remove(e *list.Element) {
	l.lru.Remove(e)
	delete(l.clients, e.Value.(*client).key)
}

// Clients is how many buckets are kept (for tests).
func (l *Limiter) Clients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// RemoteIP keys a request by its peer address; IPv6 addresses by their /64,
// which one host usually has to itself. Forwarding headers are not
// trusted: any client can set them.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

package auth

import (
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vnfm-project/vnfm/internal/ratelimit"
)

// failLimiter bounds wrong credentials per client IP: burst of them, then
// one per every. Only failures use it up; a password check in flight
// counts as a failure until it succeeds, so parallel guesses cannot
// overshoot the budget.
type failLimiter struct {
	every time.Duration
	burst int

	mu        sync.Mutex
	m         map[string]*failEntry
	lastSweep time.Time
}

type failEntry struct {
	lim      *rate.Limiter
	inflight int
}

func newFailLimiter(burst int, every time.Duration) *failLimiter {
	if burst <= 0 {
		burst = 10
	}
	if every <= 0 {
		every = 6 * time.Second
	}
	return &failLimiter{every: every, burst: burst, m: map[string]*failEntry{}}
}

// clientKey is the client's IP (an IPv6 client's /64), as the general
// rate limiter keys it.
func clientKey(r *http.Request) string { return ratelimit.RemoteIP(r) }

func (l *failLimiter) entry(key string, now time.Time) *failEntry {
	if now.Sub(l.lastSweep) > time.Minute {
		// Entries that have refilled are as good as new: drop them, so
		// that the map holds only recent offenders.
		for k, e := range l.m {
			if e.inflight == 0 && e.lim.TokensAt(now) >= float64(l.burst) {
				delete(l.m, k)
			}
		}
		l.lastSweep = now
	}
	e := l.m[key]
	if e == nil {
		e = &failEntry{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.m[key] = e
	}
	return e
}

// wait is how long until key may fail once more; 0 = now.
func (l *failLimiter) wait(e *failEntry, now time.Time) time.Duration {
	left := e.lim.TokensAt(now) - float64(e.inflight)
	if left >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - left) * float64(l.every)))
}

// begin starts a password check for key; it returns the wait when key has
// no failures left, and otherwise a done func to call with the outcome.
func (l *failLimiter) begin(key string, now time.Time) (done func(ok bool, at time.Time), wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key, now)
	if w := l.wait(e, now); w > 0 {
		return nil, w
	}
	e.inflight++
	return func(ok bool, at time.Time) {
		l.mu.Lock()
		defer l.mu.Unlock()
		e.inflight--
		if !ok {
			e.lim.AllowN(at, 1)
		}
	}, 0
}

// fail records a failure that needed no password check (a bad token); it
// returns the wait when key was already out of failures.
func (l *failLimiter) fail(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(key, now)
	if w := l.wait(e, now); w > 0 {
		return w
	}
	e.lim.AllowN(now, 1)
	return 0
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

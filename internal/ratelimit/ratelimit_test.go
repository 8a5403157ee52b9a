package ratelimit_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/ratelimit"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func call(h http.Handler, remote, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestBurstThen429WithRetryAfter(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1e9, 0)}
	l := ratelimit.New(ratelimit.Config{Rate: 0.5, Burst: 3, Now: clk.Now})
	h := l.Middleware(ok)
	for i := range 3 {
		require.Equal(t, http.StatusNoContent, call(h, "10.0.0.1:1000", "/x").Code, "request %d is within the burst", i)
	}
	w := call(h, "10.0.0.1:1001", "/x") // another port, same client
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "2", w.Header().Get("Retry-After"), "one token every 2 s")
	assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	var pd model.ProblemDetails
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &pd))
	assert.Equal(t, http.StatusTooManyRequests, pd.Status)
	assert.Contains(t, pd.Detail, "retry after 2 s")

	assert.Equal(t, http.StatusNoContent, call(h, "10.0.0.2:1000", "/x").Code, "other clients have their own bucket")
	assert.Equal(t, http.StatusNoContent, call(h, "10.0.0.1:1000", "/healthz").Code, "probes are exempt")

	// Refused requests took no token: after 2 s exactly one is back.
	clk.Add(2 * time.Second)
	assert.Equal(t, http.StatusNoContent, call(h, "10.0.0.1:1000", "/x").Code)
	assert.Equal(t, http.StatusTooManyRequests, call(h, "10.0.0.1:1000", "/x").Code)
}

func TestClientsBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1e9, 0)}
	l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, MaxClients: 100, Now: clk.Now})
	h := l.Middleware(ok)
	for i := range 1000 {
		call(h, fmt.Sprintf("10.1.%d.%d:1", i/256, i%256), "/x")
	}
	assert.Equal(t, 100, l.Clients(), "the least recently seen are forgotten")
	// The most recent client was kept with its empty bucket.
	assert.Equal(t, http.StatusTooManyRequests, call(h, "10.1.3.231:1", "/x").Code)

	// Buckets that refilled (1 s at 1/s for a burst of 1) are forgotten.
	clk.Add(1500 * time.Millisecond)
	call(h, "10.9.9.9:1", "/x")
	assert.Equal(t, 1, l.Clients())
}

func TestRemoteIP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:5555", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5555", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:5555", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"not-an-address", "not-an-address"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		assert.Equal(t, tc.want, ratelimit.RemoteIP(r), tc.remote)
	}
}

func TestKeyHookAndOff(t *testing.T) {
	t.Parallel()
	assert.Nil(t, ratelimit.New(ratelimit.Config{}), "no rate, no limiter")
	var nilLimiter *ratelimit.Limiter
	assert.Equal(t, http.StatusNoContent, call(nilLimiter.Middleware(ok), "1.2.3.4:1", "/x").Code)

	l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, Key: func(r *http.Request) string { return r.Header.Get("X-Principal") }})
	h := l.Middleware(ok)
	req := func(principal string) int {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("X-Principal", principal)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, http.StatusNoContent, req("alice"))
	assert.Equal(t, http.StatusTooManyRequests, req("alice"))
	assert.Equal(t, http.StatusNoContent, req("bob"), "same address, other principal")
}

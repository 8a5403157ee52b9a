package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFailureRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "basic,oauth2", func(c *Config) { c.FailBurst, c.FailEvery = 3, 6*time.Second })
	const ip, other = "198.51.100.7:1000", "198.51.100.8:1000"
	get := func(remote, authz string) result {
		t.Helper()
		return f.doFrom(remote, "GET", "/vnflcm/v1/vnf_instances", "", "Authorization", authz)
	}
	good, bad := basic("alice", alicePassword), basic("alice", "wrong-password")
	tok := f.clientToken("rw", rwSecret, "")

	// Successes never count: many of them, then the whole failure budget.
	for range 20 {
		require.Equal(t, 200, get(ip, good).status)
		require.Equal(t, 200, get(ip, bearer(tok)).status)
	}
	require.Equal(t, 401, f.doFrom(ip, "GET", "/vnflcm/v1/vnf_instances", "").status, "no credentials is no failure")
	for range 3 {
		require.Equal(t, 401, get(ip, bad).status)
	}
	res := get(ip, bad)
	require.Equal(t, 429, res.status)
	require.Equal(t, "6", res.header.Get("Retry-After"))
	require.Contains(t, res.body, "retry after 6 s")

	// Blocked: passwords are not even checked (a blocked guesser learns
	// nothing), bad tokens are refused too, good tokens still work.
	require.Equal(t, 429, get(ip, good).status)
	require.Equal(t, 429, get(ip, "Bearer garbage").status)
	status, m := f.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"rw"}, "client_secret": {rwSecret}})
	require.Equal(t, 200, status, "the fixture's address is another one: %v", m)
	require.Equal(t, 200, get(ip, bearer(tok)).status)
	// Another address has its own budget.
	require.Equal(t, 401, get(other, bad).status)
	require.Equal(t, 200, get(other, good).status)

	// One failure back per 6 s.
	f.clock.Add(3 * time.Second)
	res = get(ip, bad)
	require.Equal(t, 429, res.status)
	require.Equal(t, "3", res.header.Get("Retry-After"))
	f.clock.Add(3 * time.Second)
	require.Equal(t, 200, get(ip, good).status)
	require.Equal(t, 401, get(ip, bad).status)
	require.Equal(t, 429, get(ip, bad).status)
	f.clock.Add(18 * time.Second)
	for range 3 {
		require.Equal(t, 401, get(ip, bad).status)
	}
	require.Equal(t, 429, get(ip, bad).status)
}

func TestTokenEndpointRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "oauth2", func(c *Config) { c.FailBurst = 2 })
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"rw"}, "client_secret": {"wrong"}}
	for range 2 {
		status, m := f.token(form)
		require.Equal(t, 401, status)
		require.Equal(t, "invalid_client", m["error"])
	}
	res := f.do("POST", TokenPath, form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, 429, res.status)
	require.Equal(t, "6", res.header.Get("Retry-After"))
	require.Contains(t, res.body, `"error":"slow_down"`)
	form.Set("client_secret", rwSecret)
	status, _ := f.token(form)
	require.Equal(t, 429, status, "blocked: the secret is not checked")
}

// TestFailureLimitParallel: guesses in flight count, so a burst of
// parallel guesses gets no more than the budget checked.
func TestFailureLimitParallel(t *testing.T) {
	t.Parallel()
	l := newFailLimiter(5, time.Minute)
	now := time.Now()
	var dones []func(bool, time.Time)
	blocked := 0
	for range 20 {
		done, wait := l.begin("k", now)
		if done == nil {
			require.Positive(t, wait)
			blocked++
			continue
		}
		dones = append(dones, done)
	}
	require.Len(t, dones, 5)
	require.Equal(t, 15, blocked)
	var wg sync.WaitGroup
	for i, d := range dones {
		wg.Go(func() { d(i == 0, now) })
	}
	wg.Wait()
	// One succeeded: its slot is back, the four failures are spent.
	done, _ := l.begin("k", now)
	require.NotNil(t, done)
	done, _ = l.begin("k", now)
	require.Nil(t, done)
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.9]:80", "192.0.2.9"},
		{"@", "@"},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			t.Parallel()
			r := newRequest(tc.remote)
			require.Equal(t, tc.want, clientKey(r))
		})
	}
}

func TestFailLimiterSweep(t *testing.T) {
	t.Parallel()
	l := newFailLimiter(2, time.Second)
	now := time.Now()
	require.Zero(t, l.fail("a", now))
	require.Zero(t, l.fail("b", now))
	require.Len(t, l.m, 2)
	// After a minute both have refilled: the next use sweeps them.
	require.Zero(t, l.fail("c", now.Add(2*time.Minute)))
	require.Len(t, l.m, 1)
}

func newRequest(remote string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	return r
}

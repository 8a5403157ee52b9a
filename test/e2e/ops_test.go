package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/sqlitestore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// scrape reads /metrics in the Prometheus text format.
func (e *env) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.do("GET", "/metrics", nil)
	require.Equal(t, 200, r.status)
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	require.NoError(t, err)
	return mfs
}

// series returns the metrics of family name whose labels include want.
func series(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	mf, ok := mfs[name]
	if !ok {
		return nil
	}
	var out []*dto.Metric
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && have[k] == v
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

// value is the single gauge, counter or untyped value, or histogram count,
// of name with labels want; -1 when there is no such series.
func value(t testing.TB, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	ms := series(mfs, name, want)
	if len(ms) == 0 {
		return -1
	}
	require.Len(t, ms, 1, "%s%v matches several series", name, want)
	m := ms[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	t.Fatalf("%s: unexpected metric type", name)
	return 0
}

type metricLabels = map[string]string

// TestMetricsAfterRequestsAndOperations: real requests and LCM operations
// show up on /metrics, labelled by route pattern (never by id), with op occ
// counts read from the database and pool statistics of the store.
func TestMetricsAfterRequestsAndOperations(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		ok := e.create()
		okOp := e.task(ok, "instantiate", withScript(map[string]string{"instantiate": "transient:1"}))
		bad := e.create()
		badOp := e.task(bad, "instantiate", withScript(map[string]string{"instantiate": "fail"}))
		e.wait(okOp, "COMPLETED")
		e.wait(badOp, "FAILED_TEMP")
		e.instance(ok)
		require.Equal(t, 404, e.do("GET", "/no/such/"+ok, nil).status)

		mfs := e.scrape(t)
		get := func(name string, l metricLabels) float64 { return value(t, mfs, name, l) }

		inst := metricLabels{"route": "/vnflcm/v1/vnf_instances/{id}", "method": "GET", "code": "200"}
		assert.GreaterOrEqual(t, get("vnfm_http_requests_total", inst), 1.0)
		assert.Equal(t, get("vnfm_http_requests_total", inst), get("vnfm_http_request_duration_seconds", inst), "one observation per request")
		assert.Equal(t, 2.0, get("vnfm_http_requests_total", metricLabels{"route": "/vnflcm/v1/vnf_instances/{id}/instantiate", "method": "POST", "code": "202"}))
		assert.Equal(t, 1.0, get("vnfm_http_requests_total", metricLabels{"route": "unmatched", "method": "GET", "code": "404"}))
		assert.Equal(t, 1.0, get("vnfm_http_requests_in_flight", nil), "the scrape itself")
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					for _, id := range []string{ok, bad, okOp, badOp} {
						require.NotContains(t, l.GetValue(), id, "%s has an id in label %s", mf.GetName(), l.GetName())
					}
				}
			}
		}

		inst2 := func(state string) metricLabels { return metricLabels{"operation": "INSTANTIATE", "state": state} }
		assert.Equal(t, 1.0, get("vnfm_op_occs", inst2("COMPLETED")))
		assert.Equal(t, 1.0, get("vnfm_op_occs", inst2("FAILED_TEMP")))
		assert.Equal(t, 0.0, get("vnfm_op_occs", metricLabels{"operation": "HEAL", "state": "PROCESSING"}), "known pairs read 0, not absent")
		assert.Equal(t, 1.0, get("vnfm_op_occ_duration_seconds", inst2("COMPLETED")))
		assert.Equal(t, 1.0, get("vnfm_op_occ_duration_seconds", inst2("FAILED_TEMP")))
		step := func(result string) metricLabels {
			return metricLabels{"operation": "INSTANTIATE", "step": "infra_instantiate", "result": result}
		}
		assert.Equal(t, 1.0, get("vnfm_step_duration_seconds", step("transient")))
		assert.Equal(t, 1.0, get("vnfm_step_duration_seconds", step("ok")))
		assert.Equal(t, 1.0, get("vnfm_step_duration_seconds", step("error")))

		assert.Equal(t, 0.0, get("vnfm_notification_outbox_depth", nil))
		assert.Equal(t, 1.0, get("vnfm_database_up", nil))
		assert.Positive(t, get("go_goroutines", nil))
		assert.Positive(t, get("process_resident_memory_bytes", nil))
		if _, pg := e.st.(*pgstore.Store); pg {
			assert.Positive(t, get("vnfm_db_pool_max_conns", nil))
			assert.Positive(t, get("vnfm_db_pool_acquires_total", nil))
		} else {
			assert.Equal(t, 8.0, get("go_sql_max_open_connections", metricLabels{"db_name": "sqlite"}))
		}
	})
}

// TestReadyzWhenDatabaseCloses: /readyz turns 503 when the database goes
// away; /healthz (liveness) stays 200.
func TestReadyzWhenDatabaseCloses(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/readyz", nil)
		require.Equal(t, 200, r.status, "%s", r.body)
		require.NoError(t, e.st.Close())
		r = e.do("GET", "/readyz", nil)
		require.Equal(t, 503, r.status)
		assert.Equal(t, "not ready: database unreachable", r.json(t)["detail"])
		assert.Equal(t, 200, e.do("GET", "/healthz", nil).status)
		mfs := e.scrape(t)
		assert.Equal(t, 0.0, value(t, mfs, "vnfm_database_up", nil), "a scrape still answers")
	})
}

// TestReadyzNeedsMigrations: a database without the binary's latest
// migration is not ready, and the answer says which version it is at.
func TestReadyzNeedsMigrations(t *testing.T) {
	t.Parallel()
	type opened struct {
		st      store.Store
		migrate func(context.Context) error
		exec    func(ctx context.Context, sql string) error
	}
	for name, open := range map[string]func(t *testing.T) opened{
		"sqlite": func(t *testing.T) opened {
			s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "vnfm.db"), nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return opened{s, s.Migrate, func(ctx context.Context, q string) error { _, err := s.DB().ExecContext(ctx, q); return err }}
		},
		"postgres": func(t *testing.T) opened {
			u := storetest.EmptyPostgresURL(t)
			s, err := pgstore.Open(t.Context(), u, nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return opened{s, s.Migrate, func(ctx context.Context, q string) error {
				conn, err := pgx.Connect(ctx, u)
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				_, err = conn.Exec(ctx, q)
				return err
			}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := open(t)
			srv, err := server.New(t.Context(), server.Config{DataDir: t.TempDir(), Vnfds: scripted.Vnfds{}}, o.st,
				server.Static(driver.NewRegistry()), slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			ready := func() (int, string) {
				res, err := http.Get(hs.URL + "/readyz")
				require.NoError(t, err)
				defer res.Body.Close()
				var pd struct{ Detail string }
				require.NoError(t, json.NewDecoder(res.Body).Decode(&pd))
				return res.StatusCode, pd.Detail
			}
			_, latest, err := o.st.SchemaVersion(t.Context())
			require.NoError(t, err)

			code, detail := ready()
			assert.Equal(t, 503, code)
			assert.Equal(t, fmt.Sprintf("not ready: database schema at migration 0, this vnfm needs %d (run vnfm migrate)", latest), detail)

			require.NoError(t, o.migrate(t.Context()))
			code, _ = ready()
			assert.Equal(t, 200, code)

			require.NoError(t, o.exec(t.Context(), fmt.Sprintf("DELETE FROM schema_migrations WHERE version = %d", latest)))
			code, detail = ready()
			assert.Equal(t, 503, code)
			assert.Contains(t, detail, fmt.Sprintf("at migration %d, this vnfm needs %d", latest-1, latest))
		})
	}
}

// TestRateLimit: beyond its burst a client gets 429 ProblemDetails with
// Retry-After, counted under the route it asked for; probes are exempt.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends["sqlite"](t), 20, func(c *server.Config) {
		c.HTTP.RateLimit = 0.01 // one token per 100 s: none comes back during the test
		c.HTTP.RateBurst = 3
	})
	for range 3 {
		require.Equal(t, 200, e.do("GET", "/vnflcm/v1/vnf_instances", nil).status)
	}
	r := e.do("GET", "/vnflcm/v1/vnf_instances", nil)
	require.Equal(t, 429, r.status, "%s", r.body)
	assert.Equal(t, "100", r.header.Get("Retry-After"))
	assert.Equal(t, "Too Many Requests", r.json(t)["title"])
	assert.NotEmpty(t, r.header.Get("X-Request-Id"), "answered inside the API's middleware")
	assert.Equal(t, 200, e.do("GET", "/healthz", nil).status)
	assert.Equal(t, 200, e.do("GET", "/readyz", nil).status)
	mfs := e.scrape(t)
	assert.Equal(t, 1.0, value(t, mfs, "vnfm_http_requests_total", metricLabels{"route": "/vnflcm/v1/vnf_instances", "method": "GET", "code": "429"}))
}

// TestEveryBodyIsBounded walks the router: every route that takes a body
// answers 413 ProblemDetails to one over its limit, sent with and without
// a Content-Length.
func TestEveryBodyIsBounded(t *testing.T) {
	t.Parallel()
	const maxPackage = 64 << 10
	e := newEnv(t, backends["sqlite"](t), 20, func(c *server.Config) { c.MaxPackageSize = maxPackage })
	routes, ok := e.srv.Handler().(chi.Routes)
	require.True(t, ok, "the handler is a chi router")
	type target struct{ method, path string }
	var targets []target
	require.NoError(t, chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		switch method {
		case "POST", "PUT", "PATCH":
			path := strings.TrimSuffix(strings.ReplaceAll(route, "{id}", uuid.NewString()), "/")
			targets = append(targets, target{method, path})
		}
		return nil
	}))
	require.GreaterOrEqual(t, len(targets), 20, "the walk found the API's routes: %v", targets)
	t.Logf("%d routes take a body", len(targets))
	for _, tg := range targets {
		limit, ctype := int64(1<<20), "application/json" // api.Config.MaxBody's default
		if strings.HasSuffix(tg.path, "/package_content") {
			limit, ctype = maxPackage, "application/zip"
		}
		big := `{"a":"` + strings.Repeat("x", int(limit)) + `"}`
		for _, sized := range []bool{true, false} {
			var body io.Reader = strings.NewReader(big)
			if !sized {
				body = io.MultiReader(body) // hides the length: chunked
			}
			req, err := http.NewRequest(tg.method, e.url+tg.path, body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", ctype) // no Version: each interface has its own
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err, "%s %s", tg.method, tg.path)
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, 413, res.StatusCode, "%s %s (sized %v): %s", tg.method, tg.path, sized, raw)
			require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
			var pd struct {
				Status int
				Detail string
			}
			require.NoError(t, json.Unmarshal(raw, &pd))
			require.Equal(t, 413, pd.Status)
			require.Contains(t, pd.Detail, fmt.Sprint(limit))
		}
	}
}

// startListening runs a whole server on 127.0.0.1:0 with cfg's HTTP limits.
func startListening(t *testing.T, hc server.HTTPConfig) *server.Server {
	t.Helper()
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Vnfds: scripted.Vnfds{}, HTTP: hc}
	srv, err := server.New(t.Context(), cfg, backends["sqlite"](t), server.Static(driver.NewRegistry()), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// TestSlowClientsAreCutOff: a client that sends its headers, or its body,
// a byte at a time is disconnected once the read timeouts pass, not when
// it chooses to finish.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	const headerTimeout, readTimeout = 300 * time.Millisecond, time.Second
	srv := startListening(t, server.HTTPConfig{ReadHeaderTimeout: headerTimeout, ReadTimeout: readTimeout})
	for _, tc := range []struct {
		name    string
		head    string // sent at once
		dribble string // then a byte every 50 ms
		within  time.Duration
	}{
		{"headers", "", "GET /healthz HTTP/1.1\r\nHost: vnfm\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n", headerTimeout},
		{"body", "POST /vnflcm/v1/vnf_instances HTTP/1.1\r\nHost: vnfm\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
			`{"vnfdId":"` + strings.Repeat("a", 186) + `"}`, readTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", srv.Addr())
			require.NoError(t, err)
			defer conn.Close()
			start := time.Now()
			_, err = conn.Write([]byte(tc.head))
			require.NoError(t, err)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for i := range len(tc.dribble) {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if _, err := conn.Write([]byte{tc.dribble[i]}); err != nil {
						return
					}
				}
			}()
			// Whatever the server answers, it must then close: read to EOF.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			got, err := io.ReadAll(conn)
			took := time.Since(start)
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open: %s", got)
			full := time.Duration(len(tc.dribble)) * 50 * time.Millisecond
			assert.Less(t, took, tc.within+time.Second, "cut off soon after the timeout")
			assert.Less(t, took, full/2, "long before the client would have finished (%s)", full)
			assert.NotContains(t, string(got), "201 Created")
		})
	}
}

// panickyVnfds panics where the VNFD of vnfdId is looked up: in the
// request handler ("panic-in-handler", on create) or when the conductor
// plans an operation ("panic-in-plan", outside any transaction).
type panickyVnfds struct{ scripted.Vnfds }

func (p panickyVnfds) Lookup(ctx context.Context, tx store.Tx, vnfdID string) (*lcm.VnfdInfo, error) {
	_, planning := tx.(store.Store)
	switch {
	case vnfdID == "panic-in-handler":
		panic("vnfd lookup exploded in a handler")
	case vnfdID == "panic-in-plan" && planning:
		panic("vnfd lookup exploded while planning")
	}
	return p.Vnfds.Lookup(ctx, tx, vnfdID)
}

// TestNoStackTraceInResponses: panics in a handler, in a driver step and
// while planning are answered (500 ProblemDetails, FAILED_TEMP op occs)
// without any stack frame, and the process survives them.
func TestNoStackTraceInResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends["sqlite"](t), 20, func(c *server.Config) { c.Vnfds = panickyVnfds{} })
	noFrames := func(what string, body []byte) {
		t.Helper()
		for _, frame := range []string{"goroutine ", ".go:", "runtime/debug", "panic("} {
			require.NotContains(t, string(body), frame, "%s carries a stack frame: %s", what, body)
		}
	}

	r := e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "panic-in-handler"})
	require.Equal(t, 500, r.status)
	assert.Contains(t, r.json(t)["detail"], "internal error")
	noFrames("handler panic", r.body)

	id := e.create()
	op := e.task(id, "instantiate", withScript(map[string]string{"instantiate": "panic"}))
	e.wait(op, "FAILED_TEMP")
	r = e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+op, nil)
	assert.Contains(t, r.json(t)["error"].(map[string]any)["detail"], "panic")
	noFrames("driver panic", r.body)

	r = e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "panic-in-plan"})
	require.Equal(t, 201, r.status, "%s", r.body)
	id = r.json(t)["id"].(string)
	op = e.task(id, "instantiate", instantiateBody)
	e.wait(op, "FAILED_TEMP")
	r = e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+op, nil)
	assert.Contains(t, r.json(t)["error"].(map[string]any)["detail"], "step plan")
	noFrames("plan panic", r.body)
	r = e.do("GET", "/vnflcm/v1/vnf_instances/"+id, nil)
	noFrames("instance", r.body)
	assert.Equal(t, 200, e.do("GET", "/healthz", nil).status, "still serving")
}

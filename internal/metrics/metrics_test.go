package metrics

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

// TestRouteLabels: requests are labelled by pattern, including one
// answered before routing; unknown methods and unrouted paths collapse
// into one label each, so clients cannot create series.
func TestRouteLabels(t *testing.T) {
	t.Parallel()
	m, err := Register(prometheus.NewRegistry(), storetest.SQLite(t), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Use(func(next http.Handler) http.Handler { // a rate limit: answers before routing
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Limit") != "" {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	r.Route("/things/{id}", func(r chi.Router) {
		r.Get("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) })
		r.Post("/act", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	})
	for _, tc := range []struct {
		method, path, limit string
		route, labelMethod  string
		code                string
	}{
		{"GET", "/things/1", "", "/things/{id}", "GET", "200"},
		{"GET", "/things/2/", "", "/things/{id}", "GET", "200"},
		{"POST", "/things/3/act", "", "/things/{id}/act", "POST", "202"},
		{"POST", "/things/4/act", "yes", "/things/{id}/act", "POST", "429"},
		{"GET", "/elsewhere/5", "", unmatchedRoute, "GET", "404"},
		{"BREW", "/things/6", "", unmatchedRoute, "OTHER", "405"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.limit != "" {
			req.Header.Set("X-Limit", tc.limit)
		}
		r.ServeHTTP(httptest.NewRecorder(), req)
		want := 1.0
		if tc.path == "/things/2/" {
			want = 2 // the same route as /things/1
		}
		assert.Equal(t, want, value(t, m.requests.WithLabelValues(tc.route, tc.labelMethod, tc.code)), "%s %s", tc.method, tc.path)
	}
	assert.Equal(t, 5, count(t, m.requests), "no series per id")
	assert.Zero(t, value(t, m.inFlight))
}

// value reads a counter or gauge (testutil needs a module go.mod lacks).
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	require.NoError(t, c.Write(&d))
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func count(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// gathered is the values of the series of family name.
func gathered(t *testing.T, reg *prometheus.Registry, name string) []float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var out []float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			out = append(out, m.GetGauge().GetValue())
		}
	}
	return out
}

// TestDatabaseDown: a scrape of a database that went away still answers,
// with vnfm_database_up 0 and no op occ or outbox series.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	reg := prometheus.NewRegistry()
	_, err := Register(reg, st, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Equal(t, []float64{1}, gathered(t, reg, "vnfm_database_up"))
	assert.Len(t, gathered(t, reg, "vnfm_op_occs"), len(operations)*len(states))
	assert.Equal(t, []float64{0}, gathered(t, reg, "vnfm_notification_outbox_depth"))

	require.NoError(t, st.Close())
	assert.Equal(t, []float64{0}, gathered(t, reg, "vnfm_database_up"))
	assert.Empty(t, gathered(t, reg, "vnfm_op_occs"))
	assert.Empty(t, gathered(t, reg, "vnfm_notification_outbox_depth"))
}

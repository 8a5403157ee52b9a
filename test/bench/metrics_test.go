package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/metrics"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// BenchmarkMetricsOverhead measures what the per-request HTTP metrics cost:
//
//	router/{without,with}        a chi route with a trivial handler: the
//	                             middleware alone
//	get_instance/{without,with}  GET /vnflcm/v1/vnf_instances/{id} through
//	                             the whole API on SQLite
//
// Requests are served in process (no TCP), so the difference is the
// middleware's, not the network's:
//
//	go test -run '^$' -bench MetricsOverhead -benchtime 3s -count 5 ./test/bench/
func BenchmarkMetricsOverhead(b *testing.B) {
	b.Run("router", func(b *testing.B) {
		for _, with := range []bool{false, true} {
			b.Run(name(with), func(b *testing.B) {
				r := chi.NewRouter()
				if with {
					m, err := metrics.Register(prometheus.NewRegistry(), nil, slog.New(slog.DiscardHandler))
					if err != nil {
						b.Fatal(err)
					}
					r.Use(m.Middleware)
				}
				r.Get("/vnflcm/v1/vnf_instances/{id}", func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"id":"x"}`)
				})
				// One request and a discarding writer: only routing, the
				// handler and the middleware are left to measure.
				req := httptest.NewRequest(http.MethodGet, "/vnflcm/v1/vnf_instances/1b1b2d8c-55a4-4e4b-9a4b-2f8b1b2c3d4e", nil)
				w := discard{http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					r.ServeHTTP(w, req)
				}
			})
		}
	})
	b.Run("get_instance", func(b *testing.B) {
		for _, with := range []bool{false, true} {
			b.Run(name(with), func(b *testing.B) {
				cfg := server.Config{DataDir: b.TempDir(), Vnfds: scripted.Vnfds{}, HTTP: server.HTTPConfig{NoRequestMetrics: !with}}
				srv, err := server.New(context.Background(), cfg, storetest.SQLite(b), server.Static(driver.NewRegistry()), quietLog())
				if err != nil {
					b.Fatal(err)
				}
				h := srv.Handler()
				req := httptest.NewRequest(http.MethodPost, apiPrefix+"/vnf_instances", strings.NewReader(`{"vnfdId":"vnfd-1"}`))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					b.Fatalf("create: %d %s", rec.Code, rec.Body)
				}
				serve(b, h, rec.Header().Get("Location")[strings.Index(rec.Header().Get("Location"), apiPrefix):])
			})
		}
	})
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func name(with bool) string {
	if with {
		return "with"
	}
	return "without"
}

// serve GETs path from h b.N times, checking the status.
func serve(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Version", "1.3.0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

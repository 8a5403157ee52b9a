// Package api serves the ETSI NFV SOL002/SOL003 VNF Lifecycle Management
// interface (/vnflcm/v1, API version 1.3.0) with the SOL013 conventions.
// Handlers are thin: decode, validate, call lcm, write.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vnfm-project/vnfm/internal/auth"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/notify"
	"github.com/vnfm-project/vnfm/internal/pkgm"
	"github.com/vnfm-project/vnfm/internal/vims"
	"github.com/vnfm-project/vnfm/openapi"
)

const (
	// APIVersion is the VNF LCM interface version served under /vnflcm/v1.
	APIVersion = "1.3.0"
	prefix     = "/vnflcm/v1"
)

// Pinger reports whether the database is usable (for /readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config configures the API.
type Config struct {
	LCM  *lcm.Service
	Pkgm *pkgm.Service
	Vims *vims.Service
	Subs *notify.Subscriptions
	DB   Pinger
	Log  *slog.Logger
	// PublicURL is the base of absolute URLs in Location, _links and Link
	// (e.g. https://vnfm.example.net); empty = derived from the request.
	PublicURL string
	// PageSize bounds list responses; 0 = 100.
	PageSize int
	// MaxBody bounds request bodies; 0 = 1 MiB.
	MaxBody int64
	// Metrics, when set, is served at /metrics (Prometheus text format).
	Metrics prometheus.Gatherer
	// Middleware runs on every request after the request id, access log
	// and panic recovery, before routing (metrics, rate limiting).
	Middleware []func(http.Handler) http.Handler
	// TokenHandler, when set, is the OAuth 2.0 token endpoint (POST
	// /oauth2/token, internal/auth).
	TokenHandler http.Handler
}

// API is the HTTP interface.
type API struct {
	lcm       *lcm.Service
	pkgm      *pkgm.Service
	vims      *vims.Service
	subs      *notify.Subscriptions
	db        Pinger
	log       *slog.Logger
	publicURL string
	pageSize  int
	maxBody   int64
	validator *openapi.Validator
	metrics   prometheus.Gatherer
	mw        []func(http.Handler) http.Handler
	token     http.Handler
}

// New builds the API.
func New(cfg Config) (*API, error) {
	v, err := openapi.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	a := &API{
		lcm: cfg.LCM, pkgm: cfg.Pkgm, vims: cfg.Vims, subs: cfg.Subs, db: cfg.DB, log: cfg.Log, publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		pageSize: cfg.PageSize, maxBody: cfg.MaxBody, validator: v, metrics: cfg.Metrics,
		mw: cfg.Middleware, token: cfg.TokenHandler,
	}
	if a.pageSize <= 0 {
		a.pageSize = 100
	}
	if a.maxBody <= 0 {
		a.maxBody = 1 << 20
	}
	return a, nil
}

// Handler returns the router.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(a.requestID, a.accessLog, a.recoverPanic)
	r.Use(a.mw...)
	r.Use(middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("no resource at %s", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusMethodNotAllowed, "Method Not Allowed", fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", a.readyz)
	if a.metrics != nil {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}))
	}
	// api_versions answers whatever Version the client sends: clients
	// (the Tacker CLI sends 2.0.0) ask it to find out what is supported.
	r.Get("/vnflcm/api_versions", a.apiVersions("/vnflcm", APIVersion))
	r.Get("/vnfpkgm/api_versions", a.apiVersions("/vnfpkgm", PkgmAPIVersion))
	a.pkgmRoutes(r)
	a.vimRoutes(r)
	a.authRoutes(r)
	r.Get("/docs", a.docs()) // the OpenAPI document below, rendered as HTML

	r.Route(prefix, func(r chi.Router) {
		r.Get("/api_versions", a.apiVersions(prefix, APIVersion))
		r.Get("/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(openapi.VnfLcmV1)
		})
		r.Group(func(r chi.Router) {
			r.Use(a.negotiate(vnflcmVersion), jsonOnly, a.validate)
			r.Get("/vnf_instances", a.listInstances)
			r.Post("/vnf_instances", a.createInstance)
			r.Route("/vnf_instances/{id}", func(r chi.Router) {
				r.Use(a.uuidParam("id", "VNF instance"))
				r.Get("/", a.getInstance)
				r.Patch("/", a.modifyInstance)
				r.Delete("/", a.deleteInstance)
				r.Post("/instantiate", task(a, a.lcm.Instantiate))
				r.Post("/terminate", task(a, a.lcm.Terminate))
				r.Post("/scale", task(a, a.lcm.Scale))
				r.Post("/scale_to_level", task(a, a.lcm.ScaleToLevel))
				r.Post("/heal", task(a, a.lcm.Heal))
				r.Post("/change_ext_conn", task(a, a.lcm.ChangeExtConn))
				r.Post("/change_flavour", task(a, a.lcm.ChangeFlavour))
				r.Post("/operate", task(a, a.lcm.Operate))
			})
			r.Get("/vnf_lcm_op_occs", a.listOpOccs)
			r.Route("/vnf_lcm_op_occs/{id}", func(r chi.Router) {
				r.Use(a.uuidParam("id", "VNF LCM operation occurrence"))
				r.Get("/", a.getOpOcc)
				r.Post("/retry", a.resolveOp(a.lcm.Retry, false))
				r.Post("/rollback", a.resolveOp(a.lcm.Rollback, false))
				r.Post("/fail", a.resolveOp(a.lcm.Fail, true))
				r.Post("/cancel", a.cancelOp)
			})
			if a.subs != nil {
				a.subscriptionRoutes(r)
			}
		})
	})
	return r
}

type ctxKey int

const requestIDKey ctxKey = iota

// requestID tags each request (X-Request-Id, taken from the client when it
// sends a sane one) and sets the Version header every response carries.
func (a *API) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("Version", APIVersion)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

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

func (a *API) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		// The guard, further down, names the principal in this slot.
		r = r.WithContext(auth.WithLogSlot(r.Context()))
		next.ServeHTTP(sw, r)
		// The query string can hold filter values but never secrets (those
		// travel only in bodies); bodies are never logged.
		a.log.Info("http request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration", time.Since(start), "request_id", r.Context().Value(requestIDKey), principalAttr(r.Context()))
	})
}

func (a *API) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.fail(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// apiVersion describes one interface's version for negotiation.
type apiVersion struct {
	version  string // served, e.g. "1.3.0"
	major    int
	maxMinor int
	prefix   string // for the hint in 406 answers
}

var (
	vnflcmVersion  = apiVersion{version: APIVersion, major: 1, maxMinor: 3, prefix: prefix}
	vnfpkgmVersion = apiVersion{version: PkgmAPIVersion, major: 2, maxMinor: 1, prefix: pkgmPrefix}
)

// supports reports whether a client's Version header can be served: same
// major version, minor not newer.
func (v apiVersion) supports(h string) bool {
	parts := strings.Split(strings.TrimSpace(h), ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(v.major) {
		return false
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil || minor < 0 || minor > v.maxMinor {
		return false
	}
	patch, err := strconv.Atoi(parts[2])
	return err == nil && patch >= 0
}

// negotiate sets the Version response header and answers 406 to a Version
// or Accept the interface cannot serve. A missing Version header is
// accepted: the Tacker CLI sends none on some calls. accept, when not nil,
// replaces the JSON-only Accept check (for downloads).
func (a *API) negotiate(v apiVersion) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Version", v.version)
			if h := r.Header.Get("Version"); h != "" && !v.supports(h) {
				problem(w, http.StatusNotAcceptable, "Not Acceptable", fmt.Sprintf("API version %q is not supported here; supported: %s (see %s/api_versions)", h, v.version, v.prefix))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// jsonOnly answers 406 when the client accepts no JSON.
func jsonOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acc := r.Header.Get("Accept"); acc != "" && !acceptsJSON(acc) {
			problem(w, http.StatusNotAcceptable, "Not Acceptable", fmt.Sprintf("cannot produce any of %q; responses are application/json", acc))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch strings.ToLower(mt) {
		case "*/*", "application/*", "application/json", "application/problem+json":
			return true
		}
	}
	return false
}

// validate reads the (size-limited) body and checks the request against the
// OpenAPI document; the handler then reads the buffered body.
func (a *API) validate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					problem(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", fmt.Sprintf("request body exceeds %d bytes", a.maxBody))
					return
				}
				problem(w, http.StatusBadRequest, "Bad Request", "cannot read request body: "+err.Error())
				return
			}
		}
		// Body-less POSTs (retry, fail, ...) need no Content-Type; clients
		// often send one anyway, or none.
		if len(bytes.TrimSpace(body)) == 0 {
			r.Header.Del("Content-Type")
			body = nil
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := a.validator.ValidateRequest(r.Context(), r, body); err != nil {
			switch {
			case errors.Is(err, openapi.ErrNoRoute), errors.Is(err, openapi.ErrMethodNotAllowed):
				// chi answers 404/405 with its own routing.
			default:
				var media *openapi.UnsupportedMediaTypeError
				if errors.As(err, &media) {
					problem(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", err.Error())
					return
				}
				problem(w, http.StatusBadRequest, "Bad Request", err.Error())
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (a *API) uuidParam(name, what string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := chi.URLParam(r, name)
			if _, err := uuid.Parse(id); err != nil {
				problem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("%s %q does not exist: not a valid UUID", what, id))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body into v; an empty body leaves v zero.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("%w: cannot read request body: %w", lcm.ErrBadRequest, err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: request body: %w", lcm.ErrBadRequest, err)
	}
	return nil
}

// base is the absolute URL prefix for links.
func (a *API) base(r *http.Request) string {
	if a.publicURL != "" {
		return a.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (a *API) apiVersions(uriPrefix, version string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Version", version)
		writeJSON(w, http.StatusOK, model.APIVersionInformation{
			URIPrefix:   uriPrefix,
			APIVersions: []model.APIVersion{{Version: version, IsDeprecated: false}},
		})
	}
}

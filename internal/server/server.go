// Package server wires vnfm together: store, secrets, drivers, LCM service,
// conductor and HTTP API. cmd/vnfm and the end-to-end tests share it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnfm-project/vnfm/api"
	"github.com/vnfm-project/vnfm/internal/auth"
	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/conductor"
	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/metrics"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/nfvo"
	"github.com/vnfm-project/vnfm/internal/notify"
	"github.com/vnfm-project/vnfm/internal/pkgm"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/sqlitestore"
	"github.com/vnfm-project/vnfm/internal/vims"
)

// Config is the server configuration (flags and VNFM_* variables).
type Config struct {
	Listen            string
	DatabaseURL       string // postgres://... ; empty = SQLite in DataDir
	DataDir           string
	EncryptionKeyFile string // empty = DataDir/encryption.key, created if missing
	Auth              string // "none", or a comma-separated set of basic, oauth2, jwt (internal/auth)
	AuthOptions       auth.Options
	PublicURL         string
	PageSize          int
	Lease             time.Duration
	ShutdownTimeout   time.Duration
	DefaultVim        *model.VimConnectionInfo
	// VimFiles register (or update, by name) VIMs at start; see
	// vims.ParseConfig for the format.
	VimFiles []string
	// PackageLimits bound what an uploaded CSAR may unpack to (zero =
	// csar.DefaultLimits); MaxPackageSize bounds the CSAR itself.
	PackageLimits  csar.Limits
	MaxPackageSize int64
	// Vnfds resolves VNFDs; nil = the onboarded VNF packages (tests plug
	// in their own).
	Vnfds lcm.Vnfds
	// Notify tunes notification delivery (zero = defaults: retried for 24 h).
	Notify notify.DeliveryConfig
	// AllowDuplicateSubscriptions creates a new subscription for the same
	// callback and filter instead of answering 303 See Other.
	AllowDuplicateSubscriptions bool
	// NFVO, when its URL is set, grants every lifecycle operation;
	// without one grants are local and allow everything.
	NFVO NFVOConfig
	// HTTP bounds clients: rate limit, slow-client timeouts.
	HTTP HTTPConfig
	// EncryptionKey (base64, from VNFM_ENCRYPTION_KEY) wins over the file.
	EncryptionKey KeyText
	// OldEncryptionKeyFiles hold earlier keys: values sealed with them
	// still open, new ones are sealed with the current key (rotation).
	OldEncryptionKeyFiles []string
	// TLS, when its files are set, makes the listener speak HTTPS.
	TLS TLSConfig
}

// NFVOConfig is the NFVO whose Grant interface vnfm calls.
type NFVOConfig struct {
	URL string
	// Auth is how vnfm authenticates to it (BASIC or OAuth 2.0 client
	// credentials), nil for none.
	Auth         *model.SubscriptionAuthentication
	PollInterval time.Duration
	Timeout      time.Duration
}

// OpenStore opens (and migrates) the configured database.
func OpenStore(ctx context.Context, cfg *Config, log *slog.Logger) (store.Store, error) {
	u := cfg.DatabaseURL
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		st, err := pgstore.Open(ctx, u, log)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("migrate postgres: %w", err)
		}
		return st, nil
	case u == "" || strings.HasPrefix(u, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//")
		if path == "" {
			path = filepath.Join(cfg.DataDir, "vnfm.db")
		}
		st, err := sqlitestore.Open(ctx, path, log)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("migrate sqlite: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("database URL %q: want postgres://... or sqlite:PATH", secret.RedactURL(u))
}

// Server is a running vnfm.
type Server struct {
	cfg      Config
	log      *slog.Logger
	st       store.Store
	deliv    *notify.Deliverer
	metrics  *prometheus.Registry
	svc      *lcm.Service
	cond     *conductor.Conductor
	pkgs     *pkgm.Service
	http     *http.Server
	listener net.Listener
	addr     atomic.Pointer[string]
	tls      *tlsState // nil without TLS
}

// Deps are the services drivers may need, handed to the function that
// builds the driver registry (a management driver registers VIMs).
type Deps struct {
	Vims *vims.Service
	Log  *slog.Logger
	// DataDir is where drivers may keep files (Helm's repository cache).
	DataDir string
}

// Drivers builds the driver registry from the server's services.
type Drivers func(Deps) *driver.Registry

// Static is a Drivers that returns reg as it is.
func Static(reg *driver.Registry) Drivers {
	return func(Deps) *driver.Registry { return reg }
}

// New builds a server on a store (opened with OpenStore, or by a test).
// mkDrivers builds the driver registry.
func New(ctx context.Context, cfg Config, st store.Store, mkDrivers Drivers, log *slog.Logger) (*Server, error) {
	// First: a wrong authentication setup must stop the start.
	guard, err := auth.New(ctx, auth.Config{Modes: cfg.Auth, Options: cfg.AuthOptions, DataDir: cfg.DataDir,
		SelfIssuer: cfg.PublicURL, Log: log})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	box, err := openKeyring(&cfg, log)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	s := &Server{cfg: cfg, log: log, metrics: prometheus.NewRegistry()}
	if s.tls, err = newTLS(cfg.TLS, log); err != nil {
		return nil, err
	}
	// On the unwrapped store: its pool statistics are not on the wrapper.
	m, err := metrics.Register(s.metrics, st, log)
	if err != nil {
		return nil, err
	}
	// Every LCM change the store writes also enqueues its notifications.
	nst := notify.Wrap(st, notify.Config{BaseURL: s.baseURL, Log: log})
	st = nst
	outbound := &http.Client{Timeout: 30 * time.Second}
	tokens := callauth.NewTokens(outbound, nil)
	ncfg := cfg.Notify
	if ncfg.Lease == 0 {
		ncfg.Lease = cfg.Lease // a dead replica's subscriptions move on as its op occs do
	}
	s.deliv = notify.NewDeliverer(st, box, tokens, outbound, log, s.metrics, ncfg)
	nst.OnEnqueue(s.deliv.Notify)
	subs := notify.NewSubscriptions(notify.SubscriptionsConfig{
		Store: st, Box: box, Tokens: tokens, HTTP: outbound, AllowDuplicates: cfg.AllowDuplicateSubscriptions, Log: log,
	})
	var granter lcm.Granter
	if cfg.NFVO.URL != "" {
		c, err := nfvo.New(nfvo.Config{BaseURL: cfg.NFVO.URL, Auth: cfg.NFVO.Auth, HTTP: outbound, Tokens: tokens,
			PollInterval: cfg.NFVO.PollInterval, Timeout: cfg.NFVO.Timeout, Log: log})
		if err != nil {
			return nil, err
		}
		granter = c
	}
	pkgs := pkgm.New(pkgm.Config{Store: st, Box: box, Log: log, Limits: cfg.PackageLimits, MaxPackageSize: cfg.MaxPackageSize})
	vnfds := cfg.Vnfds
	if vnfds == nil {
		vnfds = pkgs
	}
	vimReg := vims.New(vims.Config{Store: st, Box: box, Log: log})
	for _, f := range cfg.VimFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("vim file: %w", err)
		}
		v, err := vims.ParseConfig(data)
		if err != nil {
			return nil, fmt.Errorf("vim file %s: %w", f, err)
		}
		got, err := vimReg.Ensure(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("vim file %s: %w", f, err)
		}
		log.Info("vim from configuration", "vim_id", got.ID, "name", got.Name, "default", got.IsDefault)
	}
	drivers := mkDrivers(Deps{Vims: vimReg, Log: log, DataDir: cfg.DataDir})
	svc := lcm.New(lcm.Config{
		Store: st, Box: box, Drivers: drivers, Log: log, DefaultVim: cfg.DefaultVim, Vnfds: vnfds, Vims: vimReg,
		Granter: granter, BaseURL: s.baseURL,
	})
	cond := conductor.New(st, svc, log, conductor.Config{Lease: cfg.Lease, Observer: m})
	svc.SetWaker(cond)
	a, err := api.New(api.Config{LCM: svc, Pkgm: pkgs, Vims: vimReg, Subs: subs, DB: st, Log: log, PublicURL: cfg.PublicURL, PageSize: cfg.PageSize,
		Metrics: s.metrics, Middleware: append(s.httpMiddleware(m), guard.Middleware), TokenHandler: guard.TokenHandler()})
	if err != nil {
		return nil, err
	}
	s.st, s.svc, s.cond, s.pkgs = st, svc, cond, pkgs
	ht := cfg.HTTP.withDefaults()
	s.http = &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: ht.ReadHeaderTimeout,
		ReadTimeout:       ht.ReadTimeout,
		WriteTimeout:      ht.WriteTimeout,
		IdleTimeout:       ht.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// baseURL is the API root in notifications' links: the public URL, else
// the listening address.
func (s *Server) baseURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	addr := s.cfg.Listen
	if a := s.addr.Load(); a != nil {
		addr = *a
	}
	if addr == "" {
		return "" // an in-process server (tests): links stay relative
	}
	// A wildcard address means nothing to a subscriber: name the host.
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if name, err := os.Hostname(); err == nil {
				addr = net.JoinHostPort(name, port)
			}
		}
	}
	return s.scheme() + "://" + addr
}

// Handler is the HTTP handler (for in-process tests).
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Conductor is the server's conductor (for tests).
func (s *Server) Conductor() *conductor.Conductor { return s.cond }

// StartBackground recovers orphaned operations and onboarding and starts
// the conductor: everything but the listener (in-process tests serve
// Handler themselves).
func (s *Server) StartBackground(ctx context.Context) error {
	if err := s.cond.Start(ctx); err != nil {
		return err
	}
	s.pkgs.Start(ctx)
	s.deliv.Start(ctx)
	return nil
}

// StopBackground stops what StartBackground started, letting running steps
// reach a checkpoint until ctx ends.
func (s *Server) StopBackground(ctx context.Context) {
	s.cond.Stop(ctx)
	s.pkgs.Stop()
	s.deliv.Stop()
}

// Start recovers orphaned operations, starts the conductor and listens.
func (s *Server) Start(ctx context.Context) error {
	if err := s.StartBackground(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		s.cond.Stop(ctx)
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	s.listener = ln
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	go func() {
		var err error
		if s.tls != nil {
			s.http.TLSConfig = s.tls.base
			err = s.http.ServeTLS(ln, "", "")
		} else {
			err = s.http.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	s.log.Info("vnfm listening", "addr", ln.Addr().String(), "url", s.URL(), "conductor", s.cond.ID())
	return nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Shutdown stops accepting requests, lets running steps finish (or
// checkpoint) within the shutdown timeout, and closes the store.
func (s *Server) Shutdown(ctx context.Context) {
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	s.StopBackground(ctx)
	s.log.Info("vnfm stopped")
}

// Run serves until ctx ends. Each onStart gets the started server (the
// command line wires SIGHUP to ReloadTLS with it).
func Run(ctx context.Context, cfg Config, drivers Drivers, log *slog.Logger, onStart ...func(*Server)) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := OpenStore(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := New(ctx, cfg, st, drivers, log)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	for _, f := range onStart {
		f(srv)
	}
	<-ctx.Done()
	log.Info("shutting down")
	srv.Shutdown(ctx)
	return nil
}

package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
)

// TLSConfig makes the server speak HTTPS. CertFile and KeyFile are PEM; they
// are read again by ReloadTLS (SIGHUP), so a renewed certificate needs no
// restart.
type TLSConfig struct {
	CertFile string
	KeyFile  string
	// ClientCAFile (PEM, one or more CA certificates), when set, makes the
	// server require a client certificate signed by one of them (mTLS).
	ClientCAFile string
}

// Enabled reports whether TLS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// tlsMaterial is what one (re)load read: the pair and the client CAs.
type tlsMaterial struct {
	cert *tls.Certificate
	// client is the configuration handed out per connection when client
	// certificates are verified (its ClientCAs are this load's).
	client *tls.Config
}

// tlsState serves the last material that loaded; a reload that fails keeps
// it, so a half-copied certificate never takes the API down.
type tlsState struct {
	cfg  TLSConfig
	log  *slog.Logger
	cur  atomic.Pointer[tlsMaterial]
	base *tls.Config
}

func newTLS(cfg TLSConfig, log *slog.Logger) (*tlsState, error) {
	if !cfg.Enabled() {
		if cfg.ClientCAFile != "" {
			return nil, errors.New("tls: a client CA file needs a certificate and key file")
		}
		return nil, nil
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("tls: give both a certificate file and a key file")
	}
	t := &tlsState{cfg: cfg, log: log}
	t.base = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// ServeTLS adds these too, but a per-connection configuration
		// (mTLS) must carry them itself for HTTP/2 to be negotiated.
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return t.cur.Load().cert, nil
		},
	}
	if cfg.ClientCAFile != "" {
		t.base.ClientAuth = tls.RequireAndVerifyClientCert
		t.base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return t.cur.Load().client, nil
		}
	}
	m, err := t.load()
	if err != nil {
		return nil, err
	}
	t.cur.Store(m)
	return t, nil
}

func (t *tlsState) load() (*tlsMaterial, error) {
	cert, err := tls.LoadX509KeyPair(t.cfg.CertFile, t.cfg.KeyFile)
	if err != nil {
		// The error names the files and the problem, never key bytes.
		return nil, fmt.Errorf("tls: load %s and %s: %w", t.cfg.CertFile, t.cfg.KeyFile, err)
	}
	m := &tlsMaterial{cert: &cert}
	if t.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(t.cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: client CA file %s holds no PEM certificate", t.cfg.ClientCAFile)
		}
		c := t.base.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs = pool
		m.client = c
	}
	return m, nil
}

// reload reads the files again; on error the old material stays in use.
func (t *tlsState) reload() error {
	m, err := t.load()
	if err != nil {
		t.log.Error("tls reload failed; keeping the certificate in use", "err", err)
		return err
	}
	t.cur.Store(m)
	serial := ""
	if leaf, err := x509.ParseCertificate(m.cert.Certificate[0]); err == nil {
		serial = leaf.SerialNumber.Text(16)
	}
	t.log.Info("tls certificate reloaded", "cert_file", t.cfg.CertFile, "serial", serial)
	return nil
}

// ReloadTLS reads the certificate, key and client CA files again; new
// connections get them, open ones are not dropped. A failed reload (logged)
// keeps the previous ones. Without TLS it does nothing.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.reload()
}

// scheme is the URL scheme the listener speaks.
func (s *Server) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// URL is the root URL of the listener (https:// with TLS).
func (s *Server) URL() string { return s.scheme() + "://" + s.Addr() }

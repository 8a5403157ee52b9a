package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/server/tlstest"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// startTLS runs a whole server on a loopback port with cfg.TLS set.
func startTLS(t *testing.T, tc server.TLSConfig) (*server.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), TLS: tc, Vnfds: scripted.Vnfds{}, Lease: 3 * time.Second}
	srv, err := server.New(t.Context(), cfg, storetest.SQLite(t), server.Static(driver.NewRegistry()), log)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv, logs
}

// logBuffer is a log sink safe for the server's goroutines and the test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// client trusts ca only and opens a new connection for every request
// unless keepAlive.
func client(ca *tlstest.CA, keepAlive bool, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), Certificates: certs},
		DisableKeepAlives: !keepAlive,
	}}
}

// serial GETs /healthz and returns the serial of the certificate the
// server presented.
func serial(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	res, err := c.Get(url + "/healthz")
	require.NoError(t, err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	require.Equal(t, 200, res.StatusCode)
	require.NotNil(t, res.TLS)
	return res.TLS.PeerCertificates[0].SerialNumber.String()
}

// TestTLSReload: the server speaks HTTPS (TLS 1.2 at least) with the
// configured pair; after the files are replaced and ReloadTLS runs, new
// connections get the new certificate while an open one keeps working; a
// reload of broken files fails, is logged and keeps the pair in use.
func TestTLSReload(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t, 1001).Write(t, dir)
	srv, logs := startTLS(t, server.TLSConfig{CertFile: certFile, KeyFile: keyFile})
	url := srv.URL()
	require.True(t, strings.HasPrefix(url, "https://127.0.0.1:"), url)

	fresh := client(ca, false)
	require.Equal(t, "1001", serial(t, fresh, url))
	kept := client(ca, true)
	require.Equal(t, "1001", serial(t, kept, url))

	// Links use https too.
	res, err := fresh.Post(url+"/vnflcm/v1/vnf_instances", "application/json", strings.NewReader(`{"vnfdId":"vnfd-1"}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 201, res.StatusCode)
	require.True(t, strings.HasPrefix(res.Header.Get("Location"), url+"/vnflcm/v1/vnf_instances/"), res.Header.Get("Location"))

	// Plain HTTP and TLS 1.1 are refused.
	res, err = http.Get("http://" + srv.Addr() + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 400, res.StatusCode, "plain HTTP on the HTTPS port")
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11}}}
	_, err = old.Get(url + "/healthz")
	require.Error(t, err, "TLS 1.1 is refused")

	ca.Server(t, 1002).Write(t, dir)
	require.Equal(t, "1001", serial(t, fresh, url), "nothing changes before the reload")
	require.NoError(t, srv.ReloadTLS())
	require.Equal(t, "1002", serial(t, fresh, url))
	require.Equal(t, "1001", serial(t, kept, url), "an open connection is not dropped")

	// A half-written renewal: the reload fails and the pair in use stays.
	require.NoError(t, os.WriteFile(keyFile, []byte("-----BEGIN EC PRIVATE KEY-----\ntruncated"), 0o600))
	require.Error(t, srv.ReloadTLS())
	require.Equal(t, "1002", serial(t, fresh, url))
	require.Contains(t, logs.String(), "tls reload failed")
	require.NotContains(t, logs.String(), "truncated", "file contents are not logged")
}

// TestMTLS: with a client CA, a client without a certificate or with one
// from another CA is refused at the handshake; one the CA signed gets in.
// The client CA file is reloaded with the pair.
func TestMTLS(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "server CA")
	clients := tlstest.NewCA(t, "client CA")
	other := tlstest.NewCA(t, "other CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t, 7).Write(t, dir)
	caFile := filepath.Join(dir, "clients.pem")
	require.NoError(t, os.WriteFile(caFile, clients.PEM, 0o600))
	srv, _ := startTLS(t, server.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile})
	url := srv.URL()

	_, err := client(ca, false).Get(url + "/healthz")
	require.Error(t, err, "no client certificate")
	_, err = client(ca, false, other.Client(t, 2, "mallory").TLS).Get(url + "/healthz")
	require.Error(t, err, "a certificate from another CA")
	good := client(ca, false, clients.Client(t, 3, "nfvo").TLS)
	require.Equal(t, "7", serial(t, good, url))

	// Trusting the other CA instead takes effect on reload.
	require.NoError(t, os.WriteFile(caFile, other.PEM, 0o600))
	require.NoError(t, srv.ReloadTLS())
	_, err = good.Get(url + "/healthz")
	require.Error(t, err, "the old client CA is no longer trusted")
	require.Equal(t, "7", serial(t, client(ca, false, other.Client(t, 4, "nfvo2").TLS), url))
}

// TestTLSConfigErrors: incomplete or unreadable TLS settings stop the
// server from being built.
func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t, 1).Write(t, dir)
	empty := filepath.Join(dir, "empty.pem")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	for name, tc := range map[string]struct {
		cfg  server.TLSConfig
		want string
	}{
		"cert without key":      {server.TLSConfig{CertFile: certFile}, "both"},
		"key without cert":      {server.TLSConfig{KeyFile: keyFile}, "both"},
		"client CA without TLS": {server.TLSConfig{ClientCAFile: certFile}, "needs a certificate"},
		"missing file":          {server.TLSConfig{CertFile: filepath.Join(dir, "nope"), KeyFile: keyFile}, "nope"},
		"swapped files":         {server.TLSConfig{CertFile: keyFile, KeyFile: certFile}, "load"},
		"empty client CA":       {server.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: empty}, "no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := server.Config{DataDir: t.TempDir(), TLS: tc.cfg}
			_, err := server.New(t.Context(), cfg, storetest.SQLite(t), server.Static(driver.NewRegistry()), slog.New(slog.DiscardHandler))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

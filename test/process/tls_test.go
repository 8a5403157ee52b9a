package process

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/server/tlstest"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// TestTLSReloadOnSIGHUP: vnfm serves HTTPS with --tls-cert-file and
// --tls-key-file; a renewed pair is picked up on SIGHUP (new connections
// see the new certificate's serial), the process keeps running, and a
// SIGHUP with broken files keeps the pair in use.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "process test CA")
	dir := t.TempDir()
	leaf := ca.Server(t, 4242)
	// The private key is this test's secret: no line of it may be logged.
	testsecrets.Register(strings.Split(string(leaf.KeyPEM), "\n")[1])
	certFile, keyFile := leaf.Write(t, dir)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	out := &syncBuffer{}
	cmd := exec.Command(binary, "serve", "--listen", addr, "--data-dir", filepath.Join(dir, "data"),
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--auth", "none", "--log-level", "debug")
	cmd.Env = cleanEnv("VNFM_")
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		if s, ok := testsecrets.Find([]byte(out.String())); ok {
			t.Errorf("secret %q in the output of vnfm-scripted", s)
		}
		if t.Failed() {
			t.Logf("output of vnfm-scripted:\n%s", tail(out.String(), 100))
		}
	})

	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true,
	}}
	serial := func() (string, error) {
		res, err := c.Get("https://" + addr + "/healthz")
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode != 200 {
			return "", fmt.Errorf("status %d", res.StatusCode)
		}
		return res.TLS.PeerCertificates[0].SerialNumber.String(), nil
	}
	waitSerial := func(want string) {
		t.Helper()
		var got string
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			select {
			case err := <-done:
				t.Fatalf("vnfm exited: %v", err)
			default:
			}
			if got, err = serial(); err == nil && got == want {
				return
			}
		}
		t.Fatalf("serial %q (err %v), want %s", got, err, want)
	}
	waitSerial("4242")
	require.Contains(t, out.String(), `"url":"https://`+addr+`"`)

	ca.Server(t, 4243).Write(t, dir)
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	waitSerial("4243")
	require.Contains(t, out.String(), "tls certificate reloaded")

	// Broken files: the reload fails, the process and the pair stay.
	_, _ = ca.Server(t, 4244).Write(t, dir)
	require.NoError(t, os.WriteFile(keyFile, []byte("not a key"), 0o600))
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "tls reload failed") }, 10*time.Second, 20*time.Millisecond)
	got, err := serial()
	require.NoError(t, err)
	require.Equal(t, "4243", got)
	require.NotContains(t, out.String(), "not a key")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err, "exits 0 on SIGTERM after SIGHUPs")
		done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("vnfm did not exit within 15s of SIGTERM")
	}
}

package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH server on 127.0.0.1, running as the test user
// (root), so remote paths are local paths.
type testSSHD struct {
	t         *testing.T
	dir       string
	addr      string
	cfgPath   string
	logPath   string
	hostKey   string // authorized_keys format, no newline
	clientKey []byte // PEM
	cmd       *exec.Cmd
	exited    chan struct{}
}

// newSSHD prepares keys and config on a free port without starting sshd.
func newSSHD(t *testing.T) *testSSHD {
	t.Helper()
	_, err := os.Stat(sshdPath)
	require.NoError(t, err, "these tests need a real OpenSSH server: apt-get install -y openssh-server")
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755)) // privilege separation directory

	dir := t.TempDir()
	hostPub, hostPEM := genKey(t)
	clientPub, clientPEM := genKey(t)
	hostKeyPath := filepath.Join(dir, "ssh_host_ed25519_key")
	require.NoError(t, os.WriteFile(hostKeyPath, hostPEM, 0o600)) // sshd rejects readable host keys
	authKeys := filepath.Join(dir, "authorized_keys")
	require.NoError(t, os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientPub), 0o600))

	s := &testSSHD{
		t:         t,
		dir:       dir,
		addr:      freeAddr(t),
		cfgPath:   filepath.Join(dir, "sshd_config"),
		logPath:   filepath.Join(dir, "sshd.log"),
		hostKey:   marshalKey(hostPub),
		clientKey: clientPEM,
	}
	_, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	cfg := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
Subsystem sftp internal-sftp
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
UseDNS no
LogLevel VERBOSE
`, port, hostKeyPath, filepath.Join(dir, "sshd.pid"), authKeys)
	require.NoError(t, os.WriteFile(s.cfgPath, []byte(cfg), 0o600))
	return s
}

// startSSHD starts a server and waits until it accepts connections.
func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	s := newSSHD(t)
	s.start()
	s.waitReady()
	return s
}

func (s *testSSHD) start() {
	s.t.Helper()
	s.cmd = exec.Command(sshdPath, "-D", "-f", s.cfgPath, "-E", s.logPath)
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	require.NoError(s.t, s.cmd.Start())
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	s.t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		if s.t.Failed() {
			log, _ := os.ReadFile(s.logPath)
			s.t.Logf("sshd output:\n%s\nsshd log:\n%s", out.String(), log)
		}
	})
}

func (s *testSSHD) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited: // e.g. the port was taken meanwhile
			log, _ := os.ReadFile(s.logPath)
			s.t.Fatalf("sshd exited: %s\n%s", s.cmd.ProcessState, log)
		default:
		}
		// The pid file is written after binding: a connection before that
		// might reach whoever else holds the port.
		_, err := os.Stat(filepath.Join(s.dir, "sshd.pid"))
		if err == nil {
			var conn net.Conn
			if conn, err = net.DialTimeout("tcp", s.addr, time.Second); err == nil {
				_ = conn.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.logPath)
			s.t.Fatalf("sshd did not come up on %s: %v\n%s", s.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// config returns a Config for root with the authorized client key.
func (s *testSSHD) config(log *slog.Logger) Config {
	return Config{
		Addr:       s.addr,
		Auth:       Auth{Username: "root", PrivateKey: s.clientKey},
		ConnectFor: 5 * time.Second,
		Log:        log,
	}
}

func (s *testSSHD) dial(log *slog.Logger) *Client {
	s.t.Helper()
	c, err := Dial(s.t.Context(), s.config(log))
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func genKey(t *testing.T) (ssh.PublicKey, []byte) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	return sshPub, pem.EncodeToMemory(block)
}

// freeAddr returns a 127.0.0.1 port nobody listens on (racy but fine here).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// logBuffer collects debug logs from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

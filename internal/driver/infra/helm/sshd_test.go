package helm

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// startSSHD runs a real OpenSSH server on a loopback port, as root (the
// test user), accepting one generated key; it returns the address and the
// client key (PEM). Remote paths are local paths.
func startSSHD(t *testing.T) (addr string, clientKey []byte) {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Skip("needs openssh-server")
	}
	require.NoError(t, os.MkdirAll("/run/sshd", 0o755))
	dir := t.TempDir()
	_, hostKey := genKey(t)
	clientPub, clientKey := genKey(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "host_key"), hostKey, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr = l.Addr().String()
	require.NoError(t, l.Close())
	_, port, _ := net.SplitHostPort(addr)
	pid := filepath.Join(dir, "sshd.pid")
	cfg := fmt.Sprintf("Port %s\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n"+
		"UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"+
		"Subsystem sftp internal-sftp\nUseDNS no\n",
		port, filepath.Join(dir, "host_key"), pid, filepath.Join(dir, "authorized_keys"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600))
	cmd := exec.Command(sshd, "-D", "-f", filepath.Join(dir, "sshd_config"), "-E", filepath.Join(dir, "sshd.log"))
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	// The pid file is written once sshd listens.
	require.Eventually(t, func() bool {
		select {
		case <-exited:
			return false
		default:
		}
		_, err := os.Stat(pid)
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "sshd did not start")
	return addr, clientKey
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

package haproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// haproxyBin is Debian's haproxy package. The test fails rather than skips
// without it: the file format and runtime API parsing are only proven against
// the real thing.
const haproxyBin = "/usr/sbin/haproxy"

// TestRealHAProxyReload runs HAProxy in master-worker mode in front of local
// "API servers", replaces one of them in the config file, reloads with
// SIGUSR2 and checks both the runtime view and the traffic.
func TestRealHAProxyReload(t *testing.T) {
	require.FileExists(t, haproxyBin, "install HAProxy: apt-get install -y haproxy")
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfgPath := filepath.Join(dir, "haproxy.cfg")

	m1, m2, m3, m4 := apiServer(t, "m1"), apiServer(t, "m2"), apiServer(t, "m3"), apiServer(t, "m4")
	front := freePort(t)
	cfg := fmt.Sprintf(`global
    stats socket %[1]s/admin.sock mode 600 level admin
    pidfile %[1]s/haproxy.pid

defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend kube-apiserver
    bind 127.0.0.1:%[2]d
    default_backend kube-apiservers

backend kube-apiservers
    balance roundrobin
    server m1 %[3]s check inter 200ms
    server m2 %[4]s check inter 200ms
    server m3 %[5]s check inter 200ms
`, dir, front, m1.addr, m2.addr, m3.addr)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	master := startHAProxy(t, cfgPath)
	rt := Runtime{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}

	want := []ServerState{m1.state(), m2.state(), m3.state()}
	waitServers(t, rt, want)
	pid, err := os.ReadFile(filepath.Join(dir, "haproxy.pid"))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(master.Process.Pid), strings.TrimSpace(string(pid)), "with -W the pidfile names the master")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = rt.Exec(ctx, "show servers state nosuch")
	require.ErrorIs(t, err, ErrCommand)
	_, err = rt.Exec(ctx, "no such command")
	require.ErrorIs(t, err, ErrCommand)
	_, err = rt.Servers(ctx, "nosuch")
	require.ErrorIs(t, err, ErrCommand)

	seen := traffic(t, front, 12)
	require.Equal(t, map[string]bool{"m1": true, "m2": true, "m3": true}, seen)

	// Heal: m2 is replaced by m4, in the file so it survives reloads.
	old, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	servers, err := BackendServers(old, "kube-apiservers")
	require.NoError(t, err)
	require.Equal(t, []Server{{"m1", m1.addr}, {"m2", m2.addr}, {"m3", m3.addr}}, servers)
	out, changed, err := SetBackendServers(old, "kube-apiservers", []Server{{"m1", m1.addr}, {"m4", m4.addr}, {"m3", m3.addr}})
	require.NoError(t, err)
	require.True(t, changed)
	require.Contains(t, string(out), "    server m4 "+m4.addr+" check inter 200ms\n")
	require.NoError(t, os.WriteFile(cfgPath, out, 0o600))

	oldWorkers := children(master.Process.Pid)
	require.NotEmpty(t, oldWorkers)
	require.NoError(t, master.Process.Signal(syscall.SIGUSR2))

	waitServers(t, rt, []ServerState{m1.state(), m4.state(), m3.state()})
	// The old worker keeps the frontend until it stops; only once it is gone
	// is "never m2" a fair claim.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		now := children(master.Process.Pid)
		for _, p := range oldWorkers {
			assert.NotContains(c, now, p, "old worker still running")
		}
		assert.NotEmpty(c, now, "no new worker")
	}, 10*time.Second, 50*time.Millisecond)

	seen = traffic(t, front, 12)
	require.Equal(t, map[string]bool{"m1": true, "m3": true, "m4": true}, seen)
}

// fakeAPIServer is a stand-in kube-apiserver that answers every connection with
// its own name.
type fakeAPIServer struct {
	name, addr string
	port       int
}

func (s fakeAPIServer) state() ServerState {
	return ServerState{Name: s.name, Addr: "127.0.0.1", Port: s.port, OpState: 2}
}

func apiServer(t *testing.T, name string) fakeAPIServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Health checks close at once; a failed write is fine.
			_, _ = io.WriteString(c, name+"\n")
			c.Close()
		}
	}()
	return fakeAPIServer{name: name, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects HAProxy's output, written by exec's copier while the
// test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startHAProxy starts the master (-W) in the foreground (-db); the returned
// process is the master, the one to send SIGUSR2.
func startHAProxy(t *testing.T, cfgPath string) *exec.Cmd {
	out := &lockedBuffer{}
	cmd := exec.Command(haproxyBin, "-W", "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	return cmd
}

// waitServers polls the runtime API until HAProxy serves exactly want, all
// checked up.
func waitServers(t *testing.T, rt Runtime, want []ServerState) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err := rt.Servers(ctx, "kube-apiservers")
		if !assert.NoError(c, err) {
			return
		}
		assert.Equal(c, want, got)
	}, 15*time.Second, 100*time.Millisecond)
}

// traffic makes n connections through the frontend and returns which
// servers answered.
func traffic(t *testing.T, port, n int) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for range n {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(3*time.Second)))
		b, err := io.ReadAll(c)
		c.Close()
		require.NoError(t, err)
		name := strings.TrimSpace(string(b))
		require.NotEmpty(t, name, "empty answer through the frontend")
		seen[name] = true
	}
	return seen
}

// children lists the pids whose parent is pid (HAProxy's workers).
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat") // only fails on a bad pattern
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces, so cut at the
		// last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil {
			out = append(out, child)
		}
	}
	return out
}

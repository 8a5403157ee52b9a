// Package process runs vnfm as a real operating-system process (the
// vnfm-scripted binary: vnfm with the scripted test driver) to test what an
// in-process test cannot: a SIGKILL in the middle of an operation, and the
// OpenStack Tacker command line client talking to it.
package process

import (
	"github.com/vnfm-project/vnfm/test/etsischema"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// vimPassword is planted in instantiate requests; no response body and no
// server output may ever contain it (nor any other secret in testsecrets).
const vimPassword = testsecrets.VIMPassword

// lease is the --lease every server runs with.
const lease = 2 * time.Second

// The executables TestMain built: vnfm-scripted (vnfm with the scripted
// test driver), vnfm itself and the OpenStack emulator.
var binary, vnfmBinary, emulatorBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vnfm-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "process test:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vnfm-scripted")
	vnfmBinary = filepath.Join(dir, "vnfm")
	emulatorBinary = filepath.Join(dir, "openstack-emulator")
	for pkg, out := range map[string]string{"./test/cmd/vnfm-scripted": binary, "./cmd/vnfm": vnfmBinary, "./cmd/openstack-emulator": emulatorBinary} {
		if err := build(pkg, out); err != nil {
			fmt.Fprintln(os.Stderr, "process test: build", pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles a package of the module into out.
func build(pkg, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no go command on PATH: %w", err)
	}
	gomod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || root == "" {
		return errors.New("not inside the vnfm module (go env GOMOD is empty)")
	}
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, msg)
	}
	return nil
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is one running vnfm-scripted.
type proc struct {
	t    *testing.T
	bin  string
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:PORT
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed

	mu     sync.Mutex
	bodies [][]byte // every response body received through do
}

// startServer runs vnfm-scripted serve on a free loopback port with the
// given database (empty: SQLite in dataDir) and data dir, and waits until it
// answers /healthz. The process is killed when the test ends, and its output
// is logged if the test failed. extra flags are appended to the command
// line.
func startServer(t *testing.T, dbURL, dataDir string, extra ...string) *proc {
	t.Helper()
	return startBinary(t, binary, dbURL, dataDir, extra...)
}

// startBinary is startServer for another vnfm executable.
func startBinary(t *testing.T, bin, dbURL, dataDir string, extra ...string) *proc {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, err := launch(t, bin, dbURL, dataDir, extra)
		if err == nil {
			return p
		}
		// Another test may have bound the port between our probe and the
		// server's listen.
		if attempt < 3 && strings.Contains(p.out.String(), "address already in use") {
			continue
		}
		t.Fatalf("%s did not come up: %v\n%s", filepath.Base(bin), err, tail(p.out.String(), 100))
	}
}

func launch(t *testing.T, bin, dbURL, dataDir string, extra []string) (*proc, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	p := &proc{t: t, bin: bin, url: "http://" + addr, out: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"serve",
		"--listen", addr,
		"--database-url", dbURL,
		"--data-dir", dataDir,
		"--lease", lease.String(),
		"--auth", "none", // tests that need auth pass their own --auth, which wins
		"--log-level", "debug"}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = cleanEnv("VNFM_")
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		for _, f := range p.secretFindings() {
			t.Errorf("%s", f)
		}
		if t.Failed() {
			t.Logf("output of %s (pid %d, %s):\n%s", filepath.Base(bin), p.cmd.Process.Pid, p.url, tail(p.out.String(), 150))
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.done:
			return p, fmt.Errorf("exited before it was healthy: %v", p.err)
		default:
		}
		res, err := http.Get(p.url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.kill()
			return p, fmt.Errorf("GET /healthz did not answer 200 within 20s (last error %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cleanEnv is the environment without the variables starting with one of
// the prefixes.
func cleanEnv(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (if the process is still running) and waits for it.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop sends SIGTERM and requires a clean exit within 15 s.
func (p *proc) stop() {
	t := p.t
	t.Helper()
	require.True(t, p.running(), "vnfm-scripted exited on its own: %v", p.err)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("vnfm-scripted did not exit within 15s of SIGTERM")
	}
	require.NoError(t, p.err, "vnfm-scripted exits 0 on SIGTERM")
	require.Contains(t, p.out.String(), "vnfm stopped")
}

// secretFindings checks the process output and every response body
// received through do against every registered test secret (of any test)
// and describes each leak; launch's cleanup reports them.
func (p *proc) secretFindings() []string {
	var out []string
	if s, ok := testsecrets.Find([]byte(p.out.String())); ok {
		out = append(out, fmt.Sprintf("secret %q in the output of %s", s, filepath.Base(p.bin)))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bodies {
		if s, ok := testsecrets.Find(b); ok {
			out = append(out, fmt.Sprintf("secret %q in a response body: %s", s, b))
		}
	}
	return out
}

// assertNoSecret checks the process output and every response body received
// through do for secret.
func (p *proc) assertNoSecret(t *testing.T, secret string) {
	t.Helper()
	require.NotContains(t, p.out.String(), secret, "secret in the output of vnfm-scripted")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.bodies {
		require.NotContains(t, string(b), secret, "secret in a response body")
	}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// do sends a SOL003 request (Version: 1.3.0); body is JSON text or "".
func (p *proc) do(method, path, body string) *resp {
	t := p.t
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Version", "1.3.0")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	p.mu.Lock()
	p.bodies = append(p.bodies, raw)
	p.mu.Unlock()
	if res.StatusCode >= 400 {
		validate(t, "ProblemDetails", raw)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: raw}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		return fmt.Sprintf("[... %d lines]\n", len(l)-lines) + strings.Join(l[len(l)-lines:], "\n")
	}
	return s
}

// validate checks body against the ETSI schemas of the named type.
func validate(t *testing.T, name string, body []byte) {
	t.Helper()
	etsischema.Validate(t, name, body)
}

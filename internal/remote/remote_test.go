package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func TestRunStdoutStderrStdin(t *testing.T) {
	t.Parallel()
	c := startSSHD(t).dial(nil)

	res, err := c.Run(t.Context(), "echo out; echo err >&2", RunOptions{})
	require.NoError(t, err)
	require.Equal(t, "out\n", string(res.Stdout))
	require.Equal(t, "err\n", string(res.Stderr))

	res, err = c.Run(t.Context(), "tr a-z A-Z", RunOptions{Stdin: strings.NewReader("hello\n")})
	require.NoError(t, err)
	require.Equal(t, "HELLO\n", string(res.Stdout))

	// A command that ignores its stdin still succeeds.
	res, err = c.Run(t.Context(), "echo ok", RunOptions{Stdin: strings.NewReader(strings.Repeat("x", 1<<20))})
	require.NoError(t, err)
	require.Equal(t, "ok\n", string(res.Stdout))
}

func TestRunEnvQuoting(t *testing.T) {
	t.Parallel()
	c := startSSHD(t).dial(nil)

	env := map[string]string{
		"QUOTES":    `it's "double" and 'single'`,
		"SPACES":    "  a  b\tc  ",
		"DOLLAR":    "$HOME $(id) `id` ${X:-y} \\n",
		"NEWLINE":   "line1\nline2\n",
		"EMPTY":     "",
		"ONLYQUOTE": "'",
		"_under9":   "ok;&|<>*?",
	}
	keys := slices.Sorted(maps.Keys(env))
	var args []string
	for _, k := range keys {
		args = append(args, `"$`+k+`"`)
	}
	res, err := c.Run(t.Context(), `printf '%s\0' `+strings.Join(args, " "), RunOptions{Env: env})
	require.NoError(t, err)
	got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
	require.Len(t, got, len(keys))
	for i, k := range keys {
		require.Equal(t, env[k], got[i], k)
	}

	_, err = c.Run(t.Context(), "true", RunOptions{Env: map[string]string{"BAD-KEY": "hunter22"}})
	require.ErrorContains(t, err, "BAD-KEY")
	require.NotContains(t, err.Error(), "hunter22")
	_, err = c.Run(t.Context(), "true", RunOptions{Env: map[string]string{"1X": "v"}})
	require.Error(t, err)
}

func TestRunNonZeroExitMasksSecrets(t *testing.T) {
	t.Parallel()
	log, logs := newTestLogger()
	c := startSSHD(t).dial(log)

	const secret, token = "s3cr3t-value", "tok-abc123"
	cmd := `echo "stdout has ` + secret + `"; echo "failing with ` + secret + ` and $JOIN_TOKEN" >&2; exit 3`
	res, err := c.Run(t.Context(), cmd, RunOptions{
		Env:     map[string]string{"JOIN_TOKEN": token, "PLAIN": "visible"},
		Secrets: []string{secret},
	})
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 3, ce.ExitCode)
	require.Equal(t, "failing with *** and ***\n", ce.Stderr)
	require.Equal(t, "stdout has ***\n", ce.Stdout)
	require.Contains(t, ce.Cmd, "echo \"stdout has ***\"")
	require.NotContains(t, ce.Cmd, "visible", "env values are not part of Cmd")
	require.Contains(t, err.Error(), "code 3")
	require.Contains(t, err.Error(), "failing with *** and ***")
	for _, s := range []string{err.Error(), ce.Cmd, ce.Stdout, ce.Stderr, logs.String()} {
		require.NotContains(t, s, secret)
		require.NotContains(t, s, token)
	}
	require.Contains(t, logs.String(), "ssh command done")
	require.Contains(t, logs.String(), "duration=")
	// The Result still carries the real output for the caller.
	require.Contains(t, string(res.Stderr), secret)

	// Only the tail of long output is kept, and masked before cutting.
	_, err = c.Run(t.Context(), `for i in $(seq 1 500); do echo "line $i `+secret+`" >&2; done; exit 1`,
		RunOptions{Secrets: []string{secret}})
	require.ErrorAs(t, err, &ce)
	require.LessOrEqual(t, len(ce.Stderr), tailSize+len("…"))
	require.True(t, strings.HasSuffix(ce.Stderr, "line 500 ***\n"), ce.Stderr)
	require.NotContains(t, ce.Stderr, secret[:5])
}

// sleepers counts processes running exactly "sleep <arg>".
func sleepers(t *testing.T, arg string) int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	n := 0
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err == nil && string(b) == "sleep\x00"+arg+"\x00" {
			n++
		}
	}
	return n
}

func TestRunTimeoutKills(t *testing.T) {
	t.Parallel()
	c := startSSHD(t).dial(nil)

	for _, tc := range []struct{ name, cmd string }{
		{"simple", "sleep %s"},
		{"script", "echo started; sleep %s; echo never"}, // the shell forks sleep
	} {
		t.Run(tc.name, func(t *testing.T) {
			arg := fmt.Sprintf("%d.%d", 100+time.Now().UnixNano()%1000, os.Getpid())
			start := time.Now()
			_, err := c.Run(t.Context(), fmt.Sprintf(tc.cmd, arg), RunOptions{Timeout: time.Second})
			elapsed := time.Since(start)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, elapsed, 6*time.Second)
			t.Logf("returned after %s: %v", elapsed, err)
			require.Eventually(t, func() bool { return sleepers(t, arg) == 0 }, 5*time.Second, 50*time.Millisecond,
				"remote sleep %s still running", arg)
		})
	}
}

func TestRunContextCancel(t *testing.T) {
	t.Parallel()
	c := startSSHD(t).dial(nil)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Run(ctx, "sleep 100", RunOptions{})
	require.ErrorIs(t, err, context.Canceled)
	t.Logf("returned after %s: %v", time.Since(start), err)
	require.Less(t, time.Since(start), 6*time.Second)
}

func TestHostKeyTOFUThenPinned(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(nil)
	require.Equal(t, s.hostKey, c.HostKey())
	require.NotContains(t, c.HostKey(), "\n")

	cfg := s.config(nil)
	cfg.HostKey = c.HostKey()
	c2, err := Dial(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, c2.Close())
	require.NoError(t, c2.Close(), "Close is idempotent")
}

func TestHostKeyMismatchFailsAtOnce(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	other, _ := genKey(t)
	cfg := s.config(nil)
	cfg.HostKey = marshalKey(other)
	cfg.ConnectFor = 30 * time.Second

	start := time.Now()
	_, err := Dial(t.Context(), cfg)
	require.ErrorIs(t, err, ErrHostKeyMismatch)
	require.Less(t, time.Since(start), 5*time.Second, "mismatch must not be retried")
	served, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(s.hostKey))
	require.NoError(t, perr)
	require.Contains(t, err.Error(), s.addr)
	require.Contains(t, err.Error(), ssh.FingerprintSHA256(served))
	require.Contains(t, err.Error(), ssh.FingerprintSHA256(other))
	require.Contains(t, err.Error(), "SHA256:")
}

func TestDialRetriesUntilServerStarts(t *testing.T) {
	t.Parallel()
	s := newSSHD(t)
	log, logs := newTestLogger()
	cfg := s.config(log)
	cfg.ConnectFor = 20 * time.Second

	type result struct {
		c   *Client
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		c, err := Dial(t.Context(), cfg)
		done <- result{c, err}
	}()
	time.Sleep(1500 * time.Millisecond)
	s.start()
	r := <-done
	require.NoError(t, r.err)
	t.Cleanup(func() { _ = r.c.Close() })
	elapsed := time.Since(start)
	t.Logf("connected after %s", elapsed)
	require.GreaterOrEqual(t, elapsed, 1500*time.Millisecond)
	require.Less(t, elapsed, 15*time.Second) // backoff steps reach 5s
	require.Contains(t, logs.String(), "ssh connect retry")
	require.Contains(t, logs.String(), "connection refused")

	res, err := r.c.Run(t.Context(), "echo up", RunOptions{})
	require.NoError(t, err)
	require.Equal(t, "up\n", string(res.Stdout))
}

func TestDialGivesUpAfterConnectFor(t *testing.T) {
	t.Parallel()
	cfg := Config{Addr: freeAddr(t), Auth: Auth{Username: "root", Password: "pw-not-used"}, ConnectFor: time.Second}
	start := time.Now()
	_, err := Dial(t.Context(), cfg)
	elapsed := time.Since(start)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.ErrorContains(t, err, "giving up")
	require.GreaterOrEqual(t, elapsed, time.Second)
	require.Less(t, elapsed, 5*time.Second)
}

func TestDialRetriesEOFDuringHandshake(t *testing.T) {
	t.Parallel()
	// A port that accepts and hangs up, like sshd refusing early connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = conn.Close()
		}
	}()
	cfg := Config{Addr: l.Addr().String(), Auth: Auth{Username: "root", Password: "pw"}, ConnectFor: time.Second}
	_, err = Dial(t.Context(), cfg)
	require.ErrorContains(t, err, "giving up")
	require.GreaterOrEqual(t, accepted.Load(), int32(3))
}

func TestDialHandshakeTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	// A port that accepts and never speaks.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()
	cfg := Config{Addr: l.Addr().String(), Auth: Auth{Username: "root", Password: "pw"},
		DialTimeout: 300 * time.Millisecond, ConnectFor: time.Second}
	start := time.Now()
	_, err = Dial(t.Context(), cfg)
	require.ErrorContains(t, err, "giving up")
	require.GreaterOrEqual(t, accepted.Load(), int32(2))
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestDialWrongClientKeyFailsAtOnce(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	_, wrong := genKey(t)
	cfg := s.config(nil)
	cfg.Auth.PrivateKey = wrong
	cfg.ConnectFor = 30 * time.Second
	start := time.Now()
	_, err := Dial(t.Context(), cfg)
	require.ErrorContains(t, err, "unable to authenticate")
	require.ErrorIs(t, err, ErrAuth)
	require.Less(t, time.Since(start), 5*time.Second, "auth failure must not be retried")
	require.NotContains(t, err.Error(), "PRIVATE KEY")
}

// A VM's sshd may answer before cloud-init installed the login key:
// AuthRetryFor keeps trying until the key is there.
func TestDialRetriesAuthWhileKeyIsInstalled(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	authKeys := filepath.Join(s.dir, "authorized_keys")
	keys, err := os.ReadFile(authKeys)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(authKeys, nil, 0o600))
	cfg := s.config(nil)
	cfg.ConnectFor = 20 * time.Second
	cfg.AuthRetryFor = 15 * time.Second
	go func() {
		time.Sleep(1500 * time.Millisecond)
		_ = os.WriteFile(authKeys, keys, 0o600)
	}()
	start := time.Now()
	c, err := Dial(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.GreaterOrEqual(t, time.Since(start), 1500*time.Millisecond)

	// Once AuthRetryFor has passed, a refusal is final.
	require.NoError(t, os.WriteFile(authKeys, nil, 0o600))
	cfg.AuthRetryFor = time.Second
	start = time.Now()
	_, err = Dial(t.Context(), cfg)
	require.ErrorIs(t, err, ErrAuth)
	require.Less(t, time.Since(start), 10*time.Second)
}

func TestDialHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := Dial(ctx, Config{Addr: freeAddr(t), Auth: Auth{Username: "root", Password: "pw"}, ConnectFor: time.Minute})
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestDialConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := Dial(t.Context(), Config{Addr: "127.0.0.1", Auth: Auth{Username: "root"}})
	require.ErrorContains(t, err, "no credentials")
	require.ErrorContains(t, err, "127.0.0.1:22")
	_, err = Dial(t.Context(), Config{Addr: "h", Auth: Auth{Password: "x"}})
	require.ErrorContains(t, err, "username")
	_, err = Dial(t.Context(), Config{Addr: "h", Auth: Auth{Username: "u", PrivateKey: []byte("garbage")}})
	require.ErrorContains(t, err, "parse private key")
	_, err = Dial(t.Context(), Config{Addr: "h", Auth: Auth{Username: "u", Password: "x"}, HostKey: "nonsense"})
	require.ErrorContains(t, err, "pinned host key")
}

func TestWithDefaultPort(t *testing.T) {
	t.Parallel()
	require.Equal(t, "10.0.0.1:22", withDefaultPort("10.0.0.1"))
	require.Equal(t, "10.0.0.1:2222", withDefaultPort("10.0.0.1:2222"))
	require.Equal(t, "[fd00::1]:22", withDefaultPort("fd00::1"))
	require.Equal(t, "[fd00::1]:22", withDefaultPort("[fd00::1]"))
	require.Equal(t, "node-1:22", withDefaultPort("node-1"))
}

func TestWriteReadFile(t *testing.T) {
	t.Parallel()
	c := startSSHD(t).dial(nil)
	dir := t.TempDir() // sshd runs locally as root: remote paths are local paths
	p := filepath.Join(dir, "a", "b", "c", "join.sh")

	require.NoError(t, c.WriteFile(t.Context(), p, []byte("#!/bin/sh\necho hi\n"), 0o750))
	got, err := c.ReadFile(t.Context(), p)
	require.NoError(t, err)
	require.Equal(t, "#!/bin/sh\necho hi\n", string(got))
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o750), st.Mode().Perm())

	// Overwrite in place, tighter mode, binary content.
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i)
	}
	require.NoError(t, c.WriteFile(t.Context(), p, data, 0o600))
	got, err = c.ReadFile(t.Context(), p)
	require.NoError(t, err)
	require.Equal(t, data, got)
	st, err = os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	entries, err := os.ReadDir(filepath.Dir(p))
	require.NoError(t, err)
	require.Len(t, entries, 1, "temp file left behind")

	// Empty file, default mode.
	empty := filepath.Join(dir, "empty")
	require.NoError(t, c.WriteFile(t.Context(), empty, nil, 0))
	got, err = c.ReadFile(t.Context(), empty)
	require.NoError(t, err)
	require.Empty(t, got)

	_, err = c.ReadFile(t.Context(), filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "missing")

	// A file where a directory is needed fails cleanly.
	err = c.WriteFile(t.Context(), filepath.Join(empty, "x"), []byte("x"), 0o644)
	require.Error(t, err)
}

func TestDialContextTunnel(t *testing.T) {
	t.Parallel()
	c := startSSHD(t).dial(nil)

	echo := func(l net.Listener) {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = conn.Close() }()
				_, _ = io.Copy(conn, conn)
			}()
		}
	}
	tcpL, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = tcpL.Close() })
	go echo(tcpL)
	sock := filepath.Join(t.TempDir(), "echo.sock")
	unixL, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unixL.Close() })
	go echo(unixL)

	for _, tc := range []struct{ network, addr string }{{"tcp", tcpL.Addr().String()}, {"unix", sock}} {
		conn, err := c.DialContext(t.Context(), tc.network, tc.addr)
		require.NoError(t, err, tc.network)
		msg := "ping over " + tc.network
		_, err = conn.Write([]byte(msg))
		require.NoError(t, err)
		buf := make([]byte, len(msg))
		_, err = io.ReadFull(conn, buf)
		require.NoError(t, err)
		require.Equal(t, msg, string(buf))
		require.NoError(t, conn.Close())
	}

	_, err = c.DialContext(t.Context(), "tcp", freeAddr(t))
	require.Error(t, err)
	_, err = c.DialContext(t.Context(), "udp", "127.0.0.1:53")
	require.ErrorContains(t, err, "unsupported network")
}

func TestMask(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a *** b *** c", Mask("a secret b secret c", []string{"secret"}))
	require.Equal(t, "keep ab and x", Mask("keep ab and x", []string{"ab", "", "x"}))
	require.Equal(t, "*** and ***", Mask("topsecret and other", []string{"secret", "topsecret", "other"}))
	require.Equal(t, "unchanged", Mask("unchanged", nil))
}

func TestAuthIsRedacted(t *testing.T) {
	t.Parallel()
	_, key := genKey(t)
	cfg := Config{Addr: "h", Auth: Auth{Username: "root", Password: "hunter2-pw", PrivateKey: key}}
	keyLine := strings.Split(string(key), "\n")[1]
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "auth", cfg.Auth, "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.Auth), logs.String()} {
		require.NotContains(t, s, "hunter2-pw")
		require.NotContains(t, s, keyLine)
		require.NotContains(t, s, "PRIVATE KEY")
	}
	require.Contains(t, fmt.Sprint(cfg.Auth), "root")
}

// TestPasswordAuth uses an in-process x/crypto server: the OpenSSH server
// would need a host account with a password.
func TestPasswordAuth(t *testing.T) {
	t.Parallel()
	const password = "correct horse"
	hostPub, hostPEM := genKey(t)
	signer, err := ssh.ParsePrivateKey(hostPEM)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		cfg  func(*ssh.ServerConfig)
	}{
		{"password", func(sc *ssh.ServerConfig) {
			sc.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
				if string(pw) == password {
					return nil, nil
				}
				return nil, errors.New("denied")
			}
		}},
		{"keyboard-interactive", func(sc *ssh.ServerConfig) {
			sc.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
				answers, err := ask("", "", []string{"Password: "}, []bool{false})
				if err == nil && len(answers) == 1 && answers[0] == password {
					return nil, nil
				}
				return nil, errors.New("denied")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc := &ssh.ServerConfig{}
			tc.cfg(sc)
			sc.AddHostKey(signer)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			t.Cleanup(func() { _ = l.Close() })
			go func() {
				for {
					conn, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer func() { _ = conn.Close() }()
						sconn, chans, reqs, err := ssh.NewServerConn(conn, sc)
						if err != nil {
							return
						}
						go ssh.DiscardRequests(reqs)
						for ch := range chans {
							_ = ch.Reject(ssh.Prohibited, "no channels")
						}
						_ = sconn.Close()
					}()
				}
			}()

			cfg := Config{Addr: l.Addr().String(), Auth: Auth{Username: "vnfm", Password: password},
				HostKey: marshalKey(hostPub), ConnectFor: 30 * time.Second}
			c, err := Dial(t.Context(), cfg)
			require.NoError(t, err)
			require.NoError(t, c.Close())

			cfg.Auth.Password = "wrong-password"
			start := time.Now()
			_, err = Dial(t.Context(), cfg)
			require.ErrorContains(t, err, "unable to authenticate")
			require.NotContains(t, err.Error(), "wrong-password")
			require.Less(t, time.Since(start), 5*time.Second, "auth failure must not be retried")
		})
	}
}

func TestPIDProbe(t *testing.T) {
	t.Parallel()
	const stream = "bashrc noise\n" + pidMarker + "4242\nreal stderr\npartial"
	// Any split of the stream into writes gives the same result.
	for cut1 := 0; cut1 <= len(stream); cut1++ {
		for _, cut2 := range []int{cut1, (cut1 + len(stream)) / 2, len(stream)} {
			var out strings.Builder
			p := &pidProbe{w: &out}
			for _, chunk := range []string{stream[:cut1], stream[cut1:cut2], stream[cut2:]} {
				n, err := p.Write([]byte(chunk))
				require.NoError(t, err)
				require.Equal(t, len(chunk), n)
			}
			p.flush()
			require.Equal(t, "bashrc noise\nreal stderr\npartial", out.String(), "cuts %d %d", cut1, cut2)
			require.Equal(t, 4242, p.get())
		}
	}

	// Without a marker nothing is lost.
	var out strings.Builder
	p := &pidProbe{w: &out}
	long := strings.Repeat("x", maxPreamble+10) + "\nafter\n"
	_, err := p.Write([]byte(long))
	require.NoError(t, err)
	p.flush()
	require.Equal(t, long, out.String())
	require.Zero(t, p.get())
}

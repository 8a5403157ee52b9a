package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"
)

const (
	defaultRunTimeout = 10 * time.Minute
	// tailSize is how much output a CommandError keeps: enough for the
	// failing step of a script, small enough for a log line or an API error.
	tailSize = 2048
	// killGrace is how long to wait for the server to confirm a killed session.
	killGrace = 2 * time.Second
	minSecret = 3 // shorter values would mask ordinary text
)

// RunOptions tunes one Run.
type RunOptions struct {
	// Env is exported by a shell prefix rather than SetEnv, which sshd
	// usually refuses. Values of keys containing TOKEN, KEY, PASSWORD or
	// SECRET are masked like Secrets.
	Env map[string]string
	// Stdin is copied to the command; it should be finite (a blocked reader
	// leaks a goroutine, though Run still returns).
	Stdin   io.Reader
	Timeout time.Duration // default 10m
	Secrets []string      // values masked in errors and log lines
}

// Result is the complete, unmasked output of a command.
type Result struct {
	Stdout, Stderr []byte
}

// CommandError reports a command that ran but exited non-zero. All fields
// are masked; Stdout and Stderr are the last ~2 KiB.
type CommandError struct {
	Cmd      string // without the Env prefix
	ExitCode int    // 128+n when killed by signal n, -1 when the server sent no status
	Stdout   string
	Stderr   string
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("remote command %q exited with code %d", brief(e.Cmd), e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

var (
	envKeyRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretKeyHint = []string{"TOKEN", "KEY", "PASSWORD", "SECRET"}
)

// Run runs cmd through the remote user's (POSIX) shell. A non-zero exit
// returns the Result together with a *CommandError. On timeout or
// cancellation the remote process group is killed (SIGKILL), the session
// closed, and the error wraps context.DeadlineExceeded or ctx.Err().
// Processes that left the group (setsid, sudo's child) survive.
func (c *Client) Run(ctx context.Context, cmd string, o RunOptions) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = defaultRunTimeout
	}
	secrets := c.runSecrets(o)
	shown := Mask(cmd, secrets)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("run %q on %s: "+format, append([]any{brief(shown), c.addr}, args...)...)
	}
	prefix, err := envPrefix(o.Env)
	if err != nil {
		return nil, fail("%w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	sess, err := withCtx(ctx, c.ssh.NewSession, func(s *ssh.Session) { _ = s.Close() })
	if err != nil {
		return nil, fail("open session: %w", err)
	}
	defer func() { _ = sess.Close() }()

	var stdout, stderr bytes.Buffer
	probe := &pidProbe{w: &stderr}
	sess.Stdout, sess.Stderr = &stdout, probe
	var stdin io.WriteCloser
	if o.Stdin != nil {
		// A pipe of our own keeps Wait from failing when the command exits
		// without reading all of stdin.
		if stdin, err = sess.StdinPipe(); err != nil {
			return nil, fail("stdin: %w", err)
		}
	}

	start := time.Now()
	c.log.DebugContext(ctx, "ssh command start", "cmd", brief(shown))
	if err := sess.Start(pidProbeCmd + prefix + cmd); err != nil {
		return nil, fail("start: %w", err)
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, o.Stdin)
			_ = stdin.Close()
		}()
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	select {
	case err = <-done:
	case <-ctx.Done():
		c.kill(ctx, sess, probe.get())
		t := time.NewTimer(killGrace)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		_ = sess.Close()
		c.log.DebugContext(ctx, "ssh command killed", "cmd", brief(shown),
			"duration", time.Since(start), "err", ctx.Err())
		return nil, fail("killed after %s: %w", time.Since(start).Round(time.Millisecond), ctx.Err())
	}

	probe.flush()
	res := &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	code := 0
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		code = exitErr.ExitStatus()
	case errors.As(err, new(*ssh.ExitMissingError)):
		code = -1
	default:
		c.log.DebugContext(ctx, "ssh command failed", "cmd", brief(shown),
			"duration", time.Since(start), "err", Mask(err.Error(), secrets))
		return nil, fail("%w", err)
	}
	c.log.DebugContext(ctx, "ssh command done", "cmd", brief(shown),
		"duration", time.Since(start), "exit_code", code)
	if code != 0 {
		return res, &CommandError{
			Cmd:      shown,
			ExitCode: code,
			Stdout:   tail(Mask(stdout.String(), secrets)),
			Stderr:   tail(Mask(stderr.String(), secrets)),
		}
	}
	return res, nil
}

// kill stops a session's remote process group. The signal request is what
// the protocol offers, but OpenSSH refuses it for root logins (no privilege
// separation after authentication), so the group the shell leads (sshd
// calls setsid for it) is also killed from a second session.
func (c *Client) kill(ctx context.Context, sess *ssh.Session, pid int) {
	// Bounded: on a dead connection even sending a request can block.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killGrace)
	defer cancel()
	_, _ = withCtx(ctx, func() (struct{}, error) { return struct{}{}, sess.Signal(ssh.SIGKILL) }, func(struct{}) {})
	if pid <= 1 {
		return
	}
	ks, err := withCtx(ctx, c.ssh.NewSession, func(s *ssh.Session) { _ = s.Close() })
	if err != nil {
		c.log.DebugContext(ctx, "ssh kill: open session", "err", err)
		return
	}
	defer func() { _ = ks.Close() }()
	// The group may already be gone ("No such process"): nothing to report.
	_, _ = withCtx(ctx, func() (struct{}, error) {
		return struct{}{}, ks.Run("kill -s KILL -- -" + strconv.Itoa(pid) + " 2>/dev/null")
	}, func(struct{}) {})
}

// pidProbeCmd makes the remote shell report its pid, which is also its
// process group, as the first stderr line; pidProbe strips it.
const (
	pidMarker   = "\x1evnfm-remote-pid:"
	pidProbeCmd = `printf '\036vnfm-remote-pid:%s\n' "$$" >&2; `
	maxPreamble = 4096 // stderr a login shell may print before the marker
)

// pidProbe forwards stderr to w, minus the marker line, and records the pid.
type pidProbe struct {
	w    io.Writer
	mu   sync.Mutex
	line []byte // incomplete line while still looking for the marker
	seen int
	done bool
	pid  int
}

func (p *pidProbe) Write(b []byte) (int, error) {
	n := len(b)
	p.mu.Lock()
	var out []byte
	for !p.done && len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			b = nil
			if len(p.line) > maxPreamble {
				out, p.line, p.done = append(out, p.line...), nil, true
			}
			break
		}
		line := append(p.line, b[:i+1]...)
		p.line, b = nil, b[i+1:]
		p.seen += len(line)
		if rest, ok := strings.CutPrefix(string(line), pidMarker); ok {
			p.pid, _ = strconv.Atoi(strings.TrimSuffix(rest, "\n"))
			p.done = true
		} else {
			out = append(out, line...)
			p.done = p.seen > maxPreamble
		}
	}
	p.mu.Unlock()
	out = append(out, b...)
	if len(out) == 0 {
		return n, nil
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

// flush forwards a trailing partial line after the command ended.
func (p *pidProbe) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.line) > 0 {
		_, _ = p.w.Write(p.line)
		p.line = nil
	}
}

func (p *pidProbe) get() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

func (c *Client) runSecrets(o RunOptions) []string {
	s := slices.Concat(c.secrets, o.Secrets)
	for k, v := range o.Env {
		up := strings.ToUpper(k)
		if slices.ContainsFunc(secretKeyHint, func(h string) bool { return strings.Contains(up, h) }) {
			s = append(s, v)
		}
	}
	return s
}

// envPrefix renders env as `export K='v' ...; `. Errors name keys only,
// never values.
func envPrefix(env map[string]string) (string, error) {
	if len(env) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("export")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if !envKeyRE.MatchString(k) {
			return "", fmt.Errorf("invalid environment variable name %q", k)
		}
		v := env[k]
		if strings.IndexByte(v, 0) >= 0 {
			return "", fmt.Errorf("environment variable %s: value contains a NUL byte", k)
		}
		b.WriteString(" " + k + "=" + shellQuote(v))
	}
	b.WriteString("; ")
	return b.String(), nil
}

// shellQuote single-quotes s for a POSIX shell; inside single quotes only
// the quote itself needs escaping ('\”).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Mask replaces every occurrence of each secret of at least 3 bytes with
// "***". Longer secrets go first so that one containing another is hidden
// entirely.
func Mask(s string, secrets []string) string {
	ss := slices.DeleteFunc(slices.Clone(secrets), func(x string) bool { return len(x) < minSecret })
	slices.SortFunc(ss, func(a, b string) int { return len(b) - len(a) })
	for _, secret := range ss {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

// tail keeps the last tailSize bytes, cut at a rune boundary. Callers mask
// first so that the cut cannot leave a fragment of a secret.
func tail(s string) string {
	if len(s) <= tailSize {
		return s
	}
	s = s[len(s)-tailSize:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return "…" + s
}

// brief shortens a (masked) command for messages: scripts can be long.
func brief(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

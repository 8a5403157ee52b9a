// Package remote is the SSH client the Kubernetes-cluster management driver
// uses to run node scripts on, and copy files to, freshly booted VMs.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	defaultPort        = "22"
	defaultDialTimeout = 10 * time.Second
	defaultConnectFor  = 2 * time.Minute
	minBackoff         = 200 * time.Millisecond
	maxBackoff         = 5 * time.Second
)

// ErrHostKeyMismatch reports that the server presented a key other than the
// pinned one. It is never retried: a changed key is either a rebuilt VM (the
// caller must re-pin deliberately) or an attack.
var ErrHostKeyMismatch = errors.New("ssh host key mismatch")

// ErrAuth marks a server that refused the credentials.
var ErrAuth = errors.New("ssh authentication failed")

// Auth holds the credentials. Its String, GoString and LogValue methods
// redact the secrets so that logging a Config cannot leak them.
type Auth struct {
	Username   string
	Password   string
	PrivateKey []byte // PEM (OpenSSH, PKCS#1/8 or SEC1); passphrase-protected keys are not supported
}

func (a Auth) String() string {
	return fmt.Sprintf("{Username:%s Password:%s PrivateKey:%s}",
		a.Username, redacted(a.Password != ""), redacted(len(a.PrivateKey) > 0))
}

// GoString keeps %#v from printing the secrets.
func (a Auth) GoString() string { return "remote.Auth" + a.String() }

// LogValue keeps slog from printing the secrets.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", a.Username),
		slog.Bool("password", a.Password != ""),
		slog.Bool("private_key", len(a.PrivateKey) > 0),
	)
}

func redacted(set bool) string {
	if set {
		return "<redacted>"
	}
	return "<none>"
}

// Config describes how to reach one VM.
type Config struct {
	Addr string // host:port; port 22 when missing
	Auth Auth
	// HostKey is the pinned host key in authorized_keys format
	// ("ssh-ed25519 AAAA..."); "" trusts the first key seen (Client.HostKey
	// returns it for pinning next time).
	HostKey string
	// DialTimeout bounds one attempt (TCP connect plus SSH handshake);
	// default 10s.
	DialTimeout time.Duration
	// ConnectFor is how long connection errors (refused, timeout, no route,
	// EOF during handshake) are retried while the VM boots; default 2m,
	// negative means a single attempt. No attempt starts after it elapsed, so
	// Dial may take up to ConnectFor+DialTimeout.
	ConnectFor time.Duration
	// AuthRetryFor is how long refused credentials are retried: a booting
	// VM's sshd may answer before cloud-init has installed the key or the
	// password. Default 0: fail at once.
	AuthRetryFor time.Duration
	Log          *slog.Logger // nil discards
}

// LogValue keeps slog from printing the secrets, whatever the handler (a
// JSON handler would otherwise marshal Auth field by field).
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.Any("auth", c.Auth),
		slog.Bool("host_key_pinned", c.HostKey != ""),
		slog.Duration("dial_timeout", c.DialTimeout),
		slog.Duration("connect_for", c.ConnectFor),
	)
}

// Client is a connected SSH client; it is safe for concurrent use.
type Client struct {
	ssh     *ssh.Client
	addr    string
	hostKey string
	log     *slog.Logger
	secrets []string // credentials, masked in every error and log line
}

// Dial connects and authenticates, retrying connection errors for
// cfg.ConnectFor. Authentication failures, host-key mismatches and
// configuration errors fail at once.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.ConnectFor == 0 {
		cfg.ConnectFor = defaultConnectFor
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := withDefaultPort(cfg.Addr)
	log = log.With("addr", addr)

	if cfg.Auth.Username == "" {
		return nil, fmt.Errorf("ssh dial %s: username is required", addr)
	}
	methods, err := authMethods(cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("ssh dial %s: %w", addr, err)
	}
	var pinned ssh.PublicKey
	if cfg.HostKey != "" {
		pinned, _, _, _, err = ssh.ParseAuthorizedKey([]byte(cfg.HostKey))
		if err != nil {
			return nil, fmt.Errorf("ssh dial %s: parse pinned host key: %w", addr, err)
		}
	}

	start := time.Now()
	deadline := start.Add(max(cfg.ConnectFor, 0))
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		log.DebugContext(ctx, "ssh connect attempt", "attempt", attempt)
		hk := &hostKeyCheck{addr: addr, pinned: pinned}
		sc := &ssh.ClientConfig{
			User:              cfg.Auth.Username,
			Auth:              methods,
			HostKeyCallback:   hk.check,
			HostKeyAlgorithms: hostKeyAlgorithms(pinned),
		}
		client, err := dialOnce(ctx, addr, sc, cfg.DialTimeout)
		if err == nil {
			log.DebugContext(ctx, "ssh connected", "attempt", attempt,
				"duration", time.Since(start), "host_key", ssh.FingerprintSHA256(hk.seen))
			return &Client{
				ssh:     client,
				addr:    addr,
				hostKey: marshalKey(hk.seen),
				log:     log,
				secrets: authSecrets(cfg.Auth),
			}, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh dial %s: %w (last error: %v)", addr, ctx.Err(), err)
		}
		// A failure after the host key was checked is the server refusing
		// the credentials (x/crypto/ssh has no error type for it).
		authFailed := hk.seen != nil && !errors.Is(err, ErrHostKeyMismatch)
		if authFailed {
			err = fmt.Errorf("%w: %w", ErrAuth, err)
		}
		if authFailed && time.Since(start) < cfg.AuthRetryFor {
			log.DebugContext(ctx, "ssh authentication refused, retrying", "attempt", attempt, "err", err)
		} else if !retryable(err) {
			log.DebugContext(ctx, "ssh connect failed", "attempt", attempt, "err", err)
			return nil, fmt.Errorf("ssh dial %s: %w", addr, err)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			log.DebugContext(ctx, "ssh connect giving up", "attempt", attempt, "err", err)
			return nil, fmt.Errorf("ssh dial %s: giving up after %d attempts in %s: %w",
				addr, attempt, time.Since(start).Round(time.Millisecond), err)
		}
		wait := min(backoff, remaining)
		log.DebugContext(ctx, "ssh connect retry", "attempt", attempt, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("ssh dial %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func dialOnce(ctx context.Context, addr string, sc *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake has no context support: the deadline bounds a server that
	// accepts but never answers (sshd still starting), closing the connection
	// aborts it on cancellation.
	_ = conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, sc)
	if !stop() {
		if err == nil {
			_ = c.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// retryable reports whether err looks like a VM that is not up yet rather
// than a permanent failure (auth, host key, protocol).
func retryable(err error) bool {
	if errors.Is(err, ErrHostKeyMismatch) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	for _, target := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN,
		syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF, os.ErrDeadlineExceeded,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func withDefaultPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), defaultPort)
}

func authMethods(a Auth) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if len(a.PrivateKey) > 0 {
		signer, err := ssh.ParsePrivateKey(a.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if a.Password != "" {
		pw := a.Password
		// Servers with PAM typically offer only keyboard-interactive, which
		// asks "Password:"; answer every prompt with the password.
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		return nil, errors.New("no credentials: need a password or a private key")
	}
	return methods, nil
}

func authSecrets(a Auth) []string {
	var s []string
	if a.Password != "" {
		s = append(s, a.Password)
	}
	if k := strings.TrimSpace(string(a.PrivateKey)); k != "" {
		s = append(s, k)
	}
	return s
}

type hostKeyCheck struct {
	addr   string
	pinned ssh.PublicKey
	seen   ssh.PublicKey
}

func (h *hostKeyCheck) check(_ string, _ net.Addr, key ssh.PublicKey) error {
	h.seen = key
	if h.pinned == nil || bytes.Equal(key.Marshal(), h.pinned.Marshal()) {
		return nil
	}
	return fmt.Errorf("%w: %s presented %s %s, pinned %s %s", ErrHostKeyMismatch, h.addr,
		key.Type(), ssh.FingerprintSHA256(key), h.pinned.Type(), ssh.FingerprintSHA256(h.pinned))
}

// hostKeyAlgorithms makes a server with several host keys present the pinned
// type; otherwise it may offer another one and look like a mismatch.
func hostKeyAlgorithms(pinned ssh.PublicKey) []string {
	if pinned == nil {
		return nil
	}
	if pinned.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{pinned.Type()}
}

func marshalKey(k ssh.PublicKey) string {
	return string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(k)))
}

// HostKey returns the key the server presented, in authorized_keys format
// without a trailing newline; store it and pass it as Config.HostKey to pin.
func (c *Client) HostKey() string { return c.hostKey }

// DialContext opens a connection from the remote host: network "tcp" (also
// "tcp4", "tcp6"; addr host:port, resolved remotely) or "unix" (addr a
// socket path, via direct-streamlocal).
func (c *Client) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("ssh tunnel via %s to %s %s: unsupported network", c.addr, network, addr)
	}
	conn, err := c.ssh.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("ssh tunnel via %s to %s %s: %w", c.addr, network, addr, err)
	}
	return conn, nil
}

// Close closes the connection and everything running over it.
func (c *Client) Close() error {
	if err := c.ssh.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ssh close %s: %w", c.addr, err)
	}
	return nil
}

// withCtx runs f, which has no context support, and abandons it when ctx
// ends; release disposes of a result that arrives after that.
func withCtx[T any](ctx context.Context, f func() (T, error), release func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.err == nil {
				release(r.v)
			}
		}()
		var zero T
		return zero, ctx.Err()
	}
}

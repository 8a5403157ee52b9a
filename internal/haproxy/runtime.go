package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrCommand is wrapped by Runtime errors that HAProxy itself reported (an
// unknown command, a missing backend or server, ...), as opposed to transport
// failures.
var ErrCommand = errors.New("haproxy: command rejected")

// Runtime talks to HAProxy's runtime API (a stats socket with "level
// admin"). Every command uses its own connection: without "prompt" HAProxy
// answers one command and closes, so the answer is read to EOF.
type Runtime struct {
	Dial func(ctx context.Context) (net.Conn, error)
}

// ServerState is one server of "show servers state".
type ServerState struct {
	Name string
	Addr string // IP without port
	Port int
	// OpState is srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping.
	OpState int
	// AdminState is the srv_admin_state bitfield; 0 means no maintenance or
	// drain is forced (0x01 forced maintenance, 0x08 forced drain, ...).
	AdminState int
}

// errorPrefixes are how HAProxy 2.x starts a refusal; the CLI has no status
// code, so the text is all there is.
var errorPrefixes = []string{
	"Unknown command", "No such", "Can't find", "Permission denied",
	"Require ", "Missing ", "Invalid ", "Unexpected ",
}

// Exec sends one command and returns HAProxy's answer. The ctx deadline (and
// cancellation) bounds the whole exchange. An answer that is an HAProxy error
// message is returned as an error wrapping ErrCommand.
func (r Runtime) Exec(ctx context.Context, cmd string) (string, error) {
	if r.Dial == nil {
		return "", errors.New("haproxy: Runtime.Dial is nil")
	}
	// A newline would smuggle a second command into the connection.
	if cmd = strings.TrimSpace(cmd); cmd == "" || strings.ContainsAny(cmd, "\r\n") {
		return "", fmt.Errorf("haproxy: invalid command %q", cmd)
	}
	conn, err := r.Dial(ctx)
	if err != nil {
		return "", fmt.Errorf("haproxy: dial runtime API: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		// Some conns (an SSH channel to the socket) have no deadlines:
		// closing the conn when ctx ends bounds them instead.
		_ = conn.SetDeadline(dl)
	}
	// Cancellation without a deadline must also unblock I/O.
	stop := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Unix(1, 0))
		_ = conn.Close()
	})
	defer stop()

	_, err = io.WriteString(conn, cmd+"\n")
	var resp []byte
	if err == nil {
		resp, err = io.ReadAll(conn)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("haproxy: %s: %w: %w", cmd, ctxErr, err)
		}
		// The conn deadline can fire a moment before ctx notices its own.
		if dl, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
			return "", fmt.Errorf("haproxy: %s: %w: %w", cmd, context.DeadlineExceeded, err)
		}
		return "", fmt.Errorf("haproxy: %s: %w", cmd, err)
	}
	out := string(resp)
	msg := strings.TrimSpace(out)
	for _, p := range errorPrefixes {
		if strings.HasPrefix(msg, p) {
			return "", fmt.Errorf("%w: %s: %s", ErrCommand, cmd, firstLine(msg))
		}
	}
	if strings.Contains(msg, "No such") {
		return "", fmt.Errorf("%w: %s: %s", ErrCommand, cmd, firstLine(msg))
	}
	return out, nil
}

// Servers returns the servers HAProxy currently has in backend, from
// "show servers state". Columns are located by the header so other HAProxy
// versions' extra or reordered columns do not matter.
func (r Runtime) Servers(ctx context.Context, backend string) ([]ServerState, error) {
	if backend == "" || strings.ContainsAny(backend, " \t\r\n;#") {
		return nil, fmt.Errorf("haproxy: invalid backend name %q", backend)
	}
	out, err := r.Exec(ctx, "show servers state "+backend)
	if err != nil {
		return nil, err
	}
	states, err := parseServersState(out, backend)
	if err != nil {
		return nil, fmt.Errorf("haproxy: show servers state %s: %w", backend, err)
	}
	return states, nil
}

func parseServersState(out, backend string) ([]ServerState, error) {
	lines := strings.Split(out, "\n")
	i := 0
	next := func() (string, bool) {
		for i < len(lines) {
			l := strings.TrimSpace(lines[i])
			i++
			if l != "" {
				return l, true
			}
		}
		return "", false
	}
	version, ok := next()
	if !ok {
		return nil, errors.New("empty answer")
	}
	if version != "1" {
		return nil, fmt.Errorf("unsupported format version %q", firstLine(version))
	}
	header, ok := next()
	if !ok || !strings.HasPrefix(header, "#") {
		return nil, errors.New("missing column header")
	}
	col := map[string]int{}
	for n, name := range strings.Fields(strings.TrimPrefix(header, "#")) {
		col[name] = n
	}
	need := []string{"be_name", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_port"}
	width := 0
	for _, name := range need {
		n, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("column %s missing from header", name)
		}
		width = max(width, n+1)
	}

	var states []ServerState
	for {
		l, ok := next()
		if !ok {
			return states, nil
		}
		if strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < width {
			return nil, fmt.Errorf("short line %q", l)
		}
		if f[col["be_name"]] != backend {
			continue
		}
		s := ServerState{Name: f[col["srv_name"]], Addr: f[col["srv_addr"]]}
		for _, c := range []struct {
			name string
			dst  *int
		}{{"srv_port", &s.Port}, {"srv_op_state", &s.OpState}, {"srv_admin_state", &s.AdminState}} {
			v, err := strconv.Atoi(f[col[c.name]])
			if err != nil {
				return nil, fmt.Errorf("server %s: %s: %w", s.Name, c.name, err)
			}
			*c.dst = v
		}
		states = append(states, s)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

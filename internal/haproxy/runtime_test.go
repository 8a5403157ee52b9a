package haproxy

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeRuntime answers every command with resp and records what it got.
func fakeRuntime(t *testing.T, resp string, got chan<- string) Runtime {
	return Runtime{Dial: func(context.Context) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			cmd, err := bufio.NewReader(server).ReadString('\n')
			if err != nil {
				return
			}
			if got != nil {
				got <- cmd
			}
			_, _ = server.Write([]byte(resp))
		}()
		return client, nil
	}}
}

func TestExec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, resp string
		err        string
	}{
		{name: "ok", resp: "Name: HAProxy\nVersion: 2.6\n"},
		{name: "empty answer is success", resp: ""},
		{name: "unknown command", resp: "Unknown command, but maybe one of the following ones is a better match:\n  show info\n", err: "Unknown command, but maybe"},
		{name: "no such server", resp: "No such server.\n\n", err: "No such server."},
		{name: "no such inside", resp: "\nBackend: No such backend.\n", err: "No such backend"},
		{name: "can't find", resp: "Can't find backend.\n\n", err: "Can't find backend."},
		{name: "permission", resp: "Permission denied\n\n", err: "Permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan string, 1)
			out, err := fakeRuntime(t, tc.resp, got).Exec(context.Background(), " show info ")
			require.Equal(t, "show info\n", <-got, "one command, newline-terminated")
			if tc.err != "" {
				require.ErrorIs(t, err, ErrCommand)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.resp, out)
		})
	}
}

func TestExecRejectsSecondCommand(t *testing.T) {
	t.Parallel()
	_, err := fakeRuntime(t, "", nil).Exec(context.Background(), "show info\nshutdown frontend f")
	require.ErrorContains(t, err, "invalid command")
	_, err = Runtime{}.Exec(context.Background(), "show info")
	require.ErrorContains(t, err, "Dial is nil")
}

// A socket that never answers must not hang Exec past the ctx deadline, nor
// past a cancellation that has no deadline.
func TestExecHonoursContext(t *testing.T) {
	t.Parallel()
	silent := Runtime{Dial: func(context.Context) (net.Conn, error) {
		client, server := net.Pipe()
		t.Cleanup(func() { server.Close() })
		return client, nil
	}}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := silent.Exec(ctx, "show info")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = silent.Exec(ctx, "show info")
	require.ErrorIs(t, err, context.Canceled)
}

func TestServersParsesByHeader(t *testing.T) {
	t.Parallel()
	// Columns reordered and an unknown one added: only the header tells
	// where things are.
	resp := "1\n" +
		"# srv_port be_name extra srv_admin_state srv_name srv_op_state srv_addr be_id\n" +
		"6443 kube-apiservers x 0 m1 2 10.0.0.1 3\n" +
		"6444 kube-apiservers y 1 m2 0 fd00::2 3\n" +
		"\n"
	got := make(chan string, 1)
	states, err := fakeRuntime(t, resp, got).Servers(context.Background(), "kube-apiservers")
	require.NoError(t, err)
	require.Equal(t, "show servers state kube-apiservers\n", <-got)
	require.Equal(t, []ServerState{
		{Name: "m1", Addr: "10.0.0.1", Port: 6443, OpState: 2, AdminState: 0},
		{Name: "m2", Addr: "fd00::2", Port: 6444, OpState: 0, AdminState: 1},
	}, states)
}

func TestServersErrors(t *testing.T) {
	t.Parallel()
	const hdr = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n"
	for _, tc := range []struct {
		name, resp, err string
	}{
		{name: "no servers", resp: "1\n" + hdr + "\n"},
		{name: "empty", resp: "", err: "empty answer"},
		{name: "version", resp: "2\n" + hdr, err: `unsupported format version "2"`},
		{name: "no header", resp: "1\n3 b 1 m1 10.0.0.1 2 0 6443\n", err: "missing column header"},
		{name: "column missing", resp: "1\n# be_id be_name srv_name srv_addr srv_op_state srv_admin_state\n", err: "column srv_port missing"},
		{name: "short line", resp: "1\n" + hdr + "3 b 1 m1\n", err: "short line"},
		{name: "bad number", resp: "1\n" + hdr + "3 b 1 m1 10.0.0.1 up 0 6443\n", err: "srv_op_state"},
		{name: "backend error", resp: "Can't find backend.\n", err: "Can't find backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			states, err := fakeRuntime(t, tc.resp, nil).Servers(context.Background(), "b")
			if tc.err == "" {
				require.NoError(t, err)
				require.Empty(t, states)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
	_, err := fakeRuntime(t, "", nil).Servers(context.Background(), "b;shutdown")
	require.ErrorContains(t, err, "invalid backend name")
}

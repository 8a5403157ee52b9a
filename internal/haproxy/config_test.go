package haproxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// base has the traps a real file has: a commented-out header, an indented
// comment that looks like a section keyword, blank lines inside the section,
// and server lines in other sections that must not be touched.
const base = `# managed by vnfm
global
    log stdout format raw local0
    stats socket /run/haproxy/admin.sock mode 600 level admin

defaults
    mode tcp
    timeout connect 5s

frontend kube-apiserver
    bind *:16443
    default_backend kube-apiservers

#backend kube-apiservers
#    server old 10.9.9.9:6443 check
backend kube-apiservers
    # frontend-facing masters, one line each
    balance roundrobin
    option tcp-check

    server master-0 10.0.0.10:6443 check fall 3 rise 2
    server master-1 10.0.0.11:6443 check fall 3 rise 2 # replaced in May
    server master-2 10.0.0.12:6443 check fall 3 rise 2
    timeout server 1h

# stats
listen stats
    bind *:8404
    server master-1 10.0.0.11:8404

backend other
	server master-1 10.0.0.11:6443 check
`

const baseServers = `    server master-0 10.0.0.10:6443 check fall 3 rise 2
    server master-1 10.0.0.11:6443 check fall 3 rise 2 # replaced in May
    server master-2 10.0.0.12:6443 check fall 3 rise 2
`

const (
	m0 = "    server master-0 10.0.0.10:6443 check fall 3 rise 2\n"
	m1 = "    server master-1 10.0.0.11:6443 check fall 3 rise 2 # replaced in May\n"
	m2 = "    server master-2 10.0.0.12:6443 check fall 3 rise 2\n"
)

func srv(name, addr string) Server { return Server{Name: name, Addr: addr} }

var three = []Server{srv("master-0", "10.0.0.10:6443"), srv("master-1", "10.0.0.11:6443"), srv("master-2", "10.0.0.12:6443")}

func TestBackendServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cfg, backend string
		want               []Server
		err                string
	}{
		{name: "three", cfg: base, backend: "kube-apiservers", want: three},
		{name: "other section", cfg: base, backend: "other", want: []Server{srv("master-1", "10.0.0.11:6443")}},
		{name: "listen is not a backend", cfg: base, backend: "stats", err: `backend "stats" not found`},
		{name: "missing", cfg: base, backend: "nope", err: `backend "nope" not found`},
		{name: "empty file", cfg: "", backend: "kube-apiservers", err: "not found"},
		{name: "no servers", cfg: "backend b\n  balance first\n", backend: "b"},
		{
			name:    "header with defaults and comment, quoted and commented tokens",
			cfg:     "backend b from tcp-defaults # hi\n  server \"a\" 10.0.0.1:1#x\n  server b 'h:2' check\n",
			backend: "b", want: []Server{srv("a", "10.0.0.1:1"), srv("b", "h:2")},
		},
		{name: "section ends at indented keyword", cfg: "backend b\n server a h:1\n  frontend f\n server z h:9\n", backend: "b", want: []Server{srv("a", "h:1")}},
		{name: "duplicate backend", cfg: "backend b\nbackend b\n", backend: "b", err: "defined twice"},
		{name: "server without address", cfg: "backend b\n server a\n", backend: "b", err: "line 2: server line without address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := BackendServers([]byte(tc.cfg), tc.backend)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSetBackendServersGolden(t *testing.T) {
	t.Parallel()
	// The whole file spelled out once: master-1 is replaced by master-3, which
	// takes master-1's place and master-0's options; nothing else moves.
	want := `# managed by vnfm
global
    log stdout format raw local0
    stats socket /run/haproxy/admin.sock mode 600 level admin

defaults
    mode tcp
    timeout connect 5s

frontend kube-apiserver
    bind *:16443
    default_backend kube-apiservers

#backend kube-apiservers
#    server old 10.9.9.9:6443 check
backend kube-apiservers
    # frontend-facing masters, one line each
    balance roundrobin
    option tcp-check

    server master-0 10.0.0.10:6443 check fall 3 rise 2
    server master-3 10.0.0.13:6443 check fall 3 rise 2
    server master-2 10.0.0.12:6443 check fall 3 rise 2
    timeout server 1h

# stats
listen stats
    bind *:8404
    server master-1 10.0.0.11:8404

backend other
	server master-1 10.0.0.11:6443 check
`
	out, changed, err := SetBackendServers([]byte(base), "kube-apiservers",
		[]Server{srv("master-0", "10.0.0.10:6443"), srv("master-3", "10.0.0.13:6443"), srv("master-2", "10.0.0.12:6443")})
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, want, string(out))
}

func TestSetBackendServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     string
		backend string
		servers []Server
		// want is the expected file; when block is set instead, the expected
		// file is base with its server block replaced by block.
		want, block string
		same        bool
	}{
		{
			name:    "replace one of three",
			servers: []Server{three[0], srv("master-3", "10.0.0.13:6443"), three[2]},
			block:   m0 + "    server master-3 10.0.0.13:6443 check fall 3 rise 2\n" + m2,
		},
		{
			name:    "add",
			servers: append(three[:3:3], srv("master-3", "10.0.0.13:6443")),
			block:   m0 + m1 + m2 + "    server master-3 10.0.0.13:6443 check fall 3 rise 2\n",
		},
		{
			name:    "remove",
			servers: []Server{three[0], three[2]},
			block:   m0 + m2,
		},
		{
			name:    "new address keeps the line's own options and comment",
			servers: []Server{three[0], srv("master-1", "10.0.0.21:6443"), three[2]},
			block:   m0 + "    server master-1 10.0.0.21:6443 check fall 3 rise 2 # replaced in May\n" + m2,
		},
		{
			name:    "reorder",
			servers: []Server{three[2], three[0], three[1]},
			block:   m2 + m0 + m1,
		},
		{
			name:    "remove all",
			servers: nil,
			block:   "",
		},
		{
			name:    "replace first takes options from old first",
			servers: []Server{srv("master-9", "[fd00::9]:6443"), three[1], three[2]},
			block:   "    server master-9 [fd00::9]:6443 check fall 3 rise 2\n" + m1 + m2,
		},
		{name: "no change", servers: three, same: true},
		{name: "no change in a file without servers", cfg: "backend b\n", backend: "b", same: true},
		{
			name:    "empty backend gets check and the section's indentation",
			cfg:     "backend b\n\tbalance first\n\n# next\nfrontend f\n",
			backend: "b",
			servers: []Server{srv("a", "10.0.0.1:6443"), srv("b", "host-b.example:6443")},
			want:    "backend b\n\tbalance first\n\tserver a 10.0.0.1:6443 check\n\tserver b host-b.example:6443 check\n\n# next\nfrontend f\n",
		},
		{
			name:    "bare header at end of file without newline",
			cfg:     "global\nbackend b",
			backend: "b",
			servers: []Server{srv("a", "10.0.0.1:6443")},
			want:    "global\nbackend b\n    server a 10.0.0.1:6443 check\n",
		},
		{
			name:    "unterminated last server line moved up",
			cfg:     "backend b\n  server a h:1 check\n  server b h:2",
			backend: "b",
			servers: []Server{srv("b", "h:2"), srv("c", "h:3")},
			want:    "backend b\n  server b h:2\n  server c h:3 check\n",
		},
		{
			name:    "CRLF stays CRLF",
			cfg:     "backend b\r\n  server a h:1 check inter 2s\r\n# end\r\n",
			backend: "b",
			servers: []Server{srv("a", "h:1"), srv("z", "h:26")},
			want:    "backend b\r\n  server a h:1 check inter 2s\r\n  server z h:26 check inter 2s\r\n# end\r\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, backend := tc.cfg, tc.backend
			if cfg == "" {
				cfg, backend = base, "kube-apiservers"
			}
			want := tc.want
			switch {
			case tc.same:
				want = cfg
			case tc.want == "":
				require.Equal(t, 1, strings.Count(base, baseServers))
				want = strings.Replace(base, baseServers, tc.block, 1)
			}
			out, changed, err := SetBackendServers([]byte(cfg), backend, tc.servers)
			require.NoError(t, err)
			require.Equal(t, want, string(out))
			require.Equal(t, !tc.same, changed)
			got, err := BackendServers(out, backend)
			require.NoError(t, err)
			require.Equal(t, len(tc.servers), len(got))
			if len(tc.servers) > 0 {
				require.Equal(t, tc.servers, got)
			}
		})
	}
}

func TestSetBackendServersErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     string
		backend string
		servers []Server
		err     string
	}{
		{name: "missing backend", backend: "nope", servers: three, err: `backend "nope" not found`},
		{name: "empty name", servers: []Server{srv("", "h:1")}, err: "empty server name"},
		{name: "name with space", servers: []Server{srv("master 1", "h:1")}, err: "invalid character"},
		{name: "name with slash", servers: []Server{srv("be/m1", "h:1")}, err: "invalid character"},
		{name: "name with hash", servers: []Server{srv("m#1", "h:1")}, err: "invalid character"},
		{name: "duplicate name", servers: []Server{srv("a", "h:1"), srv("a", "h:2")}, err: "duplicate server name"},
		{name: "no port", servers: []Server{srv("a", "10.0.0.1")}, err: "missing port"},
		{name: "port zero", servers: []Server{srv("a", "10.0.0.1:0")}, err: "invalid port"},
		{name: "port too big", servers: []Server{srv("a", "10.0.0.1:65536")}, err: "invalid port"},
		{name: "named port", servers: []Server{srv("a", "10.0.0.1:https")}, err: "invalid port"},
		{name: "empty host", servers: []Server{srv("a", ":6443")}, err: "empty host"},
		{name: "host with space", servers: []Server{srv("a", "my host:6443")}, err: "invalid host"},
		{name: "host with comment", servers: []Server{srv("a", "h#x:6443")}, err: "invalid host"},
		{name: "haproxy prefix", servers: []Server{srv("a", "ipv4@10.0.0.1:6443")}, err: "invalid host"},
		{name: "unbracketed ipv6", servers: []Server{srv("a", "fd00::1:6443")}, err: "too many colons"},
		{name: "bracketed ipv4", servers: []Server{srv("a", "[10.0.0.1]:6443")}, err: "brackets"},
		{name: "duplicate backend", cfg: "backend b\nbackend b\n", backend: "b", servers: three, err: "defined twice"},
		{name: "server without address", cfg: "backend b\n  server a\n", backend: "b", servers: three, err: "server line without address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, backend := tc.cfg, tc.backend
			if cfg == "" {
				cfg = base
			}
			if backend == "" {
				backend = "kube-apiservers"
			}
			out, changed, err := SetBackendServers([]byte(cfg), backend, tc.servers)
			require.ErrorContains(t, err, tc.err)
			require.Nil(t, out)
			require.False(t, changed)
		})
	}
}

// FuzzSetBackendServers checks that rewriting never panics, that its output
// reads back as the wanted servers, that a second run is a no-op, and that
// only the backend's server lines differ. spec is "name=addr,name=addr".
func FuzzSetBackendServers(f *testing.F) {
	f.Add([]byte(base), "kube-apiservers", "master-0=10.0.0.10:6443,master-3=10.0.0.13:6443,master-2=10.0.0.12:6443")
	f.Add([]byte(base), "kube-apiservers", "")
	f.Add([]byte(base), "other", "master-1=[::1]:1")
	f.Add([]byte("backend b"), "b", "a=h:1,b=h:2")
	f.Add([]byte("backend b\r\n server a 'h:1'#c\r\n\tserver \"b\" h\\:2 x\n"), "b", "b=h:3")
	f.Add([]byte("backend b\n  server a\n"), "b", "a=h:1")
	f.Fuzz(func(t *testing.T, cfg []byte, backend, spec string) {
		var servers []Server
		if spec != "" {
			for _, item := range strings.Split(spec, ",") {
				name, addr, _ := strings.Cut(item, "=")
				servers = append(servers, Server{Name: name, Addr: addr})
			}
		}
		orig := bytes.Clone(cfg)
		out, changed, err := SetBackendServers(cfg, backend, servers)
		require.Equal(t, orig, cfg, "input modified")
		if err != nil {
			// Refusing is only right for bad input: bad servers or a file
			// BackendServers cannot read either.
			if _, rerr := BackendServers(cfg, backend); rerr == nil {
				require.True(t, invalidServers(servers), "unexpected error %v", err)
			}
			return
		}
		require.Equal(t, !bytes.Equal(out, cfg), changed)

		got, err := BackendServers(out, backend)
		require.NoError(t, err)
		require.Equal(t, len(servers), len(got))
		for i := range servers {
			require.Equal(t, servers[i], got[i])
		}

		again, changed2, err := SetBackendServers(out, backend, servers)
		require.NoError(t, err)
		require.False(t, changed2)
		require.Equal(t, out, again)

		require.Equal(t, otherLines(t, cfg, backend), otherLines(t, out, backend))
	})
}

func invalidServers(servers []Server) bool {
	seen := map[string]bool{}
	for _, s := range servers {
		if validServer(s) != nil || seen[s.Name] {
			return true
		}
		seen[s.Name] = true
	}
	return false
}

// otherLines is every line of cfg except the backend's server lines, without
// terminators (the last line may gain one).
func otherLines(t *testing.T, cfg []byte, backend string) []string {
	lines := splitLines(cfg)
	start, end, err := findBackend(lines, backend)
	require.NoError(t, err)
	var out []string
	for i, l := range lines {
		if i > start && i < end && l.isServer() {
			continue
		}
		out = append(out, string(l.raw))
	}
	return out
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		vals    []string
		comment int
	}{
		{"", nil, 0},
		{"  # all comment", nil, 2},
		{"server a 1.2.3.4:80#x check", []string{"server", "a", "1.2.3.4:80"}, 19},
		{`server "a b" 'c#d' e\ f`, []string{"server", "a b", "c#d", "e f"}, 23},
		{`x "a\"b" 'a\'`, []string{"x", `a"b`, `a\`}, 13},
		{"\tserver\ta\r", []string{"server", "a"}, 10},
	} {
		toks, comment := tokenize([]byte(tc.in))
		var vals []string
		for _, tk := range toks {
			vals = append(vals, tk.val)
			require.LessOrEqual(t, tk.end, comment, tc.in)
		}
		require.Equal(t, tc.vals, vals, tc.in)
		require.Equal(t, tc.comment, comment, tc.in)
	}
}

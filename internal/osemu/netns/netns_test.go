package netns_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/vnfm-project/vnfm/internal/osemu"
	"github.com/vnfm-project/vnfm/internal/osemu/netns"
)

// These tests create real namespaces, bridges and sshd processes, so they
// need root (as in CI). Names use a random per-test Prefix and addresses
// random /24s inside 10.251.0.0/16.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("netns tests must run as root: they create network namespaces, bridges and sshd processes")
	}
}

func randInt(t *testing.T, n int64) int {
	t.Helper()
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	require.NoError(t, err)
	return int(v.Int64())
}

func randPrefix(t *testing.T) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	p := "t"
	for range 4 {
		p += string(letters[randInt(t, int64(len(letters)))])
	}
	return p
}

// subnets returns n distinct random /24 prefixes ("10.251.X") whose CIDR
// nothing on the host uses yet.
func subnets(t *testing.T, n int) []string {
	t.Helper()
	out, err := exec.Command("ip", "-4", "-o", "addr").CombinedOutput()
	require.NoError(t, err, string(out))
	seen := map[int]bool{}
	var res []string
	for len(res) < n {
		x := randInt(t, 256)
		s := fmt.Sprintf("10.251.%d", x)
		if seen[x] || strings.Contains(string(out), s+".") {
			continue
		}
		seen[x] = true
		res = append(res, s)
	}
	return res
}

type fixture struct {
	b      *netns.Backend
	prefix string
	dir    string
	signer ssh.Signer
	pub    string // authorized_keys line of signer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	requireRoot(t)
	f := &fixture{prefix: randPrefix(t), dir: t.TempDir()}
	f.b = f.newBackend(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, f.b.Cleanup(ctx))
		assert.Empty(t, f.leftovers(t), "leftover namespaces/links after Cleanup")
	})
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	f.signer, err = ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	f.pub = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(f.signer.PublicKey())))
	return f
}

func (f *fixture) newBackend(t *testing.T) *netns.Backend {
	t.Helper()
	b, err := netns.New(netns.Config{Prefix: f.prefix, Dir: f.dir, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	require.NoError(t, err)
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// leftovers lists namespaces and host links carrying the fixture's prefix.
func (f *fixture) leftovers(t *testing.T) []string {
	t.Helper()
	var res []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, string(out))
		for line := range strings.Lines(string(out)) {
			fs := strings.Fields(line)
			if len(fs) == 0 {
				continue
			}
			name := fs[0]
			if args[0] == "-o" && len(fs) > 1 {
				name = strings.SplitN(strings.TrimSuffix(fs[1], ":"), "@", 2)[0]
			}
			if strings.HasPrefix(name, f.prefix) {
				res = append(res, name)
			}
		}
	}
	return res
}

func port(id, net, ip string) osemu.PortSpec {
	return osemu.PortSpec{ID: "port-" + id, NetworkID: "net-" + net, NetworkName: net,
		IP: ip, CIDR: net + ".0/24"}
}

func (f *fixture) spec(name string, ports ...osemu.PortSpec) osemu.ServerSpec {
	return osemu.ServerSpec{ID: uuidLike(), Name: name, Ports: ports, AuthorizedKeys: []string{f.pub}}
}

func uuidLike() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// run executes cmd over SSH on addr, pinning the server's host key.
func (f *fixture) run(t *testing.T, b *netns.Backend, id, addr, user, cmd string) (string, error) {
	t.Helper()
	hk, err := b.HostKey(id)
	require.NoError(t, err)
	c, err := ssh.Dial("tcp", net.JoinHostPort(addr, "22"), &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(f.signer)},
		HostKeyCallback: ssh.FixedHostKey(hk),
		Timeout:         5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func nsList(t *testing.T) string {
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

func TestTwoPortsSSH(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	nets := subnets(t, 2)
	// Named as Tacker might; the host name is Nova-sanitised.
	s := f.spec("VM_two-ports", port("a", nets[0], nets[0]+".10"), port("b", nets[1], nets[1]+".20"))
	s.Ports[0].MAC = "fa:16:3e:00:00:01"
	s.Ports[1].Gateway = nets[1] + ".254"

	t0 := time.Now()
	require.NoError(t, f.b.Start(ctx, s))
	t.Logf("Start took %v", time.Since(t0))

	out, err := f.run(t, f.b, s.ID, nets[0]+".10", "root", "hostname")
	require.NoError(t, err, out)
	assert.Equal(t, "vm-two-ports", strings.TrimSpace(out))

	out, err = f.run(t, f.b, s.ID, nets[1]+".20", "root", "ip -4 -o addr; ip -o link show eth0; ip route")
	require.NoError(t, err, out)
	assert.Contains(t, out, nets[0]+".10/24")
	assert.Contains(t, out, nets[1]+".20/24")
	assert.Contains(t, out, "fa:16:3e:00:00:01")
	assert.Contains(t, out, "default via "+nets[0]+".1 dev eth0")

	// The host side of each network carries its gateway.
	hostAddrs, err := exec.Command("ip", "-4", "-o", "addr").CombinedOutput()
	require.NoError(t, err)
	assert.Contains(t, string(hostAddrs), nets[0]+".1/24")
	assert.Contains(t, string(hostAddrs), nets[1]+".254/24")

	// "ubuntu" is a root alias; the host's /etc/passwd is untouched.
	out, err = f.run(t, f.b, s.ID, nets[0]+".10", "ubuntu", "id -u; hostname")
	require.NoError(t, err, out)
	assert.Equal(t, "0\nvm-two-ports\n", out)
	passwd, err := os.ReadFile("/etc/passwd")
	require.NoError(t, err)
	assert.NotContains(t, string(passwd), "root alias, vnfm osemu")
	h, err := os.Hostname()
	require.NoError(t, err)
	assert.NotEqual(t, "vm-two-ports", h)

	// A remote non-zero exit surfaces as *ssh.ExitError.
	_, err = f.run(t, f.b, s.ID, nets[0]+".10", "root", "exit 3")
	var ee *ssh.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 3, ee.ExitStatus())

	// A key not in AuthorizedKeys is refused.
	other := *f
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	other.signer, _ = ssh.NewSignerFromKey(priv)
	_, err = other.run(t, f.b, s.ID, nets[0]+".10", "root", "true")
	require.Error(t, err)
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	n := subnets(t, 1)[0]
	a := f.spec("vm-a", port("a", n, n+".11"))
	b := f.spec("vm-b", port("b", n, n+".12"))
	require.NoError(t, f.b.Start(ctx, a))
	require.NoError(t, f.b.Start(ctx, b))

	// A reaches B over the shared bridge (bash's /dev/tcp: no ping/nc on
	// a Debian base).
	probe := "timeout 1 bash -c 'exec 3<>/dev/tcp/" + n + ".12/22 && head -c 4 <&3'"
	out, err := f.run(t, f.b, a.ID, n+".11", "root", probe)
	require.NoError(t, err, out)
	assert.Equal(t, "SSH-", out)

	// Start again: idempotent, keeps the running sshd and the host key.
	pidA := f.sshdPid(t, a.ID)
	hk, err := f.b.HostKey(a.ID)
	require.NoError(t, err)
	t0 := time.Now()
	require.NoError(t, f.b.Start(ctx, a))
	t.Logf("second Start took %v", time.Since(t0))
	assert.Equal(t, pidA, f.sshdPid(t, a.ID))
	hk2, err := f.b.HostKey(a.ID)
	require.NoError(t, err)
	assert.Equal(t, hk.Marshal(), hk2.Marshal())

	// Stop B: namespace gone, unreachable from host and from A.
	require.NoError(t, f.b.Stop(ctx, b.ID))
	assert.NotContains(t, nsList(t), f.b.Namespace(b.ID))
	assert.Contains(t, nsList(t), f.b.Namespace(a.ID))
	_, err = net.DialTimeout("tcp", n+".12:22", time.Second)
	assert.Error(t, err)
	out, err = f.run(t, f.b, a.ID, n+".11", "root", probe)
	assert.Error(t, err, out)
	_, err = f.b.HostKey(b.ID)
	assert.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, f.b.Stop(ctx, b.ID), "second Stop")
	require.NoError(t, f.b.Stop(ctx, uuidLike()), "Stop of an unknown server")

	// Cleanup removes the servers, bridges and files.
	require.NoError(t, f.b.Cleanup(ctx))
	assert.Empty(t, f.leftovers(t))
	ents, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	assert.Empty(t, ents)
}

func (f *fixture) sshdPid(t *testing.T, id string) string {
	t.Helper()
	data, err := os.ReadFile(f.dir + "/" + f.b.Namespace(id) + "/sshd.pid")
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

// An emulator restart makes a new Backend and Starts the same specs again:
// running servers are kept; a changed spec rebuilds the server but keeps
// its host key; Close removes only unused bridges.
func TestRestart(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	nets := subnets(t, 2)
	a := f.spec("vm-r", port("a", nets[0], nets[0]+".5"))
	require.NoError(t, f.b.Start(ctx, a))
	pid := f.sshdPid(t, a.ID)
	hk, err := f.b.HostKey(a.ID)
	require.NoError(t, err)

	b2 := f.newBackend(t)
	require.NoError(t, b2.Start(ctx, a))
	assert.Equal(t, pid, f.sshdPid(t, a.ID), "running server kept")
	require.NoError(t, b2.Close())
	out, err := f.run(t, b2, a.ID, nets[0]+".5", "root", "hostname")
	require.NoError(t, err, out)
	assert.Equal(t, "vm-r\n", out)

	// Renamed and moved to another network: rebuilt, same host key (the
	// fixed-key callback in run checks it).
	a.Name = "vm-r2"
	a.Ports = []osemu.PortSpec{port("a2", nets[1], nets[1]+".6")}
	t0 := time.Now()
	require.NoError(t, b2.Start(ctx, a))
	t.Logf("rebuild took %v", time.Since(t0))
	assert.NotEqual(t, pid, f.sshdPid(t, a.ID))
	hk2, err := b2.HostKey(a.ID)
	require.NoError(t, err)
	assert.Equal(t, hk.Marshal(), hk2.Marshal())
	out, err = f.run(t, b2, a.ID, nets[1]+".6", "root", "hostname; ip -4 -o addr show eth0")
	require.NoError(t, err, out)
	assert.Contains(t, out, "vm-r2\n")
	assert.Contains(t, out, nets[1]+".6/24")

	// The first network's bridge is now unused: Close removes it and
	// keeps the used one and the server.
	require.NoError(t, b2.Close())
	left := strings.Join(f.leftovers(t), " ")
	assert.Equal(t, 1, strings.Count(left, f.prefix+"b"), left)
	out, err = f.run(t, b2, a.ID, nets[1]+".6", "root", "true")
	require.NoError(t, err, out)
}

// Stop kills everything in the namespace, including running sessions.
func TestStopKillsSessions(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	n := subnets(t, 1)[0]
	a := f.spec("vm-s", port("a", n, n+".7"))
	require.NoError(t, f.b.Start(ctx, a))
	out, err := f.run(t, f.b, a.ID, n+".7", "root", "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo started")
	require.NoError(t, err, out)
	require.NoError(t, f.b.Stop(ctx, a.ID))
	assert.NotContains(t, nsList(t), f.b.Namespace(a.ID))
	// Only the network's bridge remains (Close or Cleanup removes it).
	assert.Equal(t, []string{f.prefix + "b"}, prefixes(f.leftovers(t), len(f.prefix)+1))
}

func prefixes(names []string, n int) []string {
	var res []string
	for _, s := range names {
		res = append(res, s[:min(n, len(s))])
	}
	return res
}

func TestStartErrors(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	n := subnets(t, 1)[0]
	a := f.spec("vm-e", port("a", n, n+".8"))
	require.NoError(t, f.b.Start(ctx, a))

	// Another network whose CIDR overlaps a's: refused, nothing left.
	c := f.spec("vm-overlap", osemu.PortSpec{NetworkID: "other", IP: n + ".130", CIDR: n + ".128/25"})
	err := f.b.Start(ctx, c)
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "overlaps")
	assert.NotContains(t, nsList(t), f.b.Namespace(c.ID))

	for _, bad := range []osemu.PortSpec{
		{NetworkID: "x", IP: "not-an-ip", CIDR: n + ".0/24"},
		{NetworkID: "x", IP: "10.99.0.5", CIDR: n + ".0/24"},
		{NetworkID: "x", IP: n + ".1", CIDR: n + ".0/24"},
		{NetworkID: "x", IP: n + ".9", CIDR: n + ".0/24", MAC: "zz"},
	} {
		err := f.b.Start(ctx, f.spec("bad", bad))
		assert.Error(t, err, "%+v", bad)
		t.Log(err)
	}

	// An id sharing a's first 8 characters: refused, a untouched.
	twin := f.spec("vm-twin", port("t", n, n+".10"))
	twin.ID = a.ID[:8] + "-twin"
	err = f.b.Start(ctx, twin)
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "already belongs")
	out, err := f.run(t, f.b, a.ID, n+".8", "root", "hostname")
	require.NoError(t, err, out)
	assert.Equal(t, "vm-e\n", out)

	// Cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = f.b.Start(cctx, f.spec("vm-cancel", port("z", n, n+".9")))
	require.Error(t, err)
	t.Log(err)
	assert.True(t, errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "context canceled"), err)
}

// A server without ports gets a namespace with lo and sshd only.
func TestNoPorts(t *testing.T) {
	f := newFixture(t)
	s := f.spec("vm-none")
	require.NoError(t, f.b.Start(t.Context(), s))
	assert.Contains(t, nsList(t), f.b.Namespace(s.ID))
	require.NoError(t, f.b.Start(t.Context(), s))
	require.NoError(t, f.b.Stop(t.Context(), s.ID))
	assert.NotContains(t, nsList(t), f.b.Namespace(s.ID))
}

// A failing sshd makes Start fail with its output and leave nothing.
func TestSSHDFailure(t *testing.T) {
	f := newFixture(t)
	fake := f.dir + "/fake-sshd"
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho 'bad config line 7' >&2\nexit 255\n"), 0o755))
	b, err := netns.New(netns.Config{Prefix: f.prefix, Dir: f.dir + "/state", SSHD: fake})
	require.NoError(t, err)
	n := subnets(t, 1)[0]
	s := f.spec("vm-f", port("a", n, n+".9"))
	err = b.Start(t.Context(), s)
	require.Error(t, err)
	t.Log(err)
	assert.Contains(t, err.Error(), "bad config line 7")
	assert.NotContains(t, nsList(t), b.Namespace(s.ID))
	ents, err := os.ReadDir(f.dir + "/state")
	require.NoError(t, err)
	assert.Empty(t, ents)
}

// Servers started concurrently on one new network share one bridge.
func TestConcurrentStart(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	n := subnets(t, 1)[0]
	var specs []osemu.ServerSpec
	for i := range 4 {
		specs = append(specs, f.spec(fmt.Sprintf("vm-c%d", i), port(fmt.Sprint(i), n, fmt.Sprintf("%s.%d", n, 20+i))))
	}
	errs := make(chan error, len(specs))
	t0 := time.Now()
	for _, s := range specs {
		go func() { errs <- f.b.Start(ctx, s) }()
	}
	for range specs {
		require.NoError(t, <-errs)
	}
	t.Logf("4 concurrent Starts took %v", time.Since(t0))
	for i, s := range specs {
		out, err := f.run(t, f.b, s.ID, fmt.Sprintf("%s.%d", n, 20+i), "root", "hostname")
		require.NoError(t, err, out)
		assert.Equal(t, s.Name+"\n", out)
	}
	for _, s := range specs {
		go func() { errs <- f.b.Stop(ctx, s.ID) }()
	}
	for range specs {
		require.NoError(t, <-errs)
	}
	require.NoError(t, f.b.Close())
	assert.Empty(t, f.leftovers(t))
}

func TestNewValidation(t *testing.T) {
	requireRoot(t)
	for _, cfg := range []netns.Config{
		{Dir: ""},
		{Dir: t.TempDir(), Prefix: "toolong7"},
		{Dir: t.TempDir(), Prefix: "Bad"},
		{Dir: t.TempDir(), SSHD: "/nonexistent/sshd"},
		{Dir: t.TempDir(), Users: []string{"bad:user"}},
	} {
		_, err := netns.New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	b, err := netns.New(netns.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, "ose-12345678", b.Namespace("12345678-aaaa-bbbb"))
}

// Each server gets its own copy-on-write view of Config.PrivateDirs: what a
// node script writes there stays on that server, survives a rebuild, and
// goes with Stop.
func TestPrivateDirs(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	b, err := netns.New(netns.Config{Prefix: f.prefix, Dir: f.dir, PrivateDirs: []string{"/etc", "/var/lib"}})
	require.NoError(t, err)
	nets := subnets(t, 1)
	s1 := f.spec("vm-a", port("a", nets[0], nets[0]+".10"))
	s2 := f.spec("vm-b", port("b", nets[0], nets[0]+".11"))
	require.NoError(t, b.Start(ctx, s1))
	require.NoError(t, b.Start(ctx, s2))

	name := "vnfm-private-" + f.prefix
	out, err := f.run(t, b, s1.ID, nets[0]+".10", "root", "mkdir -p /etc/"+name+" && echo one > /etc/"+name+"/f && echo lib > /var/lib/"+name+" && cat /etc/"+name+"/f")
	require.NoError(t, err, out)
	assert.Equal(t, "one\n", out)
	_, err = os.Stat("/etc/" + name)
	assert.ErrorIs(t, err, os.ErrNotExist, "the write must not reach the host")
	out, err = f.run(t, b, s2.ID, nets[0]+".11", "root", "test ! -e /etc/"+name+" && test ! -e /var/lib/"+name+" && head -1 /etc/hostname >/dev/null && echo clean")
	require.NoError(t, err, out)
	assert.Equal(t, "clean\n", out, "another server sees the host's directories, not server 1's writes")

	// Stopping another server leaves this one's disk alone.
	require.NoError(t, b.Stop(ctx, s2.ID))
	out, err = f.run(t, b, s1.ID, nets[0]+".10", "root", "cat /etc/"+name+"/f /var/lib/"+name)
	require.NoError(t, err, out)
	assert.Equal(t, "one\nlib\n", out)

	_, err = netns.New(netns.Config{Prefix: f.prefix, Dir: f.dir, PrivateDirs: []string{"etc"}})
	require.Error(t, err)
	_, err = netns.New(netns.Config{Prefix: f.prefix, Dir: f.dir, PrivateDirs: []string{"/no/such/dir"}})
	require.Error(t, err)
}

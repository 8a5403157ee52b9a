package etcdmember

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// node is one embedded etcd member.
type node struct {
	name      string
	peerURL   url.URL
	clientURL url.URL
	etcd      *embed.Etcd
	stopOnce  sync.Once
}

func (n *node) stop() { n.stopOnce.Do(n.etcd.Close) }

// freeURLs reserves n loopback ports. All are held open until every one is
// picked so that one test never gets the same port twice.
func freeURLs(t *testing.T, n int) []url.URL {
	t.Helper()
	var (
		ls   []net.Listener
		urls []url.URL
	)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		urls = append(urls, url.URL{Scheme: "http", Host: l.Addr().String()})
	}
	for _, l := range ls {
		require.NoError(t, l.Close())
	}
	return urls
}

func startNode(t *testing.T, name string, peer, client url.URL, initialCluster, state string, strict bool) *node {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = t.TempDir()
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.InitialCluster = initialCluster
	cfg.ClusterState = state
	cfg.InitialClusterToken = "etcdmember-test"
	cfg.UnsafeNoFsync = true
	cfg.StrictReconfigCheck = strict
	// Half the default election timing: faster first election, still
	// stable under -race on a loaded machine.
	cfg.TickMs, cfg.ElectionMs = 50, 500
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	require.NoError(t, err, "start %s", name)
	n := &node{name: name, peerURL: peer, clientURL: client, etcd: e}
	t.Cleanup(n.stop)
	return n
}

func waitReady(t *testing.T, ns ...*node) {
	t.Helper()
	for _, n := range ns {
		select {
		case <-n.etcd.Server.ReadyNotify():
		case err := <-n.etcd.Err():
			t.Fatalf("%s failed: %v", n.name, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s not ready", n.name)
		}
	}
}

// startCluster starts a new 3-member cluster m1..m3 and waits until it
// serves.
func startCluster(t *testing.T, strict bool) []*node {
	t.Helper()
	us := freeURLs(t, 6)
	var ic []string
	for i := range 3 {
		ic = append(ic, fmt.Sprintf("m%d=%s", i+1, us[2*i].String()))
	}
	ns := make([]*node, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		// StartEtcd of a new cluster does not wait for peers, but start
		// them together anyway so the election begins at once.
		wg.Go(func() {
			ns[i] = startNode(t, fmt.Sprintf("m%d", i+1), us[2*i], us[2*i+1], strings.Join(ic, ","), embed.ClusterStateFlagNew, strict)
		})
	}
	wg.Wait()
	for _, n := range ns {
		if n == nil {
			t.FailNow()
		}
	}
	waitReady(t, ns...)
	return ns
}

func clientEndpoints(ns ...*node) []string {
	var eps []string
	for _, n := range ns {
		eps = append(eps, n.clientURL.String())
	}
	return eps
}

// syncBuffer is a log sink safe for the client's goroutines.
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

func open(t *testing.T, ctx context.Context, cfg Config) *Cluster {
	t.Helper()
	c, err := Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func findMember(ms []Member, id uint64) (Member, bool) {
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// TestHealMaster replaces a dead member the way the VNF manager heals a
// Kubernetes master, with the strict reconfig check on: the learner add
// usually comes within 5 s of the cluster start and is refused until then
// (TestRemoveRetriesStrictReconfig proves that retry deterministically).
func TestHealMaster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ns := startCluster(t, true)

	logs := &syncBuffer{}
	var dials atomic.Int64
	var d net.Dialer
	c := open(t, ctx, Config{
		// m2 first: the client must get by without it once it is dead.
		Endpoints:   clientEndpoints(ns[1], ns[0], ns[2]),
		DialTimeout: 2 * time.Second,
		Log:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DialContext: func(ctx context.Context, addr string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, "tcp", addr)
		},
	})
	require.Positive(t, dials.Load(), "DialContext is used")

	ms, err := c.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 3)
	var old Member
	for _, m := range ms {
		require.False(t, m.IsLearner)
		if m.Name == "m2" {
			old = m
		}
	}
	require.Equal(t, []string{ns[1].peerURL.String()}, old.PeerURLs)
	require.NoError(t, c.Healthy(ctx))

	// The master dies.
	ns[1].stop()
	err = c.Healthy(ctx)
	require.Error(t, err)
	// Only m2 is sure to be named: if it led, the others briefly see no leader.
	require.Contains(t, err.Error(), fmt.Sprintf("member %x (m2)", old.ID))

	// Remove it. All members share 127.0.0.1, so name it by host:port.
	removed, err := c.RemoveByPeerHost(ctx, ns[1].peerURL.Host)
	require.NoError(t, err)
	require.Equal(t, []uint64{old.ID}, removed)
	ms, err = c.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	_, ok := findMember(ms, old.ID)
	require.False(t, ok, "old member gone")

	// Its replacement joins as a learner.
	us := freeURLs(t, 2)
	newPeer, newClient := us[0], us[1]
	learner, ic, err := c.EnsureLearner(ctx, "m4", newPeer.String())
	require.NoError(t, err)
	require.True(t, learner.IsLearner)
	require.Equal(t, []string{newPeer.String()}, learner.PeerURLs)
	require.ElementsMatch(t, []string{
		"m1=" + ns[0].peerURL.String(),
		"m3=" + ns[2].peerURL.String(),
		"m4=" + newPeer.String(),
	}, strings.Split(ic, ","))
	t.Logf("learner added; retries logged: %d", strings.Count(logs.String(), "retrying"))

	n4 := startNode(t, "m4", newPeer, newClient, ic, embed.ClusterStateFlagExisting, true)
	waitReady(t, n4)
	started, err := c.WaitStarted(ctx, learner.ID, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, "m4", started.Name)
	require.Equal(t, []string{newClient.String()}, started.ClientURLs)

	require.NoError(t, c.Promote(ctx, learner.ID, 30*time.Second))
	ms, err = c.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 3)
	names := map[string]bool{}
	for _, m := range ms {
		require.False(t, m.IsLearner, "%s is a voter", m.Name)
		names[m.Name] = true
	}
	require.Equal(t, map[string]bool{"m1": true, "m3": true, "m4": true}, names)
	require.NoError(t, c.Healthy(ctx))

	// Re-running every step changes nothing.
	again, ic2, err := c.EnsureLearner(ctx, "m4", newPeer.String())
	require.NoError(t, err)
	require.Equal(t, learner.ID, again.ID)
	require.False(t, again.IsLearner)
	require.Equal(t, "m4", again.Name)
	require.ElementsMatch(t, strings.Split(ic, ","), strings.Split(ic2, ","))
	ms, err = c.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 3, "no new member")
	require.NoError(t, c.Promote(ctx, learner.ID, time.Second))
	removed, err = c.RemoveByPeerHost(ctx, ns[1].peerURL.Host)
	require.NoError(t, err)
	require.Nil(t, removed)
	require.NoError(t, c.Healthy(ctx))
}

// TestRemoveRetriesStrictReconfig removes a live voter right after the
// cluster started: etcd refuses with "unhealthy cluster" until the members
// have been connected for 5 s, and RemoveByPeerHost must ride that out.
func TestRemoveRetriesStrictReconfig(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ns := startCluster(t, true)
	ready := time.Now()

	logs := &syncBuffer{}
	c := open(t, ctx, Config{
		Endpoints: clientEndpoints(ns[0], ns[1]),
		Log:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	began := time.Now()
	removed, err := c.RemoveByPeerHost(ctx, ns[2].peerURL.Host)
	require.NoError(t, err)
	require.Len(t, removed, 1)
	if began.Sub(ready) < 4*time.Second {
		require.Contains(t, logs.String(), "unhealthy cluster", "the strict reconfig check was retried")
	} else {
		t.Logf("machine too slow to catch the strict reconfig window (%s)", began.Sub(ready))
	}
	ms, err := c.Members(ctx)
	require.NoError(t, err)
	require.Len(t, ms, 2)
}

// TestEdgeCases runs without the strict reconfig check to stay fast.
func TestEdgeCases(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ns := startCluster(t, false)
	c := open(t, ctx, Config{Endpoints: clientEndpoints(ns[0]), DialTimeout: time.Second})

	t.Run("unknown id", func(t *testing.T) {
		err := c.Promote(ctx, 0xdead, time.Second)
		require.ErrorIs(t, err, rpctypes.ErrMemberNotFound)
		_, err = c.WaitStarted(ctx, 0xdead, time.Second)
		require.ErrorIs(t, err, rpctypes.ErrMemberNotFound)
	})

	t.Run("unstarted learner", func(t *testing.T) {
		us := freeURLs(t, 2)
		l, ic, err := c.EnsureLearner(ctx, "m5", us[0].String())
		require.NoError(t, err)
		require.True(t, l.IsLearner)
		require.Contains(t, ic, "m5="+us[0].String())

		begin := time.Now()
		_, err = c.WaitStarted(ctx, l.ID, 500*time.Millisecond)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(begin), 5*time.Second)

		// Not started: promotion keeps failing until its timeout.
		err = c.Promote(ctx, l.ID, 700*time.Millisecond)
		require.ErrorIs(t, err, rpctypes.ErrMemberLearnerNotReady)

		// A learner is no voter: health ignores it.
		h, err := c.Health(ctx)
		require.NoError(t, err)
		require.Len(t, h, 3)
		require.NotContains(t, h, l.ID)

		// By host:port: a bare 127.0.0.1 would take the voters too.
		removed, err := c.RemoveByPeerHost(ctx, us[0].Host)
		require.NoError(t, err)
		require.Equal(t, []uint64{l.ID}, removed)
	})

	t.Run("voter down", func(t *testing.T) {
		// Stop a follower, so that the others keep their leader and must
		// be reported healthy.
		st, err := c.cli.Status(ctx, ns[0].clientURL.String())
		require.NoError(t, err)
		ms, err := c.Members(ctx)
		require.NoError(t, err)
		var down Member
		for _, m := range ms {
			if m.ID != st.Leader && m.ClientURLs[0] != ns[0].clientURL.String() {
				down = m
			}
		}
		for _, n := range ns {
			if n.name == down.Name {
				n.stop()
			}
		}
		begin := time.Now()
		h, err := c.Health(ctx)
		require.NoError(t, err)
		require.Len(t, h, 3)
		for id, err := range h {
			if id == down.ID {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
		}
		err = c.Healthy(ctx)
		require.ErrorContains(t, err, fmt.Sprintf("member %x (%s)", down.ID, down.Name))
		require.Less(t, time.Since(begin), 10*time.Second, "bounded by the dial timeout")
	})
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	us := freeURLs(t, 1) // closed again: nothing listens there
	begin := time.Now()
	c, err := Open(t.Context(), Config{Endpoints: []string{us[0].String()}, DialTimeout: 500 * time.Millisecond})
	require.Error(t, err)
	require.Nil(t, c)
	require.Contains(t, err.Error(), "no endpoint of ["+us[0].String()+"] answered within 500ms")
	require.Less(t, time.Since(begin), 3*time.Second)

	_, err = Open(t.Context(), Config{})
	require.Error(t, err)
}

func TestHostMatcher(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host, url string
		want      bool
	}{
		{"10.0.0.5", "https://10.0.0.5:2380", true},
		{"10.0.0.5", "https://10.0.0.50:2380", false},
		{"10.0.0.5:2380", "https://10.0.0.5:2380", true},
		{"10.0.0.5:2381", "https://10.0.0.5:2380", false},
		{"10.0.0.5:2380", "https://10.0.0.5", false},
		{"Master-1", "https://master-1:2380", true},
		{"master-1", "https://master-1.example:2380", false},
		{"::1", "https://[::1]:2380", true},
		{"[::1]", "https://[::1]:2380", true},
		{"[0:0::1]:2380", "https://[::1]:2380", true},
		{"[::1]:2380", "https://[::2]:2380", false},
	} {
		match, err := hostMatcher(tc.host)
		require.NoError(t, err, tc.host)
		require.Equal(t, tc.want, match(tc.url), "%s vs %s", tc.host, tc.url)
	}
	for _, bad := range []string{"", " ", "host:port", ":2380"} {
		_, err := hostMatcher(bad)
		require.Error(t, err, "%q", bad)
	}
}

func TestInitialClusterOf(t *testing.T) {
	t.Parallel()
	ms := []Member{
		{ID: 1, Name: "a", PeerURLs: []string{"https://10.0.0.1:2380", "https://[fd00::1]:2380"}},
		{ID: 0xab, PeerURLs: []string{"https://10.0.0.2:2380"}}, // another unstarted learner
		{ID: 3, PeerURLs: []string{"https://10.0.0.3:2380"}},
	}
	require.Equal(t,
		"a=https://10.0.0.1:2380,a=https://[fd00::1]:2380,ab=https://10.0.0.2:2380,c=https://10.0.0.3:2380",
		initialClusterOf(ms, 3, "c"))

	m, ok := findByPeerURL(ms, "HTTPS://10.0.0.3:2380/")
	require.True(t, ok)
	require.Equal(t, uint64(3), m.ID)
	_, ok = findByPeerURL(ms, "https://10.0.0.3:2381")
	require.False(t, ok)
}

// Package etcdmember manages the membership of a Kubernetes control plane's
// etcd cluster through the etcd v3 API (Cluster and Maintenance services).
//
// It is what the VNF manager uses to heal a master: drop the dead member,
// add its replacement as a learner, wait for it to start and catch up, and
// promote it. Every step is idempotent so a failed heal can be re-run from
// the start.
package etcdmember

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	defaultDialTimeout = 5 * time.Second
	// reconfigBudget bounds the retries of a membership change. The strict
	// reconfig check refuses changes until members have been connected for
	// 5 s (etcdserver.HealthInterval); 30 s leaves room for a leader election
	// on top of that.
	reconfigBudget = 30 * time.Second
	// attemptTimeout bounds one RPC so a hung endpoint cannot eat the whole
	// budget; the server itself gives up on a proposal after ~7 s.
	attemptTimeout = 10 * time.Second
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 2 * time.Second
	pollInterval   = 200 * time.Millisecond
)

// Config says how to reach the cluster.
type Config struct {
	// Endpoints are client URLs ("https://10.0.0.5:2379") or host:port.
	// With an http:// URL no TLS is used even if TLS is set.
	Endpoints []string
	// TLS is used for the endpoints and for the members' client URLs
	// in Health.
	TLS *tls.Config
	// DialTimeout bounds connecting and the check in Open, and each
	// member's Status call in Health. Default 5 s.
	DialTimeout time.Duration
	// Log receives retries at Debug; nil discards.
	Log *slog.Logger
	// DialContext, when set, opens every connection (for example through
	// an SSH tunnel); addr is the endpoint's host:port.
	DialContext func(ctx context.Context, addr string) (net.Conn, error)
}

// Member is an etcd cluster member. A member that was added but has not
// started yet has no Name and no ClientURLs.
type Member struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

// Started reports whether the member has started and published itself.
func (m Member) Started() bool { return m.Name != "" && len(m.ClientURLs) > 0 }

// Cluster is a connection to an etcd cluster. It is safe for concurrent use.
type Cluster struct {
	cli         *clientv3.Client
	log         *slog.Logger
	dialTimeout time.Duration
}

// Open connects to the cluster. It fails unless an endpoint answers a
// MemberList within the dial timeout: the client itself dials lazily and
// would otherwise report an unreachable cluster only on first use.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcdmember: no endpoints")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ccfg := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		// The client logs every retry at Warn; we log our own at Debug.
		Logger: zap.NewNop(),
	}
	if cfg.DialContext != nil {
		ccfg.DialOptions = append(ccfg.DialOptions, grpc.WithContextDialer(cfg.DialContext))
	}
	cli, err := clientv3.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("etcdmember: connect to %v: %w", cfg.Endpoints, err)
	}
	c := &Cluster{cli: cli, log: log, dialTimeout: cfg.DialTimeout}

	cctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	// Serializable: any endpoint that answers proves we reached the cluster,
	// even one that has lost quorum (we still want to look at it).
	if _, err := cli.MemberList(cctx, clientv3.WithSerializable()); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("etcdmember: no endpoint of %v answered within %s: %w", cfg.Endpoints, cfg.DialTimeout, err)
	}
	return c, nil
}

// Close releases the connection.
func (c *Cluster) Close() error {
	if err := c.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcdmember: close: %w", err)
	}
	return nil
}

// Members lists the members. The list is linearizable (it goes through the
// leader) because it is the basis of membership changes.
func (c *Cluster) Members(ctx context.Context) ([]Member, error) {
	return c.members(ctx, false)
}

func (c *Cluster) members(ctx context.Context, serializable bool) ([]Member, error) {
	var opts []clientv3.OpOption
	if serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	// Callers pass a step's context, which has no deadline: a member that
	// accepted the connection and never answers must not hold the step.
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	resp, err := c.cli.MemberList(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("etcdmember: list members: %w", err)
	}
	return toMembers(resp.Members), nil
}

// RemoveByPeerHost removes every member that has a peer URL on host and
// returns the removed IDs; none found is nil, nil so a heal can be re-run.
//
// host is a hostname or IP ("10.0.0.5", "::1", "[::1]"), which matches any
// port, or host:port ("10.0.0.5:2380", "[::1]:2380"), which matches exactly
// that URL host; the latter tells apart members sharing an IP (tests, or
// several etcds per node). Hostnames compare case-insensitively and are not
// resolved.
//
// It retries, for up to ~30 s, what clears up by itself: the strict reconfig
// check right after a member started (ErrUnhealthy,
// ErrMemberNotEnoughStarted) and transient unavailability (no leader,
// timeouts, unreachable endpoint). On error the IDs removed so far are
// returned with it.
func (c *Cluster) RemoveByPeerHost(ctx context.Context, host string) ([]uint64, error) {
	match, err := hostMatcher(host)
	if err != nil {
		return nil, err
	}
	ms, err := c.Members(ctx)
	if err != nil {
		return nil, err
	}
	var removed []uint64
	for _, m := range ms {
		if !slices.ContainsFunc(m.PeerURLs, match) {
			continue
		}
		err := c.retry(ctx, fmt.Sprintf("remove member %x (%s)", m.ID, m.Name), reconfigBudget, isTransient, func(ctx context.Context) error {
			_, err := c.cli.MemberRemove(ctx, m.ID)
			// Gone already: an earlier attempt whose answer we lost did it.
			if errors.Is(err, rpctypes.ErrMemberNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return removed, err
		}
		c.log.Info("etcd member removed", "id", fmt.Sprintf("%x", m.ID), "name", m.Name, "peerURLs", m.PeerURLs)
		removed = append(removed, m.ID)
	}
	return removed, nil
}

// EnsureLearner makes sure a member with peerURL exists: it returns the
// existing one, learner or voter, or adds it as a learner (a learner cannot
// break quorum while it catches up). The add is retried like in
// RemoveByPeerHost.
//
// initialCluster is the --initial-cluster the member must be started with
// (together with --initial-cluster-state=existing): every member's peer URLs
// as name=URL, the member for peerURL under name. Other members that have
// not started yet have no name and are given their hex ID instead, since
// etcd checks the URLs, not the names, of the other members, but needs one
// distinct name per member.
func (c *Cluster) EnsureLearner(ctx context.Context, name, peerURL string) (m Member, initialCluster string, err error) {
	if name == "" || strings.ContainsAny(name, ",=") {
		return Member{}, "", fmt.Errorf("etcdmember: invalid member name %q", name)
	}
	if u, err := url.Parse(peerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Member{}, "", fmt.Errorf("etcdmember: invalid peer URL %q", peerURL)
	}
	ms, err := c.Members(ctx)
	if err != nil {
		return Member{}, "", err
	}
	if m, ok := findByPeerURL(ms, peerURL); ok {
		c.logExisting(m, name)
		return m, initialClusterOf(ms, m.ID, name), nil
	}

	var added *clientv3.MemberAddResponse
	err = c.retry(ctx, "add learner "+peerURL, reconfigBudget, isTransient, func(ctx context.Context) error {
		resp, err := c.cli.MemberAddAsLearner(ctx, []string{peerURL})
		if err == nil {
			added = resp
		} else if errors.Is(err, rpctypes.ErrPeerURLExist) {
			// Someone (or our own lost attempt) added it meanwhile.
			return nil
		}
		return err
	})
	if err != nil {
		return Member{}, "", err
	}
	if added == nil {
		ms, err := c.Members(ctx)
		if err != nil {
			return Member{}, "", err
		}
		m, ok := findByPeerURL(ms, peerURL)
		if !ok {
			return Member{}, "", fmt.Errorf("etcdmember: peer URL %s reported as existing but not listed", peerURL)
		}
		c.logExisting(m, name)
		return m, initialClusterOf(ms, m.ID, name), nil
	}
	ms = toMembers(added.Members)
	m = Member{ID: added.Member.ID, PeerURLs: slices.Clone(added.Member.PeerURLs), IsLearner: added.Member.IsLearner}
	c.log.Info("etcd learner added", "id", fmt.Sprintf("%x", m.ID), "name", name, "peerURL", peerURL)
	return m, initialClusterOf(ms, m.ID, name), nil
}

func (c *Cluster) logExisting(m Member, name string) {
	if m.Name != "" && m.Name != name {
		c.log.Warn("etcd member with this peer URL has another name", "id", fmt.Sprintf("%x", m.ID), "name", m.Name, "want", name, "peerURLs", m.PeerURLs)
	}
}

// Promote promotes learner id to a voter. It retries until timeout (or ctx)
// while the learner is not yet in sync with the leader, and like
// RemoveByPeerHost otherwise. A member that already votes is success; an
// unknown id is an error (errors.Is rpctypes.ErrMemberNotFound).
// timeout <= 0 means the default of 30 s.
func (c *Cluster) Promote(ctx context.Context, id uint64, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = reconfigBudget
	}
	m, err := c.member(ctx, id)
	if err != nil {
		return err
	}
	if !m.IsLearner {
		return nil
	}
	retryable := func(err error) bool {
		return errors.Is(err, rpctypes.ErrMemberLearnerNotReady) || isTransient(err)
	}
	return c.retry(ctx, fmt.Sprintf("promote member %x", id), timeout, retryable, func(ctx context.Context) error {
		_, err := c.cli.MemberPromote(ctx, id)
		if errors.Is(err, rpctypes.ErrMemberNotLearner) {
			return nil // promoted by an attempt whose answer we lost
		}
		if err == nil {
			c.log.Info("etcd learner promoted", "id", fmt.Sprintf("%x", id))
		}
		return err
	})
}

// WaitStarted waits until member id has a name and client URLs: etcd
// publishes them once the member has started and joined. timeout <= 0 means
// only ctx bounds the wait. A member that is not (or no longer) listed is
// an error at once.
func (c *Cluster) WaitStarted(ctx context.Context, id uint64, timeout time.Duration) (Member, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for {
		m, err := c.member(ctx, id)
		if err == nil && m.Started() {
			return m, nil
		}
		if errors.Is(err, rpctypes.ErrMemberNotFound) {
			return Member{}, err
		}
		if err != nil {
			c.log.Debug("etcd member list failed, polling on", "id", fmt.Sprintf("%x", id), "err", err)
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("not started")
			}
			return Member{}, fmt.Errorf("etcdmember: wait for member %x to start: %w: %w", id, ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}

// member looks up id; not listed is rpctypes.ErrMemberNotFound.
func (c *Cluster) member(ctx context.Context, id uint64) (Member, error) {
	ms, err := c.Members(ctx)
	if err != nil {
		return Member{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return Member{}, fmt.Errorf("etcdmember: member %x: %w", id, rpctypes.ErrMemberNotFound)
}

// Health asks each voting member for its Status on its own client URLs
// (same TLS and dialer as the endpoints), all at once, each bounded by the
// dial timeout. A member's entry is nil when it answered as itself, sees a
// leader and reports no alarm errors. Learners are left out: they do not
// count for quorum. The member list is serializable so that members can
// still be named when quorum is lost.
func (c *Cluster) Health(ctx context.Context) (map[uint64]error, error) {
	ms, err := c.members(ctx, true)
	if err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		res = make(map[uint64]error)
	)
	for _, m := range ms {
		if m.IsLearner {
			continue
		}
		wg.Go(func() {
			err := c.memberHealth(ctx, m)
			mu.Lock()
			res[m.ID] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return res, nil
}

func (c *Cluster) memberHealth(ctx context.Context, m Member) error {
	if len(m.ClientURLs) == 0 {
		return errors.New("not started (no client URLs)")
	}
	var errs []error
	for _, u := range m.ClientURLs {
		sctx, cancel := context.WithTimeout(ctx, c.dialTimeout)
		st, err := c.cli.Status(sctx, u)
		cancel()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
		case st.Header == nil || st.Header.MemberId != m.ID:
			// A wrong address (e.g. a stale tunnel) must not pass for health.
			var got uint64
			if st.Header != nil {
				got = st.Header.MemberId
			}
			errs = append(errs, fmt.Errorf("%s: answered as member %x", u, got))
		case st.Leader == 0:
			return fmt.Errorf("%s: %w", u, rpctypes.ErrNoLeader)
		case len(st.Errors) > 0:
			return fmt.Errorf("%s: %s", u, strings.Join(st.Errors, "; "))
		default:
			return nil
		}
	}
	return errors.Join(errs...)
}

// Healthy is nil when every voting member answers and sees a leader;
// otherwise its error names each unhealthy member.
func (c *Cluster) Healthy(ctx context.Context) error {
	res, err := c.Health(ctx)
	if err != nil {
		return err
	}
	names := make(map[uint64]string)
	if ms, err := c.members(ctx, true); err == nil {
		for _, m := range ms {
			names[m.ID] = m.Name
		}
	}
	ids := make([]uint64, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var errs []error
	for _, id := range ids {
		if res[id] != nil {
			errs = append(errs, fmt.Errorf("member %x (%s): %w", id, names[id], res[id]))
		}
	}
	if len(ids) == 0 {
		errs = append(errs, errors.New("no voting members"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("etcdmember: cluster unhealthy: %w", errors.Join(errs...))
	}
	return nil
}

// retry runs f until it succeeds, fails with an error retryable rejects, or
// budget (or ctx) runs out; it backs off exponentially between attempts.
// Giving up, it wraps both the context's error and the last real error.
func (c *Cluster) retry(ctx context.Context, op string, budget time.Duration, retryable func(error) bool, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	delay := minBackoff
	var last error
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, attemptTimeout)
		err := f(actx)
		acancel()
		if err == nil {
			return nil
		}
		isCtxErr := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
		if last == nil || !isCtxErr {
			last = err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("etcdmember: %s: gave up after %d attempts: %w; last error: %w", op, attempt, ctx.Err(), last)
		}
		// Past here a context error is our attempt timeout: transient.
		if !isCtxErr && !retryable(err) {
			return fmt.Errorf("etcdmember: %s: %w", op, err)
		}
		c.log.Debug("etcd membership change failed, retrying", "op", op, "attempt", attempt, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdmember: %s: gave up after %d attempts: %w; last error: %w", op, attempt, ctx.Err(), last)
		case <-time.After(delay):
		}
		delay = min(2*delay, maxBackoff)
	}
}

// isTransient reports errors that clear up by themselves: the strict
// reconfig check, and unavailability (no leader, leader changed, request
// timed out, endpoint unreachable), which etcd maps to codes.Unavailable.
func isTransient(err error) bool {
	if errors.Is(err, rpctypes.ErrUnhealthy) || errors.Is(err, rpctypes.ErrMemberNotEnoughStarted) {
		return true
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	return status.Code(err) == codes.Unavailable
}

// hostMatcher returns a predicate over peer URLs for RemoveByPeerHost.
func hostMatcher(host string) (func(peerURL string) bool, error) {
	host = strings.TrimSpace(host)
	if host == "" {
		return nil, errors.New("etcdmember: empty host")
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil || h == "" {
			return nil, fmt.Errorf("etcdmember: invalid host:port %q", host)
		}
		want := net.JoinHostPort(normHost(h), p)
		return func(peerURL string) bool {
			u, err := url.Parse(peerURL)
			if err != nil || u.Port() == "" {
				return false
			}
			return net.JoinHostPort(normHost(u.Hostname()), u.Port()) == want
		}, nil
	}
	want := normHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return func(peerURL string) bool {
		u, err := url.Parse(peerURL)
		return err == nil && normHost(u.Hostname()) == want
	}, nil
}

// normHost makes equal IPs compare equal whatever their spelling
// ("::1" and "0:0::1") and hostnames case-insensitively.
func normHost(h string) string {
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return strings.ToLower(h)
}

func findByPeerURL(ms []Member, peerURL string) (Member, bool) {
	want := normURL(peerURL)
	for _, m := range ms {
		for _, u := range m.PeerURLs {
			if normURL(u) == want {
				return m, true
			}
		}
	}
	return Member{}, false
}

// normURL compares peer URLs the way etcd's ErrPeerURLExist does in spirit:
// by scheme and host, ignoring case and a trailing slash.
func normURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	host := normHost(u.Hostname())
	if u.Port() != "" {
		host = net.JoinHostPort(host, u.Port())
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return strings.ToLower(u.Scheme) + "://" + host + strings.TrimSuffix(u.Path, "/")
}

// initialClusterOf renders --initial-cluster for the member self named name.
func initialClusterOf(ms []Member, self uint64, name string) string {
	var parts []string
	for _, m := range ms {
		n := m.Name
		switch {
		case m.ID == self:
			n = name
		case n == "":
			n = fmt.Sprintf("%x", m.ID)
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, n+"="+u)
		}
	}
	return strings.Join(parts, ",")
}

func toMembers(in []*pb.Member) []Member {
	out := make([]Member, 0, len(in))
	for _, m := range in {
		out = append(out, Member{
			ID:         m.ID,
			Name:       m.Name,
			PeerURLs:   slices.Clone(m.PeerURLs),
			ClientURLs: slices.Clone(m.ClientURLs),
			IsLearner:  m.IsLearner,
		})
	}
	return out
}

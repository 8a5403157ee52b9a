// Package netns is the "namespace" backend of the OpenStack emulator: every
// emulated Nova server becomes a Linux network namespace holding its ports'
// addresses and a real OpenSSH server, so that management drivers can SSH
// into the "VMs" from the host.
//
// Layout, for Config.Prefix P (at most 6 characters, [a-z0-9]):
//
//   - per network: a host bridge P+"b"+hash8(network id) carrying the
//     subnet's gateway address, so the host reaches the servers;
//   - per server: network namespace P+"-"+id[:8] with eth0, eth1, ... (veth
//     peers of host ends P+"v"+hash6(id)+index enslaved to the bridges), lo
//     and a default route via the first port's gateway;
//   - inside it, under its own UTS and mount namespaces, sshd (daemonised,
//     so servers survive an emulator restart) with hostname = server name
//     as Nova sanitises it (lower case, '_', ' ' and '.' become '-').
//
// Only root can log in, by key from ServerSpec.AuthorizedKeys. The names in
// Config.Users (default "ubuntu") are aliases of root: they are appended, as
// uid 0, to a copy of /etc/passwd bind-mounted over /etc/passwd in the
// server's private mount namespace, so the host's /etc/passwd is untouched.
//
// Everything the backend creates is recognisable from Prefix alone, so
// Cleanup also removes what an earlier process with the same Prefix left.
// Requires root, iproute2, util-linux (unshare, mount) and openssh-server.
package netns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vnfm-project/vnfm/internal/osemu"
)

var _ osemu.Backend = (*Backend)(nil)

// Config configures a Backend.
type Config struct {
	// Prefix starts every namespace, bridge and veth name; [a-z0-9]{1,6}
	// so that derived interface names fit Linux's 15 characters. Default
	// "ose".
	Prefix string
	// Dir holds per-server sshd configs, host keys, logs and pid files.
	// Required.
	Dir string
	// SSHD is the sshd binary; default /usr/sbin/sshd.
	SSHD string
	// Users are extra login names mapped to root (uid 0) inside servers;
	// nil means {"ubuntu"}, an empty non-nil slice means root only.
	Users []string
	// PrivateDirs are host directories every server gets its own
	// copy-on-write view of (an overlay whose upper layer lives in the
	// server's directory), so what a node script installs under, say,
	// /etc or /var/lib stays on that "VM" and goes when it is deleted.
	PrivateDirs []string
	Log         *slog.Logger
}

// Backend runs emulated servers as network namespaces with sshd.
type Backend struct {
	prefix string
	dir    string
	sshd   string
	users  []string
	dirs   []string
	log    *slog.Logger

	ip, unshare string // resolved binaries

	brMu    sync.Mutex // serialises bridge creation and address checks
	mu      sync.Mutex // guards locks
	locks   map[string]*sync.Mutex
	nsRE    *regexp.Regexp // our namespace names
	linkRE  *regexp.Regexp // our bridge and veth names
	bridgeR *regexp.Regexp // our bridge names
}

var (
	prefixRE = regexp.MustCompile(`^[a-z0-9]{1,6}$`)
	userRE   = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
)

// New checks the environment (root, ip, unshare, sshd) and returns a Backend.
func New(cfg Config) (*Backend, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "ose"
	}
	if !prefixRE.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("netns: prefix %q must match %s (interface names are limited to 15 characters)", cfg.Prefix, prefixRE)
	}
	if cfg.Dir == "" {
		return nil, errors.New("netns: Config.Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("netns: dir: %w", err)
	}
	// The path is written into sshd_config, where '%' is a token and '"'
	// quotes; refusing them is simpler than escaping.
	if strings.ContainsAny(dir, "%\"\\\n") {
		return nil, fmt.Errorf("netns: dir %q must not contain %%, \", \\ or newlines", dir)
	}
	if cfg.SSHD == "" {
		cfg.SSHD = "/usr/sbin/sshd"
	}
	users := cfg.Users
	if users == nil {
		users = []string{"ubuntu"}
	}
	for _, u := range users {
		if !userRE.MatchString(u) {
			return nil, fmt.Errorf("netns: invalid user name %q", u)
		}
	}
	for _, d := range cfg.PrivateDirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" || strings.ContainsAny(d, ",:\n") {
			return nil, fmt.Errorf("netns: private dir %q must be a clean absolute path other than / without ',' or ':'", d)
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("netns: private dir %q must be an existing directory", d)
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("netns: the namespace backend must run as root (network namespaces, bridges, sshd)")
	}
	b := &Backend{
		prefix:  cfg.Prefix,
		dir:     dir,
		users:   users,
		dirs:    cfg.PrivateDirs,
		log:     cfg.Log,
		locks:   map[string]*sync.Mutex{},
		nsRE:    regexp.MustCompile(`^` + cfg.Prefix + `-[A-Za-z0-9_.-]{1,8}$`),
		linkRE:  regexp.MustCompile(`^` + cfg.Prefix + `[bv][0-9a-f]{8}$`),
		bridgeR: regexp.MustCompile(`^` + cfg.Prefix + `b[0-9a-f]{8}$`),
	}
	if b.ip, err = exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("netns: iproute2 'ip' not found: %w", err)
	}
	if b.unshare, err = exec.LookPath("unshare"); err != nil {
		return nil, fmt.Errorf("netns: util-linux 'unshare' not found: %w", err)
	}
	if b.sshd, err = exec.LookPath(cfg.SSHD); err != nil {
		return nil, fmt.Errorf("netns: sshd %q not found (install openssh-server): %w", cfg.SSHD, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	return b, nil
}

// Namespace returns the network namespace name of server id.
func (b *Backend) Namespace(id string) string {
	var sb strings.Builder
	for _, r := range id {
		if sb.Len() == 8 {
			break
		}
		// Namespace names are file names under /run/netns.
		if r < 0x80 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
	}
	if sb.Len() == 0 {
		sb.WriteByte('_')
	}
	return b.prefix + "-" + sb.String()
}

func (b *Backend) bridgeName(networkID string) string {
	return b.prefix + "b" + shortHash(networkID, 8)
}

// vethPrefix starts the host-side veth names of server id; the port index
// (2 hex digits) completes them.
func (b *Backend) vethPrefix(id string) string { return b.prefix + "v" + shortHash(id, 6) }

func (b *Backend) vethName(id string, i int) string {
	return fmt.Sprintf("%s%02x", b.vethPrefix(id), i)
}

func (b *Backend) serverDir(ns string) string { return filepath.Join(b.dir, ns) }

func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// lock serialises operations on one namespace.
func (b *Backend) lock(ns string) func() {
	b.mu.Lock()
	m, ok := b.locks[ns]
	if !ok {
		m = &sync.Mutex{}
		b.locks[ns] = m
	}
	b.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Start brings server s up, or leaves it alone when it already runs with
// the same spec (emulator restart). It returns once sshd answers on the
// first port's address.
func (b *Backend) Start(ctx context.Context, s osemu.ServerSpec) error {
	t0 := time.Now()
	plan, err := b.plan(s)
	if err != nil {
		return err
	}
	defer b.lock(plan.ns)()
	// Checked before anything else: the cleanup after a failure below
	// would otherwise tear down the other server.
	if st, err := readState(plan.dir); err == nil && st.ID != plan.id {
		return fmt.Errorf("netns: start server %s: namespace %s already belongs to server %s (ids share their first 8 characters)", s.ID, plan.ns, st.ID)
	}

	reused, err := b.start(ctx, plan)
	if err != nil {
		// Don't leave half a server behind: Nova marks it ERROR and may
		// never call Stop. A fresh context, since ctx may be what failed.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if terr := b.teardown(cctx, plan.ns, plan.id); terr != nil {
			b.log.Warn("netns: teardown after failed start", "server", s.ID, "err", terr)
		}
		return fmt.Errorf("netns: start server %s (%s): %w", s.ID, s.Name, err)
	}
	addr := ""
	if len(plan.ports) > 0 {
		addr = plan.ports[0].ip
	}
	b.log.Info("netns: server up", "server", s.ID, "name", s.Name, "netns", plan.ns,
		"addr", addr, "reused", reused, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// start returns whether a running server was kept.
func (b *Backend) start(ctx context.Context, p *plan) (bool, error) {
	if err := b.prepareFiles(p); err != nil {
		return false, err
	}
	for _, pt := range p.ports {
		if err := b.ensureBridge(ctx, pt); err != nil {
			return false, err
		}
	}
	if b.running(ctx, p) {
		if err := b.waitSSH(ctx, p, 5*time.Second); err == nil {
			return true, nil
		}
		b.log.Warn("netns: running server does not answer, recreating", "server", p.id)
	}
	if err := b.teardownNet(ctx, p.ns, p.id); err != nil {
		return false, err
	}
	if err := b.createNet(ctx, p); err != nil {
		return false, err
	}
	if err := b.startSSHD(ctx, p); err != nil {
		return false, err
	}
	if err := b.waitSSH(ctx, p, 15*time.Second); err != nil {
		return false, err
	}
	// Recorded last: its presence with this fingerprint means "built".
	if err := writeState(p); err != nil {
		return false, err
	}
	return false, nil
}

// Stop kills server id's processes and removes its namespace, veths and
// files. Unknown servers are not an error.
func (b *Backend) Stop(ctx context.Context, id string) error {
	ns := b.Namespace(id)
	defer b.lock(ns)()
	if err := b.teardown(ctx, ns, id); err != nil {
		return fmt.Errorf("netns: stop server %s: %w", id, err)
	}
	b.log.Info("netns: server stopped", "server", id, "netns", ns)
	return nil
}

// Close removes this prefix's bridges that no server uses. Running servers
// are left alone (they outlive the emulator process); see Cleanup.
func (b *Backend) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.brMu.Lock()
	defer b.brMu.Unlock()
	links, err := b.hostLinks(ctx)
	if err != nil {
		return fmt.Errorf("netns: close: %w", err)
	}
	used := map[string]bool{}
	for _, l := range links {
		used[l.Master] = true
	}
	var errs []error
	for _, l := range links {
		if b.bridgeR.MatchString(l.Name) && !used[l.Name] {
			if _, err := b.run(ctx, b.ip, "link", "del", l.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netns: close: %w", err)
	}
	return nil
}

// Cleanup stops every server and removes every bridge and veth of this
// backend's Prefix, including those left by an earlier process, and the
// per-server files in Dir.
func (b *Backend) Cleanup(ctx context.Context) error {
	var errs []error
	names := map[string]bool{}
	out, err := b.run(ctx, b.ip, "netns", "list")
	if err != nil {
		errs = append(errs, err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && b.nsRE.MatchString(f[0]) {
			names[f[0]] = true
		}
	}
	if ents, err := os.ReadDir(b.dir); err == nil {
		for _, e := range ents {
			if e.IsDir() && b.nsRE.MatchString(e.Name()) {
				names[e.Name()] = true
			}
		}
	}
	for ns := range names {
		id := ""
		if st, err := readState(b.serverDir(ns)); err == nil {
			id = st.ID
		}
		unlock := b.lock(ns)
		if err := b.teardown(ctx, ns, id); err != nil {
			errs = append(errs, err)
		}
		unlock()
	}
	// Whatever is left by name: veths of servers without state files, and
	// all bridges.
	b.brMu.Lock()
	defer b.brMu.Unlock()
	links, err := b.hostLinks(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, pass := range []bool{false, true} { // veths first, then bridges
		for _, l := range links {
			if b.linkRE.MatchString(l.Name) && b.bridgeR.MatchString(l.Name) == pass {
				if _, err := b.run(ctx, b.ip, "link", "del", l.Name); err != nil && b.linkExists(ctx, l.Name) {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netns: cleanup: %w", err)
	}
	b.log.Info("netns: cleaned up", "prefix", b.prefix, "servers", len(names))
	return nil
}

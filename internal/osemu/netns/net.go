package netns

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vnfm-project/vnfm/internal/osemu"
)

// netnsRunDir is where iproute2 keeps named namespaces.
const netnsRunDir = "/run/netns"

// plan is a validated ServerSpec with every derived name.
type plan struct {
	id, name, hostname string
	ns, dir            string
	ports              []portPlan
	keys               []string
	fingerprint        string
}

type portPlan struct {
	Network string       `json:"network"`
	Bridge  string       `json:"bridge"`
	Veth    string       `json:"veth"`
	Ifname  string       `json:"ifname"`
	MAC     string       `json:"mac"`
	IP      netip.Addr   `json:"ip"`
	Subnet  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	ip      string       // IP as a string, for dialling and logs
}

// plan validates s and derives names; it touches nothing.
func (b *Backend) plan(s osemu.ServerSpec) (*plan, error) {
	if s.ID == "" {
		return nil, errors.New("netns: server id is empty")
	}
	if len(s.Ports) > 256 {
		return nil, fmt.Errorf("netns: server %s: %d ports, at most 256 supported", s.ID, len(s.Ports))
	}
	p := &plan{id: s.ID, name: s.Name, ns: b.Namespace(s.ID), hostname: hostname(s.Name)}
	p.dir = b.serverDir(p.ns)
	if p.hostname == "" {
		p.hostname = "Server-" + hostname(s.ID) // Nova's default
	}
	for _, k := range s.AuthorizedKeys {
		// One key per line; a stray newline must not split a key.
		if k = strings.TrimSpace(strings.ReplaceAll(k, "\n", " ")); k != "" {
			p.keys = append(p.keys, k)
		}
	}
	for i, ps := range s.Ports {
		pp, err := b.portPlan(s.ID, i, ps)
		if err != nil {
			return nil, fmt.Errorf("netns: server %s port %d (%s): %w", s.ID, i, ps.ID, err)
		}
		p.ports = append(p.ports, pp)
	}
	fp, err := json.Marshal(struct {
		Version  int
		Hostname string
		Users    []string
		SSHD     string
		Ports    []portPlan
	}{1, p.hostname, b.users, b.sshd, p.ports})
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	p.fingerprint = shortHash(string(fp), 16)
	return p, nil
}

func (b *Backend) portPlan(id string, i int, ps osemu.PortSpec) (portPlan, error) {
	pp := portPlan{
		Network: ps.NetworkID,
		Bridge:  b.bridgeName(ps.NetworkID),
		Veth:    b.vethName(id, i),
		Ifname:  "eth" + strconv.Itoa(i),
		ip:      ps.IP,
	}
	var err error
	if pp.IP, err = netip.ParseAddr(ps.IP); err != nil || !pp.IP.Is4() {
		return pp, fmt.Errorf("fixed IP %q is not an IPv4 address", ps.IP)
	}
	if pp.Subnet, err = netip.ParsePrefix(ps.CIDR); err != nil || !pp.Subnet.Addr().Is4() {
		return pp, fmt.Errorf("CIDR %q is not an IPv4 prefix", ps.CIDR)
	}
	pp.Subnet = pp.Subnet.Masked()
	if pp.Subnet.Bits() > 30 {
		return pp, fmt.Errorf("CIDR %s is too small for a gateway and a server", pp.Subnet)
	}
	if ps.Gateway == "" {
		pp.Gateway = pp.Subnet.Addr().Next()
	} else if pp.Gateway, err = netip.ParseAddr(ps.Gateway); err != nil || !pp.Gateway.Is4() {
		return pp, fmt.Errorf("gateway %q is not an IPv4 address", ps.Gateway)
	}
	if !pp.Subnet.Contains(pp.IP) || !pp.Subnet.Contains(pp.Gateway) {
		return pp, fmt.Errorf("IP %s or gateway %s outside %s", pp.IP, pp.Gateway, pp.Subnet)
	}
	if pp.IP == pp.Gateway {
		return pp, fmt.Errorf("IP %s is the subnet's gateway (the host's address on the bridge)", pp.IP)
	}
	if ps.MAC != "" {
		hw, err := net.ParseMAC(ps.MAC)
		if err != nil || len(hw) != 6 {
			return pp, fmt.Errorf("MAC %q is not an Ethernet address", ps.MAC)
		}
		pp.MAC = hw.String()
	}
	return pp, nil
}

// hostname is Nova's sanitize_hostname, so that "VMs" see the host name a
// real cloud would give them: ' ', '_' and '.' become '-', other characters
// outside [A-Za-z0-9-] go, lower case, no leading/trailing '-', at most 63
// characters; "" when nothing is left.
func hostname(name string) string {
	var sb strings.Builder
	for _, r := range name {
		switch {
		case r == ' ' || r == '_' || r == '.' || r == '-':
			sb.WriteByte('-')
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			sb.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			sb.WriteRune(r + 'a' - 'A')
		}
	}
	h := strings.Trim(sb.String(), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	return h
}

// run executes a command; errors carry the command line and its output.
func (b *Backend) run(ctx context.Context, name string, args ...string) (string, error) {
	return b.runDesc(ctx, name+" "+strings.Join(args, " "), name, args...)
}

// runDesc is run with desc naming the command in errors.
func (b *Backend) runDesc(ctx context.Context, desc, name string, args ...string) (string, error) {
	b.log.Debug("netns: exec", "cmd", desc)
	cmd := exec.CommandContext(ctx, name, args...)
	// sshd daemonises; should a descendant keep our pipes open, don't hang.
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if out := strings.TrimSpace(stderr.String() + "\n" + stdout.String()); out != "" {
			return stdout.String(), fmt.Errorf("%s: %w: %s", desc, err, out)
		}
		return stdout.String(), fmt.Errorf("%s: %w", desc, err)
	}
	return stdout.String(), nil
}

type hostLink struct {
	Name   string `json:"ifname"`
	Master string `json:"master"`
}

// hostLinks lists the host's interfaces with their bridge, if any.
func (b *Backend) hostLinks(ctx context.Context) ([]hostLink, error) {
	out, err := b.run(ctx, b.ip, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var links []hostLink
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("parse ip -j link show: %w", err)
	}
	return links, nil
}

// linkExists reports whether a host interface exists. The Go process never
// leaves the host network namespace, so the net package sees host links.
func (b *Backend) linkExists(_ context.Context, name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func nsExists(ns string) bool {
	_, err := os.Stat(netnsRunDir + "/" + ns)
	return err == nil
}

// ensureBridge makes the port's network bridge exist, carry the gateway
// address and be up.
func (b *Backend) ensureBridge(ctx context.Context, pt portPlan) error {
	b.brMu.Lock()
	defer b.brMu.Unlock()
	ifc, err := net.InterfaceByName(pt.Bridge)
	if err != nil {
		if err := b.checkOverlap(ctx, pt.Subnet, pt.Bridge); err != nil {
			return fmt.Errorf("network %s: %w", pt.Network, err)
		}
		// Bridged frames must not go through the host's iptables (present
		// whenever br_netfilter is loaded, e.g. by Docker, whose FORWARD
		// policy is DROP); this is a per-bridge setting.
		if _, err := b.run(ctx, b.ip, "link", "add", pt.Bridge, "type", "bridge",
			"nf_call_iptables", "0", "nf_call_ip6tables", "0", "nf_call_arptables", "0"); err != nil {
			if _, err2 := b.run(ctx, b.ip, "link", "add", pt.Bridge, "type", "bridge"); err2 != nil {
				return fmt.Errorf("network %s: create bridge: %w", pt.Network, errors.Join(err, err2))
			}
		}
		b.log.Info("netns: bridge created", "bridge", pt.Bridge, "network", pt.Network, "subnet", pt.Subnet, "gateway", pt.Gateway)
		if ifc, err = net.InterfaceByName(pt.Bridge); err != nil {
			return fmt.Errorf("network %s: bridge %s: %w", pt.Network, pt.Bridge, err)
		}
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return fmt.Errorf("network %s: bridge %s addresses: %w", pt.Network, pt.Bridge, err)
	}
	want := netip.PrefixFrom(pt.Gateway, pt.Subnet.Bits())
	have := false
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if pf, err := netip.ParsePrefix(ipn.String()); err == nil && pf == want {
				have = true
			}
		}
	}
	if !have {
		if err := b.checkOverlap(ctx, pt.Subnet, pt.Bridge); err != nil {
			return fmt.Errorf("network %s: %w", pt.Network, err)
		}
		if _, err := b.run(ctx, b.ip, "addr", "add", want.String(), "dev", pt.Bridge); err != nil {
			return fmt.Errorf("network %s: %w", pt.Network, err)
		}
	}
	if ifc.Flags&net.FlagUp == 0 {
		if _, err := b.run(ctx, b.ip, "link", "set", pt.Bridge, "up"); err != nil {
			return fmt.Errorf("network %s: %w", pt.Network, err)
		}
	}
	return nil
}

// checkOverlap refuses a subnet that overlaps an address or route of
// another host interface: adding it would shadow the host's own networking
// (or another emulated network, making its servers unreachable).
func (b *Backend) checkOverlap(ctx context.Context, subnet netip.Prefix, self string) error {
	out, err := b.run(ctx, b.ip, "-j", "-4", "addr", "show")
	if err != nil {
		return err
	}
	var ifs []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &ifs); err != nil {
		return fmt.Errorf("parse ip -j addr show: %w", err)
	}
	for _, ifc := range ifs {
		for _, a := range ifc.Addrs {
			ad, err := netip.ParseAddr(a.Local)
			if err != nil || ifc.Name == self || ad.IsLoopback() {
				continue
			}
			if pf := netip.PrefixFrom(ad, a.Prefixlen).Masked(); pf.Overlaps(subnet) {
				return fmt.Errorf("subnet %s overlaps %s on host interface %s; refusing to shadow it", subnet, netip.PrefixFrom(ad, a.Prefixlen), ifc.Name)
			}
		}
	}
	out, err = b.run(ctx, b.ip, "-j", "-4", "route", "show", "table", "main")
	if err != nil {
		return err
	}
	var routes []struct {
		Dst string `json:"dst"`
		Dev string `json:"dev"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		return fmt.Errorf("parse ip -j route show: %w", err)
	}
	for _, r := range routes {
		if r.Dst == "default" || r.Dev == self {
			continue
		}
		pf, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			ad, err := netip.ParseAddr(r.Dst)
			if err != nil {
				continue
			}
			pf = netip.PrefixFrom(ad, 32)
		}
		if pf.Overlaps(subnet) {
			return fmt.Errorf("subnet %s overlaps host route %s dev %s; refusing to shadow it", subnet, r.Dst, r.Dev)
		}
	}
	return nil
}

// createNet creates the namespace, its veths, addresses and routes.
func (b *Backend) createNet(ctx context.Context, p *plan) error {
	steps := [][]string{
		{"netns", "add", p.ns},
		{"-n", p.ns, "link", "set", "lo", "up"},
	}
	for _, pt := range p.ports {
		// The peer is created directly inside the namespace under its
		// final name, so it never clashes with the host's eth0.
		add := []string{"link", "add", pt.Veth, "type", "veth", "peer", "name", pt.Ifname}
		if pt.MAC != "" {
			add = append(add, "address", pt.MAC)
		}
		add = append(add, "netns", p.ns)
		steps = append(steps, add,
			[]string{"link", "set", pt.Veth, "master", pt.Bridge, "up"},
			[]string{"-n", p.ns, "addr", "add", netip.PrefixFrom(pt.IP, pt.Subnet.Bits()).String(), "dev", pt.Ifname},
			[]string{"-n", p.ns, "link", "set", pt.Ifname, "up"},
			// A deleted server's address may come back with another MAC
			// (a new port): the host must not keep the old one's ARP entry.
			[]string{"neigh", "flush", "to", pt.IP.String(), "dev", pt.Bridge},
		)
	}
	if len(p.ports) > 0 {
		steps = append(steps, []string{"-n", p.ns, "route", "replace", "default", "via", p.ports[0].Gateway.String(), "dev", p.ports[0].Ifname})
	}
	for _, args := range steps {
		if _, err := b.run(ctx, b.ip, args...); err != nil {
			return err
		}
	}
	return nil
}

// teardown removes everything of a server, files included.
func (b *Backend) teardown(ctx context.Context, ns, id string) error {
	err := b.teardownNet(ctx, ns, id)
	if rerr := os.RemoveAll(b.serverDir(ns)); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}

// teardownNet kills the server's processes and removes its namespace and
// host veths, keeping its files (host key!) for a rebuild. id may be empty
// when unknown; leftover veths are then Cleanup's job.
func (b *Backend) teardownNet(ctx context.Context, ns, id string) error {
	var errs []error
	if nsExists(ns) {
		// sshd first, via its pid file, so it stops accepting sessions.
		if pid, ok := b.sshdPid(ns); ok {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		// Then whatever runs in the namespace (SSH sessions, scripts):
		// the namespace, and with it the veths, lives as long as they do.
		if err := b.killAll(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	if id != "" {
		// Deleted explicitly because namespace destruction is
		// asynchronous, and a quick restart re-creates the same names.
		vp := b.vethPrefix(id)
		if ifs, err := net.Interfaces(); err == nil {
			for _, ifc := range ifs {
				if strings.HasPrefix(ifc.Name, vp) && len(ifc.Name) == len(vp)+2 {
					if _, err := b.run(ctx, b.ip, "link", "del", ifc.Name); err != nil && b.linkExists(ctx, ifc.Name) {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	if nsExists(ns) {
		if _, err := b.run(ctx, b.ip, "netns", "del", ns); err != nil && nsExists(ns) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killAll SIGKILLs every process in namespace ns and waits until none is
// left (bounded).
func (b *Backend) killAll(ctx context.Context, ns string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := b.run(ctx, b.ip, "netns", "pids", ns)
		if err != nil {
			return err
		}
		pids := strings.Fields(out)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in netns %s survive SIGKILL", pids, ns)
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

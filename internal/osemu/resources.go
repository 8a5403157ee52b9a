package osemu

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

type flavor struct {
	ID    string
	Name  string
	VCPUs int
	RAM   int // MiB
	Disk  int // GiB
}

var novaFlavorList = []flavor{
	{"1", "m1.tiny", 1, 512, 1},
	{"2", "m1.small", 1, 2048, 20},
	{"3", "m1.medium", 2, 4096, 40},
	{"4", "m1.large", 4, 8192, 80},
	{"5", "m1.xlarge", 8, 16384, 160},
}

func findFlavor(ref string) (flavor, bool) {
	for _, f := range novaFlavorList {
		if f.ID == ref || f.Name == ref {
			return f, true
		}
	}
	return flavor{}, false
}

func toInt(v any, def int) int {
	switch t := v.(type) {
	case float64:
		return int(t)
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil {
			return n
		}
	}
	return def
}

func gatewayOf(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return ""
	}
	return p.Masked().Addr().Next().String()
}

// findNetworkLocked finds a network by id or (unique enough) name.
func (e *Emulator) findNetworkLocked(ref string) *network {
	if n, ok := e.st.Networks[ref]; ok {
		return n
	}
	var found *network
	for _, n := range e.st.Networks {
		if n.Name == ref && (found == nil || n.Created.Before(found.Created)) {
			found = n
		}
	}
	return found
}

func (e *Emulator) findSubnetLocked(ref string) *subnet {
	return findByRef(e.st.Subnets, ref, func(s *subnet) string { return s.Name })
}

func (e *Emulator) findPortLocked(ref string) *port {
	return findByRef(e.st.Ports, ref, func(p *port) string { return p.Name })
}

// findByRef looks ref up as an id, then as a name.
func findByRef[T any](byID map[string]*T, ref string, name func(*T) string) *T {
	if x, ok := byID[ref]; ok {
		return x
	}
	for _, x := range byID {
		if name(x) == ref {
			return x
		}
	}
	return nil
}

// allocIPLocked returns want (if free and inside the subnet) or the next free
// address from .10 up.
func (e *Emulator) allocIPLocked(sn *subnet, want string) (string, error) {
	pfx, err := netip.ParsePrefix(sn.CIDR)
	if err != nil || !pfx.Addr().Is4() {
		return "", fmt.Errorf("subnet %s has an unusable CIDR %q", sn.ID, sn.CIDR)
	}
	pfx = pfx.Masked()
	used := map[string]bool{sn.Gateway: true}
	for _, p := range e.st.Ports {
		for _, f := range p.FixedIPs {
			if f.SubnetID == sn.ID {
				used[f.IP] = true
			}
		}
	}
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !pfx.Contains(a) {
			return "", fmt.Errorf("IP address %s is not a valid IP for the specified subnet", want)
		}
		if used[want] {
			return "", fmt.Errorf("IP address %s already allocated in subnet %s", want, sn.ID)
		}
		return want, nil
	}
	size := 1 << (32 - pfx.Bits())
	start := poolStart(size)
	a := pfx.Addr()
	for i := 0; i < start; i++ {
		a = a.Next()
	}
	for i := start; i < size-1; i++ {
		if !used[a.String()] {
			return a.String(), nil
		}
		a = a.Next()
	}
	return "", fmt.Errorf("No more IP addresses available on network %s", sn.NetworkID)
}

func poolStart(size int) int {
	if size < 32 {
		return 2
	}
	return 10
}

func portName(st *stack, r *resource, props map[string]any) string {
	if n, ok := props["name"].(string); ok && n != "" {
		return n
	}
	return st.Name + "-" + r.Name + "-" + randName(12)
}

// createPortLocked creates a Neutron port from Heat-style properties.
func (e *Emulator) createPortLocked(name string, props map[string]any) (*port, error) {
	ref := scalarString(props["network"])
	if ref == "" {
		ref = scalarString(props["network_id"])
	}
	n := e.findNetworkLocked(ref)
	if n == nil {
		return nil, fmt.Errorf("Unable to find network with name or id '%s'", ref)
	}
	p := &port{ID: newUUID(), Name: name, NetworkID: n.ID, MAC: randMAC(), FixedIPs: []fixedIP{}, Created: time.Now().UTC()}
	if mac, ok := props["mac_address"].(string); ok && mac != "" {
		p.MAC = mac
	}
	fips, _ := props["fixed_ips"].([]any)
	for _, x := range fips {
		m, _ := x.(map[string]any)
		sref := scalarString(m["subnet"])
		if sref == "" {
			sref = scalarString(m["subnet_id"])
		}
		want := scalarString(m["ip_address"])
		var sn *subnet
		if sref != "" {
			sn = e.findSubnetLocked(sref)
			if sn == nil || sn.NetworkID != n.ID {
				return nil, fmt.Errorf("Unable to find subnet with name or id '%s' on network %s", sref, n.ID)
			}
		} else {
			sn = e.subnetForIPLocked(n, want)
		}
		if sn == nil {
			return nil, fmt.Errorf("no subnet of network %s fits fixed_ip %v", n.ID, m)
		}
		ip, err := e.allocIPLocked(sn, want)
		if err != nil {
			return nil, err
		}
		p.FixedIPs = append(p.FixedIPs, fixedIP{SubnetID: sn.ID, IP: ip})
	}
	if len(fips) == 0 && len(n.SubnetIDs) > 0 {
		sn := e.st.Subnets[n.SubnetIDs[0]]
		if sn != nil {
			ip, err := e.allocIPLocked(sn, "")
			if err != nil {
				return nil, err
			}
			p.FixedIPs = append(p.FixedIPs, fixedIP{SubnetID: sn.ID, IP: ip})
		}
	}
	e.st.Ports[p.ID] = p
	return p, nil
}

func (e *Emulator) subnetForIPLocked(n *network, ip string) *subnet {
	for _, sid := range n.SubnetIDs {
		sn := e.st.Subnets[sid]
		if sn == nil {
			continue
		}
		if ip == "" {
			return sn
		}
		pfx, err1 := netip.ParsePrefix(sn.CIDR)
		a, err2 := netip.ParseAddr(ip)
		if err1 == nil && err2 == nil && pfx.Contains(a) {
			return sn
		}
	}
	return nil
}

func (e *Emulator) deletePortLocked(id string) {
	p := e.st.Ports[id]
	if p == nil {
		return
	}
	if s := e.st.Servers[p.DeviceID]; s != nil {
		s.PortIDs = removeString(s.PortIDs, id)
	}
	delete(e.st.Ports, id)
}

func (e *Emulator) createSubnetLocked(st *stack, r *resource, props map[string]any) (*subnet, error) {
	ref := scalarString(props["network"])
	if ref == "" {
		ref = scalarString(props["network_id"])
	}
	n := e.findNetworkLocked(ref)
	if n == nil {
		return nil, fmt.Errorf("Unable to find network with name or id '%s'", ref)
	}
	cidr := scalarString(props["cidr"])
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || !pfx.Addr().Is4() {
		return nil, fmt.Errorf("Invalid input for cidr. Reason: '%s' is not a valid IPv4 CIDR", cidr)
	}
	name, _ := props["name"].(string)
	if name == "" {
		name = st.Name + "-" + r.Name + "-" + randName(12)
	}
	sn := &subnet{ID: newUUID(), Name: name, NetworkID: n.ID, CIDR: pfx.Masked().String(), Created: time.Now().UTC()}
	sn.Gateway = gatewayOf(sn.CIDR)
	if g, ok := props["gateway_ip"].(string); ok && g != "" {
		sn.Gateway = g
	}
	e.st.Subnets[sn.ID] = sn
	n.SubnetIDs = append(n.SubnetIDs, sn.ID)
	return sn, nil
}

// createServerLocked validates and records a Nova server in BUILD.
func (e *Emulator) createServerLocked(st *stack, r *resource, props map[string]any) (string, error) {
	fref := scalarString(props["flavor"])
	fl, ok := findFlavor(fref)
	if !ok {
		return "", leafFailure(r.Name, "NotFound", "Flavor %s could not be found.", fref)
	}
	key := scalarString(props["key_name"])
	if key != "" && e.st.Keypairs[key] == nil {
		return "", leafFailure(r.Name, "NotFound", "The Key (%s) could not be found.", key)
	}
	now := time.Now().UTC()
	name, _ := props["name"].(string)
	if name == "" {
		name = st.Name + "-" + r.Name + "-" + randName(12)
	}
	s := &server{
		ID: newUUID(), Name: name, Status: "BUILD", ReadyAt: time.Now().Add(e.cfg.ActionDelay),
		FlavorID: fl.ID, Image: scalarString(props["image"]), KeyName: key,
		UserData: scalarString(props["user_data"]), Metadata: stringMap(props["metadata"]),
		PortIDs: []string{}, Created: now, Updated: now,
	}
	var made []string
	cleanup := func() {
		for _, id := range made {
			delete(e.st.Ports, id)
		}
	}
	nets, _ := props["networks"].([]any)
	for _, x := range nets {
		m, _ := x.(map[string]any)
		if pref := scalarString(m["port"]); pref != "" {
			p := e.findPortLocked(pref)
			if p == nil {
				cleanup()
				return "", leafFailure(r.Name, "NotFound", "Port %s could not be found.", pref)
			}
			if p.DeviceID != "" && e.st.Servers[p.DeviceID] != nil {
				cleanup()
				return "", leafFailure(r.Name, "Conflict", "Port %s is still in use.", p.ID)
			}
			s.PortIDs = append(s.PortIDs, p.ID)
			continue
		}
		nref := scalarString(m["network"])
		if nref == "" {
			nref = scalarString(m["uuid"])
		}
		p, err := e.createPortLocked("", map[string]any{"network": nref, "fixed_ips": fixedIPProp(m["fixed_ip"])})
		if err != nil {
			cleanup()
			return "", leafFailure(r.Name, "BadRequest", "%v", err)
		}
		p.Implicit = true
		made = append(made, p.ID)
		s.PortIDs = append(s.PortIDs, p.ID)
	}
	for _, pid := range s.PortIDs {
		p := e.st.Ports[pid]
		p.DeviceID = s.ID
	}
	e.st.Servers[s.ID] = s
	r.PhysicalID = s.ID
	e.changed()
	return s.ID, nil
}

func fixedIPProp(v any) any {
	ip := scalarString(v)
	if ip == "" {
		return nil
	}
	return []any{map[string]any{"ip_address": ip}}
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = scalarString(x)
	}
	return out
}

// startAndWaitServer hands the server to the backend and waits until Nova
// reports it ACTIVE (or ERROR, which fails the resource).
func (e *Emulator) startAndWaitServer(ac *actx, resName, id string) error {
	e.mu.Lock()
	s := e.st.Servers[id]
	if s == nil {
		e.mu.Unlock()
		return leafFailure(resName, "NotFound", "Instance %s could not be found.", id)
	}
	spec := e.serverSpecLocked(s)
	e.mu.Unlock()
	if err := e.backend.Start(ac.ctx, spec); err != nil {
		if ac.ctx.Err() != nil {
			return ac.ctx.Err()
		}
		e.mu.Lock()
		if s := e.st.Servers[id]; s != nil {
			s.Status, s.FaultReason = "ERROR", err.Error()
		}
		e.mu.Unlock()
		return leafFailure(resName, "ResourceInError", "Went to status ERROR due to \"Message: %v, Code: 500\"", err)
	}
	poll := min(max(e.cfg.ActionDelay/4, time.Millisecond), 25*time.Millisecond)
	for {
		e.mu.Lock()
		s := e.st.Servers[id]
		status := ""
		if s != nil {
			status = s.effectiveStatus(time.Now())
		}
		e.mu.Unlock()
		switch status {
		case "":
			return leafFailure(resName, "NotFound", "Instance %s could not be found.", id)
		case "ACTIVE":
			return nil
		case "ERROR":
			return leafFailure(resName, "ResourceInError", serverErrorReasonFmt, "ERROR")
		case "BUILD":
		default:
			return leafFailure(resName, "ResourceUnknownStatus", "Server is not active - Unknown status %s due to \"Unknown\"", status)
		}
		if err := e.sleep(ac.ctx, poll); err != nil {
			return err
		}
	}
}

func (e *Emulator) updateServerLocked(r *resource, props map[string]any) error {
	s := e.st.Servers[r.PhysicalID]
	if s == nil {
		return leafFailure(r.Name, "NotFound", "Instance %s could not be found.", r.PhysicalID)
	}
	fref := scalarString(props["flavor"])
	fl, ok := findFlavor(fref)
	if !ok {
		return leafFailure(r.Name, "NotFound", "Flavor %s could not be found.", fref)
	}
	s.FlavorID = fl.ID
	if n, ok := props["name"].(string); ok && n != "" {
		s.Name = n
	}
	s.Metadata = stringMap(props["metadata"])
	if s.Status == "ERROR" || s.Status == "SHUTOFF" {
		s.Status = "ACTIVE"
	}
	s.Updated = time.Now().UTC()
	return nil
}

// deleteServerLocked removes a server; its own (implicit) ports die with it,
// Heat-managed ports are only detached.
func (e *Emulator) deleteServerLocked(id string) {
	s := e.st.Servers[id]
	if s == nil {
		return
	}
	for _, pid := range s.PortIDs {
		p := e.st.Ports[pid]
		if p == nil {
			continue
		}
		if p.Implicit {
			delete(e.st.Ports, pid)
		} else if p.DeviceID == id {
			p.DeviceID = ""
		}
	}
	delete(e.st.Servers, id)
}

func (e *Emulator) serverSpecLocked(s *server) ServerSpec {
	spec := ServerSpec{ID: s.ID, Name: s.Name, UserData: s.UserData}
	for _, pid := range s.PortIDs {
		p := e.st.Ports[pid]
		if p == nil {
			continue
		}
		ps := PortSpec{ID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC}
		if n := e.st.Networks[p.NetworkID]; n != nil {
			ps.NetworkName = n.Name
		}
		if len(p.FixedIPs) > 0 {
			ps.IP = p.FixedIPs[0].IP
			if sn := e.st.Subnets[p.FixedIPs[0].SubnetID]; sn != nil {
				ps.CIDR, ps.Gateway = sn.CIDR, sn.Gateway
			}
		}
		spec.Ports = append(spec.Ports, ps)
	}
	if kp := e.st.Keypairs[s.KeyName]; kp != nil {
		spec.AuthorizedKeys = []string{kp.PublicKey}
	}
	return spec
}

// serverAddressesLocked is Nova's addresses map: network name → IPs.
func (e *Emulator) serverAddressesLocked(s *server) map[string]any {
	out := map[string]any{}
	for _, pid := range s.PortIDs {
		p := e.st.Ports[pid]
		if p == nil {
			continue
		}
		name := p.NetworkID
		if n := e.st.Networks[p.NetworkID]; n != nil {
			name = n.Name
		}
		list, _ := out[name].([]any)
		for _, f := range p.FixedIPs {
			list = append(list, map[string]any{
				"addr": f.IP, "version": 4, "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.MAC, "port": p.ID,
			})
		}
		out[name] = list
	}
	return out
}

// --- groups ---

type memberInfo struct {
	name    string
	failed  bool
	created time.Time
	phys    string
}

// membersLocked lists a group's members oldest first (Heat's order).
func membersLocked(child *stack) []memberInfo {
	var ms []memberInfo
	for n, r := range child.Resources {
		ms = append(ms, memberInfo{name: n, failed: r.Status == "FAILED", created: r.Created.Truncate(time.Second), phys: r.PhysicalID})
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].created.Equal(ms[j].created) {
			return ms[i].created.Before(ms[j].created)
		}
		return ms[i].name < ms[j].name
	})
	return ms
}

// asgTemplateLocked builds the nested template of an AutoScalingGroup: the
// current members, shrunk (failed first, then oldest) or grown (random names).
func (e *Emulator) asgTemplateLocked(r *resource, props map[string]any) (map[string]any, error) {
	def, _ := props["resource"].(map[string]any)
	typ, _ := def["type"].(string)
	if typ == "" {
		return nil, leafFailure(r.Name, "StackValidationFailed", "Property resource.type is required")
	}
	minS := toInt(props["min_size"], 0)
	maxS := toInt(props["max_size"], -1)
	want := toInt(props["desired_capacity"], minS)
	if want < minS {
		want = minS
	}
	if maxS >= 0 && want > maxS {
		want = maxS
	}
	var members []string
	if child := e.st.Stacks[r.NestedID]; child != nil {
		ms := membersLocked(child)
		if drop := len(ms) - want; drop > 0 {
			sort.SliceStable(ms, func(i, j int) bool { return ms[i].failed && !ms[j].failed })
			ms = ms[drop:]
		}
		for _, m := range ms {
			members = append(members, m.name)
		}
	}
	for len(members) < want {
		members = append(members, randName(12))
	}
	res := map[string]any{}
	for _, m := range members {
		res[m] = map[string]any{"type": typ, "properties": jsonClone(def["properties"])}
	}
	return map[string]any{"heat_template_version": "2016-10-14", "resources": res}, nil
}

func rgTemplate(r *resource, props map[string]any) (map[string]any, error) {
	def, _ := props["resource_def"].(map[string]any)
	typ, _ := def["type"].(string)
	if typ == "" {
		return nil, leafFailure(r.Name, "StackValidationFailed", "Property resource_def.type is required")
	}
	count := toInt(props["count"], 1)
	if count < 0 || count > 1000 {
		return nil, leafFailure(r.Name, "StackValidationFailed", "Property count %d is out of range", count)
	}
	res := map[string]any{}
	for i := 0; i < count; i++ {
		idx := strconv.Itoa(i)
		res[idx] = map[string]any{"type": typ, "properties": replaceIndex(jsonClone(def["properties"]), idx)}
	}
	return map[string]any{"heat_template_version": "2016-10-14", "resources": res}, nil
}

func replaceIndex(v any, idx string) any {
	switch t := v.(type) {
	case string:
		return strings.ReplaceAll(t, "%index%", idx)
	case map[string]any:
		for k, x := range t {
			t[k] = replaceIndex(x, idx)
		}
	case []any:
		for i, x := range t {
			t[i] = replaceIndex(x, idx)
		}
	}
	return v
}

// --- attributes ---

var errNoAttr = errors.New("attribute not available")

// attrLocked resolves get_attr path (attribute name first) on r.
func (e *Emulator) attrLocked(st *stack, r *resource, path []any, depth int) (any, error) {
	if depth > 16 || len(path) == 0 {
		return nil, nil
	}
	attr := scalarString(path[0])
	rest := path[1:]
	typ := builtinType(r.Type, st.Registry)
	if r.NestedID != "" {
		child := e.st.Stacks[r.NestedID]
		if child == nil {
			return nil, nil
		}
		switch typ {
		case "OS::Heat::AutoScalingGroup", "OS::Heat::ResourceGroup":
			return e.groupAttrLocked(child, typ, attr, rest, depth)
		}
		if attr == "OS::stack_id" {
			return child.ID, nil
		}
		v, err := e.outputLocked(child, attr, depth+1)
		if err != nil {
			return nil, err
		}
		return walkPath(v, rest)
	}
	var v any
	switch typ {
	case "OS::Nova::Server":
		s := e.st.Servers[r.PhysicalID]
		if s == nil {
			return nil, nil
		}
		addrs := e.serverAddressesLocked(s)
		switch attr {
		case "first_address", "accessIPv4":
			v = ""
			for _, pid := range s.PortIDs {
				if p := e.st.Ports[pid]; p != nil && len(p.FixedIPs) > 0 {
					v = p.FixedIPs[0].IP
					break
				}
			}
		case "networks":
			nets := map[string]any{}
			for n, l := range addrs {
				var ips []any
				for _, a := range l.([]any) {
					ips = append(ips, a.(map[string]any)["addr"])
				}
				nets[n] = ips
			}
			v = nets
		case "addresses":
			v = addrs
		case "name":
			v = s.Name
		case "show":
			v = e.serverJSONLocked(s, st.BaseURL)
		case "instance_name":
			v = "instance-" + s.ID[:8]
		}
	case "OS::Neutron::Port":
		p := e.st.Ports[r.PhysicalID]
		if p == nil {
			return nil, nil
		}
		pj := e.portJSONLocked(p)
		switch attr {
		case "show":
			v = pj
		case "subnets":
			var sns []any
			for _, f := range p.FixedIPs {
				sns = append(sns, f.SubnetID)
			}
			v = sns
		default:
			v = pj[attr]
		}
	case "OS::Neutron::Net":
		if n := e.st.Networks[r.PhysicalID]; n != nil {
			nj := networkJSON(n, e.st.ProjectID)
			if attr == "show" {
				v = nj
			} else {
				v = nj[attr]
			}
		}
	case "OS::Neutron::Subnet":
		if sn := e.st.Subnets[r.PhysicalID]; sn != nil {
			sj := subnetJSON(sn, e.st.ProjectID)
			if attr == "show" {
				v = sj
			} else {
				v = sj[attr]
			}
		}
	case "OS::Heat::ScalingPolicy":
		switch attr {
		case "signal_url", "alarm_url":
			v = fmt.Sprintf("%s/heat-api/v1/%s/stacks/%s/%s/resources/%s/signal", st.BaseURL, e.st.ProjectID, st.Name, st.ID, r.Name)
		}
	default:
		if attr == "show" {
			v = r.Props
		} else {
			v = r.Props[attr]
		}
	}
	return walkPath(jsonClone(v), rest)
}

func (e *Emulator) groupAttrLocked(child *stack, typ, attr string, rest []any, depth int) (any, error) {
	ms := membersLocked(child)
	if typ == "OS::Heat::ResourceGroup" {
		sort.Slice(ms, func(i, j int) bool { return toInt(ms[i].name, 0) < toInt(ms[j].name, 0) })
	}
	memberAttr := func(m memberInfo, path []any) (any, error) {
		r := child.Resources[m.name]
		if r == nil {
			return nil, nil
		}
		return e.attrLocked(child, r, path, depth+1)
	}
	switch attr {
	case "current_size":
		return float64(len(ms)), nil
	case "refs":
		out := []any{}
		for _, m := range ms {
			out = append(out, m.phys)
		}
		return walkPath(out, rest)
	case "refs_map":
		out := map[string]any{}
		for _, m := range ms {
			out[m.name] = m.phys
		}
		return walkPath(out, rest)
	case "outputs_list", "outputs":
		if len(rest) == 0 {
			return nil, badTemplate("%s requires an output name", attr)
		}
		list, byName := []any{}, map[string]any{}
		for _, m := range ms {
			v, err := memberAttr(m, rest)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			byName[m.name] = v
		}
		if attr == "outputs" {
			return byName, nil
		}
		return list, nil
	}
	if strings.HasPrefix(attr, "resource.") {
		parts := strings.SplitN(strings.TrimPrefix(attr, "resource."), ".", 2)
		r := child.Resources[parts[0]]
		if r == nil {
			return nil, nil
		}
		path := rest
		if len(parts) == 2 {
			path = append([]any{parts[1]}, rest...)
		}
		if len(path) == 0 {
			return r.PhysicalID, nil
		}
		return e.attrLocked(child, r, path, depth+1)
	}
	// Any other attribute of a ResourceGroup is the list of the members'.
	out := []any{}
	for _, m := range ms {
		v, err := memberAttr(m, append([]any{attr}, rest...))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// outputLocked evaluates one output of st.
func (e *Emulator) outputLocked(st *stack, key string, depth int) (any, error) {
	outs, _ := st.Template["outputs"].(map[string]any)
	o, ok := outs[key].(map[string]any)
	if !ok {
		return nil, nil
	}
	ev := e.evaluatorLocked(st)
	ev.attr = func(name string, path []any) (any, error) {
		r, ok := st.Resources[name]
		if !ok {
			return nil, badTemplate("The specified resource %q for get_attr is incorrect.", name)
		}
		return e.attrLocked(st, r, path, depth+1)
	}
	return ev.eval(o["value"], 0)
}

package osemu

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"time"
)

func networkJSON(n *network, pid string) map[string]any {
	subs := append([]string{}, n.SubnetIDs...)
	return map[string]any{
		"id": n.ID, "name": n.Name, "status": "ACTIVE", "admin_state_up": true,
		"subnets": subs, "shared": n.Shared, "router:external": n.External,
		"tenant_id": pid, "project_id": pid, "mtu": 1450, "description": "",
		"created_at": n.Created.Format(heatTime), "updated_at": n.Created.Format(heatTime),
		"availability_zones": []string{"nova"}, "port_security_enabled": true, "tags": []string{},
	}
}

func subnetJSON(s *subnet, pid string) map[string]any {
	var gw any
	if s.Gateway != "" {
		gw = s.Gateway
	}
	pools := []any{}
	if lo, hi, ok := poolOf(s.CIDR); ok {
		pools = append(pools, map[string]any{"start": lo, "end": hi})
	}
	return map[string]any{
		"id": s.ID, "name": s.Name, "network_id": s.NetworkID, "cidr": s.CIDR, "gateway_ip": gw,
		"ip_version": 4, "enable_dhcp": true, "allocation_pools": pools, "dns_nameservers": []string{},
		"host_routes": []any{}, "tenant_id": pid, "project_id": pid, "description": "",
		"created_at": s.Created.Format(heatTime), "updated_at": s.Created.Format(heatTime), "tags": []string{},
	}
}

func (e *Emulator) portJSONLocked(p *port) map[string]any {
	fips := []any{}
	for _, f := range p.FixedIPs {
		fips = append(fips, map[string]any{"subnet_id": f.SubnetID, "ip_address": f.IP})
	}
	status, owner := "DOWN", ""
	if s := e.st.Servers[p.DeviceID]; s != nil {
		owner = "compute:nova"
		if s.effectiveStatus(time.Now()) == "ACTIVE" {
			status = "ACTIVE"
		}
	}
	return map[string]any{
		"id": p.ID, "name": p.Name, "network_id": p.NetworkID, "mac_address": p.MAC, "fixed_ips": fips,
		"device_id": p.DeviceID, "device_owner": owner, "status": status, "admin_state_up": true,
		"tenant_id": e.st.ProjectID, "project_id": e.st.ProjectID, "security_groups": []string{},
		"allowed_address_pairs": []any{}, "description": "", "port_security_enabled": true,
		"binding:vnic_type": "normal", "created_at": p.Created.Format(heatTime), "updated_at": p.Created.Format(heatTime),
		"tags": []string{},
	}
}

func (e *Emulator) serveNeutron(w http.ResponseWriter, r *http.Request) {
	seg := splitPath(r.URL.Path, "/networking")
	base := e.baseURL(r)
	if len(seg) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
			"id": "v2.0", "status": "CURRENT", "links": []any{map[string]any{"rel": "self", "href": base + "/networking/v2.0/"}},
		}}})
		return
	}
	if seg[0] != "v2.0" || len(seg) < 2 || len(seg) > 3 || r.Method != http.MethodGet {
		writeNeutronError(w, http.StatusNotFound, "HTTPNotFound", "The resource could not be found.")
		return
	}
	kind := seg[1]
	e.mu.Lock()
	var objs []map[string]any
	pid := e.st.ProjectID
	switch kind {
	case "networks":
		for _, n := range e.st.Networks {
			objs = append(objs, networkJSON(n, pid))
		}
	case "subnets":
		for _, s := range e.st.Subnets {
			objs = append(objs, subnetJSON(s, pid))
		}
	case "ports":
		for _, p := range e.st.Ports {
			objs = append(objs, e.portJSONLocked(p))
		}
	default:
		e.mu.Unlock()
		writeNeutronError(w, http.StatusNotFound, "HTTPNotFound", "The resource could not be found.")
		return
	}
	e.mu.Unlock()
	single := map[string]string{"networks": "network", "subnets": "subnet", "ports": "port"}[kind]
	if len(seg) == 3 {
		for _, o := range objs {
			if o["id"] == seg[2] {
				writeJSON(w, http.StatusOK, map[string]any{single: o})
				return
			}
		}
		typ := map[string]string{"networks": "NetworkNotFound", "subnets": "SubnetNotFound", "ports": "PortNotFound"}[kind]
		writeNeutronError(w, http.StatusNotFound, typ, fmt.Sprintf("%s %s could not be found.", map[string]string{"networks": "Network", "subnets": "Subnet", "ports": "Port"}[kind], seg[2]))
		return
	}
	out := []any{}
	q := r.URL.Query()
	sort.Slice(objs, func(i, j int) bool { return objs[i]["id"].(string) < objs[j]["id"].(string) })
	for _, o := range objs {
		if matchesQuery(o, q) {
			out = append(out, o)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{kind: out})
}

// matchesQuery applies Neutron's equality filters on top-level fields.
func matchesQuery(o map[string]any, q url.Values) bool {
	for k, vs := range q {
		switch k {
		case "limit", "marker", "sort_key", "sort_dir", "fields", "page_reverse":
			continue
		}
		v, ok := o[k]
		if !ok {
			continue
		}
		match := false
		for _, want := range vs {
			if scalarString(v) == want {
				match = true
			}
		}
		if !match {
			return false
		}
	}
	return true
}

// poolOf is the range the emulator allocates from: .10 (or .2 in small
// subnets) up to the last host address.
func poolOf(cidr string) (string, string, bool) {
	pfx, err := netip.ParsePrefix(cidr)
	if err != nil || !pfx.Addr().Is4() || pfx.Bits() > 30 {
		return "", "", false
	}
	pfx = pfx.Masked()
	size := 1 << (32 - pfx.Bits())
	start := poolStart(size)
	a := pfx.Addr()
	var lo netip.Addr
	for i := 0; i < size-1; i++ {
		if i == start {
			lo = a
		}
		a = a.Next()
	}
	return lo.String(), a.Prev().String(), true
}

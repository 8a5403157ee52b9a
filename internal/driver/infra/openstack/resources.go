package openstack

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

const (
	typeServer = "OS::Nova::Server"
	typePort   = "OS::Neutron::Port"
	typeNet    = "OS::Neutron::Net"
	typeVolume = "OS::Cinder::Volume"
)

// res is a Heat resource placed in the stack tree.
type res struct {
	stackresources.Resource
	stackID, stackName string
	nestedID           string
}

// topo is a stack's resources, nested stacks included.
type topo struct {
	topID string
	all   []*res
	owner map[string]*res   // nested stack id -> the resource owning it
	names map[string]string // stack id -> stack name
}

func newTopo(top *stack, list []stackresources.Resource) *topo {
	t := &topo{topID: top.ID, owner: map[string]*res{}, names: map[string]string{top.ID: top.Name}}
	for _, r := range list {
		x := &res{Resource: r}
		x.stackID, x.stackName = linkStack(r, "stack")
		if x.stackID == "" {
			x.stackID, x.stackName = top.ID, top.Name
		}
		t.names[x.stackID] = x.stackName
		var nestedName string
		x.nestedID, nestedName = linkStack(r, "nested")
		if x.nestedID != "" {
			t.owner[x.nestedID] = x
			t.names[x.nestedID] = nestedName
		}
		t.all = append(t.all, x)
	}
	return t
}

func isGroup(typ string) bool {
	return typ == "OS::Heat::AutoScalingGroup" || typ == "OS::Heat::ResourceGroup"
}

// parent is the resource owning r's stack (nil in the top stack).
func (t *topo) parent(r *res) *res { return t.owner[r.stackID] }

// member is the scaling group member holding a server: the server itself
// when it sits directly in the group's stack, else the nested-template
// resource (in the group's stack) whose stack holds the server. Nil when
// the server is in no group.
func (t *topo) member(srv *res) *res {
	p := t.parent(srv)
	if p == nil {
		return nil
	}
	if isGroup(p.Type) {
		return srv
	}
	if g := t.parent(p); g != nil && isGroup(g.Type) {
		return p
	}
	return nil
}

func (t *topo) find(stackID, name string) *res {
	for _, r := range t.all {
		if r.stackID == stackID && r.Name == name {
			return r
		}
	}
	return nil
}

func (t *topo) servers() []*res {
	var out []*res
	for _, r := range t.all {
		if r.Type == typeServer && r.PhysicalID != "" {
			out = append(out, r)
		}
	}
	return out
}

// createdAt is when a VNFC came to be: its group member's creation (which
// heal does not change), else the server's.
func (t *topo) createdAt(srv *res) time.Time {
	if m := t.member(srv); m != nil && !m.CreationTime.IsZero() {
		return m.CreationTime
	}
	return srv.CreationTime
}

func key(stackID, name string) string { return stackID + "/" + name }

func metaString(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// buildInfo reads the VNF's resources off the stack tree. VNFC, VL and
// storage ids are stable: a resource found at the same (stack id, resource
// name) as an entry of prev keeps that entry's id. With a flavour, only
// servers, networks and volumes named after a VDU, VL or storage of the
// VNFD are reported (other resources of the HOT are not VNF resources the
// API could describe: vduId and descriptor ids must be VNFD ids).
func buildInfo(t *topo, portInfo map[string]*ports.Port, f *vnfd.Flavour, prev *model.InstantiatedVnfInfo, vimID string) *model.InstantiatedVnfInfo {
	out := &model.InstantiatedVnfInfo{}
	if prev != nil {
		out.FlavourID, out.VnfState = prev.FlavourID, prev.VnfState
		out.ScaleStatus = append([]model.ScaleInfo(nil), prev.ScaleStatus...)
		out.ExtCpInfo = prev.ExtCpInfo
		out.ExtVirtualLinkInfo = prev.ExtVirtualLinkInfo
		out.ExtManagedVirtualLinkInfo = prev.ExtManagedVirtualLinkInfo
		out.MonitoringParameters = prev.MonitoringParameters
		out.LocalizationLanguage = prev.LocalizationLanguage
	}
	prevVnfc, prevVL, prevSt := map[string]string{}, map[string]string{}, map[string]string{}
	if prev != nil {
		for _, v := range prev.VnfcResourceInfo {
			prevVnfc[key(metaString(v.Metadata, "stackId"), v.VduID)] = v.ID
		}
		for _, v := range prev.VirtualLinkResourceInfo {
			prevVL[key(metaString(v.Metadata, "stackId"), v.VnfVirtualLinkDescID)] = v.ID
		}
		for _, v := range prev.VirtualStorageResourceInfo {
			prevSt[key(metaString(v.Metadata, "stackId"), v.VirtualStorageDescID)] = v.ID
		}
	}
	idFor := func(m map[string]string, k string) string {
		if id := m[k]; id != "" {
			return id
		}
		return uuid.NewString()
	}
	handle := func(r *res) model.ResourceHandle {
		return model.ResourceHandle{VimConnectionID: vimID, ResourceID: r.PhysicalID, VimLevelResourceType: r.Type}
	}

	// Virtual links and storages first: VNFCs refer to them.
	vlByNet := map[string]int{}
	vlByName := map[string]int{}
	storByKey := map[string]string{}
	for _, r := range t.all {
		if r.PhysicalID == "" {
			continue
		}
		switch r.Type {
		case typeNet:
			if f != nil && f.Topology.VirtualLinks[r.Name] == nil {
				continue
			}
			out.VirtualLinkResourceInfo = append(out.VirtualLinkResourceInfo, model.VirtualLinkResourceInfo{
				ID: idFor(prevVL, key(r.stackID, r.Name)), VnfVirtualLinkDescID: r.Name, NetworkResource: handle(r),
				Metadata: map[string]any{"stackId": r.stackID},
			})
		case typeVolume:
			if f != nil && f.Topology.Storages[r.Name] == nil {
				continue
			}
			id := idFor(prevSt, key(r.stackID, r.Name))
			storByKey[key(r.stackID, r.Name)] = id
			out.VirtualStorageResourceInfo = append(out.VirtualStorageResourceInfo, model.VirtualStorageResourceInfo{
				ID: id, VirtualStorageDescID: r.Name, StorageResource: handle(r),
				Metadata: map[string]any{"stackId": r.stackID},
			})
		}
	}
	sort.SliceStable(out.VirtualLinkResourceInfo, func(i, j int) bool {
		return out.VirtualLinkResourceInfo[i].VnfVirtualLinkDescID < out.VirtualLinkResourceInfo[j].VnfVirtualLinkDescID
	})
	sort.SliceStable(out.VirtualStorageResourceInfo, func(i, j int) bool {
		return out.VirtualStorageResourceInfo[i].VirtualStorageDescID < out.VirtualStorageResourceInfo[j].VirtualStorageDescID
	})
	for i, vl := range out.VirtualLinkResourceInfo {
		vlByNet[vl.NetworkResource.ResourceID] = i
		vlByName[vl.VnfVirtualLinkDescID] = i
	}

	// A CP belongs to a VDU by the VNFD's virtual_binding; without a VNFD,
	// by the Tacker naming habit <vdu>_<cp>.
	boundTo := func(port, vdu string) bool {
		if f != nil {
			cp := f.Topology.Cps[port]
			return cp != nil && cp.VirtualBinding == vdu
		}
		return strings.HasPrefix(port, vdu+"_")
	}
	type vnfcAt struct {
		v model.VnfcResourceInfo
		t time.Time
	}
	var vnfcs []vnfcAt
	for _, srv := range t.servers() {
		var vdu *vnfd.VDU
		if f != nil {
			d, ok := f.VDU(srv.Name)
			if !ok {
				continue
			}
			vdu = d
		}
		v := model.VnfcResourceInfo{
			ID: idFor(prevVnfc, key(srv.stackID, srv.Name)), VduID: srv.Name, ComputeResource: handle(srv),
			Metadata: map[string]any{"stackId": srv.stackID},
		}
		created := t.createdAt(srv)
		if !created.IsZero() {
			v.Metadata["creationTime"] = created.UTC().Format(time.RFC3339)
		}
		if p := t.parent(srv); p != nil {
			v.Metadata["parentStackId"] = p.stackID
			v.Metadata["parentResourceName"] = p.Name
		}
		for _, r := range t.all {
			if r.stackID != srv.stackID || r.PhysicalID == "" {
				continue
			}
			switch {
			case r.Type == typePort && boundTo(r.Name, srv.Name):
				cp := model.VnfcCpInfo{ID: r.PhysicalID, CpdID: r.Name}
				idx, onVL := -1, false
				if p := portInfo[r.PhysicalID]; p != nil {
					cp.CpProtocolInfo = []model.CpProtocolInfo{protocolInfo(p)}
					idx, onVL = vlByNet[p.NetworkID]
				} else if f != nil && f.Topology.Cps[r.Name] != nil {
					idx, onVL = vlByName[f.Topology.Cps[r.Name].VirtualLink]
				}
				if onVL {
					cp.VnfLinkPortID = r.PhysicalID
					vl := &out.VirtualLinkResourceInfo[idx]
					vl.VnfLinkPorts = append(vl.VnfLinkPorts, model.VnfLinkPortInfo{
						ID:             r.PhysicalID,
						ResourceHandle: model.ResourceHandle{VimConnectionID: vimID, ResourceID: r.PhysicalID, VimLevelResourceType: typePort},
						CpInstanceID:   cp.ID, CpInstanceType: "VNFC_CP",
					})
				}
				v.VnfcCpInfo = append(v.VnfcCpInfo, cp)
			case r.Type == typeVolume && vdu != nil && slices.Contains(vdu.VirtualStorages, r.Name):
				if id := storByKey[key(r.stackID, r.Name)]; id != "" {
					v.StorageResourceIDs = append(v.StorageResourceIDs, id)
				}
			}
		}
		sort.Slice(v.VnfcCpInfo, func(i, j int) bool { return v.VnfcCpInfo[i].CpdID < v.VnfcCpInfo[j].CpdID })
		sort.Strings(v.StorageResourceIDs)
		vnfcs = append(vnfcs, vnfcAt{v: v, t: created})
	}
	// Oldest first per VDU, scale-in takes from the end: VNFCs already
	// known in their known order, then new ones by creation. Heat's times
	// have one-second resolution, too coarse to order members created by
	// one update against the older ones.
	known := map[string]int{}
	if prev != nil {
		for i, v := range prev.VnfcResourceInfo {
			known[v.ID] = i
		}
	}
	sort.SliceStable(vnfcs, func(i, j int) bool {
		a, b := vnfcs[i], vnfcs[j]
		if a.v.VduID != b.v.VduID {
			return a.v.VduID < b.v.VduID
		}
		ia, oka := known[a.v.ID]
		ib, okb := known[b.v.ID]
		switch {
		case oka && okb:
			return ia < ib
		case oka != okb:
			return oka
		}
		if !a.t.Equal(b.t) {
			return a.t.Before(b.t)
		}
		return metaString(a.v.Metadata, "stackId") < metaString(b.v.Metadata, "stackId")
	})
	for _, x := range vnfcs {
		out.VnfcResourceInfo = append(out.VnfcResourceInfo, x.v)
	}
	if ext := extCps(out.VnfcResourceInfo, f); len(ext) > 0 {
		out.ExtCpInfo = ext
	}
	for i := range out.VirtualLinkResourceInfo {
		l := out.VirtualLinkResourceInfo[i].VnfLinkPorts
		sort.Slice(l, func(a, b int) bool { return l[a].ID < l[b].ID })
	}
	return out
}

// extCps lists the VNF's external CPs: the VNFC CPs the VNFD connects to
// no internal VL (they sit on the extVirtualLinks). Each takes its port's
// id, and its VNFC CP points back at it.
func extCps(vnfcs []model.VnfcResourceInfo, f *vnfd.Flavour) []json.RawMessage {
	if f == nil {
		return nil
	}
	var out []json.RawMessage
	for i := range vnfcs {
		for j := range vnfcs[i].VnfcCpInfo {
			cp := &vnfcs[i].VnfcCpInfo[j]
			d := f.Topology.Cps[cp.CpdID]
			if d == nil || d.VirtualLink != "" {
				continue
			}
			proto := cp.CpProtocolInfo
			if len(proto) == 0 {
				proto = []model.CpProtocolInfo{{LayerProtocol: "IP_OVER_ETHERNET"}}
			}
			raw, err := json.Marshal(map[string]any{
				"id": cp.ID, "cpdId": cp.CpdID, "cpProtocolInfo": proto, "associatedVnfcCpId": cp.ID,
			})
			if err != nil {
				continue
			}
			cp.VnfExtCpID = cp.ID
			out = append(out, raw)
		}
	}
	return out
}

func protocolInfo(p *ports.Port) model.CpProtocolInfo {
	ipo := &model.IPOverEthernet{MacAddress: p.MACAddress}
	for _, ip := range p.FixedIPs {
		typ := "IPV4"
		if strings.Contains(ip.IPAddress, ":") {
			typ = "IPV6"
		}
		ipo.IPAddresses = append(ipo.IPAddresses, model.IPAddressInfo{Type: typ, Addresses: []string{ip.IPAddress}, SubnetID: ip.SubnetID})
	}
	return model.CpProtocolInfo{LayerProtocol: "IP_OVER_ETHERNET", IPOverEthernet: ipo}
}

// portIDs are the ports buildInfo will describe.
func (t *topo) portIDs() []string {
	var out []string
	for _, r := range t.all {
		if r.Type == typePort && r.PhysicalID != "" {
			out = append(out, r.PhysicalID)
		}
	}
	return out
}

// diff lists what changed from old to new: VNFCs, VLs and storages by id;
// a VNFC whose server or ports changed is MODIFIED.
func diff(old, new *model.InstantiatedVnfInfo) *model.ResourceChanges {
	rc := &model.ResourceChanges{}
	if old == nil {
		old = &model.InstantiatedVnfInfo{}
	}
	if new == nil {
		new = &model.InstantiatedVnfInfo{}
	}
	oldV := map[string]model.VnfcResourceInfo{}
	for _, v := range old.VnfcResourceInfo {
		oldV[v.ID] = v
	}
	newV := map[string]bool{}
	for _, v := range new.VnfcResourceInfo {
		newV[v.ID] = true
		o, ok := oldV[v.ID]
		switch {
		case !ok:
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affectedVnfc(v, model.ChangeAdded, cpIDs(v), v.StorageResourceIDs, nil))
		case o.ComputeResource.ResourceID != v.ComputeResource.ResourceID:
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affectedVnfc(v, model.ChangeModified, cpIDs(v),
				minus(v.StorageResourceIDs, o.StorageResourceIDs), minus(o.StorageResourceIDs, v.StorageResourceIDs)))
		default:
			changedCps := append(minus(cpIDs(v), cpIDs(o)), minus(cpIDs(o), cpIDs(v))...)
			if len(changedCps) > 0 {
				rc.AffectedVnfcs = append(rc.AffectedVnfcs, affectedVnfc(v, model.ChangeModified, changedCps, nil, nil))
			}
		}
	}
	for _, v := range old.VnfcResourceInfo {
		if !newV[v.ID] {
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, affectedVnfc(v, model.ChangeRemoved, cpIDs(v), nil, v.StorageResourceIDs))
		}
	}

	oldL := map[string]model.VirtualLinkResourceInfo{}
	for _, l := range old.VirtualLinkResourceInfo {
		oldL[l.ID] = l
	}
	newL := map[string]bool{}
	for _, l := range new.VirtualLinkResourceInfo {
		newL[l.ID] = true
		if o, ok := oldL[l.ID]; !ok {
			rc.AffectedVirtualLinks = append(rc.AffectedVirtualLinks, affectedVL(l, model.ChangeAdded))
		} else if o.NetworkResource.ResourceID != l.NetworkResource.ResourceID {
			rc.AffectedVirtualLinks = append(rc.AffectedVirtualLinks, affectedVL(l, model.ChangeModified))
		}
	}
	for _, l := range old.VirtualLinkResourceInfo {
		if !newL[l.ID] {
			rc.AffectedVirtualLinks = append(rc.AffectedVirtualLinks, affectedVL(l, model.ChangeRemoved))
		}
	}

	oldS := map[string]model.VirtualStorageResourceInfo{}
	for _, s := range old.VirtualStorageResourceInfo {
		oldS[s.ID] = s
	}
	newS := map[string]bool{}
	for _, s := range new.VirtualStorageResourceInfo {
		newS[s.ID] = true
		if o, ok := oldS[s.ID]; !ok {
			rc.AffectedVirtualStorages = append(rc.AffectedVirtualStorages, affectedStorage(s, model.ChangeAdded))
		} else if o.StorageResource.ResourceID != s.StorageResource.ResourceID {
			rc.AffectedVirtualStorages = append(rc.AffectedVirtualStorages, affectedStorage(s, model.ChangeModified))
		}
	}
	for _, s := range old.VirtualStorageResourceInfo {
		if !newS[s.ID] {
			rc.AffectedVirtualStorages = append(rc.AffectedVirtualStorages, affectedStorage(s, model.ChangeRemoved))
		}
	}
	return rc
}

// removedAll is what terminating the VNF removes.
func removedAll(info *model.InstantiatedVnfInfo) *model.ResourceChanges {
	return diff(info, nil)
}

func affectedVnfc(v model.VnfcResourceInfo, ct model.ChangeType, cps, added, removed []string) model.AffectedVnfc {
	return model.AffectedVnfc{ID: v.ID, VduID: v.VduID, ChangeType: ct, ComputeResource: v.ComputeResource,
		Metadata: v.Metadata, AffectedVnfcCpIDs: cps, AddedStorageResourceIDs: added, RemovedStorageResourceIDs: removed}
}

func affectedVL(l model.VirtualLinkResourceInfo, ct model.ChangeType) model.AffectedVirtualLink {
	return model.AffectedVirtualLink{ID: l.ID, VnfVirtualLinkDescID: l.VnfVirtualLinkDescID, ChangeType: ct,
		NetworkResource: l.NetworkResource, Metadata: l.Metadata}
}

func affectedStorage(s model.VirtualStorageResourceInfo, ct model.ChangeType) model.AffectedVirtualStorage {
	return model.AffectedVirtualStorage{ID: s.ID, VirtualStorageDescID: s.VirtualStorageDescID, ChangeType: ct,
		StorageResource: s.StorageResource, Metadata: s.Metadata}
}

func cpIDs(v model.VnfcResourceInfo) []string {
	var out []string
	for _, c := range v.VnfcCpInfo {
		out = append(out, c.ID)
	}
	return out
}

// minus is a - b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

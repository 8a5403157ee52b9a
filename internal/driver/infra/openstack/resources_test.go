package openstack

import (
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
)

func rsc(name, typ, phys, stackName, stackID, nestedName, nestedID string, created time.Time) stackresources.Resource {
	r := stackresources.Resource{Name: name, Type: typ, PhysicalID: phys, Status: "CREATE_COMPLETE", CreationTime: created,
		Links: []gophercloud.Link{{Rel: "stack", Href: "http://heat/v1/p/stacks/" + stackName + "/" + stackID}}}
	if nestedID != "" {
		r.Links = append(r.Links, gophercloud.Link{Rel: "nested", Href: "http://heat/v1/p/stacks/" + nestedName + "/" + nestedID})
	}
	return r
}

// fixture: top stack with VDU2 and its ports, the internal VL, a volume,
// a helper server outside the VNFD, and the VDU1 group with two members.
func fixture() (*stack, []stackresources.Resource, map[string]*ports.Port) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	top := &stack{ID: "top", Name: "vnf-x"}
	list := []stackresources.Resource{
		rsc("VDU1_scale", "OS::Heat::AutoScalingGroup", "asg", "vnf-x", "top", "vnf-x-VDU1_scale", "asg", t0),
		rsc("VDU2", typeServer, "srv2", "vnf-x", "top", "", "", t0),
		rsc("VDU2_CP1", typePort, "p21", "vnf-x", "top", "", "", t0),
		rsc("VDU2_CP2", typePort, "p22", "vnf-x", "top", "", "", t0),
		rsc("internalVL1", typeNet, "net-int", "vnf-x", "top", "", "", t0),
		rsc("VirtualStorage", typeVolume, "vol1", "vnf-x", "top", "", "", t0),
		rsc("jump", typeServer, "srv-jump", "vnf-x", "top", "", "", t0),
		rsc("m-old", "VDU1.yaml", "mem1", "vnf-x-VDU1_scale", "asg", "vnf-x-VDU1_scale-m-old", "mem1", t0),
		rsc("m-new", "VDU1.yaml", "mem2", "vnf-x-VDU1_scale", "asg", "vnf-x-VDU1_scale-m-new", "mem2", t0.Add(time.Minute)),
		rsc("VDU1", typeServer, "srv1b", "vnf-x-VDU1_scale-m-new", "mem2", "", "", t0.Add(time.Minute)),
		rsc("VDU1_CP1", typePort, "p11b", "vnf-x-VDU1_scale-m-new", "mem2", "", "", t0.Add(time.Minute)),
		rsc("VDU1", typeServer, "srv1a", "vnf-x-VDU1_scale-m-old", "mem1", "", "", t0.Add(2*time.Minute)), // healed later
		rsc("VDU1_CP1", typePort, "p11a", "vnf-x-VDU1_scale-m-old", "mem1", "", "", t0),
		rsc("VDU1_CP2", typePort, "p12a", "vnf-x-VDU1_scale-m-old", "mem1", "", "", t0),
	}
	pi := map[string]*ports.Port{
		"p21":  {ID: "p21", NetworkID: "net0", MACAddress: "fa:16:3e:00:00:21", FixedIPs: []ports.IP{{SubnetID: "s0", IPAddress: "10.0.0.21"}}},
		"p22":  {ID: "p22", NetworkID: "net-int", MACAddress: "fa:16:3e:00:00:22", FixedIPs: []ports.IP{{SubnetID: "s1", IPAddress: "10.10.0.22"}}},
		"p12a": {ID: "p12a", NetworkID: "net-int", FixedIPs: []ports.IP{{IPAddress: "fd00::5"}}},
	}
	return top, list, pi
}

func TestBuildInfo(t *testing.T) {
	_, f := vmSimple(t)
	top, list, pi := fixture()
	tp := newTopo(top, list)
	in := buildInfo(tp, pi, f, nil, "vim1")

	require.Len(t, in.VnfcResourceInfo, 3, "the helper server is no VNFC")
	v1old, v1new, v2 := in.VnfcResourceInfo[0], in.VnfcResourceInfo[1], in.VnfcResourceInfo[2]
	assert.Equal(t, "srv1a", v1old.ComputeResource.ResourceID, "ordered by member creation, not server creation")
	assert.Equal(t, "srv1b", v1new.ComputeResource.ResourceID)
	assert.Equal(t, "VDU2", v2.VduID)
	assert.Equal(t, model.ResourceHandle{VimConnectionID: "vim1", ResourceID: "srv1a", VimLevelResourceType: typeServer}, v1old.ComputeResource)
	assert.Equal(t, map[string]any{"stackId": "mem1", "parentStackId": "asg", "parentResourceName": "m-old", "creationTime": "2025-01-01T00:00:00Z"}, v1old.Metadata)
	assert.Equal(t, map[string]any{"stackId": "top", "creationTime": "2025-01-01T00:00:00Z"}, v2.Metadata)

	require.Len(t, v2.VnfcCpInfo, 2)
	assert.Equal(t, "VDU2_CP1", v2.VnfcCpInfo[0].CpdID)
	assert.Equal(t, &model.IPOverEthernet{MacAddress: "fa:16:3e:00:00:21", IPAddresses: []model.IPAddressInfo{{Type: "IPV4", Addresses: []string{"10.0.0.21"}, SubnetID: "s0"}}},
		v2.VnfcCpInfo[0].CpProtocolInfo[0].IPOverEthernet)
	assert.Empty(t, v2.VnfcCpInfo[0].VnfLinkPortID, "external CP")
	assert.Equal(t, "p22", v2.VnfcCpInfo[1].VnfLinkPortID)
	assert.Equal(t, "IPV6", v1old.VnfcCpInfo[1].CpProtocolInfo[0].IPOverEthernet.IPAddresses[0].Type)

	require.Len(t, in.VirtualLinkResourceInfo, 1)
	vl := in.VirtualLinkResourceInfo[0]
	assert.Equal(t, "internalVL1", vl.VnfVirtualLinkDescID)
	assert.Equal(t, "net-int", vl.NetworkResource.ResourceID)
	require.Len(t, vl.VnfLinkPorts, 2)
	assert.Equal(t, "p12a", vl.VnfLinkPorts[0].ID)
	assert.Equal(t, "p12a", vl.VnfLinkPorts[0].CpInstanceID)

	require.Len(t, in.VirtualStorageResourceInfo, 1)
	assert.Equal(t, []string{in.VirtualStorageResourceInfo[0].ID}, v2.StorageResourceIDs)

	// Ids are stable across reads; the new read's changes show.
	list[1].PhysicalID = "srv2-healed"
	again := buildInfo(newTopo(top, list[:len(list)-3]), pi, f, in, "vim1") // the old member is gone
	require.Len(t, again.VnfcResourceInfo, 2)
	assert.Equal(t, v1new.ID, again.VnfcResourceInfo[0].ID)
	assert.Equal(t, v2.ID, again.VnfcResourceInfo[1].ID)
	assert.Equal(t, vl.ID, again.VirtualLinkResourceInfo[0].ID)
	rc := diff(in, again)
	require.Len(t, rc.AffectedVnfcs, 2)
	assert.Equal(t, model.ChangeModified, rc.AffectedVnfcs[0].ChangeType)
	assert.Equal(t, "srv2-healed", rc.AffectedVnfcs[0].ComputeResource.ResourceID)
	assert.Equal(t, model.ChangeRemoved, rc.AffectedVnfcs[1].ChangeType)
	assert.Equal(t, v1old.ID, rc.AffectedVnfcs[1].ID)
	assert.Empty(t, rc.AffectedVirtualLinks)

	// Group membership.
	assert.Equal(t, "m-new", tp.member(tp.find("mem2", "VDU1")).Name)
	assert.Nil(t, tp.member(tp.find("top", "VDU2")))

	// Without a VNFD every server is a VNFC, CPs by <vdu>_ prefix.
	all := buildInfo(tp, pi, nil, nil, "vim1")
	assert.Len(t, all.VnfcResourceInfo, 4)

	rm := removedAll(in)
	assert.Len(t, rm.AffectedVnfcs, 3)
	assert.Len(t, rm.AffectedVirtualLinks, 1)
	assert.Len(t, rm.AffectedVirtualStorages, 1)
	for _, a := range rm.AffectedVnfcs {
		assert.Equal(t, model.ChangeRemoved, a.ChangeType)
	}
}

func TestDeepestFailed(t *testing.T) {
	top, list, _ := fixture()
	_ = top
	list[0].Status = "CREATE_FAILED" // the group
	list[8].Status = "CREATE_FAILED" // member m-new
	list[9].Status, list[9].StatusReason = "CREATE_FAILED", "No valid host was found"
	list[4].Status, list[4].StatusReason = "CREATE_FAILED", "Quota exceeded for networks"
	got := deepestFailed(list)
	require.Len(t, got, 2)
	assert.Equal(t, "VDU1", got[0].Name)
	assert.Equal(t, "internalVL1", got[1].Name)
	assert.Equal(t, 422, statusFor(got[1].StatusReason))
	assert.Equal(t, 500, statusFor(got[0].StatusReason))
}

func TestLinkStack(t *testing.T) {
	r := stackresources.Resource{Links: []gophercloud.Link{
		{Rel: "self", Href: "http://h/v1/p/stacks/a/1/resources/x"},
		{Rel: "stack", Href: "http://h:8004/v1/p/stacks/vnf-x-VDU1_scale-abc/9f1"},
	}}
	id, name := linkStack(r, "stack")
	assert.Equal(t, "9f1", id)
	assert.Equal(t, "vnf-x-VDU1_scale-abc", name)
	id, _ = linkStack(r, "nested")
	assert.Empty(t, id)
}

package k8scluster

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/vnfm-project/vnfm/internal/model"
)

// node is one VM of the cluster as the instance records it.
type node struct {
	VnfcID     string
	ResourceID string // Nova server id: changes when the VM is replaced
	VduID      string
	Name       string // Kubernetes node name (and etcd member name)
	SSHIP      string
	IP         string // address on the cluster network (nic_cp_name)
	Master     bool
}

// nodes finds the masters and workers in the instance's VNFCs: a VNFC is a
// master when it has master_node.ssh_cp_name, a worker when it has
// worker_node.ssh_cp_name. Both lists keep the instance's order (oldest
// first, the order scale-in removes from the end of).
func nodes(info *model.InstantiatedVnfInfo, p *installParam) (masters, workers []node, err error) {
	if info == nil {
		return nil, nil, fmt.Errorf("the instance has no instantiatedVnfInfo")
	}
	for _, v := range info.VnfcResourceInfo {
		for _, role := range []bool{true, false} {
			np := p.nodeParam(role)
			ssh := cpAddress(v.VnfcCpInfo, np.SSHCpName)
			if ssh == "" {
				continue
			}
			ip := cpAddress(v.VnfcCpInfo, np.NicCpName)
			if ip == "" {
				return nil, nil, fmt.Errorf("VNFC %s (%s) has no address on CP %s (nic_cp_name)", v.ID, v.VduID, np.NicCpName)
			}
			n := node{VnfcID: v.ID, ResourceID: v.ComputeResource.ResourceID, VduID: v.VduID, Name: nodeName(v), SSHIP: ssh, IP: ip, Master: role}
			if role {
				masters = append(masters, n)
			} else {
				workers = append(workers, n)
			}
		}
	}
	if len(masters) == 0 {
		return nil, nil, invalid("no VNFC has the master CP %s (master_node.ssh_cp_name) with an IP address", p.Master.SSHCpName)
	}
	return masters, workers, nil
}

// cpAddress is the first IP address of a VNFC's CP named cpd.
func cpAddress(cps []model.VnfcCpInfo, cpd string) string {
	for _, cp := range cps {
		if cp.CpdID != cpd {
			continue
		}
		for _, pi := range cp.CpProtocolInfo {
			if pi.IPOverEthernet == nil {
				continue
			}
			for _, a := range pi.IPOverEthernet.IPAddresses {
				if len(a.Addresses) > 0 {
					return a.Addresses[0]
				}
			}
		}
	}
	return ""
}

var (
	nameRE = regexp.MustCompile(`[^a-z0-9-]+`)
	idRE   = regexp.MustCompile(`[^a-z0-9]+`)
)

// nodeName is the Kubernetes node name of a VNFC: its VDU and the start of
// its id, a valid DNS label that stays the same when the VM is replaced by
// a heal (the VNFC keeps its id), as Tacker's host names do.
func nodeName(v model.VnfcResourceInfo) string {
	vdu := strings.Trim(nameRE.ReplaceAllString(strings.ToLower(v.VduID), "-"), "-")
	id := idRE.ReplaceAllString(strings.ToLower(v.ID), "")
	if len(id) > 8 {
		id = id[:8]
	}
	if len(vdu) > 40 {
		vdu = vdu[:40]
	}
	return strings.Trim(vdu+"-"+id, "-")
}

// clusterIP is the cluster's virtual IP: master_node.cluster_ip, else the
// address of the CP master_node.cluster_cp_name in extCpInfo or a VNFC, else
// "" (no VIP: the first master's address is the endpoint).
func clusterIP(info *model.InstantiatedVnfInfo, p *installParam) (string, error) {
	if p.Master.ClusterIP != "" {
		return p.Master.ClusterIP, nil
	}
	cp := p.Master.ClusterCpName
	if cp == "" {
		return "", nil
	}
	for _, raw := range info.ExtCpInfo {
		var ext struct {
			CpdID          string                 `json:"cpdId"`
			CpProtocolInfo []model.CpProtocolInfo `json:"cpProtocolInfo"`
		}
		if json.Unmarshal(raw, &ext) == nil && ext.CpdID == cp {
			if a := cpAddress([]model.VnfcCpInfo{{CpdID: cp, CpProtocolInfo: ext.CpProtocolInfo}}, cp); a != "" {
				return a, nil
			}
		}
	}
	for _, v := range info.VnfcResourceInfo {
		if a := cpAddress(v.VnfcCpInfo, cp); a != "" {
			return a, nil
		}
	}
	return "", invalid("master_node.cluster_cp_name %s: no CP of that name with an address in the instance (give master_node.cluster_ip for a VIP outside the VNF)", cp)
}

// findNode returns the node of VNFC id.
func findNode(list []node, id string) (node, bool) {
	for _, n := range list {
		if n.VnfcID == id {
			return n, true
		}
	}
	return node{}, false
}

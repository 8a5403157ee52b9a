package k8scluster

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// ---- helpers ---------------------------------------------------------------

// requireProblem asserts err is a *driver.ProblemError with status 422 whose
// message contains every one of want.
func requireProblem(t *testing.T, err error, want ...string) *driver.ProblemError {
	t.Helper()
	require.Error(t, err)
	var pe *driver.ProblemError
	require.True(t, errors.As(err, &pe), "want *driver.ProblemError, got %T: %v", err, err)
	require.Equal(t, http.StatusUnprocessableEntity, pe.Status, "%v", err)
	require.NotEmpty(t, pe.Title)
	for _, w := range want {
		require.Contains(t, pe.Error(), w)
	}
	return pe
}

// addrCP is a VNFC CP with one IPv4 address (none when addr is "").
func addrCP(cpd, addr string) model.VnfcCpInfo {
	cp := model.VnfcCpInfo{ID: "port-" + cpd + "-" + addr, CpdID: cpd}
	if addr != "" {
		cp.CpProtocolInfo = []model.CpProtocolInfo{{
			LayerProtocol: "IP_OVER_ETHERNET",
			IPOverEthernet: &model.IPOverEthernet{
				MacAddress:  "fa:16:3e:00:00:01",
				IPAddresses: []model.IPAddressInfo{{Type: "IPV4", Addresses: []string{addr}}},
			},
		}}
	}
	return cp
}

func vnfc(id, vdu string, cps ...model.VnfcCpInfo) model.VnfcResourceInfo {
	return model.VnfcResourceInfo{
		ID:              id,
		VduID:           vdu,
		ComputeResource: model.ResourceHandle{VimConnectionID: "vim", ResourceID: "srv-" + id, VimLevelResourceType: "OS::Nova::Server"},
		VnfcCpInfo:      cps,
	}
}

// Names of the CPs used throughout: SSH on CP1, cluster network on CP2.
const (
	mSSH = "masterNode_CP1"
	mNIC = "masterNode_CP2"
	wSSH = "workerNode_CP1"
	wNIC = "workerNode_CP2"
)

func masterVNFC(id, sshIP, nicIP string) model.VnfcResourceInfo {
	return vnfc(id, "masterNode", addrCP(mSSH, sshIP), addrCP(mNIC, nicIP))
}

func workerVNFC(id, sshIP, nicIP string) model.VnfcResourceInfo {
	return vnfc(id, "workerNode", addrCP(wSSH, sshIP), addrCP(wNIC, nicIP))
}

// testParam is an installParam as parseInstall leaves it.
func testParam() *installParam {
	return &installParam{
		ScriptPath: "Scripts/install_k8s_cluster.sh",
		Master: nodeParam{
			AspectID: "master_instance", SSHCpName: mSSH, NicCpName: mNIC, Username: "ubuntu", Password: "master-pw",
			PodCIDR: defaultPodCIDR, ClusterCIDR: defaultServiceCIDR,
		},
		Worker: nodeParam{AspectID: "worker_instance", SSHCpName: wSSH, NicCpName: wNIC, Username: "ubuntu", Password: "worker-pw"},
	}
}

// instantiateBody is an InstantiateVnfRequest with a valid
// k8s_cluster_installation_param; edit changes the parameter first.
func instantiateBody(t *testing.T, edit func(p, master, worker map[string]any)) json.RawMessage {
	t.Helper()
	master := map[string]any{"ssh_cp_name": mSSH, "username": "ubuntu", "password": "secret"}
	worker := map[string]any{"ssh_cp_name": wSSH, "username": "ubuntu", "ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n..."}
	p := map[string]any{"master_node": master, "worker_node": worker}
	if edit != nil {
		edit(p, master, worker)
	}
	raw, err := json.Marshal(map[string]any{
		"flavourId":        "simple",
		"additionalParams": map[string]any{"k8s_cluster_installation_param": p},
	})
	require.NoError(t, err)
	return raw
}

func testPackage() fstest.MapFS {
	return fstest.MapFS{
		"Scripts/install_k8s_cluster.sh": {Data: []byte("#!/bin/bash\n"), Mode: 0o755},
		"Scripts/install_helm.sh":        {Data: []byte("#!/bin/bash\n"), Mode: 0o755},
		"Scripts/custom.sh":              {Data: []byte("#!/bin/bash\n"), Mode: 0o755},
	}
}

// errFS fails every access with a permission error.
type errFS struct{}

func (errFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
}

// ---- parseInstall ----------------------------------------------------------

func TestParseInstallValid(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p, master, worker map[string]any)
		check func(t *testing.T, p *installParam)
	}{
		{
			name: "defaults filled",
			check: func(t *testing.T, p *installParam) {
				require.Equal(t, "Scripts/install_k8s_cluster.sh", p.ScriptPath)
				require.Empty(t, p.HelmScriptPath)
				require.Equal(t, mSSH, p.Master.NicCpName, "nic_cp_name defaults to ssh_cp_name")
				require.Equal(t, wSSH, p.Worker.NicCpName, "nic_cp_name defaults to ssh_cp_name")
				require.Equal(t, "10.244.0.0/16", p.Master.PodCIDR)
				require.Equal(t, "10.96.0.0/12", p.Master.ClusterCIDR)
				require.Equal(t, "ubuntu", p.Master.Username)
				require.Equal(t, "secret", p.Master.Password)
				require.Empty(t, p.Master.PrivateKey)
				require.NotEmpty(t, p.Worker.PrivateKey)
				require.Empty(t, p.Worker.Password)
				require.Empty(t, p.Master.ClusterIP)
			},
		},
		{
			name: "explicit values kept",
			edit: func(p, master, worker map[string]any) {
				p["script_path"] = "Scripts/custom.sh"
				p["helm_installation_script_path"] = "Scripts/install_helm.sh"
				p["vim_name"] = "my-vim"
				p["proxy"] = map[string]any{"http_proxy": "http://proxy:3128", "no_proxy": "localhost"}
				master["nic_cp_name"] = mNIC
				master["pod_cidr"] = "192.168.0.0/16"
				master["cluster_cidr"] = "10.32.0.0/16"
				master["cluster_ip"] = "10.0.0.100"
				master["aspect_id"] = "master_instance"
				worker["nic_cp_name"] = wNIC
				worker["aspect_id"] = "worker_instance"
			},
			check: func(t *testing.T, p *installParam) {
				require.Equal(t, "Scripts/custom.sh", p.ScriptPath)
				require.Equal(t, "Scripts/install_helm.sh", p.HelmScriptPath)
				require.Equal(t, "my-vim", p.VimName)
				require.Equal(t, mNIC, p.Master.NicCpName)
				require.Equal(t, wNIC, p.Worker.NicCpName)
				require.Equal(t, "192.168.0.0/16", p.Master.PodCIDR)
				require.Equal(t, "10.32.0.0/16", p.Master.ClusterCIDR)
				require.Equal(t, "10.0.0.100", p.Master.ClusterIP)
				require.Equal(t, "master_instance", p.Master.AspectID)
				require.Equal(t, "worker_instance", p.Worker.AspectID)
				require.Equal(t, map[string]string{"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "localhost"}, p.proxyEnv())
			},
		},
		{
			name: "absolute and unclean script paths resolve inside the package",
			edit: func(p, _, _ map[string]any) {
				p["script_path"] = "/Scripts/custom.sh"
				p["helm_installation_script_path"] = "./Scripts/../Scripts/install_helm.sh"
			},
			check: func(t *testing.T, p *installParam) {
				require.Equal(t, "/Scripts/custom.sh", p.ScriptPath, "kept as given")
				require.Equal(t, "./Scripts/../Scripts/install_helm.sh", p.HelmScriptPath)
			},
		},
		{
			name: "IPv6 cluster_ip and CIDRs",
			edit: func(_, master, _ map[string]any) {
				master["cluster_ip"] = "fd00::100"
				master["pod_cidr"] = "fd01::/48"
				master["cluster_cidr"] = "fd02::/112"
			},
			check: func(t *testing.T, p *installParam) {
				require.Equal(t, "fd00::100", p.Master.ClusterIP)
				require.Equal(t, "fd01::/48", p.Master.PodCIDR)
			},
		},
		{
			name: "key only for the master, password only for the worker",
			edit: func(_, master, worker map[string]any) {
				delete(master, "password")
				master["ssh_private_key"] = "KEY"
				delete(worker, "ssh_private_key")
				worker["password"] = "pw"
			},
			check: func(t *testing.T, p *installParam) {
				require.Equal(t, "KEY", p.Master.PrivateKey)
				require.Equal(t, "pw", p.Worker.Password)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseInstall(instantiateBody(t, tc.edit), testPackage())
			require.NoError(t, err)
			require.NotNil(t, p)
			tc.check(t, p)
		})
	}
}

func TestParseInstallInvalid(t *testing.T) {
	tests := []struct {
		name   string
		params json.RawMessage // used when set, else instantiateBody(edit)
		edit   func(p, master, worker map[string]any)
		pkg    fs.FS
		nilPkg bool
		want   []string
	}{
		{
			name:   "invalid JSON",
			params: json.RawMessage(`{"additionalParams":`),
			want:   []string{"k8s_cluster_installation_param"},
		},
		{
			name:   "wrong JSON type",
			params: json.RawMessage(`{"additionalParams":{"k8s_cluster_installation_param":{"master_node":"x"}}}`),
			want:   []string{"k8s_cluster_installation_param"},
		},
		{
			name:   "missing k8s_cluster_installation_param",
			params: json.RawMessage(`{"flavourId":"simple","additionalParams":{}}`),
			want:   []string{"k8s_cluster_installation_param is required", Name},
		},
		{
			name:   "no additionalParams at all",
			params: json.RawMessage(`{}`),
			want:   []string{"k8s_cluster_installation_param is required"},
		},
		{
			name:   "null k8s_cluster_installation_param",
			params: json.RawMessage(`{"additionalParams":{"k8s_cluster_installation_param":null}}`),
			want:   []string{"k8s_cluster_installation_param is required"},
		},
		{
			name: "missing master ssh_cp_name",
			edit: func(_, m, _ map[string]any) { delete(m, "ssh_cp_name") },
			want: []string{"master_node.ssh_cp_name is required"},
		},
		{
			name: "missing worker ssh_cp_name",
			edit: func(_, _, w map[string]any) { delete(w, "ssh_cp_name") },
			want: []string{"worker_node.ssh_cp_name is required"},
		},
		{
			name: "missing master username",
			edit: func(_, m, _ map[string]any) { delete(m, "username") },
			want: []string{"master_node.username is required"},
		},
		{
			name: "missing worker username",
			edit: func(_, _, w map[string]any) { delete(w, "username") },
			want: []string{"worker_node.username is required"},
		},
		{
			name: "master has neither password nor ssh_private_key",
			edit: func(_, m, _ map[string]any) { delete(m, "password") },
			want: []string{"master_node needs password or ssh_private_key"},
		},
		{
			name: "worker has neither password nor ssh_private_key",
			edit: func(_, _, w map[string]any) { delete(w, "ssh_private_key") },
			want: []string{"worker_node needs password or ssh_private_key"},
		},
		{
			name: "bad cluster_ip",
			edit: func(_, m, _ map[string]any) { m["cluster_ip"] = "10.0.0.300" },
			want: []string{"master_node.cluster_ip", `"10.0.0.300"`, "not an IP address"},
		},
		{
			name: "cluster_ip given as a CIDR",
			edit: func(_, m, _ map[string]any) { m["cluster_ip"] = "10.0.0.100/24" },
			want: []string{"master_node.cluster_ip", "not an IP address"},
		},
		{
			name: "bad pod_cidr",
			edit: func(_, m, _ map[string]any) { m["pod_cidr"] = "10.244.0.0" },
			want: []string{"master_node", `"10.244.0.0"`, "is not a CIDR"},
		},
		{
			name: "bad cluster_cidr",
			edit: func(_, m, _ map[string]any) { m["cluster_cidr"] = "10.96.0.0/33" },
			want: []string{"master_node", `"10.96.0.0/33"`, "is not a CIDR"},
		},
		{
			name: "default script not in the package",
			pkg:  fstest.MapFS{"Scripts/other.sh": {Data: []byte("x")}},
			want: []string{"script_path", "Scripts/install_k8s_cluster.sh is not in the VNF package"},
		},
		{
			name: "script_path is a directory",
			edit: func(p, _, _ map[string]any) { p["script_path"] = "Scripts" },
			want: []string{"script_path", "Scripts in the VNF package is not a file"},
		},
		{
			name: "script_path outside the package",
			edit: func(p, _, _ map[string]any) { p["script_path"] = "../etc/passwd" },
			want: []string{"script_path", "is not a path inside the VNF package"},
		},
		{
			name: "script_path not in the package",
			edit: func(p, _, _ map[string]any) { p["script_path"] = "Scripts/missing.sh" },
			want: []string{"script_path", "Scripts/missing.sh is not in the VNF package"},
		},
		{
			name: "helm script not in the package",
			edit: func(p, _, _ map[string]any) { p["helm_installation_script_path"] = "Scripts/no_helm.sh" },
			want: []string{"helm_installation_script_path", "Scripts/no_helm.sh is not in the VNF package"},
		},
		{
			name:   "no package with a script path",
			nilPkg: true,
			want:   []string{"script_path", "no VNF package", "Scripts/install_k8s_cluster.sh"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := tc.params
			if params == nil {
				params = instantiateBody(t, tc.edit)
			}
			var pkg fs.FS = testPackage()
			switch {
			case tc.nilPkg:
				pkg = nil
			case tc.pkg != nil:
				pkg = tc.pkg
			}
			p, err := parseInstall(params, pkg)
			require.Nil(t, p)
			requireProblem(t, err, tc.want...)
		})
	}
}

func TestParseInstallPackageReadError(t *testing.T) {
	// A package that cannot be read is the VNFM's problem, not the
	// request's: no 422.
	p, err := parseInstall(instantiateBody(t, nil), errFS{})
	require.Nil(t, p)
	require.Error(t, err)
	require.ErrorIs(t, err, fs.ErrPermission)
	var pe *driver.ProblemError
	require.False(t, errors.As(err, &pe), "%v", err)
	require.Contains(t, err.Error(), "Scripts/install_k8s_cluster.sh")
}

func TestProxyEnv(t *testing.T) {
	p := &installParam{Proxy: map[string]string{
		"HTTP_PROXY":  "http://a:1",
		"Https_Proxy": "http://b:2",
		"no_proxy":    "localhost,10.0.0.0/8",
		"ftp_proxy":   "ignored",
	}}
	require.Equal(t, map[string]string{
		"HTTP_PROXY":  "http://a:1",
		"HTTPS_PROXY": "http://b:2",
		"NO_PROXY":    "localhost,10.0.0.0/8",
	}, p.proxyEnv())
	require.Empty(t, (&installParam{}).proxyEnv())

	tp := testParam()
	require.Same(t, &tp.Master, tp.nodeParam(true))
	require.Same(t, &tp.Worker, tp.nodeParam(false))
}

// ---- nodes -----------------------------------------------------------------

func TestNodes(t *testing.T) {
	// A master whose SSH CP lists an entry without ipOverEthernet and an
	// empty address list before the real address.
	m2 := masterVNFC("m2", "192.168.0.12", "10.0.0.12")
	m2.VnfcCpInfo[0].CpProtocolInfo = append([]model.CpProtocolInfo{
		{LayerProtocol: "IP_OVER_ETHERNET"},
		{LayerProtocol: "IP_OVER_ETHERNET", IPOverEthernet: &model.IPOverEthernet{IPAddresses: []model.IPAddressInfo{{Type: "IPV4"}}}},
	}, m2.VnfcCpInfo[0].CpProtocolInfo...)
	info := &model.InstantiatedVnfInfo{
		FlavourID: "simple",
		VnfcResourceInfo: []model.VnfcResourceInfo{
			masterVNFC("m1", "192.168.0.11", "10.0.0.11"),
			workerVNFC("w1", "192.168.0.21", "10.0.0.21"),
			m2,
			vnfc("other", "monitorNode", addrCP("monitorNode_CP1", "192.168.0.99")),
			workerVNFC("w2", "192.168.0.22", "10.0.0.22"),
			workerVNFC("w3", "192.168.0.23", "10.0.0.23"),
			masterVNFC("m3", "192.168.0.13", "10.0.0.13"),
		},
	}
	masters, workers, err := nodes(info, testParam())
	require.NoError(t, err)

	ids := func(ns []node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.VnfcID)
		}
		return out
	}
	require.Equal(t, []string{"m1", "m2", "m3"}, ids(masters), "instance order kept")
	require.Equal(t, []string{"w1", "w2", "w3"}, ids(workers), "instance order kept")

	require.Equal(t, node{
		VnfcID: "m2", ResourceID: "srv-m2", VduID: "masterNode", Name: nodeName(info.VnfcResourceInfo[2]),
		SSHIP: "192.168.0.12", IP: "10.0.0.12", Master: true,
	}, masters[1])
	require.Equal(t, node{
		VnfcID: "w3", ResourceID: "srv-w3", VduID: "workerNode", Name: nodeName(info.VnfcResourceInfo[5]),
		SSHIP: "192.168.0.23", IP: "10.0.0.23", Master: false,
	}, workers[2])
	for _, n := range append(append([]node{}, masters...), workers...) {
		require.NotEqual(t, n.SSHIP, n.IP, "IP is the nic_cp_name address")
		require.True(t, strings.HasPrefix(n.IP, "10.0.0."), n.IP)
	}

	// With nic_cp_name = ssh_cp_name (the parseInstall default) IP is the
	// SSH address.
	p := testParam()
	p.Master.NicCpName, p.Worker.NicCpName = mSSH, wSSH
	masters, workers, err = nodes(info, p)
	require.NoError(t, err)
	require.Equal(t, "192.168.0.11", masters[0].IP)
	require.Equal(t, "192.168.0.21", workers[0].IP)

	// findNode and without.
	n, ok := findNode(workers, "w2")
	require.True(t, ok)
	require.Equal(t, "w2", n.VnfcID)
	_, ok = findNode(workers, "m1")
	require.False(t, ok)
	require.Equal(t, []string{"m2"}, ids(without(masters, []node{masters[0], masters[2]})))
	require.Empty(t, without(masters, masters))
	require.Equal(t, ids(masters), ids(without(masters, nil)))
}

func TestNodesErrors(t *testing.T) {
	tests := []struct {
		name    string
		info    *model.InstantiatedVnfInfo
		problem bool
		want    []string
	}{
		{
			name: "no instantiatedVnfInfo",
			info: nil,
			want: []string{"instantiatedVnfInfo"},
		},
		{
			name:    "no VNFCs",
			info:    &model.InstantiatedVnfInfo{},
			problem: true,
			want:    []string{"no VNFC has the master CP", mSSH, "master_node.ssh_cp_name"},
		},
		{
			name: "workers only",
			info: &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{
				workerVNFC("w1", "192.168.0.21", "10.0.0.21"),
			}},
			problem: true,
			want:    []string{"no VNFC has the master CP", mSSH},
		},
		{
			name: "master CP without an address",
			info: &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{
				vnfc("m1", "masterNode", addrCP(mSSH, ""), addrCP(mNIC, "10.0.0.11")),
				workerVNFC("w1", "192.168.0.21", "10.0.0.21"),
			}},
			problem: true,
			want:    []string{"no VNFC has the master CP", mSSH},
		},
		{
			name: "master lacks the nic CP",
			info: &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{
				vnfc("m1", "masterNode", addrCP(mSSH, "192.168.0.11")),
			}},
			want: []string{"VNFC m1", "masterNode", mNIC, "nic_cp_name"},
		},
		{
			name: "worker's nic CP has no address",
			info: &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{
				masterVNFC("m1", "192.168.0.11", "10.0.0.11"),
				vnfc("w1", "workerNode", addrCP(wSSH, "192.168.0.21"), addrCP(wNIC, "")),
			}},
			want: []string{"VNFC w1", "workerNode", wNIC, "nic_cp_name"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			masters, workers, err := nodes(tc.info, testParam())
			require.Nil(t, masters)
			require.Nil(t, workers)
			if tc.problem {
				requireProblem(t, err, tc.want...)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// ---- nodeName --------------------------------------------------------------

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestNodeName(t *testing.T) {
	long := strings.Repeat("veryLongVduName", 5) // 75 characters
	tests := []struct {
		name, vdu, id, want string
	}{
		{"uuid", "masterNode", "5f0b8c3e-1d2a-4b3c-9e8f-0a1b2c3d4e5f", "masternode-5f0b8c3e"},
		{"uppercase id", "workerNode", "ABCDEF12-3456-7890-ABCD-EF1234567890", "workernode-abcdef12"},
		{"non-alphanumerics stripped from the id", "workerNode", "a_b.c-d:e/f+g h", "workernode-abcdefgh"},
		{"short id", "workerNode", "x-1", "workernode-x1"},
		{"vdu punctuation becomes dashes", "Worker_Node.v2", "0123456789", "worker-node-v2-01234567"},
		{"vdu edge punctuation trimmed", "__VDU1__", "abc", "vdu1-abc"},
		{"long vdu truncated", long, "5f0b8c3e-1d2a", strings.ToLower(long)[:40] + "-5f0b8c3e"},
		{"empty id", "masterNode", "", "masternode"},
		{"id without alphanumerics", "masterNode", "---", "masternode"},
		{"empty vdu", "", "5f0b8c3e-1d2a", "5f0b8c3e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nodeName(model.VnfcResourceInfo{ID: tc.id, VduID: tc.vdu})
			require.Equal(t, tc.want, got)
			require.Regexp(t, dnsLabel, got)
			require.LessOrEqual(t, len(got), 63)
		})
	}

	// Stable across a heal (same VNFC id, new server) and distinct for
	// different VNFCs.
	v := vnfc("5f0b8c3e-1d2a-4b3c-9e8f-0a1b2c3d4e5f", "masterNode")
	healed := v
	healed.ComputeResource.ResourceID = "srv-replacement"
	healed.VnfcCpInfo = []model.VnfcCpInfo{addrCP(mSSH, "192.168.0.99")}
	require.Equal(t, nodeName(v), nodeName(healed))
	require.NotEqual(t, nodeName(v), nodeName(vnfc("6a1c9d4f-1d2a-4b3c-9e8f-0a1b2c3d4e5f", "masterNode")))
	require.NotEqual(t, nodeName(v), nodeName(vnfc(v.ID, "workerNode")))
}

// ---- clusterIP -------------------------------------------------------------

func extCp(t *testing.T, cpd, addr string) json.RawMessage {
	t.Helper()
	cp := addrCP(cpd, addr)
	raw, err := json.Marshal(map[string]any{
		"id":             "ext-" + cpd,
		"cpdId":          cpd,
		"cpProtocolInfo": cp.CpProtocolInfo,
	})
	require.NoError(t, err)
	return raw
}

func TestClusterIP(t *testing.T) {
	const vipCP = "vip_CP"
	base := func() *model.InstantiatedVnfInfo {
		return &model.InstantiatedVnfInfo{VnfcResourceInfo: []model.VnfcResourceInfo{
			masterVNFC("m1", "192.168.0.11", "10.0.0.11"),
			workerVNFC("w1", "192.168.0.21", "10.0.0.21"),
		}}
	}
	tests := []struct {
		name      string
		clusterIP string
		cpName    string
		info      func() *model.InstantiatedVnfInfo
		want      string
		wantErr   []string
	}{
		{
			name: "none: no VIP",
			info: base,
			want: "",
		},
		{
			name:      "cluster_ip wins over cluster_cp_name",
			clusterIP: "10.0.0.200",
			cpName:    vipCP,
			info: func() *model.InstantiatedVnfInfo {
				i := base()
				i.ExtCpInfo = []json.RawMessage{extCp(t, vipCP, "10.0.0.100")}
				return i
			},
			want: "10.0.0.200",
		},
		{
			name:      "cluster_ip needs nothing in the instance",
			clusterIP: "10.0.0.200",
			cpName:    "absent_CP",
			info:      base,
			want:      "10.0.0.200",
		},
		{
			name:   "cluster_cp_name in extCpInfo",
			cpName: vipCP,
			info: func() *model.InstantiatedVnfInfo {
				i := base()
				i.ExtCpInfo = []json.RawMessage{
					json.RawMessage(`"not an object"`),
					extCp(t, "other_CP", "10.0.0.50"),
					extCp(t, vipCP, "10.0.0.100"),
				}
				return i
			},
			want: "10.0.0.100",
		},
		{
			name:   "cluster_cp_name is a VNFC CP",
			cpName: mNIC,
			info: func() *model.InstantiatedVnfInfo {
				i := base()
				i.ExtCpInfo = []json.RawMessage{extCp(t, "other_CP", "10.0.0.50")}
				return i
			},
			want: "10.0.0.11",
		},
		{
			name:   "ext CP without an address falls back to a VNFC CP of that name",
			cpName: vipCP,
			info: func() *model.InstantiatedVnfInfo {
				i := base()
				i.ExtCpInfo = []json.RawMessage{extCp(t, vipCP, "")}
				i.VnfcResourceInfo[0].VnfcCpInfo = append(i.VnfcResourceInfo[0].VnfcCpInfo, addrCP(vipCP, "10.0.0.101"))
				return i
			},
			want: "10.0.0.101",
		},
		{
			name:    "cluster_cp_name missing from the instance",
			cpName:  vipCP,
			info:    base,
			wantErr: []string{"master_node.cluster_cp_name", vipCP, "master_node.cluster_ip"},
		},
		{
			name:   "cluster_cp_name without an address",
			cpName: vipCP,
			info: func() *model.InstantiatedVnfInfo {
				i := base()
				i.ExtCpInfo = []json.RawMessage{extCp(t, vipCP, "")}
				return i
			},
			wantErr: []string{"master_node.cluster_cp_name", vipCP},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testParam()
			p.Master.ClusterIP, p.Master.ClusterCpName = tc.clusterIP, tc.cpName
			got, err := clusterIP(tc.info(), p)
			if tc.wantErr != nil {
				requireProblem(t, err, tc.wantErr...)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// ---- scaleInVictims --------------------------------------------------------

func sampleVNFD(t *testing.T) *vnfd.VNFD {
	t.Helper()
	const dir = "../../../../test/samples/k8s-cluster"
	meta, err := os.ReadFile(dir + "/TOSCA-Metadata/TOSCA.meta")
	require.NoError(t, err)
	entry := ""
	for line := range strings.Lines(string(meta)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Entry-Definitions" {
			entry = strings.TrimSpace(v)
		}
	}
	require.Equal(t, "Definitions/k8s_cluster_top.vnfd.yaml", entry)
	v, err := vnfd.Parse(os.DirFS(dir), entry)
	require.NoError(t, err)
	return v
}

func TestScaleInVictims(t *testing.T) {
	v := sampleVNFD(t)
	f, ok := v.Flavour("simple")
	require.True(t, ok)
	require.Equal(t, map[string]int{"workerNode": 1}, f.AspectDelta("worker_instance", 1))
	require.Equal(t, map[string]int{"masterNode": 1}, f.AspectDelta("master_instance", 1))

	vnfcs := []model.VnfcResourceInfo{
		masterVNFC("m1", "192.168.0.11", "10.0.0.11"),
		workerVNFC("w1", "192.168.0.21", "10.0.0.21"),
		workerVNFC("w2", "192.168.0.22", "10.0.0.22"),
		workerVNFC("w3", "192.168.0.23", "10.0.0.23"),
		workerVNFC("w4", "192.168.0.24", "10.0.0.24"),
	}
	info := func(level int) *model.InstantiatedVnfInfo {
		return &model.InstantiatedVnfInfo{
			FlavourID: "simple",
			ScaleStatus: []model.ScaleInfo{
				{AspectID: "master_instance", ScaleLevel: 0},
				{AspectID: "worker_instance", ScaleLevel: level},
			},
			VnfcResourceInfo: vnfcs,
		}
	}
	_, workers, err := nodes(info(2), testParam())
	require.NoError(t, err)
	require.Len(t, workers, 4)

	steps := func(n int) *int { return &n }
	tests := []struct {
		name  string
		level int
		sr    scaleRequest
		want  []string
	}{
		{"one step by default", 2, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance"}, []string{"w4"}},
		{"one step", 2, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance", NumberOfSteps: steps(1)}, []string{"w4"}},
		{"two steps", 2, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance", NumberOfSteps: steps(2)}, []string{"w4", "w3"}},
		{"more steps than the level", 2, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance", NumberOfSteps: steps(5)}, []string{"w4", "w3"}},
		{"level 1", 1, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance", NumberOfSteps: steps(2)}, []string{"w4"}},
		{"level 0 removes nothing", 0, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance"}, nil},
		{"zero steps", 2, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance", NumberOfSteps: steps(0)}, nil},
		{"master aspect removes no worker", 2, scaleRequest{Type: "SCALE_IN", AspectID: "master_instance"}, nil},
		{"unknown aspect", 2, scaleRequest{Type: "SCALE_IN", AspectID: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scaleInVictims(&driver.Request{Vnfd: v, Info: info(tc.level)}, workers, tc.sr)
			require.NoError(t, err)
			var ids []string
			for _, n := range got {
				ids = append(ids, n.VnfcID)
				require.False(t, n.Master)
			}
			require.Equal(t, tc.want, ids)
		})
	}

	t.Run("no VNFD", func(t *testing.T) {
		got, err := scaleInVictims(&driver.Request{Info: info(2)}, workers, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance"})
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("no info", func(t *testing.T) {
		got, err := scaleInVictims(&driver.Request{Vnfd: v}, workers, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance"})
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("unknown flavour", func(t *testing.T) {
		i := info(2)
		i.FlavourID = "large"
		_, err := scaleInVictims(&driver.Request{Vnfd: v, Info: i}, workers, scaleRequest{Type: "SCALE_IN", AspectID: "worker_instance"})
		require.ErrorContains(t, err, "flavour large")
	})
}

// ---- caCertHash ------------------------------------------------------------

func selfSignedCA(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// opensslHash is the hash the kubeadm documentation computes:
// openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum.
func opensslHash(t *testing.T, caPEM []byte) string {
	t.Helper()
	for _, tool := range []string{"openssl", "sha256sum", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	cmd := exec.Command("sh", "-c", "openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum")
	cmd.Stdin = bytes.NewReader(caPEM)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	fields := strings.Fields(string(out))
	require.NotEmpty(t, fields, "%s", out)
	require.Regexp(t, `^[0-9a-f]{64}$`, fields[0])
	return "sha256:" + fields[0]
}

func TestCACertHash(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{{"ecdsa-p256", ecKey}, {"rsa-2048", rsaKey}} {
		t.Run(tc.name, func(t *testing.T) {
			caPEM := selfSignedCA(t, tc.key)
			// admin.conf's certificate-authority-data may hold more than one
			// PEM block: the first one is the CA.
			k := &kube{caPEM: append(append([]byte{}, caPEM...), caPEM...)}
			got, err := k.caCertHash()
			require.NoError(t, err)

			block, _ := pem.Decode(caPEM)
			cert, err := x509.ParseCertificate(block.Bytes)
			require.NoError(t, err)
			sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), got)

			spki, err := x509.MarshalPKIXPublicKey(tc.key.Public())
			require.NoError(t, err)
			sum = sha256.Sum256(spki)
			require.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), got, "hash of the public key, not of the certificate")

			require.Equal(t, opensslHash(t, caPEM), got, "kubeadm discovery hash")
		})
	}

	t.Run("not PEM", func(t *testing.T) {
		_, err := (&kube{caPEM: []byte("not a certificate")}).caCertHash()
		require.ErrorContains(t, err, "not PEM")
		_, err = (&kube{}).caCertHash()
		require.ErrorContains(t, err, "not PEM")
	})
	t.Run("PEM but not a certificate", func(t *testing.T) {
		bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")})
		_, err := (&kube{caPEM: bad}).caCertHash()
		require.ErrorContains(t, err, "parse cluster CA")
	})
}

// ---- randomString / certificateKey -----------------------------------------

func TestRandomStringAndCertificateKey(t *testing.T) {
	tokenID := regexp.MustCompile(`^[a-z0-9]{6}$`)
	tokenSecret := regexp.MustCompile(`^[a-z0-9]{16}$`)
	// The token format kubeadm and the bootstrap authenticator accept.
	token := regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	certKey := regexp.MustCompile(`^[0-9a-f]{64}$`)

	seenID, seenKey := map[string]bool{}, map[string]bool{}
	used := map[rune]bool{}
	for range 500 {
		id, sec := randomString(6), randomString(16)
		require.Regexp(t, tokenID, id)
		require.Regexp(t, tokenSecret, sec)
		require.Regexp(t, token, id+"."+sec)
		for _, r := range sec {
			used[r] = true
		}
		seenID[id] = true

		k := certificateKey()
		require.Regexp(t, certKey, k)
		b, err := hex.DecodeString(k)
		require.NoError(t, err)
		require.Len(t, b, 32)
		seenKey[k] = true
	}
	require.Greater(t, len(seenID), 490, "token ids are random")
	require.Len(t, seenKey, 500, "certificate keys are random")
	require.Len(t, used, len(tokenChars), "every token character is used")
	require.Empty(t, randomString(0))
}

// ---- state -----------------------------------------------------------------

func TestLoadState(t *testing.T) {
	for _, raw := range []json.RawMessage{nil, json.RawMessage(""), json.RawMessage("null"), json.RawMessage("{}")} {
		st, err := loadState(raw)
		require.NoError(t, err, "%q", raw)
		require.Nil(t, st.Install)
		require.NotNil(t, st.HostKeys)
		require.NotNil(t, st.Joined)
	}
	_, err := loadState(json.RawMessage(`{"install":`))
	require.ErrorContains(t, err, Name)

	in := &state{Install: testParam(), VimID: "vim-1", Endpoint: "10.0.0.100:8443", Joined: map[string]string{"m1": "srv-m1"}}
	raw, err := in.raw()
	require.NoError(t, err)
	out, err := loadState(raw)
	require.NoError(t, err)
	require.Equal(t, in.Install, out.Install)
	require.Equal(t, in.VimID, out.VimID)
	require.Equal(t, in.Joined, out.Joined)
	require.Empty(t, out.HostKeys)

	_, err = installed(&driver.Request{State: json.RawMessage(`{"vimId":"x"}`)})
	requireProblem(t, err, "no Kubernetes cluster installed")
}

// ---- hooks refusing before any network access ------------------------------

// offlineDriver is a driver whose SSH attempts give up quickly, so that a
// hook wrongly reaching the network fails the test quickly instead of
// hanging (every address is in TEST-NET-1 besides).
func offlineDriver(vims VimRegistry) *Driver {
	return New(Config{Vims: vims, SSHConnectFor: 50 * time.Millisecond, JoinTimeout: 50 * time.Millisecond, DrainTimeout: 50 * time.Millisecond})
}

func installedState(t *testing.T, edit func(st *state)) json.RawMessage {
	t.Helper()
	st := &state{Install: testParam(), Endpoint: "192.0.2.11:8443", Joined: map[string]string{}}
	if edit != nil {
		edit(st)
	}
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	return raw
}

func offlineCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHealStartRefusals(t *testing.T) {
	oneMaster := &model.InstantiatedVnfInfo{FlavourID: "simple", VnfcResourceInfo: []model.VnfcResourceInfo{
		masterVNFC("master-1", "192.0.2.11", "192.0.2.111"),
		workerVNFC("worker-1", "192.0.2.21", "192.0.2.121"),
	}}
	threeMasters := &model.InstantiatedVnfInfo{FlavourID: "simple", VnfcResourceInfo: []model.VnfcResourceInfo{
		masterVNFC("master-1", "192.0.2.11", "192.0.2.111"),
		masterVNFC("master-2", "192.0.2.12", "192.0.2.112"),
		masterVNFC("master-3", "192.0.2.13", "192.0.2.113"),
		workerVNFC("worker-1", "192.0.2.21", "192.0.2.121"),
	}}
	tests := []struct {
		name   string
		info   *model.InstantiatedVnfInfo
		params string
		want   []string
	}{
		{
			name:   "only master",
			info:   oneMaster,
			params: `{"vnfcInstanceId":["master-1"]}`,
			want:   []string{"master-1", "only master", "heal the whole VNF"},
		},
		{
			name:   "only master with its worker",
			info:   oneMaster,
			params: `{"vnfcInstanceId":["worker-1","master-1"]}`,
			want:   []string{"master-1", "only master"},
		},
		{
			name:   "all three masters",
			info:   threeMasters,
			params: `{"vnfcInstanceId":["master-1","master-2","master-3"],"cause":"test"}`,
			want:   []string{"master-1, master-2, master-3", "every master at once", "etcd quorum", "one at a time"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &driver.Request{
				Operation: model.OpHeal,
				Instance:  &model.VnfInstance{ID: "inst-1"},
				Package:   testPackage(),
				Params:    json.RawMessage(tc.params),
				State:     installedState(t, nil),
				Info:      tc.info,
			}
			res, err := offlineDriver(nil).HealStart(offlineCtx(t), req)
			require.Nil(t, res)
			pe := requireProblem(t, err, tc.want...)
			require.Contains(t, pe.Title, "refused")
			require.NotContains(t, err.Error(), "ssh", "refused before any SSH attempt")
		})
	}

	t.Run("not installed", func(t *testing.T) {
		req := &driver.Request{Instance: &model.VnfInstance{ID: "inst-1"}, Params: json.RawMessage(`{"vnfcInstanceId":["master-1"]}`), Info: oneMaster}
		_, err := offlineDriver(nil).HealStart(offlineCtx(t), req)
		requireProblem(t, err, "no Kubernetes cluster installed")
	})
	t.Run("VNFCs that are not nodes: nothing to do", func(t *testing.T) {
		req := &driver.Request{Instance: &model.VnfInstance{ID: "inst-1"}, Params: json.RawMessage(`{"vnfcInstanceId":["unknown"]}`), State: installedState(t, nil), Info: oneMaster}
		res, err := offlineDriver(nil).HealStart(offlineCtx(t), req)
		require.NoError(t, err)
		require.Nil(t, res)
	})
	t.Run("bad heal request", func(t *testing.T) {
		req := &driver.Request{Instance: &model.VnfInstance{ID: "inst-1"}, Params: json.RawMessage(`{"vnfcInstanceId":"master-1"}`), State: installedState(t, nil), Info: oneMaster}
		_, err := offlineDriver(nil).HealStart(offlineCtx(t), req)
		require.ErrorContains(t, err, "decode heal request")
	})
	t.Run("HealEnd refuses too", func(t *testing.T) {
		req := &driver.Request{Instance: &model.VnfInstance{ID: "inst-1"}, Params: json.RawMessage(`{"vnfcInstanceId":["master-1"]}`), State: installedState(t, nil), Info: oneMaster}
		res, err := offlineDriver(nil).HealEnd(offlineCtx(t), req)
		require.Nil(t, res)
		requireProblem(t, err, "no master survives")
	})
}

// fakeVims records DeleteFor calls.
type fakeVims struct {
	deleted []string
}

func (f *fakeVims) Ensure(context.Context, model.Vim) (*model.Vim, error) {
	return nil, errors.New("unexpected Ensure")
}

func (f *fakeVims) DeleteFor(_ context.Context, id, owner string) error {
	f.deleted = append(f.deleted, id+"/"+owner)
	return nil
}

func TestWholeHealStartAndTerminateEndDeregister(t *testing.T) {
	info := &model.InstantiatedVnfInfo{FlavourID: "simple", VnfcResourceInfo: []model.VnfcResourceInfo{
		masterVNFC("master-1", "192.0.2.11", "192.0.2.111"),
	}}
	withVim := func(st *state) {
		st.VimID, st.Token, st.CA = "vim-9", "tok", "ca"
		st.Joined = map[string]string{"master-1": "srv-master-1"}
		st.HostKeys = map[string]string{"srv-master-1": "ssh-ed25519 AAAA"}
	}

	vims := &fakeVims{}
	req := &driver.Request{Instance: &model.VnfInstance{ID: "inst-1"}, Params: json.RawMessage(`{"cause":"all"}`), State: installedState(t, withVim), Info: info}
	res, err := offlineDriver(vims).HealStart(offlineCtx(t), req)
	require.NoError(t, err)
	require.Equal(t, []string{"vim-9/inst-1"}, vims.deleted)
	require.Equal(t, []string{"vim-9"}, res.RemoveVimConnectionIDs)
	st, err := loadState(res.State)
	require.NoError(t, err)
	require.Equal(t, testParam(), st.Install, "the installation parameters survive for heal_end")
	require.Empty(t, st.VimID)
	require.Empty(t, st.Token)
	require.Empty(t, st.Endpoint)
	require.Empty(t, st.Joined)
	require.Empty(t, st.HostKeys)

	vims = &fakeVims{}
	req.State = installedState(t, withVim)
	res, err = offlineDriver(vims).TerminateEnd(offlineCtx(t), req)
	require.NoError(t, err)
	require.Equal(t, []string{"vim-9/inst-1"}, vims.deleted)
	require.Equal(t, []string{"vim-9"}, res.RemoveVimConnectionIDs)
	require.JSONEq(t, `{}`, string(res.State))

	// Nothing registered: no registry call.
	res, err = offlineDriver(nil).TerminateEnd(offlineCtx(t), &driver.Request{Instance: &model.VnfInstance{ID: "inst-1"}})
	require.NoError(t, err)
	require.Empty(t, res.RemoveVimConnectionIDs)
}

func TestScaleStartBeforeNetwork(t *testing.T) {
	v := sampleVNFD(t)
	info := func(level int) *model.InstantiatedVnfInfo {
		return &model.InstantiatedVnfInfo{
			FlavourID:   "simple",
			ScaleStatus: []model.ScaleInfo{{AspectID: "master_instance"}, {AspectID: "worker_instance", ScaleLevel: level}},
			VnfcResourceInfo: []model.VnfcResourceInfo{
				masterVNFC("master-1", "192.0.2.11", "192.0.2.111"),
				workerVNFC("worker-1", "192.0.2.21", "192.0.2.121"),
				workerVNFC("worker-2", "192.0.2.22", "192.0.2.122"),
			},
		}
	}
	req := func(params string, level int) *driver.Request {
		return &driver.Request{
			Instance: &model.VnfInstance{ID: "inst-1"},
			Vnfd:     v,
			Package:  testPackage(),
			Params:   json.RawMessage(params),
			State:    installedState(t, nil),
			Info:     info(level),
		}
	}

	for _, typ := range []string{"SCALE_IN", "SCALE_OUT"} {
		t.Run("master aspect "+typ, func(t *testing.T) {
			res, err := offlineDriver(nil).ScaleStart(offlineCtx(t), req(`{"type":"`+typ+`","aspectId":"master_instance","numberOfSteps":1}`, 0))
			require.Nil(t, res)
			pe := requireProblem(t, err, "master_instance", "scales workers only")
			require.Contains(t, pe.Title, "refused")
		})
	}
	t.Run("master aspect found in the VNFD without master_node.aspect_id", func(t *testing.T) {
		r := req(`{"type":"SCALE_IN","aspectId":"master_instance"}`, 0)
		r.State = installedState(t, func(st *state) { st.Install.Master.AspectID = "" })
		_, err := offlineDriver(nil).ScaleStart(offlineCtx(t), r)
		requireProblem(t, err, "scales workers only")
	})
	t.Run("scale out: nothing before", func(t *testing.T) {
		res, err := offlineDriver(nil).ScaleStart(offlineCtx(t), req(`{"type":"SCALE_OUT","aspectId":"worker_instance"}`, 0))
		require.NoError(t, err)
		require.Nil(t, res)
	})
	t.Run("scale in at level 0: no victim", func(t *testing.T) {
		res, err := offlineDriver(nil).ScaleStart(offlineCtx(t), req(`{"type":"SCALE_IN","aspectId":"worker_instance"}`, 0))
		require.NoError(t, err)
		require.Nil(t, res)
	})
	t.Run("not installed", func(t *testing.T) {
		r := req(`{"type":"SCALE_IN","aspectId":"master_instance"}`, 0)
		r.State = nil
		_, err := offlineDriver(nil).ScaleStart(offlineCtx(t), r)
		requireProblem(t, err, "no Kubernetes cluster installed")
	})
}

// ---- session helpers without network ---------------------------------------

func TestEndpointAndNodeEnv(t *testing.T) {
	d := offlineDriver(nil)
	m1 := node{VnfcID: "m1", Name: "masternode-m1", IP: "10.0.0.11", Master: true}
	m2 := node{VnfcID: "m2", Name: "masternode-m2", IP: "10.0.0.12", Master: true}

	t.Run("no VIP: the first master", func(t *testing.T) {
		s := d.session(&driver.Request{}, &state{Install: testParam()})
		s.setEndpoint("", m1)
		require.Equal(t, "10.0.0.11:8443", s.st.Endpoint)
		require.Empty(t, s.st.VIP)
		// Also when the first master is not first in the list any more
		// (after a heal): no K8S_VIP without a VIP.
		env := s.nodeEnv(m2, []node{m2, m1}, nil)
		require.NotContains(t, env, "K8S_VIP")
		env = s.nodeEnv(m2, []node{m1, m2}, map[string]string{"K8S_TOKEN": "t", "K8S_NODE_IP": "override"})
		require.Equal(t, map[string]string{
			"K8S_NODE_NAME":              "masternode-m2",
			"K8S_NODE_IP":                "override",
			"K8S_CONTROL_PLANE_ENDPOINT": "10.0.0.11:8443",
			"K8S_MASTER_IPS":             "10.0.0.11 10.0.0.12",
			"K8S_API_PORT":               "6443",
			"K8S_HAPROXY_PORT":           "8443",
			"K8S_TOKEN":                  "t",
		}, env)
	})
	t.Run("cluster_ip", func(t *testing.T) {
		p := testParam()
		p.Master.ClusterIP = "10.0.0.100"
		s := d.session(&driver.Request{}, &state{Install: p})
		s.setEndpoint("10.0.0.100", m1)
		require.Equal(t, "10.0.0.100:8443", s.st.Endpoint)
		env := s.nodeEnv(m1, []node{m1, m2}, nil)
		require.Equal(t, "10.0.0.100", env["K8S_VIP"])
		require.Equal(t, "10.0.0.100:8443", env["K8S_CONTROL_PLANE_ENDPOINT"])
	})
	t.Run("IPv6", func(t *testing.T) {
		s := d.session(&driver.Request{}, &state{Install: testParam()})
		s.setEndpoint("fd00::100", m1)
		require.Equal(t, "[fd00::100]:8443", s.st.Endpoint)
		require.Equal(t, "fd00::100", s.st.VIP)
	})
	require.Equal(t, "https://10.0.0.11:2379", etcdURL(true, "10.0.0.11", etcdClientPort))
	require.Equal(t, "http://[fd00::1]:2380", etcdURL(false, "fd00::1", etcdPeerPort))
	require.Equal(t, "master", role(m1))
	require.Equal(t, "worker", role(node{}))
}

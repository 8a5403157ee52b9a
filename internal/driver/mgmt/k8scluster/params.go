package k8scluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strings"

	"github.com/vnfm-project/vnfm/internal/driver"
)

// installParam is additionalParams.k8s_cluster_installation_param, named as
// in Tacker's Kubernetes management driver.
type installParam struct {
	ScriptPath     string            `json:"script_path"`
	VimName        string            `json:"vim_name,omitempty"`
	Master         nodeParam         `json:"master_node"`
	Worker         nodeParam         `json:"worker_node"`
	Proxy          map[string]string `json:"proxy,omitempty"`
	HelmScriptPath string            `json:"helm_installation_script_path,omitempty"`
}

// nodeParam describes one role's nodes: how to find them in the instance
// (aspect_id, ssh_cp_name, nic_cp_name) and how to log in.
type nodeParam struct {
	AspectID      string `json:"aspect_id,omitempty"`
	SSHCpName     string `json:"ssh_cp_name"`
	NicCpName     string `json:"nic_cp_name,omitempty"`
	Username      string `json:"username"`
	Password      string `json:"password,omitempty"`
	PrivateKey    string `json:"ssh_private_key,omitempty"`
	PodCIDR       string `json:"pod_cidr,omitempty"`
	ClusterCIDR   string `json:"cluster_cidr,omitempty"`
	ClusterCpName string `json:"cluster_cp_name,omitempty"`
	// ClusterIP is the virtual IP keepalived holds when it is not the
	// address of a CP the instance records (cluster_cp_name).
	ClusterIP string `json:"cluster_ip,omitempty"`
}

const (
	defaultPodCIDR     = "10.244.0.0/16"
	defaultServiceCIDR = "10.96.0.0/12"
)

// parseInstall reads and checks k8s_cluster_installation_param from an
// InstantiateVnfRequest body; pkg is the VNF package (scripts must be in it).
func parseInstall(params json.RawMessage, pkg fs.FS) (*installParam, error) {
	var req struct {
		AdditionalParams struct {
			Install *installParam `json:"k8s_cluster_installation_param"`
		} `json:"additionalParams"`
	}
	if err := json.Unmarshal(params, &req); err != nil {
		return nil, invalid("additionalParams.k8s_cluster_installation_param: %v", err)
	}
	p := req.AdditionalParams.Install
	if p == nil {
		return nil, invalid("additionalParams.k8s_cluster_installation_param is required by the %s management driver", Name)
	}
	if p.ScriptPath == "" {
		p.ScriptPath = "Scripts/install_k8s_cluster.sh"
	}
	if p.Master.PodCIDR == "" {
		p.Master.PodCIDR = defaultPodCIDR
	}
	if p.Master.ClusterCIDR == "" {
		p.Master.ClusterCIDR = defaultServiceCIDR
	}
	for _, r := range []struct {
		name string
		n    *nodeParam
	}{{"master_node", &p.Master}, {"worker_node", &p.Worker}} {
		if r.n.SSHCpName == "" {
			return nil, invalid("k8s_cluster_installation_param.%s.ssh_cp_name is required", r.name)
		}
		if r.n.NicCpName == "" {
			r.n.NicCpName = r.n.SSHCpName
		}
		if r.n.Username == "" {
			return nil, invalid("k8s_cluster_installation_param.%s.username is required", r.name)
		}
		if r.n.Password == "" && r.n.PrivateKey == "" {
			return nil, invalid("k8s_cluster_installation_param.%s needs password or ssh_private_key", r.name)
		}
	}
	if p.Master.ClusterIP != "" && net.ParseIP(p.Master.ClusterIP) == nil {
		return nil, invalid("k8s_cluster_installation_param.master_node.cluster_ip %q is not an IP address", p.Master.ClusterIP)
	}
	for _, cidr := range []string{p.Master.PodCIDR, p.Master.ClusterCIDR} {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return nil, invalid("k8s_cluster_installation_param.master_node: %q is not a CIDR", cidr)
		}
	}
	for _, s := range []struct{ name, path string }{{"script_path", p.ScriptPath}, {"helm_installation_script_path", p.HelmScriptPath}} {
		if s.path == "" {
			continue
		}
		if pkg == nil {
			return nil, invalid("k8s_cluster_installation_param.%s: the instance has no VNF package to take %s from", s.name, s.path)
		}
		clean := strings.TrimPrefix(path.Clean(s.path), "/")
		if !fs.ValidPath(clean) || clean == "." {
			return nil, invalid("k8s_cluster_installation_param.%s: %q is not a path inside the VNF package", s.name, s.path)
		}
		fi, err := fs.Stat(pkg, clean)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, invalid("k8s_cluster_installation_param.%s: %s is not in the VNF package", s.name, s.path)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s from the VNF package: %w", s.path, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, invalid("k8s_cluster_installation_param.%s: %s in the VNF package is not a file", s.name, s.path)
		}
	}
	return p, nil
}

// proxyEnv is the proxy part of a script's environment.
func (p *installParam) proxyEnv() map[string]string {
	env := map[string]string{}
	for k, v := range p.Proxy {
		switch strings.ToLower(k) {
		case "http_proxy":
			env["HTTP_PROXY"] = v
		case "https_proxy":
			env["HTTPS_PROXY"] = v
		case "no_proxy":
			env["NO_PROXY"] = v
		}
	}
	return env
}

// nodeParam returns the parameters of a role.
func (p *installParam) nodeParam(master bool) *nodeParam {
	if master {
		return &p.Master
	}
	return &p.Worker
}

func invalid(format string, args ...any) error {
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "Invalid Kubernetes cluster parameters", Err: fmt.Errorf(format, args...)}
}

func refused(format string, args ...any) error {
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "Operation refused by the Kubernetes cluster driver", Err: fmt.Errorf(format, args...)}
}

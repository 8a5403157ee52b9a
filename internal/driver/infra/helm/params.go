package helm

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/strvals"

	"github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// additionalParams names, as Tacker's v1 Helm support spells them.
const (
	ParamUseHelm       = "use_helm"
	ParamInstall       = "using_helm_install_param"
	ParamReplicaValues = "helm_replica_values"
	ParamVduMapping    = "vdu_mapping"
	// ParamTransport is vnfm's own: "sdk" (default, Helm in-process
	// against the VIM's API server) or "ssh" (the helm CLI on a master
	// named in the VIM's extra.helm_info, as Tacker v1 does).
	ParamTransport = "helm_transport"
)

const (
	transportSDK = "sdk"
	transportSSH = "ssh"
)

// installParam is one entry of using_helm_install_param: one release.
type installParam struct {
	Release   string
	External  bool
	ChartFile string   // helmchartfile_path, in the VNF package
	Params    []string // helmparameter: --set key=value
	RepoName  string   // helmrepositoryname
	ChartName string   // helmchartname
	RepoURL   string   // exthelmrepo_url
	Version   string   // helmchartversion (vnfm's addition; "" = latest)
}

// vduMapping is one entry of vdu_mapping: the workload backing a VDU.
type vduMapping struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Release string `json:"helmreleasename,omitempty"`
}

// helmParams are an InstantiateVnfRequest's Helm parameters.
type helmParams struct {
	Namespace     string
	Transport     string
	Installs      []installParam
	ReplicaValues map[string]string // aspect id -> values path of its replicas
	VduMapping    map[string]vduMapping
}

type instantiateParams struct {
	FlavourID            string         `json:"flavourId"`
	InstantiationLevelID string         `json:"instantiationLevelId"`
	AdditionalParams     map[string]any `json:"additionalParams"`
}

func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return unprocessable("invalid operation parameters", err)
	}
	return nil
}

// truth reads Tacker's booleans: true/false or "true"/"false".
func truth(v any, what string) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, unprocessable(fmt.Sprintf("additionalParams.%s must be true or false", what), nil)
}

func str(m map[string]any, key, where string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", unprocessable(fmt.Sprintf("%s.%s must be a string", where, key), nil)
	}
	return strings.TrimSpace(s), nil
}

// Wants reports whether an InstantiateVnfRequest asks for Helm
// (additionalParams.use_helm true), which is how Tacker v1 deploys a chart
// on a Kubernetes VIM.
func (d *Driver) Wants(params json.RawMessage) bool {
	var p instantiateParams
	if decode(params, &p) != nil {
		return false
	}
	ok, err := truth(p.AdditionalParams[ParamUseHelm], ParamUseHelm)
	return err == nil && ok
}

// parseParams validates the Helm parameters against the VNFD flavour (nil
// without a VNFD) and the package.
func parseParams(add map[string]any, vim *model.VimConnectionInfo, f *vnfd.Flavour, pkg fs.FS) (*helmParams, error) {
	p := &helmParams{Namespace: kubernetes.Namespace(add, vim), Transport: transportSDK}
	t, err := str(add, ParamTransport, "additionalParams")
	if err != nil {
		return nil, err
	}
	switch t {
	case "", transportSDK:
	case transportSSH:
		p.Transport = transportSSH
	default:
		return nil, unprocessable(fmt.Sprintf("additionalParams.%s must be %q or %q", ParamTransport, transportSDK, transportSSH), nil)
	}
	list, ok := add[ParamInstall].([]any)
	if !ok || len(list) == 0 {
		return nil, unprocessable("additionalParams."+ParamInstall+" must be a non-empty list", nil)
	}
	seen := map[string]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		where := fmt.Sprintf("additionalParams.%s[%d]", ParamInstall, i)
		if !ok {
			return nil, unprocessable(where+" must be an object", nil)
		}
		ip, err := parseInstall(m, where, pkg)
		if err != nil {
			return nil, err
		}
		if seen[ip.Release] {
			return nil, unprocessable(fmt.Sprintf("%s: helmreleasename %q is given twice", where, ip.Release), nil)
		}
		seen[ip.Release] = true
		p.Installs = append(p.Installs, ip)
	}

	p.ReplicaValues = map[string]string{}
	if v, ok := add[ParamReplicaValues]; ok && v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, unprocessable("additionalParams."+ParamReplicaValues+" must be an object {aspectId: values path}", nil)
		}
		for a, x := range m {
			s, ok := x.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return nil, unprocessable(fmt.Sprintf("additionalParams.%s.%s must be a values path such as replicaCount", ParamReplicaValues, a), nil)
			}
			p.ReplicaValues[a] = strings.TrimSpace(s)
		}
	}
	if f != nil {
		// As Tacker: every aspect needs its replica value, or it could
		// not be scaled later.
		for _, a := range f.Aspects() {
			if p.ReplicaValues[a.ID] == "" {
				return nil, unprocessable(fmt.Sprintf("additionalParams.%s: the replica value for aspectId %q is missing", ParamReplicaValues, a.ID), nil)
			}
		}
		for a := range p.ReplicaValues {
			if _, ok := f.Aspect(a); !ok {
				return nil, unprocessable(fmt.Sprintf("additionalParams.%s: %q is not an aspect of flavour %s", ParamReplicaValues, a, f.ID), nil)
			}
		}
	}

	p.VduMapping = map[string]vduMapping{}
	if v, ok := add[ParamVduMapping]; ok && v != nil {
		raw, _ := json.Marshal(v)
		if err := json.Unmarshal(raw, &p.VduMapping); err != nil {
			return nil, unprocessable("additionalParams."+ParamVduMapping+" must be {vduId: {kind, name}}", err)
		}
		for vdu, m := range p.VduMapping {
			where := fmt.Sprintf("additionalParams.%s.%s", ParamVduMapping, vdu)
			if f != nil {
				if _, ok := f.VDU(vdu); !ok {
					return nil, unprocessable(fmt.Sprintf("%s: %s is not a VDU of flavour %s", where, vdu, f.ID), nil)
				}
			}
			if !isWorkloadKind(m.Kind) || m.Name == "" {
				return nil, unprocessable(where+" needs kind (Deployment, StatefulSet, ReplicaSet, DaemonSet or Pod) and name", nil)
			}
			if m.Release != "" && !seen[m.Release] {
				return nil, unprocessable(fmt.Sprintf("%s: helmreleasename %q is not in %s", where, m.Release, ParamInstall), nil)
			}
		}
	}
	return p, nil
}

func parseInstall(m map[string]any, where string, pkg fs.FS) (installParam, error) {
	var ip installParam
	var err error
	if ip.External, err = truth(m["exthelmchart"], where+".exthelmchart"); err != nil {
		return ip, err
	}
	fields := []struct {
		key string
		dst *string
	}{
		{"helmreleasename", &ip.Release}, {"helmchartfile_path", &ip.ChartFile},
		{"helmrepositoryname", &ip.RepoName}, {"helmchartname", &ip.ChartName},
		{"exthelmrepo_url", &ip.RepoURL}, {"helmchartversion", &ip.Version},
	}
	for _, f := range fields {
		if *f.dst, err = str(m, f.key, where); err != nil {
			return ip, err
		}
	}
	if ip.Release == "" {
		return ip, unprocessable(where+".helmreleasename is missing", nil)
	}
	if v, ok := m["helmparameter"]; ok && v != nil {
		l, ok := v.([]any)
		if !ok {
			return ip, unprocessable(where+".helmparameter must be a list of \"key=value\"", nil)
		}
		for i, x := range l {
			s, ok := x.(string)
			if !ok {
				return ip, unprocessable(fmt.Sprintf("%s.helmparameter[%d] must be a string", where, i), nil)
			}
			// Validated now, so that a bad entry fails before anything is
			// deployed. Only the key is named: values may be secrets.
			if err := strvals.ParseInto(s, map[string]any{}); err != nil {
				key, _, _ := strings.Cut(s, "=")
				return ip, unprocessable(fmt.Sprintf("%s.helmparameter[%d] (key %q) is not key=value in --set syntax", where, i, key), nil)
			}
			ip.Params = append(ip.Params, s)
		}
	}
	if ip.External {
		if ip.RepoName == "" || ip.ChartName == "" || ip.RepoURL == "" {
			return ip, unprocessable(where+": an external chart needs helmrepositoryname, helmchartname and exthelmrepo_url", nil)
		}
		u, err := url.Parse(ip.RepoURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return ip, unprocessable(where+".exthelmrepo_url is not an http(s) URL", nil)
		}
		if strings.ContainsAny(ip.RepoName, "/ \t") {
			return ip, unprocessable(where+".helmrepositoryname must not contain '/' or blanks", nil)
		}
		return ip, nil
	}
	if ip.ChartFile == "" {
		return ip, unprocessable(where+".helmchartfile_path is missing (or set exthelmchart to true)", nil)
	}
	ip.ChartFile = path.Clean(strings.TrimPrefix(ip.ChartFile, "/"))
	if !fs.ValidPath(ip.ChartFile) {
		return ip, unprocessable(where+".helmchartfile_path must be a path inside the VNF package", nil)
	}
	// Without a package (a rollback reads only the names) nothing to check.
	if pkg == nil {
		return ip, nil
	}
	if _, err := fs.Stat(pkg, ip.ChartFile); err != nil {
		return ip, unprocessable(fmt.Sprintf("%s.helmchartfile_path: %s is not in the VNF package", where, ip.ChartFile), nil)
	}
	return ip, nil
}

// values builds a release's values from its helmparameter list.
func (ip installParam) values() (map[string]any, error) {
	vals := map[string]any{}
	for i, s := range ip.Params {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, unprocessable(fmt.Sprintf("helmparameter[%d] of release %s", i, ip.Release), nil)
		}
	}
	return vals, nil
}

// setPath sets a dotted values path (replicaCount, vdu1.replicas) to n,
// with --set semantics.
func setPath(vals map[string]any, p string, n int) error {
	if err := strvals.ParseInto(fmt.Sprintf("%s=%d", p, n), vals); err != nil {
		return unprocessable(fmt.Sprintf("replica values path %q is not a --set key", p), err)
	}
	return nil
}

func isWorkloadKind(k string) bool {
	switch k {
	case kubernetes.KindDeployment, kubernetes.KindStatefulSet, kubernetes.KindReplicaSet, kubernetes.KindDaemonSet, kubernetes.KindPod:
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

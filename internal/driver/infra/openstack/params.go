package openstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/mergepatch"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// hot is a flavour's Base HOT: the top template and the files Heat resolves
// nested templates from.
type hot struct {
	Name     string
	Template string
	Files    map[string]string
	// Params are the top template's declared parameter names.
	Params map[string]bool
}

// loadHOT reads BaseHOT/<flavour>/: the single YAML file directly in it is
// the template, every file under nested/ goes to files by base name and by
// its path from the flavour directory. Files are read from the package only:
// gophercloud's template helpers would fetch "type: x.yaml" from the local
// disk or any URL, which an untrusted package must not make vnfm do.
func loadHOT(pkg fs.FS, flavour string) (*hot, error) {
	if pkg == nil {
		return nil, unprocessable("no VNF package content: cannot read BaseHOT", nil)
	}
	dir := path.Join("BaseHOT", flavour)
	entries, err := fs.ReadDir(pkg, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, unprocessable(fmt.Sprintf("the VNF package has no %s/ directory for flavour %q", dir, flavour), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("read the VNF package: %w", err)
	}
	var tops []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			tops = append(tops, e.Name())
		}
	}
	switch len(tops) {
	case 0:
		return nil, unprocessable(fmt.Sprintf("no Heat template (*.yaml) in %s/", dir), nil)
	case 1:
	default:
		return nil, unprocessable(fmt.Sprintf("several Heat templates in %s/ (%s): expected exactly one", dir, strings.Join(tops, ", ")), nil)
	}
	raw, err := fs.ReadFile(pkg, path.Join(dir, tops[0]))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tops[0], err)
	}
	h := &hot{Name: path.Join(dir, tops[0]), Template: string(raw), Files: map[string]string{}}
	var parsed struct {
		Version    any            `yaml:"heat_template_version"`
		Parameters map[string]any `yaml:"parameters"`
	}
	if err := yaml.Unmarshal(raw, &parsed); err != nil {
		return nil, unprocessable(fmt.Sprintf("%s is not valid YAML", h.Name), err)
	}
	if parsed.Version == nil {
		return nil, unprocessable(fmt.Sprintf("%s has no heat_template_version", h.Name), nil)
	}
	h.Params = map[string]bool{}
	for p := range parsed.Parameters {
		h.Params[p] = true
	}
	nested := path.Join(dir, "nested")
	err = fs.WalkDir(pkg, nested, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == nested && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(pkg, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, dir+"/")
		h.Files[path.Base(p)] = string(b)
		h.Files[rel] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", nested, err)
	}
	return h, nil
}

// Operation parameters, as much of them as the driver needs (lcm holds the
// full types).
type (
	instantiateParams struct {
		FlavourID            string           `json:"flavourId"`
		InstantiationLevelID string           `json:"instantiationLevelId"`
		ExtVirtualLinks      []extVirtualLink `json:"extVirtualLinks"`
		AdditionalParams     map[string]any   `json:"additionalParams"`
	}
	extVirtualLink struct {
		ID              string        `json:"id"`
		VimConnectionID string        `json:"vimConnectionId"`
		ResourceID      string        `json:"resourceId"`
		ExtCps          []extCp       `json:"extCps"`
		ExtLinkPorts    []extLinkPort `json:"extLinkPorts"`
	}
	extCp struct {
		CpdID string `json:"cpdId"`
		// CpConfig is a list in SOL003 v2.6.1 and a map keyed by
		// cpConfigId from v3; both are read.
		CpConfig json.RawMessage `json:"cpConfig"`
	}
	cpConfig struct {
		CpInstanceID   string           `json:"cpInstanceId"`
		LinkPortID     string           `json:"linkPortId"`
		CpProtocolData []cpProtocolData `json:"cpProtocolData"`
	}
	cpProtocolData struct {
		LayerProtocol  string `json:"layerProtocol"`
		IPOverEthernet *struct {
			MacAddress  string `json:"macAddress"`
			IPAddresses []struct {
				Type           string   `json:"type"`
				FixedAddresses []string `json:"fixedAddresses"`
				SubnetID       string   `json:"subnetId"`
			} `json:"ipAddresses"`
		} `json:"ipOverEthernet"`
	}
	extLinkPort struct {
		ID             string               `json:"id"`
		ResourceHandle model.ResourceHandle `json:"resourceHandle"`
	}
)

func (c extCp) configs() ([]cpConfig, error) {
	if len(c.CpConfig) == 0 || string(c.CpConfig) == "null" {
		return nil, nil
	}
	var list []cpConfig
	if err := json.Unmarshal(c.CpConfig, &list); err == nil {
		return list, nil
	}
	var byID map[string]cpConfig
	if err := json.Unmarshal(c.CpConfig, &byID); err != nil {
		return nil, fmt.Errorf("extCps[%s].cpConfig: %w", c.CpdID, err)
	}
	keys := make([]string, 0, len(byID))
	for k := range byID {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		list = append(list, byID[k])
	}
	return list, nil
}

// cpParams maps external CPs to the nfv.CP entries of Tacker v2's HOT
// convention: {"network": <ext VL resourceId>} or {"port": <ext link port
// resourceId>}, plus fixed_ips from the CP's IP addresses.
func cpParams(links []extVirtualLink) (map[string]any, error) {
	out := map[string]any{}
	for _, l := range links {
		ports := map[string]string{}
		for _, p := range l.ExtLinkPorts {
			ports[p.ID] = p.ResourceHandle.ResourceID
		}
		for _, cp := range l.ExtCps {
			if cp.CpdID == "" {
				return nil, unprocessable(fmt.Sprintf("extVirtualLinks[%s].extCps[] without cpdId", l.ID), nil)
			}
			cfgs, err := cp.configs()
			if err != nil {
				return nil, unprocessable("invalid extVirtualLinks", err)
			}
			entry := map[string]any{}
			var fixed []any
			for _, c := range cfgs {
				if c.LinkPortID != "" {
					id, ok := ports[c.LinkPortID]
					if !ok || id == "" {
						return nil, unprocessable(fmt.Sprintf("extCps[%s]: linkPortId %q is not an extLinkPort of extVirtualLink %s", cp.CpdID, c.LinkPortID, l.ID), nil)
					}
					entry["port"] = id
					continue
				}
				for _, pd := range c.CpProtocolData {
					if pd.IPOverEthernet == nil {
						continue
					}
					for _, ip := range pd.IPOverEthernet.IPAddresses {
						for _, a := range ip.FixedAddresses {
							f := map[string]any{"ip_address": a}
							if ip.SubnetID != "" {
								f["subnet"] = ip.SubnetID
							}
							fixed = append(fixed, f)
						}
						if len(ip.FixedAddresses) == 0 && ip.SubnetID != "" {
							fixed = append(fixed, map[string]any{"subnet": ip.SubnetID})
						}
					}
				}
			}
			if _, isPort := entry["port"]; !isPort {
				if l.ResourceID == "" {
					return nil, unprocessable(fmt.Sprintf("extVirtualLink %s has no resourceId", l.ID), nil)
				}
				entry["network"] = l.ResourceID
				if len(fixed) > 0 {
					entry["fixed_ips"] = fixed
				}
			}
			out[cp.CpdID] = entry
		}
	}
	return out, nil
}

// vduParams is nfv.VDU: flavour (requested additional capability name),
// image (sw_image name) and desired_capacity of every VDU.
func vduParams(f *vnfd.Flavour, capacity func(vdu string) int) map[string]any {
	out := map[string]any{}
	for _, d := range f.VDUs() {
		e := map[string]any{"desired_capacity": capacity(d.Name)}
		if d.VirtualCompute != nil && len(d.VirtualCompute.AdditionalCapabilities) > 0 {
			e["flavor"] = d.VirtualCompute.AdditionalCapabilities[0]
			e["computeFlavourId"] = d.VirtualCompute.AdditionalCapabilities[0]
		}
		if d.SwImage != nil && d.SwImage.Name != "" {
			e["image"] = d.SwImage.Name
			e["vcImageId"] = d.SwImage.Name
		}
		out[d.Name] = e
	}
	return out
}

// stackParams builds the Heat parameters of an instantiation: nfv (when the
// template declares it) from the VNFD and the request, with
// additionalParams.nfv merged over it and the NFVO's grant over that (the
// NFVO decides which VIM assets and zones are used), and
// additionalParams.parameters.
func stackParams(h *hot, f *vnfd.Flavour, p *instantiateParams, g *driver.Grant) (map[string]any, error) {
	level := p.InstantiationLevelID
	if level != "" {
		if _, ok := f.Scaling.Levels[level]; !ok {
			return nil, unprocessable(fmt.Sprintf("instantiationLevelId %q is not a level of flavour %s", level, f.ID), nil)
		}
	}
	out := map[string]any{}
	if extra, ok := p.AdditionalParams["parameters"]; ok && extra != nil {
		m, ok := extra.(map[string]any)
		if !ok {
			return nil, unprocessable("additionalParams.parameters must be an object", nil)
		}
		for k, v := range m {
			out[k] = v
		}
	}
	if !h.Params["nfv"] {
		return out, nil
	}
	cps, err := cpParams(p.ExtVirtualLinks)
	if err != nil {
		return nil, err
	}
	nfv := map[string]any{
		"VDU": vduParams(f, func(vdu string) int { return f.InstancesAt(vdu, level) }),
		"CP":  cps,
	}
	if over, ok := p.AdditionalParams["nfv"]; ok && over != nil {
		m, ok := over.(map[string]any)
		if !ok {
			return nil, unprocessable("additionalParams.nfv must be an object", nil)
		}
		nfv = mergepatch.Objects(nfv, m)
	}
	applyGrant(nfv, f, g)
	out["nfv"] = nfv
	return out, nil
}

// applyGrant sets the granted flavour, image and zone of each VDU in nfv.VDU,
// with the parameter names Tacker's v2 templates use (computeFlavourId,
// vcImageId, locationConstraints) and those of the v1 samples (flavor,
// image).
func applyGrant(nfv map[string]any, f *vnfd.Flavour, g *driver.Grant) {
	if g == nil {
		return
	}
	vdus, _ := nfv["VDU"].(map[string]any)
	for _, d := range f.VDUs() {
		e, ok := vdus[d.Name].(map[string]any)
		if !ok {
			continue
		}
		if fl, ok := g.Flavours[d.Name]; ok {
			e["flavor"], e["computeFlavourId"] = fl, fl
		}
		img, ok := g.Images[d.Name]
		if !ok && d.SwImage != nil {
			img, ok = g.Images[d.SwImage.Name]
		}
		if ok {
			e["image"], e["vcImageId"] = img, img
		}
		if z, ok := g.Zones[d.Name]; ok {
			e["locationConstraints"] = z
		}
	}
}

// timeoutMins reads additionalParams.stack_timeout_mins (0 = none given).
func timeoutMins(add map[string]any) (int, error) {
	v, ok := add["stack_timeout_mins"]
	if !ok || v == nil {
		return 0, nil
	}
	var n float64
	switch t := v.(type) {
	case float64:
		n = t
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return 0, unprocessable("additionalParams.stack_timeout_mins must be a positive number", nil)
		}
		n = f
	default:
		return 0, unprocessable("additionalParams.stack_timeout_mins must be a positive number", nil)
	}
	if n < 1 || n != float64(int(n)) {
		return 0, unprocessable("additionalParams.stack_timeout_mins must be a positive integer", nil)
	}
	return int(n), nil
}

// nfvOf returns a deep copy of the nfv parameter in params (nil if none).
func nfvOf(params map[string]any) map[string]any {
	n, _ := params["nfv"].(map[string]any)
	if n == nil {
		return nil
	}
	return deepCopy(n)
}

func deepCopy(m map[string]any) map[string]any {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// setPath sets m[k1][k2]...[kn] = v, creating maps on the way.
func setPath(m map[string]any, v any, keys ...string) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// titleInvalid is the ProblemDetails title of a request the driver refuses.
const titleInvalid = "Invalid request for the OpenStack driver"

func unprocessable(msg string, err error) error {
	if err != nil {
		err = fmt.Errorf("%s: %w", msg, err)
	} else {
		err = errors.New(msg)
	}
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: titleInvalid, Err: err}
}

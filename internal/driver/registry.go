package driver

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknownDriver is returned for a VIM type or management driver name
// nobody registered.
var ErrUnknownDriver = errors.New("no driver registered")

// Registry maps VIM types to infrastructure drivers and VNFD artifact names
// to management drivers. It is filled once in cmd/vnfm (or a test) and read
// concurrently afterwards.
type Registry struct {
	infra map[string]Infra
	mgmt  map[string]Mgmt
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{infra: map[string]Infra{}, mgmt: map[string]Mgmt{}}
}

// RegisterInfra makes d the driver for each VIM type (case-insensitive, so
// Tacker's "openstack" and ETSI's "ETSINFV.OPENSTACK_KEYSTONE.V_3" can both
// be given).
func (r *Registry) RegisterInfra(d Infra, vimTypes ...string) {
	for _, t := range vimTypes {
		r.infra[strings.ToLower(t)] = d
	}
}

// RegisterMgmt makes d the management driver named name.
func (r *Registry) RegisterMgmt(name string, d Mgmt) {
	r.mgmt[name] = d
}

// Infra returns the driver for a VIM type.
func (r *Registry) Infra(vimType string) (Infra, error) {
	if d, ok := r.infra[strings.ToLower(vimType)]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("vimType %q: %w (known: %s)", vimType, ErrUnknownDriver, strings.Join(r.InfraTypes(), ", "))
}

// InfraTypes lists the registered VIM types.
func (r *Registry) InfraTypes() []string {
	out := make([]string, 0, len(r.infra))
	for t := range r.infra {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Mgmt returns the management driver called name.
func (r *Registry) Mgmt(name string) (Mgmt, error) {
	if d, ok := r.mgmt[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("management driver %q: %w", name, ErrUnknownDriver)
}

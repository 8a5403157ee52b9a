// Command vnfm is an ETSI NFV SOL002/SOL003 VNF Manager.
//
//	vnfm serve     run the API server and the operation conductor
//	vnfm migrate   apply database migrations and exit
//	vnfm version   print the version
package main

import (
	"os"
	"path/filepath"

	"github.com/vnfm-project/vnfm/internal/cli"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/helm"
	"github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/driver/infra/openstack"
	"github.com/vnfm-project/vnfm/internal/driver/mgmt/k8scluster"
	"github.com/vnfm-project/vnfm/internal/server"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.Wiring{Drivers: drivers}))
}

// drivers is the registry of the drivers this binary ships.
func drivers(d server.Deps) *driver.Registry {
	reg := driver.NewRegistry()
	reg.RegisterInfra(openstack.New(openstack.Config{}), openstack.VimTypes...)
	h := helm.New(helm.Config{Log: d.Log, DataDir: filepath.Join(d.DataDir, "helm")})
	// Tacker's kubernetes VIM serves manifests and, with use_helm, charts.
	reg.RegisterInfra(helm.OnKubernetes(kubernetes.New(kubernetes.Config{Log: d.Log}), h), kubernetes.VimTypes...)
	reg.RegisterInfra(h, helm.VimTypes...)
	reg.RegisterMgmt(k8scluster.Name, k8scluster.New(k8scluster.Config{Vims: d.Vims, Log: d.Log}))
	return reg
}

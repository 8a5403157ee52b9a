// Command vnfm is an ETSI NFV SOL002/SOL003 VNF Manager.
//
//	vnfm serve     run the API server and the operation conductor
//	vnfm migrate   apply database migrations and exit
//	vnfm version   print the version
package main

import (
	"os"

	"github.com/vnfm-project/vnfm/internal/cli"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/openstack"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.Wiring{Drivers: drivers}))
}

// drivers is the registry of the drivers this binary ships. The
// Kubernetes and Helm infrastructure drivers and the management drivers
// are added here as they land.
func drivers() *driver.Registry {
	reg := driver.NewRegistry()
	reg.RegisterInfra(openstack.New(openstack.Config{}), openstack.VimTypes...)
	return reg
}

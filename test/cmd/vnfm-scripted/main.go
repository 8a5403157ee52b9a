// Command vnfm-scripted is vnfm with the scripted test driver registered
// (vimType TEST.SCRIPTED.V_1, management driver "scripted"). The crash and
// Tacker CLI tests run it as a real process.
package main

import (
	"os"

	"github.com/vnfm-project/vnfm/internal/cli"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/test/scripted"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, cli.Wiring{
		Drivers: func(server.Deps) *driver.Registry {
			reg := driver.NewRegistry()
			scripted.New().Register(reg)
			return reg
		},
		Vnfds: scripted.Vnfds{},
	}))
}

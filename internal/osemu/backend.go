package osemu

import "context"

// Backend gives emulated Nova servers a body. The "plain" backend (Plain)
// keeps them as API objects only; the "namespace" backend (package
// osemu/netns) runs each server as a Linux network namespace with its port
// addresses and a real sshd.
type Backend interface {
	// Start brings a server up. It is called when Nova creates the server
	// and again, with the same spec, after the emulator restarts from its
	// state file; it must be idempotent.
	Start(ctx context.Context, s ServerSpec) error
	// Stop tears a server down; stopping an unknown server is not an error.
	Stop(ctx context.Context, id string) error
	// Close releases what the backend holds (not the servers' state).
	Close() error
}

// ServerSpec is what a backend needs to know about a server.
type ServerSpec struct {
	ID   string // Nova server id (UUID)
	Name string
	// Ports in the order of the server's networks.
	Ports []PortSpec
	// AuthorizedKeys are the public keys (OpenSSH authorized_keys format) of
	// the server's key_name keypair, empty when it has none.
	AuthorizedKeys []string
	// UserData is the decoded user_data, if any.
	UserData string
}

// PortSpec is one of a server's Neutron ports.
type PortSpec struct {
	ID          string
	NetworkID   string
	NetworkName string
	MAC         string
	IP          string // fixed IPv4 address
	CIDR        string // the subnet's CIDR, e.g. 10.10.0.0/24
	Gateway     string // the subnet's gateway, may be empty
}

// Plain is the API-only backend.
type Plain struct{}

func (Plain) Start(context.Context, ServerSpec) error { return nil }
func (Plain) Stop(context.Context, string) error      { return nil }
func (Plain) Close() error                            { return nil }

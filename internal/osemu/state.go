package osemu

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// state is everything the emulator persists. All fields are guarded by
// Emulator.mu. Values inside templates, parameters and properties are kept in
// their JSON form (map[string]any, []any, float64, ...) so that a reload
// compares equal to what was in memory.
type state struct {
	ProjectID string `json:"project_id"`
	UserID    string `json:"user_id"`

	Stacks   map[string]*stack   `json:"stacks"`
	Servers  map[string]*server  `json:"servers"`
	Networks map[string]*network `json:"networks"`
	Subnets  map[string]*subnet  `json:"subnets"`
	Ports    map[string]*port    `json:"ports"`
	Keypairs map[string]*keypair `json:"keypairs"`
}

type stack struct {
	ID              string               `json:"id"`
	Name            string               `json:"name"`
	ParentID        string               `json:"parent_id,omitempty"`
	ParentResource  string               `json:"parent_resource,omitempty"`
	Action          string               `json:"action"`
	Status          string               `json:"status"`
	Reason          string               `json:"reason"`
	Created         time.Time            `json:"created"`
	Updated         time.Time            `json:"updated,omitzero"`
	Template        map[string]any       `json:"template"`
	Files           map[string]string    `json:"files,omitempty"`
	Params          map[string]any       `json:"params,omitempty"` // as supplied by the user (merged for PATCH)
	EnvParams       map[string]any       `json:"env_params,omitempty"`
	Registry        map[string]string    `json:"registry,omitempty"` // resource_registry type → file
	Resolved        map[string]any       `json:"resolved,omitempty"` // typed parameter values in use
	TimeoutMins     int                  `json:"timeout_mins,omitempty"`
	DisableRollback bool                 `json:"disable_rollback"`
	BaseURL         string               `json:"base_url"` // public base seen at creation, for URLs built asynchronously
	Resources       map[string]*resource `json:"resources"`
	Events          []event              `json:"events,omitempty"`
	// busy is set while an action goroutine owns the stack (not persisted).
	busy *actionRun
}

func (s *stack) status() string { return s.Action + "_" + s.Status }

type resource struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	PhysicalID string         `json:"physical_id,omitempty"`
	Action     string         `json:"action"`
	Status     string         `json:"status"`
	Reason     string         `json:"reason"`
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
	Props      map[string]any `json:"props,omitempty"`
	NestedID   string         `json:"nested_id,omitempty"`
	Deps       []string       `json:"deps,omitempty"`
}

func (r *resource) status() string { return r.Action + "_" + r.Status }

type event struct {
	ID         string    `json:"id"`
	Resource   string    `json:"resource"`
	PhysicalID string    `json:"physical_id"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason"`
	Time       time.Time `json:"time"`
}

type server struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Status      string            `json:"status"`
	ReadyAt     time.Time         `json:"ready_at"` // BUILD turns ACTIVE then
	FlavorID    string            `json:"flavor_id"`
	Image       string            `json:"image"`
	KeyName     string            `json:"key_name,omitempty"`
	UserData    string            `json:"user_data,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	PortIDs     []string          `json:"port_ids"`
	Created     time.Time         `json:"created"`
	Updated     time.Time         `json:"updated"`
	FaultReason string            `json:"fault_reason,omitempty"`
}

// effectiveStatus resolves the lazy BUILD → ACTIVE transition.
func (s *server) effectiveStatus(now time.Time) string {
	if s.Status == "BUILD" && !now.Before(s.ReadyAt) {
		return "ACTIVE"
	}
	return s.Status
}

type network struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Shared    bool      `json:"shared"`
	External  bool      `json:"external"`
	SubnetIDs []string  `json:"subnet_ids"`
	Created   time.Time `json:"created"`
}

type subnet struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	NetworkID string    `json:"network_id"`
	CIDR      string    `json:"cidr"`
	Gateway   string    `json:"gateway"`
	Created   time.Time `json:"created"`
}

type fixedIP struct {
	SubnetID string `json:"subnet_id"`
	IP       string `json:"ip_address"`
}

type port struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	NetworkID string    `json:"network_id"`
	MAC       string    `json:"mac_address"`
	FixedIPs  []fixedIP `json:"fixed_ips"`
	DeviceID  string    `json:"device_id"`
	// Implicit ports are created by Nova for {network: ...} server NICs and
	// die with their server.
	Implicit bool      `json:"implicit,omitempty"`
	Created  time.Time `json:"created"`
}

type keypair struct {
	Name        string    `json:"name"`
	PublicKey   string    `json:"public_key"`
	Fingerprint string    `json:"fingerprint"`
	Created     time.Time `json:"created"`
}

func newState() *state {
	s := &state{ProjectID: hexID(), UserID: hexID()}
	s.fillNil()
	return s
}

// fillNil makes a loaded state safe to use even when maps were absent.
func (s *state) fillNil() {
	if s.Stacks == nil {
		s.Stacks = map[string]*stack{}
	}
	if s.Servers == nil {
		s.Servers = map[string]*server{}
	}
	if s.Networks == nil {
		s.Networks = map[string]*network{}
	}
	if s.Subnets == nil {
		s.Subnets = map[string]*subnet{}
	}
	if s.Ports == nil {
		s.Ports = map[string]*port{}
	}
	if s.Keypairs == nil {
		s.Keypairs = map[string]*keypair{}
	}
	for _, st := range s.Stacks {
		if st.Resources == nil {
			st.Resources = map[string]*resource{}
		}
	}
}

func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode state %s: %w", path, err)
	}
	s.fillNil()
	if s.ProjectID == "" {
		s.ProjectID = hexID()
	}
	if s.UserID == "" {
		s.UserID = hexID()
	}
	return &s, nil
}

// writeFileAtomic writes via a temp file and rename so that a crash never
// leaves a truncated state file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp state: %w", err)
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write temp state: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close temp state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename state: %w", err)
	}
	return nil
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return b
}

func newUUID() string {
	b := randBytes(16)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// hexID is the 32-hex-digit id style of Keystone.
func hexID() string { return fmt.Sprintf("%x", randBytes(16)) }

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// randName returns n random lowercase alphanumerics, like Heat's short ids.
func randName(n int) string {
	b := randBytes(n)
	for i := range b {
		b[i] = lowerAlnum[int(b[i])%len(lowerAlnum)]
	}
	return string(b)
}

func randMAC() string {
	b := randBytes(3)
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
}

const heatTime = "2006-01-02T15:04:05Z"

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(heatTime)
}

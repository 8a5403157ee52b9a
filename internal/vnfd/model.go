package vnfd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Base type names the parser understands natively (ETSI GS NFV-SOL 001).
const (
	TypeVNF                 = "tosca.nodes.nfv.VNF"
	TypeVduCompute          = "tosca.nodes.nfv.Vdu.Compute"
	TypeVirtualBlockStorage = "tosca.nodes.nfv.Vdu.VirtualBlockStorage"
	TypeVduCp               = "tosca.nodes.nfv.VduCp"
	TypeVnfVirtualLink      = "tosca.nodes.nfv.VnfVirtualLink"

	PolicyScalingAspects         = "tosca.policies.nfv.ScalingAspects"
	PolicyVduScalingAspectDeltas = "tosca.policies.nfv.VduScalingAspectDeltas"
	PolicyInstantiationLevels    = "tosca.policies.nfv.InstantiationLevels"
	PolicyVduInstantiationLevels = "tosca.policies.nfv.VduInstantiationLevels"
	PolicyVduInitialDelta        = "tosca.policies.nfv.VduInitialDelta"
	PolicyAffinityRule           = "tosca.policies.nfv.AffinityRule"
	PolicyAntiAffinityRule       = "tosca.policies.nfv.AntiAffinityRule"
	PolicySecurityGroupRule      = "tosca.policies.nfv.SecurityGroupRule"

	ArtifactPython  = "tosca.artifacts.Implementation.Python"
	ArtifactSwImage = "tosca.artifacts.nfv.SwImage"

	// LcmInterface is the name of the VNF node's lifecycle interface.
	LcmInterface = "Vnflcm"
	// MgmtDriverPrefix marks an artifact as a management driver by name.
	MgmtDriverPrefix = "mgmt-drivers"
)

// VNFD is a parsed SOL001 VNF descriptor. Every field is exported and the
// value survives json.Marshal followed by FromJSON unchanged, so it can be
// stored with the package and reloaded. Raw ("opaque") values anywhere in
// the model are in the form encoding/json gives with UseNumber: numbers are
// json.Number, mappings map[string]any, lists []any.
type VNFD struct {
	// Entry is the entry definitions file the VNFD was parsed from.
	Entry string `json:"entry"`
	// Files lists every file read, imports before the files importing them.
	Files                   []string `json:"files,omitempty"`
	ToscaDefinitionsVersion string   `json:"toscaDefinitionsVersion,omitempty"`
	Description             string   `json:"description,omitempty"`

	// Info holds the VNF node's identifying properties.
	Info Info `json:"info"`
	// VNF is the top-level VNF node template (outside any flavour file); nil
	// when only flavour files carry a VNF node.
	VNF *VNFNode `json:"vnf,omitempty"`
	// DeploymentFlavours maps flavour id to flavour.
	DeploymentFlavours map[string]*Flavour `json:"flavours,omitempty"`

	// Types defined by the package (the ETSI types are known natively and
	// not listed).
	NodeTypes   map[string]*Type `json:"nodeTypes,omitempty"`
	PolicyTypes map[string]*Type `json:"policyTypes,omitempty"`
	DataTypes   map[string]*Type `json:"dataTypes,omitempty"`
}

// Info holds the properties of tosca.nodes.nfv.VNF that identify a VNF.
// Each comes from the top-level VNF node, else a flavour's VNF node, else
// the default in the VNF node type (walking derived_from); a {get_input: x}
// value takes topology input x's default.
type Info struct {
	DescriptorID           string   `json:"descriptorId,omitempty"`
	DescriptorVersion      string   `json:"descriptorVersion,omitempty"`
	Provider               string   `json:"provider,omitempty"`
	ProductName            string   `json:"productName,omitempty"`
	SoftwareVersion        string   `json:"softwareVersion,omitempty"`
	ProductInfoName        string   `json:"productInfoName,omitempty"`
	ProductInfoDescription string   `json:"productInfoDescription,omitempty"`
	VnfmInfo               []string `json:"vnfmInfo,omitempty"`
	// FlavourID is the VNF node's flavour_id when it resolves to a literal
	// (often the node type's default), else "".
	FlavourID string `json:"flavourId,omitempty"`
	// FlavourIDs are the ids of the deployment flavours defined, sorted.
	FlavourIDs []string `json:"flavourIds,omitempty"`
	// NodeType is the VNF node's type (e.g. company.provider.VNF).
	NodeType string `json:"nodeType,omitempty"`
}

// VNFNode is a node template of type tosca.nodes.nfv.VNF (or derived).
type VNFNode struct {
	Name         string                `json:"name"`
	Type         string                `json:"type"`
	File         string                `json:"file"`
	Line         int                   `json:"line,omitempty"`
	Properties   map[string]any        `json:"properties,omitempty"`
	Interfaces   map[string]*Interface `json:"interfaces,omitempty"`
	Artifacts    map[string]*Artifact  `json:"artifacts,omitempty"`
	Requirements []Requirement         `json:"requirements,omitempty"`
}

// Interface is an interface assignment on a node template, e.g. Vnflcm.
type Interface struct {
	Type       string                `json:"type,omitempty"`
	Inputs     map[string]any        `json:"inputs,omitempty"`
	Operations map[string]*Operation `json:"operations,omitempty"`
}

// Operation is one interface operation (a Vnflcm hook such as heal_end).
type Operation struct {
	// Implementation names an artifact of the node (or, rarely, a file).
	Implementation string         `json:"implementation,omitempty"`
	Dependencies   []string       `json:"dependencies,omitempty"`
	Description    string         `json:"description,omitempty"`
	Inputs         map[string]any `json:"inputs,omitempty"`
}

// Artifact is a node template artifact.
type Artifact struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	// File is the file as written in the VNFD.
	File string `json:"file,omitempty"`
	// Path is File resolved to a path inside the package: relative to the
	// defining file's directory when that exists, else to the package root.
	// "" when File is a URL or points outside the package.
	Path        string         `json:"path,omitempty"`
	Description string         `json:"description,omitempty"`
	DeployPath  string         `json:"deployPath,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"` // other keys (checksum, properties, ...)
}

// Requirement is one requirement assignment of a node template.
type Requirement struct {
	Name string `json:"name"`
	// Node is the target node template (short form, or the node key).
	Node string `json:"node,omitempty"`
	Raw  any    `json:"raw,omitempty"` // the extended form, when used
}

// Flavour is a deployment flavour: the topology template of one flavour
// file (substitution_mappings with node_type and properties.flavour_id).
type Flavour struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	// NodeType is substitution_mappings.node_type.
	NodeType string `json:"nodeType,omitempty"`
	// VNF is the flavour's VNF node: it carries the Vnflcm interface and the
	// artifacts implementing it.
	VNF *VNFNode `json:"vnf,omitempty"`
	// TopologyInputs is topology_template.inputs as written.
	TopologyInputs map[string]any `json:"topologyInputs,omitempty"`
	// SubstitutionRequirements is substitution_mappings.requirements
	// (external virtual link name -> [node, requirement]).
	SubstitutionRequirements map[string][]string `json:"substitutionRequirements,omitempty"`
	// LcmInputs are the additional parameters declared on the Vnflcm
	// interface, see VNFD.Inputs.
	LcmInputs []Input `json:"lcmInputs,omitempty"`

	Topology Topology `json:"topology"`
	Scaling  Scaling  `json:"scaling"`
	// Policies lists every policy of the flavour in file order, understood
	// or not, with its properties kept raw.
	Policies []*Policy `json:"policies,omitempty"`
}

// Topology holds a flavour's node templates by kind, and placement and
// security rules.
type Topology struct {
	VDUs         map[string]*VDU         `json:"vdus,omitempty"`
	Storages     map[string]*Storage     `json:"storages,omitempty"`
	Cps          map[string]*Cp          `json:"cps,omitempty"`
	VirtualLinks map[string]*VirtualLink `json:"virtualLinks,omitempty"`
	// Others holds node templates of types the parser does not interpret.
	Others             map[string]*Node     `json:"others,omitempty"`
	AffinityRules      []*AffinityRule      `json:"affinityRules,omitempty"`
	SecurityGroupRules []*SecurityGroupRule `json:"securityGroupRules,omitempty"`
}

// Scaling holds a flavour's scaling aspects and instantiation levels.
type Scaling struct {
	Aspects map[string]*Aspect             `json:"aspects,omitempty"`
	Levels  map[string]*InstantiationLevel `json:"levels,omitempty"`
	// DefaultLevel is InstantiationLevels.default_level as written.
	DefaultLevel string `json:"defaultLevel,omitempty"`
	// VduLevels is VduInstantiationLevels: vdu -> level -> instances.
	VduLevels map[string]map[string]int `json:"vduLevels,omitempty"`
	// InitialDeltas is VduInitialDelta: vdu -> instances.
	InitialDeltas map[string]int `json:"initialDeltas,omitempty"`
}

// Aspect is a scaling aspect with the VDU deltas that refer to it.
type Aspect struct {
	ID            string   `json:"id"`
	Name          string   `json:"name,omitempty"`
	Description   string   `json:"description,omitempty"`
	MaxScaleLevel int      `json:"maxScaleLevel"`
	StepDeltas    []string `json:"stepDeltas,omitempty"`
	// Deltas is from VduScalingAspectDeltas: delta id -> vdu -> instances.
	Deltas map[string]map[string]int `json:"deltas,omitempty"`
}

// InstantiationLevel is one level of tosca.policies.nfv.InstantiationLevels.
type InstantiationLevel struct {
	ID          string `json:"id"`
	Description string `json:"description,omitempty"`
	// ScaleInfo is aspect -> scale level.
	ScaleInfo map[string]int `json:"scaleInfo,omitempty"`
}

// VDU is a tosca.nodes.nfv.Vdu.Compute node template (or derived type).
type VDU struct {
	// Name is the node template name (VDU id in the LCM API).
	Name string `json:"name"`
	Type string `json:"type"`
	Line int    `json:"line,omitempty"`
	// VduName is properties.name.
	VduName        string          `json:"vduName,omitempty"`
	Description    string          `json:"description,omitempty"`
	Profile        VduProfile      `json:"profile"`
	SwImage        *SwImageData    `json:"swImage,omitempty"`
	VirtualCompute *VirtualCompute `json:"virtualCompute,omitempty"`
	// VirtualStorages are the targets of virtual_storage requirements.
	VirtualStorages []string             `json:"virtualStorages,omitempty"`
	Artifacts       map[string]*Artifact `json:"artifacts,omitempty"`
	// Properties, Capabilities: everything as written, understood or not.
	Properties   map[string]any `json:"properties,omitempty"`
	Capabilities map[string]any `json:"capabilities,omitempty"`
	Requirements []Requirement  `json:"requirements,omitempty"`
}

// VduProfile is vdu_profile.
type VduProfile struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// SwImageData is sw_image_data. Sizes keep their text ("2 GB") and are
// also given in bytes.
type SwImageData struct {
	Name                                string   `json:"name,omitempty"`
	Version                             string   `json:"version,omitempty"`
	Provider                            string   `json:"provider,omitempty"`
	Checksum                            Checksum `json:"checksum"`
	ContainerFormat                     string   `json:"containerFormat,omitempty"`
	DiskFormat                          string   `json:"diskFormat,omitempty"`
	MinDisk                             string   `json:"minDisk,omitempty"`
	MinDiskBytes                        int64    `json:"minDiskBytes,omitempty"`
	MinRAM                              string   `json:"minRam,omitempty"`
	MinRAMBytes                         int64    `json:"minRamBytes,omitempty"`
	Size                                string   `json:"size,omitempty"`
	SizeBytes                           int64    `json:"sizeBytes,omitempty"`
	OperatingSystem                     string   `json:"operatingSystem,omitempty"`
	SupportedVirtualisationEnvironments []string `json:"supportedVirtualisationEnvironments,omitempty"`
}

// Checksum is a ChecksumData (or the older plain-string checksum, kept in
// Hash).
type Checksum struct {
	Algorithm string `json:"algorithm,omitempty"`
	Hash      string `json:"hash,omitempty"`
}

// VirtualCompute is capabilities.virtual_compute.properties.
type VirtualCompute struct {
	VirtualMemSize      string         `json:"virtualMemSize,omitempty"`
	VirtualMemSizeBytes int64          `json:"virtualMemSizeBytes,omitempty"`
	NumVirtualCPU       int            `json:"numVirtualCpu,omitempty"`
	CPUArchitecture     string         `json:"cpuArchitecture,omitempty"`
	LocalStorage        []LocalStorage `json:"localStorage,omitempty"`
	// AdditionalCapabilities are the requested_additional_capability_name
	// values (Tacker uses them as the Nova flavour name), sorted.
	AdditionalCapabilities []string `json:"additionalCapabilities,omitempty"`
}

// LocalStorage is one virtual_local_storage entry.
type LocalStorage struct {
	SizeOfStorage      string `json:"sizeOfStorage,omitempty"`
	SizeOfStorageBytes int64  `json:"sizeOfStorageBytes,omitempty"`
}

// Storage is a tosca.nodes.nfv.Vdu.VirtualBlockStorage node template.
type Storage struct {
	Name               string               `json:"name"`
	Type               string               `json:"type"`
	Line               int                  `json:"line,omitempty"`
	SizeOfStorage      string               `json:"sizeOfStorage,omitempty"`
	SizeOfStorageBytes int64                `json:"sizeOfStorageBytes,omitempty"`
	RdmaEnabled        bool                 `json:"rdmaEnabled,omitempty"`
	SwImage            *SwImageData         `json:"swImage,omitempty"`
	Artifacts          map[string]*Artifact `json:"artifacts,omitempty"`
	Properties         map[string]any       `json:"properties,omitempty"`
}

// Cp is a tosca.nodes.nfv.VduCp node template.
type Cp struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Line int    `json:"line,omitempty"`
	// VirtualBinding is the VDU the CP is bound to.
	VirtualBinding string `json:"virtualBinding,omitempty"`
	// VirtualLink is the internal VL it connects to ("" when external).
	VirtualLink    string         `json:"virtualLink,omitempty"`
	LayerProtocols []string       `json:"layerProtocols,omitempty"`
	Order          *int           `json:"order,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
	Requirements   []Requirement  `json:"requirements,omitempty"`
}

// VirtualLink is a tosca.nodes.nfv.VnfVirtualLink node template.
type VirtualLink struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Line        int    `json:"line,omitempty"`
	Description string `json:"description,omitempty"`
	// LayerProtocols is connectivity_type.layer_protocols.
	LayerProtocols []string       `json:"layerProtocols,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
}

// Node is a node template of a type the parser does not interpret.
type Node struct {
	Name         string               `json:"name"`
	Type         string               `json:"type"`
	Line         int                  `json:"line,omitempty"`
	Properties   map[string]any       `json:"properties,omitempty"`
	Capabilities map[string]any       `json:"capabilities,omitempty"`
	Requirements []Requirement        `json:"requirements,omitempty"`
	Artifacts    map[string]*Artifact `json:"artifacts,omitempty"`
	Interfaces   map[string]any       `json:"interfaces,omitempty"`
}

// Policy is any policy of a flavour, as written.
type Policy struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// BaseType is the tosca.policies.nfv type Type derives from, when it is
	// one the parser understands; "" otherwise.
	BaseType   string         `json:"baseType,omitempty"`
	Line       int            `json:"line,omitempty"`
	Targets    []string       `json:"targets,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// AffinityRule is a tosca.policies.nfv.AffinityRule or AntiAffinityRule.
type AffinityRule struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Affinity is true for AffinityRule, false for AntiAffinityRule.
	Affinity bool     `json:"affinity"`
	Scope    string   `json:"scope,omitempty"`
	Targets  []string `json:"targets,omitempty"`
}

// SecurityGroupRule is a tosca.policies.nfv.SecurityGroupRule (SOL001
// defaults applied: ingress, ipv4, tcp, ports 0-65535).
type SecurityGroupRule struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Direction    string   `json:"direction"`
	EtherType    string   `json:"etherType"`
	Protocol     string   `json:"protocol"`
	PortRangeMin int      `json:"portRangeMin"`
	PortRangeMax int      `json:"portRangeMax"`
	Targets      []string `json:"targets,omitempty"`
}

// Type is a node, policy or data type defined in the package.
type Type struct {
	Name        string                  `json:"name"`
	DerivedFrom string                  `json:"derivedFrom,omitempty"`
	Description string                  `json:"description,omitempty"`
	File        string                  `json:"file"`
	Line        int                     `json:"line,omitempty"`
	Properties  map[string]*PropertyDef `json:"properties,omitempty"`
	// Definition is the whole type definition as written.
	Definition map[string]any `json:"definition,omitempty"`
}

// PropertyDef is a property (or input, or data type field) definition.
type PropertyDef struct {
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	Required    *bool  `json:"required,omitempty"`
	Default     any    `json:"default,omitempty"`
	EntrySchema any    `json:"entrySchema,omitempty"`
	Constraints any    `json:"constraints,omitempty"`
}

// Input is an additional parameter of the Vnflcm interface: declared in the
// VNF node type (interfaces.Vnflcm.inputs or .<operation>.inputs) and/or
// assigned in a VNF node template.
type Input struct {
	// Operation is the Vnflcm operation ("instantiate", "heal_end", ...), or
	// "" for an input of the whole interface.
	Operation   string `json:"operation,omitempty"`
	Name        string `json:"name"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	Required    *bool  `json:"required,omitempty"`
	Default     any    `json:"default,omitempty"`
	// Value is the value assigned in a template, if any.
	Value any `json:"value,omitempty"`
	// Fields lists the properties of Type when it is a data type of the
	// package (derived_from chain included).
	Fields map[string]*PropertyDef `json:"fields,omitempty"`
}

// SoftwareImage is one software image of the VNFD (VnfPkgInfo.softwareImages).
type SoftwareImage struct {
	// ID is the VDU or storage node the image belongs to.
	ID              string   `json:"id"`
	Flavour         string   `json:"flavour"`
	Name            string   `json:"name,omitempty"`
	Version         string   `json:"version,omitempty"`
	Provider        string   `json:"provider,omitempty"`
	Checksum        Checksum `json:"checksum"`
	ContainerFormat string   `json:"containerFormat,omitempty"`
	DiskFormat      string   `json:"diskFormat,omitempty"`
	MinDisk         int64    `json:"minDisk"` // bytes
	MinRAM          int64    `json:"minRam"`  // bytes
	Size            int64    `json:"size"`    // bytes
	// ImagePath is the sw_image artifact's file (package path when it is in
	// the package, else as written, e.g. a URL); "" when there is none.
	ImagePath string `json:"imagePath,omitempty"`
}

// FromJSON reloads a VNFD stored with json.Marshal.
func FromJSON(raw []byte) (*VNFD, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v VNFD
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("vnfd: decode stored VNFD: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("vnfd: decode stored VNFD: trailing data")
	}
	return &v, nil
}

// --- VNFD queries ---

func (v *VNFD) ID() string                { return v.Info.DescriptorID }
func (v *VNFD) DescriptorVersion() string { return v.Info.DescriptorVersion }
func (v *VNFD) Provider() string          { return v.Info.Provider }
func (v *VNFD) ProductName() string       { return v.Info.ProductName }
func (v *VNFD) SoftwareVersion() string   { return v.Info.SoftwareVersion }
func (v *VNFD) ProductInfoName() string   { return v.Info.ProductInfoName }
func (v *VNFD) VnfmInfo() []string        { return append([]string(nil), v.Info.VnfmInfo...) }

// Flavours returns the deployment flavours sorted by id.
func (v *VNFD) Flavours() []*Flavour {
	out := make([]*Flavour, 0, len(v.DeploymentFlavours))
	for _, f := range v.DeploymentFlavours {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Flavour returns the deployment flavour with that id.
func (v *VNFD) Flavour(id string) (*Flavour, bool) {
	f, ok := v.DeploymentFlavours[id]
	return f, ok && f != nil
}

// lcmOperation finds a Vnflcm operation: the flavour's VNF node first, then
// the top-level VNF node.
func (v *VNFD) lcmOperation(f *Flavour, hook string) *Operation {
	for _, n := range []*VNFNode{f.VNF, v.VNF} {
		if n == nil {
			continue
		}
		if itf := n.Interfaces[LcmInterface]; itf != nil {
			if op := itf.Operations[hook]; op != nil && op.Implementation != "" {
				return op
			}
		}
	}
	return nil
}

func (v *VNFD) artifact(f *Flavour, name string) *Artifact {
	for _, n := range []*VNFNode{f.VNF, v.VNF} {
		if n != nil {
			if a := n.Artifacts[name]; a != nil {
				return a
			}
		}
	}
	return nil
}

// Hook returns the artifact implementing a Vnflcm operation (hook) such as
// "instantiate_end" or "heal_start" in a flavour. The operation and the
// artifact are looked up on the flavour's VNF node, then on the top-level
// VNF node. An implementation that names no artifact is taken as a file
// path and returned as an artifact of that name with no type.
func (v *VNFD) Hook(flavourID, hook string) (*Artifact, bool) {
	f, ok := v.Flavour(flavourID)
	if !ok {
		return nil, false
	}
	op := v.lcmOperation(f, hook)
	if op == nil {
		return nil, false
	}
	if a := v.artifact(f, op.Implementation); a != nil {
		c := *a
		return &c, true
	}
	a := &Artifact{Name: op.Implementation, File: op.Implementation}
	if p, ok := packagePath(".", op.Implementation); ok {
		a.Path = p
	}
	return a, true
}

// Hooks returns the Vnflcm operations of a flavour that have an
// implementation, sorted.
func (v *VNFD) Hooks(flavourID string) []string {
	f, ok := v.Flavour(flavourID)
	if !ok {
		return nil
	}
	set := map[string]bool{}
	for _, n := range []*VNFNode{f.VNF, v.VNF} {
		if n == nil || n.Interfaces[LcmInterface] == nil {
			continue
		}
		for name, op := range n.Interfaces[LcmInterface].Operations {
			if op != nil && op.Implementation != "" {
				set[name] = true
			}
		}
	}
	return sortedKeys(set)
}

// MgmtDriver returns the name of the management driver artifact of a
// flavour, or "". The rule: among the artifacts implementing the flavour's
// Vnflcm operations (see Hook), an artifact is a management driver when its
// type is tosca.artifacts.Implementation.Python or its name starts with
// "mgmt-drivers". If several qualify, one whose name starts with
// "mgmt-drivers" wins, ties broken by the smallest name.
func (v *VNFD) MgmtDriver(flavourID string) string {
	best := ""
	bestPrefixed := false
	for _, hook := range v.Hooks(flavourID) {
		a, ok := v.Hook(flavourID, hook)
		if !ok || a.Name == "" {
			continue
		}
		prefixed := strings.HasPrefix(a.Name, MgmtDriverPrefix)
		if !prefixed && a.Type != ArtifactPython {
			continue
		}
		switch {
		case best == "",
			prefixed && !bestPrefixed,
			prefixed == bestPrefixed && a.Name < best:
			best, bestPrefixed = a.Name, prefixed
		}
	}
	return best
}

// Inputs returns the additional parameters declared on (or assigned to)
// the Vnflcm interface for a flavour, sorted by operation then name.
func (v *VNFD) Inputs(flavourID string) []Input {
	f, ok := v.Flavour(flavourID)
	if !ok {
		return nil
	}
	return append([]Input(nil), f.LcmInputs...)
}

// SoftwareImages returns the software images of all flavours' VDUs and
// virtual storages, sorted by id then flavour. An image that is identical in
// several flavours is listed once (for the first flavour).
func (v *VNFD) SoftwareImages() []SoftwareImage {
	var out []SoftwareImage
	seen := map[string]SoftwareImage{}
	add := func(fl, id string, sw *SwImageData, arts map[string]*Artifact) {
		if sw == nil {
			return
		}
		img := SoftwareImage{
			ID: id, Flavour: fl, Name: sw.Name, Version: sw.Version, Provider: sw.Provider,
			Checksum: sw.Checksum, ContainerFormat: sw.ContainerFormat, DiskFormat: sw.DiskFormat,
			MinDisk: sw.MinDiskBytes, MinRAM: sw.MinRAMBytes, Size: sw.SizeBytes,
		}
		if img.Provider == "" {
			img.Provider = v.Info.Provider
		}
		for _, name := range sortedKeys(arts) {
			a := arts[name]
			if a.Type == ArtifactSwImage || (name == "sw_image" && a.Type == "") {
				img.ImagePath = a.Path
				if img.ImagePath == "" {
					img.ImagePath = a.File
				}
				break
			}
		}
		cmp := img
		if prev, ok := seen[id]; ok {
			cmp.Flavour = prev.Flavour
			if cmp == prev {
				return
			}
		} else {
			seen[id] = img
		}
		out = append(out, img)
	}
	for _, f := range v.Flavours() {
		for _, d := range f.VDUs() {
			add(f.ID, d.Name, d.SwImage, d.Artifacts)
		}
		for _, s := range f.Storages() {
			add(f.ID, s.Name, s.SwImage, s.Artifacts)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Flavour < out[j].Flavour
	})
	return out
}

// --- Flavour queries ---

// VDUs returns the flavour's VDUs sorted by name.
func (f *Flavour) VDUs() []*VDU { return sortedValues(f.Topology.VDUs) }

// VDU returns the VDU with that node template name.
func (f *Flavour) VDU(name string) (*VDU, bool) {
	d, ok := f.Topology.VDUs[name]
	return d, ok && d != nil
}

// Storages returns the virtual block storages sorted by name.
func (f *Flavour) Storages() []*Storage { return sortedValues(f.Topology.Storages) }

// Cps returns the VDU connection points sorted by name.
func (f *Flavour) Cps() []*Cp { return sortedValues(f.Topology.Cps) }

// VirtualLinks returns the internal virtual links sorted by name.
func (f *Flavour) VirtualLinks() []*VirtualLink { return sortedValues(f.Topology.VirtualLinks) }

// AffinityRules returns the affinity and anti-affinity rules sorted by name.
func (f *Flavour) AffinityRules() []*AffinityRule {
	out := append([]*AffinityRule(nil), f.Topology.AffinityRules...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SecurityGroupRules returns the security group rules sorted by name.
func (f *Flavour) SecurityGroupRules() []*SecurityGroupRule {
	out := append([]*SecurityGroupRule(nil), f.Topology.SecurityGroupRules...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Aspects returns the scaling aspects sorted by id.
func (f *Flavour) Aspects() []*Aspect { return sortedValues(f.Scaling.Aspects) }

// Aspect returns the scaling aspect with that id.
func (f *Flavour) Aspect(id string) (*Aspect, bool) {
	a, ok := f.Scaling.Aspects[id]
	return a, ok && a != nil
}

// InstantiationLevels returns the instantiation levels sorted by id.
func (f *Flavour) InstantiationLevels() []*InstantiationLevel {
	return sortedValues(f.Scaling.Levels)
}

// MaxScaleLevel returns an aspect's max_scale_level (0 if unknown).
func (f *Flavour) MaxScaleLevel(aspect string) int {
	if a, ok := f.Aspect(aspect); ok {
		return a.MaxScaleLevel
	}
	return 0
}

// deltaID picks the delta applied by scaling step `step` (1-based):
// step_deltas[step-1], or the last one past the end; with no step_deltas,
// the aspect's only delta.
func (a *Aspect) deltaID(step int) string {
	if n := len(a.StepDeltas); n > 0 {
		if step > n {
			step = n
		}
		return a.StepDeltas[step-1]
	}
	if len(a.Deltas) == 1 {
		for id := range a.Deltas {
			return id
		}
	}
	return ""
}

// AspectDelta returns the instances each VDU gains by scaling step `step`
// (1-based) of an aspect: the VduScalingAspectDeltas of delta
// step_deltas[step-1], or of the last step delta for steps past the list.
// nil when the aspect or step is unknown.
func (f *Flavour) AspectDelta(aspectID string, step int) map[string]int {
	a, ok := f.Aspect(aspectID)
	if !ok || step < 1 {
		return nil
	}
	d := a.Deltas[a.deltaID(step)]
	if len(d) == 0 {
		return nil
	}
	out := make(map[string]int, len(d))
	for vdu, n := range d {
		out[vdu] = n
	}
	return out
}

// aspectInstances returns the instances of vdu added by steps 1..level.
func (f *Flavour) aspectInstances(aspectID, vdu string, level int) int {
	a, ok := f.Aspect(aspectID)
	if !ok || level < 1 {
		return 0
	}
	total := 0
	n := len(a.StepDeltas)
	if n == 0 {
		return level * a.Deltas[a.deltaID(1)][vdu]
	}
	for s := 1; s <= level && s <= n; s++ {
		total += a.Deltas[a.StepDeltas[s-1]][vdu]
	}
	if level > n {
		total += (level - n) * a.Deltas[a.StepDeltas[n-1]][vdu]
	}
	return total
}

// DefaultLevel returns the default instantiation level: default_level, or
// the only level when there is exactly one.
func (f *Flavour) DefaultLevel() string {
	if f.Scaling.DefaultLevel != "" {
		return f.Scaling.DefaultLevel
	}
	if len(f.Scaling.Levels) == 1 {
		for id := range f.Scaling.Levels {
			return id
		}
	}
	return ""
}

// VduProfile returns vdu_profile's min and max instances (0, 0 if unknown).
func (f *Flavour) VduProfile(vdu string) (min, max int) {
	if d, ok := f.VDU(vdu); ok {
		return d.Profile.Min, d.Profile.Max
	}
	return 0, 0
}

// InstancesAt returns the number of instances of a VDU at an instantiation
// level ("" = the default level):
//  1. VduInstantiationLevels' number for that level, if given;
//  2. else the initial count (VduInitialDelta, else vdu_profile min) plus,
//     for each aspect of the level's scale_info, the instances its scaling
//     steps 1..scale_level add to the VDU.
func (f *Flavour) InstancesAt(vdu, levelID string) int {
	if levelID == "" {
		levelID = f.DefaultLevel()
	}
	if n, ok := f.Scaling.VduLevels[vdu][levelID]; ok {
		return n
	}
	total, ok := f.Scaling.InitialDeltas[vdu]
	if !ok {
		total, _ = f.VduProfile(vdu)
	}
	if lvl := f.Scaling.Levels[levelID]; lvl != nil {
		for _, aspect := range sortedKeys(lvl.ScaleInfo) {
			total += f.aspectInstances(aspect, vdu, lvl.ScaleInfo[aspect])
		}
	}
	return total
}

// ScaleLevelsAt returns the scale level of every aspect at an instantiation
// level ("" = the default level): scale_info's value, 0 for aspects it does
// not name.
func (f *Flavour) ScaleLevelsAt(levelID string) map[string]int {
	if levelID == "" {
		levelID = f.DefaultLevel()
	}
	out := make(map[string]int, len(f.Scaling.Aspects))
	for id := range f.Scaling.Aspects {
		out[id] = 0
	}
	if lvl := f.Scaling.Levels[levelID]; lvl != nil {
		for a, n := range lvl.ScaleInfo {
			out[a] = n
		}
	}
	return out
}

// AspectsOf returns the ids of the aspects whose deltas scale a VDU, sorted.
func (f *Flavour) AspectsOf(vdu string) []string {
	set := map[string]bool{}
	for id, a := range f.Scaling.Aspects {
		for _, d := range a.Deltas {
			if _, ok := d[vdu]; ok {
				set[id] = true
			}
		}
	}
	return sortedKeys(set)
}

// --- helpers ---

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedValues[V any](m map[string]*V) []*V {
	out := make([]*V, 0, len(m))
	for _, k := range sortedKeys(m) {
		if m[k] != nil {
			out = append(out, m[k])
		}
	}
	return out
}

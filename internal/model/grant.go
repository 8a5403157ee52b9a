package model

import "encoding/json"

// ResourceType is ResourceDefinition.type.
type ResourceType string

const (
	ResourceCompute  ResourceType = "COMPUTE"
	ResourceVL       ResourceType = "VL"
	ResourceStorage  ResourceType = "STORAGE"
	ResourceLinkPort ResourceType = "LINKPORT"
)

// AffinityType is PlacementConstraint.affinityOrAntiAffinity.
type AffinityType string

const (
	Affinity     AffinityType = "AFFINITY"
	AntiAffinity AffinityType = "ANTI_AFFINITY"
)

// AffinityScope is PlacementConstraint.scope.
type AffinityScope string

const (
	ScopeNfviPop   AffinityScope = "NFVI_POP"
	ScopeZone      AffinityScope = "ZONE"
	ScopeZoneGroup AffinityScope = "ZONE_GROUP"
	ScopeNfviNode  AffinityScope = "NFVI_NODE"
)

// ConstraintIDType is ConstraintResourceRef.idType.
type ConstraintIDType string

const (
	// ConstraintRefGrant refers to a ResourceDefinition.id of the same request.
	ConstraintRefGrant ConstraintIDType = "GRANT"
	// ConstraintRefResMgmt refers to an existing resource in a VIM.
	ConstraintRefResMgmt ConstraintIDType = "RES_MGMT"
)

// GrantRequest asks the NFVO for permission to run a lifecycle operation
// (SOL003 v2.6.1 §9.5.2.2).
type GrantRequest struct {
	VnfInstanceID         string                `json:"vnfInstanceId"`
	VnfLcmOpOccID         string                `json:"vnfLcmOpOccId"`
	VnfdID                string                `json:"vnfdId"`
	FlavourID             string                `json:"flavourId,omitempty"`
	Operation             Operation             `json:"operation"`
	IsAutomaticInvocation bool                  `json:"isAutomaticInvocation"`
	InstantiationLevelID  string                `json:"instantiationLevelId,omitempty"`
	AddResources          []ResourceDefinition  `json:"addResources,omitempty"`
	TempResources         []ResourceDefinition  `json:"tempResources,omitempty"`
	RemoveResources       []ResourceDefinition  `json:"removeResources,omitempty"`
	UpdateResources       []ResourceDefinition  `json:"updateResources,omitempty"`
	PlacementConstraints  []PlacementConstraint `json:"placementConstraints,omitempty"`
	VimConstraints        []VimConstraint       `json:"vimConstraints,omitempty"`
	AdditionalParams      map[string]any        `json:"additionalParams,omitempty"`
	Links                 GrantRequestLinks     `json:"_links"`
}

// GrantRequestLinks is GrantRequest._links.
type GrantRequestLinks struct {
	VnfLcmOpOcc Link `json:"vnfLcmOpOcc"`
	VnfInstance Link `json:"vnfInstance"`
}

// ResourceDefinition is one resource to add, remove, update or use
// temporarily. Resource is set only for existing resources (remove/update).
type ResourceDefinition struct {
	ID                 string          `json:"id"`
	Type               ResourceType    `json:"type"`
	VduID              string          `json:"vduId,omitempty"`
	ResourceTemplateID string          `json:"resourceTemplateId,omitempty"`
	Resource           *ResourceHandle `json:"resource,omitempty"`
}

// PlacementConstraint asks for (anti-)affinity between resources.
type PlacementConstraint struct {
	AffinityOrAntiAffinity AffinityType            `json:"affinityOrAntiAffinity"`
	Scope                  AffinityScope           `json:"scope"`
	Resource               []ConstraintResourceRef `json:"resource"`
	FallbackBestEffort     *bool                   `json:"fallbackBestEffort,omitempty"`
}

// ConstraintResourceRef names a resource in a constraint.
type ConstraintResourceRef struct {
	IDType             ConstraintIDType `json:"idType"`
	ResourceID         string           `json:"resourceId"`
	VimConnectionID    string           `json:"vimConnectionId,omitempty"`
	ResourceProviderID string           `json:"resourceProviderId,omitempty"`
}

// VimConstraint asks for resources to share a VIM (and optionally a
// resource group).
type VimConstraint struct {
	SameResourceGroup bool                    `json:"sameResourceGroup,omitempty"`
	Resource          []ConstraintResourceRef `json:"resource"`
}

// Grant is the NFVO's permission for a lifecycle operation (SOL003 v2.6.1
// §9.5.2.3).
type Grant struct {
	ID                   string              `json:"id"`
	VnfInstanceID        string              `json:"vnfInstanceId"`
	VnfLcmOpOccID        string              `json:"vnfLcmOpOccId"`
	VimConnections       []VimConnectionInfo `json:"vimConnections,omitempty"`
	Zones                []ZoneInfo          `json:"zones,omitempty"`
	ZoneGroups           []ZoneGroupInfo     `json:"zoneGroups,omitempty"`
	ComputeReservationID string              `json:"computeReservationId,omitempty"`
	NetworkReservationID string              `json:"networkReservationId,omitempty"`
	StorageReservationID string              `json:"storageReservationId,omitempty"`
	AddResources         []GrantInfo         `json:"addResources,omitempty"`
	TempResources        []GrantInfo         `json:"tempResources,omitempty"`
	RemoveResources      []GrantInfo         `json:"removeResources,omitempty"`
	UpdateResources      []GrantInfo         `json:"updateResources,omitempty"`
	VimAssets            *VimAssets          `json:"vimAssets,omitempty"`
	// External VLs are passed through as given: vnfm hands them to drivers
	// and does not interpret them itself.
	ExtVirtualLinks        []json.RawMessage `json:"extVirtualLinks,omitempty"`
	ExtManagedVirtualLinks []json.RawMessage `json:"extManagedVirtualLinks,omitempty"`
	AdditionalParams       map[string]any    `json:"additionalParams,omitempty"`
	Links                  GrantLinks        `json:"_links"`
}

// GrantLinks is Grant._links.
type GrantLinks struct {
	Self        Link `json:"self"`
	VnfLcmOpOcc Link `json:"vnfLcmOpOcc"`
	VnfInstance Link `json:"vnfInstance"`
}

// ZoneInfo is a resource zone the NFVO chose.
type ZoneInfo struct {
	ID                 string `json:"id"`
	ZoneID             string `json:"zoneId"`
	VimConnectionID    string `json:"vimConnectionId,omitempty"`
	ResourceProviderID string `json:"resourceProviderId,omitempty"`
}

// ZoneGroupInfo groups ZoneInfo ids that fulfil a ZONE_GROUP constraint.
type ZoneGroupInfo struct {
	ZoneID []string `json:"zoneId"`
}

// GrantInfo is the grant of one ResourceDefinition.
type GrantInfo struct {
	ResourceDefinitionID string `json:"resourceDefinitionId"`
	ReservationID        string `json:"reservationId,omitempty"`
	VimConnectionID      string `json:"vimConnectionId,omitempty"`
	ResourceProviderID   string `json:"resourceProviderId,omitempty"`
	ZoneID               string `json:"zoneId,omitempty"`
	ResourceGroupID      string `json:"resourceGroupId,omitempty"`
}

// VimAssets are flavours and images the NFVO manages in the VIM.
type VimAssets struct {
	ComputeResourceFlavours []VimComputeResourceFlavour `json:"computeResourceFlavours,omitempty"`
	SoftwareImages          []VimSoftwareImage          `json:"softwareImages,omitempty"`
}

// VimComputeResourceFlavour maps a VNFD virtual compute to a VIM flavour.
type VimComputeResourceFlavour struct {
	VimConnectionID          string `json:"vimConnectionId,omitempty"`
	ResourceProviderID       string `json:"resourceProviderId,omitempty"`
	VnfdVirtualComputeDescID string `json:"vnfdVirtualComputeDescId"`
	VimFlavourID             string `json:"vimFlavourId"`
}

// VimSoftwareImage maps a VNFD software image to a VIM image.
type VimSoftwareImage struct {
	VimConnectionID     string `json:"vimConnectionId,omitempty"`
	ResourceProviderID  string `json:"resourceProviderId,omitempty"`
	VnfdSoftwareImageID string `json:"vnfdSoftwareImageId"`
	VimSoftwareImageID  string `json:"vimSoftwareImageId"`
}

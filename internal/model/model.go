// Package model holds the ETSI NFV SOL002/SOL003 (v2.6.1) resource types that
// vnfm stores and serves. The JSON field names are the wire names; the types are
// version-neutral so a later /vnflcm/v2 can map onto the same core.
package model

import (
	"encoding/json"
	"time"
)

// InstantiationState is VnfInstance.instantiationState.
type InstantiationState string

const (
	NotInstantiated InstantiationState = "NOT_INSTANTIATED"
	Instantiated    InstantiationState = "INSTANTIATED"
)

// OperationState is VnfLcmOpOcc.operationState.
type OperationState string

const (
	Starting    OperationState = "STARTING"
	Processing  OperationState = "PROCESSING"
	Completed   OperationState = "COMPLETED"
	FailedTemp  OperationState = "FAILED_TEMP"
	Failed      OperationState = "FAILED"
	RollingBack OperationState = "ROLLING_BACK"
	RolledBack  OperationState = "ROLLED_BACK"
)

// Final reports whether no further transition can leave the state.
func (s OperationState) Final() bool {
	return s == Completed || s == Failed || s == RolledBack
}

// FinalStates lists the final operation states, for queries.
var FinalStates = []OperationState{Completed, Failed, RolledBack}

// Operation is VnfLcmOpOcc.operation.
type Operation string

const (
	OpInstantiate   Operation = "INSTANTIATE"
	OpScale         Operation = "SCALE"
	OpScaleToLevel  Operation = "SCALE_TO_LEVEL"
	OpChangeFlavour Operation = "CHANGE_FLAVOUR"
	OpTerminate     Operation = "TERMINATE"
	OpHeal          Operation = "HEAL"
	OpOperate       Operation = "OPERATE"
	OpChangeExtConn Operation = "CHANGE_EXT_CONN"
	OpModifyInfo    Operation = "MODIFY_INFO"
)

// Link is SOL013 Link.
type Link struct {
	Href string `json:"href"`
}

// ProblemDetails is RFC 7807 as profiled by SOL013.
type ProblemDetails struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance,omitempty"`
}

// ResourceHandle identifies a resource in a VIM.
type ResourceHandle struct {
	VimConnectionID      string `json:"vimConnectionId"`
	ResourceProviderID   string `json:"resourceProviderId,omitempty"`
	ResourceID           string `json:"resourceId"`
	VimLevelResourceType string `json:"vimLevelResourceType,omitempty"`
}

// VimConnectionInfo tells a driver how to reach a VIM. AccessInfo holds
// secrets on the way in; vnfm seals them and never returns them.
type VimConnectionInfo struct {
	ID            string         `json:"id"`
	VimID         string         `json:"vimId,omitempty"`
	VimType       string         `json:"vimType"`
	InterfaceInfo map[string]any `json:"interfaceInfo,omitempty"`
	AccessInfo    map[string]any `json:"accessInfo,omitempty"`
	Extra         map[string]any `json:"extra,omitempty"`
}

// VnfInstance is the "Individual VNF instance" resource.
type VnfInstance struct {
	ID                     string `json:"id"`
	VnfInstanceName        string `json:"vnfInstanceName,omitempty"`
	VnfInstanceDescription string `json:"vnfInstanceDescription,omitempty"`
	VnfdID                 string `json:"vnfdId"`
	VnfProvider            string `json:"vnfProvider"`
	VnfProductName         string `json:"vnfProductName"`
	VnfSoftwareVersion     string `json:"vnfSoftwareVersion"`
	VnfdVersion            string `json:"vnfdVersion"`
	VnfPkgID               string `json:"vnfPkgId,omitempty"`
	// VnfPkgInfoID is SOL002's (mandatory) name for the package id; vnfm
	// serves both names so SOL002 and SOL003 clients find theirs.
	VnfPkgInfoID              string               `json:"vnfPkgInfoId"`
	VnfConfigurableProperties map[string]any       `json:"vnfConfigurableProperties,omitempty"`
	VimConnectionInfo         []VimConnectionInfo  `json:"vimConnectionInfo,omitempty"`
	InstantiationState        InstantiationState   `json:"instantiationState"`
	InstantiatedVnfInfo       *InstantiatedVnfInfo `json:"instantiatedVnfInfo,omitempty"`
	Metadata                  map[string]any       `json:"metadata,omitempty"`
	Extensions                map[string]any       `json:"extensions,omitempty"`
	Links                     *VnfInstanceLinks    `json:"_links,omitempty"`
}

// VnfInstanceLinks is VnfInstance._links.
type VnfInstanceLinks struct {
	Self          Link  `json:"self"`
	Indicators    *Link `json:"indicators,omitempty"`
	Instantiate   *Link `json:"instantiate,omitempty"`
	Terminate     *Link `json:"terminate,omitempty"`
	Scale         *Link `json:"scale,omitempty"`
	ScaleToLevel  *Link `json:"scaleToLevel,omitempty"`
	ChangeFlavour *Link `json:"changeFlavour,omitempty"`
	Heal          *Link `json:"heal,omitempty"`
	Operate       *Link `json:"operate,omitempty"`
	ChangeExtConn *Link `json:"changeExtConn,omitempty"`
}

// VnfState is InstantiatedVnfInfo.vnfState.
type VnfState string

const (
	VnfStarted VnfState = "STARTED"
	VnfStopped VnfState = "STOPPED"
)

// InstantiatedVnfInfo is present only on INSTANTIATED instances.
type InstantiatedVnfInfo struct {
	FlavourID                  string                       `json:"flavourId"`
	VnfState                   VnfState                     `json:"vnfState"`
	ScaleStatus                []ScaleInfo                  `json:"scaleStatus,omitempty"`
	ExtCpInfo                  []json.RawMessage            `json:"extCpInfo,omitempty"`
	ExtVirtualLinkInfo         []json.RawMessage            `json:"extVirtualLinkInfo,omitempty"`
	ExtManagedVirtualLinkInfo  []json.RawMessage            `json:"extManagedVirtualLinkInfo,omitempty"`
	MonitoringParameters       []json.RawMessage            `json:"monitoringParameters,omitempty"`
	LocalizationLanguage       string                       `json:"localizationLanguage,omitempty"`
	VnfcResourceInfo           []VnfcResourceInfo           `json:"vnfcResourceInfo,omitempty"`
	VirtualLinkResourceInfo    []VirtualLinkResourceInfo    `json:"virtualLinkResourceInfo,omitempty"`
	VirtualStorageResourceInfo []VirtualStorageResourceInfo `json:"virtualStorageResourceInfo,omitempty"`
}

// ScaleInfo is one aspect's current scale level.
type ScaleInfo struct {
	AspectID   string `json:"aspectId"`
	ScaleLevel int    `json:"scaleLevel"`
}

// CpProtocolInfo describes a connection point's protocol and addresses.
type CpProtocolInfo struct {
	LayerProtocol  string          `json:"layerProtocol"`
	IPOverEthernet *IPOverEthernet `json:"ipOverEthernet,omitempty"`
}

// IPOverEthernet is IpOverEthernetAddressInfo.
type IPOverEthernet struct {
	MacAddress  string          `json:"macAddress,omitempty"`
	IPAddresses []IPAddressInfo `json:"ipAddresses,omitempty"`
}

// IPAddressInfo is one entry of IpOverEthernetAddressInfo.ipAddresses.
type IPAddressInfo struct {
	Type      string   `json:"type"`
	Addresses []string `json:"addresses,omitempty"`
	IsDynamic bool     `json:"isDynamic,omitempty"`
	SubnetID  string   `json:"subnetId,omitempty"`
}

// VnfcCpInfo is a VNFC's internal connection point.
type VnfcCpInfo struct {
	ID             string           `json:"id"`
	CpdID          string           `json:"cpdId"`
	VnfExtCpID     string           `json:"vnfExtCpId,omitempty"`
	CpProtocolInfo []CpProtocolInfo `json:"cpProtocolInfo,omitempty"`
	VnfLinkPortID  string           `json:"vnfLinkPortId,omitempty"`
	Metadata       map[string]any   `json:"metadata,omitempty"`
}

// VnfcResourceInfo is one VNFC (a server, a pod).
type VnfcResourceInfo struct {
	ID                 string         `json:"id"`
	VduID              string         `json:"vduId"`
	ComputeResource    ResourceHandle `json:"computeResource"`
	StorageResourceIDs []string       `json:"storageResourceIds,omitempty"`
	ReservationID      string         `json:"reservationId,omitempty"`
	VnfcCpInfo         []VnfcCpInfo   `json:"vnfcCpInfo,omitempty"`
	Metadata           map[string]any `json:"metadata,omitempty"`
}

// VnfLinkPortInfo is a port on a virtual link.
type VnfLinkPortInfo struct {
	ID             string         `json:"id"`
	ResourceHandle ResourceHandle `json:"resourceHandle"`
	CpInstanceID   string         `json:"cpInstanceId,omitempty"`
	CpInstanceType string         `json:"cpInstanceType,omitempty"`
}

// VirtualLinkResourceInfo is one internal virtual link.
type VirtualLinkResourceInfo struct {
	ID                   string            `json:"id"`
	VnfVirtualLinkDescID string            `json:"vnfVirtualLinkDescId"`
	NetworkResource      ResourceHandle    `json:"networkResource"`
	ReservationID        string            `json:"reservationId,omitempty"`
	VnfLinkPorts         []VnfLinkPortInfo `json:"vnfLinkPorts,omitempty"`
	Metadata             map[string]any    `json:"metadata,omitempty"`
}

// VirtualStorageResourceInfo is one virtual storage.
type VirtualStorageResourceInfo struct {
	ID                   string         `json:"id"`
	VirtualStorageDescID string         `json:"virtualStorageDescId"`
	StorageResource      ResourceHandle `json:"storageResource"`
	ReservationID        string         `json:"reservationId,omitempty"`
	Metadata             map[string]any `json:"metadata,omitempty"`
}

// ChangeType is the changeType of an affected resource.
type ChangeType string

const (
	ChangeAdded     ChangeType = "ADDED"
	ChangeRemoved   ChangeType = "REMOVED"
	ChangeModified  ChangeType = "MODIFIED"
	ChangeTemporary ChangeType = "TEMPORARY"
)

// AffectedVnfc is one entry of resourceChanges.affectedVnfcs.
type AffectedVnfc struct {
	ID                        string         `json:"id"`
	VduID                     string         `json:"vduId"`
	ChangeType                ChangeType     `json:"changeType"`
	ComputeResource           ResourceHandle `json:"computeResource"`
	Metadata                  map[string]any `json:"metadata,omitempty"`
	AffectedVnfcCpIDs         []string       `json:"affectedVnfcCpIds,omitempty"`
	AddedStorageResourceIDs   []string       `json:"addedStorageResourceIds,omitempty"`
	RemovedStorageResourceIDs []string       `json:"removedStorageResourceIds,omitempty"`
}

// AffectedVirtualLink is one entry of resourceChanges.affectedVirtualLinks.
// SOL003 v2.6.1 names the descriptor id virtualLinkDescId and SOL002
// vnfVirtualLinkDescId; /vnflcm/v1 serves both interfaces, so both are
// written (and either is read).
type AffectedVirtualLink struct {
	ID                   string
	VnfVirtualLinkDescID string
	ChangeType           ChangeType
	NetworkResource      ResourceHandle
	Metadata             map[string]any
}

type affectedVirtualLinkJSON struct {
	ID                   string         `json:"id"`
	VirtualLinkDescID    string         `json:"virtualLinkDescId"`
	VnfVirtualLinkDescID string         `json:"vnfVirtualLinkDescId"`
	ChangeType           ChangeType     `json:"changeType"`
	NetworkResource      ResourceHandle `json:"networkResource"`
	Metadata             map[string]any `json:"metadata,omitempty"`
}

func (a AffectedVirtualLink) MarshalJSON() ([]byte, error) {
	return json.Marshal(affectedVirtualLinkJSON{
		ID: a.ID, VirtualLinkDescID: a.VnfVirtualLinkDescID, VnfVirtualLinkDescID: a.VnfVirtualLinkDescID,
		ChangeType: a.ChangeType, NetworkResource: a.NetworkResource, Metadata: a.Metadata,
	})
}

func (a *AffectedVirtualLink) UnmarshalJSON(b []byte) error {
	var j affectedVirtualLinkJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	desc := j.VnfVirtualLinkDescID
	if desc == "" {
		desc = j.VirtualLinkDescID
	}
	*a = AffectedVirtualLink{ID: j.ID, VnfVirtualLinkDescID: desc, ChangeType: j.ChangeType, NetworkResource: j.NetworkResource, Metadata: j.Metadata}
	return nil
}

// AffectedVirtualStorage is one entry of resourceChanges.affectedVirtualStorages.
type AffectedVirtualStorage struct {
	ID                   string         `json:"id"`
	VirtualStorageDescID string         `json:"virtualStorageDescId"`
	ChangeType           ChangeType     `json:"changeType"`
	StorageResource      ResourceHandle `json:"storageResource"`
	Metadata             map[string]any `json:"metadata,omitempty"`
}

// ResourceChanges is VnfLcmOpOcc.resourceChanges.
type ResourceChanges struct {
	AffectedVnfcs           []AffectedVnfc           `json:"affectedVnfcs,omitempty"`
	AffectedVirtualLinks    []AffectedVirtualLink    `json:"affectedVirtualLinks,omitempty"`
	AffectedVirtualStorages []AffectedVirtualStorage `json:"affectedVirtualStorages,omitempty"`
}

// Empty reports whether nothing changed.
func (r *ResourceChanges) Empty() bool {
	return r == nil || len(r.AffectedVnfcs)+len(r.AffectedVirtualLinks)+len(r.AffectedVirtualStorages) == 0
}

// ChangedInfo is VnfLcmOpOcc.changedInfo (VnfInfoModifications).
type ChangedInfo struct {
	VnfInstanceName           *string             `json:"vnfInstanceName,omitempty"`
	VnfInstanceDescription    *string             `json:"vnfInstanceDescription,omitempty"`
	VnfConfigurableProperties map[string]any      `json:"vnfConfigurableProperties,omitempty"`
	Metadata                  map[string]any      `json:"metadata,omitempty"`
	Extensions                map[string]any      `json:"extensions,omitempty"`
	VimConnectionInfo         []VimConnectionInfo `json:"vimConnectionInfo,omitempty"`
	VnfPkgID                  string              `json:"vnfPkgId,omitempty"`
	VnfdID                    string              `json:"vnfdId,omitempty"`
	VnfProvider               string              `json:"vnfProvider,omitempty"`
	VnfProductName            string              `json:"vnfProductName,omitempty"`
	VnfSoftwareVersion        string              `json:"vnfSoftwareVersion,omitempty"`
	VnfdVersion               string              `json:"vnfdVersion,omitempty"`
}

// VnfLcmOpOcc is the "Individual VNF LCM operation occurrence" resource.
type VnfLcmOpOcc struct {
	ID                     string            `json:"id"`
	OperationState         OperationState    `json:"operationState"`
	StateEnteredTime       time.Time         `json:"stateEnteredTime"`
	StartTime              time.Time         `json:"startTime"`
	VnfInstanceID          string            `json:"vnfInstanceId"`
	GrantID                string            `json:"grantId,omitempty"`
	Operation              Operation         `json:"operation"`
	IsAutomaticInvocation  bool              `json:"isAutomaticInvocation"`
	OperationParams        json.RawMessage   `json:"operationParams"`
	IsCancelPending        bool              `json:"isCancelPending"`
	CancelMode             string            `json:"cancelMode,omitempty"`
	Error                  *ProblemDetails   `json:"error,omitempty"`
	ResourceChanges        *ResourceChanges  `json:"resourceChanges,omitempty"`
	ChangedInfo            *ChangedInfo      `json:"changedInfo,omitempty"`
	ChangedExtConnectivity []json.RawMessage `json:"changedExtConnectivity,omitempty"`
	Links                  *OpOccLinks       `json:"_links,omitempty"`
}

// OpOccLinks is VnfLcmOpOcc._links.
type OpOccLinks struct {
	Self        Link  `json:"self"`
	VnfInstance Link  `json:"vnfInstance"`
	Grant       *Link `json:"grant,omitempty"`
	Cancel      *Link `json:"cancel,omitempty"`
	Retry       *Link `json:"retry,omitempty"`
	Rollback    *Link `json:"rollback,omitempty"`
	Fail        *Link `json:"fail,omitempty"`
}

// APIVersionInformation is the api_versions resource body.
type APIVersionInformation struct {
	URIPrefix   string       `json:"uriPrefix"`
	APIVersions []APIVersion `json:"apiVersions"`
}

// APIVersion is one supported version.
type APIVersion struct {
	Version        string `json:"version"`
	IsDeprecated   bool   `json:"isDeprecated,omitempty"`
	RetirementDate string `json:"retirementDate,omitempty"`
}

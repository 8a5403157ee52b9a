package lcm

import (
	"encoding/json"

	"github.com/vnfm-project/vnfm/internal/model"
)

// Request bodies, as SOL003 v2.6.1 defines them. The API has already
// validated them against the OpenAPI document; lcm checks the rules that
// need the instance's state.

// CreateVnfRequest is the body of POST /vnf_instances.
type CreateVnfRequest struct {
	VnfdID                 string         `json:"vnfdId"`
	VnfInstanceName        string         `json:"vnfInstanceName,omitempty"`
	VnfInstanceDescription string         `json:"vnfInstanceDescription,omitempty"`
	Metadata               map[string]any `json:"metadata,omitempty"`
}

// InstantiateVnfRequest is the body of POST .../instantiate.
type InstantiateVnfRequest struct {
	FlavourID                 string                    `json:"flavourId"`
	InstantiationLevelID      string                    `json:"instantiationLevelId,omitempty"`
	ExtVirtualLinks           []json.RawMessage         `json:"extVirtualLinks,omitempty"`
	ExtManagedVirtualLinks    []json.RawMessage         `json:"extManagedVirtualLinks,omitempty"`
	VimConnectionInfo         []model.VimConnectionInfo `json:"vimConnectionInfo,omitempty"`
	LocalizationLanguage      string                    `json:"localizationLanguage,omitempty"`
	AdditionalParams          map[string]any            `json:"additionalParams,omitempty"`
	VnfConfigurableProperties map[string]any            `json:"vnfConfigurableProperties,omitempty"`
	Extensions                map[string]any            `json:"extensions,omitempty"`
}

// TerminateVnfRequest is the body of POST .../terminate.
type TerminateVnfRequest struct {
	TerminationType            string         `json:"terminationType"`
	GracefulTerminationTimeout *int           `json:"gracefulTerminationTimeout,omitempty"`
	AdditionalParams           map[string]any `json:"additionalParams,omitempty"`
}

// ScaleVnfRequest is the body of POST .../scale.
type ScaleVnfRequest struct {
	Type             string         `json:"type"`
	AspectID         string         `json:"aspectId"`
	NumberOfSteps    *int           `json:"numberOfSteps,omitempty"`
	AdditionalParams map[string]any `json:"additionalParams,omitempty"`
}

// Steps is numberOfSteps with its default of 1.
func (r *ScaleVnfRequest) Steps() int {
	if r.NumberOfSteps == nil {
		return 1
	}
	return *r.NumberOfSteps
}

// ScaleVnfToLevelRequest is the body of POST .../scale_to_level.
type ScaleVnfToLevelRequest struct {
	InstantiationLevelID string            `json:"instantiationLevelId,omitempty"`
	ScaleInfo            []model.ScaleInfo `json:"scaleInfo,omitempty"`
	AdditionalParams     map[string]any    `json:"additionalParams,omitempty"`
}

// HealVnfRequest is the body of POST .../heal: SOL003 {cause,
// additionalParams} and SOL002 {vnfcInstanceId, cause, additionalParams,
// healScript} in one type; without vnfcInstanceId the whole VNF is healed.
type HealVnfRequest struct {
	VnfcInstanceID   []string       `json:"vnfcInstanceId,omitempty"`
	Cause            string         `json:"cause,omitempty"`
	AdditionalParams map[string]any `json:"additionalParams,omitempty"`
	HealScript       string         `json:"healScript,omitempty"`
}

// ChangeExtVnfConnectivityRequest is the body of POST .../change_ext_conn.
type ChangeExtVnfConnectivityRequest struct {
	ExtVirtualLinks   []json.RawMessage         `json:"extVirtualLinks"`
	VimConnectionInfo []model.VimConnectionInfo `json:"vimConnectionInfo,omitempty"`
	AdditionalParams  map[string]any            `json:"additionalParams,omitempty"`
}

// ChangeVnfFlavourRequest is the body of POST .../change_flavour.
type ChangeVnfFlavourRequest struct {
	NewFlavourID           string                    `json:"newFlavourId"`
	InstantiationLevelID   string                    `json:"instantiationLevelId,omitempty"`
	ExtVirtualLinks        []json.RawMessage         `json:"extVirtualLinks,omitempty"`
	ExtManagedVirtualLinks []json.RawMessage         `json:"extManagedVirtualLinks,omitempty"`
	VimConnectionInfo      []model.VimConnectionInfo `json:"vimConnectionInfo,omitempty"`
	AdditionalParams       map[string]any            `json:"additionalParams,omitempty"`
}

// OperateVnfRequest is the body of POST .../operate.
type OperateVnfRequest struct {
	ChangeStateTo       model.VnfState `json:"changeStateTo"`
	StopType            string         `json:"stopType,omitempty"`
	GracefulStopTimeout *int           `json:"gracefulStopTimeout,omitempty"`
	AdditionalParams    map[string]any `json:"additionalParams,omitempty"`
}

// VnfInfoModificationRequest is the body of PATCH /vnf_instances/{id}.
// Pointer and map fields distinguish "absent" from "set".
type VnfInfoModificationRequest struct {
	VnfInstanceName            *string                   `json:"vnfInstanceName,omitempty"`
	VnfInstanceDescription     *string                   `json:"vnfInstanceDescription,omitempty"`
	VnfdID                     string                    `json:"vnfdId,omitempty"`
	VnfPkgID                   string                    `json:"vnfPkgId,omitempty"`
	VnfConfigurableProperties  map[string]any            `json:"vnfConfigurableProperties,omitempty"`
	Metadata                   map[string]any            `json:"metadata,omitempty"`
	Extensions                 map[string]any            `json:"extensions,omitempty"`
	VimConnectionInfo          []model.VimConnectionInfo `json:"vimConnectionInfo,omitempty"`
	VimConnectionInfoDeleteIDs []string                  `json:"vimConnectionInfoDeleteIds,omitempty"`
}

// CancelMode is the body of POST .../cancel.
type CancelMode struct {
	CancelMode string `json:"cancelMode,omitempty"`
}

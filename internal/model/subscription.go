package model

import (
	"encoding/json"
	"time"
)

// Notification types (SOL003 v2.6.1 §5.5.2).
const (
	NotifOpOcc              = "VnfLcmOperationOccurrenceNotification"
	NotifIdentifierCreation = "VnfIdentifierCreationNotification"
	NotifIdentifierDeletion = "VnfIdentifierDeletionNotification"
)

// Subscription authentication types.
const (
	AuthBasic  = "BASIC"
	AuthOAuth2 = "OAUTH2_CLIENT_CREDENTIALS"
	AuthTLS    = "TLS_CERT"
)

// LccnSubscription is the "Individual subscription" resource. Its
// authentication is write-only and never part of it.
type LccnSubscription struct {
	ID          string                              `json:"id"`
	Filter      *LifecycleChangeNotificationsFilter `json:"filter,omitempty"`
	CallbackURI string                              `json:"callbackUri"`
	Links       SubscriptionLinks                   `json:"_links"`
}

// SubscriptionLinks is LccnSubscription._links.
type SubscriptionLinks struct {
	Self Link `json:"self"`
}

// LifecycleChangeNotificationsFilter selects the notifications a
// subscription receives; every present attribute must match.
type LifecycleChangeNotificationsFilter struct {
	VnfInstanceSubscriptionFilter *VnfInstanceSubscriptionFilter `json:"vnfInstanceSubscriptionFilter,omitempty"`
	NotificationTypes             []string                       `json:"notificationTypes,omitempty"`
	OperationTypes                []Operation                    `json:"operationTypes,omitempty"`
	OperationStates               []OperationState               `json:"operationStates,omitempty"`
}

// VnfInstanceSubscriptionFilter matches VNF instances.
type VnfInstanceSubscriptionFilter struct {
	VnfdIDs                  []string                  `json:"vnfdIds,omitempty"`
	VnfProductsFromProviders []VnfProductsFromProvider `json:"vnfProductsFromProviders,omitempty"`
	VnfInstanceIDs           []string                  `json:"vnfInstanceIds,omitempty"`
	VnfInstanceNames         []string                  `json:"vnfInstanceNames,omitempty"`
}

// VnfProductsFromProvider matches a provider's products.
type VnfProductsFromProvider struct {
	VnfProvider string       `json:"vnfProvider"`
	VnfProducts []VnfProduct `json:"vnfProducts,omitempty"`
}

// VnfProduct matches a product name and, optionally, versions.
type VnfProduct struct {
	VnfProductName string              `json:"vnfProductName"`
	Versions       []VnfProductVersion `json:"versions,omitempty"`
}

// VnfProductVersion matches a software version and, optionally, VNFD versions.
type VnfProductVersion struct {
	VnfSoftwareVersion string   `json:"vnfSoftwareVersion"`
	VnfdVersions       []string `json:"vnfdVersions,omitempty"`
}

// SubscriptionAuthentication is how the VNFM authenticates to a callback
// (or to an NFVO). Secrets in it are sealed at rest and never served.
type SubscriptionAuthentication struct {
	AuthType                      []string                 `json:"authType"`
	ParamsBasic                   *BasicAuthParams         `json:"paramsBasic,omitempty"`
	ParamsOauth2ClientCredentials *OAuth2ClientCredentials `json:"paramsOauth2ClientCredentials,omitempty"`
}

// BasicAuthParams is paramsBasic.
type BasicAuthParams struct {
	UserName string `json:"userName,omitempty"`
	Password string `json:"password,omitempty"`
}

// OAuth2ClientCredentials is paramsOauth2ClientCredentials.
type OAuth2ClientCredentials struct {
	ClientID       string `json:"clientId,omitempty"`
	ClientPassword string `json:"clientPassword,omitempty"`
	TokenEndpoint  string `json:"tokenEndpoint,omitempty"`
}

// NotificationLinks is the _links of an LCM notification.
type NotificationLinks struct {
	VnfInstance  Link  `json:"vnfInstance"`
	Subscription Link  `json:"subscription"`
	VnfLcmOpOcc  *Link `json:"vnfLcmOpOcc,omitempty"`
}

// VnfLcmOperationOccurrenceNotification announces an op occ state change.
type VnfLcmOperationOccurrenceNotification struct {
	ID                      string                   `json:"id"`
	NotificationType        string                   `json:"notificationType"`
	SubscriptionID          string                   `json:"subscriptionId"`
	TimeStamp               time.Time                `json:"timeStamp"`
	NotificationStatus      string                   `json:"notificationStatus"`
	OperationState          OperationState           `json:"operationState"`
	VnfInstanceID           string                   `json:"vnfInstanceId"`
	Operation               Operation                `json:"operation"`
	IsAutomaticInvocation   bool                     `json:"isAutomaticInvocation"`
	VnfLcmOpOccID           string                   `json:"vnfLcmOpOccId"`
	AffectedVnfcs           []AffectedVnfc           `json:"affectedVnfcs,omitempty"`
	AffectedVirtualLinks    []AffectedVirtualLink    `json:"affectedVirtualLinks,omitempty"`
	AffectedVirtualStorages []AffectedVirtualStorage `json:"affectedVirtualStorages,omitempty"`
	ChangedInfo             *ChangedInfo             `json:"changedInfo,omitempty"`
	ChangedExtConnectivity  []json.RawMessage        `json:"changedExtConnectivity,omitempty"`
	Error                   *ProblemDetails          `json:"error,omitempty"`
	Links                   NotificationLinks        `json:"_links"`
}

// VnfIdentifierNotification is VnfIdentifierCreationNotification and
// VnfIdentifierDeletionNotification (same shape).
type VnfIdentifierNotification struct {
	ID               string            `json:"id"`
	NotificationType string            `json:"notificationType"`
	SubscriptionID   string            `json:"subscriptionId"`
	TimeStamp        time.Time         `json:"timeStamp"`
	VnfInstanceID    string            `json:"vnfInstanceId"`
	Links            NotificationLinks `json:"_links"`
}

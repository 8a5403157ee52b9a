package model

import "time"

// Vim is a VIM registered with the VNFM, in the shape of Tacker's NFVO
// /v1.0/vims resource so that `openstack vim register|list|show|set|delete`
// works. AuthCred holds credentials on the way in; vnfm seals them and never
// returns them.
type Vim struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Type          string         `json:"type"`
	TenantID      string         `json:"tenant_id"`
	AuthURL       string         `json:"auth_url"`
	VimProject    map[string]any `json:"vim_project"`
	AuthCred      map[string]any `json:"auth_cred"`
	PlacementAttr map[string]any `json:"placement_attr"`
	Status        string         `json:"status"`
	IsDefault     bool           `json:"is_default"`
	Extra         map[string]any `json:"extra,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     *time.Time     `json:"updated_at"`
}

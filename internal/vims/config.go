package vims

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
)

// ParseConfig reads a VIM from a YAML file in the Tacker CLI's
// `vim register --config-file` format (auth_url, username, password,
// project_name, project_domain_name, user_domain_name, cert_verify, type,
// bearer_token, ssl_ca_cert, extra), plus name, description, is_default and
// region, so that one file can register a VIM at server start.
func ParseConfig(data []byte) (model.Vim, error) {
	var c struct {
		Name              string         `yaml:"name"`
		Description       string         `yaml:"description"`
		IsDefault         bool           `yaml:"is_default"`
		Type              string         `yaml:"type"`
		AuthURL           string         `yaml:"auth_url"`
		Username          string         `yaml:"username"`
		Password          string         `yaml:"password"`
		ProjectName       string         `yaml:"project_name"`
		ProjectDomainName string         `yaml:"project_domain_name"`
		UserDomainName    string         `yaml:"user_domain_name"`
		CertVerify        string         `yaml:"cert_verify"`
		Region            string         `yaml:"region"`
		BearerToken       string         `yaml:"bearer_token"`
		SSLCACert         string         `yaml:"ssl_ca_cert"`
		AppCredID         string         `yaml:"application_credential_id"`
		AppCredSecret     string         `yaml:"application_credential_secret"`
		Extra             map[string]any `yaml:"extra"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return model.Vim{}, fmt.Errorf("%w: VIM config: %w", lcm.ErrBadRequest, err)
	}
	v := model.Vim{
		Name: c.Name, Description: c.Description, IsDefault: c.IsDefault, Type: c.Type, AuthURL: c.AuthURL,
		VimProject: map[string]any{}, AuthCred: map[string]any{}, PlacementAttr: map[string]any{}, Extra: c.Extra,
	}
	set := func(m map[string]any, k, val string) {
		if val != "" {
			m[k] = val
		}
	}
	set(v.VimProject, "name", c.ProjectName)
	set(v.VimProject, "project_domain_name", c.ProjectDomainName)
	set(v.AuthCred, "username", c.Username)
	set(v.AuthCred, "password", c.Password)
	set(v.AuthCred, "user_domain_name", c.UserDomainName)
	set(v.AuthCred, "cert_verify", c.CertVerify)
	set(v.AuthCred, "bearer_token", c.BearerToken)
	set(v.AuthCred, "ssl_ca_cert", c.SSLCACert)
	set(v.AuthCred, "application_credential_id", c.AppCredID)
	set(v.AuthCred, "application_credential_secret", c.AppCredSecret)
	if c.Region != "" {
		v.PlacementAttr["regions"] = []any{c.Region}
	}
	if err := normalize(&v); err != nil {
		return model.Vim{}, err
	}
	return v, nil
}

// Package callauth adds credentials to the VNFM's own outbound HTTP calls:
// notifications to subscriber callbacks and Grant requests to an NFVO. The
// credentials come from a SOL003 SubscriptionAuthentication.
package callauth

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/vnfm-project/vnfm/internal/model"
)

// InvalidError lists what is wrong with a SubscriptionAuthentication. Its
// messages name fields, never their values, so it is safe to return to the
// API consumer and to log.
type InvalidError struct {
	Problems []string
}

func (e *InvalidError) Error() string { return strings.Join(e.Problems, "; ") }

// Validate checks a SubscriptionAuthentication as given in a request: known
// authType values, and for each listed type its params present and complete
// (tokenEndpoint an absolute http/https URL). TLS_CERT is refused as
// unsupported. A nil a is valid (no authentication). Errors are
// *InvalidError.
func Validate(a *model.SubscriptionAuthentication) error {
	if a == nil {
		return nil
	}
	var p []string
	if len(a.AuthType) == 0 {
		p = append(p, "authentication.authType is required")
	}
	var basic, oauth bool
	for i, t := range a.AuthType {
		switch t {
		case model.AuthBasic:
			basic = true
		case model.AuthOAuth2:
			oauth = true
		case model.AuthTLS:
			p = append(p, fmt.Sprintf("authentication.authType[%d]: %s is not supported", i, model.AuthTLS))
		default:
			// The value is a type name, not a secret; %q keeps odd bytes readable.
			p = append(p, fmt.Sprintf("authentication.authType[%d]: unknown value %q (want %s or %s)",
				i, t, model.AuthBasic, model.AuthOAuth2))
		}
	}
	if basic {
		p = append(p, checkBasic(a.ParamsBasic)...)
	}
	if oauth {
		p = append(p, checkOAuth2(a.ParamsOauth2ClientCredentials)...)
	}
	if len(p) > 0 {
		return &InvalidError{Problems: p}
	}
	return nil
}

func checkBasic(b *model.BasicAuthParams) []string {
	const f = "authentication.paramsBasic"
	if b == nil {
		return []string{f + " is required when authType includes " + model.AuthBasic}
	}
	var p []string
	switch {
	case b.UserName == "":
		p = append(p, f+".userName is required")
	case strings.Contains(b.UserName, ":"):
		// RFC 7617: the user-id cannot contain a colon.
		p = append(p, f+".userName must not contain ':'")
	}
	if b.Password == "" {
		p = append(p, f+".password is required")
	}
	return p
}

func checkOAuth2(o *model.OAuth2ClientCredentials) []string {
	const f = "authentication.paramsOauth2ClientCredentials"
	if o == nil {
		return []string{f + " is required when authType includes " + model.AuthOAuth2}
	}
	var p []string
	if o.ClientID == "" {
		p = append(p, f+".clientId is required")
	}
	if o.ClientPassword == "" {
		p = append(p, f+".clientPassword is required")
	}
	if o.TokenEndpoint == "" {
		p = append(p, f+".tokenEndpoint is required")
	} else if msg := checkEndpoint(o.TokenEndpoint); msg != "" {
		p = append(p, f+".tokenEndpoint "+msg)
	}
	return p
}

func checkEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "must be an absolute http or https URL"
	}
	if u.User != nil {
		// Credentials belong in clientId/clientPassword, where they are sealed.
		return "must not contain user information"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "must not contain a fragment" // RFC 6749 §3.2
	}
	return ""
}

package auth

import (
	"encoding/base64"
	"errors"
	"strings"
)

// maxCredentials bounds an Authorization header's credentials: JWTs from
// real issuers stay well below it.
const maxCredentials = 8 << 10

// credential is a parsed Authorization header.
type credential struct {
	scheme         string // MethodBasic or "bearer"
	user, password string // Basic
	token          string // Bearer
}

const schemeBearer = "bearer"

var (
	errNoScheme      = errors.New("the Authorization header has no credentials")
	errUnknownScheme = errors.New("the Authorization scheme is neither Basic nor Bearer")
	errTooLong       = errors.New("the Authorization header is too long")
	errBadBasic      = errors.New("the Basic credentials are not base64 of user:password")
	errBadBearer     = errors.New("the Bearer token has characters a token cannot have")
)

// parseAuthorization reads "Basic base64(user:password)" (RFC 7617) or
// "Bearer b64token" (RFC 6750 §2.1). Scheme names are case-insensitive.
func parseAuthorization(h string) (credential, error) {
	if len(h) > maxCredentials {
		return credential{}, errTooLong
	}
	scheme, rest, ok := strings.Cut(strings.TrimLeft(h, " \t"), " ")
	rest = strings.Trim(rest, " \t")
	if !ok || rest == "" {
		return credential{}, errNoScheme
	}
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			// Some clients leave out the padding.
			if raw, err = base64.RawStdEncoding.DecodeString(rest); err != nil {
				return credential{}, errBadBasic
			}
		}
		// The user id cannot hold a colon; the password can.
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" {
			return credential{}, errBadBasic
		}
		return credential{scheme: MethodBasic, user: user, password: pass}, nil
	case schemeBearer:
		if !isB64Token(rest) {
			return credential{}, errBadBearer
		}
		return credential{scheme: schemeBearer, token: rest}, nil
	}
	return credential{}, errUnknownScheme
}

// isB64Token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

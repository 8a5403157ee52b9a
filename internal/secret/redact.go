package secret

import (
	"net/url"
	"strings"
)

// IsSecretKey reports whether a JSON attribute name holds a secret: passwords,
// tokens, client secrets, credentials and keys (private_key, client_key,
// ssh_key...). Names such as ssl_ca_cert or keystone URLs are not secrets.
func IsSecretKey(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"password", "passwd", "token", "secret", "credential", "passphrase", "private_key", "privatekey"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return n == "key" || strings.HasSuffix(n, "key") || strings.HasSuffix(n, "_key_data") || strings.HasSuffix(n, "key_file_data")
}

// Redacted replaces a secret value inside a string that must keep its
// shape (a Helm "name=value" parameter).
const Redacted = "***"

// Redact returns a deep copy of a decoded JSON value with every attribute
// whose name IsSecretKey removed, and whether anything was removed. The
// strings of a "helmparameter" list are Helm --set assignments
// ("a.b=v,c=w"): an assignment whose name is a secret keeps its name and
// gets Redacted as its value, so the list still says what was set.
func Redact(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		removed := false
		for k, e := range t {
			if IsSecretKey(k) {
				removed = true
				continue
			}
			r, rm := Redact(e)
			if l, ok := r.([]any); ok && strings.EqualFold(k, "helmparameter") {
				r, rm = redactAssignments(l), rm || assignmentsHaveSecret(l)
			}
			removed = removed || rm
			out[k] = r
		}
		return out, removed
	case []any:
		out := make([]any, len(t))
		removed := false
		for i, e := range t {
			r, rm := Redact(e)
			removed = removed || rm
			out[i] = r
		}
		return out, removed
	default:
		return v, false
	}
}

// RedactMap is Redact for an object.
func RedactMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	r, _ := Redact(m)
	return r.(map[string]any)
}

// IsSecretPath reports whether a dotted values path (Helm --set syntax:
// auth.rootPassword, secrets[0].token, "a\.b") names a secret: any of its
// segments does.
func IsSecretPath(p string) bool {
	for _, seg := range strings.Split(p, ".") {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		if seg != "" && IsSecretKey(strings.TrimSpace(seg)) {
			return true
		}
	}
	return false
}

// RedactAssignment redacts the values of the secret names in one Helm --set
// string ("a=1,db.password=x" gives "a=1,db.password=***"). Commas and
// equals signs escaped with a backslash belong to the value.
func RedactAssignment(s string) (string, bool) {
	parts := splitUnescaped(s, ',')
	changed := false
	for i, a := range parts {
		name, _, ok := cutUnescaped(a, '=')
		if ok && IsSecretPath(name) {
			parts[i] = name + "=" + Redacted
			changed = true
		} else if !ok && i > 0 && changed {
			// "pw=a,b" is one value with a comma only in Helm's list
			// syntax ({a,b}); a stray part after a redacted value may be
			// part of it, so it goes too.
			parts[i] = Redacted
		}
	}
	return strings.Join(parts, ","), changed
}

func assignmentsHaveSecret(l []any) bool {
	for _, e := range l {
		if s, ok := e.(string); ok {
			if _, ch := RedactAssignment(s); ch {
				return true
			}
		}
	}
	return false
}

func redactAssignments(l []any) []any {
	out := make([]any, len(l))
	for i, e := range l {
		if s, ok := e.(string); ok {
			e, _ = RedactAssignment(s)
		}
		out[i] = e
	}
	return out
}

// splitUnescaped splits s at every sep not preceded by a backslash, outside
// braces (Helm's {a,b} list values).
func splitUnescaped(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// cutUnescaped is strings.Cut at the first sep not preceded by a backslash.
func cutUnescaped(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// RedactURL is u for messages and logs: a password in its userinfo is
// masked (net/url's Redacted), and an unparsable URL is not repeated.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

package secret

import "strings"

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

// Redact returns a deep copy of a decoded JSON value with every attribute
// whose name IsSecretKey removed, and whether anything was removed.
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

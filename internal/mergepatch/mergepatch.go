// Package mergepatch applies RFC 7386 JSON merge patches to decoded JSON
// objects, as SOL003/SOL005 PATCH requests and vimConnectionInfo updates
// need.
package mergepatch

// Objects returns target with patch applied: a null member deletes, an
// object member merges recursively, anything else replaces. Neither input is
// modified; an empty result is nil.
func Objects(target, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target)+len(patch))
	for k, v := range target {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			tm, _ := out[k].(map[string]any)
			out[k] = Objects(tm, pm)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

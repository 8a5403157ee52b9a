package api

import (
	"encoding/json"

	"github.com/vnfm-project/vnfm/internal/secret"
)

// servedParams strips secrets from stored operationParams once more when
// serving: lcm redacts them before storing, but op occs stored before a
// rule existed (Helm parameters' values) keep the document they got.
func servedParams(raw json.RawMessage) json.RawMessage {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	r, removed := secret.Redact(v)
	if !removed {
		return raw
	}
	out, err := json.Marshal(r)
	if err != nil {
		return raw
	}
	return out
}

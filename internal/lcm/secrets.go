package lcm

import (
	"encoding/json"
	"fmt"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
)

// Sealer encrypts write-only values; *secret.Box implements it.
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// sealJSON marshals v and seals it.
func (s *Service) sealJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	return s.box.Seal(raw)
}

// openJSON opens a value made by sealJSON into v; nil sealed leaves v as is.
func (s *Service) openJSON(sealed []byte, v any) error {
	if sealed == nil {
		return nil
	}
	raw, err := s.box.Open(sealed)
	if err != nil {
		return fmt.Errorf("open sealed value: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode sealed value: %w", err)
	}
	return nil
}

// redactVims returns copies of vims without secrets in accessInfo, extra and
// interfaceInfo.
func redactVims(vims []model.VimConnectionInfo) []model.VimConnectionInfo {
	if vims == nil {
		return nil
	}
	out := make([]model.VimConnectionInfo, len(vims))
	for i, v := range vims {
		v.AccessInfo = secret.RedactMap(v.AccessInfo)
		v.Extra = secret.RedactMap(v.Extra)
		v.InterfaceInfo = secret.RedactMap(v.InterfaceInfo)
		out[i] = v
	}
	return out
}

// redactJSON removes secret attributes from a JSON document.
func redactJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	r, removed := secret.Redact(v)
	if !removed {
		return raw, nil
	}
	return json.Marshal(r)
}

// mergeVims applies upserts (by id) and removals to vims.
func mergeVims(vims, upserts []model.VimConnectionInfo, remove []string) []model.VimConnectionInfo {
	out := make([]model.VimConnectionInfo, 0, len(vims)+len(upserts))
	drop := map[string]bool{}
	for _, id := range remove {
		drop[id] = true
	}
	idx := map[string]int{}
	for _, v := range vims {
		if drop[v.ID] {
			continue
		}
		idx[v.ID] = len(out)
		out = append(out, v)
	}
	for _, u := range upserts {
		if i, ok := idx[u.ID]; ok {
			out[i] = u
			continue
		}
		idx[u.ID] = len(out)
		out = append(out, u)
	}
	return out
}

package e2e

import (
	"encoding/json"
	"testing"

	"github.com/vnfm-project/vnfm/test/etsischema"
)

func validate(t testing.TB, name string, body []byte) {
	t.Helper()
	etsischema.Validate(t, name, body)
}

func TestSchemasPresent(t *testing.T) {
	if !etsischema.Loaded(t) {
		t.Log("../shared is absent: response bodies are not validated against the ETSI schemas")
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

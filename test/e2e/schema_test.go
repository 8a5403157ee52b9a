package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	schemaOnce sync.Once
	schemas    map[string]*jsonschema.Schema
	schemaErr  error
)

// Response body types and the ETSI SOL003 v2.6.1 schema files that define
// them (../shared holds them; without it the bodies are not validated).
var schemaFiles = map[string]string{
	"VnfInstance":           "SOL003/vnfInstance.schema.json",
	"VnfLcmOpOcc":           "SOL003/vnfLcmOpOcc.schema.json",
	"ProblemDetails":        "SOL003/ProblemDetails.schema.json",
	"ApiVersionInformation": "SOL003/ApiVersionInformation.schema.json",
	"SOL002/VnfInstance":    "SOL002/vnfInstance.schema.json",
	"SOL002/VnfLcmOpOcc":    "SOL002/vnfLcmOpOcc.schema.json",
}

func loadSchemas() {
	dir := shared()
	if dir == "" {
		return
	}
	c := jsonschema.NewCompiler()
	schemas = map[string]*jsonschema.Schema{}
	for name, file := range schemaFiles {
		path := filepath.Join(dir, "etsi", "schemas-v2.6.1", file)
		raw, err := os.ReadFile(path)
		if err != nil {
			schemaErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			schemaErr = err
			return
		}
		if err := c.AddResource(path, doc); err != nil {
			schemaErr = err
			return
		}
		if schemas[name], err = c.Compile(path); err != nil {
			schemaErr = err
			return
		}
	}
}

// validate checks body against the ETSI schema of the named type (and its
// SOL002 twin when there is one).
func validate(t testing.TB, name string, body []byte) {
	t.Helper()
	schemaOnce.Do(loadSchemas)
	if schemaErr != nil {
		t.Fatalf("load ETSI schemas: %v", schemaErr)
	}
	if schemas == nil {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s body is not JSON: %v: %s", name, err, body)
	}
	for _, n := range []string{name, "SOL002/" + name} {
		s, ok := schemas[n]
		if !ok {
			continue
		}
		if err := s.Validate(v); err != nil {
			t.Fatalf("%s body does not match the ETSI schema: %v\n%s", n, err, body)
		}
	}
}

func TestSchemasPresent(t *testing.T) {
	if shared() == "" {
		t.Log("../shared is absent: response bodies are not validated against the ETSI schemas")
		return
	}
	schemaOnce.Do(loadSchemas)
	if schemaErr != nil || len(schemas) != len(schemaFiles) {
		t.Fatalf("ETSI schemas did not load: %v", schemaErr)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

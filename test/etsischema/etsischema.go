// Package etsischema validates response bodies against the ETSI SOL002 and
// SOL003 v2.6.1 JSON schemas that ../shared/etsi holds beside the module.
// Without that directory bodies are not validated (the project must build
// and test without it); with it, a schema that fails to load fails the test.
package etsischema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Files maps a body type to its schema files: SOL003 first, then the SOL002
// twin where the type has one.
var Files = map[string][]string{
	"VnfInstance":           {"SOL003/vnfInstance.schema.json", "SOL002/vnfInstance.schema.json"},
	"VnfLcmOpOcc":           {"SOL003/vnfLcmOpOcc.schema.json", "SOL002/vnfLcmOpOcc.schema.json"},
	"ProblemDetails":        {"SOL003/ProblemDetails.schema.json"},
	"ApiVersionInformation": {"SOL003/ApiVersionInformation.schema.json"},
	"LccnSubscription":      {"SOL003/LccnSubscription.schema.json", "SOL002/subscription.schema.json"},
	// The SOL002 notification schema files in ../shared are empty.
	"VnfLcmOperationOccurrenceNotification": {"SOL003/VnfLcmOperationOccurrenceNotification.schema.json"},
	"VnfIdentifierCreationNotification":     {"SOL003/VnfIdentifierCreationNotification.schema.json"},
	"VnfIdentifierDeletionNotification":     {"SOL003/vnfIdentifierDeletionNotification.schema.json"},
	// The Grant the NFVO answers (for the fake NFVO's own answers).
	"Grant": {"SOL003/grant.schema.json"},
}

var (
	once    sync.Once
	schemas map[string][]*jsonschema.Schema
	loadErr error
)

// Dir is the schemas directory, or "" when ../shared is absent.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "etsi", "schemas-v2.6.1")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

func load() {
	dir := Dir()
	if dir == "" {
		return
	}
	c := jsonschema.NewCompiler()
	schemas = map[string][]*jsonschema.Schema{}
	for name, files := range Files {
		for _, f := range files {
			path := filepath.Join(dir, f)
			raw, err := os.ReadFile(path)
			if err != nil {
				loadErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				loadErr = err
				return
			}
			if f == "SOL002/vnfInstance.schema.json" {
				allowNoExtCps(doc)
			}
			if err := c.AddResource(path, doc); err != nil {
				loadErr = err
				return
			}
			s, err := c.Compile(path)
			if err != nil {
				loadErr = err
				return
			}
			schemas[name] = append(schemas[name], s)
		}
	}
}

// allowNoExtCps lets a SOL002 VnfInstance have no external CPs, as a CNF
// has none: SOL002 v2.6.1 alone requires instantiatedVnfInfo.extCpInfo
// with at least one item (SOL003 v2.6.1 has it 0..N, as later SOL002
// versions do). Nothing else of the schema is relaxed.
func allowNoExtCps(doc any) {
	props, _ := doc.(map[string]any)["properties"].(map[string]any)
	info, _ := props["instantiatedVnfInfo"].(map[string]any)
	if info == nil {
		return
	}
	if req, ok := info["required"].([]any); ok {
		kept := req[:0:0]
		for _, r := range req {
			if r != "extCpInfo" {
				kept = append(kept, r)
			}
		}
		info["required"] = kept
	}
	if ext, ok := info["properties"].(map[string]any)["extCpInfo"].(map[string]any); ok {
		delete(ext, "minItems")
	}
}

// Loaded reports whether the schemas are in use, failing t if they exist
// but do not load.
func Loaded(t testing.TB) bool {
	t.Helper()
	once.Do(load)
	if loadErr != nil {
		t.Fatalf("load ETSI schemas: %v", loadErr)
	}
	return schemas != nil
}

// Validate checks body against every schema of the named type.
func Validate(t testing.TB, name string, body []byte) {
	t.Helper()
	if !Loaded(t) {
		return
	}
	list, ok := schemas[name]
	if !ok {
		t.Fatalf("no ETSI schema for %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s body is not JSON: %v: %s", name, err, body)
	}
	for _, s := range list {
		if err := s.Validate(v); err != nil {
			t.Fatalf("%s body does not match the ETSI schema %s: %v\n%s", name, s.Location, err, body)
		}
	}
}

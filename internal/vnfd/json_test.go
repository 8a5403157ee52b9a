package vnfd

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip stores v as JSON and loads it back.
func roundTrip(t testing.TB, v *VNFD) *VNFD {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	back, err := FromJSON(raw)
	require.NoError(t, err)
	if !reflect.DeepEqual(v, back) {
		again, _ := json.Marshal(back)
		require.JSONEq(t, string(raw), string(again))
		t.Fatalf("round trip changed the model (same JSON, different Go values)")
	}
	return back
}

func TestJSONRoundTripSamples(t *testing.T) {
	for _, name := range []string{"vm-simple", "k8s-cluster", "cnf-helm"} {
		t.Run(name, func(t *testing.T) {
			v := parseSample(t, name)
			back := roundTrip(t, v)
			// The reloaded model answers the same.
			for _, f := range v.Flavours() {
				g, ok := back.Flavour(f.ID)
				require.True(t, ok)
				for _, d := range f.VDUs() {
					for _, l := range f.InstantiationLevels() {
						assert.Equal(t, f.InstancesAt(d.Name, l.ID), g.InstancesAt(d.Name, l.ID))
					}
				}
				assert.Equal(t, v.MgmtDriver(f.ID), back.MgmtDriver(f.ID))
				assert.Equal(t, v.Inputs(f.ID), back.Inputs(f.ID))
			}
			assert.Equal(t, v.SoftwareImages(), back.SoftwareImages())
		})
	}
}

// TestJSONRoundTripRawValues covers the raw values YAML can hold.
func TestJSONRoundTripRawValues(t *testing.T) {
	files := pkg(`    Odd:
      type: acme.Odd
      properties:
        float: 1.0
        exp: 1e3
        neg: -0.5
        leading: .5
        inf: .inf
        nan: .nan
        big: 18446744073709551615
        huge: 123456789012345678901234567890
        hex: 0x1F
        octal: 0o17
        when: 2025-01-15T09:00:00Z
        day: 2025-01-15
        yes: yes
        nothing: ~
        empty_map: {}
        empty_list: []
        nested: { a: [ { b: [] } ], c: { } }
        anchor: &anc { k: v, n: 1 }
        alias: *anc
        merged:
          <<: *anc
          n: 2
        ? [complex, key]
        : value
        unicode: "h\u00e9llo \U0001F600"
        binary: !!binary aGVsbG8=
        multi: |
          line one
          line two
`)
	v := parseMap(t, files, "Definitions/top.yaml")
	f, _ := v.Flavour("small")
	p := f.Topology.Others["Odd"].Properties
	assert.Equal(t, json.Number("1.0"), p["float"])
	assert.Equal(t, ".inf", p["inf"])
	assert.Equal(t, json.Number("18446744073709551615"), p["big"])
	assert.Equal(t, json.Number("31"), p["hex"])
	assert.Equal(t, json.Number("15"), p["octal"])
	assert.Equal(t, "2025-01-15T09:00:00Z", p["when"])
	assert.Equal(t, map[string]any{}, p["empty_map"])
	assert.Equal(t, []any{}, p["empty_list"])
	assert.Equal(t, map[string]any{"k": "v", "n": json.Number("1")}, p["alias"])
	assert.Equal(t, map[string]any{"k": "v", "n": json.Number("2")}, p["merged"])
	assert.Equal(t, "value", p[`["complex","key"]`])
	assert.Nil(t, p["nothing"])
	roundTrip(t, v)
}

func TestFromJSONErrors(t *testing.T) {
	_, err := FromJSON([]byte(`{"entry": 7}`))
	assert.Error(t, err)
	_, err = FromJSON([]byte(`{} {}`))
	assert.Error(t, err)
	v, err := FromJSON([]byte(`{"entry":"x.yaml"}`))
	require.NoError(t, err)
	assert.Equal(t, "x.yaml", v.Entry)
	assert.Empty(t, v.Flavours())
	_, ok := v.Flavour("any")
	assert.False(t, ok)
	assert.Equal(t, "", v.MgmtDriver("any"))
}

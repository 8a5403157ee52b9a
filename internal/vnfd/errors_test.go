package vnfd

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapFS builds a package from path -> content.
func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, c := range files {
		m[p] = &fstest.MapFile{Data: []byte(c)}
	}
	return m
}

// lineOf returns the 1-based line of the first line of text containing
// marker.
func lineOf(t *testing.T, text, marker string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("marker %q not in text", marker)
	return 0
}

const testTypes = `tosca_definitions_version: tosca_simple_yaml_1_2
imports:
  - etsi_nfv_sol001_common_types.yaml
  - etsi_nfv_sol001_vnfd_types.yaml
node_types:
  my.VNF:
    derived_from: tosca.nodes.nfv.VNF
    properties:
      descriptor_id: {type: string, default: d-default}
      provider: {type: string, default: Acme}
      product_name: {type: string, default: Widget}
      software_version: {type: string, default: '2.0'}
      descriptor_version: {type: string, default: 1.0}
      vnfm_info: {type: list, default: [ Tacker ]}
      flavour_id: {type: string, default: small}
`

const testTop = `tosca_definitions_version: tosca_simple_yaml_1_2
imports:
  - etsi_nfv_sol001_vnfd_types.yaml
  - types.yaml
  - df.yaml
topology_template:
  node_templates:
    VNF:
      type: my.VNF
      properties:
        descriptor_id: d-1
`

// testDF is a flavour file; the caller appends node templates / policies.
const testDF = `tosca_definitions_version: tosca_simple_yaml_1_2
imports:
  - types.yaml
topology_template:
  substitution_mappings:
    node_type: my.VNF
    properties:
      flavour_id: small
  node_templates:
    VNF:
      type: my.VNF
      properties:
        flavour_description: the small one
    VDU1:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        name: VDU1
        vdu_profile:
          min_number_of_instances: 1
          max_number_of_instances: 4
`

// pkg returns a three-file package (top, types, flavour) with extra text
// appended to the flavour file.
func pkg(dfExtra string) map[string]string {
	return map[string]string{
		"Definitions/top.yaml":   testTop,
		"Definitions/types.yaml": testTypes,
		"Definitions/df.yaml":    testDF + dfExtra,
	}
}

func TestParseErrors(t *testing.T) {
	type tc struct {
		name   string
		files  map[string]string
		entry  string
		file   string // file of the error
		marker string // text on the error line ("" = line 0)
		msg    string // substring of the message
	}
	with := func(base map[string]string, p, c string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		out[p] = c
		return out
	}
	cycleA := "imports:\n  - b.yaml   # a->b\ntopology_template: {}\n"
	cycleB := "description: b\nimports:\n  - sub/../a.yaml   # b->a\n"
	cases := []tc{
		{
			name:  "bad yaml",
			files: map[string]string{"Definitions/top.yaml": "tosca_definitions_version: x\ndescription: a\n  broken: [\nnode_types: {}\n"},
			file:  "Definitions/top.yaml", marker: "broken", msg: "invalid YAML",
		},
		{
			name:  "bad yaml in an import",
			files: with(pkg(""), "Definitions/types.yaml", "node_types:\n  a: b\n   c: d\n"),
			file:  "Definitions/types.yaml", marker: "c: d", msg: "invalid YAML",
		},
		{
			name:  "not a mapping",
			files: map[string]string{"Definitions/top.yaml": "# comment\n- a\n- b\n"},
			file:  "Definitions/top.yaml", marker: "- a", msg: "must be a YAML mapping",
		},
		{
			name:  "import escaping the package",
			files: map[string]string{"Definitions/top.yaml": "imports:\n  - ok.yaml\n  - ../../outside.yaml\n", "Definitions/ok.yaml": "{}\n"},
			file:  "Definitions/top.yaml", marker: "outside", msg: "leaves the package",
		},
		{
			name:  "import escaping via file key",
			files: map[string]string{"Definitions/top.yaml": "imports:\n  - file: ../../../x.yaml\n"},
			file:  "Definitions/top.yaml", marker: "x.yaml", msg: "leaves the package",
		},
		{
			name:  "absolute import",
			files: map[string]string{"Definitions/top.yaml": "imports:\n  - /etc/passwd\n"},
			file:  "Definitions/top.yaml", marker: "passwd", msg: "absolute",
		},
		{
			name:  "URL import",
			files: map[string]string{"Definitions/top.yaml": "imports:\n  - https://example.com/etsi_nfv_sol001_vnfd_types.yaml\n"},
			file:  "Definitions/top.yaml", marker: "https", msg: "URL",
		},
		{
			name:  "repository import",
			files: map[string]string{"Definitions/top.yaml": "imports:\n  - file: types.yaml\n    repository: etsi   # remote\n"},
			file:  "Definitions/top.yaml", marker: "remote", msg: "repository",
		},
		{
			name:  "missing import",
			files: with(pkg(""), "Definitions/df.yaml", "imports:\n  - types.yaml\n  - missing_types.yaml\n"),
			file:  "Definitions/df.yaml", marker: "missing_types", msg: "not found",
		},
		{
			name:  "import cycle",
			files: map[string]string{"Definitions/a.yaml": cycleA, "Definitions/b.yaml": cycleB},
			entry: "Definitions/a.yaml",
			file:  "Definitions/b.yaml", marker: "b->a", msg: "import cycle: Definitions/a.yaml -> Definitions/b.yaml -> Definitions/a.yaml",
		},
		{
			name:  "self import",
			files: map[string]string{"Definitions/top.yaml": "imports: [ top.yaml ]\n"},
			file:  "Definitions/top.yaml", marker: "top.yaml", msg: "import cycle",
		},
		{
			name: "no VNF node",
			files: map[string]string{"Definitions/top.yaml": "imports: []\ntopology_template:   # here\n  node_templates:\n" +
				"    VDU1:\n      type: tosca.nodes.nfv.Vdu.Compute\n"},
			file: "Definitions/top.yaml", marker: "# here", msg: "no node template of type tosca.nodes.nfv.VNF",
		},
		{
			name:  "empty entry file",
			files: map[string]string{"Definitions/top.yaml": "# nothing but a comment\n"},
			file:  "Definitions/top.yaml", msg: "no node template of type tosca.nodes.nfv.VNF",
		},
		{
			name:  "no topology at all",
			files: map[string]string{"Definitions/top.yaml": "tosca_definitions_version: tosca_simple_yaml_1_2\n"},
			file:  "Definitions/top.yaml", msg: "no node template of type tosca.nodes.nfv.VNF",
		},
		{
			name: "duplicate flavour id",
			files: with(with(pkg(""), "Definitions/top.yaml", strings.Replace(testTop, "  - df.yaml\n", "  - df.yaml\n  - df2.yaml\n", 1)),
				"Definitions/df2.yaml", strings.Replace(testDF, "flavour_id: small", "flavour_id: small   # again", 1)),
			file: "Definitions/df2.yaml", marker: "# again", msg: `flavour "small" is already defined in Definitions/df.yaml`,
		},
		{
			name:  "count not an integer",
			files: pkg("    VDU2:\n      type: tosca.nodes.nfv.Vdu.Compute\n      properties:\n        vdu_profile:\n          min_number_of_instances: many\n"),
			file:  "Definitions/df.yaml", marker: "many", msg: "expected an integer",
		},
		{
			name:  "negative count",
			files: pkg("    VDU2:\n      type: tosca.nodes.nfv.Vdu.Compute\n      properties:\n        vdu_profile:\n          max_number_of_instances: -1\n"),
			file:  "Definitions/df.yaml", marker: "-1", msg: "out of range",
		},
		{
			name:  "max below min",
			files: pkg("    VDU2:\n      type: tosca.nodes.nfv.Vdu.Compute\n      properties:\n        vdu_profile:   # prof\n          min_number_of_instances: 2\n          max_number_of_instances: 1\n"),
			file:  "Definitions/df.yaml", marker: "min_number_of_instances: 2", msg: "below",
		},
		{
			name: "bad size unit",
			files: pkg("    VDU2:\n      type: tosca.nodes.nfv.Vdu.Compute\n      capabilities:\n        virtual_compute:\n          properties:\n" +
				"            virtual_memory:\n              virtual_mem_size: 4 GX\n"),
			file: "Definitions/df.yaml", marker: "4 GX", msg: "unknown size unit",
		},
		{
			name: "delta for an undefined aspect",
			files: pkg("  policies:\n    - d:\n        type: tosca.policies.nfv.VduScalingAspectDeltas\n        properties:\n" +
				"          aspect: ghost\n          deltas: {delta_1: {number_of_instances: 1}}\n        targets: [VDU1]\n"),
			file: "Definitions/df.yaml", marker: "ghost", msg: `aspect "ghost" is not defined`,
		},
		{
			name:  "duplicate node template",
			files: pkg("    VDU1:   # dup\n      type: tosca.nodes.nfv.Vdu.Compute\n"),
			file:  "Definitions/df.yaml", marker: "# dup", msg: `duplicate key "VDU1"`,
		},
		{
			name:  "node template without type",
			files: pkg("    Thing:   # untyped\n      properties: {a: 1}\n"),
			file:  "Definitions/df.yaml", marker: "# untyped", msg: "missing type",
		},
		{
			name:  "policy without type",
			files: pkg("  policies:\n    - p1:   # untyped\n        targets: [VDU1]\n"),
			file:  "Definitions/df.yaml", marker: "# untyped", msg: "missing type",
		},
		{
			name:  "node_templates not a mapping",
			files: pkg("  policies: 7   # seven\n"),
			file:  "Definitions/df.yaml", marker: "# seven", msg: "expected a list",
		},
		{
			name:  "two VNF nodes",
			files: pkg("    VNF2:   # second\n      type: my.VNF\n"),
			file:  "Definitions/df.yaml", marker: "# second", msg: "second VNF node",
		},
		{
			name: "derived_from cycle",
			files: with(pkg(""), "Definitions/types.yaml", testTypes+
				"  a.T:   # cyc\n    derived_from: b.T\n  b.T:\n    derived_from: a.T\n"),
			file: "Definitions/types.yaml", marker: "# cyc", msg: "derived_from cycle",
		},
		{
			name:  "VNF property of the wrong shape",
			files: with(pkg(""), "Definitions/top.yaml", testTop+"        provider: [a, b]   # list\n"),
			file:  "Definitions/top.yaml", marker: "# list", msg: "VNF property provider: expected a string",
		},
		{
			name:  "entry missing",
			files: map[string]string{},
			file:  "Definitions/top.yaml", msg: "not found",
		},
		{
			name:  "entry outside",
			files: map[string]string{},
			entry: "../top.yaml",
			file:  "../top.yaml", msg: "relative path inside the package",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entry := c.entry
			if entry == "" {
				entry = "Definitions/top.yaml"
			}
			v, err := Parse(mapFS(c.files), entry)
			require.Error(t, err)
			assert.Nil(t, v)
			var pe *Error
			require.True(t, errors.As(err, &pe), "%T %v", err, err)
			assert.Equal(t, c.file, pe.File, "%v", err)
			want := 0
			if c.marker != "" {
				want = lineOf(t, c.files[c.file], c.marker)
			}
			assert.Equal(t, want, pe.Line, "%v", err)
			assert.Contains(t, pe.Msg, c.msg)
			if want > 0 {
				assert.True(t, strings.HasPrefix(err.Error(), c.file+":"), err.Error())
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	assert.Equal(t, "a.yaml:3: boom", (&Error{File: "a.yaml", Line: 3, Msg: "boom"}).Error())
	assert.Equal(t, "a.yaml: boom", (&Error{File: "a.yaml", Msg: "boom"}).Error())
	assert.Equal(t, "vnfd: boom", (&Error{Msg: "boom"}).Error())
}

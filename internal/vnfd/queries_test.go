package vnfd

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseMap(t *testing.T, files map[string]string, entry string) *VNFD {
	t.Helper()
	v, err := Parse(mapFS(files), entry)
	require.NoError(t, err)
	return v
}

func TestInfoFallsBackToTypeDefaults(t *testing.T) {
	v := parseMap(t, pkg(""), "Definitions/top.yaml")
	assert.Equal(t, "d-1", v.ID(), "from the top VNF node")
	assert.Equal(t, "Acme", v.Provider(), "type default")
	assert.Equal(t, "Widget", v.ProductName())
	assert.Equal(t, "2.0", v.SoftwareVersion())
	assert.Equal(t, "1.0", v.DescriptorVersion(), "an unquoted 1.0 default keeps its text")
	assert.Equal(t, []string{"Tacker"}, v.VnfmInfo())
	assert.Equal(t, "small", v.Info.FlavourID)
	f, ok := v.Flavour("small")
	require.True(t, ok)
	assert.Equal(t, "the small one", f.Description)
	// ETSI type files are not needed; a present one is not even read.
	files := pkg("")
	files["Definitions/etsi_nfv_sol001_vnfd_types.yaml"] = "{{{ not yaml"
	_ = parseMap(t, files, "Definitions/top.yaml")
}

func TestGetInputResolution(t *testing.T) {
	files := pkg("")
	files["Definitions/top.yaml"] = testTop + "        provider: { get_input: vendor }\n        product_name: { get_input: [ name ] }\n" +
		"  inputs:\n    vendor:\n      type: string\n      default: InputCo\n    name:\n      type: string\n"
	v := parseMap(t, files, "Definitions/top.yaml")
	assert.Equal(t, "InputCo", v.Provider(), "input default")
	assert.Equal(t, "Widget", v.ProductName(), "input without default: the type default")
	assert.Equal(t, map[string]any{"get_input": "vendor"}, v.VNF.Properties["provider"], "raw properties stay as written")

	files = pkg("    VDU2:\n      type: tosca.nodes.nfv.Vdu.Compute\n      properties:\n        vdu_profile:\n" +
		"          min_number_of_instances: { get_input: vdu2_min }\n          max_number_of_instances: 5\n")
	files["Definitions/df.yaml"] = replaceOnce(t, files["Definitions/df.yaml"], "topology_template:\n",
		"topology_template:\n  inputs:\n    vdu2_min:\n      type: integer\n      default: 2\n")
	v = parseMap(t, files, "Definitions/top.yaml")
	f, _ := v.Flavour("small")
	min, max := f.VduProfile("VDU2")
	assert.Equal(t, []int{2, 5}, []int{min, max})
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Contains(t, s, old)
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

const scalingDF = `    VDU2:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        vdu_profile: {min_number_of_instances: 0, max_number_of_instances: 10}
  policies:
    - aspects:
        type: my.ScalingAspects
        properties:
          aspects:
            big:
              name: big
              max_scale_level: 4
              step_deltas: [ delta_1, delta_2 ]
            plain:
              name: plain
              max_scale_level: 3
    - big_deltas:
        type: tosca.policies.nfv.VduScalingAspectDeltas
        properties:
          aspect: big
          deltas:
            delta_1: {number_of_instances: 1}
            delta_2: {number_of_instances: 2}
        targets: [ VDU1, VDU2 ]
    - plain_deltas:
        type: tosca.policies.nfv.VduScalingAspectDeltas
        properties:
          aspect: plain
          deltas:
            only: {number_of_instances: 3}
        targets: [ VDU2 ]
    - VDU1_initial:
        type: tosca.policies.nfv.VduInitialDelta
        properties:
          initial_delta: {number_of_instances: 2}
        targets: [ VDU1 ]
    - levels:
        type: tosca.policies.nfv.InstantiationLevels
        properties:
          levels:
            huge:
              scale_info:
                big: {scale_level: 3}
                plain: {scale_level: 2}
    - rules:
        type: tosca.policies.nfv.AffinityRule
        targets: [ VDU1, VDU2 ]
        properties: {scope: zone}
    - sg:
        type: tosca.policies.nfv.SecurityGroupRule
        targets: [ VDU1_CP1 ]
        properties: {port_range_min: 22, port_range_max: 22}
    - monitoring:
        type: tosca.policies.nfv.VnfIndicator
        properties: {source: vnf, criteria: [{threshold: 0.75}]}
`

func TestScalingComputedFromDeltas(t *testing.T) {
	files := pkg(scalingDF)
	files["Definitions/types.yaml"] = testTypes + "policy_types:\n  my.ScalingAspects:\n    derived_from: tosca.policies.nfv.ScalingAspects\n"
	v := parseMap(t, files, "Definitions/top.yaml")
	f, _ := v.Flavour("small")

	assert.Equal(t, []string{"big", "plain"}, names(f.Aspects(), func(a *Aspect) string { return a.ID }), "derived ScalingAspects type recognised")
	assert.Equal(t, map[string]int{"VDU1": 1, "VDU2": 1}, f.AspectDelta("big", 1))
	assert.Equal(t, map[string]int{"VDU1": 2, "VDU2": 2}, f.AspectDelta("big", 2))
	assert.Equal(t, map[string]int{"VDU1": 2, "VDU2": 2}, f.AspectDelta("big", 7), "past the list: the last step delta")
	assert.Equal(t, map[string]int{"VDU2": 3}, f.AspectDelta("plain", 2), "no step_deltas: the only delta")
	assert.Equal(t, []string{"big", "plain"}, f.AspectsOf("VDU2"))

	// One level, so it is the default; no VduInstantiationLevels, so the
	// count is initial + the deltas of steps 1..scale_level.
	assert.Equal(t, "huge", f.DefaultLevel())
	assert.Equal(t, 2+1+2+2, f.InstancesAt("VDU1", "huge"))
	assert.Equal(t, 0+1+2+2+3+3, f.InstancesAt("VDU2", ""), "VDU2: vdu_profile min (0) + big 3 steps + plain 2 steps")
	assert.Equal(t, 2, f.InstancesAt("VDU1", "unknown-level"), "unknown level: the initial delta")
	assert.Equal(t, 1, func() int { f2 := *f; f2.Scaling.InitialDeltas = nil; return f2.InstancesAt("VDU1", "unknown") }(), "no initial delta: vdu_profile min")
	assert.Equal(t, map[string]int{"big": 3, "plain": 2}, f.ScaleLevelsAt(""))

	rules := f.AffinityRules()
	require.Len(t, rules, 1)
	assert.True(t, rules[0].Affinity)
	assert.Equal(t, "zone", rules[0].Scope)
	sg := f.SecurityGroupRules()
	require.Len(t, sg, 1)
	assert.Equal(t, SecurityGroupRule{Name: "sg", Direction: "ingress", EtherType: "ipv4", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, Targets: []string{"VDU1_CP1"}}, *sg[0])

	// Every policy is kept, the unknown one opaque.
	require.Len(t, f.Policies, 8)
	last := f.Policies[7]
	assert.Equal(t, "monitoring", last.Name)
	assert.Equal(t, "", last.BaseType)
	assert.Equal(t, []any{map[string]any{"threshold": json.Number("0.75")}}, last.Properties["criteria"])
	assert.Equal(t, PolicyScalingAspects, f.Policies[0].BaseType)
}

func TestUnknownNodesKept(t *testing.T) {
	files := pkg(`    Sidecar:
      type: acme.nodes.Sidecar
      properties:
        mode: turbo
        ports: [ 80, 443 ]
      requirements:
        - host: VDU1
        - link: { node: VL9, relationship: tosca.relationships.DependsOn }
      interfaces:
        Standard: { create: scripts/c.sh }
    Ext:
      type: tosca.nodes.nfv.VnfExtCp
      properties: { layer_protocols: [ ipv4 ] }
`)
	v := parseMap(t, files, "Definitions/top.yaml")
	f, _ := v.Flavour("small")
	sc := f.Topology.Others["Sidecar"]
	require.NotNil(t, sc)
	assert.Equal(t, "acme.nodes.Sidecar", sc.Type)
	assert.Equal(t, "turbo", sc.Properties["mode"])
	assert.Equal(t, []any{json.Number("80"), json.Number("443")}, sc.Properties["ports"])
	require.Len(t, sc.Requirements, 2)
	assert.Equal(t, Requirement{Name: "host", Node: "VDU1"}, sc.Requirements[0])
	assert.Equal(t, "VL9", sc.Requirements[1].Node)
	assert.Contains(t, sc.Interfaces, "Standard")
	assert.Contains(t, f.Topology.Others, "Ext")
	assert.Len(t, f.VDUs(), 1)
}

// singleFileVNFD is a whole VNFD in one file, without flavour files.
const singleFileVNFD = `tosca_definitions_version: tosca_simple_yaml_1_3
imports: [ etsi_nfv_sol001_vnfd_types.yaml ]
topology_template:
  node_templates:
    vnf:
      type: tosca.nodes.nfv.VNF
      properties:
        descriptor_id: one
        provider: Solo
        product_name: Solo
        software_version: '1'
        descriptor_version: '1'
        flavour_id: tiny
        flavour_description: all in one file
      interfaces:
        Vnflcm:
          type: tosca.interfaces.nfv.Vnflcm
          inputs:
            shared: 42
          operations:
            instantiate_start:
              implementation:
                primary: hooks
                dependencies: [ lib ]
              inputs: { retries: 3 }
            heal_end: Scripts/heal.py
      artifacts:
        hooks:
          type: tosca.artifacts.Implementation.Python
          file: ../Scripts/hooks.py
    c1:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        name: c1
        vdu_profile: { min_number_of_instances: 1, max_number_of_instances: 1 }
        sw_image_data:
          name: img
          version: '1'
          checksum: abc123
          container_format: bare
          disk_format: qcow2
          min_disk: 1 GiB
          size: 512 MiB
`

func TestSingleFileVNFD(t *testing.T) {
	// No flavour file: the template with the VNF node is the flavour.
	single := singleFileVNFD
	files := map[string]string{"Definitions/vnfd.yaml": single, "Scripts/hooks.py": "# hooks\n"}
	v := parseMap(t, files, "Definitions/vnfd.yaml")
	assert.Equal(t, []string{"tiny"}, v.Info.FlavourIDs)
	f, ok := v.Flavour("tiny")
	require.True(t, ok)
	assert.Nil(t, f.VNF, "the VNF node is the top one")
	assert.Equal(t, "all in one file", f.Description)
	assert.Equal(t, []string{"c1"}, names(f.VDUs(), func(d *VDU) string { return d.Name }))

	a, ok := v.Hook("tiny", "instantiate_start")
	require.True(t, ok)
	assert.Equal(t, "Scripts/hooks.py", a.Path, "../ resolved from Definitions/")
	assert.Equal(t, []string{"lib"}, v.VNF.Interfaces[LcmInterface].Operations["instantiate_start"].Dependencies)
	// An implementation that names no artifact is a file.
	a, ok = v.Hook("tiny", "heal_end")
	require.True(t, ok)
	assert.Equal(t, Artifact{Name: "Scripts/heal.py", File: "Scripts/heal.py", Path: "Scripts/heal.py"}, *a)
	assert.Equal(t, "hooks", v.MgmtDriver("tiny"), "a Python artifact")

	in := v.Inputs("tiny")
	require.Len(t, in, 2)
	assert.Equal(t, Input{Name: "shared", Value: json.Number("42")}, in[0])
	assert.Equal(t, Input{Operation: "instantiate_start", Name: "retries", Value: json.Number("3")}, in[1])

	imgs := v.SoftwareImages()
	require.Len(t, imgs, 1)
	assert.Equal(t, Checksum{Hash: "abc123"}, imgs[0].Checksum, "SOL001 2.5.1 string checksum")
	assert.Equal(t, int64(1<<30), imgs[0].MinDisk)
	assert.Equal(t, int64(512<<20), imgs[0].Size)
	assert.Equal(t, "Solo", imgs[0].Provider)

	// Without flavour_id the flavour is "default".
	files["Definitions/vnfd.yaml"] = replaceOnce(t, single, "        flavour_id: tiny\n", "")
	v = parseMap(t, files, "Definitions/vnfd.yaml")
	_, ok = v.Flavour("default")
	assert.True(t, ok)
}

func TestMgmtDriverRule(t *testing.T) {
	df := `      interfaces:
        Vnflcm:
          instantiate_start: sample-script
          instantiate_end: mgmt-drivers-custom
          heal_end: ansible
      artifacts:
        sample-script: { type: tosca.artifacts.Implementation.Python, file: ../Scripts/s.py }
        mgmt-drivers-custom: { type: tosca.artifacts.File, file: Scripts/custom.bin }
        ansible: { type: tosca.artifacts.Implementation.Ansible, file: Scripts/site.yml }
`
	files := pkg("")
	files["Definitions/df.yaml"] = replaceOnce(t, files["Definitions/df.yaml"], "        flavour_description: the small one\n",
		"        flavour_description: the small one\n"+df)
	v := parseMap(t, files, "Definitions/top.yaml")
	assert.Equal(t, "mgmt-drivers-custom", v.MgmtDriver("small"), "the mgmt-drivers prefix wins over a Python type")
	a, _ := v.Hook("small", "instantiate_start")
	assert.Equal(t, "Scripts/s.py", a.Path)
	a, _ = v.Hook("small", "heal_end")
	assert.Equal(t, "Scripts/site.yml", a.Path, "no such file either way: package root")

	files["Definitions/df.yaml"] = replaceOnce(t, files["Definitions/df.yaml"], "instantiate_end: mgmt-drivers-custom", "instantiate_end: ansible")
	v = parseMap(t, files, "Definitions/top.yaml")
	assert.Equal(t, "sample-script", v.MgmtDriver("small"), "else a Python artifact")

	// Hooks on the top-level VNF node apply to every flavour lacking them.
	files = pkg("")
	files["Definitions/top.yaml"] = testTop + "      interfaces:\n        Vnflcm:\n          scale_end: mgmt-drivers-top\n" +
		"      artifacts:\n        mgmt-drivers-top: { type: tosca.artifacts.Implementation.Python, file: https://example.com/d.py }\n"
	v = parseMap(t, files, "Definitions/top.yaml")
	a, ok := v.Hook("small", "scale_end")
	require.True(t, ok)
	assert.Equal(t, "", a.Path, "a URL is not a package path")
	assert.Equal(t, "mgmt-drivers-top", v.MgmtDriver("small"))
}

func TestImportForms(t *testing.T) {
	files := map[string]string{
		"Definitions/top.yaml": `imports:
  - file: sub/df.yaml
  - common: common/types.yaml
  - etsi_nfv_sol001_common_types.yaml
topology_template:
  node_templates:
    VNF: { type: x.VNF, properties: { descriptor_id: forms } }
`,
		"Definitions/sub/df.yaml": `imports: [ ../common/types.yaml, ./more.yaml ]
topology_template:
  substitution_mappings:
    node_type: x.VNF
    properties: { flavour_id: f1 }
  node_templates:
    VNF: { type: x.VNF }
    VL: { type: x.VL, properties: { connectivity_type: { layer_protocols: [ ipv6 ] } } }
`,
		"Definitions/sub/more.yaml": "imports: [ ../common/types.yaml ]\n",
		"Definitions/common/types.yaml": `node_types:
  x.Base: { derived_from: tosca.nodes.nfv.VNF }
  x.VNF: { derived_from: x.Base }
  x.VL: { derived_from: tosca.nodes.nfv.VnfVirtualLink }
`,
	}
	v := parseMap(t, files, "Definitions/top.yaml")
	assert.Equal(t, []string{"Definitions/common/types.yaml", "Definitions/sub/more.yaml", "Definitions/sub/df.yaml", "Definitions/top.yaml"}, v.Files,
		"a file imported twice (diamond) is read once, imports before importers")
	assert.Equal(t, "forms", v.ID())
	f, ok := v.Flavour("f1")
	require.True(t, ok)
	require.Len(t, f.VirtualLinks(), 1)
	assert.Equal(t, []string{"ipv6"}, f.VirtualLinks()[0].LayerProtocols, "a VL type two derivations away")
	assert.Equal(t, "x.Base", v.NodeTypes["x.VNF"].DerivedFrom)
}

func TestDeterministic(t *testing.T) {
	_, err := Parse(mapFS(pkg(scalingDF)), "Definitions/top.yaml")
	require.Error(t, err, "my.ScalingAspects unknown without its policy type: the deltas have no aspect")
	files := pkg(scalingDF)
	files["Definitions/types.yaml"] = testTypes + "policy_types:\n  my.ScalingAspects:\n    derived_from: tosca.policies.nfv.ScalingAspects\n"
	first, err := json.Marshal(parseMap(t, files, "Definitions/top.yaml"))
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		again, err := json.Marshal(parseMap(t, files, "Definitions/top.yaml"))
		require.NoError(t, err)
		require.JSONEq(t, string(first), string(again))
		require.Equal(t, string(first), string(again))
	}
}

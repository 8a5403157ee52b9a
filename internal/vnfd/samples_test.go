package vnfd

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"text/template"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"
)

const samplesDir = "../../test/samples/"

// sample opens a sample package directory and reads its entry definitions
// from TOSCA-Metadata/TOSCA.meta.
func sample(t testing.TB, name string) (fs.FS, string) {
	t.Helper()
	fsys := os.DirFS(samplesDir + name)
	meta := toscaMeta(t, fsys)
	require.NotEmpty(t, meta["Entry-Definitions"])
	return fsys, meta["Entry-Definitions"]
}

func toscaMeta(t testing.TB, fsys fs.FS) map[string]string {
	t.Helper()
	data, err := fs.ReadFile(fsys, "TOSCA-Metadata/TOSCA.meta")
	require.NoError(t, err)
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func parseSample(t testing.TB, name string) *VNFD {
	t.Helper()
	fsys, entry := sample(t, name)
	v, err := Parse(fsys, entry)
	require.NoError(t, err)
	return v
}

func names[T any](items []*T, name func(*T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

func TestSampleVMSimple(t *testing.T) {
	v := parseSample(t, "vm-simple")

	assert.Equal(t, "8d3f4a2c-5b1e-4c7a-9f60-2e1d0b7c4a11", v.ID())
	assert.Equal(t, "Example", v.Provider())
	assert.Equal(t, "VM Simple", v.ProductName())
	assert.Equal(t, "1.0", v.SoftwareVersion())
	assert.Equal(t, "1.0", v.DescriptorVersion())
	assert.Equal(t, "VM Simple", v.ProductInfoName())
	assert.Equal(t, []string{"Tacker"}, v.VnfmInfo())
	assert.Equal(t, "simple", v.Info.FlavourID, "flavour_id from the type default (get_input without default)")
	assert.Equal(t, []string{"simple"}, v.Info.FlavourIDs)
	assert.Equal(t, "example.vnfm.VmSimple", v.Info.NodeType)
	assert.Equal(t, []string{"Definitions/example_types.yaml", "Definitions/vm_simple_df_simple.yaml", "Definitions/vm_simple_top.vnfd.yaml"}, v.Files)

	require.Len(t, v.Flavours(), 1)
	f, ok := v.Flavour("simple")
	require.True(t, ok)
	_, ok = v.Flavour("complex")
	assert.False(t, ok)
	assert.Equal(t, "Definitions/vm_simple_df_simple.yaml", f.File)
	assert.Contains(t, f.Description, "Simple flavour")

	// VDUs, sorted, with the derived VDU type recognised.
	assert.Equal(t, []string{"VDU1", "VDU2"}, names(f.VDUs(), func(d *VDU) string { return d.Name }))
	vdu1, ok := f.VDU("VDU1")
	require.True(t, ok)
	assert.Equal(t, "example.vnfm.Vdu", vdu1.Type)
	assert.Equal(t, VduProfile{Min: 1, Max: 3}, vdu1.Profile)
	min, max := f.VduProfile("VDU2")
	assert.Equal(t, []int{1, 1}, []int{min, max})
	min, max = f.VduProfile("nope")
	assert.Equal(t, []int{0, 0}, []int{min, max})
	// An unknown property of a derived VDU type is kept.
	assert.Equal(t, json.Number("9100"), vdu1.Properties["monitoring_port"])
	require.NotNil(t, vdu1.VirtualCompute)
	assert.Equal(t, int64(512_000_000), vdu1.VirtualCompute.VirtualMemSizeBytes)
	assert.Equal(t, 1, vdu1.VirtualCompute.NumVirtualCPU)
	assert.Equal(t, []string{"m1.tiny"}, vdu1.VirtualCompute.AdditionalCapabilities)
	assert.Equal(t, []LocalStorage{{SizeOfStorage: "1 GB", SizeOfStorageBytes: 1_000_000_000}}, vdu1.VirtualCompute.LocalStorage)
	vdu2, _ := f.VDU("VDU2")
	assert.Equal(t, []string{"VirtualStorage"}, vdu2.VirtualStorages)
	assert.Equal(t, []string{"VirtualStorage"}, names(f.Storages(), func(s *Storage) string { return s.Name }))
	assert.Equal(t, int64(1_000_000_000), f.Storages()[0].SizeOfStorageBytes)

	// CPs and the internal VL.
	cps := f.Cps()
	assert.Equal(t, []string{"VDU1_CP1", "VDU1_CP2", "VDU2_CP1", "VDU2_CP2"}, names(cps, func(c *Cp) string { return c.Name }))
	assert.Equal(t, "VDU1", cps[1].VirtualBinding)
	assert.Equal(t, "internalVL1", cps[1].VirtualLink)
	assert.Equal(t, "", cps[0].VirtualLink)
	require.NotNil(t, cps[1].Order)
	assert.Equal(t, 1, *cps[1].Order)
	assert.Equal(t, []string{"ipv4"}, cps[0].LayerProtocols)
	vls := f.VirtualLinks()
	require.Len(t, vls, 1)
	assert.Equal(t, "internalVL1", vls[0].Name)
	assert.Equal(t, []string{"ipv4"}, vls[0].LayerProtocols)
	assert.Contains(t, vls[0].Properties, "vl_profile")
	assert.Equal(t, []string{"VDU1_CP1", "virtual_link"}, f.SubstitutionRequirements["virtual_link_external1"])

	// Scaling.
	require.Len(t, f.Aspects(), 1)
	a, ok := f.Aspect("VDU1_scale")
	require.True(t, ok)
	assert.Equal(t, 2, a.MaxScaleLevel)
	assert.Equal(t, 2, f.MaxScaleLevel("VDU1_scale"))
	assert.Equal(t, 0, f.MaxScaleLevel("nope"))
	assert.Equal(t, map[string]int{"VDU1": 1}, f.AspectDelta("VDU1_scale", 1))
	assert.Equal(t, map[string]int{"VDU1": 1}, f.AspectDelta("VDU1_scale", 2), "past step_deltas: the last delta")
	assert.Nil(t, f.AspectDelta("VDU1_scale", 0))
	assert.Nil(t, f.AspectDelta("nope", 1))
	assert.Equal(t, []string{"VDU1_scale"}, f.AspectsOf("VDU1"))
	assert.Empty(t, f.AspectsOf("VDU2"))

	assert.Equal(t, "instantiation_level_1", f.DefaultLevel())
	assert.Equal(t, []string{"instantiation_level_1", "instantiation_level_2"}, names(f.InstantiationLevels(), func(l *InstantiationLevel) string { return l.ID }))
	for _, c := range []struct {
		vdu, level string
		want       int
	}{
		{"VDU1", "instantiation_level_1", 1},
		{"VDU2", "instantiation_level_1", 1},
		{"VDU1", "instantiation_level_2", 2},
		{"VDU2", "instantiation_level_2", 1},
		{"VDU1", "", 1}, // default level
	} {
		assert.Equal(t, c.want, f.InstancesAt(c.vdu, c.level), "%s at %q", c.vdu, c.level)
	}
	assert.Equal(t, map[string]int{"VDU1_scale": 0}, f.ScaleLevelsAt(""))
	assert.Equal(t, map[string]int{"VDU1_scale": 1}, f.ScaleLevelsAt("instantiation_level_2"))

	rules := f.AffinityRules()
	require.Len(t, rules, 1)
	assert.Equal(t, AffinityRule{Name: "VDU1_anti_affinity", Type: PolicyAntiAffinityRule, Affinity: false, Scope: "nfvi_node", Targets: []string{"VDU1"}}, *rules[0])

	// No management driver, no hooks: the Vnflcm operations are "[]".
	assert.Equal(t, "", v.MgmtDriver("simple"))
	_, ok = v.Hook("simple", "instantiate_end")
	assert.False(t, ok)
	assert.Empty(t, v.Hooks("simple"))

	// Software images, with the image shipped in the package.
	imgs := v.SoftwareImages()
	require.Len(t, imgs, 2)
	want := SoftwareImage{
		ID: "VDU1", Flavour: "simple", Name: "vm-simple-disk", Version: "1.0", Provider: "Example",
		Checksum:        Checksum{Algorithm: "sha-256", Hash: "de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31"},
		ContainerFormat: "bare", DiskFormat: "raw",
		MinDisk: 1_000_000_000, MinRAM: 256_000_000, Size: 64 << 10,
		ImagePath: "Files/images/vm-simple-disk.raw",
	}
	assert.Equal(t, want, imgs[0])
	assert.Equal(t, "VDU2", imgs[1].ID)
	fsys, _ := sample(t, "vm-simple")
	img, err := fs.ReadFile(fsys, imgs[0].ImagePath)
	require.NoError(t, err)
	sum := sha256.Sum256(img)
	assert.Equal(t, imgs[0].Checksum.Hash, hex.EncodeToString(sum[:]), "checksum in the VNFD matches the shipped image")
	assert.Equal(t, int64(len(img)), imgs[0].Size)
}

func TestSampleK8sCluster(t *testing.T) {
	v := parseSample(t, "k8s-cluster")
	assert.Equal(t, "3b0e4c51-7d2a-4f9e-a8c6-5f1b2d9e0c77", v.ID())
	assert.Equal(t, "Kubernetes Cluster", v.ProductName())
	f, ok := v.Flavour("simple")
	require.True(t, ok)

	assert.Equal(t, []string{"masterNode", "workerNode"}, names(f.VDUs(), func(d *VDU) string { return d.Name }))
	min, max := f.VduProfile("masterNode")
	assert.Equal(t, []int{1, 3}, []int{min, max})
	min, max = f.VduProfile("workerNode")
	assert.Equal(t, []int{2, 4}, []int{min, max})
	assert.Equal(t, []string{"masterNode_CP1", "workerNode_CP2"}, names(f.Cps(), func(c *Cp) string { return c.Name }))
	assert.Equal(t, "workerNode", f.Cps()[1].VirtualBinding)
	assert.Empty(t, f.VirtualLinks())

	assert.Equal(t, []string{"master_instance", "worker_instance"}, names(f.Aspects(), func(a *Aspect) string { return a.ID }))
	assert.Equal(t, map[string]int{"masterNode": 1}, f.AspectDelta("master_instance", 1))
	assert.Equal(t, map[string]int{"workerNode": 1}, f.AspectDelta("worker_instance", 2))
	assert.Equal(t, []string{"worker_instance"}, f.AspectsOf("workerNode"))
	assert.Equal(t, "instantiation_level_1", f.DefaultLevel())
	assert.Equal(t, 1, f.InstancesAt("masterNode", ""))
	assert.Equal(t, 2, f.InstancesAt("workerNode", ""))
	assert.Equal(t, 3, f.InstancesAt("masterNode", "instantiation_level_2"))
	assert.Equal(t, 4, f.InstancesAt("workerNode", "instantiation_level_2"))
	assert.Equal(t, map[string]int{"master_instance": 2, "worker_instance": 2}, f.ScaleLevelsAt("instantiation_level_2"))

	// Hooks: all six Vnflcm operations are the Python management driver.
	hooks := []string{"heal_end", "heal_start", "instantiate_end", "scale_end", "scale_start", "terminate_end"}
	assert.Equal(t, hooks, v.Hooks("simple"))
	for _, h := range hooks {
		a, ok := v.Hook("simple", h)
		require.True(t, ok, h)
		assert.Equal(t, "mgmt-drivers-kubernetes", a.Name)
		assert.Equal(t, ArtifactPython, a.Type)
		assert.Equal(t, "Scripts/kubernetes_mgmt.py", a.File)
		assert.Equal(t, "Scripts/kubernetes_mgmt.py", a.Path)
	}
	_, ok = v.Hook("simple", "instantiate_start")
	assert.False(t, ok)
	_, ok = v.Hook("nope", "heal_end")
	assert.False(t, ok)
	assert.Equal(t, "mgmt-drivers-kubernetes", v.MgmtDriver("simple"))
	assert.Equal(t, "", v.MgmtDriver("nope"))

	// The additional parameters declared on Vnflcm.instantiate in the type.
	in := v.Inputs("simple")
	require.Len(t, in, 1)
	assert.Equal(t, "instantiate", in[0].Operation)
	assert.Equal(t, "additional_parameters", in[0].Name)
	assert.Equal(t, "example.datatypes.nfv.K8sClusterInstantiateParameters", in[0].Type)
	require.NotNil(t, in[0].Required)
	assert.True(t, *in[0].Required)
	require.Contains(t, in[0].Fields, "k8s_cluster_installation_param")
	assert.Equal(t, "example.datatypes.nfv.K8sClusterInstallationParam", in[0].Fields["k8s_cluster_installation_param"].Type)
	assert.Nil(t, v.Inputs("nope"))

	imgs := v.SoftwareImages()
	assert.Equal(t, []string{"masterNode", "workerNode"}, []string{imgs[0].ID, imgs[1].ID})
	assert.Equal(t, "", imgs[0].ImagePath, "image not shipped")
	assert.Equal(t, "ubuntu-22.04-server-cloudimg-amd64", imgs[0].Name)
	assert.Equal(t, int64(4_000_000_000), f.Topology.VDUs["masterNode"].VirtualCompute.VirtualMemSizeBytes)

	// Every script the VNFD or the additional parameter defaults name ships.
	fsys, _ := sample(t, "k8s-cluster")
	for _, p := range []string{"Scripts/kubernetes_mgmt.py", "Scripts/install_k8s_cluster.sh", "Scripts/install_helm.sh"} {
		st, err := fs.Stat(fsys, p)
		require.NoError(t, err, p)
		assert.NotZero(t, st.Size(), p)
	}
}

func TestSampleCNFHelm(t *testing.T) {
	v := parseSample(t, "cnf-helm")
	assert.Equal(t, "6a9c2e17-4b8d-4e3f-b1a0-7c5d3f2e8b94", v.ID())
	assert.Equal(t, "0.1.0", v.SoftwareVersion())
	f, ok := v.Flavour("helmchart")
	require.True(t, ok)
	require.Len(t, f.VDUs(), 1)
	d := f.VDUs()[0]
	assert.Equal(t, "VDU1", d.Name)
	assert.Equal(t, "vdu1-localhelm", d.VduName)
	assert.Nil(t, d.SwImage)
	assert.Nil(t, d.VirtualCompute)
	assert.Equal(t, VduProfile{Min: 1, Max: 3}, d.Profile)
	assert.Equal(t, []string{"vdu1_aspect"}, names(f.Aspects(), func(a *Aspect) string { return a.ID }))
	assert.Equal(t, map[string]int{"VDU1": 1}, f.AspectDelta("vdu1_aspect", 1))
	assert.Equal(t, 1, f.InstancesAt("VDU1", ""))
	assert.Equal(t, 3, f.InstancesAt("VDU1", "instantiation_level_2"))
	assert.Empty(t, v.SoftwareImages())
	assert.Equal(t, "", v.MgmtDriver("helmchart"))
	assert.Equal(t, []string{}, f.SubstitutionRequirements["virtual_link_external"])

	// The chart artifact resolves into the package.
	chart := f.VNF.Artifacts["localhelm"]
	require.NotNil(t, chart)
	assert.Equal(t, "tosca.artifacts.nfv.HelmChart", chart.Type)
	assert.Equal(t, "Files/kubernetes/localhelm-0.1.0.tgz", chart.Path)

	// Declared in the type, valued in the flavour's VNF node.
	in := v.Inputs("helmchart")
	require.Len(t, in, 1)
	assert.Equal(t, "example.datatypes.nfv.CnfInstantiateParameters", in[0].Type)
	val, ok := in[0].Value.(map[string]any)
	require.True(t, ok, "%T", in[0].Value)
	assert.Equal(t, "Files/kubernetes/localhelm-0.1.0.tgz", val["helm_chart_path"])
	assert.Equal(t, map[string]any{"VDU1": map[string]any{"replica": "replicaCount"}}, val["helm_value_names"])
	assert.Contains(t, in[0].Fields, "lcm-kubernetes-def-files")
	_, ok = v.Hook("helmchart", "instantiate")
	assert.False(t, ok, "an operation with inputs only has no implementation")
}

// TestSampleFiles checks what the VNFD does not describe: the packages'
// metadata, Heat templates, Helm chart and manifests are well formed.
func TestSampleFiles(t *testing.T) {
	for _, name := range []string{"vm-simple", "k8s-cluster", "cnf-helm"} {
		t.Run(name, func(t *testing.T) {
			fsys := os.DirFS(samplesDir + name)
			meta := toscaMeta(t, fsys)
			assert.Equal(t, "1.0", meta["TOSCA-Meta-File-Version"])
			assert.Equal(t, "1.1", meta["CSAR-Version"])
			assert.NotEmpty(t, meta["Created-By"])
			assert.Equal(t, name+".mf", meta["ETSI-Entry-Manifest"])
			mf, err := fs.ReadFile(fsys, meta["ETSI-Entry-Manifest"])
			require.NoError(t, err)
			var m struct{ Metadata map[string]any }
			require.NoError(t, yaml.Unmarshal(mf, &m))
			for _, k := range []string{"vnf_provider_id", "vnf_product_name", "vnf_release_date_time", "vnf_package_version"} {
				assert.Contains(t, m.Metadata, k)
			}

			v, err := Parse(fsys, meta["Entry-Definitions"])
			require.NoError(t, err)
			// Every artifact with a package path exists.
			for _, f := range v.Flavours() {
				var arts []*Artifact
				for _, n := range []*VNFNode{f.VNF, v.VNF} {
					if n != nil {
						for _, a := range n.Artifacts {
							arts = append(arts, a)
						}
					}
				}
				for _, d := range f.VDUs() {
					for _, a := range d.Artifacts {
						arts = append(arts, a)
					}
				}
				for _, a := range arts {
					_, err := fs.Stat(fsys, a.Path)
					assert.NoError(t, err, "artifact %s", a.Name)
				}
			}
			// Heat templates are YAML with the HOT header.
			_ = fs.WalkDir(fsys, "BaseHOT", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				data, rerr := fs.ReadFile(fsys, p)
				require.NoError(t, rerr)
				var hot map[string]any
				require.NoError(t, yaml.Unmarshal(data, &hot), p)
				assert.Contains(t, hot, "heat_template_version", p)
				assert.Contains(t, hot, "resources", p)
				return nil
			})
		})
	}
}

func TestSampleVMSimpleHeat(t *testing.T) {
	fsys := os.DirFS(samplesDir + "vm-simple")
	var top struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	data, err := fs.ReadFile(fsys, "BaseHOT/simple/simple_hot_top.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &top))
	asg := top.Resources["VDU1_scale"]
	assert.Equal(t, "OS::Heat::AutoScalingGroup", asg.Type)
	res := asg.Properties["resource"].(map[string]any)
	assert.Equal(t, "VDU1.yaml", res["type"])
	_, err = fs.Stat(fsys, "BaseHOT/simple/nested/"+res["type"].(string))
	assert.NoError(t, err)
	var nested struct{ Parameters map[string]any }
	data, err = fs.ReadFile(fsys, "BaseHOT/simple/nested/VDU1.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &nested))
	for _, p := range []string{"flavor", "image", "net"} {
		assert.Contains(t, nested.Parameters, p)
	}
	// Every parameter the group passes is declared by the nested template.
	for p := range res["properties"].(map[string]any) {
		assert.Contains(t, nested.Parameters, p)
	}
}

// TestSampleHelmChart opens the chart archive as Helm would and renders its
// Deployment with Go templates.
func TestSampleHelmChart(t *testing.T) {
	fsys := os.DirFS(samplesDir + "cnf-helm")
	f, err := fsys.Open("Files/kubernetes/localhelm-0.1.0.tgz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(h.Name, "localhelm/"), h.Name)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[h.Name] = string(b)
		}
	}
	for _, p := range []string{"localhelm/Chart.yaml", "localhelm/values.yaml", "localhelm/templates/deployment.yaml", "localhelm/templates/service.yaml"} {
		require.Contains(t, files, p)
	}
	var chart struct {
		APIVersion string `yaml:"apiVersion"`
		Name       string `yaml:"name"`
		Version    string `yaml:"version"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(files["localhelm/Chart.yaml"]), &chart))
	assert.Equal(t, "v2", chart.APIVersion)
	assert.Equal(t, "localhelm", chart.Name)
	assert.Equal(t, "0.1.0", chart.Version)
	var values map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(files["localhelm/values.yaml"]), &values))
	assert.Equal(t, 1, values["replicaCount"])
	assert.Contains(t, files["localhelm/templates/deployment.yaml"], "{{ .Values.replicaCount }}")

	values["replicaCount"] = 3
	ctx := map[string]any{
		"Release": map[string]any{"Name": "vdu1"},
		"Chart":   map[string]any{"Name": chart.Name, "Version": chart.Version},
		"Values":  values,
	}
	for _, p := range []string{"localhelm/templates/deployment.yaml", "localhelm/templates/service.yaml"} {
		tpl, err := template.New(path.Base(p)).Option("missingkey=error").Parse(files[p])
		require.NoError(t, err, p)
		var out strings.Builder
		require.NoError(t, tpl.Execute(&out, ctx), p)
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     map[string]any
		}
		require.NoError(t, yaml.Unmarshal([]byte(out.String()), &obj), out.String())
		assert.Equal(t, "vdu1-localhelm", obj.Metadata.Name, "the VDU1 name in the VNFD")
		if obj.Kind == "Deployment" {
			assert.Equal(t, 3, obj.Spec["replicas"])
		}
	}

	// The plain manifest describes the same Deployment.
	data, err := fs.ReadFile(fsys, "Files/kubernetes/deployment.yaml")
	require.NoError(t, err)
	var dep struct {
		Kind     string
		Metadata struct{ Name string }
	}
	require.NoError(t, yaml.Unmarshal(data, &dep))
	assert.Equal(t, "Deployment", dep.Kind)
	assert.Equal(t, "vdu1-localhelm", dep.Metadata.Name)
}

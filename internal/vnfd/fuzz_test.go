package vnfd

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParse parses arbitrary bytes as the only file of a package. Parse
// must never panic; it returns either an *Error or a VNFD that survives a
// JSON round trip unchanged and whose queries do not panic.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"Definitions/vnfd.yaml": {Data: data}}
		v, err := Parse(fsys, "Definitions/vnfd.yaml")
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if v != nil {
				t.Fatal("VNFD returned with an error")
			}
			return
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := FromJSON(raw)
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		if !reflect.DeepEqual(v, back) {
			again, _ := json.Marshal(back)
			t.Fatalf("round trip changed the model:\n%s\n%s", raw, again)
		}
		exercise(v)
	})
}

// fuzzSeeds returns self-contained one-file VNFDs: each sample's flavour
// file with its imports dropped and its types file's definitions appended,
// plus the in-memory test VNFDs and a few odd documents.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(singleFileVNFD),
		[]byte(dropImports(testDF+scalingDF) + "\n" + typeDefs(testTypes) +
			"policy_types:\n  my.ScalingAspects:\n    derived_from: tosca.policies.nfv.ScalingAspects\n"),
		[]byte(dropImports(testTop) + "\n" + typeDefs(testTypes)),
		[]byte("imports: [ vnfd.yaml ]\n"),
		[]byte("imports: [ etsi_nfv_sol001_vnfd_types.yaml ]\ntopology_template:\n  node_templates:\n    v: {type: tosca.nodes.nfv.VNF}\n"),
		[]byte("a: &a [*a]\n"),
		[]byte("topology_template:\n  inputs: {x: {default: [1]}}\n  node_templates:\n    v: {type: tosca.nodes.nfv.VNF, properties: {descriptor_id: {get_input: x}}}\n"),
	}
	samples := map[string][2]string{
		"vm-simple":   {"vm_simple_df_simple.yaml", "example_types.yaml"},
		"k8s-cluster": {"k8s_cluster_df_simple.yaml", "example_types.yaml"},
		"cnf-helm":    {"cnf_helm_df_helmchart.yaml", "example_types.yaml"},
	}
	for _, dir := range sortedKeys(samples) {
		fsys := os.DirFS(samplesDir + dir + "/Definitions")
		df, err := fs.ReadFile(fsys, samples[dir][0])
		if err != nil {
			t.Fatal(err)
		}
		types, err := fs.ReadFile(fsys, samples[dir][1])
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, []byte(dropImports(string(df))+"\n"+typeDefs(string(types))))
	}
	return seeds
}

// dropImports removes a document's top-level imports block.
func dropImports(doc string) string {
	var out []string
	skipping := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "imports:") {
			skipping = true
			continue
		}
		if skipping && (strings.HasPrefix(l, " ") || l == "") {
			continue
		}
		skipping = false
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// typeDefs keeps the node_types/policy_types/data_types sections of a types
// file.
func typeDefs(doc string) string {
	var out []string
	keep := false
	for _, l := range strings.Split(doc, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "#") {
			keep = strings.HasPrefix(l, "node_types:") || strings.HasPrefix(l, "policy_types:") || strings.HasPrefix(l, "data_types:")
		}
		if keep {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// TestFuzzSeedsParse makes sure the seeds reach the whole parser.
func TestFuzzSeedsParse(t *testing.T) {
	ok := 0
	for _, seed := range fuzzSeeds(t) {
		v, err := Parse(fstest.MapFS{"Definitions/vnfd.yaml": {Data: seed}}, "Definitions/vnfd.yaml")
		if err == nil {
			ok++
			require.NotEmpty(t, v.Flavours())
			roundTrip(t, v)
			exercise(v)
		}
	}
	assert.GreaterOrEqual(t, ok, 7, "seeds that parse")
}

// exercise calls every query on every flavour.
func exercise(v *VNFD) {
	_ = v.ID() + v.Provider() + v.ProductName() + v.SoftwareVersion() + v.DescriptorVersion() + v.ProductInfoName()
	_ = v.VnfmInfo()
	_ = v.SoftwareImages()
	for _, f := range v.Flavours() {
		_ = v.MgmtDriver(f.ID)
		_ = v.Inputs(f.ID)
		for _, h := range v.Hooks(f.ID) {
			v.Hook(f.ID, h)
		}
		_, _, _, _ = f.Cps(), f.VirtualLinks(), f.Storages(), f.AffinityRules()
		_ = f.SecurityGroupRules()
		levels := append([]string{"", "nope"}, sortedKeys(f.Scaling.Levels)...)
		for _, a := range f.Aspects() {
			for s := -1; s <= a.MaxScaleLevel+2 && s < 50; s++ {
				f.AspectDelta(a.ID, s)
			}
			f.MaxScaleLevel(a.ID)
		}
		for _, l := range levels {
			f.ScaleLevelsAt(l)
			for _, d := range f.VDUs() {
				f.InstancesAt(d.Name, l)
				f.VduProfile(d.Name)
				f.AspectsOf(d.Name)
			}
		}
		f.DefaultLevel()
	}
}

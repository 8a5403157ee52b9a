package vnfd

import (
	"fmt"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"testing"
	"testing/fstest"
)

// FuzzParse parses arbitrary bytes as the entry definitions of a package
// that also holds a types file it may import. Parse must never panic; it
// returns either an *Error or a VNFD that survives a JSON round trip and
// whose queries do not panic.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"vm-simple", "k8s-cluster", "cnf-helm"} {
		_ = fs.WalkDir(os.DirFS(samplesDir+dir), "Definitions", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if data, rerr := fs.ReadFile(os.DirFS(samplesDir+dir), p); rerr == nil {
					f.Add(data)
				}
			}
			return nil
		})
	}
	f.Add([]byte(testTop))
	f.Add([]byte(testDF + scalingDF))
	f.Add([]byte("imports: [ vnfd.yaml ]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("topology_template:\n  node_templates:\n    v: {type: my.VNF, properties: {descriptor_id: {get_input: x}}}\n  inputs: {x: {default: [1]}}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		os.WriteFile(fmt.Sprintf("/tmp/fuzzlast-%d", os.Getpid()), data, 0o644)
		fsys := fstest.MapFS{
			"Definitions/vnfd.yaml":  {Data: data},
			"Definitions/types.yaml": {Data: []byte(testTypes + "policy_types:\n  my.ScalingAspects:\n    derived_from: tosca.policies.nfv.ScalingAspects\n")},
		}
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

package helm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"

	kinfra "github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// object is what the driver needs of a rendered manifest document.
type object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Replicas   *int // spec.replicas, nil when not written
	Release    string
}

func (o object) String() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

// workload reports whether the object is a pod controller or a Pod: what
// backs a VDU.
func (o object) workload() bool {
	switch o.Kind {
	case kinfra.KindDeployment, kinfra.KindStatefulSet, kinfra.KindReplicaSet, kinfra.KindDaemonSet:
		return strings.HasPrefix(o.APIVersion, "apps/")
	case kinfra.KindPod:
		return o.APIVersion == "v1"
	}
	return false
}

// parseManifest reads a release's rendered manifest (documents in Helm's
// install order); objects without a namespace are in ns.
func parseManifest(release, manifest, ns string) ([]object, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	// Keys are manifest-<n>: keep the documents' order.
	num := func(k string) int { n, _ := strconv.Atoi(strings.TrimPrefix(k, "manifest-")); return n }
	sort.Slice(keys, func(i, j int) bool { return num(keys[i]) < num(keys[j]) })
	var out []object
	for _, k := range keys {
		var d struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			Spec struct {
				Replicas *int `json:"replicas"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(docs[k]), &d); err != nil {
			return nil, fmt.Errorf("release %s: decode its manifest: %w", release, err)
		}
		if d.Kind == "" {
			continue // an empty document (a template rendering nothing)
		}
		o := object{APIVersion: d.APIVersion, Kind: d.Kind, Name: d.Metadata.Name, Namespace: d.Metadata.Namespace, Replicas: d.Spec.Replicas, Release: release}
		if o.Namespace == "" {
			o.Namespace = ns
		}
		out = append(out, o)
	}
	return out, nil
}

// vduName is the name of a VDU's workload by default: the VDU's name
// property (Tacker's rule), else its node template name.
func vduName(d *vnfd.VDU) string {
	if d.VduName != "" {
		return d.VduName
	}
	return d.Name
}

// mapVdus finds the workload backing each VDU among the releases'
// objects: the one vdu_mapping names, else the workload whose name is the
// VDU's name property. Without a flavour, vdu_mapping alone decides.
func mapVdus(f *vnfd.Flavour, mapping map[string]vduMapping, objs []object) ([]workload, map[string]object, error) {
	var vdus []string
	names := map[string]string{}
	if f != nil {
		for _, d := range f.VDUs() {
			vdus = append(vdus, d.Name)
			names[d.Name] = vduName(d)
		}
	} else {
		vdus = sortedKeys(mapping)
		if len(vdus) == 0 {
			return nil, nil, unprocessable("without a VNFD, additionalParams."+ParamVduMapping+" must name the workload of each VDU", nil)
		}
	}
	var out []workload
	byVdu := map[string]object{}
	for _, vdu := range vdus {
		var found []object
		m, mapped := mapping[vdu]
		for _, o := range objs {
			switch {
			case !o.workload():
			case mapped && o.Kind == m.Kind && o.Name == m.Name && (m.Release == "" || m.Release == o.Release):
				found = append(found, o)
			case !mapped && o.Name == names[vdu]:
				found = append(found, o)
			}
		}
		want := fmt.Sprintf("workload named %q", names[vdu])
		if mapped {
			want = m.Kind + " " + m.Name
			if m.Release != "" {
				want += " in release " + m.Release
			}
		}
		switch len(found) {
		case 0:
			return nil, nil, unprocessable(fmt.Sprintf("VDU %s: the Helm releases render no %s (set %s)", vdu, want, ParamVduMapping), nil)
		case 1:
		default:
			var l []string
			for _, o := range found {
				l = append(l, o.String()+" of release "+o.Release)
			}
			return nil, nil, unprocessable(fmt.Sprintf("VDU %s: several workloads match (%s): tell them apart with %s", vdu, strings.Join(l, ", "), ParamVduMapping), nil)
		}
		o := found[0]
		out = append(out, workload{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, VduID: vdu, Release: o.Release})
		byVdu[vdu] = o
	}
	return out, byVdu, nil
}

package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// ParamDefFiles is the additionalParams key listing the manifests (Tacker's).
const ParamDefFiles = "lcm-kubernetes-def-files"

// manifest is one object of the VNF's manifests.
type manifest struct {
	file string
	doc  int // 1-based document number in file
	obj  *unstructured.Unstructured
}

func (m manifest) String() string {
	return fmt.Sprintf("%s %s (%s, document %d)", m.obj.GetKind(), m.obj.GetName(), m.file, m.doc)
}

// defFiles reads additionalParams.lcm-kubernetes-def-files: a list of
// paths inside the package (a single string is taken as a list of one).
func defFiles(add map[string]any) ([]string, error) {
	v, ok := add[ParamDefFiles]
	if !ok || v == nil {
		return nil, unprocessable("additionalParams."+ParamDefFiles+" (the manifests to deploy) is missing", nil)
	}
	var list []string
	switch t := v.(type) {
	case string:
		list = []string{t}
	case []string:
		list = t
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok || s == "" {
				return nil, unprocessable("additionalParams."+ParamDefFiles+" must be a list of file paths", nil)
			}
			list = append(list, s)
		}
	default:
		return nil, unprocessable("additionalParams."+ParamDefFiles+" must be a list of file paths", nil)
	}
	if len(list) == 0 {
		return nil, unprocessable("additionalParams."+ParamDefFiles+" is empty", nil)
	}
	out := make([]string, 0, len(list))
	for _, f := range list {
		p := path.Clean(strings.TrimPrefix(f, "./"))
		if !fs.ValidPath(p) || p == "." {
			return nil, unprocessable(fmt.Sprintf("%s: %q is not a path inside the VNF package", ParamDefFiles, f), nil)
		}
		out = append(out, p)
	}
	return out, nil
}

// loadManifests reads and decodes the files, in order, document by
// document. Contents are never logged nor quoted in errors: a Secret's data
// is in them.
func loadManifests(pkg fs.FS, files []string) ([]manifest, error) {
	if pkg == nil {
		return nil, unprocessable("no VNF package content: cannot read "+ParamDefFiles, nil)
	}
	var out []manifest
	for _, f := range files {
		raw, err := fs.ReadFile(pkg, f)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, unprocessable(fmt.Sprintf("%s: file %s is not in the VNF package", ParamDefFiles, f), nil)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s from the VNF package: %w", f, err)
		}
		ms, err := decodeManifests(f, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	if len(out) == 0 {
		return nil, unprocessable(ParamDefFiles+": the files hold no Kubernetes object", nil)
	}
	return out, nil
}

// decodeManifests splits a multi-document YAML (or JSON) file into
// objects; a List's items are objects of their own.
func decodeManifests(file string, raw []byte) ([]manifest, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var out []manifest
	// Documents are counted from 1, empty ones (comments only) not counted.
	for doc := 1; ; doc++ {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, unprocessable(fmt.Sprintf("%s: document %d cannot be read", file, doc), err)
		}
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			doc--
			continue
		}
		js, err := utilyaml.ToJSON(chunk)
		if err != nil {
			return nil, unprocessable(fmt.Sprintf("%s: document %d is not valid YAML", file, doc), err)
		}
		if string(bytes.TrimSpace(js)) == "null" {
			doc--
			continue
		}
		var m map[string]any
		// utiljson: integers become int64, as unstructured objects want.
		if err := utiljson.Unmarshal(js, &m); err != nil || m == nil {
			return nil, unprocessable(fmt.Sprintf("%s: document %d is not a Kubernetes object (a mapping with apiVersion and kind)", file, doc), nil)
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.IsList() {
			list, err := obj.ToList()
			if err != nil {
				return nil, unprocessable(fmt.Sprintf("%s: document %d: invalid List", file, doc), err)
			}
			for i := range list.Items {
				it := &list.Items[i]
				if err := checkObject(file, doc, it); err != nil {
					return nil, err
				}
				out = append(out, manifest{file: file, doc: doc, obj: it})
			}
			continue
		}
		if err := checkObject(file, doc, obj); err != nil {
			return nil, err
		}
		out = append(out, manifest{file: file, doc: doc, obj: obj})
	}
	return out, nil
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

func checkObject(file string, doc int, o *unstructured.Unstructured) error {
	switch {
	case o.GetAPIVersion() == "":
		return unprocessable(fmt.Sprintf("%s: document %d has no apiVersion", file, doc), nil)
	case o.GetKind() == "":
		return unprocessable(fmt.Sprintf("%s: document %d has no kind", file, doc), nil)
	case o.GetName() == "":
		if o.GetGenerateName() != "" {
			return unprocessable(fmt.Sprintf("%s: document %d (%s): generateName is not supported, give metadata.name", file, doc, o.GetKind()), nil)
		}
		return unprocessable(fmt.Sprintf("%s: document %d (%s) has no metadata.name", file, doc, o.GetKind()), nil)
	}
	// What the cluster owns would make server-side apply fail or lie.
	for _, k := range []string{"resourceVersion", "uid", "selfLink", "creationTimestamp", "managedFields", "generation"} {
		unstructured.RemoveNestedField(o.Object, "metadata", k)
	}
	unstructured.RemoveNestedField(o.Object, "status")
	return nil
}

// applyRank orders kinds so that what others need exists first (Helm's
// install order, shortened); deletion goes in reverse.
var applyRank = map[string]int{
	"Namespace": 1, "NetworkPolicy": 2, "ResourceQuota": 3, "LimitRange": 4, "PodDisruptionBudget": 5,
	"ServiceAccount": 6, "Secret": 7, "ConfigMap": 8, "StorageClass": 9, "PersistentVolume": 10,
	"PersistentVolumeClaim": 11, "CustomResourceDefinition": 12, "ClusterRole": 13, "ClusterRoleBinding": 14,
	"Role": 15, "RoleBinding": 16, "Service": 17, "DaemonSet": 18, "Pod": 19, "ReplicationController": 20,
	"ReplicaSet": 21, "Deployment": 22, "HorizontalPodAutoscaler": 23, "StatefulSet": 24, "Job": 25,
	"CronJob": 26, "Ingress": 27,
}

// sortForApply orders manifests by kind rank, unknown kinds (custom
// resources) last, file order otherwise.
func sortForApply(ms []manifest) {
	rank := func(k string) int {
		if r, ok := applyRank[k]; ok {
			return r
		}
		return len(applyRank) + 1
	}
	sort.SliceStable(ms, func(i, j int) bool { return rank(ms[i].obj.GetKind()) < rank(ms[j].obj.GetKind()) })
}

// vduWorkloadName is the name of a VDU's workload: the VDU's name property
// (Tacker's rule), else its node template name.
func vduWorkloadName(d *vnfd.VDU) string {
	if d.VduName != "" {
		return d.VduName
	}
	return d.Name
}

// mapVdus finds each VDU's workload among the manifests: the workload
// (Deployment, StatefulSet, ReplicaSet, DaemonSet, Pod) whose metadata.name
// is the VDU's name. Workloads without a namespace are placed in ns.
func mapVdus(f *vnfd.Flavour, ms []manifest, ns string) ([]Workload, map[string]*manifest, error) {
	var out []Workload
	objs := map[string]*manifest{}
	for _, d := range f.VDUs() {
		name := vduWorkloadName(d)
		var found []*manifest
		for i := range ms {
			o := ms[i].obj
			if o.GetName() == name && workloadKind(o.GetAPIVersion(), o.GetKind()) {
				found = append(found, &ms[i])
			}
		}
		switch len(found) {
		case 0:
			return nil, nil, unprocessable(fmt.Sprintf("VDU %s: no Deployment, StatefulSet, ReplicaSet, DaemonSet or Pod named %q in %s", d.Name, name, ParamDefFiles), nil)
		case 1:
		default:
			names := make([]string, 0, len(found))
			for _, m := range found {
				names = append(names, m.String())
			}
			return nil, nil, unprocessable(fmt.Sprintf("VDU %s: several workloads are named %q: %s", d.Name, name, strings.Join(names, ", ")), nil)
		}
		m := found[0]
		wns := m.obj.GetNamespace()
		if wns == "" {
			wns = ns
		}
		out = append(out, Workload{Kind: m.obj.GetKind(), Namespace: wns, Name: name, VduID: d.Name})
		objs[d.Name] = m
	}
	return out, objs, nil
}

// initialReplicas sets the replicas of each VDU's workload: the
// instantiation level's instance count when the VDU is in a scaling aspect,
// else the manifest's. It returns the replicas of every scalable VDU.
func initialReplicas(f *vnfd.Flavour, level string, workloads []Workload, objs map[string]*manifest) (map[string]int, error) {
	if level != "" {
		if _, ok := f.Scaling.Levels[level]; !ok {
			return nil, unprocessable(fmt.Sprintf("instantiationLevelId %q is not a level of flavour %s", level, f.ID), nil)
		}
	}
	out := map[string]int{}
	for _, w := range workloads {
		m := objs[w.VduID]
		inAspect := len(f.AspectsOf(w.VduID)) > 0
		if !scalable(w.Kind) {
			if inAspect {
				return nil, unprocessable(fmt.Sprintf("VDU %s is in a scaling aspect, but its workload %s has no replicas to scale", w.VduID, m), nil)
			}
			continue
		}
		if !inAspect {
			n, found, err := unstructured.NestedFieldNoCopy(m.obj.Object, "spec", "replicas")
			if err != nil || !found || n == nil {
				out[w.VduID] = 1
				continue
			}
			r, ok := asInt(n)
			if !ok || r < 0 {
				return nil, unprocessable(fmt.Sprintf("%s: spec.replicas is not a non-negative integer", m), nil)
			}
			out[w.VduID] = r
			continue
		}
		n := f.InstancesAt(w.VduID, level)
		lo, hi := f.VduProfile(w.VduID)
		if n < lo || (hi > 0 && n > hi) {
			return nil, unprocessable(fmt.Sprintf("VDU %s would have %d instances; its vdu_profile allows %d..%d", w.VduID, n, lo, hi), nil)
		}
		if err := unstructured.SetNestedField(m.obj.Object, int64(n), "spec", "replicas"); err != nil {
			return nil, unprocessable(fmt.Sprintf("%s: cannot set spec.replicas", m), err)
		}
		out[w.VduID] = n
	}
	return out, nil
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int64:
		return int(n), true
	case int:
		return n, true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	}
	return 0, false
}

package scaling

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

const samples = "../../../test/samples/"

// The samples the cases use: a VNFD directory, its top file and the
// flavour taken.
var flavours = map[string][2]string{
	"vm-simple":   {"Definitions/vm_simple_top.vnfd.yaml", "simple"},
	"k8s-cluster": {"Definitions/k8s_cluster_top.vnfd.yaml", "simple"},
	"cnf-helm":    {"Definitions/cnf_helm_top.vnfd.yaml", "helmchart"},
}

func flavour(t *testing.T, sample string) *vnfd.Flavour {
	t.Helper()
	s, ok := flavours[sample]
	require.True(t, ok, sample)
	v, err := vnfd.Parse(os.DirFS(samples+sample), s[0])
	require.NoError(t, err)
	f, ok := v.Flavour(s[1])
	require.True(t, ok)
	return f
}

// info has vnfcs[vdu] VNFCs of each VDU and the aspects at levels (none
// when levels is nil).
func info(vnfcs, levels map[string]int) *model.InstantiatedVnfInfo {
	in := &model.InstantiatedVnfInfo{}
	for _, vdu := range slices.Sorted(maps.Keys(vnfcs)) {
		for range vnfcs[vdu] {
			in.VnfcResourceInfo = append(in.VnfcResourceInfo, model.VnfcResourceInfo{VduID: vdu})
		}
	}
	for _, a := range slices.Sorted(maps.Keys(levels)) {
		in.ScaleStatus = append(in.ScaleStatus, model.ScaleInfo{AspectID: a, ScaleLevel: levels[a]})
	}
	return in
}

// check asserts the outcome of a case: want, or (want nil) a 422 of this
// package with exactly the message bad.
func check(t *testing.T, got map[string]int, err error, want map[string]int, bad string) {
	t.Helper()
	if want == nil {
		var pe *driver.ProblemError
		require.True(t, errors.As(err, &pe), "want a ProblemError, got %v (targets %v)", err, got)
		assert.Equal(t, 422, pe.Status, pe.Error())
		assert.Equal(t, Title, pe.Title)
		assert.Equal(t, bad, pe.Error())
		return
	}
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func steps(n int) *int { return &n }

func TestTargets(t *testing.T) {
	t.Parallel()
	const (
		vm   = "VDU1_scale"  // vm-simple: VDU1 +1 a step, max level 2, vdu_profile 1..3
		helm = "vdu1_aspect" // cnf-helm: the same numbers
	)
	for _, tc := range []struct {
		name, sample string
		info         *model.InstantiatedVnfInfo
		r            Request
		want         map[string]int
		bad          string
	}{
		// Only the aspect's VDUs get a target: VDU2 is not in vm's.
		{name: "out two steps", sample: "vm-simple", info: info(map[string]int{"VDU1": 1, "VDU2": 1}, map[string]int{vm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: vm, NumberOfSteps: steps(2)}, want: map[string]int{"VDU1": 3}},
		{name: "in one", sample: "vm-simple", info: info(map[string]int{"VDU1": 3}, map[string]int{vm: 2}),
			r: Request{Type: "SCALE_IN", AspectID: vm}, want: map[string]int{"VDU1": 2}},
		{name: "beyond max level", sample: "vm-simple", info: info(map[string]int{"VDU1": 3}, map[string]int{vm: 2}),
			r: Request{Type: "SCALE_OUT", AspectID: vm}, bad: "aspect VDU1_scale would go from level 2 to 3, outside 0..2"},
		// No scaleStatus entry is level 0.
		{name: "below zero", sample: "vm-simple", info: info(map[string]int{"VDU1": 1}, nil),
			r: Request{Type: "SCALE_IN", AspectID: vm}, bad: "aspect VDU1_scale would go from level 0 to -1, outside 0..2"},
		{name: "beyond vdu_profile", sample: "vm-simple", info: info(map[string]int{"VDU1": 3}, map[string]int{vm: 1}),
			r: Request{Type: "SCALE_OUT", AspectID: vm}, bad: "VDU VDU1 would have 4 instances; its vdu_profile allows 1..3"},
		{name: "unknown aspect", sample: "vm-simple", info: info(nil, nil),
			r: Request{Type: "SCALE_OUT", AspectID: "nope"}, bad: `aspect "nope" is not in flavour simple`},
		{name: "bad type", sample: "vm-simple", info: info(nil, nil),
			r: Request{Type: "SIDEWAYS", AspectID: vm}, bad: `scale type "SIDEWAYS" is neither SCALE_OUT nor SCALE_IN`},
		{name: "zero steps", sample: "vm-simple", info: info(nil, nil),
			r: Request{Type: "SCALE_OUT", AspectID: vm, NumberOfSteps: steps(0)}, bad: "numberOfSteps must be at least 1"},

		{name: "out one", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: helm}, want: map[string]int{"VDU1": 2}},
		{name: "out two", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: helm, NumberOfSteps: steps(2)}, want: map[string]int{"VDU1": 3}},
		{name: "in one", sample: "cnf-helm", info: info(map[string]int{"VDU1": 3}, map[string]int{helm: 2}),
			r: Request{Type: "SCALE_IN", AspectID: helm}, want: map[string]int{"VDU1": 2}},
		{name: "beyond max level", sample: "cnf-helm", info: info(map[string]int{"VDU1": 3}, map[string]int{helm: 2}),
			r: Request{Type: "SCALE_OUT", AspectID: helm}, bad: "aspect vdu1_aspect would go from level 2 to 3, outside 0..2"},
		{name: "three steps beyond max level", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: helm, NumberOfSteps: steps(3)}, bad: "aspect vdu1_aspect would go from level 0 to 3, outside 0..2"},
		{name: "below zero", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_IN", AspectID: helm, NumberOfSteps: steps(1)}, bad: "aspect vdu1_aspect would go from level 0 to -1, outside 0..2"},
		// The VNFCs counted, not the level: 3 pods at level 1 (or 0)
		// cannot grow; vdu_profile bounds the counts even within the
		// aspect's levels.
		{name: "beyond vdu_profile", sample: "cnf-helm", info: info(map[string]int{"VDU1": 3}, map[string]int{helm: 1}),
			r: Request{Type: "SCALE_OUT", AspectID: helm}, bad: "VDU VDU1 would have 4 instances; its vdu_profile allows 1..3"},
		{name: "beyond vdu_profile at level 0", sample: "cnf-helm", info: info(map[string]int{"VDU1": 3}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: helm}, bad: "VDU VDU1 would have 4 instances; its vdu_profile allows 1..3"},
		{name: "unknown aspect", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: "nope"}, bad: `aspect "nope" is not in flavour helmchart`},
		{name: "bad type", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SIDEWAYS", AspectID: helm}, bad: `scale type "SIDEWAYS" is neither SCALE_OUT nor SCALE_IN`},
		{name: "scale up", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_UP", AspectID: helm}, bad: `scale type "SCALE_UP" is neither SCALE_OUT nor SCALE_IN`},
		{name: "zero steps", sample: "cnf-helm", info: info(map[string]int{"VDU1": 1}, map[string]int{helm: 0}),
			r: Request{Type: "SCALE_OUT", AspectID: helm, NumberOfSteps: steps(0)}, bad: "numberOfSteps must be at least 1"},
	} {
		t.Run(tc.sample+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Targets(flavour(t, tc.sample), tc.info, tc.r)
			check(t, got, err, tc.want, tc.bad)
		})
	}
}

func TestLevelTargets(t *testing.T) {
	t.Parallel()
	vm := info(map[string]int{"VDU1": 3, "VDU2": 1}, map[string]int{"VDU1_scale": 2})
	k8s := info(map[string]int{"masterNode": 1, "workerNode": 2}, map[string]int{"master_instance": 0, "worker_instance": 0})
	helm := info(map[string]int{"VDU1": 1}, nil)
	for _, tc := range []struct {
		name, sample string
		info         *model.InstantiatedVnfInfo
		r            LevelRequest
		want         map[string]int
		bad          string
	}{
		{name: "instantiation level", sample: "vm-simple", info: vm,
			r: LevelRequest{InstantiationLevelID: "instantiation_level_2"}, want: map[string]int{"VDU1": 2}},
		{name: "scale info", sample: "vm-simple", info: vm,
			r: LevelRequest{ScaleInfo: []model.ScaleInfo{{AspectID: "VDU1_scale", ScaleLevel: 0}}}, want: map[string]int{"VDU1": 1}},
		{name: "level beyond max", sample: "vm-simple", info: vm,
			r: LevelRequest{ScaleInfo: []model.ScaleInfo{{AspectID: "VDU1_scale", ScaleLevel: 3}}}, bad: "scale level 3 of aspect VDU1_scale is outside 0..2"},
		{name: "unknown level", sample: "vm-simple", info: vm,
			r: LevelRequest{InstantiationLevelID: "nope"}, bad: `instantiationLevelId "nope" is not a level of flavour simple`},
		{name: "neither", sample: "vm-simple", info: vm,
			r: LevelRequest{}, bad: "instantiationLevelId or scaleInfo is required"},

		// Two aspects at once.
		{name: "instantiation level", sample: "k8s-cluster", info: k8s,
			r: LevelRequest{InstantiationLevelID: "instantiation_level_2"}, want: map[string]int{"masterNode": 3, "workerNode": 4}},
		{name: "scale info", sample: "k8s-cluster", info: k8s,
			r:    LevelRequest{ScaleInfo: []model.ScaleInfo{{AspectID: "master_instance", ScaleLevel: 1}, {AspectID: "worker_instance", ScaleLevel: 2}}},
			want: map[string]int{"masterNode": 2, "workerNode": 4}},

		// An instantiation level's counts do not depend on the VNFCs.
		{name: "instantiation level", sample: "cnf-helm", info: helm,
			r: LevelRequest{InstantiationLevelID: "instantiation_level_2"}, want: map[string]int{"VDU1": 3}},
		{name: "instantiation level from 3 VNFCs", sample: "cnf-helm", info: info(map[string]int{"VDU1": 3}, map[string]int{"vdu1_aspect": 0}),
			r: LevelRequest{InstantiationLevelID: "instantiation_level_2"}, want: map[string]int{"VDU1": 3}},
		{name: "scale info", sample: "cnf-helm", info: helm,
			r: LevelRequest{ScaleInfo: []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 1}}}, want: map[string]int{"VDU1": 2}},
		{name: "neither", sample: "cnf-helm", info: helm,
			r: LevelRequest{}, bad: "instantiationLevelId or scaleInfo is required"},
		{name: "unknown level", sample: "cnf-helm", info: helm,
			r: LevelRequest{InstantiationLevelID: "nope"}, bad: `instantiationLevelId "nope" is not a level of flavour helmchart`},
		{name: "unknown level x", sample: "cnf-helm", info: helm,
			r: LevelRequest{InstantiationLevelID: "x"}, bad: `instantiationLevelId "x" is not a level of flavour helmchart`},
		{name: "both", sample: "cnf-helm", info: helm,
			r:   LevelRequest{InstantiationLevelID: "instantiation_level_2", ScaleInfo: []model.ScaleInfo{{AspectID: "vdu1_aspect"}}},
			bad: "give instantiationLevelId or scaleInfo, not both"},
		{name: "level beyond max", sample: "cnf-helm", info: helm,
			r: LevelRequest{ScaleInfo: []model.ScaleInfo{{AspectID: "vdu1_aspect", ScaleLevel: 3}}}, bad: "scale level 3 of aspect vdu1_aspect is outside 0..2"},
		{name: "unknown aspect", sample: "cnf-helm", info: helm,
			r: LevelRequest{ScaleInfo: []model.ScaleInfo{{AspectID: "nope", ScaleLevel: 1}}}, bad: `aspect "nope" is not in flavour helmchart`},
	} {
		t.Run(tc.sample+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LevelTargets(flavour(t, tc.sample), tc.info, tc.r)
			check(t, got, err, tc.want, tc.bad)
		})
	}
}

func TestCheckProfile(t *testing.T) {
	t.Parallel()
	f := flavour(t, "vm-simple")
	for _, tc := range []struct {
		name    string
		targets map[string]int
		bad     string
	}{
		{name: "within", targets: map[string]int{"VDU1": 3, "VDU2": 1}},
		{name: "none", targets: map[string]int{}},
		{name: "above", targets: map[string]int{"VDU1": 4}, bad: "VDU VDU1 would have 4 instances; its vdu_profile allows 1..3"},
		{name: "below", targets: map[string]int{"VDU1": 0}, bad: "VDU VDU1 would have 0 instances; its vdu_profile allows 1..3"},
		{name: "unknown VDU", targets: map[string]int{"nope": 1}, bad: "the scaling aspect names VDU nope, which is not in flavour simple"},
		// VDUs in name order: the first wrong one is reported.
		{name: "first in order", targets: map[string]int{"VDU2": 2, "VDU1": 0}, bad: "VDU VDU1 would have 0 instances; its vdu_profile allows 1..3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckProfile(f, tc.targets)
			if tc.bad == "" {
				require.NoError(t, err)
				return
			}
			check(t, nil, err, nil, tc.bad)
		})
	}
}

func TestLevelsAndCounts(t *testing.T) {
	t.Parallel()
	in := info(map[string]int{"VDU1": 2, "VDU2": 1}, map[string]int{"a": 1, "c": 3})
	assert.Equal(t, 1, CurrentLevel(in, "a"))
	assert.Equal(t, 3, CurrentLevel(in, "c"))
	assert.Equal(t, 0, CurrentLevel(in, "b"))
	assert.Equal(t, 0, CurrentLevel(nil, "a"))

	assert.Equal(t, map[string]int{"VDU1": 2, "VDU2": 1}, Counts(in))
	assert.Equal(t, map[string]int{}, Counts(nil))
	assert.Equal(t, map[string]int{}, Counts(&model.InstantiatedVnfInfo{}))

	ss := SetLevel(in.ScaleStatus, "c", 0)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "a", ScaleLevel: 1}, {AspectID: "c", ScaleLevel: 0}}, ss)
	assert.Equal(t, 0, in.ScaleStatus[1].ScaleLevel, "an entry is changed in place")
	ss = SetLevel(ss, "b", 2)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "a", ScaleLevel: 1}, {AspectID: "b", ScaleLevel: 2}, {AspectID: "c", ScaleLevel: 0}}, ss)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "x", ScaleLevel: 1}}, SetLevel(nil, "x", 1))
}

// The drivers decode the requests into structs that embed Request and
// LevelRequest.
func TestRequestJSON(t *testing.T) {
	t.Parallel()
	var p struct {
		Request
		AdditionalParams map[string]any `json:"additionalParams"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"type": "SCALE_IN", "aspectId": "a", "numberOfSteps": 2, "additionalParams": {"k": "v"}}`), &p))
	assert.Equal(t, Request{Type: "SCALE_IN", AspectID: "a", NumberOfSteps: steps(2)}, p.Request)
	assert.Equal(t, map[string]any{"k": "v"}, p.AdditionalParams)

	var l struct{ LevelRequest }
	require.NoError(t, json.Unmarshal([]byte(`{"instantiationLevelId": "il", "scaleInfo": [{"aspectId": "a", "scaleLevel": 1}]}`), &l))
	assert.Equal(t, LevelRequest{InstantiationLevelID: "il", ScaleInfo: []model.ScaleInfo{{AspectID: "a", ScaleLevel: 1}}}, l.LevelRequest)
}

func TestTitled(t *testing.T) {
	t.Parallel()
	_, err := Targets(flavour(t, "vm-simple"), nil, Request{Type: "SCALE_OUT", AspectID: "nope"})
	got := Titled(err, "Invalid request for the X driver")
	var pe *driver.ProblemError
	require.True(t, errors.As(got, &pe))
	assert.Equal(t, &driver.ProblemError{Status: 422, Title: "Invalid request for the X driver", Err: errors.Unwrap(err)}, pe)
	assert.Equal(t, Title, err.(*driver.ProblemError).Title, "the original is left alone")

	other := &driver.ProblemError{Status: 409, Title: "Conflict", Err: errors.New("x")}
	assert.Same(t, other, Titled(other, "T"))
	plain := errors.New("plain")
	assert.Equal(t, plain, Titled(plain, "T"))
	assert.NoError(t, Titled(nil, "T"))
}

func TestFlavour(t *testing.T) {
	t.Parallel()
	v, err := vnfd.Parse(os.DirFS(samples+"vm-simple"), flavours["vm-simple"][0])
	require.NoError(t, err)
	f, err := Flavour(&driver.Request{Vnfd: v, Info: &model.InstantiatedVnfInfo{FlavourID: "simple"}}, "the X driver")
	require.NoError(t, err)
	assert.Equal(t, "simple", f.ID)
	for _, tc := range []struct {
		req  *driver.Request
		want string
	}{
		{&driver.Request{Info: &model.InstantiatedVnfInfo{FlavourID: "simple"}}, "the X driver needs the VNFD"},
		{&driver.Request{Vnfd: v}, "the VNF instance has no instantiated flavour"},
		{&driver.Request{Vnfd: v, Info: &model.InstantiatedVnfInfo{}}, "the VNF instance has no instantiated flavour"},
		{&driver.Request{Vnfd: v, Info: &model.InstantiatedVnfInfo{FlavourID: "big"}}, `flavour "big" is not in the VNFD`},
	} {
		_, err := Flavour(tc.req, "the X driver")
		var pe *driver.ProblemError
		require.True(t, errors.As(err, &pe), tc.want)
		assert.Equal(t, 422, pe.Status)
		assert.Equal(t, Title, pe.Title)
		assert.EqualError(t, pe, tc.want)
	}
}

package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

const samples = "../../../../test/samples/"

func sample(t *testing.T, name, entry string) (*vnfd.VNFD, *vnfd.Flavour) {
	t.Helper()
	v, err := vnfd.Parse(os.DirFS(samples+name), entry)
	require.NoError(t, err)
	f, ok := v.Flavour("simple")
	require.True(t, ok)
	return v, f
}

func vmSimple(t *testing.T) (*vnfd.VNFD, *vnfd.Flavour) {
	return sample(t, "vm-simple", "Definitions/vm_simple_top.vnfd.yaml")
}

func problem(t *testing.T, err error, status int) *driver.ProblemError {
	t.Helper()
	var pe *driver.ProblemError
	require.True(t, errors.As(err, &pe), "want ProblemError, got %v", err)
	assert.Equal(t, status, pe.Status, pe.Error())
	return pe
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(s), v))
}

func TestLoadHOT(t *testing.T) {
	h, err := loadHOT(os.DirFS(samples+"vm-simple"), "simple")
	require.NoError(t, err)
	assert.Equal(t, "BaseHOT/simple/simple_hot_top.yaml", h.Name)
	assert.Contains(t, h.Template, "OS::Heat::AutoScalingGroup")
	assert.Contains(t, h.Files, "VDU1.yaml")
	assert.Contains(t, h.Files, "nested/VDU1.yaml")
	assert.True(t, h.Params["nfv"])

	_, err = loadHOT(os.DirFS(samples+"vm-simple"), "nope")
	problem(t, err, 422)
	_, err = loadHOT(nil, "simple")
	problem(t, err, 422)
	_, err = loadHOT(fstest.MapFS{"BaseHOT/x/readme.txt": {Data: []byte("hi")}}, "x")
	problem(t, err, 422)
	_, err = loadHOT(fstest.MapFS{
		"BaseHOT/x/a.yaml": {Data: []byte("heat_template_version: 2013-05-23\n")},
		"BaseHOT/x/b.yaml": {Data: []byte("heat_template_version: 2013-05-23\n")},
	}, "x")
	problem(t, err, 422)
	// No nested directory is fine.
	h, err = loadHOT(fstest.MapFS{"BaseHOT/x/a.yaml": {Data: []byte("heat_template_version: 2013-05-23\nresources: {}\n")}}, "x")
	require.NoError(t, err)
	assert.Empty(t, h.Files)
	assert.False(t, h.Params["nfv"])
}

func TestStackParams(t *testing.T) {
	_, f := vmSimple(t)
	h, err := loadHOT(os.DirFS(samples+"vm-simple"), "simple")
	require.NoError(t, err)
	var p instantiateParams
	decodeJSON(t, `{
	  "flavourId": "simple",
	  "instantiationLevelId": "instantiation_level_2",
	  "extVirtualLinks": [
	    {"id": "ext1", "resourceId": "net0", "extCps": [
	      {"cpdId": "VDU1_CP1", "cpConfig": [{"cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET"}]}]},
	      {"cpdId": "VDU2_CP1", "cpConfig": {"c1": {"cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET",
	        "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "fixedAddresses": ["10.0.0.10"], "subnetId": "sub0"},
	                                           {"type": "IPV4", "subnetId": "sub1"}]}}]}}}
	    ]},
	    {"id": "ext2", "resourceId": "public", "extLinkPorts": [{"id": "lp1", "resourceHandle": {"resourceId": "port-123"}}],
	     "extCps": [{"cpdId": "VDU3_CP1", "cpConfig": [{"linkPortId": "lp1"}]}]}
	  ],
	  "additionalParams": {
	    "nfv": {"VDU": {"VDU2": {"flavor": "m1.large"}}, "CP": {"VDU1_CP1": {"network": "net1"}}},
	    "parameters": {"key_name": "k1"},
	    "stack_timeout_mins": 5
	  }
	}`, &p)
	params, err := stackParams(h, f, &p, nil)
	require.NoError(t, err)
	assert.Equal(t, "k1", params["key_name"])
	raw, _ := json.Marshal(params["nfv"])
	assert.JSONEq(t, `{
	  "VDU": {
	    "VDU1": {"flavor": "m1.tiny", "computeFlavourId": "m1.tiny", "image": "vm-simple-disk", "vcImageId": "vm-simple-disk", "desired_capacity": 2},
	    "VDU2": {"flavor": "m1.large", "computeFlavourId": "m1.small", "image": "vm-simple-disk", "vcImageId": "vm-simple-disk", "desired_capacity": 1}
	  },
	  "CP": {
	    "VDU1_CP1": {"network": "net1"},
	    "VDU2_CP1": {"network": "net0", "fixed_ips": [{"ip_address": "10.0.0.10", "subnet": "sub0"}, {"subnet": "sub1"}]},
	    "VDU3_CP1": {"port": "port-123"}
	  }
	}`, string(raw))
	mins, err := timeoutMins(p.AdditionalParams)
	require.NoError(t, err)
	assert.Equal(t, 5, mins)

	// Default level.
	p = instantiateParams{FlavourID: "simple"}
	params, err = stackParams(h, f, &p, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 1, params["nfv"].(map[string]any)["VDU"].(map[string]any)["VDU1"].(map[string]any)["desired_capacity"])

	// The NFVO's grant decides flavours, images and zones, over the VNFD
	// and the request; VDUs it does not mention keep theirs.
	g := &driver.Grant{Flavours: map[string]string{"VDU1": "granted.flavor"}, Images: map[string]string{"VDU1": "granted-image"}, Zones: map[string]string{"VDU2": "az-2"}}
	params, err = stackParams(h, f, &instantiateParams{FlavourID: "simple", AdditionalParams: map[string]any{"nfv": map[string]any{"VDU": map[string]any{"VDU1": map[string]any{"flavor": "m1.user"}}}}}, g)
	require.NoError(t, err)
	vdus := params["nfv"].(map[string]any)["VDU"].(map[string]any)
	v1, v2 := vdus["VDU1"].(map[string]any), vdus["VDU2"].(map[string]any)
	assert.Equal(t, "granted.flavor", v1["flavor"])
	assert.Equal(t, "granted.flavor", v1["computeFlavourId"])
	assert.Equal(t, "granted-image", v1["image"])
	assert.Equal(t, "granted-image", v1["vcImageId"])
	assert.Nil(t, v1["locationConstraints"])
	assert.Equal(t, "m1.small", v2["flavor"])
	assert.Equal(t, "az-2", v2["locationConstraints"])

	for name, body := range map[string]string{
		"unknown level":  `{"instantiationLevelId": "nope"}`,
		"bad link port":  `{"extVirtualLinks": [{"id": "e", "resourceId": "n", "extCps": [{"cpdId": "VDU1_CP1", "cpConfig": [{"linkPortId": "x"}]}]}]}`,
		"no resourceId":  `{"extVirtualLinks": [{"id": "e", "extCps": [{"cpdId": "VDU1_CP1"}]}]}`,
		"no cpdId":       `{"extVirtualLinks": [{"id": "e", "resourceId": "n", "extCps": [{}]}]}`,
		"nfv not object": `{"additionalParams": {"nfv": 3}}`,
		"parameters":     `{"additionalParams": {"parameters": [1]}}`,
	} {
		var p instantiateParams
		decodeJSON(t, body, &p)
		_, err := stackParams(h, f, &p, nil)
		problem(t, err, 422)
		_ = name
	}
	for _, v := range []any{0, 1.5, "10", -3} {
		_, err := timeoutMins(map[string]any{"stack_timeout_mins": v})
		problem(t, err, 422)
	}
}

// A template without the nfv parameter gets only additionalParams.parameters.
func TestStackParamsWithoutNfv(t *testing.T) {
	_, f := vmSimple(t)
	h := &hot{Params: map[string]bool{"x": true}}
	params, err := stackParams(h, f, &instantiateParams{AdditionalParams: map[string]any{"parameters": map[string]any{"x": "y"}}}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"x": "y"}, params)
}

func TestParseVim(t *testing.T) {
	ok := func(ai map[string]any) *model.VimConnectionInfo {
		return &model.VimConnectionInfo{ID: "vim1", VimType: VimTypes[0],
			InterfaceInfo: map[string]any{"endpoint": "http://127.0.0.1:5000/v3"}, AccessInfo: ai}
	}
	a, err := parseVim(ok(map[string]any{"username": "u", "password": "secret-pw", "project": "p", "projectDomain": "D", "userDomain": "D", "region": "R"}))
	require.NoError(t, err)
	assert.Equal(t, "u", a.opts.Username)
	assert.Equal(t, "p", a.opts.Scope.ProjectName)
	assert.Equal(t, "D", a.opts.Scope.DomainName)
	assert.Equal(t, "R", a.region)
	assert.True(t, a.opts.AllowReauth)

	a, err = parseVim(ok(map[string]any{"username": "u", "password": "pw", "project_id": "pid", "user_domain_name": "D"}))
	require.NoError(t, err)
	assert.Equal(t, "pid", a.opts.Scope.ProjectID)
	assert.Equal(t, "D", a.opts.DomainName)

	a, err = parseVim(ok(map[string]any{"application_credential_id": "id", "application_credential_secret": "s"}))
	require.NoError(t, err)
	assert.Equal(t, "id", a.opts.ApplicationCredentialID)

	// The endpoint gets /v3 when given without it.
	v := ok(map[string]any{"username": "u", "password": "pw", "project": "p"})
	v.InterfaceInfo["endpoint"] = "https://keystone.example:5000"
	a, err = parseVim(v)
	require.NoError(t, err)
	assert.Equal(t, "https://keystone.example:5000/v3", a.endpoint)

	for name, tc := range map[string]struct {
		ii, ai map[string]any
		field  string
	}{
		"no endpoint":   {map[string]any{}, map[string]any{"username": "u", "password": "pw", "project": "p"}, "interfaceInfo.endpoint"},
		"bad endpoint":  {map[string]any{"endpoint": "ftp://x"}, map[string]any{"username": "u", "password": "pw", "project": "p"}, "interfaceInfo.endpoint"},
		"no password":   {nil, map[string]any{"username": "u", "project": "p"}, "accessInfo.password"},
		"no username":   {nil, map[string]any{"password": "secret-pw", "project": "p"}, "accessInfo.username"},
		"no project":    {nil, map[string]any{"username": "u", "password": "secret-pw"}, "accessInfo.project"},
		"no secret":     {nil, map[string]any{"applicationCredentialId": "x"}, "accessInfo.applicationCredentialSecret"},
		"non-string":    {nil, map[string]any{"username": "u", "password": 12345, "project": "p"}, "accessInfo.password"},
		"bad CA":        {map[string]any{"ssl_ca_cert": "not a cert"}, map[string]any{"username": "u", "password": "secret-pw", "project": "p"}, "ssl_ca_cert"},
		"bad verify":    {map[string]any{"cert_verify": "maybe"}, map[string]any{"username": "u", "password": "secret-pw", "project": "p"}, "cert_verify"},
		"bad interface": {nil, map[string]any{"username": "u", "password": "secret-pw", "project": "p", "interface": "x"}, "accessInfo.interface"},
	} {
		t.Run(name, func(t *testing.T) {
			v := ok(tc.ai)
			for k, x := range tc.ii {
				v.InterfaceInfo[k] = x
			}
			if _, has := tc.ii["endpoint"]; !has && tc.ii != nil && len(tc.ii) == 0 {
				delete(v.InterfaceInfo, "endpoint")
			}
			_, err := parseVim(v)
			pe := problem(t, err, 422)
			assert.Contains(t, pe.Error(), tc.field)
			assert.NotContains(t, pe.Error(), "secret-pw")
			assert.NotContains(t, pe.Error(), "12345")
		})
	}
	_, err = parseVim(nil)
	problem(t, err, 422)

	// Equal connection info, equal cache key; any change, another key.
	a1, _ := parseVim(ok(map[string]any{"username": "u", "password": "pw", "project": "p"}))
	a2, _ := parseVim(ok(map[string]any{"username": "u", "password": "pw", "project": "p"}))
	a3, _ := parseVim(ok(map[string]any{"username": "u", "password": "pw2", "project": "p"}))
	assert.Equal(t, a1.cacheKey, a2.cacheKey)
	assert.NotEqual(t, a1.cacheKey, a3.cacheKey)
	assert.NotContains(t, a1.cacheKey, "pw")
}

func TestExtVLInfo(t *testing.T) {
	prev := extVLInfo(nil, []extVirtualLink{{ID: "e1", ResourceID: "net0"}, {ID: "e2", ResourceID: "public"}}, "vim1")
	require.Len(t, prev, 2)
	assert.JSONEq(t, `{"id":"e1","resourceHandle":{"vimConnectionId":"vim1","resourceId":"net0"}}`, string(prev[0]))
	next := extVLInfo(prev, []extVirtualLink{{ID: "e1", ResourceID: "net1"}}, "vim1")
	require.Len(t, next, 2)
	assert.JSONEq(t, `{"id":"e1","resourceHandle":{"vimConnectionId":"vim1","resourceId":"net1"}}`, string(next[0]))
	assert.Equal(t, prev[1], next[1])
}

// Package scaling's refusals reach the user with the driver's title.
func TestScaleRefusedTitle(t *testing.T) {
	v, _ := vmSimple(t)
	req := &driver.Request{Vnfd: v, Info: &model.InstantiatedVnfInfo{FlavourID: "simple"}, Params: json.RawMessage(`{"aspectId": "nope"}`)}
	_, errScale := New(Config{}).Scale(context.Background(), req)
	_, errLevel := New(Config{}).ScaleToLevel(context.Background(), req)
	const title = "Invalid request for the OpenStack driver"
	assert.Equal(t, []error{&driver.ProblemError{Status: 422, Title: title, Err: errors.New(`aspect "nope" is not in flavour simple`)},
		&driver.ProblemError{Status: 422, Title: title, Err: errors.New("instantiationLevelId or scaleInfo is required")}}, []error{errScale, errLevel})
}

package query

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
)

func has(a Attrs, p string) bool { return a.has(strings.Split(p, "/")) }

func TestAttrsOfModel(t *testing.T) {
	inst := AttrsOf(reflect.TypeFor[model.VnfInstance]())
	for _, p := range []string{
		"id", "vnfdId", "instantiationState", "_links", "_links/self/href",
		"vimConnectionInfo", "vimConnectionInfo/vimType", "vimConnectionInfo/interfaceInfo/anything",
		"instantiatedVnfInfo", "instantiatedVnfInfo/vnfcResourceInfo/vduId",
		"instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId",
		"instantiatedVnfInfo/vnfcResourceInfo/vnfcCpInfo/cpProtocolInfo/ipOverEthernet/ipAddresses/addresses",
		"instantiatedVnfInfo/scaleStatus/scaleLevel",
		"instantiatedVnfInfo/extCpInfo/any/thing", // []json.RawMessage
		"metadata", "metadata/anything", "metadata/anything/deeper",
		"vnfConfigurableProperties/x",
	} {
		assert.True(t, has(inst, p), p)
	}
	for _, p := range []string{
		"nope", "vnfdId/x", "ID", "VnfdID", "instantiatedVnfInfo/nope",
		"instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId/x",
		"_links/self/href/x", "instantiatedVnfInfo/vnfcResourceInfo/storageResourceIds/x",
	} {
		assert.False(t, has(inst, p), p)
	}

	occ := AttrsOf(reflect.TypeFor[*model.VnfLcmOpOcc]()) // pointers are followed
	for _, p := range []string{
		"operationState", "startTime", "operationParams", "operationParams/flavourId/x",
		"error/detail", "resourceChanges/affectedVnfcs/computeResource/vimConnectionId",
		"changedInfo/vnfInstanceName", "changedInfo/vimConnectionInfo/accessInfo/password",
		"changedExtConnectivity/whatever", "_links/vnfInstance/href",
	} {
		assert.True(t, has(occ, p), p)
	}
	for _, p := range []string{"startTime/x", "error/nope", "isCancelPending/x", "vnfdId"} {
		assert.False(t, has(occ, p), p)
	}
}

func TestFilterCheck(t *testing.T) {
	inst := AttrsOf(reflect.TypeFor[model.VnfInstance]())
	for _, ok := range []string{
		"(eq,vnfdId,x)",
		"(eq,instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId,x)",
		"(eq,metadata/anything/deeper,x);(in,vimConnectionInfo/vimType,a,b)",
	} {
		f, err := ParseFilter(ok)
		require.NoError(t, err)
		assert.NoError(t, f.Check(inst), ok)
	}
	for bad, path := range map[string]string{
		"(eq,nope,x)":                                     "nope",
		"(eq,vnfdId,x);(eq,vnfdId/x,y)":                   "vnfdId/x",
		"(eq,instantiatedVnfInfo/vnfcResourceInfo/vdu,x)": "instantiatedVnfInfo/vnfcResourceInfo/vdu",
	} {
		f, err := ParseFilter(bad)
		require.NoError(t, err)
		err = f.Check(inst)
		var ue *UnknownAttributeError
		require.True(t, errors.As(err, &ue), bad)
		assert.Equal(t, path, ue.Path)
		assert.Equal(t, "filter", ue.Param)
		assert.Contains(t, err.Error(), path)
	}
	f, err := ParseFilter("(eq,id,x)")
	require.NoError(t, err)
	assert.Error(t, f.Check(Attrs{}), "the zero Attrs knows nothing")
}

type base struct {
	ID     string `json:"id"`
	Hidden string `json:"-"`
	Dash   string `json:"-,"`
	secret string
}

type inner struct{ Deep string }

type Embedded struct {
	Shadowed string `json:"name"`
	Promoted string `json:"promoted"`
}

type node struct {
	base
	*Embedded
	Name     string `json:"name"`
	Untagged int
	Opt      *inner            `json:"opt,omitempty"`
	Zero     inner             `json:"zero,omitzero"`
	Kids     []node            `json:"kids,omitempty"`
	Tags     []string          `json:"tags,omitempty"`
	When     time.Time         `json:"when"`
	Raw      json.RawMessage   `json:"raw"`
	Any      any               `json:"any"`
	Map      map[string]string `json:"map"`
	Bytes    []byte            `json:"bytes"`
	Matrix   [][]inner         `json:"matrix"`
	Named    inner             `json:"named"`
}

func TestAttrsOfRules(t *testing.T) {
	a := AttrsOf(reflect.TypeFor[node]())
	for _, p := range []string{
		"id", "-", "name", "promoted", "Untagged", "opt/Deep", "zero/Deep", "kids/kids/kids/id",
		"tags", "when", "raw/x/y", "any/x", "map/x/y", "bytes", "matrix/Deep", "named/Deep",
	} {
		assert.True(t, has(a, p), p)
	}
	for _, p := range []string{
		"Hidden", "secret", "base", "Embedded", "Shadowed", "when/x", "tags/x", "bytes/x", "named/x", "Name",
	} {
		assert.False(t, has(a, p), p)
	}

	s := a.root
	assert.True(t, s.fields["opt"].optional)
	assert.True(t, s.fields["zero"].optional)
	assert.True(t, s.fields["kids"].optional)
	assert.False(t, s.fields["name"].optional)
	assert.True(t, s.fields["tags"].shape.complex, "an array of strings is complex")
	assert.False(t, s.fields["when"].shape.complex)
	assert.False(t, s.fields["bytes"].shape.complex)
	assert.True(t, s.fields["map"].shape.complex)
}

func TestAttrsMandatory(t *testing.T) {
	inst := AttrsOf(reflect.TypeFor[model.VnfInstance]())
	m := inst.Mandatory("_links", "instantiatedVnfInfo/vnfcResourceInfo/metadata")
	assert.True(t, inst.root.fields["_links"].optional, "the original is unchanged")
	assert.False(t, m.root.fields["_links"].optional)
	vnfc := m.root.fields["instantiatedVnfInfo"].shape.fields["vnfcResourceInfo"].shape
	assert.False(t, vnfc.fields["metadata"].optional)
	// VnfcResourceInfo's shape was copied, not changed where it is shared.
	orig := inst.root.fields["instantiatedVnfInfo"].shape.fields["vnfcResourceInfo"].shape
	assert.True(t, orig.fields["metadata"].optional)
	assert.Panics(t, func() { inst.Mandatory("nope") })
	assert.Panics(t, func() { inst.Mandatory("metadata/x") })
}

package query

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
)

// SOL003 v2.6.1 default exclude sets.
var (
	instanceDefaults = []string{"vnfConfigurableProperties", "vimConnectionInfo", "instantiatedVnfInfo", "metadata", "extensions"}
	opOccDefaults    = []string{"operationParams", "error", "resourceChanges", "changedInfo", "changedExtConnectivity"}
)

func keys(v any) []string {
	m := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func selectDoc(t *testing.T, query string, defaults []string, known *Attrs, docJSON string) any {
	t.Helper()
	q, err := url.ParseQuery(query)
	require.NoError(t, err)
	s, err := ParseSelector(q, defaults)
	require.NoError(t, err)
	if known != nil {
		require.NoError(t, s.Check(*known))
	}
	return s.Apply(decode(t, docJSON, false))
}

func TestSelectorInstance(t *testing.T) {
	known := AttrsOf(reflect.TypeFor[model.VnfInstance]()).Mandatory("_links")
	scalars := []string{"_links", "id", "instantiationState", "vnfInstanceName", "vnfProvider", "vnfdId"}
	plus := func(extra ...string) []string {
		out := append(append([]string{}, scalars...), extra...)
		sort.Strings(out)
		return out
	}
	all := keys(decode(t, instanceJSON, false))

	tests := []struct {
		query string
		want  []string // top-level keys left
	}{
		{"", scalars},
		{"exclude_default", scalars},
		{"all_fields", all},
		{"fields=metadata", plus("metadata")},
		{"fields=metadata,vimConnectionInfo", plus("metadata", "vimConnectionInfo")},
		{"fields=metadata&fields=extensions", plus("extensions", "metadata")},
		{"fields=metadata&exclude_default", plus("metadata")},
		{"fields=id", scalars}, // mandatory attributes stay regardless
		{"exclude_fields=metadata,vimConnectionInfo", []string{"_links", "extensions", "id", "instantiatedVnfInfo", "instantiationState", "vnfConfigurableProperties", "vnfInstanceName", "vnfProvider", "vnfdId"}},
		{"exclude_fields=id,_links,vnfdId", all}, // not eligible: stay
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := selectDoc(t, tt.query, instanceDefaults, &known, instanceJSON)
			assert.Equal(t, tt.want, keys(got))
		})
	}
}

func TestSelectorNested(t *testing.T) {
	known := AttrsOf(reflect.TypeFor[model.VnfInstance]()).Mandatory("_links")
	doc := `{
	  "id": "i", "vnfdId": "d",
	  "vimConnectionInfo": [{"id": "v", "vimType": "t", "interfaceInfo": {"e": 1}, "extra": {"x": 1}}],
	  "instantiatedVnfInfo": {
	    "flavourId": "f", "vnfState": "STARTED",
	    "scaleStatus": [{"aspectId": "a", "scaleLevel": 1}],
	    "vnfcResourceInfo": [
	      {"id": "c1", "vduId": "V", "computeResource": {"resourceId": "r", "vimConnectionId": "v"},
	       "storageResourceIds": ["s"], "metadata": {"m": 1}, "vnfcCpInfo": [{"id": "cp", "cpdId": "C"}]},
	      {"id": "c2", "vduId": "V", "computeResource": {"resourceId": "r2", "vimConnectionId": "v"}}
	    ]
	  },
	  "metadata": {"a": 1, "b": {"c": 2}},
	  "_links": {"self": {"href": "h"}, "instantiate": {"href": "i"}}
	}`
	tests := []struct {
		query string
		want  string
	}{
		{
			// Keeps instantiatedVnfInfo for vnfcResourceInfo: its mandatory
			// members stay, its other optional complex ones go.
			query: "fields=instantiatedVnfInfo/vnfcResourceInfo",
			want: `{"id": "i", "vnfdId": "d", "_links": {"self": {"href": "h"}, "instantiate": {"href": "i"}},
			  "instantiatedVnfInfo": {"flavourId": "f", "vnfState": "STARTED", "vnfcResourceInfo": [
			    {"id": "c1", "vduId": "V", "computeResource": {"resourceId": "r", "vimConnectionId": "v"},
			     "storageResourceIds": ["s"], "metadata": {"m": 1}, "vnfcCpInfo": [{"id": "cp", "cpdId": "C"}]},
			    {"id": "c2", "vduId": "V", "computeResource": {"resourceId": "r2", "vimConnectionId": "v"}}]}}`,
		},
		{
			// Through an array: computeResource is mandatory anyway, the
			// optional complex siblings go in every element.
			query: "fields=instantiatedVnfInfo/vnfcResourceInfo/computeResource&exclude_default",
			want: `{"id": "i", "vnfdId": "d", "_links": {"self": {"href": "h"}, "instantiate": {"href": "i"}},
			  "instantiatedVnfInfo": {"flavourId": "f", "vnfState": "STARTED", "vnfcResourceInfo": [
			    {"id": "c1", "vduId": "V", "computeResource": {"resourceId": "r", "vimConnectionId": "v"}},
			    {"id": "c2", "vduId": "V", "computeResource": {"resourceId": "r2", "vimConnectionId": "v"}}]}}`,
		},
		{
			// Inside free-form content every member is optional.
			query: "fields=metadata/b,vimConnectionInfo/interfaceInfo",
			want: `{"id": "i", "vnfdId": "d", "_links": {"self": {"href": "h"}, "instantiate": {"href": "i"}},
			  "vimConnectionInfo": [{"id": "v", "vimType": "t", "interfaceInfo": {"e": 1}}],
			  "metadata": {"b": {"c": 2}}}`,
		},
		{
			query: "exclude_fields=instantiatedVnfInfo/vnfcResourceInfo/metadata,instantiatedVnfInfo/vnfcResourceInfo/vnfcCpInfo,instantiatedVnfInfo/scaleStatus,metadata/b,_links/instantiate,vimConnectionInfo",
			want: `{"id": "i", "vnfdId": "d", "_links": {"self": {"href": "h"}},
			  "instantiatedVnfInfo": {"flavourId": "f", "vnfState": "STARTED", "vnfcResourceInfo": [
			    {"id": "c1", "vduId": "V", "computeResource": {"resourceId": "r", "vimConnectionId": "v"}, "storageResourceIds": ["s"]},
			    {"id": "c2", "vduId": "V", "computeResource": {"resourceId": "r2", "vimConnectionId": "v"}}]},
			  "metadata": {"a": 1}}`,
		},
		{
			// A listed ancestor wins over a listed descendant.
			query: "exclude_fields=instantiatedVnfInfo/vnfcResourceInfo/computeResource,instantiatedVnfInfo/flavourId",
			want:  "", // computeResource and flavourId are mandatory: nothing changes
		},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := selectDoc(t, tt.query, instanceDefaults, &known, doc)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			want := tt.want
			if want == "" {
				want = doc
			}
			assert.JSONEq(t, want, string(b))
		})
	}
}

func TestSelectorOpOcc(t *testing.T) {
	// operationParams has no omitempty in the model, but being in the
	// default set makes it eligible.
	known := AttrsOf(reflect.TypeFor[model.VnfLcmOpOcc]()).Mandatory("_links")
	doc := `{"id": "o", "operationState": "COMPLETED", "operation": "INSTANTIATE",
	  "operationParams": {"flavourId": "f"}, "error": {"status": 500, "detail": "x"},
	  "resourceChanges": {"affectedVnfcs": []}, "_links": {"self": {"href": "h"}}}`
	for query, want := range map[string][]string{
		"":                               {"_links", "id", "operation", "operationState"},
		"fields=operationParams":         {"_links", "id", "operation", "operationParams", "operationState"},
		"fields=error,resourceChanges":   {"_links", "error", "id", "operation", "operationState", "resourceChanges"},
		"exclude_fields=operationParams": {"_links", "error", "id", "operation", "operationState", "resourceChanges"},
		"all_fields":                     {"_links", "error", "id", "operation", "operationParams", "operationState", "resourceChanges"},
	} {
		got := selectDoc(t, query, opOccDefaults, &known, doc)
		assert.Equal(t, want, keys(got), query)
	}
}

func TestSelectorWithoutSchema(t *testing.T) {
	// Without Check, object- and array-valued attributes count as optional.
	doc := `{"id": "i", "n": 1, "obj": {"a": 1}, "arr": [1], "keep": {"x": 1}, "_links": {}}`
	assert.Equal(t, []string{"id", "keep", "n"}, keys(selectDoc(t, "fields=keep", nil, nil, doc)))
	assert.Equal(t, []string{"_links", "arr", "id", "keep", "n"}, keys(selectDoc(t, "exclude_fields=obj,n", nil, nil, doc)))
	assert.Equal(t, []string{"_links", "arr", "id", "keep", "n"}, keys(selectDoc(t, "", []string{"obj"}, nil, doc)))
	// Not in the schema (e.g. a member added after the model): judged by value.
	known := AttrsOf(reflect.TypeFor[struct {
		ID string `json:"id"`
	}]())
	assert.Equal(t, []string{"id", "n"}, keys(selectDoc(t, "fields=id", []string{"keep"}, &known, `{"id": "i", "n": 1, "obj": {}, "keep": {}}`)))
}

func TestSelectorApplyList(t *testing.T) {
	s, err := ParseSelector(url.Values{}, []string{"metadata"})
	require.NoError(t, err)
	list := decode(t, `[{"id": "a", "metadata": {}}, {"id": "b"}, 3]`, false)
	b, err := json.Marshal(s.Apply(list))
	require.NoError(t, err)
	assert.JSONEq(t, `[{"id": "a"}, {"id": "b"}, 3]`, string(b))
	assert.Equal(t, "x", s.Apply("x"))
}

func TestParseSelectorErrors(t *testing.T) {
	tests := []struct {
		query  string
		param  string
		offset int
		msg    string
	}{
		{"all_fields&fields=a", "all_fields", -1, "cannot be combined"},
		{"all_fields&exclude_fields=a", "all_fields", -1, "cannot be combined"},
		{"all_fields&exclude_default", "all_fields", -1, "cannot be combined"},
		{"fields=a&exclude_fields=b", "fields", -1, "fields cannot be combined with exclude_fields"},
		{"exclude_fields=a&exclude_default", "exclude_fields", -1, "exclude_fields cannot be combined with exclude_default"},
		{"all_fields=true", "all_fields", 0, "flag"},
		{"exclude_default=1", "exclude_default", 0, "flag"},
		{"fields=", "fields", 0, "empty attribute name"},
		{"fields=a,,b", "fields", 2, "empty attribute name"},
		{"fields=a,b,", "fields", 4, "empty attribute name"},
		{"fields=a,b//c", "fields", 4, "empty attribute name"},
		{"fields=a/", "fields", 2, "empty attribute name"},
		{"exclude_fields=/a", "exclude_fields", 0, "empty attribute name"},
		{"fields=ok&fields=x,", "fields", 2, "empty attribute name"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			s, err := ParseSelector(q, instanceDefaults)
			assert.Nil(t, s)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "want *SyntaxError, got %v", err)
			assert.Equal(t, tt.param, se.Param)
			assert.Equal(t, tt.offset, se.Offset)
			assert.Contains(t, se.Msg, tt.msg)
		})
	}

	_, err := ParseSelector(url.Values{}, []string{"a//b"})
	assert.Error(t, err)
}

func TestSelectorCheck(t *testing.T) {
	known := AttrsOf(reflect.TypeFor[model.VnfInstance]())
	for query, bad := range map[string]string{
		"fields=metadata,nope":              "nope",
		"exclude_fields=vnfdId/x":           "vnfdId/x",
		"fields=instantiatedVnfInfo/nope/x": "instantiatedVnfInfo/nope/x",
	} {
		q, err := url.ParseQuery(query)
		require.NoError(t, err)
		s, err := ParseSelector(q, instanceDefaults)
		require.NoError(t, err)
		err = s.Check(known)
		var ue *UnknownAttributeError
		require.True(t, errors.As(err, &ue), query)
		assert.Equal(t, bad, ue.Path)
	}
	q, _ := url.ParseQuery("fields=metadata/anything/deeper,instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId")
	s, err := ParseSelector(q, instanceDefaults)
	require.NoError(t, err)
	assert.NoError(t, s.Check(known))
}

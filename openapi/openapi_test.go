package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
)

const (
	base    = "/vnflcm/v1"
	inst    = base + "/vnf_instances/3c4e9b52-1b8e-4d5c-a0f5-4e0f8f6b9a11"
	opOcc   = base + "/vnf_lcm_op_occs/7d1ba5d3-2f5c-4a3e-9a6b-8c4d2e1f0a22"
	ctJSON  = "application/json"
	ctMerge = "application/merge-patch+json"
)

// tackerInstantiate is what `openstack vnflcm instantiate` sends for an
// OpenStack VIM: Tacker's sample file plus its extra attributes.
const tackerInstantiate = `{
  "flavourId": "simple",
  "instantiationLevelId": "instantiation_level_1",
  "extVirtualLinks": [
    {
      "id": "net0",
      "resourceId": "4bf3e646-7a23-4b04-a0f1-9f7f6ec66b4a",
      "extCps": [
        {
          "cpdId": "CP1",
          "cpConfig": [
            {
              "cpProtocolData": [
                {
                  "layerProtocol": "IP_OVER_ETHERNET",
                  "ipOverEthernet": {
                    "ipAddresses": [
                      {"type": "IPV4", "numDynamicAddresses": 1, "subnetId": "a5d7f5d5-d0a9-4e2a-8f0c-3d5c1f2b7e6a"}
                    ]
                  }
                }
              ]
            }
          ]
        }
      ],
      "extLinkPorts": [
        {"id": "port0", "resourceHandle": {"resourceId": "0b0c5b1a-e3b8-4c7b-9a3c-6f1e8d2a4b5c", "vimLevelResourceType": "OS::Neutron::Port"}}
      ]
    }
  ],
  "extManagedVirtualLinks": [
    {"id": "extMngVL-1", "vnfVirtualLinkDescId": "internalVL1", "resourceId": "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"}
  ],
  "vimConnectionInfo": [
    {
      "id": "3cc2c4ff-525c-4d0a-8f0e-c3b4b1d0a6f9",
      "vimId": "8a3adb69-0784-43c7-833e-aab0b6ab4470",
      "vimType": "openstack",
      "interfaceInfo": {"endpoint": "http://keystone:5000/v3"},
      "accessInfo": {"username": "nfv_user", "region": "RegionOne", "password": "devstack", "tenant": "nfv"}
    }
  ],
  "localizationLanguage": "ja",
  "additionalParams": {
    "lcm-operation-user-data": "./UserData/lcm_user_data.py",
    "lcm-operation-user-data-class": "SampleUserData",
    "nfv": {"VDU": {"VDU1": {"flavor": "m1.tiny"}}}
  },
  "vnfConfigurableProperties": {"isAutoscaleEnabled": false},
  "extensions": {"tackerSpecific": true},
  "someFutureAttribute": {"ignored": [1, 2, 3]}
}`

func newValidator(t testing.TB) *Validator {
	t.Helper()
	v, err := NewValidator()
	require.NoError(t, err)
	return v
}

func newRequest(method, target, contentType, body string) (*http.Request, []byte) {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("Accept", "application/json")
	return r, []byte(body)
}

func TestDocumentIsValid(t *testing.T) {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(VnfLcmV1)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx))
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	assert.Equal(t, "1.3.0", doc.Info.Version)
	require.Len(t, doc.Servers, 1)
	assert.Equal(t, "/vnflcm/v1", doc.Servers[0].URL)

	_, err = LoadDocument(ctx)
	require.NoError(t, err)
}

// TestDocumentOperations pins the resources and methods of the API and the
// ProblemDetails error responses.
func TestDocumentOperations(t *testing.T) {
	doc, err := LoadDocument(context.Background())
	require.NoError(t, err)

	want := map[string][]string{
		"/api_versions":                                  {"GET"},
		"/vnf_instances":                                 {"GET", "POST"},
		"/vnf_instances/{vnfInstanceId}":                 {"DELETE", "GET", "PATCH"},
		"/vnf_instances/{vnfInstanceId}/instantiate":     {"POST"},
		"/vnf_instances/{vnfInstanceId}/terminate":       {"POST"},
		"/vnf_instances/{vnfInstanceId}/scale":           {"POST"},
		"/vnf_instances/{vnfInstanceId}/scale_to_level":  {"POST"},
		"/vnf_instances/{vnfInstanceId}/heal":            {"POST"},
		"/vnf_instances/{vnfInstanceId}/change_ext_conn": {"POST"},
		"/vnf_instances/{vnfInstanceId}/change_flavour":  {"POST"},
		"/vnf_instances/{vnfInstanceId}/operate":         {"POST"},
		"/vnf_lcm_op_occs":                               {"GET"},
		"/vnf_lcm_op_occs/{vnfLcmOpOccId}":               {"GET"},
		"/vnf_lcm_op_occs/{vnfLcmOpOccId}/retry":         {"POST"},
		"/vnf_lcm_op_occs/{vnfLcmOpOccId}/rollback":      {"POST"},
		"/vnf_lcm_op_occs/{vnfLcmOpOccId}/fail":          {"POST"},
		"/vnf_lcm_op_occs/{vnfLcmOpOccId}/cancel":        {"POST"},
		"/subscriptions":                                 {"GET", "POST"},
		"/subscriptions/{subscriptionId}":                {"DELETE", "GET"},
	}
	got := map[string][]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			got[path] = append(got[path], method)
			for _, code := range []string{"400", "401", "403", "404", "405", "406", "500", "503"} {
				resp := op.Responses.Value(code)
				if assert.NotNil(t, resp, "%s %s has no %s response", method, path, code) {
					mt := resp.Value.Content.Get("application/problem+json")
					if assert.NotNil(t, mt, "%s %s %s", method, path, code) {
						assert.Equal(t, "#/components/schemas/ProblemDetails", mt.Schema.Ref)
					}
				}
			}
			if op.RequestBody != nil {
				assert.NotNil(t, op.Responses.Value("415"), "%s %s takes a body but has no 415", method, path)
			}
		}
	}
	for path := range got {
		// Operations() is a map; compare as sets.
		assert.ElementsMatch(t, want[path], got[path], path)
	}
	assert.Len(t, got, len(want))

	patch := doc.Paths.Value("/vnf_instances/{vnfInstanceId}").Patch
	assert.NotNil(t, patch.RequestBody.Value.Content[ctMerge])
	assert.NotNil(t, patch.RequestBody.Value.Content[ctJSON])
	cancel := doc.Paths.Value("/vnf_lcm_op_occs/{vnfLcmOpOccId}/cancel").Post
	assert.False(t, cancel.RequestBody.Value.Required)
	for _, name := range []string{"VnfInstance", "VnfLcmOpOcc", "ApiVersionInformation", "ProblemDetails"} {
		assert.Contains(t, doc.Components.Schemas, name)
	}
}

func TestValidRequests(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, method, target, ct, body string
	}{
		{"api versions", "GET", base + "/api_versions", "", ""},
		{"list instances", "GET", base + "/vnf_instances", "", ""},
		{"list instances with selectors", "GET", base + "/vnf_instances?filter=(eq,vnfdId,b1bb0ce7)&all_fields&exclude_default=&fields=vimConnectionInfo&nextpage_opaque_marker=abc", "", ""},
		{"list instances exclude_fields", "GET", base + "/vnf_instances?exclude_fields=instantiatedVnfInfo", "", ""},
		{"create", "POST", base + "/vnf_instances", ctJSON, `{"vnfdId": "b1bb0ce7-ebca-4fa7-95ed-4840d7000000", "vnfInstanceName": "vnf1", "vnfInstanceDescription": "d", "metadata": {"k": [1, {"x": null}]}}`},
		{"create with charset", "POST", base + "/vnf_instances", "application/json; charset=UTF-8", `{"vnfdId": "b1bb0ce7"}`},
		{"get instance", "GET", inst, "", ""},
		{"patch merge-patch", "PATCH", inst, ctMerge, `{"vnfInstanceName": "new", "metadata": {"a": null}, "vimConnectionInfo": [{"id": "v1", "vimType": "kubernetes"}], "vimConnectionInfoDeleteIds": ["v0"]}`},
		{"patch json", "PATCH", inst, ctJSON, `{"vnfInstanceDescription": "x", "vnfdId": "d2", "vnfPkgId": "p2", "vnfConfigurableProperties": {}, "extensions": {}}`},
		{"patch removes with null", "PATCH", inst, ctMerge, `{"vnfInstanceDescription": null, "metadata": null}`},
		{"delete instance", "DELETE", inst, "", ""},
		{"instantiate minimal", "POST", inst + "/instantiate", ctJSON, `{"flavourId": "simple"}`},
		{"instantiate tacker cli", "POST", inst + "/instantiate", ctJSON, tackerInstantiate},
		{"instantiate cpConfig as SOL003 map", "POST", inst + "/instantiate", ctJSON, `{"flavourId": "simple", "extVirtualLinks": [{"id": "n", "resourceId": "r", "extCps": [{"cpdId": "CP1", "cpConfig": {"cfg1": {"linkPortId": "p"}}}]}]}`},
		{"terminate forceful", "POST", inst + "/terminate", ctJSON, `{"terminationType": "FORCEFUL"}`},
		{"terminate graceful", "POST", inst + "/terminate", ctJSON, `{"terminationType": "GRACEFUL", "gracefulTerminationTimeout": 0, "additionalParams": {}}`},
		{"scale out", "POST", inst + "/scale", ctJSON, `{"type": "SCALE_OUT", "aspectId": "VDU1_scale", "numberOfSteps": 2, "additionalParams": {"k": "v"}}`},
		{"scale in default steps", "POST", inst + "/scale", ctJSON, `{"type": "SCALE_IN", "aspectId": "VDU1_scale"}`},
		{"scale to level by instantiation level", "POST", inst + "/scale_to_level", ctJSON, `{"instantiationLevelId": "instantiation_level_2"}`},
		{"scale to level by scale info", "POST", inst + "/scale_to_level", ctJSON, `{"scaleInfo": [{"aspectId": "VDU1_scale", "scaleLevel": 0}], "additionalParams": {}}`},
		{"heal SOL003 cause only", "POST", inst + "/heal", ctJSON, `{"cause": "VNF is broken"}`},
		{"heal SOL003 empty", "POST", inst + "/heal", ctJSON, `{}`},
		{"heal SOL002 vnfcs", "POST", inst + "/heal", ctJSON, `{"vnfcInstanceId": ["f9a2d5c4-1b3e-4a7d-9c6b-2e8f0a1d3c5b"], "cause": "c", "healScript": "s", "additionalParams": {"all": true}}`},
		{"change ext conn", "POST", inst + "/change_ext_conn", ctJSON, `{"extVirtualLinks": [{"id": "n", "vimConnectionId": "v", "resourceProviderId": "p", "resourceId": "r", "extCps": [{"cpdId": "CP1"}]}], "vimConnectionInfo": [{"id": "v", "vimType": "openstack"}]}`},
		{"change flavour", "POST", inst + "/change_flavour", ctJSON, `{"newFlavourId": "big", "instantiationLevelId": "l1", "extManagedVirtualLinks": [{"id": "m", "vnfVirtualLinkDescId": "vl", "resourceId": "r"}]}`},
		{"operate start", "POST", inst + "/operate", ctJSON, `{"changeStateTo": "STARTED"}`},
		{"operate stop", "POST", inst + "/operate", ctJSON, `{"changeStateTo": "STOPPED", "stopType": "GRACEFUL", "gracefulStopTimeout": 30}`},
		{"list op occs", "GET", base + "/vnf_lcm_op_occs?filter=(eq,operationState,FAILED_TEMP)", "", ""},
		{"get op occ", "GET", opOcc, "", ""},
		{"retry", "POST", opOcc + "/retry", "", ""},
		{"retry ignores a body", "POST", opOcc + "/retry", ctJSON, `{}`},
		{"rollback", "POST", opOcc + "/rollback", "", ""},
		{"fail", "POST", opOcc + "/fail", "", ""},
		{"cancel empty body", "POST", opOcc + "/cancel", "", ""},
		{"cancel empty body with content type", "POST", opOcc + "/cancel", ctJSON, ""},
		{"cancel forceful", "POST", opOcc + "/cancel", ctJSON, `{"cancelMode": "FORCEFUL"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, body := newRequest(tc.method, tc.target, tc.ct, tc.body)
			assert.NoError(t, v.ValidateRequest(context.Background(), r, body))
			// The same request with a Version header, as SOL013 clients send.
			r.Header.Set("Version", "1.3.0")
			assert.NoError(t, v.ValidateRequest(context.Background(), r, body))
		})
	}
}

func TestInvalidBodies(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name, target, ct, body string
		method                 string // POST if empty
		want                   string // exact detail if it starts with "=", else a fragment
	}{
		{name: "instantiate missing flavourId", target: inst + "/instantiate", body: `{"instantiationLevelId": "l1"}`,
			want: `=request body: property "flavourId" is missing`},
		{name: "instantiate empty flavourId", target: inst + "/instantiate", body: `{"flavourId": ""}`,
			want: `=request body: flavourId: minimum string length is 1`},
		{name: "instantiate vimConnectionInfo without vimType", target: inst + "/instantiate", body: `{"flavourId": "f", "vimConnectionInfo": [{"id": "v"}]}`,
			want: `=request body: vimConnectionInfo/0: property "vimType" is missing`},
		{name: "instantiate vimConnectionInfo not an array", target: inst + "/instantiate", body: `{"flavourId": "f", "vimConnectionInfo": {"id": "v", "vimType": "openstack"}}`,
			want: `=request body: vimConnectionInfo: value must be an array`},
		{name: "instantiate additionalParams not an object", target: inst + "/instantiate", body: `{"flavourId": "f", "additionalParams": "x"}`,
			want: `=request body: additionalParams: value must be an object`},
		{name: "instantiate nested layerProtocol", target: inst + "/instantiate",
			body: `{"flavourId": "f", "extVirtualLinks": [{"id": "n", "resourceId": "r", "extCps": [{"cpdId": "c", "cpConfig": [{"cpProtocolData": [{"layerProtocol": "IP_OVER_IB"}]}]}]}]}`,
			want: `=request body: extVirtualLinks/0/extCps/0/cpConfig/0/cpProtocolData/0/layerProtocol: value "IP_OVER_IB" is not one of the allowed values [IP_OVER_ETHERNET]`},
		{name: "instantiate cpConfig neither array nor map", target: inst + "/instantiate",
			body: `{"flavourId": "f", "extVirtualLinks": [{"id": "n", "resourceId": "r", "extCps": [{"cpdId": "c", "cpConfig": "x"}]}]}`,
			want: `=request body: extVirtualLinks/0/extCps/0/cpConfig: must be an array of VnfExtCpConfig objects or an object mapping cpConfigId to VnfExtCpConfig`},
		{name: "instantiate ext link without extCps", target: inst + "/instantiate", body: `{"flavourId": "f", "extVirtualLinks": [{"id": "n", "resourceId": "r"}]}`,
			want: `=request body: extVirtualLinks/0: property "extCps" is missing`},
		{name: "instantiate managed link without resourceId", target: inst + "/instantiate", body: `{"flavourId": "f", "extManagedVirtualLinks": [{"id": "m", "vnfVirtualLinkDescId": "vl"}]}`,
			want: `=request body: extManagedVirtualLinks/0: property "resourceId" is missing`},
		{name: "several errors at once", target: inst + "/instantiate", body: `{"vimConnectionInfo": [{}]}`,
			want: `=request body: property "flavourId" is missing; vimConnectionInfo/0: property "id" is missing; vimConnectionInfo/0: property "vimType" is missing`},
		{name: "body not an object", target: inst + "/instantiate", body: `[{"flavourId": "f"}]`,
			want: `=request body: value must be an object`},
		{name: "body null", target: inst + "/instantiate", body: `null`,
			want: `=request body: value must not be null`},
		{name: "terminationType unknown", target: inst + "/terminate", body: `{"terminationType": "SOMETIMES"}`,
			want: `=request body: terminationType: value "SOMETIMES" is not one of the allowed values [FORCEFUL GRACEFUL]`},
		{name: "terminationType missing", target: inst + "/terminate", body: `{"gracefulTerminationTimeout": 10}`,
			want: `=request body: property "terminationType" is missing`},
		{name: "gracefulTerminationTimeout negative", target: inst + "/terminate", body: `{"terminationType": "GRACEFUL", "gracefulTerminationTimeout": -1}`,
			want: `=request body: gracefulTerminationTimeout: number must be at least 0`},
		{name: "numberOfSteps 0", target: inst + "/scale", body: `{"type": "SCALE_OUT", "aspectId": "a", "numberOfSteps": 0}`,
			want: `=request body: numberOfSteps: number must be at least 1`},
		{name: "numberOfSteps fractional", target: inst + "/scale", body: `{"type": "SCALE_OUT", "aspectId": "a", "numberOfSteps": 1.5}`,
			want: `=request body: numberOfSteps: value must be an integer`},
		{name: "aspectId a number", target: inst + "/scale", body: `{"type": "SCALE_IN", "aspectId": 1}`,
			want: `=request body: aspectId: value must be a string`},
		{name: "scale type missing", target: inst + "/scale", body: `{"aspectId": "a"}`,
			want: `=request body: property "type" is missing`},
		{name: "scale to level both", target: inst + "/scale_to_level", body: `{"instantiationLevelId": "l", "scaleInfo": [{"aspectId": "a", "scaleLevel": 1}]}`,
			want: `=request body: exactly one of "instantiationLevelId" and "scaleInfo" shall be present`},
		{name: "scale to level neither", target: inst + "/scale_to_level", body: `{"additionalParams": {}}`,
			want: `=request body: exactly one of "instantiationLevelId" and "scaleInfo" shall be present`},
		{name: "scale to level negative", target: inst + "/scale_to_level", body: `{"scaleInfo": [{"aspectId": "a", "scaleLevel": -1}]}`,
			want: `scaleInfo/0/scaleLevel: number must be at least 0`},
		{name: "vnfcInstanceId not an array", target: inst + "/heal", body: `{"vnfcInstanceId": "f9a2d5c4"}`,
			want: `=request body: vnfcInstanceId: value must be an array`},
		{name: "vnfcInstanceId items not strings", target: inst + "/heal", body: `{"vnfcInstanceId": [1]}`,
			want: `=request body: vnfcInstanceId/0: value must be a string`},
		{name: "heal cause not a string", target: inst + "/heal", body: `{"cause": {"why": "x"}}`,
			want: `=request body: cause: value must be a string`},
		{name: "change ext conn without links", target: inst + "/change_ext_conn", body: `{"vimConnectionInfo": []}`,
			want: `=request body: property "extVirtualLinks" is missing`},
		{name: "change ext conn empty links", target: inst + "/change_ext_conn", body: `{"extVirtualLinks": []}`,
			want: `=request body: extVirtualLinks: minimum number of items is 1`},
		{name: "change flavour without newFlavourId", target: inst + "/change_flavour", body: `{"flavourId": "f"}`,
			want: `=request body: property "newFlavourId" is missing`},
		{name: "operate bad state", target: inst + "/operate", body: `{"changeStateTo": "PAUSED"}`,
			want: `=request body: changeStateTo: value "PAUSED" is not one of the allowed values [STARTED STOPPED]`},
		{name: "operate bad stopType", target: inst + "/operate", body: `{"changeStateTo": "STOPPED", "stopType": 1}`,
			want: `stopType: value 1 is not one of the allowed values [FORCEFUL GRACEFUL]`},
		{name: "cancel bad mode", target: opOcc + "/cancel", body: `{"cancelMode": "NOW"}`,
			want: `=request body: cancelMode: value "NOW" is not one of the allowed values [GRACEFUL FORCEFUL]`},
		{name: "create without vnfdId", target: base + "/vnf_instances", body: `{"vnfInstanceName": "x"}`,
			want: `=request body: property "vnfdId" is missing`},
		{name: "patch vnfdId null", method: "PATCH", target: inst, ct: ctMerge, body: `{"vnfdId": null}`,
			want: `=request body: vnfdId: value must not be null`},
		{name: "patch vimConnectionInfo item", method: "PATCH", target: inst, ct: ctJSON, body: `{"vimConnectionInfo": [{"vimType": "openstack"}]}`,
			want: `=request body: vimConnectionInfo/0: property "id" is missing`},
		{name: "missing body", target: inst + "/instantiate", body: "",
			want: `=request body is required`},
		{name: "enum value is bounded", target: inst + "/terminate", body: `{"terminationType": "` + strings.Repeat("A", 200) + `"}`,
			want: `...", "is not one of the allowed values [FORCEFUL GRACEFUL]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, ct := tc.method, tc.ct
			if method == "" {
				method = "POST"
			}
			if ct == "" && tc.body != "" {
				ct = ctJSON
			}
			r, body := newRequest(method, tc.target, ct, tc.body)
			err := v.ValidateRequest(context.Background(), r, body)
			require.Error(t, err)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "body", ve.In)
			if exact, ok := strings.CutPrefix(tc.want, "="); ok {
				assert.Equal(t, exact, err.Error())
			} else {
				for _, frag := range strings.Split(tc.want, `", "`) {
					assert.Contains(t, err.Error(), frag)
				}
			}
			assert.NotContains(t, err.Error(), "Schema:", "details must not dump the schema")
			assert.NotErrorIs(t, err, ErrMalformedBody)
		})
	}
}

func TestMalformedJSON(t *testing.T) {
	v := newValidator(t)
	for name, body := range map[string]string{
		"syntax":    `{"flavourId": "simple",}`,
		"truncated": `{"flavourId": "sim`,
		"trailing":  `{"flavourId": "simple"} {"x": 1}`,
		"not json":  `flavourId=simple`,
	} {
		t.Run(name, func(t *testing.T) {
			r, b := newRequest("POST", inst+"/instantiate", ctJSON, body)
			err := v.ValidateRequest(context.Background(), r, b)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformedBody)
			assert.True(t, strings.HasPrefix(err.Error(), "request body is not valid JSON: "), err.Error())
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "body", ve.In)
		})
	}
	r, b := newRequest("POST", inst+"/instantiate", ctJSON, `{"flavourId": "simple",}`)
	assert.EqualError(t, v.ValidateRequest(context.Background(), r, b),
		`request body is not valid JSON: invalid character '}' looking for beginning of object key string (at byte 24)`)
}

func TestMediaTypes(t *testing.T) {
	v := newValidator(t)
	ctx := context.Background()
	patch := `{"vnfInstanceName": "n"}`

	for _, ct := range []string{ctMerge, ctJSON, "application/merge-patch+json; charset=utf-8", "Application/JSON"} {
		r, b := newRequest("PATCH", inst, ct, patch)
		assert.NoError(t, v.ValidateRequest(ctx, r, b), ct)
	}

	r, b := newRequest("PATCH", inst, "text/plain", patch)
	err := v.ValidateRequest(ctx, r, b)
	var umt *UnsupportedMediaTypeError
	require.ErrorAs(t, err, &umt)
	assert.Equal(t, "text/plain", umt.ContentType)
	assert.Equal(t, []string{ctJSON, ctMerge}, umt.Supported)
	assert.Equal(t, `content type "text/plain" is not supported; use application/json or application/merge-patch+json`, err.Error())

	// Merge patch is for PATCH only.
	r, b = newRequest("POST", inst+"/instantiate", ctMerge, `{"flavourId": "f"}`)
	require.ErrorAs(t, v.ValidateRequest(ctx, r, b), &umt)
	assert.Equal(t, []string{ctJSON}, umt.Supported)

	// A body without Content-Type cannot be negotiated.
	r, b = newRequest("POST", inst+"/instantiate", "", `{"flavourId": "f"}`)
	err = v.ValidateRequest(ctx, r, b)
	require.ErrorAs(t, err, &umt)
	assert.Empty(t, umt.ContentType)

	// Content type is checked even when the optional body is absent.
	r, b = newRequest("POST", opOcc+"/cancel", "application/xml", "")
	require.ErrorAs(t, v.ValidateRequest(ctx, r, b), &umt)
}

func TestRouting(t *testing.T) {
	v := newValidator(t)
	ctx := context.Background()
	for _, target := range []string{
		base + "/nope",
		base + "/vnf_instances/x/nope",
		base + "/vnf_instances/x/instantiate/extra",
		"/vnflcm/v2/vnf_instances",
		"/vnf_instances",
		base,
	} {
		r, b := newRequest("GET", target, "", "")
		err := v.ValidateRequest(ctx, r, b)
		assert.ErrorIs(t, err, ErrNoRoute, target)
		assert.NotErrorIs(t, err, ErrMethodNotAllowed, target)
	}

	r, b := newRequest("DELETE", base+"/vnf_lcm_op_occs", "", "")
	err := v.ValidateRequest(ctx, r, b)
	require.ErrorIs(t, err, ErrMethodNotAllowed)
	var mna *MethodNotAllowedError
	require.ErrorAs(t, err, &mna)
	assert.Equal(t, []string{"GET"}, mna.Allowed)
	assert.Equal(t, "method DELETE is not allowed on /vnflcm/v1/vnf_lcm_op_occs; allowed: GET", err.Error())

	r, b = newRequest("PUT", inst, ctJSON, `{}`)
	require.ErrorAs(t, v.ValidateRequest(ctx, r, b), &mna)
	assert.Equal(t, []string{"GET", "PATCH", "DELETE"}, mna.Allowed)

	r, b = newRequest("GET", inst+"/instantiate", "", "")
	require.ErrorAs(t, v.ValidateRequest(ctx, r, b), &mna)
	assert.Equal(t, []string{"POST"}, mna.Allowed)
}

func TestRequestBodyUntouched(t *testing.T) {
	v := newValidator(t)
	r, b := newRequest("POST", inst+"/scale", ctJSON, `{"type": "SCALE_OUT", "aspectId": "a"}`)
	q := r.URL.RawQuery
	require.NoError(t, v.ValidateRequest(context.Background(), r, b))
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	// No default numberOfSteps written back, and the caller's body unread.
	assert.Equal(t, string(b), string(got))
	assert.Equal(t, q, r.URL.RawQuery)
}

func TestDescribe(t *testing.T) {
	header := &openapi3.Parameter{Name: "Version", In: openapi3.ParameterInHeader}
	query := &openapi3.Parameter{Name: "filter", In: openapi3.ParameterInQuery}
	tests := []struct {
		err  error
		want string
	}{
		{&openapi3filter.RequestError{Parameter: header, Err: openapi3filter.ErrInvalidRequired}, `header "Version" is required`},
		{&openapi3filter.RequestError{Parameter: query, Err: openapi3filter.ErrInvalidEmptyValue}, `query parameter "filter" must not be empty`},
		{&openapi3filter.RequestError{Parameter: query, Reason: "bad filter"}, `query parameter "filter": bad filter`},
		{&openapi3filter.RequestError{Parameter: query, Err: &openapi3.SchemaError{SchemaField: "type", Reason: "value must be a string"}},
			`query parameter "filter": value must be a string`},
		{openapi3.MultiError{
			&openapi3filter.RequestError{Parameter: header, Err: openapi3filter.ErrInvalidRequired},
			&openapi3filter.RequestError{Parameter: query, Reason: "bad"},
		}, `header "Version" is required; query parameter "filter": bad`},
		{errors.New("plain"), "plain"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Describe(tc.err))
	}

	// A real SchemaError, wrapped, keeps its path.
	schema := openapi3.NewObjectSchema().WithProperty("n", openapi3.NewIntegerSchema().WithMin(1))
	err := schema.VisitJSON(map[string]any{"n": 0.0})
	require.Error(t, err)
	assert.Equal(t, "n: number must be at least 1", Describe(errors.Join(errors.New("ctx"), err)))
}

func TestConcurrentUse(t *testing.T) {
	v := newValidator(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				var (
					r   *http.Request
					b   []byte
					bad = (i+j)%2 == 1
				)
				if bad {
					r, b = newRequest("POST", inst+"/scale", ctJSON, `{"type": "SCALE_OUT", "aspectId": "a", "numberOfSteps": 0}`)
				} else {
					r, b = newRequest("POST", inst+"/instantiate", ctJSON, tackerInstantiate)
				}
				err := v.ValidateRequest(context.Background(), r, b)
				if bad {
					assert.EqualError(t, err, "request body: numberOfSteps: number must be at least 1")
				} else {
					assert.NoError(t, err)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkValidateInstantiate(b *testing.B) {
	v := newValidator(b)
	body := []byte(tackerInstantiate)
	r := httptest.NewRequest("POST", inst+"/instantiate", nil)
	r.Header.Set("Content-Type", ctJSON)
	r.Header.Set("Version", "1.3.0")
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.ValidateRequest(ctx, r, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateInstantiateParallel(b *testing.B) {
	v := newValidator(b)
	body := []byte(tackerInstantiate)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("POST", inst+"/instantiate", nil)
		r.Header.Set("Content-Type", ctJSON)
		for pb.Next() {
			if err := v.ValidateRequest(ctx, r, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkValidateGet(b *testing.B) {
	v := newValidator(b)
	r := httptest.NewRequest("GET", base+"/vnf_lcm_op_occs?filter=(eq,operationState,FAILED_TEMP)&all_fields", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.ValidateRequest(ctx, r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestResponseSchemasMatchModel keeps the documented response schemas in
// line with the Go types the server marshals.
func TestResponseSchemasMatchModel(t *testing.T) {
	doc, err := LoadDocument(context.Background())
	require.NoError(t, err)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	name := "renamed"
	handle := model.ResourceHandle{VimConnectionID: "vim1", ResourceProviderID: "p", ResourceID: "r", VimLevelResourceType: "OS::Nova::Server"}
	vim := model.VimConnectionInfo{ID: "vim1", VimID: "v", VimType: "openstack", InterfaceInfo: map[string]any{"endpoint": "http://k"}}
	link := &model.Link{Href: "http://vnfm/x"}
	raw := json.RawMessage(`{"id": "x"}`)

	instance := model.VnfInstance{
		ID: "i1", VnfInstanceName: "n", VnfInstanceDescription: "d", VnfdID: "d1",
		VnfProvider: "p", VnfProductName: "pn", VnfSoftwareVersion: "1.0", VnfdVersion: "1.0", VnfPkgID: "pkg",
		VnfConfigurableProperties: map[string]any{"a": 1}, VimConnectionInfo: []model.VimConnectionInfo{vim},
		InstantiationState: model.Instantiated,
		InstantiatedVnfInfo: &model.InstantiatedVnfInfo{
			FlavourID: "simple", VnfState: model.VnfStarted,
			ScaleStatus:          []model.ScaleInfo{{AspectID: "a", ScaleLevel: 0}},
			ExtCpInfo:            []json.RawMessage{json.RawMessage(`{"id": "c", "cpdId": "CP1"}`)},
			ExtVirtualLinkInfo:   []json.RawMessage{json.RawMessage(`{"id": "e", "resourceHandle": {"resourceId": "r"}}`)},
			LocalizationLanguage: "en",
			VnfcResourceInfo: []model.VnfcResourceInfo{{
				ID: "c1", VduID: "VDU1", ComputeResource: handle, StorageResourceIDs: []string{"s1"},
				VnfcCpInfo: []model.VnfcCpInfo{{ID: "cp", CpdID: "CP1", CpProtocolInfo: []model.CpProtocolInfo{{
					LayerProtocol:  "IP_OVER_ETHERNET",
					IPOverEthernet: &model.IPOverEthernet{MacAddress: "fa:16:3e:00:00:01", IPAddresses: []model.IPAddressInfo{{Type: "IPV4", Addresses: []string{"10.0.0.1"}, IsDynamic: true}}},
				}}}},
			}},
			VirtualLinkResourceInfo: []model.VirtualLinkResourceInfo{{
				ID: "vl", VnfVirtualLinkDescID: "VL1", NetworkResource: handle,
				VnfLinkPorts: []model.VnfLinkPortInfo{{ID: "lp", ResourceHandle: handle, CpInstanceID: "cp", CpInstanceType: "VNFC_CP"}},
			}},
			VirtualStorageResourceInfo: []model.VirtualStorageResourceInfo{{ID: "st", VirtualStorageDescID: "ST1", StorageResource: handle}},
		},
		Metadata: map[string]any{"m": "v"}, Extensions: map[string]any{"e": true},
		Links: &model.VnfInstanceLinks{Self: *link, Instantiate: link, Heal: link},
	}
	opOcc := model.VnfLcmOpOcc{
		ID: "o1", OperationState: model.FailedTemp, StateEnteredTime: now, StartTime: now,
		VnfInstanceID: "i1", GrantID: "g", Operation: model.OpModifyInfo, OperationParams: raw,
		CancelMode: "GRACEFUL", Error: &model.ProblemDetails{Status: 500, Detail: "boom", Title: "t"},
		ResourceChanges: &model.ResourceChanges{
			AffectedVnfcs:           []model.AffectedVnfc{{ID: "c1", VduID: "VDU1", ChangeType: model.ChangeAdded, ComputeResource: handle}},
			AffectedVirtualLinks:    []model.AffectedVirtualLink{{ID: "vl", VnfVirtualLinkDescID: "VL1", ChangeType: model.ChangeRemoved, NetworkResource: handle}},
			AffectedVirtualStorages: []model.AffectedVirtualStorage{{ID: "st", VirtualStorageDescID: "ST1", ChangeType: model.ChangeModified, StorageResource: handle}},
		},
		ChangedInfo:            &model.ChangedInfo{VnfInstanceName: &name, VimConnectionInfo: []model.VimConnectionInfo{vim}, VnfdID: "d2"},
		ChangedExtConnectivity: []json.RawMessage{json.RawMessage(`{"id": "e", "resourceHandle": {"resourceId": "r"}}`)},
		Links:                  &model.OpOccLinks{Self: *link, VnfInstance: *link, Retry: link},
	}
	minimalOpOcc := model.VnfLcmOpOcc{ID: "o2", OperationState: model.Starting, StateEnteredTime: now, StartTime: now,
		VnfInstanceID: "i1", Operation: model.OpTerminate}

	for schema, v := range map[string]any{
		"VnfInstance":           instance,
		"VnfLcmOpOcc":           opOcc,
		"ProblemDetails":        model.ProblemDetails{Status: 404, Detail: "not found"},
		"ApiVersionInformation": model.APIVersionInformation{URIPrefix: "/vnflcm/v1", APIVersions: []model.APIVersion{{Version: "1.3.0"}}},
	} {
		assertMatches(t, doc, schema, v)
	}
	assertMatches(t, doc, "VnfLcmOpOcc", minimalOpOcc)
	assertMatches(t, doc, "VnfInstance", model.VnfInstance{ID: "i", VnfdID: "d", VnfProvider: "p", VnfProductName: "n",
		VnfSoftwareVersion: "1", VnfdVersion: "1", InstantiationState: model.NotInstantiated})
}

func assertMatches(t *testing.T, doc *openapi3.T, schema string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var value any
	require.NoError(t, dec.Decode(&value))
	err = doc.Components.Schemas[schema].Value.VisitJSON(value, openapi3.VisitAsResponse(), openapi3.MultiErrors())
	assert.NoError(t, err, "%s: %s", schema, Describe(err))
}

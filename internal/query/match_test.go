package query

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const instanceJSON = `{
  "id": "inst-1",
  "vnfInstanceName": "it's, (odd); name",
  "vnfdId": "vnfd-a",
  "vnfProvider": "Acme",
  "instantiationState": "INSTANTIATED",
  "vnfConfigurableProperties": {"isAutoscaleEnabled": true, "maxReplicas": 10},
  "vimConnectionInfo": [
    {"id": "vim-1", "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_2", "interfaceInfo": {"endpoint": "https://a"}},
    {"id": "vim-2", "vimType": "kubernetes"}
  ],
  "instantiatedVnfInfo": {
    "flavourId": "small",
    "vnfState": "STARTED",
    "scaleStatus": [{"aspectId": "A1", "scaleLevel": 2}, {"aspectId": "A2", "scaleLevel": 0}],
    "vnfcResourceInfo": [
      {"id": "c1", "vduId": "VDU1", "computeResource": {"vimConnectionId": "vim-1", "resourceId": "srv-1"},
       "storageResourceIds": ["st-1", "st-2"]},
      {"id": "c2", "vduId": "VDU2", "computeResource": {"vimConnectionId": "vim-1", "resourceId": "srv-2"},
       "vnfcCpInfo": [{"id": "cp1", "cpdId": "CPD1", "cpProtocolInfo": [{"layerProtocol": "IP_OVER_ETHERNET",
         "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "addresses": ["10.0.0.1", "10.0.0.2"], "isDynamic": true}]}}]}]}
    ]
  },
  "metadata": {"tenant": "t1", "weight": 1.5, "count": 3, "big": 9007199254740993, "nothing": null, "on": false},
  "extensions": {},
  "_links": {"self": {"href": "http://x/vnf_instances/inst-1"}}
}`

func decode(t testing.TB, s string, useNumber bool) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewBufferString(s))
	if useNumber {
		d.UseNumber()
	}
	var v any
	require.NoError(t, d.Decode(&v))
	return v
}

func TestMatch(t *testing.T) {
	tests := []struct {
		filter string
		want   bool
	}{
		// eq / neq on strings
		{"(eq,id,inst-1)", true},
		{"(eq,id,inst-2)", false},
		{"(eq,id,INST-1)", false},
		{"(neq,id,inst-2)", true},
		{"(neq,id,inst-1)", false},
		// quoting and escaping
		{"(eq,vnfInstanceName,'it''s, (odd); name')", true},
		{"(cont,vnfInstanceName,'''s, (')", true},
		{"(cont,vnfInstanceName,';')", true},
		{"(eq,vnfInstanceName,'it''s')", false},
		// in / nin
		{"(in,instantiationState,NOT_INSTANTIATED,INSTANTIATED)", true},
		{"(in,instantiationState,NOT_INSTANTIATED)", false},
		{"(nin,instantiationState,NOT_INSTANTIATED)", true},
		{"(nin,instantiationState,NOT_INSTANTIATED,INSTANTIATED)", false},
		// cont / ncont
		{"(cont,vnfdId,fd-)", true},
		{"(cont,vnfdId,zz,nfd)", true},
		{"(cont,vnfdId,zz)", false},
		{"(ncont,vnfdId,zz,yy)", true},
		{"(ncont,vnfdId,zz,-a)", false},
		{"(cont,metadata/count,3)", false}, // not a string
		// ordering on strings
		{"(gt,vnfdId,vnfd-0)", true},
		{"(gt,vnfdId,vnfd-a)", false},
		{"(gte,vnfdId,vnfd-a)", true},
		{"(lt,vnfdId,vnfd-b)", true},
		{"(lte,vnfdId,vnfd-a)", true},
		{"(lt,vnfdId,vnfd-a)", false},
		// nested objects
		{"(eq,instantiatedVnfInfo/flavourId,small)", true},
		{"(eq,vnfConfigurableProperties/isAutoscaleEnabled,true)", true},
		{"(eq,vnfConfigurableProperties/isAutoscaleEnabled,false)", false},
		{"(neq,vnfConfigurableProperties/isAutoscaleEnabled,false)", true},
		{"(eq,vnfConfigurableProperties/isAutoscaleEnabled,TRUE)", false},
		{"(eq,metadata/on,false)", true},
		{"(gt,metadata/on,false)", false}, // booleans are not ordered
		// arrays on the path: some element
		{"(eq,vimConnectionInfo/vimType,kubernetes)", true},
		{"(eq,vimConnectionInfo/vimType,ETSINFV.OPENSTACK_KEYSTONE.V_2)", true},
		{"(eq,vimConnectionInfo/vimType,other)", false},
		{"(eq,instantiatedVnfInfo/vnfcResourceInfo/vduId,VDU2)", true},
		{"(eq,instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId,srv-2)", true},
		{"(eq,instantiatedVnfInfo/vnfcResourceInfo/vnfcCpInfo/cpProtocolInfo/ipOverEthernet/ipAddresses/addresses,10.0.0.2)", true},
		{"(eq,instantiatedVnfInfo/vnfcResourceInfo/vnfcCpInfo/cpProtocolInfo/ipOverEthernet/ipAddresses/isDynamic,true)", true},
		{"(cont,instantiatedVnfInfo/vnfcResourceInfo/vnfcCpInfo/cpProtocolInfo/ipOverEthernet/ipAddresses/addresses,0.0.2)", true},
		// array as the attribute itself
		{"(eq,instantiatedVnfInfo/vnfcResourceInfo/storageResourceIds,st-2)", true},
		{"(in,instantiatedVnfInfo/vnfcResourceInfo/storageResourceIds,x,st-1)", true},
		{"(eq,instantiatedVnfInfo/vnfcResourceInfo/storageResourceIds,st-3)", false},
		// negated operators over arrays: no element matches
		{"(neq,vimConnectionInfo/vimType,kubernetes)", false},
		{"(neq,vimConnectionInfo/vimType,other)", true},
		{"(nin,vimConnectionInfo/vimType,other,kubernetes)", false},
		{"(nin,vimConnectionInfo/vimType,x,y)", true},
		{"(ncont,vimConnectionInfo/vimType,OPENSTACK)", false},
		{"(ncont,vimConnectionInfo/vimType,vmware)", true},
		{"(neq,instantiatedVnfInfo/vnfcResourceInfo/storageResourceIds,st-1)", false},
		// numbers, on arrays too
		{"(eq,instantiatedVnfInfo/scaleStatus/scaleLevel,2)", true},
		{"(eq,instantiatedVnfInfo/scaleStatus/scaleLevel,2.0)", true},
		{"(eq,instantiatedVnfInfo/scaleStatus/scaleLevel,20e-1)", true},
		{"(eq,instantiatedVnfInfo/scaleStatus/scaleLevel,1)", false},
		{"(gt,instantiatedVnfInfo/scaleStatus/scaleLevel,1)", true},
		{"(gt,instantiatedVnfInfo/scaleStatus/scaleLevel,2)", false},
		{"(lt,instantiatedVnfInfo/scaleStatus/scaleLevel,1)", true},
		{"(gte,metadata/weight,1.5)", true},
		{"(gt,metadata/weight,1.25)", true},
		{"(lt,metadata/count,10)", true}, // numerically, not "3" < "10" as strings
		{"(gt,metadata/count,abc)", false},
		{"(eq,metadata/count,abc)", false},
		{"(neq,metadata/count,abc)", true},
		{"(in,metadata/count,1,2,3)", true},
		{"(eq,metadata/count,'3')", true}, // quoting does not change the type
		// missing attributes: positive never, negated always
		{"(eq,nope,x)", false},
		{"(neq,nope,x)", true},
		{"(in,nope,x)", false},
		{"(nin,nope,x)", true},
		{"(cont,nope,x)", false},
		{"(ncont,nope,x)", true},
		{"(gt,nope,0)", false},
		{"(lte,nope,0)", false},
		{"(eq,id/deeper,x)", false},
		{"(neq,id/deeper,x)", true},
		{"(eq,metadata/nothing,x)", false}, // null is absent
		{"(neq,metadata/nothing,x)", true},
		{"(eq,metadata/nothing,null)", false},
		// objects are not comparable to values
		{"(eq,extensions,x)", false},
		{"(neq,extensions,x)", true},
		{"(eq,_links/self,x)", false},
		// AND
		{"(eq,id,inst-1);(eq,vnfdId,vnfd-a)", true},
		{"(eq,id,inst-1);(eq,vnfdId,vnfd-b)", false},
		{"(eq,id,inst-2);(eq,vnfdId,vnfd-a)", false},
		{"(eq,vimConnectionInfo/vimType,kubernetes);(neq,vimConnectionInfo/vimType,x);(gt,instantiatedVnfInfo/scaleStatus/scaleLevel,1)", true},
		// Terms are independent: different elements may satisfy them.
		{"(eq,vimConnectionInfo/id,vim-1);(eq,vimConnectionInfo/vimType,kubernetes)", true},
	}
	for _, useNumber := range []bool{false, true} {
		doc := decode(t, instanceJSON, useNumber)
		for _, tt := range tests {
			name := tt.filter
			if useNumber {
				name = "UseNumber/" + name
			}
			t.Run(name, func(t *testing.T) {
				f, err := ParseFilter(tt.filter)
				require.NoError(t, err)
				assert.Equal(t, tt.want, f.Match(doc))
			})
		}
	}
}

// A negated operator is the exact complement of its positive form.
func TestMatchComplement(t *testing.T) {
	doc := decode(t, instanceJSON, false)
	pairs := [][2]string{
		{"(eq,vimConnectionInfo/vimType,kubernetes)", "(neq,vimConnectionInfo/vimType,kubernetes)"},
		{"(in,metadata/count,3,4)", "(nin,metadata/count,3,4)"},
		{"(cont,instantiatedVnfInfo/vnfcResourceInfo/vduId,1)", "(ncont,instantiatedVnfInfo/vnfcResourceInfo/vduId,1)"},
		{"(eq,nope,x)", "(neq,nope,x)"},
	}
	for _, p := range pairs {
		a, err := ParseFilter(p[0])
		require.NoError(t, err)
		b, err := ParseFilter(p[1])
		require.NoError(t, err)
		assert.NotEqual(t, a.Match(doc), b.Match(doc), p[0])
	}
}

func TestMatchBigIntegers(t *testing.T) {
	// 2^53+1 only survives json.Number; float64 rounds it to 2^53.
	doc := decode(t, instanceJSON, true)
	for f, want := range map[string]bool{
		"(eq,metadata/big,9007199254740993)": true,
		"(eq,metadata/big,9007199254740992)": false,
		"(gt,metadata/big,9007199254740992)": true,
		"(lt,metadata/big,9007199254740994)": true,
	} {
		flt, err := ParseFilter(f)
		require.NoError(t, err)
		assert.Equal(t, want, flt.Match(doc), f)
	}
	// Go values built by hand work too.
	m := map[string]any{"n": 7, "m": int64(-3)}
	for f, want := range map[string]bool{"(eq,n,7)": true, "(gt,n,6.5)": true, "(lt,m,-2)": true, "(eq,m,-3.0)": true} {
		flt, err := ParseFilter(f)
		require.NoError(t, err)
		assert.Equal(t, want, flt.Match(m), f)
	}
}

func TestMatchTimes(t *testing.T) {
	doc := map[string]any{
		"startTime":        "2024-05-01T10:00:00Z",
		"stateEnteredTime": "2024-05-01T10:00:00.5Z",
		"other":            "2024-05-01T12:00:00+02:00", // the same instant as startTime
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{"(gt,startTime,2024-04-30T23:59:59Z)", true},
		{"(lt,startTime,2024-05-01T10:00:00.1Z)", true}, // byte order would say false
		{"(gt,stateEnteredTime,2024-05-01T10:00:00Z)", true},
		{"(lte,other,2024-05-01T10:00:00Z)", true},
		{"(gte,other,2024-05-01T10:00:00Z)", true},
		{"(lt,other,2024-05-01T10:00:00Z)", false},
		// eq stays exact string equality (it is what EqTerms pushes down).
		{"(eq,other,2024-05-01T10:00:00Z)", false},
		{"(eq,startTime,2024-05-01T10:00:00Z)", true},
		// a date-only value compares as a string
		{"(gt,startTime,2024-05-01)", true},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.filter)
		require.NoError(t, err)
		assert.Equal(t, tt.want, f.Match(doc), tt.filter)
	}
}

func TestMatchNonObjects(t *testing.T) {
	f, err := ParseFilter("(eq,a,x);(neq,b,y)")
	require.NoError(t, err)
	for _, doc := range []any{nil, "x", 1.0, true, []any{}, map[string]any{}} {
		assert.False(t, f.Match(doc))
	}
	// A list of documents is an array on the path, like any other.
	assert.True(t, f.Match([]any{map[string]any{"a": "x"}}))
}

func TestNilFilter(t *testing.T) {
	var f *Filter
	assert.True(t, f.Match(map[string]any{"a": 1}))
	assert.NoError(t, f.Check(Attrs{}))
	assert.Empty(t, f.EqTerms())
	assert.Equal(t, "", f.String())
}

package query

import (
	"encoding/json"
	"fmt"
	"testing"
)

// benchDoc is instanceJSON grown to about 2 KB with more VNFCs.
func benchDoc(b *testing.B) (any, int) {
	doc := decode(b, instanceJSON, false).(map[string]any)
	info := doc["instantiatedVnfInfo"].(map[string]any)
	vnfcs := info["vnfcResourceInfo"].([]any)
	for i := range 7 {
		vnfcs = append(vnfcs, map[string]any{
			"id": fmt.Sprintf("c%d", i+3), "vduId": "VDU3",
			"computeResource":    map[string]any{"vimConnectionId": "vim-2", "resourceId": "srv-x"},
			"storageResourceIds": []any{"st-9"},
		})
	}
	info["vnfcResourceInfo"] = vnfcs
	doc["metadata"].(map[string]any)["when"] = "2024-05-01T10:00:00Z"
	raw, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	return decode(b, string(raw), false), len(raw)
}

func BenchmarkMatch(b *testing.B) {
	doc, size := benchDoc(b)
	for _, bc := range []struct{ name, filter string }{
		{"eq-top", "(eq,vnfdId,vnfd-a)"},
		{"typical", "(eq,vnfdId,vnfd-a);(in,instantiationState,INSTANTIATED,NOT_INSTANTIATED);(eq,vimConnectionInfo/vimType,kubernetes)"},
		// No element matches: every array is walked.
		{"deep-miss", "(eq,instantiatedVnfInfo/vnfcResourceInfo/vnfcCpInfo/cpProtocolInfo/ipOverEthernet/ipAddresses/addresses,10.9.9.9)"},
		{"neq-arrays", "(neq,instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId,nope);(ncont,instantiatedVnfInfo/vnfcResourceInfo/storageResourceIds,zz)"},
		{"numbers-times", "(gte,instantiatedVnfInfo/scaleStatus/scaleLevel,1);(lt,metadata/weight,2);(gt,metadata/when,2020-01-01T00:00:00Z)"},
	} {
		f, err := ParseFilter(bc.filter)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Match(doc)
			}
			b.ReportMetric(float64(size), "docbytes")
		})
	}
}

func BenchmarkParseFilter(b *testing.B) {
	const expr = "(eq,vnfdId,vnfd-a);(in,instantiationState,INSTANTIATED,NOT_INSTANTIATED);(eq,vnfInstanceName,'it''s');(gt,instantiatedVnfInfo/scaleStatus/scaleLevel,1)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(expr); err != nil {
			b.Fatal(err)
		}
	}
}

package e2e

import (
	"testing"
)

// FuzzRequestDecoding sends arbitrary bodies to every endpoint that takes
// one: the answer is a 2xx or a 4xx ProblemDetails, never a 5xx or a hang.
func FuzzRequestDecoding(f *testing.F) {
	e := newEnv(f, backends["sqlite"](f), 100)
	id := e.create()
	targets := []struct{ method, path string }{
		{"POST", "/vnflcm/v1/vnf_instances"},
		{"PATCH", "/vnflcm/v1/vnf_instances/" + id},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/instantiate"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/terminate"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/scale"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/scale_to_level"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/heal"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/change_ext_conn"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/change_flavour"},
		{"POST", "/vnflcm/v1/vnf_instances/" + id + "/operate"},
		{"POST", "/vnflcm/v1/vnf_lcm_op_occs/" + id + "/cancel"},
	}
	for i, seed := range []string{
		`{"vnfdId":"x"}`, `{"flavourId":"f","vimConnectionInfo":[{"id":"v","vimType":"TEST.SCRIPTED.V_1"}]}`,
		`{"terminationType":"FORCEFUL"}`, `{"type":"SCALE_OUT","aspectId":"a","numberOfSteps":2}`,
		`{"scaleInfo":[{"aspectId":"a","scaleLevel":1}]}`, `{"vnfcInstanceId":["a"],"cause":"c"}`,
		`{"extVirtualLinks":[]}`, `{"newFlavourId":"b"}`, `{"changeStateTo":"STOPPED"}`, `{"cancelMode":"GRACEFUL"}`,
		`{"metadata":{"a":null}}`, `[]`, `null`, `{"vnfdId":1e400}`, "{\"vnfdId\":\"\\ud800\"}",
	} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		tg := targets[int(which)%len(targets)]
		r := e.doAs(t, tg.method, tg.path, body)
		if r.status >= 500 {
			t.Fatalf("%s %s %q: %d %s", tg.method, tg.path, body, r.status, r.body)
		}
	})
}

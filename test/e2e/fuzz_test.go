package e2e

import (
	"encoding/json"
	"strings"
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
		{"POST", "/vnflcm/v1/vnf_lcm_op_occs/" + id + "/retry"},
		{"POST", "/vnflcm/v1/vnf_lcm_op_occs/" + id + "/rollback"},
		{"POST", "/vnflcm/v1/vnf_lcm_op_occs/" + id + "/fail"},
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
		checkAnswer(t, tg.method, tg.path, body, e.doAs(t, tg.method, tg.path, body))
	})
}

// checkAnswer fails a fuzz iteration whose answer is a 5xx (none is
// documented for a request body) or has a body that is not JSON (2xx) or
// ProblemDetails (doAs checks those of 4xx).
func checkAnswer(t *testing.T, method, path, body string, r *resp) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, path, body, r.status, r.body)
	}
	if len(r.body) == 0 {
		return // 202, 204, 303
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" && ct != "application/problem+json" {
		t.Fatalf("%s %s %q: %d with Content-Type %q: %s", method, path, body, r.status, ct, r.body)
	}
	if !json.Valid(r.body) {
		t.Fatalf("%s %s %q: %d with a body that is not JSON: %s", method, path, body, r.status, r.body)
	}
}

// FuzzPackageDecoding sends arbitrary bodies to the VNF package
// management endpoints that take one (SOL005), the CSAR upload included.
func FuzzPackageDecoding(f *testing.F) {
	e := newEnv(f, backends["sqlite"](f), 100)
	r := e.do("POST", "/vnfpkgm/v1/vnf_packages", "{}", "Version", "2.1.0")
	if r.status != 201 {
		f.Fatalf("create package: %d %s", r.status, r.body)
	}
	pkg := "/vnfpkgm/v1/vnf_packages/" + r.json(f)["id"].(string)
	targets := []struct{ method, path, ctype string }{
		{"POST", "/vnfpkgm/v1/vnf_packages", "application/json"},
		{"PATCH", pkg, "application/merge-patch+json"},
		{"POST", pkg + "/package_content/upload_from_uri", "application/json"},
		{"PUT", pkg + "/package_content", "application/zip"},
	}
	for i, seed := range []string{
		`{"userDefinedData":{"a":"b"}}`, `{"operationalState":"DISABLED"}`, `{"userDefinedData":{"a":null}}`,
		`{"addressInformation":"http://127.0.0.1:1/p.zip","userName":"u","password":"p"}`,
		"PK\x03\x04\x14\x00\x00\x00\x08\x00", `[]`, `null`, `{"userDefinedData":1e400}`,
	} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		tg := targets[int(which)%len(targets)]
		checkAnswer(t, tg.method, tg.path, body, e.doAs(t, tg.method, tg.path, body, "Version", "2.1.0", "Content-Type", tg.ctype))
	})
}

// FuzzVimDecoding sends arbitrary bodies to Tacker's VIM registration
// and update (/v1.0/vims).
func FuzzVimDecoding(f *testing.F) {
	e := newEnv(f, backends["sqlite"](f), 100)
	reg := `{"vim":{"name":"base","type":"openstack","auth_url":"http://127.0.0.1:5000/v3",` +
		`"vim_project":{"name":"admin","project_domain_name":"Default"},` +
		`"auth_cred":{"username":"admin","password":"pw","user_domain_name":"Default"}}}`
	r := e.do("POST", "/v1.0/vims.json", reg)
	if r.status != 201 {
		f.Fatalf("register vim: %d %s", r.status, r.body)
	}
	id := r.json(f)["vim"].(map[string]any)["id"].(string)
	targets := []struct{ method, path string }{
		{"POST", "/v1.0/vims.json"},
		{"PUT", "/v1.0/vims/" + id + ".json"},
	}
	for i, seed := range []string{
		strings.Replace(reg, "base", "other", 1), `{"vim":{"description":"d","is_default":true}}`,
		`{"vim":{"auth_cred":{"password":"pw2"}}}`, `{"vim":{"id":"x"}}`, `{"vim":null}`, `{"vim":[]}`, `{}`, `[]`,
	} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		tg := targets[int(which)%len(targets)]
		checkAnswer(t, tg.method, tg.path, body, e.doAs(t, tg.method, tg.path, body))
	})
}

// FuzzSubscriptionDecoding sends arbitrary bodies to POST
// /vnflcm/v1/subscriptions. Seeds point callbacks at a closed port, so
// the callback test fails fast.
func FuzzSubscriptionDecoding(f *testing.F) {
	e := newEnv(f, backends["sqlite"](f), 100)
	for _, seed := range []string{
		`{"callbackUri":"http://127.0.0.1:1/cb"}`,
		`{"callbackUri":"http://127.0.0.1:1/cb","filter":{"notificationTypes":["VnfLcmOperationOccurrenceNotification"],` +
			`"operationTypes":["INSTANTIATE"],"operationStates":["COMPLETED"],"vnfInstanceSubscriptionFilter":{"vnfdIds":["a"]}}}`,
		`{"callbackUri":"http://127.0.0.1:1/cb","authentication":{"authType":["BASIC"],"paramsBasic":{"userName":"u","password":"p"}}}`,
		`{"callbackUri":"http://127.0.0.1:1/cb","authentication":{"authType":["OAUTH2_CLIENT_CREDENTIALS"],` +
			`"paramsOauth2ClientCredentials":{"clientId":"c","clientPassword":"p","tokenEndpoint":"http://127.0.0.1:1/token"}}}`,
		`{"callbackUri":"ftp://x"}`, `{"callbackUri":""}`, `{"filter":{}}`, `[]`, `null`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkAnswer(t, "POST", "/vnflcm/v1/subscriptions", body, e.doAs(t, "POST", "/vnflcm/v1/subscriptions", body))
	})
}

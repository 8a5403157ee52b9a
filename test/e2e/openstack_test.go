package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/openstack"
	"github.com/vnfm-project/vnfm/internal/osemu"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// osEnv is a vnfm with the real OpenStack driver, the emulator as its
// default VIM, and the vm-simple package onboarded.
type osEnv struct {
	*env
	emu     *osemu.Emulator
	emuURL  string
	vnfdID  string
	project string
	token   string
	parent  testing.TB
	// vimNanos sums the time the emulator spent answering requests.
	vimNanos *atomic.Int64
}

func newOSEnv(t testing.TB) *osEnv {
	t.Helper()
	emu, err := osemu.New(osemu.Config{ActionDelay: 5 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	var vimNanos atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		emu.Handler().ServeHTTP(w, r)
		vimNanos.Add(int64(time.Since(start)))
	}))
	t.Cleanup(func() {
		hs.Close()
		_ = emu.Close()
	})
	drv := openstack.New(openstack.Config{PollInterval: 10 * time.Millisecond})
	e := newEnvWith(t, storetest.SQLite(t), 20, func(reg *driver.Registry, _ *scripted.Driver) {
		reg.RegisterInfra(drv, openstack.VimTypes...)
	}, realPackages, func(c *server.Config) {})
	o := &osEnv{env: e, emu: emu, emuURL: hs.URL, parent: t, vimNanos: &vimNanos}
	r := e.do("POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{
		"name": "emulator", "type": "openstack", "is_default": true, "auth_url": hs.URL + "/v3",
		"vim_project": map[string]any{"name": osemu.DefaultProject, "project_domain_name": osemu.DefaultDomain},
		"auth_cred":   map[string]any{"username": osemu.DefaultUser, "password": osemu.DefaultPassword, "user_domain_name": osemu.DefaultDomain},
	}})
	require.Equal(t, 201, r.status, "%s", r.body)
	p := e.onboard(buildSample(t, "vm-simple", nil), "ONBOARDED")
	o.vnfdID = p["vnfdId"].(string)
	o.login()
	return o
}

// login gets a token for the emulator's own API (to look at what the
// driver did, as an operator would with the openstack CLI).
func (o *osEnv) login() {
	t := o.t
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"domain":{"name":%q},"password":%q}}},
		"scope":{"project":{"name":%q,"domain":{"name":%q}}}}}`, osemu.DefaultUser, osemu.DefaultDomain, osemu.DefaultPassword, osemu.DefaultProject, osemu.DefaultDomain)
	res, err := http.Post(o.emuURL+"/v3/auth/tokens", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 201, res.StatusCode)
	var tok struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	o.token, o.project = res.Header.Get("X-Subject-Token"), tok.Token.Project.ID
}

func (o *osEnv) osGet(path string, v any) int {
	t := o.t
	req, err := http.NewRequest("GET", o.emuURL+path, nil)
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", o.token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode == 200 && v != nil {
		require.NoError(t, json.Unmarshal(raw, v), "%s", raw)
	}
	return res.StatusCode
}

func (o *osEnv) stacks() []map[string]any {
	var out struct{ Stacks []map[string]any }
	require.Equal(o.t, 200, o.osGet("/heat-api/v1/"+o.project+"/stacks", &out))
	return out.Stacks
}

func (o *osEnv) servers() map[string]map[string]any {
	var out struct{ Servers []map[string]any }
	require.Equal(o.t, 200, o.osGet("/compute/v2.1/servers/detail", &out))
	m := map[string]map[string]any{}
	for _, s := range out.Servers {
		m[s["id"].(string)] = s
	}
	return m
}

const extNet0 = `"extVirtualLinks": [{"id": "ext-net0", "resourceId": "net0", "extCps": [
	{"cpdId": "VDU1_CP1", "cpConfig": [{"cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET"}]}]},
	{"cpdId": "VDU2_CP1", "cpConfig": [{"cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET"}]}]}]}]`

func (o *osEnv) createInstance() string {
	r := o.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": o.vnfdID, "vnfInstanceName": "vm"})
	require.Equal(o.t, 201, r.status, "%s", r.body)
	return r.json(o.t)["id"].(string)
}

// vnfcs maps VNFC id → server id, per VDU.
func (o *osEnv) vnfcs(id string) map[string]map[string]string {
	out := map[string]map[string]string{}
	info, _ := o.instance(id)["instantiatedVnfInfo"].(map[string]any)
	if info == nil {
		return out
	}
	list, _ := info["vnfcResourceInfo"].([]any)
	for _, x := range list {
		v := x.(map[string]any)
		vdu := v["vduId"].(string)
		if out[vdu] == nil {
			out[vdu] = map[string]string{}
		}
		out[vdu][v["id"].(string)] = v["computeResource"].(map[string]any)["resourceId"].(string)
	}
	return out
}

// TestOpenStackLifecycle runs every operation through the API, the
// conductor and the real driver against the emulator, and checks what
// the cloud holds after each one.
func TestOpenStackLifecycle(t *testing.T) {
	t.Parallel()
	o := newOSEnv(t)
	id := o.createInstance()
	op := o.task(id, "instantiate", json.RawMessage(`{"flavourId": "simple", `+extNet0+`}`))
	o.wait(op, "COMPLETED")
	v := o.vnfcs(id)
	require.Len(t, v["VDU1"], 1)
	require.Len(t, v["VDU2"], 1)
	servers := o.servers()
	require.Len(t, servers, 2)
	for _, vdu := range v {
		for _, srv := range vdu {
			require.Equal(t, "ACTIVE", servers[srv]["status"])
		}
	}
	inst := o.instance(id)
	info := inst["instantiatedVnfInfo"].(map[string]any)
	require.NotEmpty(t, info["virtualLinkResourceInfo"], "internalVL1 is recorded")
	vnfc := info["vnfcResourceInfo"].([]any)[0].(map[string]any)
	require.NotEmpty(t, vnfc["vnfcCpInfo"], "CPs with addresses are recorded")
	require.Equal(t, []any{map[string]any{"aspectId": "VDU1_scale", "scaleLevel": float64(0)}}, info["scaleStatus"])
	require.Len(t, o.stacks(), 1)

	// Scale out twice to the VDU profile's maximum; a third is refused
	// before anything is touched.
	for range 2 {
		o.wait(o.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "VDU1_scale"}), "COMPLETED")
	}
	v2 := o.vnfcs(id)
	require.Len(t, v2["VDU1"], 3)
	for vnfcID, srv := range v["VDU1"] {
		require.Equal(t, srv, v2["VDU1"][vnfcID], "scale out leaves existing VNFCs alone")
	}
	r := o.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/scale", map[string]any{"type": "SCALE_OUT", "aspectId": "VDU1_scale"})
	require.Equal(t, 422, r.status, "%s", r.body)
	require.Len(t, o.servers(), 4)

	// Scale in removes the newest VNFC.
	newest := ""
	for vnfcID := range v2["VDU1"] {
		if _, old := v["VDU1"][vnfcID]; !old {
			newest = vnfcID // one of the two new ones; which is newest is checked below
		}
	}
	require.NotEmpty(t, newest)
	o.wait(o.task(id, "scale", map[string]any{"type": "SCALE_IN", "aspectId": "VDU1_scale"}), "COMPLETED")
	v3 := o.vnfcs(id)
	require.Len(t, v3["VDU1"], 2)
	for vnfcID := range v["VDU1"] {
		require.Contains(t, v3["VDU1"], vnfcID, "the oldest VNFC survives scale in")
	}
	require.Len(t, o.servers(), 3)

	// SOL002 heal: that VNFC keeps its id and gets a new server; the
	// others are untouched, the old server is gone.
	var target, oldServer string
	for vnfcID, srv := range v3["VDU1"] {
		target, oldServer = vnfcID, srv
		break
	}
	o.wait(o.task(id, "heal", map[string]any{"vnfcInstanceId": []string{target}, "cause": "test"}), "COMPLETED")
	v4 := o.vnfcs(id)
	require.Contains(t, v4["VDU1"], target)
	require.NotEqual(t, oldServer, v4["VDU1"][target])
	for vnfcID, srv := range v3["VDU1"] {
		if vnfcID != target {
			require.Equal(t, srv, v4["VDU1"][vnfcID])
		}
	}
	require.Equal(t, v3["VDU2"], v4["VDU2"])
	servers = o.servers()
	require.NotContains(t, servers, oldServer)
	require.Contains(t, servers, v4["VDU1"][target])
	heal := o.opOf(id, "HEAL")
	require.Contains(t, string(mustJSON(t, heal["resourceChanges"])), target)

	// SOL003 heal: every server replaced, VNFC ids kept.
	o.wait(o.task(id, "heal", map[string]any{"cause": "rebuild"}), "COMPLETED")
	v5 := o.vnfcs(id)
	for vdu, m := range v4 {
		require.Len(t, v5[vdu], len(m))
		for vnfcID, srv := range m {
			require.Contains(t, v5[vdu], vnfcID)
			require.NotEqual(t, srv, v5[vdu][vnfcID])
		}
	}

	o.wait(o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}), "COMPLETED")
	require.Empty(t, o.stacks())
	require.Empty(t, o.servers())
	require.Equal(t, 204, o.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
}

// opOf returns the instance's latest op occ of an operation.
func (o *osEnv) opOf(id, operation string) map[string]any {
	r := o.do("GET", "/vnflcm/v1/vnf_lcm_op_occs?filter=(eq,vnfInstanceId,"+id+");(eq,operation,"+operation+")&all_fields", nil)
	list := r.list(o.t)
	require.NotEmpty(o.t, list)
	return list[len(list)-1]
}

// TestOpenStackFaults injects the emulator's faults into operations: each
// ends FAILED_TEMP with an error that says what broke; retry after the
// fault clears completes; rollback leaves nothing behind.
func TestOpenStackFaults(t *testing.T) {
	t.Parallel()
	o := newOSEnv(t)
	instantiate := json.RawMessage(`{"flavourId": "simple", ` + extNet0 + `}`)
	// The subtests share the server and run in turn; each points the env
	// at itself while it runs.
	run := func(name string, fn func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			defer func() { o.t = o.parent }()
			fn(t)
		})
	}

	run("create fails, retry completes with one stack", func(t *testing.T) {
		o.emu.InjectFault(osemu.Fault{Target: "stack_create", Times: 1, Resource: "VDU2", Reason: "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"})
		id := o.createInstance()
		op := o.wait(o.task(id, "instantiate", instantiate), "FAILED_TEMP")
		detail := op["error"].(map[string]any)["detail"].(string)
		require.Contains(t, detail, "VDU2")
		require.Contains(t, detail, "Quota exceeded")
		o.emu.ClearFaults()
		r := o.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op["id"].(string)+"/retry", nil)
		require.Equal(t, 202, r.status, "%s", r.body)
		o.wait(op["id"].(string), "COMPLETED")
		require.Len(t, o.stacks(), 1, "a retried instantiate reuses its stack")
		o.wait(o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}), "COMPLETED")
		require.Empty(t, o.stacks())
	})

	run("create fails, rollback deletes the stack", func(t *testing.T) {
		o.emu.InjectFault(osemu.Fault{Target: "stack_create", Times: 1, Reason: "No valid host was found"})
		id := o.createInstance()
		op := o.wait(o.task(id, "instantiate", instantiate), "FAILED_TEMP")
		require.Contains(t, op["error"].(map[string]any)["detail"], "No valid host was found")
		o.emu.ClearFaults()
		r := o.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op["id"].(string)+"/rollback", nil)
		require.Equal(t, 202, r.status, "%s", r.body)
		o.wait(op["id"].(string), "ROLLED_BACK")
		require.Empty(t, o.stacks())
		require.Empty(t, o.servers())
		require.Equal(t, "NOT_INSTANTIATED", o.instance(id)["instantiationState"])
	})

	run("transient API errors and token expiry are absorbed", func(t *testing.T) {
		id := o.createInstance()
		o.emu.InjectFault(osemu.Fault{Target: "heat", Times: 2, Status: 503, Reason: "heat-engine is busy"})
		o.wait(o.task(id, "instantiate", instantiate), "COMPLETED")
		o.emu.ExpireTokens()
		o.wait(o.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "VDU1_scale"}), "COMPLETED")
		o.login()
		o.wait(o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}), "COMPLETED")
		require.Empty(t, o.stacks())
	})

	run("a server in ERROR fails heal with the reason", func(t *testing.T) {
		id := o.createInstance()
		o.wait(o.task(id, "instantiate", instantiate), "COMPLETED")
		o.emu.InjectFault(osemu.Fault{Target: "stack_update", Times: 1, Resource: "VDU1", Reason: "Went to status ERROR due to \"Message: No valid host was found\""})
		var target string
		for vnfcID := range o.vnfcs(id)["VDU1"] {
			target = vnfcID
		}
		op := o.wait(o.task(id, "heal", map[string]any{"vnfcInstanceId": []string{target}}), "FAILED_TEMP")
		require.Contains(t, op["error"].(map[string]any)["detail"], "No valid host")
		o.emu.ClearFaults()
		r := o.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op["id"].(string)+"/retry", nil)
		require.Equal(t, 202, r.status, "%s", r.body)
		o.wait(op["id"].(string), "COMPLETED")
		o.wait(o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}), "COMPLETED")
	})

	run("keystone refusing the credentials", func(t *testing.T) {
		id := o.createInstance()
		o.emu.InjectFault(osemu.Fault{Target: "keystone", Status: 401, Reason: "The request you have made requires authentication."})
		o.emu.ExpireTokens()
		op := o.wait(o.task(id, "instantiate", instantiate), "FAILED_TEMP")
		require.Contains(t, strings.ToLower(op["error"].(map[string]any)["detail"].(string)), "auth")
		o.emu.ClearFaults()
		o.login()
		r := o.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op["id"].(string)+"/retry", nil)
		require.Equal(t, 202, r.status, "%s", r.body)
		o.wait(op["id"].(string), "COMPLETED")
	})
}

// BenchmarkOpenStackCycle times instantiate → heal (one VNFC) → terminate
// of vm-simple through the API against the emulator (stack actions take
// 5 ms there). It reports, per cycle, the time the emulator spent answering
// the driver (vim-ms) and the time the op occs spent outside their infra
// steps (core-ms: API, conductor, database, planning).
func BenchmarkOpenStackCycle(b *testing.B) {
	o := newOSEnv(b)
	instantiate := json.RawMessage(`{"flavourId": "simple", ` + extNet0 + `}`)
	var core time.Duration
	o.vimNanos.Store(0)
	b.ResetTimer()
	for range b.N {
		id := o.createInstance()
		ops := []string{o.task(id, "instantiate", instantiate)}
		o.wait(ops[0], "COMPLETED")
		var vnfc string
		for v := range o.vnfcs(id)["VDU1"] {
			vnfc = v
		}
		ops = append(ops, o.task(id, "heal", map[string]any{"vnfcInstanceId": []string{vnfc}}))
		o.wait(ops[1], "COMPLETED")
		ops = append(ops, o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}))
		o.wait(ops[2], "COMPLETED")
		for _, op := range ops {
			core += o.coreTime(op)
		}
		require.Equal(b, 204, o.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
	}
	b.StopTimer()
	b.ReportMetric(float64(o.vimNanos.Load())/1e6/float64(b.N), "vim-ms/cycle")
	b.ReportMetric(float64(core.Milliseconds())/float64(b.N), "core-ms/cycle")
}

// coreTime is an op occ's duration minus its infra step, from the
// conductor's "step done" log lines.
func (o *osEnv) coreTime(opID string) time.Duration {
	op := o.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+opID, nil).json(o.t)
	start, _ := time.Parse(time.RFC3339Nano, op["startTime"].(string))
	end, _ := time.Parse(time.RFC3339Nano, op["stateEnteredTime"].(string))
	total := end.Sub(start)
	for _, line := range strings.Split(o.logBuf.String(), "\n") {
		if !strings.Contains(line, opID) || !strings.Contains(line, `"step done"`) || !strings.Contains(line, `"step":"infra_`) {
			continue
		}
		var rec struct {
			Duration time.Duration `json:"duration"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil {
			total -= rec.Duration
		}
	}
	return total
}

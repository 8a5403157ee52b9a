package openstack

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/osemu"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// env is an emulated cloud, a driver, and one VNF instance whose info and
// driver state are carried from call to call the way lcm does.
type env struct {
	t       *testing.T
	emu     *osemu.Emulator
	srv     *httptest.Server
	d       *Driver
	heatReq atomic.Int64 // requests to Heat seen by the emulator
	vnfd    *vnfd.VNFD
	pkg     fs.FS
	inst    *model.VnfInstance
	vim     model.VimConnectionInfo
	info    *model.InstantiatedVnfInfo
	state   json.RawMessage
	ops     int

	mu    sync.Mutex
	slept []time.Duration
}

func newEnv(t *testing.T, delay time.Duration) *env {
	t.Helper()
	if delay == 0 {
		delay = 10 * time.Millisecond
	}
	emu, err := osemu.New(osemu.Config{ActionDelay: delay})
	require.NoError(t, err)
	e := &env{t: t, emu: emu, pkg: os.DirFS(samples + "vm-simple")}
	h := emu.Handler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/heat-api/") {
			e.heatReq.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		e.srv.Close()
		_ = emu.Close()
	})
	e.vnfd, _ = vmSimple(t)
	e.d = New(Config{
		PollInterval: 10 * time.Millisecond,
		Log:          slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			e.slept = append(e.slept, d)
			e.mu.Unlock()
			return ctx.Err()
		},
	})
	e.inst = &model.VnfInstance{ID: "0b7c1f7e-5d0e-4a8f-9a61-3f1c2d3e4f50", VnfdID: "vm-simple"}
	e.vim = model.VimConnectionInfo{
		ID: "vim-1", VimType: VimTypes[0],
		InterfaceInfo: map[string]any{"endpoint": e.srv.URL + "/v3"},
		AccessInfo: map[string]any{
			"username": osemu.DefaultUser, "password": osemu.DefaultPassword, "project": osemu.DefaultProject,
			"projectDomain": osemu.DefaultDomain, "userDomain": osemu.DefaultDomain, "region": "RegionOne",
		},
	}
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *env) req(op model.Operation, params string) *driver.Request {
	e.ops++
	vim := e.vim
	return &driver.Request{
		Operation: op, OpOccID: "op-" + string(rune('a'+e.ops)), Instance: e.inst, Vim: &vim, Vnfd: e.vnfd,
		Package: e.pkg, Params: json.RawMessage(params), State: e.state, Info: e.info,
	}
}

// run calls the driver and, on success, applies the result as lcm would.
func (e *env) run(op model.Operation, params string) (*driver.Result, error) {
	e.t.Helper()
	r := e.req(op, params)
	var res *driver.Result
	var err error
	ctx := context.Background()
	switch op {
	case model.OpInstantiate:
		res, err = e.d.Instantiate(ctx, r)
	case model.OpScale:
		res, err = e.d.Scale(ctx, r)
	case model.OpScaleToLevel:
		res, err = e.d.ScaleToLevel(ctx, r)
	case model.OpHeal:
		res, err = e.d.Heal(ctx, r)
	case model.OpChangeExtConn:
		res, err = e.d.ChangeExtConn(ctx, r)
	case model.OpTerminate:
		res, err = e.d.Terminate(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	if res.State != nil {
		e.state = res.State
	}
	if res.InstantiatedVnfInfo != nil {
		e.info = res.InstantiatedVnfInfo
	}
	if op == model.OpTerminate {
		e.info = nil
	}
	if op == model.OpScale && e.info != nil { // lcm's bookkeeping of scale levels
		var p scaleParams
		_ = json.Unmarshal([]byte(params), &p)
		n := 1
		if p.NumberOfSteps != nil {
			n = *p.NumberOfSteps
		}
		if p.Type == "SCALE_IN" {
			n = -n
		}
		for i := range e.info.ScaleStatus {
			if e.info.ScaleStatus[i].AspectID == p.AspectID {
				e.info.ScaleStatus[i].ScaleLevel += n
			}
		}
	}
	return res, nil
}

func (e *env) must(op model.Operation, params string) *driver.Result {
	e.t.Helper()
	res, err := e.run(op, params)
	require.NoError(e.t, err)
	return res
}

// client returns gophercloud clients of the emulated cloud, for checks.
func (e *env) client() (heat, nova *gophercloud.ServiceClient) {
	e.t.Helper()
	pc, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
		IdentityEndpoint: e.srv.URL + "/v3", Username: osemu.DefaultUser, Password: osemu.DefaultPassword,
		DomainName: osemu.DefaultDomain, TenantName: osemu.DefaultProject,
	})
	require.NoError(e.t, err)
	heat, err = openstack.NewOrchestrationV1(pc, gophercloud.EndpointOpts{})
	require.NoError(e.t, err)
	nova, err = openstack.NewComputeV2(pc, gophercloud.EndpointOpts{})
	require.NoError(e.t, err)
	return heat, nova
}

func (e *env) novaServers() map[string]string {
	e.t.Helper()
	_, nova := e.client()
	out, err := listServers(nova)
	require.NoError(e.t, err)
	return out
}

// listServers is safe to call off the test goroutine.
func listServers(nova *gophercloud.ServiceClient) (map[string]string, error) {
	pages, err := servers.List(nova, nil).AllPages(context.Background())
	if err != nil {
		return nil, err
	}
	list, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range list {
		out[s.ID] = s.Status
	}
	return out, nil
}

func (e *env) stackNames() []string {
	e.t.Helper()
	heat, _ := e.client()
	var out struct {
		Stacks []struct {
			Name   string `json:"stack_name"`
			Status string `json:"stack_status"`
		} `json:"stacks"`
	}
	_, err := heat.Get(context.Background(), heat.ServiceURL("stacks"), &out, nil)
	require.NoError(e.t, err)
	var names []string
	for _, s := range out.Stacks {
		names = append(names, s.Name+" "+s.Status)
	}
	return names
}

const instantiateBody = `{
  "flavourId": "simple",
  "extVirtualLinks": [
    {"id": "ext-net0", "resourceId": "net0", "extCps": [
      {"cpdId": "VDU1_CP1", "cpConfig": [{"cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET"}]}]},
      {"cpdId": "VDU2_CP1", "cpConfig": [{"cpProtocolData": [{"layerProtocol": "IP_OVER_ETHERNET",
        "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "fixedAddresses": ["10.250.1.100"]}]}}]}]}
    ]}
  ]
}`

func vnfcsOf(info *model.InstantiatedVnfInfo, vdu string) []model.VnfcResourceInfo {
	var out []model.VnfcResourceInfo
	for _, v := range info.VnfcResourceInfo {
		if v.VduID == vdu {
			out = append(out, v)
		}
	}
	return out
}

func ids(vs []model.VnfcResourceInfo) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func changes(rc *model.ResourceChanges) map[model.ChangeType][]string {
	out := map[model.ChangeType][]string{}
	for _, a := range rc.AffectedVnfcs {
		out[a.ChangeType] = append(out[a.ChangeType], a.ID)
	}
	return out
}

func TestFullCycle(t *testing.T) {
	e := newEnv(t, 0)

	// Instantiate.
	res := e.must(model.OpInstantiate, instantiateBody)
	in := e.info
	assert.Equal(t, "simple", in.FlavourID)
	assert.Equal(t, model.VnfStarted, in.VnfState)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "VDU1_scale", ScaleLevel: 0}}, in.ScaleStatus)
	require.Len(t, vnfcsOf(in, "VDU1"), 1)
	require.Len(t, vnfcsOf(in, "VDU2"), 1)
	vdu2 := vnfcsOf(in, "VDU2")[0]
	require.Len(t, vdu2.VnfcCpInfo, 2)
	assert.Equal(t, "VDU2_CP1", vdu2.VnfcCpInfo[0].CpdID)
	ipo := vdu2.VnfcCpInfo[0].CpProtocolInfo[0].IPOverEthernet
	assert.NotEmpty(t, ipo.MacAddress)
	// The sample HOT takes only the network from nfv.CP (no fixed_ips).
	assert.True(t, strings.HasPrefix(ipo.IPAddresses[0].Addresses[0], "10.250.1."), "an address on net0: %+v", ipo)
	assert.NotEmpty(t, vdu2.VnfcCpInfo[1].VnfLinkPortID, "VDU2_CP2 is on internalVL1")
	assert.Equal(t, "vim-1", vdu2.ComputeResource.VimConnectionID)
	assert.Equal(t, "OS::Nova::Server", vdu2.ComputeResource.VimLevelResourceType)
	require.Len(t, in.VirtualLinkResourceInfo, 1)
	assert.Equal(t, "internalVL1", in.VirtualLinkResourceInfo[0].VnfVirtualLinkDescID)
	assert.Len(t, in.VirtualLinkResourceInfo[0].VnfLinkPorts, 2)
	require.Len(t, in.VirtualStorageResourceInfo, 1)
	assert.Equal(t, []string{in.VirtualStorageResourceInfo[0].ID}, vdu2.StorageResourceIDs)
	vdu1 := vnfcsOf(in, "VDU1")[0]
	assert.NotEmpty(t, vdu1.Metadata["parentStackId"])
	assert.NotEmpty(t, vdu1.Metadata["parentResourceName"])
	assert.NotEqual(t, vdu1.Metadata["stackId"], vdu2.Metadata["stackId"])
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeAdded], 2)
	assert.Len(t, res.ResourceChanges.AffectedVirtualLinks, 1)
	assert.Len(t, res.ResourceChanges.AffectedVirtualStorages, 1)
	assert.Len(t, in.ExtVirtualLinkInfo, 1)
	var st state
	require.NoError(t, json.Unmarshal(e.state, &st))
	assert.Equal(t, "vnf-"+e.inst.ID, st.StackName)
	assert.NotEmpty(t, st.StackID)
	assert.Len(t, e.novaServers(), 2)

	// Instantiating again adopts the complete stack.
	again, err := e.d.Instantiate(context.Background(), e.req(model.OpInstantiate, instantiateBody))
	require.NoError(t, err)
	assert.Len(t, again.InstantiatedVnfInfo.VnfcResourceInfo, 2)
	assert.Equal(t, ids(in.VnfcResourceInfo), ids(again.InstantiatedVnfInfo.VnfcResourceInfo))

	// Scale out by two steps: VDU1 3.
	res = e.must(model.OpScale, `{"type":"SCALE_OUT","aspectId":"VDU1_scale","numberOfSteps":2}`)
	require.Len(t, vnfcsOf(e.info, "VDU1"), 3)
	assert.Equal(t, vdu1.ID, vnfcsOf(e.info, "VDU1")[0].ID, "the first VNFC keeps its id")
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeAdded], 2)
	assert.Len(t, e.novaServers(), 4)

	// A fourth is refused before Heat is asked anything.
	before := e.heatReq.Load()
	_, err = e.run(model.OpScale, `{"type":"SCALE_OUT","aspectId":"VDU1_scale"}`)
	problem(t, err, 422)
	assert.Equal(t, before, e.heatReq.Load())

	// Scale in: the newest goes, the others keep their ids.
	three := vnfcsOf(e.info, "VDU1")
	res = e.must(model.OpScale, `{"type":"SCALE_IN","aspectId":"VDU1_scale"}`)
	left := vnfcsOf(e.info, "VDU1")
	require.Len(t, left, 2)
	assert.Equal(t, ids(three[:2]), ids(left))
	assert.Equal(t, []string{three[2].ID}, changes(res.ResourceChanges)[model.ChangeRemoved])
	assert.Len(t, e.novaServers(), 3)
	assert.NotContains(t, e.novaServers(), three[2].ComputeResource.ResourceID)

	// Scale to level 1: VDU1 back to 1, the oldest stays.
	res = e.must(model.OpScaleToLevel, `{"instantiationLevelId":"instantiation_level_1"}`)
	require.Len(t, vnfcsOf(e.info, "VDU1"), 1)
	assert.Equal(t, vdu1.ID, vnfcsOf(e.info, "VDU1")[0].ID)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "VDU1_scale", ScaleLevel: 0}}, e.info.ScaleStatus)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeRemoved], 1)
	// And to aspect level 1 by scaleInfo.
	e.must(model.OpScaleToLevel, `{"scaleInfo":[{"aspectId":"VDU1_scale","scaleLevel":1}]}`)
	require.Len(t, vnfcsOf(e.info, "VDU1"), 2)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "VDU1_scale", ScaleLevel: 1}}, e.info.ScaleStatus)

	// Tokens expire: the next call re-authenticates.
	e.emu.ExpireTokens()

	// Heal one VNFC (SOL002): only its server changes.
	before2 := e.info
	target := vnfcsOf(e.info, "VDU2")[0]
	res = e.must(model.OpHeal, `{"vnfcInstanceId":["`+target.ID+`"],"cause":"test"}`)
	healed := vnfcsOf(e.info, "VDU2")[0]
	assert.Equal(t, target.ID, healed.ID)
	assert.NotEqual(t, target.ComputeResource.ResourceID, healed.ComputeResource.ResourceID)
	assert.Equal(t, cpIDs(target), cpIDs(healed), "ports stay")
	require.Len(t, res.ResourceChanges.AffectedVnfcs, 1)
	assert.Equal(t, model.ChangeModified, res.ResourceChanges.AffectedVnfcs[0].ChangeType)
	assert.Equal(t, healed.ComputeResource.ResourceID, res.ResourceChanges.AffectedVnfcs[0].ComputeResource.ResourceID)
	for _, v := range vnfcsOf(e.info, "VDU1") {
		i := ids(before2.VnfcResourceInfo)
		assert.Contains(t, i, v.ID)
	}
	assert.Equal(t, ids(vnfcsOf(before2, "VDU1")), ids(vnfcsOf(e.info, "VDU1")))
	nova := e.novaServers()
	assert.Equal(t, "ACTIVE", nova[healed.ComputeResource.ResourceID])
	assert.NotContains(t, nova, target.ComputeResource.ResourceID)

	// Unknown VNFC id.
	_, err = e.run(model.OpHeal, `{"vnfcInstanceId":["nope"]}`)
	problem(t, err, 422)

	// Heal the whole VNF (SOL003): every server is rebuilt.
	before3 := e.info
	res = e.must(model.OpHeal, `{"cause":"all"}`)
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeModified], 3)
	assert.ElementsMatch(t, ids(before3.VnfcResourceInfo), ids(e.info.VnfcResourceInfo))
	for i, v := range e.info.VnfcResourceInfo {
		assert.NotEqual(t, before3.VnfcResourceInfo[i].ComputeResource.ResourceID, v.ComputeResource.ResourceID)
	}

	// Change external connectivity: VDU2_CP1 moves to net1.
	res = e.must(model.OpChangeExtConn, `{"extVirtualLinks":[{"id":"ext-net1","resourceId":"net1","extCps":[{"cpdId":"VDU2_CP1"}]}]}`)
	cp := vnfcsOf(e.info, "VDU2")[0].VnfcCpInfo[0]
	assert.Equal(t, "VDU2_CP1", cp.CpdID)
	assert.True(t, strings.HasPrefix(cp.CpProtocolInfo[0].IPOverEthernet.IPAddresses[0].Addresses[0], "10.250.2."), "%+v", cp)
	assert.Len(t, e.info.ExtVirtualLinkInfo, 2)
	require.NoError(t, json.Unmarshal(e.state, &st))
	assert.Equal(t, "net0", st.Prev["nfv"].(map[string]any)["CP"].(map[string]any)["VDU2_CP1"].(map[string]any)["network"])
	assert.NotEmpty(t, changes(res.ResourceChanges)[model.ChangeModified])

	// Terminate: the stack and its servers are gone.
	last := e.info
	res = e.must(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
	assert.JSONEq(t, "null", string(res.State))
	assert.Len(t, changes(res.ResourceChanges)[model.ChangeRemoved], len(last.VnfcResourceInfo))
	assert.Len(t, res.ResourceChanges.AffectedVirtualLinks, 1)
	assert.Len(t, res.ResourceChanges.AffectedVirtualStorages, 1)
	assert.Empty(t, e.novaServers())
	assert.Empty(t, e.stackNames())
	// Terminating again is fine.
	e.state = nil
	_, err = e.run(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
	require.NoError(t, err)
}

func TestInstantiateFaultThenRetry(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.InjectFault(osemu.Fault{Target: "stack_create", Times: 1, Resource: "VDU2", Reason: "No valid host was found. There are not enough hosts available."})
	_, err := e.run(model.OpInstantiate, instantiateBody)
	pe := problem(t, err, 500)
	assert.Equal(t, "Heat stack CREATE_FAILED", pe.Title)
	assert.Contains(t, pe.Error(), "VDU2")
	assert.Contains(t, pe.Error(), "No valid host was found")

	e.emu.ClearFaults()
	e.must(model.OpInstantiate, instantiateBody)
	assert.Len(t, e.info.VnfcResourceInfo, 2)
	assert.Equal(t, []string{"vnf-" + e.inst.ID + " UPDATE_COMPLETE"}, e.stackNames())
}

func TestInstantiateQuotaFault(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.InjectFault(osemu.Fault{Target: "stack_create", Times: 1}) // default reason: a quota
	_, err := e.run(model.OpInstantiate, instantiateBody)
	pe := problem(t, err, 422)
	assert.Contains(t, pe.Error(), "Quota exceeded")
}

func TestRollbackInstantiate(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.InjectFault(osemu.Fault{Target: "stack_create", Times: 1, Resource: "VDU1"})
	_, err := e.run(model.OpInstantiate, instantiateBody)
	require.Error(t, err)
	require.Len(t, e.stackNames(), 1)
	r := e.req(model.OpInstantiate, instantiateBody)
	r.Rollback = true
	res, err := e.d.Rollback(context.Background(), r)
	require.NoError(t, err)
	assert.JSONEq(t, "null", string(res.State))
	assert.Empty(t, e.stackNames())
	assert.Empty(t, e.novaServers())
	// Idempotent.
	_, err = e.d.Rollback(context.Background(), r)
	require.NoError(t, err)
}

func TestRollbackScale(t *testing.T) {
	e := newEnv(t, 0)
	e.must(model.OpInstantiate, instantiateBody)
	orig := vnfcsOf(e.info, "VDU1")

	// The scale step completed, a later step failed: back to one VDU1.
	r := e.req(model.OpScale, `{"type":"SCALE_OUT","aspectId":"VDU1_scale","numberOfSteps":2}`)
	res, err := e.d.Scale(context.Background(), r)
	require.NoError(t, err)
	require.Len(t, vnfcsOf(res.InstantiatedVnfInfo, "VDU1"), 3)
	r.State, r.Info, r.Rollback = res.State, res.InstantiatedVnfInfo, true
	back, err := e.d.Rollback(context.Background(), r)
	require.NoError(t, err)
	assert.Equal(t, ids(orig), ids(vnfcsOf(back.InstantiatedVnfInfo, "VDU1")), "the VNFCs added are the ones removed")
	assert.Len(t, changes(back.ResourceChanges)[model.ChangeRemoved], 2)
	assert.Len(t, e.novaServers(), 2)

	// Operations the driver cannot undo.
	r = e.req(model.OpHeal, `{}`)
	r.Rollback = true
	_, err = e.d.Rollback(context.Background(), r)
	assert.ErrorIs(t, err, driver.ErrNotSupported)
}

func TestHeatUnavailableIsTransient(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.InjectFault(osemu.Fault{Target: "heat", Times: 1, Status: 503, Reason: "maintenance"})
	_, err := e.run(model.OpInstantiate, instantiateBody)
	var te *driver.TransientError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, time.Second, te.After)
	// The conductor's retry succeeds.
	e.must(model.OpInstantiate, instantiateBody)
	assert.Len(t, e.stackNames(), 1)
}

func TestKeystoneRefuses(t *testing.T) {
	e := newEnv(t, 0)
	e.emu.InjectFault(osemu.Fault{Target: "keystone", Times: 1, Status: 401, Reason: "The request you have made requires authentication."})
	_, err := e.run(model.OpInstantiate, instantiateBody)
	pe := problem(t, err, 500)
	assert.Equal(t, titleRefused, pe.Title)
	assert.Contains(t, pe.Error(), "401")
	assert.NotContains(t, pe.Error(), osemu.DefaultPassword+"\"")

	// Wrong password: refused, and the password is nowhere in the error.
	e.vim.AccessInfo["password"] = "wrong-secret-value"
	_, err = e.run(model.OpInstantiate, instantiateBody)
	pe = problem(t, err, 500)
	assert.NotContains(t, pe.Error(), "wrong-secret-value")

	// Fixed credentials work (the refused session was not cached).
	e.vim.AccessInfo["password"] = osemu.DefaultPassword
	e.must(model.OpInstantiate, instantiateBody)
}

func TestBadVimConnectionInfo(t *testing.T) {
	e := newEnv(t, 0)
	delete(e.vim.AccessInfo, "project")
	_, err := e.run(model.OpInstantiate, instantiateBody)
	pe := problem(t, err, 422)
	assert.Contains(t, pe.Error(), "accessInfo.project")
	e.vim.InterfaceInfo = map[string]any{}
	_, err = e.run(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
	pe = problem(t, err, 422)
	assert.Contains(t, pe.Error(), "interfaceInfo.endpoint")
}

func TestApplicationCredential(t *testing.T) {
	e := newEnv(t, 0)
	e.vim.AccessInfo = map[string]any{"applicationCredentialId": osemu.DefaultAppCredID, "applicationCredentialSecret": osemu.DefaultAppCredSecret}
	e.must(model.OpInstantiate, instantiateBody)
	assert.Len(t, e.info.VnfcResourceInfo, 2)
	e.must(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
}

func TestGracefulTerminate(t *testing.T) {
	e := newEnv(t, 0)
	e.must(model.OpInstantiate, instantiateBody)
	e.must(model.OpTerminate, `{"terminationType":"GRACEFUL","gracefulTerminationTimeout":30}`)
	assert.Equal(t, []time.Duration{30 * time.Second}, e.slept)
	assert.Empty(t, e.stackNames())

	// Cancellation during the wait stops the termination.
	e2 := newEnv(t, 0)
	e2.must(model.OpInstantiate, instantiateBody)
	e2.d.cfg.Sleep = sleep
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e2.d.Terminate(ctx, e2.req(model.OpTerminate, `{"terminationType":"GRACEFUL","gracefulTerminationTimeout":60}`))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Len(t, e2.stackNames(), 1)
}

func TestHealServerError(t *testing.T) {
	e := newEnv(t, 300*time.Millisecond)
	e.must(model.OpInstantiate, instantiateBody)
	known := e.novaServers()
	// A replacement server goes to ERROR while it builds.
	_, nova := e.client()
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			now, _ := listServers(nova)
			for id := range now {
				if _, old := known[id]; !old {
					_ = e.emu.SetServerStatus(id, "ERROR")
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	target := vnfcsOf(e.info, "VDU2")[0]
	_, err := e.run(model.OpHeal, `{"vnfcInstanceId":["`+target.ID+`"]}`)
	<-done
	pe := problem(t, err, 500)
	assert.Contains(t, pe.Error(), "ERROR")
	assert.Contains(t, pe.Error(), "VDU2")
}

func TestStackTimeout(t *testing.T) {
	e := newEnv(t, 2*time.Second)
	e.d.cfg.StackTimeout = 100 * time.Millisecond
	_, err := e.run(model.OpInstantiate, instantiateBody)
	pe := problem(t, err, 504)
	assert.Contains(t, pe.Error(), "in progress")
}

func TestConcurrentSessions(t *testing.T) {
	e := newEnv(t, 0)
	a, err := parseVim(&e.vim)
	require.NoError(t, err)
	var wg sync.WaitGroup
	got := make([]*clients, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.d.sessions.get(context.Background(), a, nil)
			assert.NoError(t, err)
			got[i] = c
		}()
	}
	wg.Wait()
	for _, c := range got {
		assert.Same(t, got[0], c)
	}
}

func TestTerminateDeleteFailedThenRetry(t *testing.T) {
	e := newEnv(t, 0)
	e.must(model.OpInstantiate, instantiateBody)
	e.emu.InjectFault(osemu.Fault{Target: "stack_delete", Times: 1, Resource: "VirtualStorage", Reason: "Volume is busy"})
	_, err := e.run(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
	pe := problem(t, err, 500)
	assert.Equal(t, "Heat stack DELETE_FAILED", pe.Title)
	assert.Contains(t, pe.Error(), "VirtualStorage")
	assert.Contains(t, pe.Error(), "Volume is busy")
	e.emu.ClearFaults()
	e.must(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
	assert.Empty(t, e.stackNames())
}

func TestRollbackChangeExtConn(t *testing.T) {
	e := newEnv(t, 0)
	e.must(model.OpInstantiate, instantiateBody)
	port := vnfcsOf(e.info, "VDU2")[0].VnfcCpInfo[0]
	r := e.req(model.OpChangeExtConn, `{"extVirtualLinks":[{"id":"ext-net1","resourceId":"net1","extCps":[{"cpdId":"VDU2_CP1"}]}]}`)
	// The step failed after its update: State still is instantiate's.
	e.emu.InjectFault(osemu.Fault{Target: "stack_update", Times: 1, Resource: "VDU2_CP1", Reason: "port create failed"})
	_, err := e.d.ChangeExtConn(context.Background(), r)
	problem(t, err, 500)
	r.Rollback = true
	res, err := e.d.Rollback(context.Background(), r)
	require.NoError(t, err)
	cp := vnfcsOf(res.InstantiatedVnfInfo, "VDU2")[0].VnfcCpInfo[0]
	assert.True(t, strings.HasPrefix(cp.CpProtocolInfo[0].IPOverEthernet.IPAddresses[0].Addresses[0], "10.250.1."), "back on net0: %+v %+v", cp, port)
	var st state
	require.NoError(t, json.Unmarshal(res.State, &st))
	assert.Equal(t, "net0", st.Params["nfv"].(map[string]any)["CP"].(map[string]any)["VDU2_CP1"].(map[string]any)["network"])
}

func TestUnknownCpInChangeExtConn(t *testing.T) {
	e := newEnv(t, 0)
	e.must(model.OpInstantiate, instantiateBody)
	_, err := e.run(model.OpChangeExtConn, `{"extVirtualLinks":[{"id":"x","resourceId":"net1","extCps":[{"cpdId":"NOPE"}]}]}`)
	problem(t, err, 422)
}

// The k8s-cluster sample: two scaling groups sized from nfv.
func TestK8sClusterSample(t *testing.T) {
	e := newEnv(t, 0)
	e.vnfd, _ = sample(t, "k8s-cluster", "Definitions/k8s_cluster_top.vnfd.yaml")
	e.pkg = os.DirFS(samples + "k8s-cluster")
	e.must(model.OpInstantiate, `{"flavourId":"simple","extVirtualLinks":[{"id":"e1","resourceId":"net0","extCps":[{"cpdId":"masterNode_CP1"},{"cpdId":"workerNode_CP2"}]}]}`)
	assert.Len(t, vnfcsOf(e.info, "masterNode"), 1)
	assert.Len(t, vnfcsOf(e.info, "workerNode"), 2)
	e.must(model.OpScale, `{"type":"SCALE_OUT","aspectId":"worker_instance"}`)
	assert.Len(t, vnfcsOf(e.info, "workerNode"), 3)
	e.must(model.OpScaleToLevel, `{"instantiationLevelId":"instantiation_level_2"}`)
	assert.Len(t, vnfcsOf(e.info, "masterNode"), 3)
	assert.Len(t, vnfcsOf(e.info, "workerNode"), 4)
	assert.Equal(t, []model.ScaleInfo{{AspectID: "master_instance", ScaleLevel: 2}, {AspectID: "worker_instance", ScaleLevel: 2}}, e.info.ScaleStatus)
	e.must(model.OpTerminate, `{"terminationType":"FORCEFUL"}`)
	assert.Empty(t, e.novaServers())
}

// A VIM behind TLS with its own CA: trusted through ssl_ca_cert, refused
// without it, reachable with cert_verify false.
func TestCustomCA(t *testing.T) {
	emu, err := osemu.New(osemu.Config{ActionDelay: 10 * time.Millisecond})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(emu.Handler())
	t.Cleanup(func() { srv.Close(); _ = emu.Close() })
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	d := New(Config{PollInterval: 10 * time.Millisecond})
	v, _ := vmSimple(t)
	req := func(ii map[string]any) *driver.Request {
		ii["endpoint"] = srv.URL + "/v3"
		return &driver.Request{Operation: model.OpInstantiate, OpOccID: "op1", Instance: &model.VnfInstance{ID: "tls-1"}, Vnfd: v,
			Package: os.DirFS(samples + "vm-simple"), Params: json.RawMessage(instantiateBody),
			Vim: &model.VimConnectionInfo{ID: "vim-tls", VimType: "openstack", InterfaceInfo: ii, AccessInfo: map[string]any{
				"username": osemu.DefaultUser, "password": osemu.DefaultPassword, "project": osemu.DefaultProject}}}
	}
	_, err = d.Instantiate(context.Background(), req(map[string]any{}))
	pe := problem(t, err, 422)
	assert.Equal(t, "OpenStack TLS verification failed", pe.Title)

	res, err := d.Instantiate(context.Background(), req(map[string]any{"ssl_ca_cert": ca}))
	require.NoError(t, err)
	assert.Len(t, res.InstantiatedVnfInfo.VnfcResourceInfo, 2)

	_, err = d.Terminate(context.Background(), req(map[string]any{"cert_verify": false}))
	require.NoError(t, err)
}

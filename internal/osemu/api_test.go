package osemu

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"
	"github.com/stretchr/testify/require"
)

const testPubKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3 test@vnfm"

func TestAPIFaults(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()

	v.emu.InjectFault(Fault{Target: "heat", Status: 503, Times: 1, Reason: "heat is down"})
	_, err := stacks.List(v.heat, nil).AllPages(ctx)
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusServiceUnavailable), "got %v", err)
	var ue gophercloud.ErrUnexpectedResponseCode
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "1", ue.ResponseHeader.Get("Retry-After"))
	require.Contains(t, string(ue.Body), `"explanation"`)
	require.Contains(t, string(ue.Body), "heat is down")
	_, err = stacks.List(v.heat, nil).AllPages(ctx)
	require.NoError(t, err, "Times: 1 fires once")

	v.emu.InjectFault(Fault{Target: "nova", Status: 413, Times: 2})
	for range 2 {
		_, err = servers.List(v.nova, nil).AllPages(ctx)
		require.True(t, gophercloud.ResponseCodeIs(err, http.StatusRequestEntityTooLarge), "got %v", err)
	}
	_, err = servers.List(v.nova, nil).AllPages(ctx)
	require.NoError(t, err)

	// Until cleared; over HTTP with a string latency.
	post(t, v.srv.URL+"/admin/faults", `{"target":"neutron","status":500,"latency":"50ms"}`, http.StatusNoContent)
	start := time.Now()
	_, err = networks.List(v.net, nil).AllPages(ctx)
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusInternalServerError), "got %v", err)
	require.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	require.Contains(t, string(err.(gophercloud.ErrUnexpectedResponseCode).Body), "NeutronError")
	_, err = networks.List(v.net, nil).AllPages(ctx)
	require.Error(t, err)
	req, _ := http.NewRequest(http.MethodDelete, v.srv.URL+"/admin/faults", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	_, err = networks.List(v.net, nil).AllPages(ctx)
	require.NoError(t, err)

	post(t, v.srv.URL+"/admin/faults", `{"target":"bogus"}`, http.StatusBadRequest)
	post(t, v.srv.URL+"/admin/faults", `{"target":"heat","latency":"soon"}`, http.StatusBadRequest)
}

func post(t *testing.T, url, body string, want int) []byte {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, want, resp.StatusCode, string(b))
	return b
}

func TestFaultLatencyJSON(t *testing.T) {
	t.Parallel()
	var f Fault
	require.NoError(t, json.Unmarshal([]byte(`{"target":"nova","latency":1000000}`), &f))
	require.Equal(t, time.Millisecond, f.Latency)
	require.NoError(t, json.Unmarshal([]byte(`{"target":"nova","latency":"2s","times":3}`), &f))
	require.Equal(t, 2*time.Second, f.Latency)
	require.Equal(t, 3, f.Times)
	require.Error(t, json.Unmarshal([]byte(`{"latency":true}`), &f))
}

func TestNovaNeutronAndBackend(t *testing.T) {
	t.Parallel()
	rec := &recordingBackend{}
	v := newEnv(t, Config{Backend: rec})
	ctx := context.Background()

	fpages, err := flavors.ListDetail(v.nova, nil).AllPages(ctx)
	require.NoError(t, err)
	fl, err := flavors.ExtractFlavors(fpages)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(fl), 4)
	tiny, err := flavors.Get(ctx, v.nova, "1").Extract()
	require.NoError(t, err)
	require.Equal(t, "m1.tiny", tiny.Name)
	require.Equal(t, 512, tiny.RAM)

	npages, err := networks.List(v.net, networks.ListOpts{Name: "net0"}).AllPages(ctx)
	require.NoError(t, err)
	nets, err := networks.ExtractNetworks(npages)
	require.NoError(t, err)
	require.Len(t, nets, 1)
	require.True(t, nets[0].Shared)
	sn, err := subnets.Get(ctx, v.net, nets[0].Subnets[0]).Extract()
	require.NoError(t, err)
	require.Equal(t, "10.250.1.0/24", sn.CIDR)
	require.Equal(t, "10.250.1.1", sn.GatewayIP)
	require.Equal(t, "10.250.1.10", sn.AllocationPools[0].Start)

	kp, err := keypairs.Create(ctx, v.nova, keypairs.CreateOpts{Name: "k", PublicKey: testPubKey}).Extract()
	require.NoError(t, err)
	require.NotEmpty(t, kp.Fingerprint)
	_, err = keypairs.Create(ctx, v.nova, keypairs.CreateOpts{Name: "k", PublicKey: testPubKey}).Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusConflict))

	name, id := v.createRaw(t, map[string]any{"stack_name": "kp", "template": map[string]any{
		"heat_template_version": "2013-05-23",
		"resources": map[string]any{"s": map[string]any{"type": "OS::Nova::Server", "properties": map[string]any{
			"flavor": "m1.tiny", "image": "img", "key_name": "k", "user_data": "#cloud-config",
			"networks": []any{map[string]any{"network": "net1", "fixed_ip": "10.250.2.77"}},
		}}},
	}})
	v.waitStack(t, name, id, "CREATE_COMPLETE")
	specs := rec.specs()
	require.Len(t, specs, 1)
	require.Equal(t, []string{testPubKey}, specs[0].AuthorizedKeys)
	require.Equal(t, "#cloud-config", specs[0].UserData)
	require.Len(t, specs[0].Ports, 1)
	require.Equal(t, "10.250.2.77", specs[0].Ports[0].IP)
	require.Equal(t, "net1", specs[0].Ports[0].NetworkName)
	require.Equal(t, "10.250.2.0/24", specs[0].Ports[0].CIDR)
	require.Equal(t, "10.250.2.1", specs[0].Ports[0].Gateway)

	s, err := servers.Get(ctx, v.nova, specs[0].ID).Extract()
	require.NoError(t, err)
	require.Equal(t, "k", s.KeyName)

	// Deleting through Nova stops the backend server.
	require.NoError(t, servers.Delete(ctx, v.nova, s.ID).ExtractErr())
	require.Equal(t, []string{s.ID}, rec.stopped())
	require.NoError(t, keypairs.Delete(ctx, v.nova, "k", nil).ExtractErr())

	// Admin state dump is JSON without credentials.
	resp, err := http.Get(v.srv.URL + "/admin/state")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, json.Valid(b))
	require.NotContains(t, string(b), DefaultAppCredSecret)
	require.NotContains(t, string(b), v.pc.Token())
	require.Contains(t, string(b), `"kp"`)

	post(t, v.srv.URL+"/admin/servers/nope", `{"status":"ERROR"}`, http.StatusNotFound)
	require.Error(t, v.emu.SetServerStatus(s.ID, "BOGUS"))
}

package osemu

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackevents"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"
	"github.com/stretchr/testify/require"
)

func TestVMSimpleSample(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	name, id := v.createRaw(t, vmSimpleBody(t, "vm-simple"))

	// Right after the 201 the stack is in progress.
	st, err := stacks.Get(ctx, v.heat, name, id).Extract()
	require.NoError(t, err)
	require.Equal(t, "CREATE_IN_PROGRESS", st.Status)

	st = v.waitStack(t, name, id, "CREATE_COMPLETE")
	require.Contains(t, st.Parameters["nfv"], `"VDU1"`, "json params are shown as JSON strings")
	require.Equal(t, name, st.Parameters["OS::stack_name"])

	// Find by name redirects to the canonical URL.
	found, err := stacks.Find(ctx, v.heat, name).Extract()
	require.NoError(t, err)
	require.Equal(t, id, found.ID)

	all := v.resources(t, name, id, 5)
	byName := map[string][]stackresources.Resource{}
	for _, r := range all {
		byName[r.Name] = append(byName[r.Name], r)
		require.True(t, strings.HasSuffix(r.Status, "_COMPLETE"), "%s is %s", r.Name, r.Status)
	}
	// The sample either hard-codes desired_capacity 1 or takes it from nfv (2).
	wantVDU1 := 1
	if strings.Contains(vmSimpleBody(t, "x")["template"].(string), "desired_capacity: { get_param") {
		wantVDU1 = 2
	}
	require.Len(t, byName["VDU1"], wantVDU1)
	require.Len(t, byName["VDU2"], 1)

	// VDU1 → member (parent_resource VDU1_scale's member) → VDU1_scale.
	vdu1 := byName["VDU1"][0]
	member := vdu1.ParentResource
	require.Len(t, member, 12)
	require.Len(t, byName[member], 1)
	require.Equal(t, "VDU1_scale", byName[member][0].ParentResource)
	require.Equal(t, "OS::Heat::AutoScalingGroup", byName["VDU1_scale"][0].Type)
	require.Empty(t, byName["VDU1_scale"][0].ParentResource)
	nestedName, nestedID := stackLink(byName["VDU1_scale"][0], "nested")
	require.True(t, strings.HasPrefix(nestedName, "vm-simple-VDU1_scale-"), nestedName)
	nested, err := stacks.Get(ctx, v.heat, nestedName, nestedID).Extract()
	require.NoError(t, err)
	require.Equal(t, "CREATE_COMPLETE", nested.Status)

	// Nova addresses match the Neutron ports of the Heat port resources.
	srv, err := servers.Get(ctx, v.nova, byName["VDU2"][0].PhysicalID).Extract()
	require.NoError(t, err)
	require.Equal(t, "ACTIVE", srv.Status)
	require.Equal(t, "VDU2", srv.Name)
	require.Equal(t, "m1.small", srv.Flavor["original_name"])
	cp1, err := ports.Get(ctx, v.net, byName["VDU2_CP1"][0].PhysicalID).Extract()
	require.NoError(t, err)
	cp2, err := ports.Get(ctx, v.net, byName["VDU2_CP2"][0].PhysicalID).Extract()
	require.NoError(t, err)
	require.Equal(t, srv.ID, cp1.DeviceID)
	require.True(t, strings.HasPrefix(cp1.FixedIPs[0].IPAddress, "10.250.1."), cp1.FixedIPs[0].IPAddress)
	require.True(t, strings.HasPrefix(cp2.FixedIPs[0].IPAddress, "10.10.0."), cp2.FixedIPs[0].IPAddress)
	addrs := srv.Addresses["net0"].([]any)
	require.Len(t, addrs, 1)
	require.Equal(t, cp1.FixedIPs[0].IPAddress, addrs[0].(map[string]any)["addr"])
	require.Equal(t, cp1.MACAddress, addrs[0].(map[string]any)["OS-EXT-IPS-MAC:mac_addr"])

	// Events parse with gophercloud and include the stack's completion.
	pages, err := stackevents.List(v.heat, name, id, nil).AllPages(ctx)
	require.NoError(t, err)
	evs, err := stackevents.ExtractEvents(pages)
	require.NoError(t, err)
	require.Equal(t, "CREATE_COMPLETE", evs[len(evs)-1].ResourceStatus)

	// Single resource and the gophercloud marker-less list.
	r, err := stackresources.Get(ctx, v.heat, name, id, "VDU2").Extract()
	require.NoError(t, err)
	require.Equal(t, srv.ID, r.PhysicalID)
	require.Contains(t, r.RequiredBy, "VDU2_VirtualStorage_attachment")

	// Delete cleans up Nova and Neutron.
	require.NoError(t, stacks.Delete(ctx, v.heat, name, id).ExtractErr())
	v.waitGone(t, name, id)
	_, err = stacks.Get(ctx, v.heat, nestedName, nestedID).Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))
	_, err = servers.Get(ctx, v.nova, srv.ID).Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))
	_, err = ports.Get(ctx, v.net, cp1.ID).Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))
	spages, err := servers.List(v.nova, nil).AllPages(ctx)
	require.NoError(t, err)
	list, err := servers.ExtractServers(spages)
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestK8sClusterSample(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	dir := filepath.Join("..", "..", "test", "samples", "k8s-cluster", "BaseHOT", "simple")
	name, id := v.createRaw(t, map[string]any{
		"stack_name": "k8s",
		"template":   readFile(t, filepath.Join(dir, "simple_hot_top.yaml")),
		"files": map[string]string{
			"simple_nested_master.yaml": readFile(t, filepath.Join(dir, "nested", "simple_nested_master.yaml")),
			"simple_nested_worker.yaml": readFile(t, filepath.Join(dir, "nested", "simple_nested_worker.yaml")),
		},
		"parameters": map[string]any{"nfv": map[string]any{
			"VDU": map[string]any{
				"masterNode": map[string]any{"flavor": "m1.medium", "image": "ubuntu", "desired_capacity": 1},
				"workerNode": map[string]any{"flavor": "m1.large", "image": "ubuntu", "desired_capacity": 2},
			},
			"CP": map[string]any{"masterNode_CP1": map[string]any{"network": "net0"}, "workerNode_CP2": map[string]any{"network": "net1"}},
		}},
	})
	v.waitStack(t, name, id, "CREATE_COMPLETE")
	count := map[string]int{}
	for _, r := range v.serverResources(t, name, id) {
		count[r.Name]++
		s, err := servers.Get(context.Background(), v.nova, r.PhysicalID).Extract()
		require.NoError(t, err)
		require.Equal(t, "ACTIVE", s.Status)
		if r.Name == "workerNode" {
			require.Contains(t, s.Addresses, "net1")
		}
	}
	require.Equal(t, map[string]int{"masterNode": 1, "workerNode": 2}, count)
}

// TestGophercloudTemplateFiles uses gophercloud's own template handling,
// which inlines nested templates under file:// URLs.
func TestGophercloudTemplateFiles(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	abs, err := filepath.Abs(filepath.Join("testdata", "scalable", "top.yaml"))
	require.NoError(t, err)
	tmpl := &stacks.Template{}
	tmpl.URL = "file://" + abs
	created, err := stacks.Create(ctx, v.heat, stacks.CreateOpts{
		Name: "gc", TemplateOpts: tmpl,
		Parameters: map[string]any{"nfv": scalableNFV(2)},
	}).Extract()
	require.NoError(t, err)
	st := v.waitStack(t, "gc", created.ID, "CREATE_COMPLETE")
	outs := map[string]any{}
	for _, o := range st.Outputs {
		outs[o["output_key"].(string)] = o["output_value"]
	}
	require.EqualValues(t, 2, outs["size"])
	ips := outs["vdu1_ips"].([]any)
	require.Len(t, ips, 2)
	require.True(t, strings.HasPrefix(ips[0].(string), "10.250.2."), ips[0])
}

func serverIDs(t *testing.T, v *env, name, id string) map[string]string {
	t.Helper()
	out := map[string]string{} // member name → server id
	for _, r := range v.serverResources(t, name, id) {
		out[r.ParentResource] = r.PhysicalID
	}
	return out
}

func (v *env) patchParams(t *testing.T, name, id string, params map[string]any) {
	t.Helper()
	err := stacks.UpdatePatch(context.Background(), v.heat, name, id, stacks.UpdateOpts{Parameters: params}).ExtractErr()
	require.NoError(t, err)
}

func (v *env) asgStack(t *testing.T, name, id, asg string) (string, string) {
	t.Helper()
	r, err := stackresources.Get(context.Background(), v.heat, name, id, asg).Extract()
	require.NoError(t, err)
	return stackLink(*r, "nested")
}

func TestScaleOutIn(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	name, id := v.createRaw(t, scalableBody(t, "scale", 2))
	v.waitStack(t, name, id, "CREATE_COMPLETE")
	first := serverIDs(t, v, name, id)
	require.Len(t, first, 2)

	// Members created in the same second are ordered by name; make the third
	// member strictly newer so "oldest" is unambiguous.
	time.Sleep(1100 * time.Millisecond)
	v.patchParams(t, name, id, map[string]any{"nfv": scalableNFV(3)})
	v.waitStack(t, name, id, "UPDATE_COMPLETE")
	second := serverIDs(t, v, name, id)
	require.Len(t, second, 3)
	var added string
	for m, sid := range second {
		if old, ok := first[m]; ok {
			require.Equal(t, old, sid, "existing members keep their servers")
		} else {
			added = m
		}
	}
	require.NotEmpty(t, added)

	// Mark the newest member unhealthy: scale-in removes it first.
	an, aid := v.asgStack(t, name, id, "VDU1_scale")
	err := stackresources.MarkUnhealthy(ctx, v.heat, an, aid, added, stackresources.MarkUnhealthyOpts{MarkUnhealthy: true, ResourceStatusReason: "heal me"}).ExtractErr()
	require.NoError(t, err)
	r, err := stackresources.Get(ctx, v.heat, an, aid, added).Extract()
	require.NoError(t, err)
	require.Equal(t, "CHECK_FAILED", r.Status)
	require.Equal(t, "heal me", r.StatusReason)

	v.patchParams(t, name, id, map[string]any{"nfv": scalableNFV(2)})
	v.waitStack(t, name, id, "UPDATE_COMPLETE")
	third := serverIDs(t, v, name, id)
	require.Equal(t, first, third, "the unhealthy member went, the two originals stayed")
	_, err = servers.Get(ctx, v.nova, second[added]).Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))

	// Without unhealthy members the oldest (creation_time, then name) goes,
	// as observable through the API.
	members := v.resources(t, an, aid, 0)
	require.Len(t, members, 2)
	sort.Slice(members, func(i, j int) bool {
		if !members[i].CreationTime.Equal(members[j].CreationTime) {
			return members[i].CreationTime.Before(members[j].CreationTime)
		}
		return members[i].Name < members[j].Name
	})
	names := []string{members[0].Name, members[1].Name}
	v.patchParams(t, name, id, map[string]any{"nfv": scalableNFV(1)})
	st := v.waitStack(t, name, id, "UPDATE_COMPLETE")
	require.Equal(t, map[string]string{names[1]: first[names[1]]}, serverIDs(t, v, name, id))
	require.EqualValues(t, "1", outputOf(st, "size"))
}

func outputOf(st *stacks.RetrievedStack, key string) string {
	for _, o := range st.Outputs {
		if o["output_key"] == key {
			return scalarString(o["output_value"])
		}
	}
	return ""
}

func TestHealUnhealthyServer(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	name, id := v.createRaw(t, scalableBody(t, "heal", 3))
	v.waitStack(t, name, id, "CREATE_COMPLETE")
	before := serverIDs(t, v, name, id)
	portsBefore := map[string]string{}
	var victim stackresources.Resource
	for _, r := range v.resources(t, name, id, 5) {
		if r.Type == "OS::Neutron::Port" {
			p, err := ports.Get(ctx, v.net, r.PhysicalID).Extract()
			require.NoError(t, err)
			portsBefore[r.PhysicalID] = p.FixedIPs[0].IPAddress
		}
		if r.Type == "OS::Nova::Server" && victim.Name == "" {
			victim = r
		}
	}
	require.Len(t, portsBefore, 3)
	sn, sid := stackLink(victim, "stack")
	require.NoError(t, stackresources.MarkUnhealthy(ctx, v.heat, sn, sid, "VDU1", stackresources.MarkUnhealthyOpts{MarkUnhealthy: true, ResourceStatusReason: "dead"}).ExtractErr())

	v.patchParams(t, name, id, nil)
	v.waitStack(t, name, id, "UPDATE_COMPLETE")
	after := serverIDs(t, v, name, id)
	require.Len(t, after, 3)
	for m, s := range before {
		if s == victim.PhysicalID {
			require.NotEqual(t, s, after[m], "the unhealthy server is replaced")
			srv, err := servers.Get(ctx, v.nova, after[m]).Extract()
			require.NoError(t, err)
			require.Equal(t, "ACTIVE", srv.Status)
		} else {
			require.Equal(t, s, after[m], "other servers are untouched")
		}
	}
	_, err := servers.Get(ctx, v.nova, victim.PhysicalID).Extract()
	require.True(t, gophercloud.ResponseCodeIs(err, http.StatusNotFound))
	portsAfter := map[string]string{}
	for _, r := range v.resources(t, name, id, 5) {
		if r.Type == "OS::Neutron::Port" {
			p, err := ports.Get(ctx, v.net, r.PhysicalID).Extract()
			require.NoError(t, err)
			portsAfter[r.PhysicalID] = p.FixedIPs[0].IPAddress
			require.NotEmpty(t, p.DeviceID)
		}
	}
	require.Equal(t, portsBefore, portsAfter, "ports keep their ids and addresses")
}

func TestStackFaults(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"stack_create", "stack_update", "stack_delete"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			v := newEnv(t, Config{})
			ctx := context.Background()
			reason := "injected " + target
			if target == "stack_create" {
				v.emu.InjectFault(Fault{Target: target, Reason: reason})
			}
			name, id := v.createRaw(t, scalableBody(t, "f", 2))
			if target == "stack_create" {
				st := v.waitStack(t, name, id, "CREATE_FAILED")
				require.Contains(t, st.StatusReason, "Resource CREATE failed")
				require.Contains(t, st.StatusReason, reason)
				var failed []stackresources.Resource
				for _, r := range v.resources(t, name, id, 5) {
					if r.Status == "CREATE_FAILED" && r.Type == "OS::Nova::Server" {
						failed = append(failed, r)
					}
				}
				require.Len(t, failed, 1)
				require.Equal(t, reason, failed[0].StatusReason)
				// A retry after clearing the fault completes the stack.
				v.emu.ClearFaults()
				v.patchParams(t, name, id, nil)
				v.waitStack(t, name, id, "UPDATE_COMPLETE")
				require.Len(t, serverIDs(t, v, name, id), 2)
				return
			}
			v.waitStack(t, name, id, "CREATE_COMPLETE")
			if target == "stack_update" {
				v.emu.InjectFault(Fault{Target: target, Reason: reason, Times: 1})
				v.patchParams(t, name, id, map[string]any{"nfv": scalableNFV(3)})
				st := v.waitStack(t, name, id, "UPDATE_FAILED")
				require.Contains(t, st.StatusReason, reason)
				v.patchParams(t, name, id, nil)
				v.waitStack(t, name, id, "UPDATE_COMPLETE")
				require.Len(t, serverIDs(t, v, name, id), 3)
				return
			}
			v.emu.InjectFault(Fault{Target: target, Resource: "VDU1_CP1", Reason: reason, Times: 1})
			require.NoError(t, stacks.Delete(ctx, v.heat, name, id).ExtractErr())
			st := v.waitStack(t, name, id, "DELETE_FAILED")
			require.Contains(t, st.StatusReason, reason)
			require.NoError(t, stacks.Delete(ctx, v.heat, name, id).ExtractErr())
			v.waitGone(t, name, id)
		})
	}
}

func TestServerErrorFailsResource(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{ActionDelay: 2 * time.Second})
	ctx := context.Background()
	name, id := v.createRaw(t, scalableBody(t, "err", 1))
	var sid string
	require.Eventually(t, func() bool {
		for _, r := range v.serverResources(t, name, id) {
			sid = r.PhysicalID
		}
		return sid != ""
	}, 5*time.Second, 10*time.Millisecond)
	srv, err := servers.Get(ctx, v.nova, sid).Extract()
	require.NoError(t, err)
	require.Equal(t, "BUILD", srv.Status)
	require.NoError(t, v.emu.SetServerStatus(sid, "ERROR"))
	st := v.waitStack(t, name, id, "CREATE_FAILED")
	require.Contains(t, st.StatusReason, "Went to status ERROR due to")
	srv, err = servers.Get(ctx, v.nova, sid).Extract()
	require.NoError(t, err)
	require.Equal(t, "ERROR", srv.Status)
	require.ErrorIs(t, v.emu.SetServerStatus("nope", "ERROR"), ErrNotFound)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	post := func(body map[string]any) error {
		_, err := v.heat.Post(ctx, v.heat.ServiceURL("stacks"), body, nil, &gophercloud.RequestOpts{OkCodes: []int{201}})
		return err
	}
	missing := scalableBody(t, "missing", 1)
	delete(missing, "parameters")
	require.True(t, gophercloud.ResponseCodeIs(post(missing), http.StatusBadRequest))

	nofile := scalableBody(t, "nofile", 1)
	delete(nofile, "files")
	require.True(t, gophercloud.ResponseCodeIs(post(nofile), http.StatusBadRequest))

	require.True(t, gophercloud.ResponseCodeIs(post(map[string]any{"stack_name": "x", "template": "a: [b"}), http.StatusBadRequest))
	require.True(t, gophercloud.ResponseCodeIs(post(map[string]any{"stack_name": "1bad", "template": "heat_template_version: 2013-05-23"}), http.StatusBadRequest))

	require.NoError(t, post(scalableBody(t, "dup", 1)))
	require.True(t, gophercloud.ResponseCodeIs(post(scalableBody(t, "dup", 1)), http.StatusConflict))

	// Unknown flavor fails the server resource, not the request.
	name, id := v.createRaw(t, map[string]any{"stack_name": "flv", "template": map[string]any{
		"heat_template_version": "2013-05-23",
		"resources": map[string]any{"s": map[string]any{"type": "OS::Nova::Server", "properties": map[string]any{
			"flavor": "m1.huge", "image": "img", "networks": []any{map[string]any{"network": "net0"}},
		}}},
	}})
	st := v.waitStack(t, name, id, "CREATE_FAILED")
	require.Contains(t, st.StatusReason, "Flavor m1.huge could not be found")
}

func TestFunctionsTemplate(t *testing.T) {
	t.Parallel()
	v := newEnv(t, Config{})
	ctx := context.Background()
	name, id := v.createRaw(t, map[string]any{
		"stack_name":  "fn",
		"template":    readFile(t, filepath.Join("testdata", "functions", "top.yaml")),
		"files":       map[string]string{"init.sh": readFile(t, filepath.Join("testdata", "functions", "init.sh"))},
		"environment": map[string]any{"parameters": map[string]any{"prefix": "lab"}},
	})
	st := v.waitStack(t, name, id, "CREATE_COMPLETE")
	require.Equal(t, "lab-net", outputOf(st, "net_name"))
	require.Equal(t, "192.168.5.50", outputOf(st, "fixed_ip"))
	require.Equal(t, `["lab-srv-0","lab-srv-1"]`, outputOf(st, "names"))
	require.Equal(t, "192.168.5.10", outputOf(st, "first"))
	require.Equal(t, "a,b", outputOf(st, "tags"))

	// PUT replaces the template/params: count 1 drops member "1".
	abs, err := filepath.Abs(filepath.Join("testdata", "functions", "top.yaml"))
	require.NoError(t, err)
	tmpl := &stacks.Template{}
	tmpl.URL = "file://" + abs // gophercloud inlines get_file under file:// keys
	require.NoError(t, stacks.Update(ctx, v.heat, name, id, stacks.UpdateOpts{
		TemplateOpts: tmpl, Parameters: map[string]any{"count": 1, "prefix": "lab"},
	}).ExtractErr())
	st = v.waitStack(t, name, id, "UPDATE_COMPLETE")
	require.Equal(t, `["lab-srv-0"]`, outputOf(st, "names"))
}

func TestStateFileRestart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "state.json")
	emu, err := New(Config{StateFile: file, ActionDelay: 10 * time.Millisecond})
	require.NoError(t, err)
	srv := newServer(t, emu)
	v := connect(t, emu, srv)
	name, id := v.createRaw(t, scalableBody(t, "persist", 2))
	v.waitStack(t, name, id, "CREATE_COMPLETE")
	servers1 := serverIDs(t, v, name, id)
	srv.Close()
	require.NoError(t, emu.Close())

	// A stack left in progress by a dead engine comes back FAILED.
	emu2, err := New(Config{StateFile: file, ActionDelay: 5 * time.Second})
	require.NoError(t, err)
	srv2 := newServer(t, emu2)
	v2 := connect(t, emu2, srv2)
	require.Equal(t, servers1, serverIDs(t, v2, name, id))
	v2.waitStack(t, name, id, "CREATE_COMPLETE")
	n2, id2 := v2.createRaw(t, scalableBody(t, "interrupted", 1))
	srv2.Close()
	require.NoError(t, emu2.Close())

	rec := &recordingBackend{}
	emu3, err := New(Config{StateFile: file, Backend: rec})
	require.NoError(t, err)
	srv3 := newServer(t, emu3)
	t.Cleanup(func() { srv3.Close(); _ = emu3.Close() })
	v3 := connect(t, emu3, srv3)
	st := v3.waitStack(t, n2, id2, "CREATE_FAILED")
	require.Equal(t, "Engine went down during stack CREATE", st.StatusReason)
	require.Equal(t, servers1, serverIDs(t, v3, name, id))
	for _, sid := range servers1 {
		require.Contains(t, rec.started(), sid, "live servers are restarted on the backend")
	}
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Positive(t, info.Size())
}

package osemu

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stackresources"
	"github.com/gophercloud/gophercloud/v2/openstack/orchestration/v1/stacks"
	"github.com/stretchr/testify/require"
)

type env struct {
	emu  *Emulator
	srv  *httptest.Server
	pc   *gophercloud.ProviderClient
	heat *gophercloud.ServiceClient
	nova *gophercloud.ServiceClient
	net  *gophercloud.ServiceClient
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	if cfg.ActionDelay == 0 {
		cfg.ActionDelay = 10 * time.Millisecond
	}
	emu, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, emu.Close())
	})
	return connect(t, emu, srv)
}

func connect(t *testing.T, emu *Emulator, srv *httptest.Server) *env {
	t.Helper()
	pc := authClient(t, srv.URL, gophercloud.AuthOptions{
		Username: DefaultUser, Password: DefaultPassword, DomainName: DefaultDomain,
		TenantName: DefaultProject, AllowReauth: true,
	})
	eo := gophercloud.EndpointOpts{Region: "RegionOne"}
	heat, err := openstack.NewOrchestrationV1(pc, eo)
	require.NoError(t, err)
	nova, err := openstack.NewComputeV2(pc, eo)
	require.NoError(t, err)
	nw, err := openstack.NewNetworkV2(pc, eo)
	require.NoError(t, err)
	return &env{emu: emu, srv: srv, pc: pc, heat: heat, nova: nova, net: nw}
}

func authClient(t *testing.T, url string, ao gophercloud.AuthOptions) *gophercloud.ProviderClient {
	t.Helper()
	ao.IdentityEndpoint = url + "/v3"
	pc, err := openstack.AuthenticatedClient(context.Background(), ao)
	require.NoError(t, err)
	return pc
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// createRaw posts a stack body the way a Tacker-like driver does (files keyed
// by the names the templates use).
func (v *env) createRaw(t *testing.T, body map[string]any) (string, string) {
	t.Helper()
	var out struct {
		Stack struct {
			ID string `json:"id"`
		} `json:"stack"`
	}
	_, err := v.heat.Post(context.Background(), v.heat.ServiceURL("stacks"), body, &out, &gophercloud.RequestOpts{OkCodes: []int{201}})
	require.NoError(t, err)
	require.NotEmpty(t, out.Stack.ID)
	return body["stack_name"].(string), out.Stack.ID
}

func (v *env) waitStack(t *testing.T, name, id, want string) *stacks.RetrievedStack {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := stacks.Get(context.Background(), v.heat, name, id).Extract()
		require.NoError(t, err)
		if !strings.HasSuffix(st.Status, "_IN_PROGRESS") {
			require.Equal(t, want, st.Status, "reason: %s", st.StatusReason)
			return st
		}
		require.True(t, time.Now().Before(deadline), "stack %s still %s", name, st.Status)
		time.Sleep(10 * time.Millisecond)
	}
}

func (v *env) waitGone(t *testing.T, name, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		err := stacks.Get(context.Background(), v.heat, name, id).Err
		return gophercloud.ResponseCodeIs(err, 404)
	}, 15*time.Second, 10*time.Millisecond)
}

func (v *env) resources(t *testing.T, name, id string, depth int) []stackresources.Resource {
	t.Helper()
	pages, err := stackresources.List(v.heat, name, id, stackresources.ListOpts{Depth: depth}).AllPages(context.Background())
	require.NoError(t, err)
	rs, err := stackresources.ExtractResources(pages)
	require.NoError(t, err)
	return rs
}

// servers maps the physical ids of the OS::Nova::Server resources (at any
// depth) by resource name, sorted by physical id.
func (v *env) serverResources(t *testing.T, name, id string) []stackresources.Resource {
	t.Helper()
	var out []stackresources.Resource
	for _, r := range v.resources(t, name, id, 5) {
		if r.Type == "OS::Nova::Server" {
			out = append(out, r)
		}
	}
	return out
}

func stackLink(r stackresources.Resource, rel string) (string, string) {
	for _, l := range r.Links {
		if l.Rel == rel {
			parts := strings.Split(strings.TrimRight(l.Href, "/"), "/")
			return parts[len(parts)-2], parts[len(parts)-1]
		}
	}
	return "", ""
}

func vmSimpleBody(t *testing.T, name string) map[string]any {
	dir := filepath.Join("..", "..", "test", "samples", "vm-simple", "BaseHOT", "simple")
	return map[string]any{
		"stack_name": name,
		"template":   readFile(t, filepath.Join(dir, "simple_hot_top.yaml")),
		"files":      map[string]string{"VDU1.yaml": readFile(t, filepath.Join(dir, "nested", "VDU1.yaml"))},
		"parameters": map[string]any{"nfv": map[string]any{
			"VDU": map[string]any{
				"VDU1": map[string]any{"flavor": "m1.tiny", "image": "img", "desired_capacity": 2},
				"VDU2": map[string]any{"flavor": "m1.small", "image": "img"},
			},
			"CP": map[string]any{"VDU1_CP1": map[string]any{"network": "net0"}, "VDU2_CP1": map[string]any{"network": "net0"}},
		}},
		"disable_rollback": true,
	}
}

func scalableBody(t *testing.T, name string, size int) map[string]any {
	return map[string]any{
		"stack_name": name,
		"template":   readFile(t, filepath.Join("testdata", "scalable", "top.yaml")),
		"files":      map[string]string{"VDU1.yaml": readFile(t, filepath.Join("testdata", "scalable", "VDU1.yaml"))},
		"parameters": map[string]any{"nfv": scalableNFV(size)},
	}
}

func scalableNFV(size int) map[string]any {
	return map[string]any{
		"VDU": map[string]any{"VDU1": map[string]any{"flavor": "m1.tiny", "image": "img", "desired_capacity": size}},
		"CP":  map[string]any{"VDU1_CP1": map[string]any{"network": "net1"}},
	}
}

func newServer(t *testing.T, emu *Emulator) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// recordingBackend records Start/Stop calls.
type recordingBackend struct {
	mu    sync.Mutex
	start []ServerSpec
	stop  []string
}

func (b *recordingBackend) Start(_ context.Context, s ServerSpec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start = append(b.start, s)
	return nil
}

func (b *recordingBackend) Stop(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stop = append(b.stop, id)
	return nil
}

func (b *recordingBackend) Close() error { return nil }

func (b *recordingBackend) started() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, s := range b.start {
		out = append(out, s.ID)
	}
	return out
}

func (b *recordingBackend) specs() []ServerSpec {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ServerSpec(nil), b.start...)
}

func (b *recordingBackend) stopped() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.stop...)
}

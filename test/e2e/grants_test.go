package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/openstack"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/nfvo/nfvotest"
	"github.com/vnfm-project/vnfm/internal/osemu"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// Secrets of the NFVO tests.
const (
	nfvoSecret   = "s3cret-nfvo-client-secret"
	nfvoPassword = "s3cret-nfvo-basic-password"
)

func init() { testsecrets.Register(nfvoSecret, nfvoPassword) }

// withNFVO makes the server ask the NFVO at u for grants.
func withNFVO(u string, auth *model.SubscriptionAuthentication) func(*server.Config) {
	return func(c *server.Config) {
		c.NFVO = server.NFVOConfig{URL: u, Auth: auth, PollInterval: 20 * time.Millisecond, Timeout: 30 * time.Second}
	}
}

// nfvoAnswer is one answer of the fake NFVO, as vnfm got it.
type nfvoAnswer struct {
	method, path string
	status       int
	body         []byte
}

// nfvoProxy sits between vnfm and the fake NFVO and records the answers
// (the fake does not keep the Grants it sends).
type nfvoProxy struct {
	nf      *nfvotest.NFVO
	srv     *httptest.Server
	mu      sync.Mutex
	answers []nfvoAnswer
}

func newNFVOProxy(t testing.TB, nf *nfvotest.NFVO) *nfvoProxy {
	t.Helper()
	target, err := url.Parse(nf.URL())
	require.NoError(t, err)
	p := &nfvoProxy{nf: nf}
	p.srv = httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ModifyResponse: func(res *http.Response) error {
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			res.Body = io.NopCloser(bytes.NewReader(body))
			// Polls must go through the proxy too (same origin).
			if loc := res.Header.Get("Location"); loc != "" {
				res.Header.Set("Location", strings.Replace(loc, nf.URL(), p.srv.URL, 1))
			}
			p.mu.Lock()
			p.answers = append(p.answers, nfvoAnswer{method: res.Request.Method, path: res.Request.URL.Path, status: res.StatusCode, body: body})
			p.mu.Unlock()
			return nil
		},
	})
	t.Cleanup(p.srv.Close)
	return p
}

func (p *nfvoProxy) URL() string { return p.srv.URL }

// grants returns the Grants answered (201 or 200), validated against the
// ETSI Grant schema, by vnfLcmOpOccId.
func (p *nfvoProxy) grants(t testing.TB) map[string]model.Grant {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]model.Grant{}
	for _, a := range p.answers {
		if !strings.HasPrefix(a.path, nfvotest.GrantsPath) || (a.status != 200 && a.status != 201) {
			continue
		}
		validate(t, "Grant", a.body)
		var g model.Grant
		require.NoError(t, json.Unmarshal(a.body, &g))
		_, dup := out[g.VnfLcmOpOccID]
		require.False(t, dup, "one grant per op occ")
		out[g.VnfLcmOpOccID] = g
	}
	return out
}

// requestsFor returns the NFVO's grant requests for one op occ.
func requestsFor(nf *nfvotest.NFVO, opID string) []model.GrantRequest {
	var out []model.GrantRequest
	for _, r := range nf.Requests() {
		if r.VnfLcmOpOccID == opID {
			out = append(out, r)
		}
	}
	return out
}

// newGrantOSEnv is newOSEnv with server options.
func newGrantOSEnv(t testing.TB, opts ...func(*server.Config)) *osEnv {
	t.Helper()
	emu, err := osemu.New(osemu.Config{ActionDelay: 5 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	hs := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = emu.Close()
	})
	drv := openstack.New(openstack.Config{PollInterval: 10 * time.Millisecond})
	e := newEnvWith(t, storetest.SQLite(t), 20, func(reg *driver.Registry, _ *scripted.Driver) {
		reg.RegisterInfra(drv, openstack.VimTypes...)
	}, append([]func(*server.Config){realPackages}, opts...)...)
	o := &osEnv{env: e, emu: emu, emuURL: hs.URL, parent: t, vimNanos: &atomic.Int64{}}
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

// handles reads resource handles out of instance JSON.
func handles(t testing.TB, list any, attr string) []model.ResourceHandle {
	t.Helper()
	var out []model.ResourceHandle
	items, _ := list.([]any)
	for _, it := range items {
		raw, err := json.Marshal(it.(map[string]any)[attr])
		require.NoError(t, err)
		var h model.ResourceHandle
		require.NoError(t, json.Unmarshal(raw, &h))
		require.NotEmpty(t, h.ResourceID)
		out = append(out, h)
	}
	return out
}

func byType(defs []model.ResourceDefinition, typ model.ResourceType) []model.ResourceDefinition {
	var out []model.ResourceDefinition
	for _, d := range defs {
		if d.Type == typ {
			out = append(out, d)
		}
	}
	return out
}

func resourcesOf(defs []model.ResourceDefinition) []model.ResourceHandle {
	var out []model.ResourceHandle
	for _, d := range defs {
		if d.Resource != nil {
			out = append(out, *d.Resource)
		}
	}
	return out
}

// checkGrantRequest checks what every GrantRequest must have.
func checkGrantRequest(t testing.TB, r *model.GrantRequest, op model.Operation, instID, opID, vnfdID string) {
	t.Helper()
	require.Equal(t, op, r.Operation)
	require.Equal(t, instID, r.VnfInstanceID)
	require.Equal(t, opID, r.VnfLcmOpOccID)
	require.Equal(t, vnfdID, r.VnfdID)
	require.False(t, r.IsAutomaticInvocation)
	require.True(t, strings.HasSuffix(r.Links.VnfLcmOpOcc.Href, "/vnflcm/v1/vnf_lcm_op_occs/"+opID), r.Links.VnfLcmOpOcc.Href)
	require.True(t, strings.HasSuffix(r.Links.VnfInstance.Href, "/vnflcm/v1/vnf_instances/"+instID), r.Links.VnfInstance.Href)
	ids := map[string]bool{}
	for _, d := range slices.Concat(r.AddResources, r.RemoveResources, r.TempResources, r.UpdateResources) {
		require.NotEmpty(t, d.ID)
		require.False(t, ids[d.ID], "resource definition ids are unique")
		ids[d.ID] = true
		if d.Type == model.ResourceCompute {
			require.NotEmpty(t, d.VduID)
			require.Equal(t, d.VduID, d.ResourceTemplateID)
		}
	}
	for _, d := range r.AddResources {
		require.Nil(t, d.Resource, "an added resource does not exist yet")
	}
	for _, d := range r.RemoveResources {
		require.NotNil(t, d.Resource, "a removed resource names its handle")
	}
}

// TestGrantRequests runs instantiate, scale out and in, heal and terminate
// of vm-simple on the emulator with an NFVO granting them, and checks each
// GrantRequest against what the VNFD and the instance hold.
func TestGrantRequests(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	px := newNFVOProxy(t, nf)
	const public = "http://vnfm.example:9890"
	o := newGrantOSEnv(t, withNFVO(px.URL(), nil), func(c *server.Config) { c.PublicURL = public })
	id := o.createInstance()
	grantOf := func(opID string) string {
		t.Helper()
		// The NFVO can follow the links: they are absolute.
		r := requestsFor(nf, opID)[0]
		require.Equal(t, public+"/vnflcm/v1/vnf_lcm_op_occs/"+opID, r.Links.VnfLcmOpOcc.Href)
		require.Equal(t, public+"/vnflcm/v1/vnf_instances/"+id, r.Links.VnfInstance.Href)
		g, ok := px.grants(t)[opID]
		require.True(t, ok, "a grant for %s", opID)
		op := o.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+opID, nil).json(t)
		require.Equal(t, g.ID, op["grantId"], "the op occ names its grant")
		require.Len(t, requestsFor(nf, opID), 1)
		return g.ID
	}

	// Instantiate at level 2: two VDU1, one VDU2, the internal VL, the
	// volume, and VDU1's anti-affinity between its two new servers.
	opID := o.task(id, "instantiate", json.RawMessage(`{"flavourId": "simple", "instantiationLevelId": "instantiation_level_2", `+extNet0+`}`))
	o.wait(opID, "COMPLETED")
	reqs := requestsFor(nf, opID)
	require.Len(t, reqs, 1)
	r := reqs[0]
	checkGrantRequest(t, &r, model.OpInstantiate, id, opID, o.vnfdID)
	require.Equal(t, "simple", r.FlavourID)
	require.Equal(t, "instantiation_level_2", r.InstantiationLevelID)
	require.Empty(t, r.RemoveResources)
	computes := byType(r.AddResources, model.ResourceCompute)
	var vdus []string
	var vdu1 []string
	for _, c := range computes {
		vdus = append(vdus, c.VduID)
		if c.VduID == "VDU1" {
			vdu1 = append(vdu1, c.ID)
		}
	}
	require.Equal(t, []string{"VDU1", "VDU1", "VDU2"}, vdus, "one COMPUTE per VNFC of the level")
	vls := byType(r.AddResources, model.ResourceVL)
	require.Len(t, vls, 1)
	require.Equal(t, "internalVL1", vls[0].ResourceTemplateID)
	storages := byType(r.AddResources, model.ResourceStorage)
	require.Len(t, storages, 1)
	require.Equal(t, "VirtualStorage", storages[0].ResourceTemplateID)
	require.Len(t, r.AddResources, 5)
	require.Len(t, r.PlacementConstraints, 1)
	pc := r.PlacementConstraints[0]
	require.Equal(t, model.AntiAffinity, pc.AffinityOrAntiAffinity)
	require.Equal(t, model.ScopeNfviNode, pc.Scope)
	var refs []string
	for _, ref := range pc.Resource {
		require.Equal(t, model.ConstraintRefGrant, ref.IDType)
		refs = append(refs, ref.ResourceID)
	}
	require.ElementsMatch(t, vdu1, refs, "the constraint names the new VDU1 resources")
	grantOf(opID)
	require.Len(t, o.vnfcs(id)["VDU1"], 2)

	// Scale out: one more VDU1.
	opID = o.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "VDU1_scale"})
	o.wait(opID, "COMPLETED")
	r = requestsFor(nf, opID)[0]
	checkGrantRequest(t, &r, model.OpScale, id, opID, o.vnfdID)
	require.Len(t, r.AddResources, 1)
	require.Equal(t, "VDU1", r.AddResources[0].VduID)
	require.Empty(t, r.RemoveResources)
	grantOf(opID)

	// Scale in: the newest VDU1 goes, and the request names its server.
	info := o.instance(id)["instantiatedVnfInfo"].(map[string]any)
	before := handles(t, info["vnfcResourceInfo"], "computeResource")
	opID = o.task(id, "scale", map[string]any{"type": "SCALE_IN", "aspectId": "VDU1_scale"})
	o.wait(opID, "COMPLETED")
	r = requestsFor(nf, opID)[0]
	checkGrantRequest(t, &r, model.OpScale, id, opID, o.vnfdID)
	require.Empty(t, r.AddResources)
	require.Len(t, r.RemoveResources, 1)
	require.Equal(t, "VDU1", r.RemoveResources[0].VduID)
	gone := *r.RemoveResources[0].Resource
	require.Contains(t, before, gone)
	after := handles(t, o.instance(id)["instantiatedVnfInfo"].(map[string]any)["vnfcResourceInfo"], "computeResource")
	require.NotContains(t, after, gone, "the server named in the request was removed")
	require.Len(t, after, len(before)-1)
	require.NotContains(t, o.servers(), gone.ResourceID)
	grantOf(opID)

	// Heal one VNFC: its server is removed, a new one added.
	var target, oldServer string
	for vnfc, srv := range o.vnfcs(id)["VDU1"] {
		target, oldServer = vnfc, srv
		break
	}
	opID = o.task(id, "heal", map[string]any{"vnfcInstanceId": []string{target}})
	o.wait(opID, "COMPLETED")
	r = requestsFor(nf, opID)[0]
	checkGrantRequest(t, &r, model.OpHeal, id, opID, o.vnfdID)
	require.Len(t, r.RemoveResources, 1)
	require.Equal(t, oldServer, r.RemoveResources[0].Resource.ResourceID)
	require.Len(t, r.AddResources, 1)
	require.Equal(t, model.ResourceCompute, r.AddResources[0].Type)
	require.Equal(t, "VDU1", r.AddResources[0].VduID)
	grantOf(opID)

	// Terminate: everything the instance holds is removed.
	info = o.instance(id)["instantiatedVnfInfo"].(map[string]any)
	opID = o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"})
	o.wait(opID, "COMPLETED")
	r = requestsFor(nf, opID)[0]
	checkGrantRequest(t, &r, model.OpTerminate, id, opID, o.vnfdID)
	require.Empty(t, r.AddResources)
	require.ElementsMatch(t, handles(t, info["vnfcResourceInfo"], "computeResource"), resourcesOf(byType(r.RemoveResources, model.ResourceCompute)))
	vlHandles := handles(t, info["virtualLinkResourceInfo"], "networkResource")
	require.NotEmpty(t, vlHandles)
	require.ElementsMatch(t, vlHandles, resourcesOf(byType(r.RemoveResources, model.ResourceVL)))
	for _, d := range byType(r.RemoveResources, model.ResourceVL) {
		require.Equal(t, "internalVL1", d.ResourceTemplateID)
	}
	storageHandles := handles(t, info["virtualStorageResourceInfo"], "storageResource")
	require.Len(t, storageHandles, 1)
	require.ElementsMatch(t, storageHandles, resourcesOf(byType(r.RemoveResources, model.ResourceStorage)))
	require.Len(t, r.RemoveResources, len(byType(r.RemoveResources, model.ResourceCompute))+2)
	grantOf(opID)
	require.Empty(t, o.stacks())

	require.Len(t, nf.Requests(), 5, "one grant request per operation")
	require.Len(t, px.grants(t), 5)
}

// TestGrantVimAssets: the flavour and image the NFVO grants are the ones
// the servers get.
func TestGrantVimAssets(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	nf.SetGrantTemplate(func(req *model.GrantRequest) *model.Grant {
		if req.Operation != model.OpInstantiate {
			return nil
		}
		return &model.Grant{VimAssets: &model.VimAssets{
			ComputeResourceFlavours: []model.VimComputeResourceFlavour{{VnfdVirtualComputeDescID: "VDU1", VimFlavourID: "m1.medium"}},
			SoftwareImages:          []model.VimSoftwareImage{{VnfdSoftwareImageID: "VDU2", VimSoftwareImageID: "granted-image-0001"}},
		}}
	})
	px := newNFVOProxy(t, nf)
	o := newGrantOSEnv(t, withNFVO(px.URL(), nil))
	id := o.createInstance()
	opID := o.task(id, "instantiate", json.RawMessage(`{"flavourId": "simple", `+extNet0+`}`))
	o.wait(opID, "COMPLETED")
	require.NotNil(t, px.grants(t)[opID].VimAssets)

	check := func(wantVDU1 int) {
		t.Helper()
		servers := o.servers()
		v := o.vnfcs(id)
		require.Len(t, v["VDU1"], wantVDU1)
		for _, srv := range v["VDU1"] {
			s := servers[srv]
			require.Equal(t, "m1.medium", s["flavor"].(map[string]any)["original_name"], "VDU1 runs on the granted flavour")
			require.NotEqual(t, "granted-image-0001", s["image"].(map[string]any)["id"])
		}
		for _, srv := range v["VDU2"] {
			s := servers[srv]
			require.Equal(t, "m1.small", s["flavor"].(map[string]any)["original_name"], "VDU2 keeps the VNFD's flavour")
			require.Equal(t, "granted-image-0001", s["image"].(map[string]any)["id"], "VDU2 runs the granted image")
		}
	}
	check(1)
	// A server added later (whose grant has no vimAssets, as SOL003 has
	// them given once) uses the flavour granted at instantiation.
	o.wait(o.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "VDU1_scale"}), "COMPLETED")
	check(2)
	o.wait(o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}), "COMPLETED")
	require.Empty(t, o.servers())
}

// TestGrantRejected: a refused grant ends the op occ ROLLED_BACK with the
// NFVO's reason, before anything was created.
func TestGrantRejected(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	nf.Reject("no capacity left in zone-a")
	o := newGrantOSEnv(t, withNFVO(nf.URL(), nil), fastNotify)
	sub := newSubscriber(t)
	subID := o.subscribe(map[string]any{"callbackUri": sub.url()})
	id := o.createInstance()
	opID := o.task(id, "instantiate", json.RawMessage(`{"flavourId": "simple", `+extNet0+`}`))
	op := o.wait(opID, "ROLLED_BACK")
	pd := op["error"].(map[string]any)
	require.EqualValues(t, 403, pd["status"])
	require.Contains(t, pd["detail"], "no capacity left in zone-a")
	require.NotContains(t, op, "grantId")
	require.Len(t, requestsFor(nf, opID), 1)
	inst := o.instance(id)
	require.Equal(t, "NOT_INSTANTIATED", inst["instantiationState"])
	require.NotContains(t, inst, "instantiatedVnfInfo")
	require.Empty(t, o.stacks(), "no stack was created")
	require.Empty(t, o.servers())

	want := append([]string{created(id)}, opStates(opID, "INSTANTIATE", "STARTING", "PROCESSING", "ROLLED_BACK")...)
	ns := sub.waitUnique(t, len(want), 10*time.Second)
	require.Equal(t, want, labels(ns))
	last := ns[len(ns)-1]
	validate(t, last.NotificationType, last.raw)
	require.Equal(t, subID, last.SubscriptionID)
	require.NotNil(t, last.Error, "RESULT ROLLED_BACK carries the error: %s", last.raw)
	require.Equal(t, 403, last.Error.Status)
	require.Contains(t, last.Error.Detail, "no capacity left in zone-a")

	// Once the NFVO grants, the instance can be instantiated.
	nf.Grant()
	opID = o.task(id, "instantiate", json.RawMessage(`{"flavourId": "simple", `+extNet0+`}`))
	o.wait(opID, "COMPLETED")
	require.Len(t, o.stacks(), 1)
	o.wait(o.task(id, "terminate", map[string]any{"terminationType": "FORCEFUL"}), "COMPLETED")
}

// TestGrantScripted runs every granted operation on the scripted driver:
// one GrantRequest each, the op occ names the grant; a refused scale
// changes nothing; operations without resources are not granted.
func TestGrantScripted(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nf := nfvotest.New(t)
			px := newNFVOProxy(t, nf)
			e := newEnv(t, open(t), 20, withNFVO(px.URL(), nil))
			id := e.create()
			run := func(task string, body any, op model.Operation) (string, model.GrantRequest) {
				t.Helper()
				opID := e.task(id, task, body)
				got := e.wait(opID, "COMPLETED")
				reqs := requestsFor(nf, opID)
				require.Len(t, reqs, 1, task)
				checkGrantRequest(t, &reqs[0], op, id, opID, "vnfd-1")
				g, ok := px.grants(t)[opID]
				require.True(t, ok)
				require.Equal(t, g.ID, got["grantId"])
				return opID, reqs[0]
			}
			run("instantiate", instantiateBody, model.OpInstantiate)
			inst := e.instance(id)
			vnfcList := vnfcs(t, inst)
			_, r := run("heal", map[string]any{"vnfcInstanceId": []string{vnfcList[0]["id"].(string)}}, model.OpHeal)
			require.Len(t, r.RemoveResources, 1)
			require.Equal(t, vnfcList[0]["computeResource"].(map[string]any)["resourceId"], r.RemoveResources[0].Resource.ResourceID)
			require.Len(t, r.AddResources, 1)
			run("scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect}, model.OpScale)
			run("change_ext_conn", map[string]any{"extVirtualLinks": []any{map[string]any{"id": "ext-1", "resourceId": "net-1", "extCps": []any{map[string]any{"cpdId": "CP1"}}}}}, model.OpChangeExtConn)

			// Refused: ROLLED_BACK, the driver was not called, nothing changed.
			unchanged := vnfcs(t, e.instance(id))
			require.Len(t, unchanged, 3)
			nf.Reject("scaling is frozen")
			opID := e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect})
			op := e.wait(opID, "ROLLED_BACK")
			require.EqualValues(t, 403, op["error"].(map[string]any)["status"])
			require.Contains(t, op["error"].(map[string]any)["detail"], "scaling is frozen")
			require.Empty(t, e.drv.CallsFor(opID), "nothing was done")
			require.Equal(t, unchanged, vnfcs(t, e.instance(id)))
			nf.Grant()

			// Operate and modify info are not granted.
			before := len(nf.Requests())
			e.wait(e.task(id, "operate", map[string]any{"changeStateTo": "STOPPED"}), "COMPLETED")
			r2 := e.do("PATCH", "/vnflcm/v1/vnf_instances/"+id, map[string]any{"vnfInstanceName": "renamed"})
			require.Equal(t, 202, r2.status, "%s", r2.body)
			loc := r2.header.Get("Location")
			e.wait(loc[strings.LastIndex(loc, "/")+1:], "COMPLETED")
			require.Len(t, nf.Requests(), before)

			inst = e.instance(id)
			_, r = run("terminate", map[string]any{"terminationType": "FORCEFUL"}, model.OpTerminate)
			require.ElementsMatch(t, handles(t, inst["instantiatedVnfInfo"].(map[string]any)["vnfcResourceInfo"], "computeResource"),
				resourcesOf(byType(r.RemoveResources, model.ResourceCompute)))
		})
	}
}

// TestGrantAsync: 202 and polling until the NFVO decides.
func TestGrantAsync(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	nf.Async(3)
	px := newNFVOProxy(t, nf)
	e := newEnv(t, backends["sqlite"](t), 20, withNFVO(px.URL(), nil))
	id := e.create()
	opID := e.task(id, "instantiate", instantiateBody)
	op := e.wait(opID, "COMPLETED")
	require.Equal(t, 5, nf.Calls(), "POST, three pending polls, the decision")
	g, ok := px.grants(t)[opID]
	require.True(t, ok)
	require.Equal(t, g.ID, op["grantId"])
	px.mu.Lock()
	var statuses []int
	for _, a := range px.answers {
		statuses = append(statuses, a.status)
	}
	px.mu.Unlock()
	require.Equal(t, []int{202, 202, 202, 202, 200}, statuses)

	// Rejected after polling.
	nf.Async(2)
	nf.Reject("quota exhausted")
	opID = e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect})
	op = e.wait(opID, "ROLLED_BACK")
	require.EqualValues(t, 403, op["error"].(map[string]any)["status"])
	require.Contains(t, op["error"].(map[string]any)["detail"], "quota exhausted")
	require.Empty(t, e.drv.CallsFor(opID))
}

// TestGrantAuthentication: OAuth 2.0 (and BASIC) to the NFVO; a wrong
// secret fails the op occ with a clear error and shows nowhere.
func TestGrantAuthentication(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	nf.RequireOAuth2("vnfm", nfvoSecret)
	good := newEnv(t, backends["sqlite"](t), 20, withNFVO(nf.URL(), nf.Auth()))
	id := good.create()
	good.wait(good.task(id, "instantiate", instantiateBody), "COMPLETED")
	good.wait(good.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect}), "COMPLETED")
	require.Len(t, nf.Requests(), 2)
	require.Equal(t, 1, nf.TokenRequests(), "the token is reused")

	wrong := nf.Auth()
	wrong.ParamsOauth2ClientCredentials.ClientPassword = wrongSecret
	bad := newEnv(t, backends["sqlite"](t), 20, withNFVO(nf.URL(), wrong))
	id2 := bad.create()
	opID := bad.task(id2, "instantiate", instantiateBody)
	op := bad.wait(opID, "FAILED_TEMP")
	detail := op["error"].(map[string]any)["detail"].(string)
	require.Contains(t, detail, "oauth2 token endpoint")
	require.Contains(t, detail, "401")
	require.Contains(t, detail, "invalid_client")
	require.Len(t, nf.Requests(), 2, "no grant request without a token")
	require.Empty(t, bad.drv.CallsFor(opID))
	require.Equal(t, 200, bad.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/fail", nil).status)

	// BASIC is accepted too.
	nf.RequireBasic("vnfm", nfvoPassword)
	basic := newEnv(t, backends["sqlite"](t), 20, withNFVO(nf.URL(), &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: "vnfm", Password: nfvoPassword},
	}))
	id3 := basic.create()
	basic.wait(basic.task(id3, "instantiate", instantiateBody), "COMPLETED")
	require.Len(t, nf.Requests(), 3)

	for _, e := range []*env{good, bad, basic} {
		assertAbsent(t, e, nfvoSecret, nfvoPassword, wrongSecret)
	}
}

// TestGrantRetry: a step after the grant fails; retry (or rollback) does
// not ask the NFVO again.
func TestGrantRetry(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	e := newEnv(t, backends["sqlite"](t), 20, withNFVO(nf.URL(), nil))
	id := e.create()
	opID := e.task(id, "instantiate", withScript(map[string]string{"instantiate": "failonce"}))
	e.wait(opID, "FAILED_TEMP")
	require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", nil).status)
	op := e.wait(opID, "COMPLETED")
	require.Len(t, requestsFor(nf, opID), 1, "the grant is kept for the retry")
	require.NotEmpty(t, op["grantId"])
	require.Equal(t, []string{"instantiate_start", "instantiate", "instantiate", "instantiate_end"}, e.drv.CallsFor(opID))

	opID = e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect,
		"additionalParams": map[string]any{"script": map[string]string{"scale_end": "fail"}}})
	e.wait(opID, "FAILED_TEMP")
	require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/rollback", nil).status)
	e.wait(opID, "ROLLED_BACK")
	require.Len(t, requestsFor(nf, opID), 1, "a rollback is not granted again")
	require.Len(t, nf.Requests(), 2)
}

// TestGrantTransient: 5xx answers are retried inside the step; past the
// retries the op occ is FAILED_TEMP and a retry grants once.
func TestGrantTransient(t *testing.T) {
	t.Parallel()
	nf := nfvotest.New(t)
	e := newEnv(t, backends["sqlite"](t), 20, withNFVO(nf.URL(), nil))
	id := e.create()
	nf.Fail(503, 2)
	opID := e.task(id, "instantiate", instantiateBody)
	e.wait(opID, "COMPLETED")
	require.Equal(t, 3, nf.Calls())
	require.Len(t, requestsFor(nf, opID), 1)
	require.Contains(t, e.logBuf.String(), "step failed, retrying")

	// A client error is not retried: FAILED_TEMP at once, with the reason.
	nf.Fail(400, 1)
	opID = e.task(id, "heal", map[string]any{})
	op := e.wait(opID, "FAILED_TEMP")
	require.Contains(t, op["error"].(map[string]any)["detail"], "400")
	require.Empty(t, requestsFor(nf, opID))
	require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", nil).status)
	e.wait(opID, "COMPLETED")
	require.Len(t, requestsFor(nf, opID), 1)

	// More failures than the step retries (1 + 5): FAILED_TEMP with the
	// 503; the retry then gets the grant.
	nf.Fail(503, 6)
	opID = e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect})
	op = e.waitFor(opID, 60*time.Second, "FAILED_TEMP")
	require.Contains(t, op["error"].(map[string]any)["detail"], "503")
	require.Empty(t, e.drv.CallsFor(opID))
	require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", nil).status)
	e.wait(opID, "COMPLETED")
	require.Len(t, requestsFor(nf, opID), 1)
}

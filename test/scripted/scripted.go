// Package scripted is a test driver whose behaviour each request chooses:
// additionalParams.script maps a call name (instantiate, scale, heal,
// terminate, ..., or a hook name such as heal_start) to an action:
//
//	fail            fail with a terminal error
//	failonce        fail the first time for this op occ, then succeed
//	panic           panic
//	transient:N     fail transiently N times, then succeed
//	sleep:DURATION  take that long (honours cancellation)
//	block:PATH      wait until the file PATH exists (for crash tests)
//
// It produces realistic resource information (VNFCs per VDU, scale levels,
// healed resource ids) so LCM bookkeeping can be checked.
package scripted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// VimType is the vimType the scripted infrastructure driver registers.
const VimType = "TEST.SCRIPTED.V_1"

// Driver is both the infrastructure and the management driver.
type Driver struct {
	driver.MgmtDefaults
	mu       sync.Mutex
	calls    []string
	attempts map[string]int
	vims     map[string]model.VimConnectionInfo
	params   map[string]json.RawMessage
}

// New returns a Driver.
func New() *Driver {
	return &Driver{attempts: map[string]int{}, vims: map[string]model.VimConnectionInfo{}, params: map[string]json.RawMessage{}}
}

// Params returns the operation parameters (secrets included) the last call
// for an op occ was given.
func (d *Driver) Params(opID string) (json.RawMessage, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.params[opID]
	return p, ok
}

// Vim returns the VIM connection (credentials included) the last call for
// an op occ was given.
func (d *Driver) Vim(opID string) (model.VimConnectionInfo, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.vims[opID]
	return v, ok
}

// Register adds d to reg as infra driver for VimType and as management
// driver "scripted".
func (d *Driver) Register(reg *driver.Registry) {
	reg.RegisterInfra(d, VimType)
	reg.RegisterMgmt("scripted", d)
}

// Calls returns the calls made so far, "name opOccID" each.
func (d *Driver) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// CallsFor returns the call names made for one op occ, in order.
func (d *Driver) CallsFor(opID string) []string {
	var out []string
	for _, c := range d.Calls() {
		name, id, _ := strings.Cut(c, " ")
		if id == opID {
			out = append(out, name)
		}
	}
	return out
}

type params struct {
	AdditionalParams struct {
		Script map[string]string `json:"script"`
		Vnfcs  *int              `json:"vnfcs"`
	} `json:"additionalParams"`
	Type           string   `json:"type"`
	AspectID       string   `json:"aspectId"`
	NumberOfSteps  *int     `json:"numberOfSteps"`
	VnfcInstanceID []string `json:"vnfcInstanceId"`
	ChangeStateTo  string   `json:"changeStateTo"`
}

func decodeParams(req *driver.Request) (*params, error) {
	p := &params{}
	if len(req.Params) > 0 {
		if err := json.Unmarshal(req.Params, p); err != nil {
			return nil, fmt.Errorf("scripted: params: %w", err)
		}
	}
	return p, nil
}

// act records the call and performs the scripted action for it.
func (d *Driver) act(ctx context.Context, name string, req *driver.Request, p *params) error {
	if req.Rollback {
		name = "rollback_" + name
	}
	d.mu.Lock()
	d.calls = append(d.calls, name+" "+req.OpOccID)
	key := req.OpOccID + "/" + name
	d.attempts[key]++
	attempt := d.attempts[key]
	d.mu.Unlock()

	action := p.AdditionalParams.Script[name]
	verb, arg, _ := strings.Cut(action, ":")
	switch verb {
	case "":
		return nil
	case "fail":
		return fmt.Errorf("scripted failure in %s", name)
	case "failonce":
		if attempt == 1 {
			return fmt.Errorf("scripted one-time failure in %s", name)
		}
		return nil
	case "panic":
		panic("scripted panic in " + name)
	case "transient":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return fmt.Errorf("scripted: bad transient count %q", arg)
		}
		if attempt <= n {
			return driver.Transient(fmt.Errorf("scripted transient failure %d/%d in %s", attempt, n, name))
		}
		return nil
	case "sleep":
		dur, err := time.ParseDuration(arg)
		if err != nil {
			return fmt.Errorf("scripted: bad duration %q", arg)
		}
		t := time.NewTimer(dur)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	case "block":
		for {
			if _, err := os.Stat(arg); err == nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return fmt.Errorf("scripted: unknown action %q", action)
}

func (d *Driver) run(ctx context.Context, name string, req *driver.Request, fn func(p *params) (*driver.Result, error)) (*driver.Result, error) {
	p, err := decodeParams(req)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if req.Vim != nil {
		d.vims[req.OpOccID] = *req.Vim
	}
	d.params[req.OpOccID] = append(json.RawMessage(nil), req.Params...)
	d.mu.Unlock()
	if err := d.act(ctx, name, req, p); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, nil
	}
	return fn(p)
}

const vdu = "VDU1"

// Aspect is the scaling aspect the scripted VNF has.
const Aspect = "VDU1_aspect"

func vimID(req *driver.Request) string {
	if req.Vim != nil {
		return req.Vim.ID
	}
	return ""
}

func newVnfc(req *driver.Request) model.VnfcResourceInfo {
	return model.VnfcResourceInfo{
		ID:    uuid.NewString(),
		VduID: vdu,
		ComputeResource: model.ResourceHandle{
			VimConnectionID:      vimID(req),
			ResourceID:           "server-" + uuid.NewString(),
			VimLevelResourceType: "OS::Nova::Server",
		},
	}
}

func changed(v model.VnfcResourceInfo, ct model.ChangeType) model.AffectedVnfc {
	return model.AffectedVnfc{ID: v.ID, VduID: v.VduID, ChangeType: ct, ComputeResource: v.ComputeResource}
}

func info(req *driver.Request) model.InstantiatedVnfInfo {
	if req.Info != nil {
		cp := *req.Info
		cp.VnfcResourceInfo = append([]model.VnfcResourceInfo(nil), req.Info.VnfcResourceInfo...)
		return cp
	}
	return model.InstantiatedVnfInfo{VnfState: model.VnfStarted}
}

func (d *Driver) Instantiate(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "instantiate", req, func(p *params) (*driver.Result, error) {
		n := 2
		if p.AdditionalParams.Vnfcs != nil {
			n = *p.AdditionalParams.Vnfcs
		}
		in := model.InstantiatedVnfInfo{
			VnfState:    model.VnfStarted,
			ScaleStatus: []model.ScaleInfo{{AspectID: Aspect, ScaleLevel: 0}},
			ExtCpInfo:   []json.RawMessage{json.RawMessage(`{"id":"` + uuid.NewString() + `","cpdId":"CP1","cpProtocolInfo":[{"layerProtocol":"IP_OVER_ETHERNET"}]}`)},
		}
		rc := &model.ResourceChanges{}
		for range n {
			v := newVnfc(req)
			in.VnfcResourceInfo = append(in.VnfcResourceInfo, v)
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, changed(v, model.ChangeAdded))
		}
		return &driver.Result{State: json.RawMessage(fmt.Sprintf(`{"stack":"stack-%s"}`, req.OpOccID)), InstantiatedVnfInfo: &in, ResourceChanges: rc}, nil
	})
}

func (d *Driver) Terminate(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "terminate", req, func(*params) (*driver.Result, error) {
		rc := &model.ResourceChanges{}
		if req.Info != nil {
			for _, v := range req.Info.VnfcResourceInfo {
				rc.AffectedVnfcs = append(rc.AffectedVnfcs, changed(v, model.ChangeRemoved))
			}
		}
		in := info(req)
		in.VnfcResourceInfo = nil
		return &driver.Result{State: json.RawMessage(`{}`), InstantiatedVnfInfo: &in, ResourceChanges: rc}, nil
	})
}

func (d *Driver) Scale(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "scale", req, func(p *params) (*driver.Result, error) {
		if p.AspectID != Aspect {
			return nil, &driver.ProblemError{Status: 422, Err: fmt.Errorf("unknown aspect %q", p.AspectID)}
		}
		steps := 1
		if p.NumberOfSteps != nil {
			steps = *p.NumberOfSteps
		}
		in := info(req)
		rc := &model.ResourceChanges{}
		if p.Type == "SCALE_OUT" {
			for range steps {
				v := newVnfc(req)
				in.VnfcResourceInfo = append(in.VnfcResourceInfo, v)
				rc.AffectedVnfcs = append(rc.AffectedVnfcs, changed(v, model.ChangeAdded))
			}
		} else {
			// Newest first, as a production driver does.
			for range steps {
				if len(in.VnfcResourceInfo) == 0 {
					return nil, errors.New("nothing left to scale in")
				}
				v := in.VnfcResourceInfo[len(in.VnfcResourceInfo)-1]
				in.VnfcResourceInfo = in.VnfcResourceInfo[:len(in.VnfcResourceInfo)-1]
				rc.AffectedVnfcs = append(rc.AffectedVnfcs, changed(v, model.ChangeRemoved))
			}
		}
		return &driver.Result{InstantiatedVnfInfo: &in, ResourceChanges: rc}, nil
	})
}

func (d *Driver) Heal(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "heal", req, func(p *params) (*driver.Result, error) {
		in := info(req)
		rc := &model.ResourceChanges{}
		for i := range in.VnfcResourceInfo {
			v := &in.VnfcResourceInfo[i]
			if len(p.VnfcInstanceID) > 0 && !contains(p.VnfcInstanceID, v.ID) {
				continue
			}
			v.ComputeResource.ResourceID = "server-" + uuid.NewString()
			rc.AffectedVnfcs = append(rc.AffectedVnfcs, changed(*v, model.ChangeModified))
		}
		return &driver.Result{InstantiatedVnfInfo: &in, ResourceChanges: rc}, nil
	})
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

func (d *Driver) ScaleToLevel(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "scale_to_level", req, nil)
}

func (d *Driver) ChangeExtConn(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "change_ext_conn", req, nil)
}

func (d *Driver) ChangeFlavour(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "change_flavour", req, nil)
}

func (d *Driver) Operate(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, "operate", req, nil)
}

func (d *Driver) hook(ctx context.Context, h driver.Hook, req *driver.Request) (*driver.Result, error) {
	return d.run(ctx, string(h), req, nil)
}

func (d *Driver) InstantiateStart(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.InstantiateStart, r)
}
func (d *Driver) InstantiateEnd(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.InstantiateEnd, r)
}
func (d *Driver) TerminateStart(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.TerminateStart, r)
}
func (d *Driver) TerminateEnd(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.TerminateEnd, r)
}
func (d *Driver) ScaleStart(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.ScaleStart, r)
}
func (d *Driver) ScaleEnd(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.ScaleEnd, r)
}
func (d *Driver) HealStart(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.HealStart, r)
}
func (d *Driver) HealEnd(ctx context.Context, r *driver.Request) (*driver.Result, error) {
	return d.hook(ctx, driver.HealEnd, r)
}

var (
	_ driver.Infra          = (*Driver)(nil)
	_ driver.Mgmt           = (*Driver)(nil)
	_ driver.ScaleToLeveler = (*Driver)(nil)
	_ driver.ExtConnChanger = (*Driver)(nil)
	_ driver.FlavourChanger = (*Driver)(nil)
	_ driver.Operator       = (*Driver)(nil)
)

// Vnfds resolves any vnfdId to a VNFD whose management driver is the
// scripted one, except "unknown-vnfd", which does not exist.
type Vnfds struct{}

func (Vnfds) Lookup(_ context.Context, _ store.Tx, vnfdID string) (*lcm.VnfdInfo, error) {
	if vnfdID == "unknown-vnfd" {
		return nil, fmt.Errorf("vnfd %s: %w", vnfdID, lcm.ErrNotFound)
	}
	return &lcm.VnfdInfo{
		VnfProvider: "Scripted Inc.", VnfProductName: "Scripted VNF",
		VnfSoftwareVersion: "1.0", VnfdVersion: "1.0", Enabled: true, MgmtDrivers: map[string]string{"": "scripted"},
	}, nil
}

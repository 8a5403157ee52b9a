// Package openstack is the infrastructure driver for OpenStack VIMs: it
// deploys a VNF as one Heat stack built from the package's Base HOT, the
// way Tacker v2 does (an "nfv" json parameter carrying flavours, images,
// desired capacities and external CPs), and reads VNFCs, virtual links and
// storages back from the stack's resources.
//
// The driver keeps no state: what later operations need (stack id and
// parameters, and the parameters before the last change for rollback) goes
// to Result.State. Every call is idempotent, so the conductor may retry a
// step after a transient failure: the stack is looked up by its name
// (vnf-<instance id>) before anything is created or changed.
package openstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// VimTypes are the vimType values the driver serves.
var VimTypes = []string{"ETSINFV.OPENSTACK_KEYSTONE.V_3", "openstack"}

// Config tunes the driver.
type Config struct {
	// Log is used when a request carries no logger.
	Log *slog.Logger
	// PollInterval is the time between two reads of a stack in progress
	// (default 2s).
	PollInterval time.Duration
	// StackTimeout bounds each stack action (default 60m); an operation's
	// additionalParams.stack_timeout_mins overrides it.
	StackTimeout time.Duration
	// HTTPClient, when set, is the base client for OpenStack calls
	// (default: a client with a 2-minute request timeout).
	HTTPClient *http.Client
	// Sleep waits out a graceful termination timeout (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Driver drives Heat, Nova and Neutron. It is safe for concurrent use.
type Driver struct {
	cfg      Config
	sessions sessionCache
}

// New returns a Driver.
func New(cfg Config) *Driver {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.StackTimeout <= 0 {
		cfg.StackTimeout = 60 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.HTTPClient == nil {
		// A bound per request, so a VIM that stops answering mid-call
		// becomes a transient error rather than a step hanging until its
		// context ends.
		cfg.HTTPClient = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Driver{cfg: cfg}
}

var (
	_ driver.Infra          = (*Driver)(nil)
	_ driver.ScaleToLeveler = (*Driver)(nil)
	_ driver.ExtConnChanger = (*Driver)(nil)
	_ driver.Rollbacker     = (*Driver)(nil)
)

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// state is the driver's Result.State.
type state struct {
	StackID   string         `json:"stackId"`
	StackName string         `json:"stackName"`
	Params    map[string]any `json:"params"`
	// Prev are the parameters before the change OpOccID made, for its
	// rollback.
	Prev    map[string]any `json:"prev,omitempty"`
	OpOccID string         `json:"opOccId,omitempty"`
}

func (s state) raw() json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// call is one driver call: the request, its logger and the VIM session.
type call struct {
	d       *Driver
	req     *driver.Request
	log     *slog.Logger
	auth    *vimAuth
	heat    heat
	cl      *clients
	flavour *vnfd.Flavour
	state   state
	wait    waitOpts
	mins    int // Heat timeout_mins
}

// begin validates what every operation needs and opens the VIM session.
func (d *Driver) begin(ctx context.Context, req *driver.Request, flavourID string, add map[string]any) (*call, error) {
	log := req.Log
	if log == nil {
		log = d.cfg.Log
	}
	c := &call{d: d, req: req}
	if req.Instance == nil || req.Instance.ID == "" {
		return nil, errors.New("openstack: request without a VNF instance")
	}
	if len(req.State) > 0 && string(req.State) != "null" {
		if err := json.Unmarshal(req.State, &c.state); err != nil {
			return nil, fmt.Errorf("openstack: decode driver state: %w", err)
		}
	}
	if c.state.StackName == "" {
		c.state.StackName = stackName(req.Instance.ID)
	}
	c.log = log.With("driver", "openstack", "operation", string(req.Operation), "vnfInstanceId", req.Instance.ID, "stack", c.state.StackName)
	if flavourID != "" && req.Vnfd != nil {
		f, ok := req.Vnfd.Flavour(flavourID)
		if !ok {
			return nil, unprocessable(fmt.Sprintf("flavour %q is not in the VNFD", flavourID), nil)
		}
		c.flavour = f
	}
	timeout := d.cfg.StackTimeout
	mins, err := timeoutMins(add)
	if err != nil {
		return nil, err
	}
	if mins > 0 {
		timeout = time.Duration(mins) * time.Minute
	}
	c.mins = int(math.Ceil(timeout.Minutes()))
	c.wait = waitOpts{timeout: timeout, interval: d.cfg.PollInterval}
	if c.auth, err = parseVim(req.Vim); err != nil {
		return nil, err
	}
	if c.cl, err = d.sessions.get(ctx, c.auth, d.cfg.HTTPClient); err != nil {
		c.log.Warn("OpenStack session failed", "vimConnectionId", c.auth.vimConnID, "auth", c.auth.authMethod, "err", err)
		return nil, err
	}
	c.heat = heat{c: c.cl.heat}
	return c, nil
}

// end logs the outcome and drops the session when OpenStack refused it, so
// that the next call authenticates afresh (credentials may have been fixed).
func (c *call) end(what string, start time.Time, err error) {
	var pe *driver.ProblemError
	if errors.As(err, &pe) && pe.Title == titleRefused {
		c.d.sessions.forget(c.auth)
	}
	if err != nil {
		c.log.Warn(what+" failed", "duration", time.Since(start).Round(time.Millisecond), "err", err)
		return
	}
	c.log.Info(what+" done", "stackId", c.state.StackID, "duration", time.Since(start).Round(time.Millisecond))
}

func stackName(instanceID string) string { return "vnf-" + instanceID }

func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return unprocessable("invalid operation parameters", err)
	}
	return nil
}

// waitFor waits for a stack action started by the driver.
func (c *call) waitFor(ctx context.Context, s *stack, action string) (*stack, error) {
	o := c.wait
	o.action = action
	start := time.Now()
	cur, err := c.heat.wait(ctx, s, o)
	status := "gone"
	if cur != nil {
		status = cur.Status
	}
	c.log.Info("Heat stack action ended", "action", action, "stackId", s.ID, "status", status, "duration", time.Since(start).Round(time.Millisecond))
	return cur, err
}

// settle returns the VNF's stack once no action is in progress on it (nil
// when there is none). A failed earlier action is no error here: the next
// update retries it.
func (c *call) settle(ctx context.Context) (*stack, error) {
	s, err := c.heat.find(ctx, c.state.StackName)
	if err != nil || s == nil {
		return nil, err
	}
	if s.Status == "DELETE_COMPLETE" {
		return nil, nil
	}
	if s.inProgress() {
		c.log.Info("Heat stack busy, waiting", "stackId", s.ID, "status", s.Status)
		cur, err := c.waitFor(ctx, s, strings.TrimSuffix(s.Status, "_IN_PROGRESS"))
		var pe *driver.ProblemError
		if err != nil && !(errors.As(err, &pe) && cur != nil && cur.failed()) {
			return nil, err
		}
		if cur == nil {
			return nil, nil
		}
		s = cur
	}
	c.state.StackID = s.ID
	return s, nil
}

// existing returns the VNF's settled stack, an error when it is missing.
func (c *call) existing(ctx context.Context) (*stack, error) {
	s, err := c.settle(ctx)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &driver.ProblemError{Status: http.StatusNotFound, Title: "Heat stack not found",
			Err: fmt.Errorf("Heat stack %s of the VNF instance does not exist", c.state.StackName)}
	}
	return s, nil
}

// params returns the stack parameters the driver last set; for a stack it
// has no record of, those Heat reports.
// nfvParams returns the VNF's stack, its current parameters and (a copy
// of) their nfv value, which the caller changes for an update; a Base HOT
// without nfv cannot be changed that way; what names the change refused.
func (c *call) nfvParams(ctx context.Context, what string) (s *stack, params, nfv map[string]any, err error) {
	if s, err = c.existing(ctx); err != nil {
		return nil, nil, nil, err
	}
	if params, err = c.params(s); err != nil {
		return nil, nil, nil, err
	}
	if nfv = nfvOf(params); nfv == nil {
		return nil, nil, nil, unprocessable("the Base HOT takes no nfv parameter: the driver cannot "+what, nil)
	}
	return s, params, nfv, nil
}

func (c *call) params(s *stack) (map[string]any, error) {
	if c.state.Params != nil {
		return deepCopy(c.state.Params), nil
	}
	out := map[string]any{}
	raw, ok := s.Parameters["nfv"]
	if !ok {
		return nil, unprocessable(fmt.Sprintf("Heat stack %s has no nfv parameter to change", s.Name), nil)
	}
	var nfv map[string]any
	if err := json.Unmarshal([]byte(raw), &nfv); err != nil {
		return nil, fmt.Errorf("decode the nfv parameter of Heat stack %s: %w", s.Name, err)
	}
	out["nfv"] = nfv
	return out, nil
}

// read lists the stack's resources and describes them, keeping ids of
// prev's entries.
func (c *call) read(ctx context.Context, s *stack, prev *model.InstantiatedVnfInfo) (*topo, *model.InstantiatedVnfInfo, error) {
	list, err := c.heat.resources(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	t := newTopo(s, list)
	pi := map[string]*ports.Port{}
	for _, id := range t.portIDs() {
		p, err := ports.Get(ctx, c.cl.neutron, id).Extract()
		if err != nil {
			if notFound(err) {
				continue
			}
			return nil, nil, classify("read Neutron port "+id, err)
		}
		pi[id] = p
	}
	return t, buildInfo(t, pi, c.flavour, prev, c.auth.vimConnID), nil
}

// update changes the stack (PATCH with params, or PUT with template t) and
// waits for the update to end.
func (c *call) update(ctx context.Context, s *stack, t *hot, params map[string]any) (*stack, error) {
	if params == nil {
		params = map[string]any{}
	}
	if err := c.heat.update(ctx, s, t, params, c.mins); err != nil {
		return nil, err
	}
	cur, err := c.waitFor(ctx, s, "UPDATE")
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fmt.Errorf("Heat stack %s vanished during its update", s.Name)
	}
	return cur, nil
}

// Instantiate creates the VNF's stack, or adopts or repairs the one an
// earlier attempt left.
func (d *Driver) Instantiate(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p instantiateParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	if req.Vnfd == nil {
		return nil, unprocessable("the OpenStack driver needs the VNFD", nil)
	}
	if p.FlavourID == "" {
		return nil, unprocessable("flavourId is missing", nil)
	}
	c, err := d.begin(ctx, req, p.FlavourID, p.AdditionalParams)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("instantiate", start, err) }()
	h, err := loadHOT(req.Package, p.FlavourID)
	if err != nil {
		return nil, err
	}
	params, err := stackParams(h, c.flavour, &p, req.Grant)
	if err != nil {
		return nil, err
	}
	s, err := c.ensureStack(ctx, h, params)
	if err != nil {
		return nil, err
	}
	_, info, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	info.FlavourID = p.FlavourID
	if info.VnfState == "" {
		info.VnfState = model.VnfStarted
	}
	info.ScaleStatus = scaleStatus(c.flavour.ScaleLevelsAt(p.InstantiationLevelID))
	info.ExtVirtualLinkInfo = extVLInfo(nil, p.ExtVirtualLinks, req.Vim.ID)
	c.state = state{StackID: s.ID, StackName: s.Name, Params: params, OpOccID: req.OpOccID}
	return &driver.Result{State: c.state.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

// ensureStack brings the stack to *_COMPLETE with the given template and
// parameters: create it, wait for an action in progress, adopt a complete
// one, or update (PUT) one a failed attempt left behind.
func (c *call) ensureStack(ctx context.Context, h *hot, params map[string]any) (*stack, error) {
	for range 5 {
		s, err := c.settle(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case s == nil:
			c.log.Info("creating Heat stack", "template", h.Name)
			id, err := c.heat.create(ctx, c.state.StackName, h, params, c.mins)
			if err != nil {
				return nil, err
			}
			c.state.StackID = id
			cur, err := c.waitFor(ctx, &stack{ID: id, Name: c.state.StackName}, "CREATE")
			if err != nil {
				return nil, err
			}
			if cur == nil {
				continue // deleted under us: start over
			}
			return cur, nil
		case s.Status == "DELETE_FAILED":
			return nil, &driver.ProblemError{Status: http.StatusConflict, Title: "Heat stack DELETE_FAILED",
				Err: fmt.Errorf("Heat stack %s is DELETE_FAILED (%s): delete it before instantiating again", s.Name, s.StatusReason)}
		case s.failed() || s.Status == "ROLLBACK_COMPLETE":
			c.log.Info("repairing Heat stack left by an earlier attempt", "stackId", s.ID, "status", s.Status)
			return c.update(ctx, s, h, params)
		default:
			c.log.Info("adopting existing Heat stack", "stackId", s.ID, "status", s.Status)
			return s, nil
		}
	}
	return nil, driver.Transient(fmt.Errorf("Heat stack %s keeps changing under the driver", c.state.StackName))
}

func scaleStatus(levels map[string]int) []model.ScaleInfo {
	out := make([]model.ScaleInfo, 0, len(levels))
	for a, l := range levels {
		out = append(out, model.ScaleInfo{AspectID: a, ScaleLevel: l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AspectID < out[j].AspectID })
	return out
}

// extVLInfo returns prev's extVirtualLinkInfo with the entries of links
// added or replaced (by id).
func extVLInfo(prev []json.RawMessage, links []extVirtualLink, vimID string) []json.RawMessage {
	type handle struct {
		VimConnectionID string `json:"vimConnectionId,omitempty"`
		ResourceID      string `json:"resourceId"`
	}
	type linkPort struct {
		ID             string `json:"id"`
		ResourceHandle handle `json:"resourceHandle"`
	}
	type vlInfo struct {
		ID             string     `json:"id"`
		ResourceHandle handle     `json:"resourceHandle"`
		ExtLinkPorts   []linkPort `json:"extLinkPorts,omitempty"`
	}
	byID := map[string]json.RawMessage{}
	var order []string
	for _, r := range prev {
		var x struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(r, &x) == nil && x.ID != "" {
			if _, seen := byID[x.ID]; !seen {
				order = append(order, x.ID)
			}
			byID[x.ID] = r
		}
	}
	for _, l := range links {
		vim := l.VimConnectionID
		if vim == "" {
			vim = vimID
		}
		v := vlInfo{ID: l.ID, ResourceHandle: handle{VimConnectionID: vim, ResourceID: l.ResourceID}}
		for _, p := range l.ExtLinkPorts {
			v.ExtLinkPorts = append(v.ExtLinkPorts, linkPort{ID: p.ID, ResourceHandle: handle{VimConnectionID: vim, ResourceID: p.ResourceHandle.ResourceID}})
		}
		raw, _ := json.Marshal(v)
		if _, seen := byID[l.ID]; !seen {
			order = append(order, l.ID)
		}
		byID[l.ID] = raw
	}
	var out []json.RawMessage
	for _, id := range order {
		out = append(out, byID[id])
	}
	return out
}

// Terminate deletes the VNF's stack. GRACEFUL termination first waits
// gracefulTerminationTimeout seconds (the VNF's own shutdown happens in
// the management driver's terminate_start hook).
func (d *Driver) Terminate(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p struct {
		TerminationType            string         `json:"terminationType"`
		GracefulTerminationTimeout *int           `json:"gracefulTerminationTimeout"`
		AdditionalParams           map[string]any `json:"additionalParams"`
	}
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	c, err := d.begin(ctx, req, "", p.AdditionalParams)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("terminate", start, err) }()
	if p.TerminationType == "GRACEFUL" && p.GracefulTerminationTimeout != nil && *p.GracefulTerminationTimeout > 0 {
		wait := time.Duration(*p.GracefulTerminationTimeout) * time.Second
		c.log.Info("graceful termination: waiting before deleting the stack", "timeout", wait)
		if err := d.cfg.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("graceful termination wait: %w", err)
		}
	}
	if err := c.deleteStack(ctx); err != nil {
		return nil, err
	}
	return &driver.Result{State: json.RawMessage("null"), ResourceChanges: removedAll(req.Info)}, nil
}

// deleteStack deletes the VNF's stack and waits until it is gone; a stack
// already gone is success.
func (c *call) deleteStack(ctx context.Context) error {
	for range 5 {
		s, err := c.settle(ctx)
		if err != nil || s == nil {
			return err
		}
		c.log.Info("deleting Heat stack", "stackId", s.ID, "status", s.Status)
		if err := c.heat.delete(ctx, s); err != nil {
			return err
		}
		cur, err := c.waitFor(ctx, s, "DELETE")
		if err != nil {
			return err
		}
		if cur == nil {
			return nil
		}
	}
	return driver.Transient(fmt.Errorf("Heat stack %s is still there after repeated deletes", c.state.StackName))
}

// Rollback undoes an operation: INSTANTIATE deletes the stack; SCALE,
// SCALE_TO_LEVEL and CHANGE_EXT_CONN restore the stack parameters from
// before the operation.
func (d *Driver) Rollback(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	switch req.Operation {
	case model.OpInstantiate:
		c, err := d.begin(ctx, req, "", nil)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		defer func() { c.end("rollback of instantiate", start, err) }()
		if err := c.deleteStack(ctx); err != nil {
			return nil, err
		}
		return &driver.Result{State: json.RawMessage("null"), ResourceChanges: removedAll(req.Info)}, nil
	case model.OpScale, model.OpScaleToLevel, model.OpChangeExtConn:
		return d.restore(ctx, req)
	}
	return nil, fmt.Errorf("rollback of %s: %w", req.Operation, driver.ErrNotSupported)
}

// restore puts back the parameters from before the operation: Prev when
// the operation's own step completed (State is then its result), else the
// parameters in State, which the failed step never replaced. VNFCs beyond
// the restored capacities are removed newest first, as in scale-in.
func (d *Driver) restore(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	flavour := ""
	if req.Info != nil {
		flavour = req.Info.FlavourID
	}
	c, err := d.begin(ctx, req, flavour, nil)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("rollback of "+string(req.Operation), start, err) }()
	s, err := c.existing(ctx)
	if err != nil {
		return nil, err
	}
	back := c.state.Params
	if c.state.OpOccID == req.OpOccID && c.state.Prev != nil {
		back = c.state.Prev
	}
	if back == nil {
		if back, err = c.params(s); err != nil {
			return nil, err
		}
	}
	targets := map[string]int{}
	vdus, _ := nfvOf(back)["VDU"].(map[string]any)
	for vdu, e := range vdus {
		if n, ok := e.(map[string]any)["desired_capacity"].(float64); ok {
			targets[vdu] = int(n)
		}
	}
	t, live, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	if err := c.removeNewest(ctx, t, live, targets); err != nil {
		return nil, err
	}
	c.log.Info("restoring stack parameters", "stackId", s.ID)
	if s, err = c.update(ctx, s, nil, map[string]any{"nfv": back["nfv"]}); err != nil {
		return nil, err
	}
	_, info, err := c.read(ctx, s, req.Info)
	if err != nil {
		return nil, err
	}
	if req.Operation == model.OpChangeExtConn && req.Info != nil {
		// The links' previous description is not kept; the ids stay valid.
		info.ExtVirtualLinkInfo = req.Info.ExtVirtualLinkInfo
	}
	c.state = state{StackID: s.ID, StackName: s.Name, Params: back, OpOccID: req.OpOccID}
	return &driver.Result{State: c.state.raw(), InstantiatedVnfInfo: info, ResourceChanges: diff(req.Info, info)}, nil
}

// checkServers fails when a server of the given VNFCs is in ERROR: Heat may
// report a replacement complete while Nova has given up on it.
func (c *call) checkServers(ctx context.Context, vnfcs []model.VnfcResourceInfo) error {
	var bad []string
	for _, v := range vnfcs {
		srv, err := servers.Get(ctx, c.cl.nova, v.ComputeResource.ResourceID).Extract()
		if err != nil {
			if notFound(err) {
				bad = append(bad, fmt.Sprintf("VNFC %s (%s): server %s not found in Nova", v.ID, v.VduID, v.ComputeResource.ResourceID))
				continue
			}
			return classify("read Nova server "+v.ComputeResource.ResourceID, err)
		}
		if srv.Status == "ERROR" {
			msg := fmt.Sprintf("VNFC %s (%s): server %s is in ERROR", v.ID, v.VduID, srv.ID)
			if srv.Fault.Message != "" {
				msg += ": " + srv.Fault.Message
			}
			bad = append(bad, msg)
		}
	}
	if len(bad) > 0 {
		return &driver.ProblemError{Status: http.StatusInternalServerError, Title: "VNFC servers failed",
			Err: errors.New(strings.Join(bad, "; "))}
	}
	return nil
}

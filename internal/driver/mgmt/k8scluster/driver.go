// Package k8scluster is the "mgmt-drivers-kubernetes" management driver: it
// installs a Kubernetes cluster on the VMs of a VNF (masters and workers,
// found through the CPs named in k8s_cluster_installation_param), heals
// masters and workers, scales workers and registers the cluster as a
// Kubernetes VIM.
//
// On the nodes it runs the package's scripts over SSH (contract in
// scripts/k8s/README.md); everything cluster-wide is done here against the
// real APIs: etcd membership with clientv3, Nodes, drains and bootstrap
// tokens with client-go, HAProxy backend lists in the masters' config files.
package k8scluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
)

// Name is the VNFD artifact name this driver registers under.
const Name = "mgmt-drivers-kubernetes"

// VimRegistry is the part of the VIM registry the driver uses: it registers
// the cluster as a Kubernetes VIM and deregisters it.
type VimRegistry interface {
	Ensure(ctx context.Context, in model.Vim) (*model.Vim, error)
	// DeleteFor deletes a VIM unless an instance other than owner uses it;
	// an already deleted VIM is not an error.
	DeleteFor(ctx context.Context, id, owner string) error
}

// Config configures the driver. Zero durations take the defaults.
type Config struct {
	Vims VimRegistry
	Log  *slog.Logger
	// SSHConnectFor bounds how long a node's SSH server may take to come up
	// (a replaced VM is still booting). Default 5m.
	SSHConnectFor time.Duration
	// SSHAuthRetryFor bounds retrying refused credentials: sshd may answer
	// before cloud-init has set the password or key. Default 1m.
	SSHAuthRetryFor time.Duration
	// ScriptTimeout bounds one node script run. Default 30m.
	ScriptTimeout time.Duration
	// JoinTimeout bounds the wait for a joined node, an API server or an
	// etcd member to be ready. Default 5m.
	JoinTimeout time.Duration
	// DrainTimeout bounds evicting a node's pods. Default 2m.
	DrainTimeout time.Duration
}

// Driver implements driver.Mgmt.
type Driver struct {
	driver.MgmtDefaults
	cfg Config
	log *slog.Logger
}

var _ driver.Mgmt = (*Driver)(nil)

// New returns the driver.
func New(cfg Config) *Driver {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.SSHConnectFor, 5*time.Minute)
	def(&cfg.SSHAuthRetryFor, time.Minute)
	def(&cfg.ScriptTimeout, 30*time.Minute)
	def(&cfg.JoinTimeout, 5*time.Minute)
	def(&cfg.DrainTimeout, 2*time.Minute)
	return &Driver{cfg: cfg, log: cfg.Log.With("driver", Name)}
}

// state is what the driver keeps with the instance (sealed by lcm: it
// holds the node credentials).
type state struct {
	Install *installParam `json:"install,omitempty"`
	// VimID is the Kubernetes VIM registered for the cluster; it is also
	// the id of the vimConnectionInfo entry that names it.
	VimID string `json:"vimId,omitempty"`
	// Endpoint is the API as every node and the VIM reach it: HAProxy
	// on VIP (keepalived's), else on the first master.
	Endpoint string `json:"endpoint,omitempty"`
	VIP      string `json:"vip,omitempty"`
	CA       string `json:"ca,omitempty"`
	Token    string `json:"token,omitempty"`
	// HostKeys pins each VM's SSH host key, by Nova server id.
	HostKeys map[string]string `json:"hostKeys,omitempty"`
	// Joined maps each VNFC in the cluster to the server that joined,
	// Names to its Kubernetes node name.
	Joined map[string]string `json:"joined,omitempty"`
	Names  map[string]string `json:"names,omitempty"`
}

func loadState(raw json.RawMessage) (*state, error) {
	st := &state{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, st); err != nil {
			return nil, fmt.Errorf("decode %s state: %w", Name, err)
		}
	}
	if st.HostKeys == nil {
		st.HostKeys = map[string]string{}
	}
	if st.Joined == nil {
		st.Joined = map[string]string{}
	}
	if st.Names == nil {
		st.Names = map[string]string{}
	}
	return st, nil
}

func (st *state) raw() (json.RawMessage, error) {
	return json.Marshal(st)
}

// installed returns the state of an instance this driver installed.
func installed(req *driver.Request) (*state, error) {
	st, err := loadState(req.State)
	if err != nil {
		return nil, err
	}
	if st.Install == nil {
		return nil, invalid("the instance has no Kubernetes cluster installed by %s (instantiate_end did not complete)", Name)
	}
	return st, nil
}

// InstantiateEnd installs the cluster on the new VMs and registers it as a
// VIM.
func (d *Driver) InstantiateEnd(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	p, err := parseInstall(req.Params, req.Package)
	if err != nil {
		return nil, err
	}
	st, err := loadState(req.State)
	if err != nil {
		return nil, err
	}
	st.Install = p
	return d.install(ctx, req, st)
}

func (d *Driver) install(ctx context.Context, req *driver.Request, st *state) (*driver.Result, error) {
	s := d.session(req, st)
	defer s.close()
	masters, workers, err := nodes(req.Info, st.Install)
	if err != nil {
		return nil, err
	}
	vip, err := clusterIP(req.Info, st.Install)
	if err != nil {
		return nil, err
	}
	s.setEndpoint(vip, masters[0])
	start := time.Now()
	first := masters[0]
	if err := s.script(ctx, first, st.Install.ScriptPath, "init", s.nodeEnv(first, masters, map[string]string{
		"K8S_POD_CIDR":        st.Install.Master.PodCIDR,
		"K8S_SERVICE_CIDR":    st.Install.Master.ClusterCIDR,
		"K8S_CERTIFICATE_KEY": certificateKey(),
	})); err != nil {
		return nil, err
	}
	k, err := s.admin(ctx, first)
	if err != nil {
		return nil, err
	}
	st.Joined[first.VnfcID], st.Names[first.VnfcID] = first.ResourceID, first.Name
	s.log.Info("first master initialised", "node", first.Name, "ip", first.IP, "took", time.Since(start).Round(time.Millisecond))
	joined := masters[:1:1]
	for _, m := range masters[1:] {
		if err := s.joinMaster(ctx, k, m, joined, masters); err != nil {
			return nil, err
		}
		joined = append(joined, m)
	}
	if err := s.setHAProxy(ctx, masters); err != nil {
		return nil, err
	}
	for _, w := range workers {
		if err := s.joinWorker(ctx, k, w); err != nil {
			return nil, err
		}
	}
	if err := s.installHelm(ctx, masters); err != nil {
		return nil, err
	}
	res, err := s.registerVim(ctx, k, masters)
	if err != nil {
		return nil, err
	}
	s.log.Info("cluster installed", "masters", len(masters), "workers", len(workers), "endpoint", st.Endpoint, "took", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// TerminateEnd deregisters the cluster's VIM and drops its
// vimConnectionInfo; the VMs are gone.
func (d *Driver) TerminateEnd(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	st, err := loadState(req.State)
	if err != nil {
		return nil, err
	}
	res, err := d.deregister(ctx, req, st)
	if err != nil {
		return nil, err
	}
	res.State = json.RawMessage(`{}`)
	return res, nil
}

func (d *Driver) deregister(ctx context.Context, req *driver.Request, st *state) (*driver.Result, error) {
	res := &driver.Result{}
	if st.VimID != "" {
		if err := d.cfg.Vims.DeleteFor(ctx, st.VimID, req.Instance.ID); err != nil {
			return nil, fmt.Errorf("deregister Kubernetes VIM %s: %w", st.VimID, err)
		}
		d.log.Info("kubernetes VIM deregistered", "vim_id", st.VimID, "vnf_instance_id", req.Instance.ID)
		res.RemoveVimConnectionIDs = []string{st.VimID}
	}
	st.VimID, st.Token, st.Endpoint, st.VIP, st.CA = "", "", "", "", ""
	st.Joined, st.Names, st.HostKeys = map[string]string{}, map[string]string{}, map[string]string{}
	raw, err := st.raw()
	if err != nil {
		return nil, err
	}
	res.State = raw
	return res, nil
}

// healRequest is the part of a HealVnfRequest (SOL002 or SOL003) the driver
// reads.
type healRequest struct {
	VnfcInstanceID []string `json:"vnfcInstanceId"`
}

func (d *Driver) healTargets(req *driver.Request, st *state) (whole bool, masters, workers, healM, healW []node, err error) {
	var h healRequest
	if err = json.Unmarshal(req.Params, &h); err != nil {
		return false, nil, nil, nil, nil, fmt.Errorf("decode heal request: %w", err)
	}
	if len(h.VnfcInstanceID) == 0 {
		return true, nil, nil, nil, nil, nil
	}
	masters, workers, err = nodes(req.Info, st.Install)
	if err != nil {
		return false, nil, nil, nil, nil, err
	}
	for _, id := range h.VnfcInstanceID {
		if n, ok := findNode(masters, id); ok {
			healM = append(healM, n)
		} else if n, ok := findNode(workers, id); ok {
			healW = append(healW, n)
		}
	}
	return false, masters, workers, healM, healW, nil
}

// HealStart takes the VMs to be replaced out of the cluster: a master's
// etcd member, HAProxy backend and Node; a worker is drained and its Node
// deleted. Healing the whole VNF (no vnfcInstanceId) deregisters the VIM
// first, as terminate does, since every VM is rebuilt.
func (d *Driver) HealStart(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	st, err := installed(req)
	if err != nil {
		return nil, err
	}
	whole, masters, _, healM, healW, err := d.healTargets(req, st)
	if err != nil {
		return nil, err
	}
	if whole {
		return d.deregister(ctx, req, st)
	}
	if len(healM) == 0 && len(healW) == 0 {
		return nil, nil
	}
	survivors := without(masters, healM)
	if len(survivors) == 0 {
		names := make([]string, len(healM))
		for i, m := range healM {
			names[i] = m.VnfcID
		}
		if len(masters) == 1 {
			return nil, refused("VNFC %s is the only master of the cluster: healing it would lose etcd and the control plane; heal the whole VNF instead", names[0])
		}
		return nil, refused("healing VNFCs %s would replace every master at once and lose etcd quorum; heal them one at a time", strings.Join(names, ", "))
	}
	s := d.session(req, st)
	defer s.close()
	k, err := s.admin(ctx, survivors[0])
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if len(healM) > 0 {
		ec, err := s.etcd(ctx, survivors[0], survivors)
		if err != nil {
			return nil, err
		}
		defer ec.Close()
		for _, m := range healM {
			removed, err := ec.RemoveByPeerHost(ctx, m.IP)
			if err != nil {
				return nil, fmt.Errorf("remove etcd member of %s (%s): %w", m.Name, m.IP, err)
			}
			s.log.Info("etcd member removed", "node", m.Name, "ip", m.IP, "members", fmt.Sprint(removed))
			if err := k.deleteNode(ctx, m.Name); err != nil {
				return nil, err
			}
			delete(st.Joined, m.VnfcID)
			delete(st.Names, m.VnfcID)
		}
		if err := s.setHAProxy(ctx, survivors); err != nil {
			return nil, err
		}
	}
	for _, w := range healW {
		if err := s.removeWorker(ctx, k, w); err != nil {
			return nil, err
		}
	}
	s.log.Info("heal_start done", "masters", len(healM), "workers", len(healW), "took", time.Since(start).Round(time.Millisecond))
	return s.result(nil)
}

// HealEnd joins the replacement VMs (the whole cluster again for a heal of
// the whole VNF).
func (d *Driver) HealEnd(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	st, err := installed(req)
	if err != nil {
		return nil, err
	}
	whole, masters, _, healM, healW, err := d.healTargets(req, st)
	if err != nil {
		return nil, err
	}
	if whole {
		return d.install(ctx, req, st)
	}
	if len(healM) == 0 && len(healW) == 0 {
		return nil, nil
	}
	survivors := without(masters, healM)
	if len(survivors) == 0 {
		return nil, refused("no master survives the heal")
	}
	s := d.session(req, st)
	defer s.close()
	k, err := s.admin(ctx, survivors[0])
	if err != nil {
		return nil, err
	}
	start := time.Now()
	joined := slices.Clone(survivors)
	for _, m := range healM {
		if err := s.joinMaster(ctx, k, m, joined, masters); err != nil {
			return nil, err
		}
		joined = append(joined, m)
	}
	if len(healM) > 0 {
		if err := s.setHAProxy(ctx, masters); err != nil {
			return nil, err
		}
		if err := s.installHelm(ctx, healM); err != nil {
			return nil, err
		}
	}
	for _, w := range healW {
		if err := s.joinWorker(ctx, k, w); err != nil {
			return nil, err
		}
	}
	var vims []model.VimConnectionInfo
	if len(healM) > 0 && st.VimID != "" {
		res, err := s.registerVim(ctx, k, masters)
		if err != nil {
			return nil, err
		}
		vims = res.VimConnectionInfo
	}
	s.log.Info("heal_end done", "masters", len(healM), "workers", len(healW), "took", time.Since(start).Round(time.Millisecond))
	return s.result(vims)
}

// scaleRequest is the part of a ScaleVnfRequest the driver reads.
type scaleRequest struct {
	Type          string `json:"type"`
	AspectID      string `json:"aspectId"`
	NumberOfSteps *int   `json:"numberOfSteps"`
}

// ScaleStart drains and deletes the workers a scale-in removes: the newest
// of each VDU, as the infrastructure driver picks them.
func (d *Driver) ScaleStart(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	st, err := installed(req)
	if err != nil {
		return nil, err
	}
	var sr scaleRequest
	_ = json.Unmarshal(req.Params, &sr) // scale_to_level has no type: ScaleEnd reconciles it
	masters, workers, err := nodes(req.Info, st.Install)
	if err != nil {
		return nil, err
	}
	if sr.AspectID != "" && (sr.AspectID == st.Install.Master.AspectID || scalesMasters(req, masters, sr.AspectID)) {
		return nil, refused("aspect %s scales the masters: the %s driver scales workers only (heal replaces masters)", sr.AspectID, Name)
	}
	if sr.Type != "SCALE_IN" {
		return nil, nil
	}
	victims, err := scaleInVictims(req, workers, sr)
	if err != nil {
		return nil, err
	}
	if len(victims) == 0 {
		return nil, nil
	}
	s := d.session(req, st)
	defer s.close()
	k, err := s.admin(ctx, masters[0])
	if err != nil {
		return nil, err
	}
	for _, w := range victims {
		if err := s.removeWorker(ctx, k, w); err != nil {
			return nil, err
		}
	}
	return s.result(nil)
}

// scalesMasters reports whether the VNFD's aspect changes a master VDU
// (master_node.aspect_id is optional).
func scalesMasters(req *driver.Request, masters []node, aspect string) bool {
	if req.Vnfd == nil || req.Info == nil {
		return false
	}
	f, ok := req.Vnfd.Flavour(req.Info.FlavourID)
	if !ok {
		return false
	}
	for _, m := range masters {
		if slices.Contains(f.AspectsOf(m.VduID), aspect) {
			return true
		}
	}
	return false
}

// scaleInVictims are the last workers of each VDU the scale-in removes.
func scaleInVictims(req *driver.Request, workers []node, sr scaleRequest) ([]node, error) {
	if req.Vnfd == nil || req.Info == nil {
		return nil, nil
	}
	f, ok := req.Vnfd.Flavour(req.Info.FlavourID)
	if !ok {
		return nil, fmt.Errorf("flavour %s is not in the VNFD", req.Info.FlavourID)
	}
	level := 0
	for _, si := range req.Info.ScaleStatus {
		if si.AspectID == sr.AspectID {
			level = si.ScaleLevel
		}
	}
	steps := 1
	if sr.NumberOfSteps != nil {
		steps = *sr.NumberOfSteps
	}
	remove := map[string]int{}
	for l := level; l > level-steps && l >= 1; l-- {
		for vdu, n := range f.AspectDelta(sr.AspectID, l) {
			remove[vdu] += n
		}
	}
	byVDU := map[string][]node{}
	for _, w := range workers {
		byVDU[w.VduID] = append(byVDU[w.VduID], w)
	}
	var out []node
	for vdu, n := range remove {
		have := byVDU[vdu]
		for i := len(have) - 1; i >= 0 && i >= len(have)-n; i-- {
			out = append(out, have[i])
		}
	}
	return out, nil
}

// ScaleEnd joins the workers a scale-out added and forgets removed ones.
func (d *Driver) ScaleEnd(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	st, err := installed(req)
	if err != nil {
		return nil, err
	}
	masters, workers, err := nodes(req.Info, st.Install)
	if err != nil {
		return nil, err
	}
	s := d.session(req, st)
	defer s.close()
	var k *kube
	client := func() (*kube, error) {
		if k == nil {
			k, err = s.admin(ctx, masters[0])
		}
		return k, err
	}
	live := map[string]bool{}
	for _, n := range append(slices.Clone(masters), workers...) {
		live[n.VnfcID] = true
	}
	for id := range st.Joined {
		if live[id] {
			continue
		}
		// Gone without scale_start draining it (scale_to_level): its
		// Node must not linger NotReady.
		if name := st.Names[id]; name != "" {
			if _, err := client(); err != nil {
				return nil, err
			}
			if err := k.deleteNode(ctx, name); err != nil {
				return nil, err
			}
		}
		delete(st.Joined, id)
		delete(st.Names, id)
	}
	for _, w := range workers {
		if st.Joined[w.VnfcID] == w.ResourceID {
			continue
		}
		if _, err := client(); err != nil {
			return nil, err
		}
		if err := s.joinWorker(ctx, k, w); err != nil {
			return nil, err
		}
	}
	return s.result(nil)
}

// without returns list minus the nodes in drop.
func without(list, drop []node) []node {
	var out []node
	for _, n := range list {
		if _, ok := findNode(drop, n.VnfcID); !ok {
			out = append(out, n)
		}
	}
	return out
}

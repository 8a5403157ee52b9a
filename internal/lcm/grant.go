package lcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/conductor"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/scaling"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/nfvo"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// Granter asks the NFVO for permission before resources change (the SOL003
// Grant interface, *nfvo.Client). Without one every operation is granted
// locally.
type Granter interface {
	Grant(ctx context.Context, req *model.GrantRequest) (*model.Grant, error)
}

func (pc *planCtx) grant() conductor.Step {
	return conductor.Step{Name: "grant", Do: func(ctx context.Context, x *conductor.Exec) error {
		if pc.s.granter == nil {
			return nil
		}
		f, err := pc.s.loadFlow(x, pc.inst, pc.priv)
		if err != nil {
			return err
		}
		req, err := pc.grantRequest(x.Op.ID, f.Info)
		if err != nil {
			return err
		}
		g, err := pc.s.granter.Grant(ctx, req)
		var rej *nfvo.Rejected
		switch {
		case errors.As(err, &rej):
			return &conductor.Refused{Problem: &model.ProblemDetails{Status: 403, Title: "Grant rejected", Detail: rej.Error()}}
		case nfvo.IsTransient(err):
			return driver.Transient(err)
		case err != nil:
			return err
		}
		if missing := ungranted(req, g); len(missing) > 0 {
			return &conductor.Refused{Problem: &model.ProblemDetails{Status: 403, Title: "Grant rejected",
				Detail: "the NFVO's grant " + g.ID + " does not grant " + strings.Join(missing, ", ")}}
		}
		f.Grant = digestGrant(req, g)
		if f.GrantVim, err = pc.grantedVim(ctx, g); err != nil {
			return err
		}
		return pc.s.saveFlow(x, f)
	}}
}

// root is the API root for links the NFVO follows: SOL003 links are URIs,
// and a bare path means nothing to another server.
func (s *Service) root() string {
	if s.baseURL == nil {
		return ""
	}
	return strings.TrimRight(s.baseURL(), "/")
}

// grantedVim is the VIM a grant assigns to an instantiation that named
// none: the one its first granted addition names, else its first. It must
// be of the kind the operation was planned for.
func (pc *planCtx) grantedVim(ctx context.Context, g *model.Grant) (*model.VimConnectionInfo, error) {
	if pc.opName != model.OpInstantiate || !pc.noVim || len(g.VimConnections) == 0 {
		return nil, nil
	}
	vc := g.VimConnections[0]
	for _, gi := range g.AddResources {
		if gi.VimConnectionID == "" {
			continue
		}
		for _, c := range g.VimConnections {
			if c.ID == gi.VimConnectionID {
				vc = c
			}
		}
		break
	}
	d, full, err := pc.s.infraOn(ctx, pc.s.st, &vc)
	if err != nil {
		return nil, fmt.Errorf("the VIM of grant %s: %w", g.ID, err)
	}
	if fmt.Sprintf("%T", d) != fmt.Sprintf("%T", pc.infra) {
		return nil, fmt.Errorf("%w: grant %s assigns VIM %s of type %s, but the operation was planned for the default VIM's type %s; name the VIM in the request", ErrUnprocessable, g.ID, vc.ID, vc.VimType, pc.vim.VimType)
	}
	return full, nil
}

// ungranted lists the requested additions the grant does not approve: SOL003
// lets an NFVO grant fewer resources than asked, and vnfm does not run an
// operation half-granted.
func ungranted(req *model.GrantRequest, g *model.Grant) []string {
	ok := map[string]bool{}
	for _, gi := range g.AddResources {
		ok[gi.ResourceDefinitionID] = true
	}
	var out []string
	for _, r := range req.AddResources {
		if !ok[r.ID] {
			out = append(out, fmt.Sprintf("%s %s", r.Type, r.ResourceTemplateID))
		}
	}
	return out
}

// digestGrant is what drivers use of a grant: VIM flavours, images and
// zones per VDU.
func digestGrant(req *model.GrantRequest, g *model.Grant) *driver.Grant {
	out := &driver.Grant{ID: g.ID, Flavours: map[string]string{}, Images: map[string]string{}, Zones: map[string]string{}}
	if a := g.VimAssets; a != nil {
		for _, f := range a.ComputeResourceFlavours {
			out.Flavours[f.VnfdVirtualComputeDescID] = f.VimFlavourID
		}
		for _, im := range a.SoftwareImages {
			out.Images[im.VnfdSoftwareImageID] = im.VimSoftwareImageID
		}
	}
	zones := map[string]string{}
	for _, z := range g.Zones {
		zones[z.ID] = z.ZoneID
	}
	vdus := map[string]string{}
	for _, r := range req.AddResources {
		if r.Type == model.ResourceCompute {
			vdus[r.ID] = r.VduID
		}
	}
	for _, gi := range g.AddResources {
		if vdu, ok := vdus[gi.ResourceDefinitionID]; ok && gi.ZoneID != "" {
			if z, ok := zones[gi.ZoneID]; ok {
				out.Zones[vdu] = z
			}
		}
	}
	out.VimConnections = g.VimConnections
	return out
}

// grantRequest describes what the operation will add, remove or change.
func (pc *planCtx) grantRequest(opID string, info *model.InstantiatedVnfInfo) (*model.GrantRequest, error) {
	inst := pc.inst
	req := &model.GrantRequest{
		VnfInstanceID: inst.ID, VnfLcmOpOccID: opID, VnfdID: inst.VnfdID,
		Operation: pc.opName, FlavourID: flavourOf(inst, pc.params),
		Links: model.GrantRequestLinks{
			VnfLcmOpOcc: model.Link{Href: pc.s.root() + "/vnflcm/v1/vnf_lcm_op_occs/" + opID},
			VnfInstance: model.Link{Href: pc.s.root() + "/vnflcm/v1/vnf_instances/" + inst.ID},
		},
	}
	var fl *vnfd.Flavour
	if pc.vnfd != nil {
		fl, _ = pc.vnfd.Flavour(req.FlavourID)
	}
	add := func(typ model.ResourceType, vdu, template string) string {
		id := uuid.NewString()
		req.AddResources = append(req.AddResources, model.ResourceDefinition{ID: id, Type: typ, VduID: vdu, ResourceTemplateID: template})
		return id
	}
	remove := func(typ model.ResourceType, vdu, template string, h model.ResourceHandle) {
		req.RemoveResources = append(req.RemoveResources, model.ResourceDefinition{ID: uuid.NewString(), Type: typ, VduID: vdu, ResourceTemplateID: template, Resource: &h})
	}
	byVdu := map[string][]string{} // new compute resource ids per VDU, for placement
	addComputes := func(counts map[string]int) {
		for _, vdu := range slices.Sorted(maps.Keys(counts)) {
			for range counts[vdu] {
				byVdu[vdu] = append(byVdu[vdu], add(model.ResourceCompute, vdu, vdu))
			}
		}
	}
	var vnfcs []model.VnfcResourceInfo
	if info != nil {
		vnfcs = info.VnfcResourceInfo
	}
	removeNewest := func(counts map[string]int) {
		for _, vdu := range slices.Sorted(maps.Keys(counts)) {
			n := counts[vdu]
			for i := len(vnfcs) - 1; i >= 0 && n > 0; i-- {
				if vnfcs[i].VduID == vdu {
					remove(model.ResourceCompute, vdu, vdu, vnfcs[i].ComputeResource)
					n--
				}
			}
		}
	}

	switch pc.opName {
	case model.OpInstantiate:
		var r InstantiateVnfRequest
		if err := json.Unmarshal(pc.params, &r); err != nil {
			return nil, fmt.Errorf("decode parameters: %w", err)
		}
		req.InstantiationLevelID = r.InstantiationLevelID
		if fl != nil {
			counts := map[string]int{}
			for _, d := range fl.VDUs() {
				counts[d.Name] = fl.InstancesAt(d.Name, r.InstantiationLevelID)
			}
			addComputes(counts)
			for _, vl := range fl.VirtualLinks() {
				add(model.ResourceVL, "", vl.Name)
			}
			for _, s := range fl.Storages() {
				add(model.ResourceStorage, "", s.Name)
			}
		}
	case model.OpTerminate:
		if info != nil {
			for _, c := range info.VnfcResourceInfo {
				remove(model.ResourceCompute, c.VduID, c.VduID, c.ComputeResource)
			}
			for _, vl := range info.VirtualLinkResourceInfo {
				remove(model.ResourceVL, "", vl.VnfVirtualLinkDescID, vl.NetworkResource)
			}
			for _, s := range info.VirtualStorageResourceInfo {
				remove(model.ResourceStorage, "", s.VirtualStorageDescID, s.StorageResource)
			}
		}
	case model.OpScale, model.OpScaleToLevel:
		if fl == nil {
			break
		}
		var targets map[string]int
		var err error
		if pc.opName == model.OpScale {
			var r scaling.Request
			if err := json.Unmarshal(pc.params, &r); err != nil {
				return nil, fmt.Errorf("decode parameters: %w", err)
			}
			targets, err = scaling.Targets(fl, info, r)
		} else {
			var r scaling.LevelRequest
			if err := json.Unmarshal(pc.params, &r); err != nil {
				return nil, fmt.Errorf("decode parameters: %w", err)
			}
			req.InstantiationLevelID = r.InstantiationLevelID
			targets, err = scaling.LevelTargets(fl, info, r)
		}
		if err != nil {
			return nil, err
		}
		have := scaling.Counts(info)
		more, fewer := map[string]int{}, map[string]int{}
		for vdu, n := range targets {
			if d := n - have[vdu]; d > 0 {
				more[vdu] = d
			} else if d < 0 {
				fewer[vdu] = -d
			}
		}
		addComputes(more)
		removeNewest(fewer)
	case model.OpHeal:
		var r HealVnfRequest
		if err := json.Unmarshal(pc.params, &r); err != nil {
			return nil, fmt.Errorf("decode parameters: %w", err)
		}
		// A healed VNFC is replaced: its resource goes, a new one comes.
		for _, c := range vnfcs {
			if len(r.VnfcInstanceID) > 0 && !slices.Contains(r.VnfcInstanceID, c.ID) {
				continue
			}
			remove(model.ResourceCompute, c.VduID, c.VduID, c.ComputeResource)
			byVdu[c.VduID] = append(byVdu[c.VduID], add(model.ResourceCompute, c.VduID, c.VduID))
		}
	case model.OpChangeExtConn, model.OpChangeFlavour:
		// Nothing is added or removed by vnfm's own accounting; the grant
		// lets the NFVO see (and refuse) the change.
	}
	if fl != nil {
		req.PlacementConstraints = placement(fl, byVdu)
	}
	return req, nil
}

// placement turns the VNFD's affinity rules into constraints over the new
// compute resources of their target VDUs (SOL001 scopes map to SOL003's).
func placement(fl *vnfd.Flavour, byVdu map[string][]string) []model.PlacementConstraint {
	var out []model.PlacementConstraint
	for _, r := range fl.AffinityRules() {
		var refs []model.ConstraintResourceRef
		for _, t := range r.Targets {
			for _, id := range byVdu[t] {
				refs = append(refs, model.ConstraintResourceRef{IDType: model.ConstraintRefGrant, ResourceID: id})
			}
		}
		if len(refs) < 2 {
			continue // a constraint needs two resources
		}
		c := model.PlacementConstraint{AffinityOrAntiAffinity: model.AntiAffinity, Scope: scopeOf(r.Scope), Resource: refs}
		if r.Affinity {
			c.AffinityOrAntiAffinity = model.Affinity
		}
		out = append(out, c)
	}
	return out
}

func scopeOf(s string) model.AffinityScope {
	switch strings.ToLower(s) {
	case "zone":
		return model.ScopeZone
	case "zone_group":
		return model.ScopeZoneGroup
	case "nfvi_pop":
		return model.ScopeNfviPop
	}
	return model.ScopeNfviNode
}

package helm

import (
	"context"
	"net/http"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	kinfra "github.com/vnfm-project/vnfm/internal/driver/infra/kubernetes"
	"github.com/vnfm-project/vnfm/internal/model"
)

type healParams struct {
	VnfcInstanceID []string `json:"vnfcInstanceId"`
}

// Heal heals VNFCs. SOL002 (vnfcInstanceId given): each named VNFC's pod
// is deleted and its controller's replacement becomes the VNFC, which
// keeps its id. SOL003 (none named): the VNF as a whole is re-created,
// every release uninstalled and installed again with its recorded chart
// and values; the new pods take the VNFC ids of their VDU in age order.
func (d *Driver) Heal(ctx context.Context, req *driver.Request) (res *driver.Result, err error) {
	var p healParams
	if err := decode(req.Params, &p); err != nil {
		return nil, err
	}
	if req.Info == nil {
		return nil, unprocessable("the VNF instance has no resources to heal", nil)
	}
	st, err := readState(req.State)
	if err != nil {
		return nil, err
	}
	if len(st.Releases) == 0 {
		return nil, &driver.ProblemError{Status: http.StatusConflict, Title: "No Helm release recorded",
			Err: errNoRelease}
	}
	c, err := d.begin(ctx, req, st)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { c.end("heal", start, err) }()
	st.Prev, st.OpOccID = nil, req.OpOccID
	if len(p.VnfcInstanceID) > 0 {
		vnfcs, rc, err := kinfra.HealPods(ctx, c.kube, req.Info.VnfcResourceInfo, p.VnfcInstanceID, st.kubeWorkloads(), d.cfg.Timeout)
		if err != nil {
			return nil, err
		}
		return &driver.Result{State: st.raw(), InstantiatedVnfInfo: newInfo(req.Info, vnfcs), ResourceChanges: rc}, nil
	}

	tr, err := c.helm(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(st.Releases) - 1; i >= 0; i-- {
		name := st.Releases[i].Name
		if err := c.owned(ctx, name); err != nil {
			return nil, err
		}
		c.log.Info("re-creating Helm release: uninstall", "release", name)
		if err := tr.Uninstall(ctx, name); err != nil {
			return nil, err
		}
	}
	for i := range st.Releases {
		if _, err := c.ensure(ctx, &st.Releases[i]); err != nil {
			return nil, err
		}
	}
	if err := kinfra.WaitReady(ctx, c.kube, st.kubeWorkloads(), d.cfg.Timeout); err != nil {
		return nil, err
	}
	fresh, err := kinfra.Vnfcs(ctx, c.kube, req.Vim.ID, st.kubeWorkloads(), nil)
	if err != nil {
		return nil, err
	}
	vnfcs := keepIDs(req.Info.VnfcResourceInfo, fresh)
	return &driver.Result{State: st.raw(), InstantiatedVnfInfo: newInfo(req.Info, vnfcs), ResourceChanges: diff(req.Info.VnfcResourceInfo, vnfcs)}, nil
}

// keepIDs gives the VNFCs of fresh the ids of old, per VDU, oldest first
// (both lists are sorted so): a re-created VNF keeps its VNFCs.
func keepIDs(old, fresh []model.VnfcResourceInfo) []model.VnfcResourceInfo {
	ids := map[string][]string{}
	for _, v := range old {
		ids[v.VduID] = append(ids[v.VduID], v.ID)
	}
	out := make([]model.VnfcResourceInfo, len(fresh))
	for i, v := range fresh {
		if l := ids[v.VduID]; len(l) > 0 {
			v.ID, ids[v.VduID] = l[0], l[1:]
		}
		out[i] = v
	}
	return out
}

package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// instanceView is the served representation: the stored document plus
// links, which depend on the state and on the URL the client used.
func (a *API) instanceView(r *http.Request, inst *store.Instance) *model.VnfInstance {
	v := inst.VnfInstance
	v.VnfPkgInfoID = v.VnfPkgID
	self := a.base(r) + prefix + "/vnf_instances/" + v.ID
	l := &model.VnfInstanceLinks{Self: model.Link{Href: self}}
	link := func(task string) *model.Link { return &model.Link{Href: self + "/" + task} }
	if v.InstantiationState == model.NotInstantiated {
		l.Instantiate = link("instantiate")
	} else {
		l.Terminate = link("terminate")
		l.Scale = link("scale")
		l.ScaleToLevel = link("scale_to_level")
		l.ChangeFlavour = link("change_flavour")
		l.Heal = link("heal")
		l.Operate = link("operate")
		l.ChangeExtConn = link("change_ext_conn")
	}
	v.Links = l
	return &v
}

func (a *API) opOccView(r *http.Request, op *store.OpOcc) *model.VnfLcmOpOcc {
	v := op.VnfLcmOpOcc
	if len(v.OperationParams) == 0 {
		v.OperationParams = []byte("{}")
	} else {
		v.OperationParams = servedParams(v.OperationParams)
	}
	self := a.base(r) + prefix + "/vnf_lcm_op_occs/" + v.ID
	l := &model.OpOccLinks{
		Self:        model.Link{Href: self},
		VnfInstance: model.Link{Href: a.base(r) + prefix + "/vnf_instances/" + v.VnfInstanceID},
	}
	switch v.OperationState {
	case model.FailedTemp:
		l.Retry = &model.Link{Href: self + "/retry"}
		l.Rollback = &model.Link{Href: self + "/rollback"}
		l.Fail = &model.Link{Href: self + "/fail"}
	case model.Starting, model.Processing, model.RollingBack:
		l.Cancel = &model.Link{Href: self + "/cancel"}
	}
	v.Links = l
	return &v
}

func (a *API) createInstance(w http.ResponseWriter, r *http.Request) {
	var req lcm.CreateVnfRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	inst, err := a.lcm.CreateInstance(r.Context(), &req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := a.instanceView(r, inst)
	w.Header().Set("Location", v.Links.Self.Href)
	w.Header().Set("ETag", lcm.ETag(inst.Revision))
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) getInstance(w http.ResponseWriter, r *http.Request) {
	inst, err := a.lcm.GetInstance(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", lcm.ETag(inst.Revision))
	writeJSON(w, http.StatusOK, a.instanceView(r, inst))
}

func (a *API) modifyInstance(w http.ResponseWriter, r *http.Request) {
	var req lcm.VnfInfoModificationRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	op, err := a.lcm.Modify(r.Context(), chi.URLParam(r, "id"), &req, r.Header.Get("If-Match"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.accepted(w, r, op)
}

func (a *API) deleteInstance(w http.ResponseWriter, r *http.Request) {
	if err := a.lcm.DeleteInstance(r.Context(), chi.URLParam(r, "id"), r.Header.Get("If-Match")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// accepted answers a task: 202, no body, Location of the op occ.
func (a *API) accepted(w http.ResponseWriter, r *http.Request, op *store.OpOcc) {
	w.Header().Set("Location", a.base(r)+prefix+"/vnf_lcm_op_occs/"+op.ID)
	w.WriteHeader(http.StatusAccepted)
}

// task handles POST /vnf_instances/{id}/<task>.
func task[T any](a *API, start func(ctx context.Context, id string, req *T) (*store.OpOcc, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := new(T)
		if err := decode(r, req); err != nil {
			a.fail(w, r, err)
			return
		}
		op, err := start(r.Context(), chi.URLParam(r, "id"), req)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.accepted(w, r, op)
	}
}

func (a *API) getOpOcc(w http.ResponseWriter, r *http.Request) {
	op, err := a.lcm.GetOpOcc(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.opOccView(r, op))
}

// resolveOp handles retry, rollback (202 + Location) and fail (200 + the op
// occ, which the Tacker CLI prints).
func (a *API) resolveOp(fn func(ctx context.Context, id string) (*store.OpOcc, error), withBody bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := fn(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if withBody {
			writeJSON(w, http.StatusOK, a.opOccView(r, op))
			return
		}
		a.accepted(w, r, op)
	}
}

func (a *API) cancelOp(w http.ResponseWriter, r *http.Request) {
	var req lcm.CancelMode
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	if err := a.lcm.Cancel(r.Context(), id, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", a.base(r)+prefix+"/vnf_lcm_op_occs/"+id)
	w.WriteHeader(http.StatusAccepted)
}

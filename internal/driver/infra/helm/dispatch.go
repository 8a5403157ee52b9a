package helm

import (
	"context"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
)

// manifests is the Kubernetes manifests driver as OnKubernetes needs it.
type manifests interface {
	driver.Infra
	driver.ScaleToLeveler
	driver.Rollbacker
}

// OnKubernetes serves a Kubernetes VIM type with two drivers, as Tacker v1
// does: CNFs instantiated with additionalParams.use_helm go to the Helm
// driver d, the others to the manifests driver k. After instantiation the
// instance's driver state says which one deployed it.
func OnKubernetes(k manifests, d *Driver) driver.Infra {
	return &dispatch{k: k, h: d}
}

type dispatch struct {
	k manifests
	h *Driver
}

var (
	_ driver.ScaleToLeveler = (*dispatch)(nil)
	_ driver.Rollbacker     = (*dispatch)(nil)
)

// pick chooses by the request for an instantiation (and its rollback),
// by the state the instance kept for everything after.
func (x *dispatch) pick(req *driver.Request) manifests {
	if req.Operation == model.OpInstantiate {
		if x.h.Wants(req.Params) {
			return x.h
		}
		return x.k
	}
	if x.h.Owns(req.State) {
		return x.h
	}
	return x.k
}

func (x *dispatch) Instantiate(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return x.pick(req).Instantiate(ctx, req)
}

func (x *dispatch) Terminate(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return x.pick(req).Terminate(ctx, req)
}

func (x *dispatch) Scale(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return x.pick(req).Scale(ctx, req)
}

func (x *dispatch) Heal(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return x.pick(req).Heal(ctx, req)
}

func (x *dispatch) ScaleToLevel(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return x.pick(req).ScaleToLevel(ctx, req)
}

func (x *dispatch) Rollback(ctx context.Context, req *driver.Request) (*driver.Result, error) {
	return x.pick(req).Rollback(ctx, req)
}

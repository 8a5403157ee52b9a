package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/vnfm-project/vnfm/internal/driver"
)

// fieldManager owns what vnfm applies (server-side apply).
const fieldManager = "vnfm"

// objRef names an object the driver applied.
type objRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r objRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// kube is one VIM's API as the driver uses it: typed and dynamic clients,
// and a REST mapper filled from discovery on first use.
type kube struct {
	c      kubernetes.Interface
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	log    *slog.Logger
	// crdApplied: kinds may appear while the call runs, so an unknown
	// kind is looked up again for a while before it is an error.
	crdApplied bool
}

func newKube(cfg *rest.Config, log *slog.Logger) (*kube, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, unprocessable("Kubernetes client", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, unprocessable("Kubernetes dynamic client", err)
	}
	return &kube{
		c: c, dyn: dyn, log: log,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Discovery())),
	}, nil
}

// resource returns the client of an apiVersion/kind in namespace ns (ns is
// ignored for cluster-scoped kinds) and whether the kind is namespaced.
func (k *kube) resource(ctx context.Context, apiVersion, kind, ns string) (dynamic.ResourceInterface, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, unprocessable(fmt.Sprintf("apiVersion %q of %s is invalid", apiVersion, kind), err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: kind}
	var m *meta.RESTMapping
	deadline := time.Now().Add(time.Minute)
	for reset := false; ; reset = true {
		m, err = k.mapper.RESTMapping(gk, gv.Version)
		if err == nil || !meta.IsNoMatchError(err) {
			break
		}
		if reset && (!k.crdApplied || time.Now().After(deadline)) {
			break
		}
		if reset {
			if err := sleep(ctx, time.Second); err != nil {
				return nil, false, err
			}
		}
		// A stale discovery cache, or a CRD just applied.
		k.mapper.Reset()
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, false, unprocessable(fmt.Sprintf("kind %s of apiVersion %s is not served by the cluster", kind, apiVersion), nil)
		}
		return nil, false, classify("discover "+apiVersion+" "+kind, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return k.dyn.Resource(m.Resource).Namespace(ns), true, nil
	}
	return k.dyn.Resource(m.Resource), false, nil
}

// apply applies one manifest (server-side apply, forced: vnfm owns what
// the package declares) and returns its reference. Objects without a
// namespace go to ns.
func (k *kube) apply(ctx context.Context, m manifest, ns string) (objRef, error) {
	o := m.obj
	target := o.GetNamespace()
	if target == "" {
		target = ns
	}
	ri, namespaced, err := k.resource(ctx, o.GetAPIVersion(), o.GetKind(), target)
	if err != nil {
		return objRef{}, within(m.String(), err)
	}
	ref := objRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Name: o.GetName()}
	if namespaced {
		o = o.DeepCopy()
		o.SetNamespace(target)
		ref.Namespace = target
	}
	if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		if o.GetKind() == "Secret" {
			err = redact(err)
		}
		if apierrors.IsNotFound(err) && namespaced {
			return objRef{}, &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "Kubernetes namespace not found",
				Err: fmt.Errorf("apply %s: namespace %s does not exist: %w", m, target, err)}
		}
		return objRef{}, classify("apply "+m.String(), err)
	}
	if o.GetKind() == "CustomResourceDefinition" {
		k.crdApplied = true
	}
	// Names only: the object may be a Secret.
	k.log.Info("applied", "kind", ref.Kind, "namespace", ref.Namespace, "name", ref.Name)
	return ref, nil
}

// applyAll applies manifests in order.
func (k *kube) applyAll(ctx context.Context, ms []manifest, ns string) ([]objRef, error) {
	refs := make([]objRef, 0, len(ms))
	for _, m := range ms {
		ref, err := k.apply(ctx, m, ns)
		if err != nil {
			return refs, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// deleteOpts are how objects are deleted: with a grace period (nil = the
// pods' own) and a propagation policy.
type deleteOpts struct {
	grace       *int64
	propagation metav1.DeletionPropagation
}

func (o deleteOpts) options() metav1.DeleteOptions {
	p := o.propagation
	return metav1.DeleteOptions{GracePeriodSeconds: o.grace, PropagationPolicy: &p}
}

// remove deletes one object; gone already is fine.
func (k *kube) remove(ctx context.Context, ref objRef, o deleteOpts) error {
	ri, _, err := k.resource(ctx, ref.APIVersion, ref.Kind, ref.Namespace)
	if err != nil {
		var pe *driver.ProblemError
		if errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity {
			// The kind is gone (its CRD deleted first): so is the object.
			k.log.Info("kind not served any more, nothing to delete", "kind", ref.Kind, "name", ref.Name)
			return nil
		}
		return err
	}
	err = ri.Delete(ctx, ref.Name, o.options())
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		if ref.Kind == "Secret" {
			err = redact(err)
		}
		return classify("delete "+ref.String(), err)
	}
	k.log.Info("deleted", "kind", ref.Kind, "namespace", ref.Namespace, "name", ref.Name)
	return nil
}

// exists reports whether an object is still there (being deleted counts).
func (k *kube) exists(ctx context.Context, ref objRef) (bool, error) {
	ri, _, err := k.resource(ctx, ref.APIVersion, ref.Kind, ref.Namespace)
	if err != nil {
		var pe *driver.ProblemError
		if errors.As(err, &pe) && pe.Status == http.StatusUnprocessableEntity {
			return false, nil
		}
		return false, err
	}
	_, err = ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, classify("read "+ref.String(), err)
	}
	return true, nil
}

// podRef is a pod by identity: a replacement with the same name is
// another pod.
type podRef struct {
	ns, name string
	uid      types.UID
}

// podsOfAll lists the pods of workloads; missing workloads have none.
func (k *kube) podsOfAll(ctx context.Context, ws []Workload) ([]podRef, error) {
	var out []podRef
	for _, w := range ws {
		lp, err := podsOf(ctx, k.c, w)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, p := range lp.pods {
			out = append(out, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
		}
	}
	return out, nil
}

// deleteAll deletes refs in reverse order, and the pods of the workloads
// with the same grace period (the controllers' garbage collection would
// use the pods' own), then waits until all of it is gone.
func (k *kube) deleteAll(ctx context.Context, refs []objRef, ws []Workload, o deleteOpts, timeout time.Duration) error {
	pods, err := k.podsOfAll(ctx, ws)
	if err != nil {
		return err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		if err := k.remove(ctx, refs[i], o); err != nil {
			return err
		}
	}
	for _, p := range pods {
		uid := p.uid
		err := k.c.CoreV1().Pods(p.ns).Delete(ctx, p.name, metav1.DeleteOptions{GracePeriodSeconds: o.grace, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return classify("delete pod "+p.ns+"/"+p.name, err)
		}
	}
	return k.waitGone(ctx, refs, pods, timeout)
}

// waitGone waits until no ref and no pod of pods exists.
func (k *kube) waitGone(ctx context.Context, refs []objRef, pods []podRef, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var pause backoff
	for {
		var left []string
		for _, r := range refs {
			ok, err := k.exists(ctx, r)
			if err != nil {
				var te *driver.TransientError
				if !errors.As(err, &te) {
					return err
				}
				ok = true
			}
			if ok {
				left = append(left, r.String())
			}
		}
		for _, p := range pods {
			cur, err := k.c.CoreV1().Pods(p.ns).Get(ctx, p.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || (err == nil && cur.UID != p.uid) {
				continue
			}
			left = append(left, "Pod "+p.ns+"/"+p.name)
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return &driver.ProblemError{Status: http.StatusGatewayTimeout, Title: "Kubernetes deletion timed out",
				Err: fmt.Errorf("still present %s after their deletion: %s", timeout, strings.Join(left, ", "))}
		}
		if err := sleep(ctx, pause.next()); err != nil {
			return fmt.Errorf("wait for deletion: %w", err)
		}
	}
}

// scaleTo sets a workload's replicas through its scale subresource.
func (k *kube) scaleTo(ctx context.Context, w Workload, n int) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n))
	opts := metav1.PatchOptions{FieldManager: fieldManager}
	var err error
	switch w.Kind {
	case KindDeployment:
		_, err = k.c.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, opts, "scale")
	case KindStatefulSet:
		_, err = k.c.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, opts, "scale")
	case KindReplicaSet:
		_, err = k.c.AppsV1().ReplicaSets(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, opts, "scale")
	default:
		return unprocessable(fmt.Sprintf("%s cannot be scaled: only Deployments, StatefulSets and ReplicaSets have replicas", w), nil)
	}
	if err != nil {
		return classify(fmt.Sprintf("scale %s to %d", w, n), err)
	}
	k.log.Info("scaled", "workload", w.String(), "replicas", n)
	return nil
}

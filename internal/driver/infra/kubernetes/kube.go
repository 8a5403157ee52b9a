package kubernetes

// The exported helpers here are shared with the Helm driver: they work on a
// Kubernetes VIM and on workloads, whatever deployed them.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
)

// Connect builds a client config from a Kubernetes VIM:
// interfaceInfo.endpoint, interfaceInfo.ssl_ca_cert (PEM; absent = system
// roots), accessInfo bearer_token | username+password | client_cert+
// client_key (PEM). Errors name fields, never values: accessInfo holds
// secrets.
func Connect(vim *model.VimConnectionInfo) (*rest.Config, error) {
	if vim == nil {
		return nil, unprocessable("no vimConnectionInfo for the Kubernetes driver", nil)
	}
	ii, ai := vim.InterfaceInfo, vim.AccessInfo
	endpoint, err := field(ii, "interfaceInfo", "endpoint")
	if err != nil {
		return nil, err
	}
	if endpoint == "" {
		return nil, unprocessable("vimConnectionInfo.interfaceInfo.endpoint (the Kubernetes API server URL) is missing", nil)
	}
	u, perr := url.Parse(endpoint)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, unprocessable("vimConnectionInfo.interfaceInfo.endpoint is not an http(s) URL", nil)
	}
	cfg := &rest.Config{
		Host:      endpoint,
		UserAgent: "vnfm",
		// A bound per request, so that an API server that stops answering
		// becomes a transient error rather than a step hanging.
		Timeout: time.Minute,
		QPS:     50,
		Burst:   100,
	}
	ca, err := field(ii, "interfaceInfo", "ssl_ca_cert")
	if err != nil {
		return nil, err
	}
	if ca != "" {
		if !validPEMCerts(ca) {
			return nil, unprocessable("vimConnectionInfo.interfaceInfo.ssl_ca_cert holds no PEM certificate", nil)
		}
		cfg.CAData = []byte(ca)
	}
	token, err := field(ai, "accessInfo", "bearer_token")
	if err != nil {
		return nil, err
	}
	user, err := field(ai, "accessInfo", "username")
	if err != nil {
		return nil, err
	}
	pass, err := field(ai, "accessInfo", "password")
	if err != nil {
		return nil, err
	}
	cert, err := field(ai, "accessInfo", "client_cert")
	if err != nil {
		return nil, err
	}
	key, err := field(ai, "accessInfo", "client_key")
	if err != nil {
		return nil, err
	}
	switch {
	case token != "":
		cfg.BearerToken = token
	case user != "" && pass != "":
		cfg.Username, cfg.Password = user, pass
	case cert != "" && key != "":
		if !validPEMCerts(cert) {
			return nil, unprocessable("vimConnectionInfo.accessInfo.client_cert holds no PEM certificate", nil)
		}
		if b, _ := pem.Decode([]byte(key)); b == nil {
			return nil, unprocessable("vimConnectionInfo.accessInfo.client_key is not PEM", nil)
		}
		cfg.CertData, cfg.KeyData = []byte(cert), []byte(key)
	default:
		return nil, unprocessable("vimConnectionInfo.accessInfo needs bearer_token, username and password, or client_cert and client_key", nil)
	}
	return cfg, nil
}

func validPEMCerts(s string) bool {
	rest, n := []byte(s), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return n > 0
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return false
		}
		n++
	}
}

// field reads m[name] as a string ("" when absent). A present non-string
// value is an error naming the field.
func field(m map[string]any, where, name string) (string, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", unprocessable(fmt.Sprintf("vimConnectionInfo.%s.%s must be a string", where, name), nil)
	}
	return s, nil
}

// Namespace is where a VNF's objects go: additionalParams.namespace, else
// vim.InterfaceInfo["namespace"], else "default".
func Namespace(additional map[string]any, vim *model.VimConnectionInfo) string {
	if s, _ := additional["namespace"].(string); s != "" {
		return s
	}
	if vim != nil {
		if s, _ := vim.InterfaceInfo["namespace"].(string); s != "" {
			return s
		}
	}
	return "default"
}

// Workload is a pod controller (Deployment, StatefulSet, ReplicaSet,
// DaemonSet) or a bare Pod that backs a VDU.
type Workload struct{ Kind, Namespace, Name, VduID string }

func (w Workload) String() string { return w.Kind + " " + w.Namespace + "/" + w.Name }

// Workload kinds.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindReplicaSet  = "ReplicaSet"
	KindDaemonSet   = "DaemonSet"
	KindPod         = "Pod"
)

// workloadKind reports whether apiVersion/kind is a workload.
func workloadKind(apiVersion, kind string) bool {
	switch kind {
	case KindDeployment, KindStatefulSet, KindReplicaSet, KindDaemonSet:
		return strings.HasPrefix(apiVersion, "apps/")
	case KindPod:
		return apiVersion == "v1"
	}
	return false
}

// scalable kinds have a scale subresource.
func scalable(kind string) bool {
	return kind == KindDeployment || kind == KindStatefulSet || kind == KindReplicaSet
}

// livePods are a workload's current pods, and the workload's UID.
type livePods struct {
	uid  types.UID
	pods []corev1.Pod
}

// podsOf finds the pods of w through owner references (Deployment →
// ReplicaSet → Pod). Terminating pods, and finished pods of controllers
// (which replace them), are left out: they are no VNFCs any more.
func podsOf(ctx context.Context, c kubernetes.Interface, w Workload) (*livePods, error) {
	var (
		uid    types.UID
		sel    *metav1.LabelSelector
		owners []types.UID
	)
	switch w.Kind {
	case KindPod:
		p, err := c.CoreV1().Pods(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, classify("read "+w.String(), err)
		}
		out := &livePods{uid: p.UID}
		if p.DeletionTimestamp == nil {
			out.pods = []corev1.Pod{*p}
		}
		return out, nil
	case KindDeployment:
		d, err := c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, classify("read "+w.String(), err)
		}
		uid, sel = d.UID, d.Spec.Selector
		rss, err := c.AppsV1().ReplicaSets(w.Namespace).List(ctx, listBy(sel))
		if err != nil {
			return nil, classify("list ReplicaSets of "+w.String(), err)
		}
		for _, rs := range rss.Items {
			if controlledBy(rs.OwnerReferences, uid) {
				owners = append(owners, rs.UID)
			}
		}
	case KindStatefulSet:
		s, err := c.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, classify("read "+w.String(), err)
		}
		uid, sel = s.UID, s.Spec.Selector
		owners = []types.UID{uid}
	case KindReplicaSet:
		rs, err := c.AppsV1().ReplicaSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, classify("read "+w.String(), err)
		}
		uid, sel = rs.UID, rs.Spec.Selector
		owners = []types.UID{uid}
	case KindDaemonSet:
		ds, err := c.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return nil, classify("read "+w.String(), err)
		}
		uid, sel = ds.UID, ds.Spec.Selector
		owners = []types.UID{uid}
	default:
		return nil, unprocessable(fmt.Sprintf("%s: kind %q is not a workload (Deployment, StatefulSet, ReplicaSet, DaemonSet or Pod)", w, w.Kind), nil)
	}
	out := &livePods{uid: uid}
	if len(owners) == 0 {
		return out, nil
	}
	list, err := c.CoreV1().Pods(w.Namespace).List(ctx, listBy(sel))
	if err != nil {
		return nil, classify("list pods of "+w.String(), err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, o := range owners {
			if controlledBy(p.OwnerReferences, o) {
				out.pods = append(out.pods, p)
				break
			}
		}
	}
	return out, nil
}

// listBy narrows a list to a selector's labels (owner references decide;
// the selector only spares listing the whole namespace).
func listBy(sel *metav1.LabelSelector) metav1.ListOptions {
	if sel == nil {
		return metav1.ListOptions{}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return metav1.ListOptions{}
	}
	return metav1.ListOptions{LabelSelector: s.String()}
}

func controlledBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid && r.Controller != nil && *r.Controller {
			return true
		}
	}
	return false
}

func metaString(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// podAt is a VNFC with its pod's creation time, for ordering.
type podAt struct {
	v       model.VnfcResourceInfo
	created time.Time
	vdu     int // index of the VDU's first workload
}

func sortVnfcs(list []podAt) []model.VnfcResourceInfo {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.vdu != b.vdu {
			return a.vdu < b.vdu
		}
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.v.ComputeResource.ResourceID < b.v.ComputeResource.ResourceID
	})
	out := make([]model.VnfcResourceInfo, 0, len(list))
	for _, x := range list {
		out = append(out, x.v)
	}
	return out
}

func vnfcOf(id, vimConnID string, w Workload, pod string) model.VnfcResourceInfo {
	return model.VnfcResourceInfo{
		ID:    id,
		VduID: w.VduID,
		ComputeResource: model.ResourceHandle{
			VimConnectionID: vimConnID, ResourceID: pod, VimLevelResourceType: w.Kind,
		},
		Metadata: map[string]any{"namespace": w.Namespace, "workload": w.Name},
	}
}

// Vnfcs lists one VnfcResourceInfo per pod of the workloads (pods found
// through owner references, Deployment→ReplicaSet→Pod), computeResource
// {vimConnectionId, resourceId: pod name, vimLevelResourceType: workload
// kind}, metadata {namespace, workload}; VNFCs of prev whose pod still
// exists keep their id; the others get new ids; sorted oldest pod first per
// VDU.
func Vnfcs(ctx context.Context, c kubernetes.Interface, vimConnID string, workloads []Workload, prev []model.VnfcResourceInfo) ([]model.VnfcResourceInfo, error) {
	known := map[string]string{} // namespace/pod -> VNFC id ("*/pod": any namespace)
	for _, v := range prev {
		ns := metaString(v.Metadata, "namespace")
		if ns == "" {
			ns = "*"
		}
		known[ns+"/"+v.ComputeResource.ResourceID] = v.ID
	}
	vduIdx := map[string]int{}
	var list []podAt
	used := map[string]bool{}
	for i, w := range workloads {
		if _, ok := vduIdx[w.VduID]; !ok {
			vduIdx[w.VduID] = i
		}
		lp, err := podsOf(ctx, c, w)
		if err != nil {
			return nil, err
		}
		for _, p := range lp.pods {
			id := known[w.Namespace+"/"+p.Name]
			if id == "" {
				id = known["*/"+p.Name]
			}
			if id == "" || used[id] {
				id = uuid.NewString()
			}
			used[id] = true
			list = append(list, podAt{v: vnfcOf(id, vimConnID, w, p.Name), created: p.CreationTimestamp.Time, vdu: vduIdx[w.VduID]})
		}
	}
	return sortVnfcs(list), nil
}

// backoff is the pause between two polls: short at first (on an idle
// cluster most waits end within a second), then at most a second.
type backoff struct{ d time.Duration }

func (b *backoff) next() time.Duration {
	b.d = min(max(2*b.d, 100*time.Millisecond), time.Second)
	return b.d
}

// WaitReady waits until every workload is ready (Deployment:
// observedGeneration current and availableReplicas==replicas with updated
// replicas; StatefulSet readyReplicas==replicas; ReplicaSet; DaemonSet
// numberReady==desiredNumberScheduled; Pod Ready), or the timeout: the
// error (ProblemError 504) names what is not ready and why, with the
// reasons its pods give. A workload that does not exist fails at once
// (ProblemError 404); transient API errors are polled through.
func WaitReady(ctx context.Context, c kubernetes.Interface, workloads []Workload, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var pause backoff
	for {
		var (
			why []string
			bad []Workload
		)
		for _, w := range workloads {
			ok, reason, err := ready(ctx, c, w)
			if err != nil {
				// A missing workload fails at once: nothing brings it back.
				var te *driver.TransientError
				if !errors.As(err, &te) {
					return err
				}
				reason = err.Error() // keep polling: it may pass
			}
			if !ok {
				why = append(why, w.String()+": "+reason)
				bad = append(bad, w)
			}
		}
		if len(why) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			detail := slices.Clone(why)
			// The pods say why (image pull, scheduling, crashes).
			for _, w := range bad {
				if p := podReasons(ctx, c, w); p != "" {
					detail = append(detail, w.String()+" pods: "+p)
				}
			}
			return &driver.ProblemError{Status: http.StatusGatewayTimeout, Title: "Kubernetes workloads not ready",
				Err: fmt.Errorf("not ready after %s: %s", timeout, strings.Join(detail, "; "))}
		}
		if err := sleep(ctx, pause.next()); err != nil {
			return fmt.Errorf("wait for workloads: %w", err)
		}
	}
}

// ready reports whether a workload is ready, else what it lacks.
func ready(ctx context.Context, c kubernetes.Interface, w Workload) (bool, string, error) {
	switch w.Kind {
	case KindDeployment:
		d, err := c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", classify("read "+w.String(), err)
		}
		want := replicasOf(d.Spec.Replicas)
		s := d.Status
		switch {
		case s.ObservedGeneration < d.Generation:
			return false, "the controller has not seen the latest spec yet", nil
		case s.UpdatedReplicas != want || s.Replicas != want || s.AvailableReplicas != want:
			return false, fmt.Sprintf("%d/%d available, %d updated, %d in total", s.AvailableReplicas, want, s.UpdatedReplicas, s.Replicas), nil
		}
		return true, "", nil
	case KindStatefulSet:
		st, err := c.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", classify("read "+w.String(), err)
		}
		want := replicasOf(st.Spec.Replicas)
		s := st.Status
		switch {
		case s.ObservedGeneration < st.Generation:
			return false, "the controller has not seen the latest spec yet", nil
		case s.ReadyReplicas != want || s.Replicas != want:
			return false, fmt.Sprintf("%d/%d ready, %d in total", s.ReadyReplicas, want, s.Replicas), nil
		case s.UpdateRevision != "" && s.CurrentRevision != s.UpdateRevision && s.UpdatedReplicas != want:
			return false, fmt.Sprintf("%d/%d updated", s.UpdatedReplicas, want), nil
		}
		return true, "", nil
	case KindReplicaSet:
		rs, err := c.AppsV1().ReplicaSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", classify("read "+w.String(), err)
		}
		want := replicasOf(rs.Spec.Replicas)
		s := rs.Status
		switch {
		case s.ObservedGeneration < rs.Generation:
			return false, "the controller has not seen the latest spec yet", nil
		case s.Replicas != want || s.AvailableReplicas != want:
			return false, fmt.Sprintf("%d/%d available, %d in total", s.AvailableReplicas, want, s.Replicas), nil
		}
		return true, "", nil
	case KindDaemonSet:
		ds, err := c.AppsV1().DaemonSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", classify("read "+w.String(), err)
		}
		s := ds.Status
		switch {
		case s.ObservedGeneration < ds.Generation:
			return false, "the controller has not seen the latest spec yet", nil
		case s.NumberReady != s.DesiredNumberScheduled || s.UpdatedNumberScheduled != s.DesiredNumberScheduled:
			return false, fmt.Sprintf("%d/%d ready, %d updated", s.NumberReady, s.DesiredNumberScheduled, s.UpdatedNumberScheduled), nil
		}
		return true, "", nil
	case KindPod:
		p, err := c.CoreV1().Pods(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return false, "", classify("read "+w.String(), err)
		}
		if p.DeletionTimestamp != nil {
			return false, "terminating", nil
		}
		if !podReady(p) {
			return false, "phase " + string(p.Status.Phase) + ", not Ready", nil
		}
		return true, "", nil
	}
	return false, "", unprocessable(fmt.Sprintf("%s: kind %q is not a workload", w, w.Kind), nil)
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podReasons summarises why a workload's pods are not ready: failed
// conditions (Unschedulable ...), waiting or failed containers.
func podReasons(ctx context.Context, c kubernetes.Interface, w Workload) string {
	var pods []corev1.Pod
	if w.Kind == KindPod {
		p, err := c.CoreV1().Pods(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		pods = []corev1.Pod{*p}
	} else {
		lp, err := podsOf(ctx, c, w)
		if err != nil {
			return ""
		}
		pods = lp.pods
	}
	var out []string
	for i := range pods {
		p := &pods[i]
		if podReady(p) {
			continue
		}
		var why []string
		for _, cond := range p.Status.Conditions {
			if cond.Status != corev1.ConditionTrue && (cond.Reason != "" || cond.Message != "") {
				why = append(why, strings.TrimSpace(fmt.Sprintf("%s=%s %s %s", cond.Type, cond.Status, cond.Reason, cond.Message)))
			}
		}
		for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				why = append(why, strings.TrimSpace(fmt.Sprintf("container %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)))
			case cs.State.Terminated != nil:
				why = append(why, fmt.Sprintf("container %s terminated: %s (exit %d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode))
			}
			if t := cs.LastTerminationState.Terminated; t != nil {
				why = append(why, fmt.Sprintf("container %s last terminated: %s (exit %d, %d restarts)", cs.Name, t.Reason, t.ExitCode, cs.RestartCount))
			}
		}
		if len(why) == 0 {
			why = append(why, "phase "+string(p.Status.Phase))
		}
		out = append(out, p.Name+": "+strings.Join(why, ", "))
	}
	if len(pods) == 0 {
		return "none exist"
	}
	return strings.Join(out, "; ")
}

// HealPods deletes the pods of the VNFCs with ids, waits until their
// workloads are ready with replacement pods, and returns vnfcs where each
// healed VNFC keeps its id and now names a new pod (the newest pod of the
// same workload not already used by another VNFC). A bare Pod is
// re-created from its own spec, under the same name. ResourceChanges lists
// the healed VNFCs as MODIFIED.
func HealPods(ctx context.Context, c kubernetes.Interface, vnfcs []model.VnfcResourceInfo, ids []string, workloads []Workload, timeout time.Duration) ([]model.VnfcResourceInfo, *model.ResourceChanges, error) {
	deadline := time.Now().Add(timeout)
	var pause backoff
	type target struct {
		idx    int // in vnfcs
		w      Workload
		oldUID types.UID
		bare   *corev1.Pod // a bare pod to re-create
	}
	var targets []*target
	healed := map[string]bool{}
	for _, id := range ids {
		i := slices.IndexFunc(vnfcs, func(v model.VnfcResourceInfo) bool { return v.ID == id })
		if i < 0 {
			return nil, nil, unprocessable(fmt.Sprintf("vnfcInstanceId %q is not a VNFC of the instance", id), nil)
		}
		if healed[id] {
			continue
		}
		healed[id] = true
		w, err := workloadOf(vnfcs[i], workloads)
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, &target{idx: i, w: w})
	}
	// Pods named by VNFCs that are not healed stay theirs.
	taken := map[string]bool{}
	for _, v := range vnfcs {
		if !healed[v.ID] {
			taken[metaString(v.Metadata, "namespace")+"/"+v.ComputeResource.ResourceID] = true
		}
	}

	for _, t := range targets {
		pod := vnfcs[t.idx].ComputeResource.ResourceID
		p, err := c.CoreV1().Pods(t.w.Namespace).Get(ctx, pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // gone already (an earlier attempt, or it died)
		}
		if err != nil {
			return nil, nil, classify("read pod "+t.w.Namespace+"/"+pod, err)
		}
		t.oldUID = p.UID
		if t.w.Kind == KindPod {
			t.bare = p.DeepCopy()
		}
		// The UID precondition: a retried heal must not delete the
		// replacement that took the same name (StatefulSet, bare Pod).
		err = c.CoreV1().Pods(t.w.Namespace).Delete(ctx, pod, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return nil, nil, classify("delete pod "+t.w.Namespace+"/"+pod, err)
		}
	}
	// Wait for the old pods to be gone: until then the controllers'
	// status may still count them as ready.
	for _, t := range targets {
		if t.oldUID == "" {
			continue
		}
		pod := vnfcs[t.idx].ComputeResource.ResourceID
		if err := waitPodGone(ctx, c, t.w.Namespace, pod, t.oldUID, time.Until(deadline)); err != nil {
			return nil, nil, err
		}
		if t.bare != nil {
			if err := recreatePod(ctx, c, t.bare); err != nil {
				return nil, nil, err
			}
		}
	}
	var affected []Workload
	for _, t := range targets {
		if !slices.Contains(affected, t.w) {
			affected = append(affected, t.w)
		}
	}
	out := slices.Clone(vnfcs)
wait:
	for {
		// A re-created bare pod can be gone again by the time it is read
		// (seen when the old one's deletion was still being finalised):
		// create it once more rather than failing the heal.
		for _, t := range targets {
			if t.bare == nil {
				continue
			}
			if _, err := c.CoreV1().Pods(t.bare.Namespace).Get(ctx, t.bare.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				if err := recreatePod(ctx, c, t.bare); err != nil {
					return nil, nil, err
				}
			}
		}
		if err := WaitReady(ctx, c, affected, max(time.Until(deadline), 0)); err != nil {
			if apierrors.IsNotFound(err) && time.Now().Before(deadline) {
				if err := sleep(ctx, pause.next()); err != nil {
					return nil, nil, fmt.Errorf("wait for replacement pods: %w", err)
				}
				continue
			}
			return nil, nil, err
		}
		// The controllers' status may lag the pods: every target needs a
		// ready replacement, else look again.
		pods := map[Workload][]corev1.Pod{}
		for _, w := range affected {
			lp, err := podsOf(ctx, c, w)
			if err != nil {
				if w.Kind == KindPod && apierrors.IsNotFound(err) && time.Now().Before(deadline) {
					if err := sleep(ctx, pause.next()); err != nil {
						return nil, nil, fmt.Errorf("wait for replacement pods: %w", err)
					}
					continue wait
				}
				return nil, nil, err
			}
			ps := lp.pods
			sort.SliceStable(ps, func(i, j int) bool { return ps[j].CreationTimestamp.Before(&ps[i].CreationTimestamp) }) // newest first
			pods[w] = ps
		}
		assigned := map[string]bool{}
		missing := 0
		for _, t := range targets {
			found := ""
			for i := range pods[t.w] {
				p := &pods[t.w][i]
				k := t.w.Namespace + "/" + p.Name
				if taken[k] || assigned[k] || p.UID == t.oldUID || !podReady(p) {
					continue
				}
				found = p.Name
				assigned[k] = true
				break
			}
			if found == "" {
				missing++
				continue
			}
			v := out[t.idx]
			v.ComputeResource.ResourceID = found
			v.ComputeResource.VimLevelResourceType = t.w.Kind
			v.Metadata = map[string]any{"namespace": t.w.Namespace, "workload": t.w.Name}
			out[t.idx] = v
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, nil, &driver.ProblemError{Status: http.StatusGatewayTimeout, Title: "Kubernetes workloads not ready",
				Err: fmt.Errorf("no ready replacement pod for %d healed VNFC(s) after %s", missing, timeout)}
		}
		if err := sleep(ctx, pause.next()); err != nil {
			return nil, nil, fmt.Errorf("wait for replacement pods: %w", err)
		}
	}
	rc := &model.ResourceChanges{}
	for _, t := range targets {
		v := out[t.idx]
		rc.AffectedVnfcs = append(rc.AffectedVnfcs, model.AffectedVnfc{ID: v.ID, VduID: v.VduID, ChangeType: model.ChangeModified,
			ComputeResource: v.ComputeResource, Metadata: v.Metadata})
	}
	return out, rc, nil
}

// workloadOf finds the workload a VNFC's pod belongs to: by its metadata,
// else the VDU's only workload.
func workloadOf(v model.VnfcResourceInfo, workloads []Workload) (Workload, error) {
	ns, name, kind := metaString(v.Metadata, "namespace"), metaString(v.Metadata, "workload"), v.ComputeResource.VimLevelResourceType
	var byVdu []Workload
	for _, w := range workloads {
		if w.Name == name && (ns == "" || w.Namespace == ns) && (kind == "" || w.Kind == kind) {
			return w, nil
		}
		if w.VduID == v.VduID {
			byVdu = append(byVdu, w)
		}
	}
	if len(byVdu) == 1 {
		return byVdu[0], nil
	}
	return Workload{}, unprocessable(fmt.Sprintf("VNFC %s (VDU %s): its workload %q is not one of the instance's", v.ID, v.VduID, name), nil)
}

// waitPodGone waits until no pod called name with the given UID exists.
func waitPodGone(ctx context.Context, c kubernetes.Interface, ns, name string, uid types.UID, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var pause backoff
	for {
		p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && p.UID != uid) {
			return nil
		}
		if err != nil {
			var te *driver.TransientError
			if cerr := classify("read pod "+ns+"/"+name, err); !errors.As(cerr, &te) {
				return cerr
			}
		}
		if time.Now().After(deadline) {
			return &driver.ProblemError{Status: http.StatusGatewayTimeout, Title: "Kubernetes pod deletion timed out",
				Err: fmt.Errorf("pod %s/%s still exists %s after its deletion", ns, name, timeout)}
		}
		if err := sleep(ctx, pause.next()); err != nil {
			return fmt.Errorf("wait for pod %s/%s to go: %w", ns, name, err)
		}
	}
}

// recreatePod creates a bare pod again from its old self: spec and labels,
// without what the cluster filled in (node, status, identity).
func recreatePod(ctx context.Context, c kubernetes.Interface, old *corev1.Pod) error {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: old.Name, Namespace: old.Namespace, Labels: old.Labels, Annotations: old.Annotations,
			OwnerReferences: old.OwnerReferences,
		},
		Spec: *old.Spec.DeepCopy(),
	}
	// The scheduler places it again (the old node may be what failed).
	p.Spec.NodeName = ""
	_, err := c.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return classify("re-create pod "+p.Namespace+"/"+p.Name, err)
	}
	return nil
}

// replicasNow reads a scalable workload's desired replicas.
func replicasNow(ctx context.Context, c kubernetes.Interface, w Workload) (int32, error) {
	var (
		r   *int32
		err error
	)
	switch w.Kind {
	case KindDeployment:
		var x *appsv1.Deployment
		if x, err = c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{}); err == nil {
			r = x.Spec.Replicas
		}
	case KindStatefulSet:
		var x *appsv1.StatefulSet
		if x, err = c.AppsV1().StatefulSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{}); err == nil {
			r = x.Spec.Replicas
		}
	case KindReplicaSet:
		var x *appsv1.ReplicaSet
		if x, err = c.AppsV1().ReplicaSets(w.Namespace).Get(ctx, w.Name, metav1.GetOptions{}); err == nil {
			r = x.Spec.Replicas
		}
	default:
		return 0, unprocessable(fmt.Sprintf("%s cannot be scaled: only Deployments, StatefulSets and ReplicaSets have replicas", w), nil)
	}
	if err != nil {
		return 0, classify("read "+w.String(), err)
	}
	return replicasOf(r), nil
}

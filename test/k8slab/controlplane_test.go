package k8slab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Generous: on an idle machine each step takes seconds, under a parallel
// compile tens of seconds.
const waitTimeout = 2 * time.Minute

func TestControlPlane(t *testing.T) {
	var pids []int
	ok := t.Run("workload", func(t *testing.T) {
		cp := StartControlPlane(t, 2)
		pids = cp.pids()
		testWorkload(t, cp)
	})
	if pids == nil {
		return // the plane did not start: its failure says why
	}
	requireGone(t, pids)
	if !ok {
		return
	}

	// A second plane in the same process shows the warm start time and
	// that planes do not leak into each other.
	pids = nil
	t.Run("warm start", func(t *testing.T) {
		start := time.Now()
		cp := StartControlPlane(t, 1)
		t.Logf("warm plane with 1 node in %s", time.Since(start).Round(time.Millisecond))
		pids = cp.pids()
		nodes, err := cp.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		require.Len(t, nodes.Items, 1, "a fresh etcd: only this plane's node")
	})
	if pids != nil {
		requireGone(t, pids)
	}
}

func testWorkload(t *testing.T, cp *ControlPlane) {
	ctx := context.Background()
	c := cp.Client

	require.Len(t, cp.Nodes, 2)
	for _, name := range cp.Nodes {
		n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		require.True(t, NodeReady(n), "node %s Ready", name)
		require.Equal(t, "fake", n.Annotations["kwok.x-k8s.io/node"])
	}
	require.Contains(t, string(cp.Kubeconfig), cp.URL)

	labels := map[string]string{"app": "k8slab-test"}
	two := int32(2)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "busybox", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "busybox", Image: "busybox", Command: []string{"sleep", "infinity"}}},
				},
			},
		},
	}
	step := time.Now()
	_, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(t, err)
	first := waitAvailable(t, cp, 2)
	t.Logf("deployment with 2 replicas available in %s", time.Since(step).Round(time.Millisecond))

	step = time.Now()
	scale, err := c.AppsV1().Deployments("default").GetScale(ctx, "busybox", metav1.GetOptions{})
	require.NoError(t, err)
	scale.Spec.Replicas = 4
	_, err = c.AppsV1().Deployments("default").UpdateScale(ctx, "busybox", scale, metav1.UpdateOptions{})
	require.NoError(t, err)
	scaled := waitAvailable(t, cp, 4)
	for _, p := range first {
		require.Contains(t, scaled, p, "scaling up keeps the pods")
	}
	t.Logf("scaled 2 -> 4 in %s", time.Since(step).Round(time.Millisecond))

	step = time.Now()
	victim := scaled[0]
	require.NoError(t, c.CoreV1().Pods("default").Delete(ctx, victim, metav1.DeleteOptions{}))
	var replaced []string
	waitUntil(t, "a replacement pod and the deployment available", func() (bool, string) {
		pods, ok, state := available(cp, 4)
		if !ok {
			return false, state
		}
		if slices.Contains(pods, victim) {
			return false, "deleted pod " + victim + " still listed"
		}
		replaced = pods
		return true, ""
	})
	var fresh []string
	for _, p := range replaced {
		if !slices.Contains(scaled, p) {
			fresh = append(fresh, p)
		}
	}
	require.Len(t, fresh, 1, "one new pod replaces %s: %v", victim, replaced)
	t.Logf("pod %s replaced by %s in %s", victim, fresh[0], time.Since(step).Round(time.Millisecond))

	step = time.Now()
	require.NoError(t, c.AppsV1().Deployments("default").Delete(ctx, "busybox", metav1.DeleteOptions{}))
	waitUntil(t, "the deployment's pods gone", func() (bool, string) {
		pods, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=k8slab-test"})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
	})
	t.Logf("deployment deleted, pods gone in %s", time.Since(step).Round(time.Millisecond))
}

// waitAvailable waits until the deployment has replicas ready pods and
// returns their names.
func waitAvailable(t *testing.T, cp *ControlPlane, replicas int) []string {
	t.Helper()
	var pods []string
	waitUntil(t, fmt.Sprintf("deployment available with %d replicas", replicas), func() (bool, string) {
		p, ok, state := available(cp, replicas)
		pods = p
		return ok, state
	})
	return pods
}

// available tells whether the deployment reports replicas ready and
// available and exactly that many live pods run with an IP on a kwok node.
func available(cp *ControlPlane, replicas int) ([]string, bool, string) {
	ctx := context.Background()
	d, err := cp.Client.AppsV1().Deployments("default").Get(ctx, "busybox", metav1.GetOptions{})
	if err != nil {
		return nil, false, err.Error()
	}
	st := d.Status
	state := fmt.Sprintf("generation %d observed %d, replicas %d ready %d available %d updated %d",
		d.Generation, st.ObservedGeneration, st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.UpdatedReplicas)
	if st.ObservedGeneration < d.Generation || int(st.ReadyReplicas) != replicas ||
		int(st.AvailableReplicas) != replicas || int(st.Replicas) != replicas {
		return nil, false, state
	}
	list, err := cp.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=k8slab-test"})
	if err != nil {
		return nil, false, err.Error()
	}
	var names, bad []string
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			bad = append(bad, p.Name+" terminating")
			continue
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !slices.Contains(cp.Nodes, p.Spec.NodeName) {
			bad = append(bad, fmt.Sprintf("%s %s ip=%q node=%q", p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName))
			continue
		}
		names = append(names, p.Name)
	}
	if len(bad) > 0 || len(names) != replicas {
		return nil, false, fmt.Sprintf("%s; running %v; not yet %v", state, names, bad)
	}
	sort.Strings(names)
	return names, true, ""
}

// waitUntil polls cond; on timeout it fails with cond's last state.
func waitUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %s", what, waitTimeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (cp *ControlPlane) pids() []int {
	var pids []int
	for _, p := range cp.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// requireGone asserts the cleanup left no process (nor process group) of
// a plane behind.
func requireGone(t *testing.T, pids []int) {
	t.Helper()
	var left []string
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			left = append(left, fmt.Sprintf("group %d: %v", pid, err))
		}
	}
	require.Empty(t, left, "processes left: %s", strings.Join(left, ", "))
}

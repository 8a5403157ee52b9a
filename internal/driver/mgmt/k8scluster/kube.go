package k8scluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kube is the cluster's API as the driver uses it, with the admin
// credentials of a master's admin.conf.
type kube struct {
	c      kubernetes.Interface
	cfg    *rest.Config
	caPEM  []byte
	server string
	log    *slog.Logger
}

func newKube(adminConf []byte, log *slog.Logger) (*kube, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(adminConf)
	if err != nil {
		return nil, fmt.Errorf("parse admin.conf: %w", err)
	}
	if len(cfg.CAData) == 0 {
		return nil, errors.New("admin.conf has no certificate-authority-data: the cluster CA is needed for joins and the VIM")
	}
	cfg.Timeout = 30 * time.Second
	cfg.QPS, cfg.Burst = 50, 100
	return newKubeFromConfig(cfg, cfg.CAData, log)
}

func newKubeFromConfig(cfg *rest.Config, ca []byte, log *slog.Logger) (*kube, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &kube{c: c, cfg: cfg, caPEM: ca, server: cfg.Host, log: log}, nil
}

// waitReady waits until the API server answers /readyz (a fresh control
// plane takes a few seconds).
func (k *kube) waitReady(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, time.Second, func(ctx context.Context) (bool, error) {
		body, err := k.c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			k.log.Debug("k8s api not ready yet", "server", k.server, "err", err)
			return false, nil
		}
		return string(body) == "ok", nil
	})
}

// caCertHash is kubeadm's discovery hash: sha256 of the CA's DER
// SubjectPublicKeyInfo.
func (k *kube) caCertHash() (string, error) {
	block, _ := pem.Decode(k.caPEM)
	if block == nil {
		return "", errors.New("cluster CA is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse cluster CA: %w", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

const tokenChars = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = tokenChars[int(b[i])%len(tokenChars)]
	}
	return string(b)
}

// certificateKey is a fresh kubeadm certificate key (32 random bytes, hex).
func certificateKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createBootstrapToken creates a kubeadm-style bootstrap token Secret
// valid for ttl and returns "id.secret".
func (k *kube) createBootstrapToken(ctx context.Context, ttl time.Duration) (string, error) {
	id, sec := randomString(6), randomString(16)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: metav1.NamespaceSystem},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"description":                    "vnfm mgmt-drivers-kubernetes join token",
			"token-id":                       id,
			"token-secret":                   sec,
			"expiration":                     time.Now().Add(ttl).UTC().Format(time.RFC3339),
			"usage-bootstrap-authentication": "true",
			"usage-bootstrap-signing":        "true",
			"auth-extra-groups":              "system:bootstrappers:kubeadm:default-node-token",
		},
	}
	if _, err := k.c.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create bootstrap token: %w", err)
	}
	return id + "." + sec, nil
}

// waitNode waits until Node name exists (a node "joins" by registering).
func (k *kube) waitNode(ctx context.Context, name string, timeout time.Duration) error {
	return poll(ctx, timeout, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, err := k.c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	})
}

// deleteNode deletes Node name; a missing node is fine.
func (k *kube) deleteNode(ctx context.Context, name string) error {
	err := k.c.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete node %s: %w", name, err)
	}
	return nil
}

// drain cordons node name and evicts its pods (DaemonSet and mirror pods
// stay, as with kubectl drain --ignore-daemonsets). Pods still there after
// timeout are deleted at once: the node is about to be deleted, and the
// kubelet of a failed node would never confirm a graceful deletion.
func (k *kube) drain(ctx context.Context, name string, timeout time.Duration) error {
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := k.c.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("cordon node %s: %w", name, err)
	}
	pods, err := k.podsOn(ctx, name)
	if err != nil {
		return err
	}
	for _, p := range pods {
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
		if err := k.c.CoreV1().Pods(p.Namespace).EvictV1(ctx, ev); err != nil && !apierrors.IsNotFound(err) {
			// A PodDisruptionBudget (429) may hold it: the timeout decides.
			k.log.Warn("eviction refused", "node", name, "pod", p.Namespace+"/"+p.Name, "err", err)
		}
	}
	err = poll(ctx, timeout, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		left, err := k.podsOn(ctx, name)
		return err == nil && len(left) == 0, nil
	})
	if err == nil {
		return nil
	}
	left, lerr := k.podsOn(ctx, name)
	if lerr != nil {
		return lerr
	}
	zero := int64(0)
	for _, p := range left {
		k.log.Warn("drain timed out: deleting pod", "node", name, "pod", p.Namespace+"/"+p.Name, "timeout", timeout)
		if err := k.c.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// podsOn lists the pods a drain moves off node name.
func (k *kube) podsOn(ctx context.Context, name string) ([]corev1.Pod, error) {
	list, err := k.c.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		return nil, fmt.Errorf("list pods on %s: %w", name, err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "DaemonSet" {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

const (
	vimServiceAccount = "vnfm-vim"
	vimTokenTTL       = 365 * 24 * time.Hour
)

// vimToken makes a service account bound to cluster-admin and returns a
// long-lived token of it: the credential of the Kubernetes VIM the driver
// registers (the node's admin.conf stays on the nodes).
func (k *kube) vimToken(ctx context.Context) (string, error) {
	ns := metav1.NamespaceSystem
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: vimServiceAccount, Namespace: ns}}
	if _, err := k.c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create service account %s: %w", vimServiceAccount, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: vimServiceAccount},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: vimServiceAccount, Namespace: ns}},
	}
	if _, err := k.c.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create cluster role binding %s: %w", vimServiceAccount, err)
	}
	secs := int64(vimTokenTTL / time.Second)
	tr, err := k.c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, vimServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create token for %s: %w", vimServiceAccount, err)
	}
	return tr.Status.Token, nil
}

// poll calls fn every interval until it reports done, fn errors, or
// timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, fn func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, err := fn(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %v: %w", timeout, ctx.Err())
		case <-time.After(interval):
		}
	}
}

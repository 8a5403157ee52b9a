package k8slab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ControlPlane is a real single-member Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) on loopback whose
// nodes are kwok fakes: pods are scheduled, get IPs and go Running without
// containers.
type ControlPlane struct {
	URL        string       // https://127.0.0.1:PORT of kube-apiserver
	CA         []byte       // PEM of the CA that signed the serving cert
	Token      string       // bearer token of an admin (group system:masters)
	Config     *rest.Config // admin config (bearer token, CA)
	Kubeconfig []byte       // admin kubeconfig (for the helm CLI)
	Client     kubernetes.Interface
	Nodes      []string // names of the kwok nodes

	dir   string
	procs []*proc
}

// ControlPlaneTimeout bounds each wait of StartControlPlane. Idle the plane
// is ready in seconds; under a parallel compile it can take ~50 s.
var ControlPlaneTimeout = 2 * time.Minute

// planeStarts counts the planes started in this process: the first is
// logged as a cold start (it may read the binaries from disk), later ones
// as warm.
var planeStarts atomic.Int32

// StartControlPlane starts, on free 127.0.0.1 ports in t.TempDir(), etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok managing
// nodes fake nodes. It returns when the API is ready, every node is Ready
// and schedulable, and the default ServiceAccount of namespace default
// exists (pods are refused before). Every process is killed in t.Cleanup.
func StartControlPlane(t testing.TB, nodes int) *ControlPlane {
	t.Helper()
	require.Positive(t, nodes, "StartControlPlane: nodes")
	bin := BinFor(t, ControlPlaneComponents...)
	start := time.Now()
	kind := "warm"
	if planeStarts.Add(1) == 1 {
		kind = "cold"
	}

	// TempDir first: cleanups run last-in first-out, so the processes are
	// killed before their directory is removed.
	dir := t.TempDir()
	cp := &ControlPlane{dir: dir}
	t.Cleanup(func() { cp.stop(t) })

	pki, err := writePKI(dir)
	require.NoError(t, err)
	cp.CA, cp.Token = pki.ca, pki.token

	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	cp.URL = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	cp.Config = &rest.Config{
		Host:            cp.URL,
		BearerToken:     cp.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.CA},
		// Tests poll; client-side throttling would only slow them down.
		QPS:   100,
		Burst: 200,
	}
	cp.Kubeconfig, err = kubeconfig(cp.URL, cp.CA, cp.Token)
	require.NoError(t, err)
	kubeconfigPath := filepath.Join(dir, "admin.kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfigPath, cp.Kubeconfig, 0o600))
	cp.Client, err = kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)

	etcd := cp.run(t, "etcd", filepath.Join(bin, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync",
		"--log-level=warn",
		// One member: elect it at once instead of after the default 1 s.
		"--heartbeat-interval=10",
		"--election-timeout=100",
	)
	cp.waitFor(t, "etcd healthy", []*proc{etcd}, func(ctx context.Context) error {
		return etcdHealthy(ctx, etcdURL)
	})
	tEtcd := time.Since(start)

	api := cp.run(t, "kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+pki.file("apiserver.crt"),
		"--tls-private-key-file="+pki.file("apiserver.key"),
		"--client-ca-file="+pki.file("ca.crt"),
		"--token-auth-file="+pki.file("tokens.csv"),
		// RBAC like a real cluster; the admin is system:masters, the other
		// components run as the admin.
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+pki.file("sa.pub"),
		"--service-account-signing-key-file="+pki.file("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		// No kube-proxy or real endpoints: the kubernetes Service would
		// point at 127.0.0.1 anyway.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	)
	cp.waitFor(t, "kube-apiserver ready", []*proc{etcd, api}, func(ctx context.Context) error {
		return cp.Client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	})
	tAPI := time.Since(start)

	cp.run(t, "kube-controller-manager", filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+kubeconfigPath,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file="+pki.file("sa.key"),
		"--root-ca-file="+pki.file("ca.crt"),
		// No cloud and no pod network: the controllers for them only fail.
		"--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
	)
	cp.run(t, "kube-scheduler", filepath.Join(bin, "kube-scheduler"),
		"--kubeconfig="+kubeconfigPath,
		"--leader-elect=false",
		"--secure-port=0",
	)
	cp.run(t, "kwok", filepath.Join(bin, "kwok"),
		"--kubeconfig="+kubeconfigPath,
		"--config="+filepath.Join(bin, "kwok-stages.yaml"),
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		// Pod IPs from their own range, apart from the nodes' 10.0.x.y;
		// --node-ip is only the fallback for a node without an address.
		"--cidr=10.244.0.0/16",
		"--node-ip=10.0.0.1",
		// Leases keep the nodes healthy for the node lifecycle controller
		// between kwok's 20-45 s status heartbeats.
		"--node-lease-duration-seconds=40",
	)
	ctx, cancel := context.WithTimeout(context.Background(), ControlPlaneTimeout)
	defer cancel()
	for i := range nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		if err := createNode(ctx, cp.Client, name, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)); err != nil {
			cp.fail(t, "create node "+name, err, api)
		}
		cp.Nodes = append(cp.Nodes, name)
	}
	// From here on a crash of any component fails the start.
	cp.waitFor(t, "nodes Ready", cp.procs, func(ctx context.Context) error {
		return cp.nodesReady(ctx)
	})
	tNodes := time.Since(start)
	cp.waitFor(t, "default ServiceAccount", cp.procs, func(ctx context.Context) error {
		_, err := cp.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	t.Logf("k8slab: control plane %s with %d nodes ready in %s (%s start; etcd %s, apiserver %s, nodes %s)",
		cp.URL, nodes, time.Since(start).Round(time.Millisecond), kind,
		tEtcd.Round(time.Millisecond), tAPI.Round(time.Millisecond), tNodes.Round(time.Millisecond))
	return cp
}

// Dir is the plane's directory: PKI, etcd data and the components' logs
// (NAME.log).
func (cp *ControlPlane) Dir() string { return cp.dir }

// LogTail is the end of a component's log, for failure messages.
func (cp *ControlPlane) LogTail(component string, lines int) string {
	return tail(filepath.Join(cp.dir, component+".log"), lines)
}

// proc is one component process, alone in its process group.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, once done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (cp *ControlPlane) run(t testing.TB, name, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(cp.dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	require.NoError(t, err)
	defer f.Close() // the child has its own descriptor
	p.cmd = exec.Command(path, args...)
	p.cmd.Dir = cp.dir
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so that the cleanup kills whatever it forks too.
		Setpgid: true,
		// No leftovers when the test binary dies without cleanups (a
		// -timeout panic or a kill).
		Pdeathsig: syscall.SIGKILL,
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("k8slab: start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	// Registered here, not only in procs: a plane that fails half-way
	// must not leak what it has started.
	cp.procs = append(cp.procs, p)
	return p
}

// stop kills every process group and waits until the processes are gone.
func (cp *ControlPlane) stop(t testing.TB) {
	if t.Failed() {
		// The logs go with the temp dir: keep their ends in the test log.
		for _, p := range cp.procs {
			t.Logf("k8slab: --- %s.log (last lines) ---\n%s", p.name, tail(p.log, 15))
		}
	}
	for i := len(cp.procs) - 1; i >= 0; i-- {
		p := cp.procs[i]
		// The group, not the pid: the process leads its own group.
		if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("k8slab: kill %s: %v", p.name, err)
		}
	}
	for _, p := range cp.procs {
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("k8slab: %s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	}
}

// waitFor polls check until it succeeds; it fails the test with the logs
// of watch when one of them exits or ControlPlaneTimeout passes.
func (cp *ControlPlane) waitFor(t testing.TB, what string, watch []*proc, check func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ControlPlaneTimeout)
	defer cancel()
	var err error
	for {
		for _, p := range watch {
			if p.exited() {
				cp.fail(t, what, fmt.Errorf("%s exited: %w", p.name, p.err), p)
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		err = check(cctx)
		ccancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			cp.fail(t, what, fmt.Errorf("not after %s: %w", ControlPlaneTimeout, err), watch...)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (cp *ControlPlane) fail(t testing.TB, what string, err error, show ...*proc) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "k8slab: control plane: %s: %v", what, err)
	for _, p := range show {
		fmt.Fprintf(&b, "\n--- %s (%s, last lines) ---\n%s", p.name, p.log, tail(p.log, 30))
	}
	t.Fatal(b.String())
}

func (cp *ControlPlane) nodesReady(ctx context.Context) error {
	for _, name := range cp.Nodes {
		n, err := cp.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		if !NodeReady(n) {
			return fmt.Errorf("node %s is not Ready", name)
		}
		// The node lifecycle controller removes the not-ready taint the
		// admission put on the new node; until then nothing is scheduled.
		for _, taint := range n.Spec.Taints {
			if taint.Effect == corev1.TaintEffectNoSchedule || taint.Effect == corev1.TaintEffectNoExecute {
				return fmt.Errorf("node %s still has taint %s", name, taint.Key)
			}
		}
	}
	return nil
}

// NodeReady tells whether a node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func createNode(ctx context.Context, c kubernetes.Interface, name, ip string) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
			// kwok manages exactly the nodes with this annotation.
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Status: corev1.NodeStatus{
			Allocatable: res,
			Capacity:    res,
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		},
	}
	for {
		_, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create node %s: %w", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func etcdHealthy(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return fmt.Errorf("etcd health request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("etcd health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("etcd health: %s %s", resp.Status, body)
	}
	return nil
}

// freePort returns a port free on 127.0.0.1 now. Another process may
// take it before the component binds it; that shows as the component's
// "address already in use" in the failure.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// planePKI is the control plane's PKI, written to DIR/pki.
type planePKI struct {
	dir   string
	ca    []byte // PEM
	token string
}

func (p *planePKI) file(name string) string { return filepath.Join(p.dir, name) }

func writePKI(dir string) (*planePKI, error) {
	p := &planePKI{dir: filepath.Join(dir, "pki")}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki dir: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vnfm-k8slab-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("serving key: %w", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, fmt.Errorf("serving key: %w", err)
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	p.token = hex.EncodeToString(tok)
	p.ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for name, data := range map[string][]byte{
		"ca.crt":        p.ca,
		"apiserver.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		"apiserver.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
		"sa.key":        pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"sa.pub":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"tokens.csv":    []byte(p.token + `,admin,admin,"system:masters"` + "\n"),
	} {
		if err := os.WriteFile(p.file(name), data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	return p, nil
}

func kubeconfig(url string, ca []byte, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["k8slab"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["admin@k8slab"] = &clientcmdapi.Context{Cluster: "k8slab", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "admin@k8slab"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return data, nil
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

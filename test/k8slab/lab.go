// Package k8slab builds the Kubernetes-cluster lab: real etcd members,
// kube-apiservers, HAProxy and kwok started by the lab node scripts on the
// OpenStack emulator's network-namespace "VMs", so that the
// mgmt-drivers-kubernetes driver is tested end to end on one machine.
//
// The binaries are built from the Go module proxy into a cache outside the
// repository (scripts/lab/build.sh); the lab directory holds the PKI every
// node shares and the fault switches the tests flip.
package k8slab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Components are the binaries the lab needs.
var Components = []string{"etcd", "kube-apiserver", "kwok", "helm"}

// ControlPlaneComponents are the binaries StartControlPlane runs.
var ControlPlaneComponents = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// Bin builds what is missing of the lab binaries (minutes, once per
// machine) and returns their directory.
func Bin(t testing.TB) string {
	t.Helper()
	return BinFor(t, Components...)
}

// BinFor builds what is missing of the given components (names as
// scripts/lab/build.sh knows them; minutes, once per machine) and returns
// the bin directory.
func BinFor(t testing.TB, components ...string) string {
	t.Helper()
	require.NotEmpty(t, components, "BinFor: no components")
	cmd := exec.Command("bash", append([]string{filepath.Join(Root(), "scripts", "lab", "build.sh")}, components...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "scripts/lab/build.sh %s: %s", strings.Join(components, " "), stderr.String())
	dir := strings.TrimSpace(string(out))
	for _, c := range components {
		_, err := os.Stat(filepath.Join(dir, c))
		require.NoError(t, err, "lab binary %s", c)
		if c == "kwok" {
			// kwok is useless without its stages, which build.sh ships beside it.
			_, err := os.Stat(filepath.Join(dir, "kwok-stages.yaml"))
			require.NoError(t, err, "kwok stage configuration")
		}
	}
	return dir
}

// Lab is one lab directory.
type Lab struct {
	Dir        string
	Bin        string
	AdminToken string
	CA         []byte // PEM
}

// New makes a lab whose API server certificate is valid for every address
// of subnet (the nodes' network, VIP included).
func New(t testing.TB, bin string, subnet netip.Prefix) *Lab {
	t.Helper()
	dir := t.TempDir()
	// Node scripts run in namespaces as root; keep the lab readable.
	require.NoError(t, os.Chmod(dir, 0o755))
	pki := filepath.Join(dir, "pki")
	require.NoError(t, os.MkdirAll(pki, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "faults"), 0o755))

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vnfm-lab-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	for a := subnet.Masked().Addr(); subnet.Contains(a); a = a.Next() {
		ips = append(ips, net.IP(a.AsSlice()))
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "localhost"},
		IPAddresses:  ips,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	require.NoError(t, err)

	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	l := &Lab{Dir: dir, Bin: bin, AdminToken: hex.EncodeToString(tok)}
	l.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	write := func(name string, data []byte, mode os.FileMode) {
		require.NoError(t, os.WriteFile(filepath.Join(pki, name), data, mode))
	}
	write("ca.crt", l.CA, 0o644)
	write("apiserver.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644)
	write("apiserver.key", ecKeyPEM(t, srvKey), 0o600)
	write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}), 0o600)
	write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}), 0o644)
	write("tokens.csv", []byte(l.AdminToken+",admin,admin,system:masters\n"), 0o600)
	write("admin.token", []byte(l.AdminToken), 0o600)
	return l
}

func ecKeyPEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// Fault turns a fault switch of the lab node scripts on or off:
// "etcd-join" makes join-master start an etcd member that cannot join.
func (l *Lab) Fault(t testing.TB, name string, on bool) {
	t.Helper()
	p := filepath.Join(l.Dir, "faults", name)
	if on {
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		return
	}
	require.NoError(t, os.RemoveAll(p))
}

// KeypairName is the Nova keypair the lab package's servers use.
const KeypairName = "vnfm-lab"

// EditPackage turns a copy of test/samples/k8s-cluster into the lab
// package: the lab node scripts instead of the kubeadm ones, servers with
// the lab keypair, and instantiation_level_2 made three masters and two
// workers.
func (l *Lab) EditPackage(t testing.TB, dir string) {
	t.Helper()
	for _, s := range []string{"install_k8s_cluster.sh", "install_helm.sh"} {
		data, err := os.ReadFile(filepath.Join(Root(), "test", "k8slab", "node", s))
		require.NoError(t, err)
		out := strings.NewReplacer("@LAB@", l.Dir, "@BIN@", l.Bin).Replace(string(data))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Scripts", s), []byte(out), 0o755))
	}
	replace(t, filepath.Join(dir, "BaseHOT", "simple", "nested", "simple_nested_master.yaml"),
		"      name: masterNode\n", "      name: masterNode\n      key_name: "+KeypairName+"\n")
	replace(t, filepath.Join(dir, "BaseHOT", "simple", "nested", "simple_nested_worker.yaml"),
		"      name: workerNode\n", "      name: workerNode\n      key_name: "+KeypairName+"\n")
	df := filepath.Join(dir, "Definitions", "k8s_cluster_df_simple.yaml")
	replace(t, df, `            instantiation_level_2:
              description: Three masters, four workers
              scale_info:
                master_instance:
                  scale_level: 2
                worker_instance:
                  scale_level: 2`, `            instantiation_level_2:
              description: Three masters, two workers
              scale_info:
                master_instance:
                  scale_level: 2
                worker_instance:
                  scale_level: 0`)
	replace(t, df, `            instantiation_level_1:
              number_of_instances: 2
            instantiation_level_2:
              number_of_instances: 4
        targets: [ workerNode ]`, `            instantiation_level_1:
              number_of_instances: 2
            instantiation_level_2:
              number_of_instances: 2
        targets: [ workerNode ]`)
}

func replace(t testing.TB, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(data), old), "%s: the text to replace must appear once", path)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

// String names the lab in logs.
func (l *Lab) String() string { return fmt.Sprintf("k8slab(%s)", l.Dir) }

package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/driver/infra/openstack"
	"github.com/vnfm-project/vnfm/internal/driver/mgmt/k8scluster"
	"github.com/vnfm-project/vnfm/internal/etcdmember"
	"github.com/vnfm-project/vnfm/internal/haproxy"
	"github.com/vnfm-project/vnfm/internal/osemu"
	"github.com/vnfm-project/vnfm/internal/osemu/netns"
	"github.com/vnfm-project/vnfm/internal/remote"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/sqlitestore"
	"github.com/vnfm-project/vnfm/test/k8slab"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// The Kubernetes-cluster lab: the real OpenStack driver on the emulator's
// namespace backend (every server a network namespace with sshd and its own
// /etc, /var/lib, /usr/local/bin and /root), the k8s-cluster sample with the
// lab node scripts, and the real management driver. The scripts start real
// etcd members, kube-apiservers, HAProxy and kwok on the "VMs".

const labVIP = "10.250.1.250" // on net0, above the emulator's allocations

type k8sLab struct {
	*env
	lab     *k8slab.Lab
	emu     *osemu.Emulator
	be      *faultyBackend
	emuURL  string
	signer  ssh.Signer
	keyPEM  string
	vnfdID  string
	kube    kubernetes.Interface
	dbDir   string // the SQLite files, searched for secrets at rest
	timings []string
}

// faultyBackend wraps the namespace backend: after the next Start it kills
// the new server's sshd, as a VM whose SSH server did not come up.
type faultyBackend struct {
	*netns.Backend
	mu       sync.Mutex
	killNext bool
	killed   *osemu.ServerSpec // the server whose sshd was killed
}

func (b *faultyBackend) Start(ctx context.Context, s osemu.ServerSpec) error {
	if err := b.Backend.Start(ctx, s); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.killNext {
		b.killNext = false
		b.killed = &s
		// Only this server's sshd: the pids in its network namespace.
		out, err := execCommand("ip", "netns", "pids", b.Namespace(s.ID))
		if err != nil {
			return fmt.Errorf("fault: list pids: %v: %s", err, out)
		}
		for _, pid := range strings.Fields(out) {
			if comm, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(comm)) == "sshd" {
				if out, err := execCommand("kill", "-KILL", pid); err != nil {
					return fmt.Errorf("fault: kill sshd %s: %v: %s", pid, err, out)
				}
			}
		}
	}
	return nil
}

func newK8sLab(t *testing.T) *k8sLab {
	if os.Geteuid() != 0 {
		t.Fatal("the Kubernetes-cluster lab must run as root: network namespaces, sshd, HAProxy")
	}
	for _, bin := range []string{"haproxy", "jq", "openssl", "curl", "/usr/sbin/sshd"} {
		_, err := execLookPath(bin)
		require.NoError(t, err, "the lab needs %s (see .ci/run)", bin)
	}
	bin := k8slab.Bin(t)
	lab := k8slab.New(t, bin, netip.MustParsePrefix("10.250.1.0/24"))

	nsDir := t.TempDir()
	nb, err := netns.New(netns.Config{
		Prefix: "k8l", Dir: nsDir, Log: slog.New(slog.DiscardHandler),
		PrivateDirs: []string{"/etc", "/var/lib", "/usr/local/bin", "/root"},
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, nb.Cleanup(ctx))
	be := &faultyBackend{Backend: nb}
	emu, err := osemu.New(osemu.Config{ActionDelay: 5 * time.Millisecond, Backend: be, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	hs := httptest.NewServer(emu.Handler())
	t.Cleanup(func() {
		if t.Failed() {
			// What the VMs' sshd and node scripts said, for the failure.
			out, _ := execCommand("sh", "-c", "tail -n 15 "+nsDir+"/*/sshd.log")
			t.Logf("sshd logs:\n%s", out)
			if os.Getenv("VNFM_LAB_PAUSE") != "" {
				t.Logf("pausing for inspection: %s", nsDir)
				time.Sleep(10 * time.Minute)
			}
		}
		hs.Close()
		_ = emu.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		assert.NoError(t, nb.Cleanup(cctx))
	})

	osDrv := openstack.New(openstack.Config{PollInterval: 20 * time.Millisecond})
	dbDir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dbDir, "vnfm.db"), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Migrate(ctx))
	e := newEnvDeps(t, st, 100, func(reg *driver.Registry, _ *scripted.Driver, d server.Deps) {
		reg.RegisterInfra(osDrv, openstack.VimTypes...)
		reg.RegisterMgmt(k8scluster.Name, k8scluster.New(k8scluster.Config{
			Vims: d.Vims, Log: d.Log, SSHConnectFor: 10 * time.Second, JoinTimeout: 3 * time.Minute, DrainTimeout: 20 * time.Second,
		}))
	}, realPackages)
	l := &k8sLab{env: e, lab: lab, emu: emu, be: be, emuURL: hs.URL, dbDir: dbDir}
	r := e.do("POST", "/v1.0/vims.json", map[string]any{"vim": map[string]any{
		"name": "emulator", "type": "openstack", "is_default": true, "auth_url": hs.URL + "/v3",
		"vim_project": map[string]any{"name": osemu.DefaultProject, "project_domain_name": osemu.DefaultDomain},
		"auth_cred":   map[string]any{"username": osemu.DefaultUser, "password": osemu.DefaultPassword, "user_domain_name": osemu.DefaultDomain},
	}})
	require.Equal(t, 201, r.status, "%s", r.body)

	// The nodes' login key, registered as a Nova keypair through the API.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	l.signer, err = ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	l.keyPEM = string(pem.EncodeToMemory(block))
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	o := &osEnv{env: e, emuURL: hs.URL}
	o.login()
	body := fmt.Sprintf(`{"keypair":{"name":%q,"public_key":%q}}`, k8slab.KeypairName, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))))
	req, err := http.NewRequest("POST", hs.URL+"/compute/v2.1/os-keypairs", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", o.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	p := e.onboard(buildSample(t, "k8s-cluster", func(dir string) { lab.EditPackage(t, dir) }), "ONBOARDED")
	l.vnfdID = p["vnfdId"].(string)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(lab.CA))
	l.kube, err = kubernetes.NewForConfig(&rest.Config{
		Host: "https://" + net.JoinHostPort(labVIP, "8443"), BearerToken: lab.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: lab.CA}, Timeout: 10 * time.Second,
	})
	require.NoError(t, err)
	return l
}

// timed runs an LCM task to COMPLETED and records how long it took, and
// in which steps (from the conductor's "step done" log lines).
func (l *k8sLab) timed(name, id, task string, body any) time.Duration {
	l.t.Helper()
	start := time.Now()
	op := l.task(id, task, body)
	l.waitFor(op, 8*time.Minute, "COMPLETED")
	d := time.Since(start)
	line := fmt.Sprintf("%s: %v (%s)", name, d.Round(10*time.Millisecond), l.steps(op))
	l.timings = append(l.timings, line)
	l.t.Log(line)
	return d
}

// steps lists the durations of op's steps as the conductor logged them,
// and what the management driver said took time within them.
func (l *k8sLab) steps(op string) string {
	var parts, driver []string
	for _, ln := range strings.Split(l.logBuf.String(), "\n") {
		var rec struct {
			Msg      string `json:"msg"`
			OpOcc    string `json:"op_occ_id"`
			Step     string `json:"step"`
			Duration int64  `json:"duration"`
			Took     int64  `json:"took"`
			Script   string `json:"script"`
			Action   string `json:"action"`
			Node     string `json:"node"`
		}
		if json.Unmarshal([]byte(ln), &rec) != nil || rec.OpOcc != op {
			continue
		}
		switch {
		case rec.Msg == "step done":
			parts = append(parts, fmt.Sprintf("%s %v", rec.Step, time.Duration(rec.Duration).Round(10*time.Millisecond)))
		case rec.Took != 0 && rec.Action != "":
			driver = append(driver, fmt.Sprintf("%s %s on %s %v", rec.Script, rec.Action, rec.Node, time.Duration(rec.Took)))
		case rec.Took != 0:
			driver = append(driver, fmt.Sprintf("%s %s %v", rec.Msg, rec.Node, time.Duration(rec.Took)))
		}
	}
	return strings.Join(parts, ", ") + "\n      " + strings.Join(driver, "; ")
}

type labNode struct {
	VnfcID, Server, IP, Vdu string
}

// nodes lists the instance's VNFCs per VDU, in the instance's order.
func (l *k8sLab) nodes(id string) map[string][]labNode {
	out := map[string][]labNode{}
	info, _ := l.instance(id)["instantiatedVnfInfo"].(map[string]any)
	if info == nil {
		return out
	}
	list, _ := info["vnfcResourceInfo"].([]any)
	for _, x := range list {
		v := x.(map[string]any)
		n := labNode{VnfcID: v["id"].(string), Vdu: v["vduId"].(string), Server: v["computeResource"].(map[string]any)["resourceId"].(string)}
		cps, _ := v["vnfcCpInfo"].([]any)
		for _, c := range cps {
			raw, _ := json.Marshal(c)
			var cp struct {
				CpProtocolInfo []struct {
					IPOverEthernet struct {
						IPAddresses []struct{ Addresses []string } `json:"ipAddresses"`
					} `json:"ipOverEthernet"`
				} `json:"cpProtocolInfo"`
			}
			_ = json.Unmarshal(raw, &cp)
			for _, pi := range cp.CpProtocolInfo {
				for _, a := range pi.IPOverEthernet.IPAddresses {
					if len(a.Addresses) > 0 && n.IP == "" {
						n.IP = a.Addresses[0]
					}
				}
			}
		}
		out[n.Vdu] = append(out[n.Vdu], n)
	}
	return out
}

// nodeName is the Kubernetes node name the driver gives a VNFC.
func nodeName(n labNode) string {
	id := strings.ReplaceAll(strings.ToLower(n.VnfcID), "-", "")
	if len(id) > 8 {
		id = id[:8]
	}
	return strings.ToLower(n.Vdu) + "-" + id
}

func (l *k8sLab) ssh(ip string) *remote.Client {
	l.t.Helper()
	block, _ := pem.Decode([]byte(l.keyPEM))
	require.NotNil(l.t, block)
	c, err := remote.Dial(context.Background(), remote.Config{Addr: ip + ":22", Auth: remote.Auth{Username: "root", PrivateKey: []byte(l.keyPEM)}, ConnectFor: 10 * time.Second})
	require.NoError(l.t, err)
	l.t.Cleanup(func() { _ = c.Close() })
	return c
}

// haproxyServers is what HAProxy on master ip serves, by its runtime API
// (through SSH to the stats socket).
func (l *k8sLab) haproxyServers(ip string) []string {
	l.t.Helper()
	c := l.ssh(ip)
	rt := haproxy.Runtime{Dial: func(ctx context.Context) (net.Conn, error) {
		return c.DialContext(ctx, "unix", "/var/lib/lab/haproxy.sock")
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := rt.Servers(ctx, "kube-apiservers")
	require.NoError(l.t, err)
	var out []string
	for _, s := range st {
		out = append(out, fmt.Sprintf("%s=%s:%d", s.Name, s.Addr, s.Port))
	}
	return out
}

func (l *k8sLab) etcdMembers(masters []labNode) []etcdmember.Member {
	l.t.Helper()
	var eps []string
	for _, m := range masters {
		eps = append(eps, "http://"+m.IP+":2379")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec, err := etcdmember.Open(ctx, etcdmember.Config{Endpoints: eps})
	require.NoError(l.t, err)
	defer ec.Close()
	require.NoError(l.t, ec.Healthy(ctx))
	ms, err := ec.Members(ctx)
	require.NoError(l.t, err)
	return ms
}

// checkCluster asserts the cluster matches the instance: one healthy
// voting etcd member per master, every HAProxy listing exactly the
// masters, one Ready node per VNFC.
func (l *k8sLab) checkCluster(id string) (masters, workers []labNode) {
	l.t.Helper()
	ns := l.nodes(id)
	masters, workers = ns["masterNode"], ns["workerNode"]
	ms := l.etcdMembers(masters)
	var peers []string
	for _, m := range ms {
		assert.False(l.t, m.IsLearner, "etcd member %s is still a learner", m.Name)
		peers = append(peers, m.PeerURLs...)
	}
	var want, wantHA []string
	for _, m := range masters {
		want = append(want, "http://"+m.IP+":2380")
		wantHA = append(wantHA, nodeName(m)+"="+m.IP+":6443")
	}
	assert.ElementsMatch(l.t, want, peers, "etcd peers")
	for _, m := range masters {
		assert.Equal(l.t, wantHA, l.haproxyServers(m.IP), "HAProxy on %s", m.IP)
	}
	var wantNodes []string
	for _, n := range append(append([]labNode{}, masters...), workers...) {
		wantNodes = append(wantNodes, nodeName(n))
	}
	require.Eventually(l.t, func() bool {
		list, err := l.kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		var ready []string
		for _, n := range list.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready = append(ready, n.Name)
				}
			}
		}
		return assert.ObjectsAreEqual(sortedCopy(wantNodes), sortedCopy(ready))
	}, time.Minute, 500*time.Millisecond, "Ready nodes should be %v", wantNodes)
	return masters, workers
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// k8sVim returns the instance's Kubernetes vimConnectionInfo and the
// registered VIM it names.
func (l *k8sLab) k8sVim(id string) (conn map[string]any, vim map[string]any) {
	l.t.Helper()
	for _, x := range l.instance(id)["vimConnectionInfo"].([]any) {
		c := x.(map[string]any)
		if c["vimType"] == "ETSINFV.KUBERNETES.V_1" {
			conn = c
		}
	}
	require.NotNil(l.t, conn, "no Kubernetes vimConnectionInfo")
	r := l.do("GET", "/v1.0/vims/"+conn["vimId"].(string), nil)
	require.Equal(l.t, 200, r.status, "%s", r.body)
	vim = r.json(l.t)["vim"].(map[string]any)
	return conn, vim
}

func helmIPs(m map[string]any) []string {
	extra, _ := m["extra"].(map[string]any)
	hi, _ := extra["helm_info"].(map[string]any)
	var out []string
	list, _ := hi["masternode_ip"].([]any)
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}

func ipsOf(ns []labNode) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.IP
	}
	return out
}

// apiProbe polls the API through HAProxy on the VIP until stopped.
type apiProbe struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
	stop       chan struct{}
	done       chan struct{}
}

func (l *k8sLab) probeAPI() *apiProbe {
	p := &apiProbe{stop: make(chan struct{}), done: make(chan struct{})}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.lab.CA)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			req, _ := http.NewRequest("GET", "https://"+labVIP+":8443/readyz", nil)
			req.Header.Set("Authorization", "Bearer "+l.lab.AdminToken)
			res, err := hc.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != 200 {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			if err != nil {
				p.failed.Add(1)
				p.lastErr.Store(err.Error())
				continue
			}
			p.ok.Add(1)
		}
	}()
	return p
}

func (p *apiProbe) end() (ok, failed int64, last string) {
	close(p.stop)
	<-p.done
	s, _ := p.lastErr.Load().(string)
	return p.ok.Load(), p.failed.Load(), s
}

func (l *k8sLab) instantiateBody(level string) map[string]any {
	node := func(cp string) map[string]any {
		return map[string]any{"username": "root", "ssh_private_key": l.keyPEM, "ssh_cp_name": cp, "nic_cp_name": cp}
	}
	master := node("masterNode_CP1")
	master["aspect_id"] = "master_instance"
	master["cluster_ip"] = labVIP
	master["pod_cidr"] = "10.244.0.0/16"
	master["cluster_cidr"] = "10.96.0.0/12"
	worker := node("workerNode_CP2")
	worker["aspect_id"] = "worker_instance"
	return map[string]any{
		"flavourId": "simple", "instantiationLevelId": level,
		"extVirtualLinks": []any{map[string]any{"id": "ext-net0", "resourceId": "net0", "extCps": []any{
			map[string]any{"cpdId": "masterNode_CP1", "cpConfig": []any{map[string]any{"cpProtocolData": []any{map[string]any{"layerProtocol": "IP_OVER_ETHERNET"}}}}},
			map[string]any{"cpdId": "workerNode_CP2", "cpConfig": []any{map[string]any{"cpProtocolData": []any{map[string]any{"layerProtocol": "IP_OVER_ETHERNET"}}}}},
		}}},
		"additionalParams": map[string]any{"k8s_cluster_installation_param": map[string]any{
			"script_path":                   "Scripts/install_k8s_cluster.sh",
			"helm_installation_script_path": "Scripts/install_helm.sh",
			"vim_name":                      "lab-k8s",
			"master_node":                   master,
			"worker_node":                   worker,
		}},
	}
}

func TestK8sClusterLab(t *testing.T) {
	l := newK8sLab(t)
	r := l.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": l.vnfdID, "vnfInstanceName": "k8s-lab"})
	require.Equal(t, 201, r.status, "%s", r.body)
	id := r.json(t)["id"].(string)

	// Instantiate three masters and two workers.
	l.timed("instantiate (3 masters, 2 workers)", id, "instantiate", l.instantiateBody("instantiation_level_2"))
	masters, workers := l.checkCluster(id)
	require.Len(t, masters, 3)
	require.Len(t, workers, 2)
	conn, vim := l.k8sVim(id)
	firstVim := conn["vimId"].(string)
	assert.Equal(t, "lab-k8s", vim["name"])
	assert.Equal(t, "kubernetes", vim["type"])
	assert.Equal(t, "https://"+labVIP+":8443", vim["auth_url"])
	assert.ElementsMatch(t, ipsOf(masters), helmIPs(vim))
	assert.ElementsMatch(t, ipsOf(masters), helmIPs(conn))
	assert.NotContains(t, fmt.Sprint(vim), "bearer_token", "VIM credentials are write-only")
	assert.NotContains(t, fmt.Sprint(conn), "masternode_private_key")
	for _, m := range masters {
		res, err := l.ssh(m.IP).Run(context.Background(), "helm version --short", remote.RunOptions{})
		require.NoError(t, err)
		assert.Contains(t, string(res.Stdout), "v3.")
	}
	// The registered VIM's credentials work: its token lists the nodes.

	// Heal master 2 after it failed (its etcd and API server killed).
	m2 := masters[1]
	before := l.etcdMembers(masters)
	var oldID uint64
	for _, m := range before {
		if strings.Contains(strings.Join(m.PeerURLs, ","), m2.IP+":") {
			oldID = m.ID
		}
	}
	require.NotZero(t, oldID)
	_, err := l.ssh(m2.IP).Run(context.Background(), "kill -9 $(cat /var/lib/lab/etcd.pid) $(cat /var/lib/lab/apiserver.pid)", remote.RunOptions{})
	require.NoError(t, err)
	probe := l.probeAPI()
	l.timed("heal master (SOL002)", id, "heal", map[string]any{"vnfcInstanceId": []string{m2.VnfcID}, "cause": "master failed"})
	ok, failed, lastErr := probe.end()
	t.Logf("API through HAProxy during the master heal: %d ok, %d failed (%s)", ok, failed, lastErr)
	assert.Positive(t, ok)
	assert.Zero(t, failed, "the API must answer through HAProxy throughout the heal: %s", lastErr)
	masters, _ = l.checkCluster(id)
	newM2, found := findLab(masters, m2.VnfcID)
	require.True(t, found, "the VNFC keeps its id")
	assert.NotEqual(t, m2.Server, newM2.Server, "the master's VM was replaced")
	for _, m := range l.etcdMembers(masters) {
		assert.NotEqual(t, oldID, m.ID, "the failed member is gone")
	}
	conn, vim = l.k8sVim(id)
	assert.Equal(t, firstVim, conn["vimId"])
	assert.ElementsMatch(t, ipsOf(masters), helmIPs(vim), "helm_info follows the new master")
	assert.ElementsMatch(t, ipsOf(masters), helmIPs(conn))

	// Fault runs on master 3: its replacement's sshd is down, then its etcd
	// member cannot join; each leaves FAILED_TEMP with the reason and the
	// cluster as it was, and retry completes.
	m3 := masters[2]
	l.be.mu.Lock()
	l.be.killNext = true
	l.be.mu.Unlock()
	op := l.task(id, "heal", map[string]any{"vnfcInstanceId": []string{m3.VnfcID}})
	failedOp := l.waitFor(op, 5*time.Minute, "FAILED_TEMP")
	assert.Contains(t, fmt.Sprint(failedOp["error"]), "ssh to master", "the op occ names the SSH failure: %v", failedOp["error"])
	survivors := without3(masters, m3)
	ms := l.etcdMembers(survivors)
	assert.Len(t, ms, 2, "heal_start removed the member; nothing was added")
	// Restore sshd (the backend restarts it for the same spec), and make
	// the etcd member fail to join.
	l.be.mu.Lock()
	spec := l.be.killed
	l.be.mu.Unlock()
	require.NotNil(t, spec, "the replacement server was started by the backend")
	require.NoError(t, l.be.Backend.Start(context.Background(), *spec))
	l.lab.Fault(t, "etcd-join", true)
	require.Equal(t, 202, l.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op+"/retry", nil).status)
	failedOp = l.waitFor(op, 5*time.Minute, "FAILED_TEMP")
	assert.Contains(t, fmt.Sprint(failedOp["error"]), "etcd member failed to", "%v", failedOp["error"])
	ms = l.etcdMembers(survivors)
	assert.Len(t, ms, 2, "the learner was removed again: etcd is as it was")
	for _, m := range ms {
		assert.False(t, m.IsLearner)
	}
	for _, m := range survivors {
		assert.Len(t, l.haproxyServers(m.IP), 2, "HAProxy on %s still lists only the survivors", m.IP)
	}
	l.lab.Fault(t, "etcd-join", false)
	start := time.Now()
	require.Equal(t, 202, l.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op+"/retry", nil).status)
	l.waitFor(op, 8*time.Minute, "COMPLETED")
	l.timings = append(l.timings, fmt.Sprintf("heal master, retry after the faults: %v (%s)", time.Since(start).Round(10*time.Millisecond), l.steps(op)))
	masters, workers = l.checkCluster(id)

	// Heal worker 1: its pod is evicted, its Node re-registers from the
	// new VM.
	w1 := workers[0]
	// No controller-manager in the lab: make the ServiceAccount it would.
	_, err = l.kube.CoreV1().ServiceAccounts("default").Create(context.Background(),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "on-w1", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: nodeName(w1), Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Tolerations: []corev1.Toleration{{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists}}},
	}
	_, err = l.kube.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		p, err := l.kube.CoreV1().Pods("default").Get(context.Background(), "on-w1", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning
	}, time.Minute, 300*time.Millisecond, "kwok runs the pod on worker 1")
	l.timed("heal worker (SOL002)", id, "heal", map[string]any{"vnfcInstanceId": []string{w1.VnfcID}})
	_, err = l.kube.CoreV1().Pods("default").Get(context.Background(), "on-w1", metav1.GetOptions{})
	assert.True(t, isNotFound(err), "the drain evicted the pod: %v", err)
	_, workers = l.checkCluster(id)
	nw1, _ := findLab(workers, w1.VnfcID)
	assert.NotEqual(t, w1.Server, nw1.Server)

	// Scale workers out, then in: the newest worker goes.
	l.timed("scale out workers", id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "worker_instance"})
	_, workers = l.checkCluster(id)
	require.Len(t, workers, 3)
	added := workers[2]
	l.timed("scale in workers", id, "scale", map[string]any{"type": "SCALE_IN", "aspectId": "worker_instance"})
	_, workers = l.checkCluster(id)
	require.Len(t, workers, 2)
	_, still := findLab(workers, added.VnfcID)
	assert.False(t, still, "scale-in removed the newest worker")
	_, err = l.kube.CoreV1().Nodes().Get(context.Background(), nodeName(added), metav1.GetOptions{})
	assert.True(t, isNotFound(err), "its Node is deleted: %v", err)

	// scale_to_level has no scale_start victims: the Node of the worker
	// Heat removed goes at scale_end.
	l.timed("scale out workers again", id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": "worker_instance"})
	_, workers = l.checkCluster(id)
	require.Len(t, workers, 3)
	added = workers[2]
	l.timed("scale workers to level 0", id, "scale_to_level", map[string]any{"scaleInfo": []any{
		map[string]any{"aspectId": "worker_instance", "scaleLevel": 0}, map[string]any{"aspectId": "master_instance", "scaleLevel": 2}}})
	_, workers = l.checkCluster(id)
	require.Len(t, workers, 2)
	_, err = l.kube.CoreV1().Nodes().Get(context.Background(), nodeName(added), metav1.GetOptions{})
	assert.True(t, isNotFound(err), "its Node is deleted: %v", err)

	// Scaling the masters is refused with the reason.
	op = l.task(id, "scale", map[string]any{"type": "SCALE_IN", "aspectId": "master_instance"})
	failedOp = l.waitFor(op, time.Minute, "FAILED_TEMP")
	assert.Contains(t, fmt.Sprint(failedOp["error"]), "scales workers only")
	r = l.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+op+"/fail", nil)
	require.Equal(t, 200, r.status, "%s", r.body)

	// Heal the whole VNF (SOL003): every VM rebuilt, a new VIM replaces
	// the old.
	l.timed("heal whole VNF (SOL003)", id, "heal", map[string]any{"cause": "rebuild"})
	l.checkCluster(id)
	conn, vim = l.k8sVim(id)
	assert.NotEqual(t, firstVim, conn["vimId"], "a new VIM is registered")
	assert.Equal(t, "lab-k8s", vim["name"])
	assert.Equal(t, 404, l.do("GET", "/v1.0/vims/"+firstVim, nil).status, "the old VIM is gone")
	for _, x := range l.instance(id)["vimConnectionInfo"].([]any) {
		assert.NotEqual(t, firstVim, x.(map[string]any)["vimId"])
	}
	secondVim := conn["vimId"].(string)

	// Terminate: the VIM is deregistered and its vimConnectionInfo dropped.
	l.timed("terminate", id, "terminate", map[string]any{"terminationType": "FORCEFUL"})
	assert.Equal(t, 404, l.do("GET", "/v1.0/vims/"+secondVim, nil).status)
	for _, x := range l.instance(id)["vimConnectionInfo"].([]any) {
		assert.NotEqual(t, "ETSINFV.KUBERNETES.V_1", x.(map[string]any)["vimType"])
	}

	// No response, log line or database file carries the node key or a
	// cluster token (the management driver's state is sealed at rest).
	files, err := filepath.Glob(filepath.Join(l.dbDir, "vnfm.db*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(data), "OPENSSH PRIVATE KEY", "%s holds the node key in clear", f)
		require.NotContains(t, string(data), l.lab.AdminToken)
	}
	l.mu.Lock()
	bodies := append([][]byte(nil), l.bodies...)
	l.mu.Unlock()
	keyLine := strings.Split(strings.TrimSpace(l.keyPEM), "\n")[1]
	for _, b := range bodies {
		require.NotContains(t, string(b), keyLine)
		require.NotContains(t, string(b), l.lab.AdminToken)
	}
	logs := l.logBuf.String()
	require.NotContains(t, logs, keyLine)
	require.NotContains(t, logs, l.lab.AdminToken)
	t.Logf("timings:\n  %s", strings.Join(l.timings, "\n  "))
}

func findLab(list []labNode, vnfc string) (labNode, bool) {
	for _, n := range list {
		if n.VnfcID == vnfc {
			return n, true
		}
	}
	return labNode{}, false
}

func without3(list []labNode, drop labNode) []labNode {
	var out []labNode
	for _, n := range list {
		if n.VnfcID != drop.VnfcID {
			out = append(out, n)
		}
	}
	return out
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func execLookPath(name string) (string, error) { return exec.LookPath(name) }

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

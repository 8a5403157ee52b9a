package k8scluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/etcdmember"
	"github.com/vnfm-project/vnfm/internal/haproxy"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/remote"
)

// Ports and paths of the node contract (scripts/k8s/README.md).
const (
	apiPort        = 6443
	haproxyPort    = 8443
	etcdClientPort = 2379
	etcdPeerPort   = 2380
	haproxyBackend = "kube-apiservers"
	haproxyConfig  = "/etc/haproxy/haproxy.cfg"
	adminConf      = "/etc/kubernetes/admin.conf"
	etcdPKI        = "/etc/kubernetes/pki/etcd/"
	// scriptDir is relative to the login user's home: SFTP and the remote
	// shell both start there, whoever the user is.
	scriptDir = ".vnfm"
	tokenTTL  = time.Hour
)

// session is one hook's work: SSH clients to the nodes, pinned host keys
// recorded into the state it returns.
type session struct {
	d       *Driver
	req     *driver.Request
	st      *state
	log     *slog.Logger
	clients map[string]*remote.Client // by server id
	etcdTLS bool                      // the cluster's etcd speaks TLS
}

func (d *Driver) session(req *driver.Request, st *state) *session {
	log := d.log
	if req.Log != nil {
		log = req.Log.With("driver", Name)
	}
	return &session{d: d, req: req, st: st, log: log, clients: map[string]*remote.Client{}}
}

func (s *session) close() {
	for _, c := range s.clients {
		_ = c.Close()
	}
}

// result returns the updated state with vims.
func (s *session) result(vims []model.VimConnectionInfo) (*driver.Result, error) {
	raw, err := s.st.raw()
	if err != nil {
		return nil, err
	}
	return &driver.Result{State: raw, VimConnectionInfo: vims}, nil
}

func (s *session) secrets() []string {
	p := s.st.Install
	return []string{p.Master.Password, p.Worker.Password, p.Master.PrivateKey, p.Worker.PrivateKey, s.st.Token}
}

// ssh returns a client for node n, pinning its host key on first contact.
func (s *session) ssh(ctx context.Context, n node) (*remote.Client, error) {
	if c, ok := s.clients[n.ResourceID]; ok {
		return c, nil
	}
	np := s.st.Install.nodeParam(n.Master)
	c, err := remote.Dial(ctx, remote.Config{
		Addr:         net.JoinHostPort(n.SSHIP, "22"),
		Auth:         remote.Auth{Username: np.Username, Password: np.Password, PrivateKey: []byte(np.PrivateKey)},
		HostKey:      s.st.HostKeys[n.ResourceID],
		ConnectFor:   s.d.cfg.SSHConnectFor,
		AuthRetryFor: s.d.cfg.SSHAuthRetryFor,
		Log:          s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("ssh to %s %s (%s): %w", role(n), n.Name, n.SSHIP, err)
	}
	s.st.HostKeys[n.ResourceID] = c.HostKey()
	s.clients[n.ResourceID] = c
	return c, nil
}

func role(n node) string {
	if n.Master {
		return "master"
	}
	return "worker"
}

// script copies a package script to node n and runs it with action and env
// as root (through sudo for another user).
func (s *session) script(ctx context.Context, n node, pkgPath, action string, env map[string]string) error {
	c, err := s.ssh(ctx, n)
	if err != nil {
		return err
	}
	data, err := fs.ReadFile(s.req.Package, strings.TrimPrefix(path.Clean(pkgPath), "/"))
	if err != nil {
		return fmt.Errorf("read %s from the VNF package: %w", pkgPath, err)
	}
	dst := scriptDir + "/" + path.Base(pkgPath)
	if err := c.WriteFile(ctx, dst, data, 0o700); err != nil {
		return fmt.Errorf("copy %s to %s %s: %w", pkgPath, role(n), n.Name, err)
	}
	for k, v := range s.st.Install.proxyEnv() {
		env[k] = v
	}
	np := s.st.Install.nodeParam(n.Master)
	cmd := "bash " + dst + " " + action
	o := remote.RunOptions{Env: env, Timeout: s.d.cfg.ScriptTimeout, Secrets: s.secrets()}
	if np.Username != "root" {
		if np.Password != "" {
			cmd = "sudo -S -p '' -E " + cmd
			o.Stdin = strings.NewReader(np.Password + "\n")
		} else {
			cmd = "sudo -n -E " + cmd
		}
	}
	start := time.Now()
	if _, err := c.Run(ctx, cmd, o); err != nil {
		return fmt.Errorf("%s %s on %s %s (%s): %w", path.Base(pkgPath), action, role(n), n.Name, n.IP, err)
	}
	s.log.Info("node script done", "script", path.Base(pkgPath), "action", action, "node", n.Name, "ip", n.IP, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// setEndpoint fixes the API endpoint: HAProxy on the VIP, else on the
// first master.
func (s *session) setEndpoint(vip string, first node) {
	host := vip
	if host == "" {
		host = first.IP
	}
	s.st.VIP = vip
	s.st.Endpoint = net.JoinHostPort(host, strconv.Itoa(haproxyPort))
}

// nodeEnv is the script environment for node n of a cluster with masters.
func (s *session) nodeEnv(n node, masters []node, extra map[string]string) map[string]string {
	ips := make([]string, len(masters))
	for i, m := range masters {
		ips[i] = m.IP
	}
	env := map[string]string{
		"K8S_NODE_NAME":              n.Name,
		"K8S_NODE_IP":                n.IP,
		"K8S_CONTROL_PLANE_ENDPOINT": s.st.Endpoint,
		"K8S_MASTER_IPS":             strings.Join(ips, " "),
		"K8S_API_PORT":               strconv.Itoa(apiPort),
		"K8S_HAPROXY_PORT":           strconv.Itoa(haproxyPort),
	}
	if s.st.VIP != "" {
		env["K8S_VIP"] = s.st.VIP
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// admin connects to the cluster with master n's admin.conf and waits for
// the API.
func (s *session) admin(ctx context.Context, n node) (*kube, error) {
	c, err := s.ssh(ctx, n)
	if err != nil {
		return nil, err
	}
	conf, err := c.ReadFile(ctx, adminConf)
	if err != nil {
		return nil, fmt.Errorf("read %s on master %s: %w", adminConf, n.Name, err)
	}
	k, err := newKube(conf, s.log)
	if err != nil {
		return nil, fmt.Errorf("master %s: %w", n.Name, err)
	}
	if err := k.waitReady(ctx, s.d.cfg.JoinTimeout); err != nil {
		return nil, fmt.Errorf("kubernetes API %s: %w", k.server, err)
	}
	s.st.CA = string(k.caPEM)
	return k, nil
}

// etcd opens the etcd cluster through the client URLs of members, with the
// client certificate kubeadm leaves on master via (plain http when there
// is none, as in labs).
func (s *session) etcd(ctx context.Context, via node, members []node) (*etcdmember.Cluster, error) {
	c, err := s.ssh(ctx, via)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := etcdTLS(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificates on %s: %w", via.Name, err)
	}
	eps := make([]string, len(members))
	for i, m := range members {
		eps[i] = etcdURL(tlsCfg != nil, m.IP, etcdClientPort)
	}
	ec, err := etcdmember.Open(ctx, etcdmember.Config{Endpoints: eps, TLS: tlsCfg, Log: s.log})
	if err != nil {
		return nil, fmt.Errorf("etcd of the cluster: %w", err)
	}
	s.etcdTLS = tlsCfg != nil
	return ec, nil
}

func etcdURL(tls bool, ip string, port int) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

func etcdTLS(ctx context.Context, c *remote.Client) (*tls.Config, error) {
	ca, err := c.ReadFile(ctx, etcdPKI+"ca.crt")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	crt, err := c.ReadFile(ctx, etcdPKI+"healthcheck-client.crt")
	if err != nil {
		return nil, err
	}
	key, err := c.ReadFile(ctx, etcdPKI+"healthcheck-client.key")
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("etcd client key pair: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("etcd ca.crt holds no certificate")
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// joinMaster joins master n to the control plane: fresh certificates and
// token, its etcd member added as a learner through members (already in
// the cluster), the join script, then the member promoted to voter. When
// the join fails after the learner was added, the learner is removed so
// etcd is left as it was.
func (s *session) joinMaster(ctx context.Context, k *kube, n node, members, masters []node) error {
	start := time.Now()
	via := members[0]
	certKey := certificateKey()
	if err := s.script(ctx, via, s.st.Install.ScriptPath, "upload-certs", map[string]string{"K8S_CERTIFICATE_KEY": certKey}); err != nil {
		return err
	}
	token, hash, err := s.joinCredentials(ctx, k)
	if err != nil {
		return err
	}
	ec, err := s.etcd(ctx, via, members)
	if err != nil {
		return err
	}
	defer ec.Close()
	peer := etcdURL(s.etcdTLS, n.IP, etcdPeerPort)
	m, initial, err := ec.EnsureLearner(ctx, n.Name, peer)
	if err != nil {
		return fmt.Errorf("add etcd member for master %s (%s): %w", n.Name, peer, err)
	}
	s.log.Info("etcd learner added", "node", n.Name, "member", fmt.Sprintf("%x", m.ID), "learner", m.IsLearner)
	undo := func(cause error) error {
		if !m.IsLearner {
			return cause
		}
		if _, rerr := ec.RemoveByPeerHost(context.WithoutCancel(ctx), net.JoinHostPort(n.IP, strconv.Itoa(etcdPeerPort))); rerr != nil {
			return errors.Join(cause, fmt.Errorf("remove the learner again: %w", rerr))
		}
		s.log.Warn("master join failed: etcd learner removed", "node", n.Name, "err", cause)
		return cause
	}
	err = s.script(ctx, n, s.st.Install.ScriptPath, "join-master", s.nodeEnv(n, masters, map[string]string{
		"K8S_TOKEN":                token,
		"K8S_CA_CERT_HASH":         hash,
		"K8S_CERTIFICATE_KEY":      certKey,
		"K8S_ETCD_INITIAL_CLUSTER": initial,
	}))
	if err != nil {
		return undo(err)
	}
	if _, err := ec.WaitStarted(ctx, m.ID, s.d.cfg.JoinTimeout); err != nil {
		return undo(fmt.Errorf("etcd member of master %s did not start: %w", n.Name, err))
	}
	if err := ec.Promote(ctx, m.ID, s.d.cfg.JoinTimeout); err != nil {
		return undo(fmt.Errorf("promote etcd member of master %s: %w", n.Name, err))
	}
	var unhealthy error
	if err := poll(ctx, s.d.cfg.JoinTimeout, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		unhealthy = ec.Healthy(ctx)
		return unhealthy == nil, nil
	}); err != nil {
		return fmt.Errorf("etcd is not healthy after master %s joined: %w (%w)", n.Name, unhealthy, err)
	}
	if err := k.waitNode(ctx, n.Name, s.d.cfg.JoinTimeout); err != nil {
		return fmt.Errorf("master %s did not register its node: %w", n.Name, err)
	}
	if err := s.waitAPI(ctx, k, n); err != nil {
		return err
	}
	s.st.Joined[n.VnfcID], s.st.Names[n.VnfcID] = n.ResourceID, n.Name
	s.log.Info("master joined", "node", n.Name, "ip", n.IP, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitAPI waits until master n's own API server is ready, before HAProxy
// sends it traffic.
func (s *session) waitAPI(ctx context.Context, k *kube, n node) error {
	direct := *k.cfg
	direct.Host = "https://" + net.JoinHostPort(n.IP, strconv.Itoa(apiPort))
	dk, err := newKubeFromConfig(&direct, k.caPEM, s.log)
	if err != nil {
		return err
	}
	if err := dk.waitReady(ctx, s.d.cfg.JoinTimeout); err != nil {
		return fmt.Errorf("API server of master %s: %w", n.Name, err)
	}
	return nil
}

func (s *session) joinCredentials(ctx context.Context, k *kube) (token, hash string, err error) {
	if token, err = k.createBootstrapToken(ctx, tokenTTL); err != nil {
		return "", "", err
	}
	if hash, err = k.caCertHash(); err != nil {
		return "", "", err
	}
	return token, hash, nil
}

// joinWorker joins worker n and waits for its Node.
func (s *session) joinWorker(ctx context.Context, k *kube, n node) error {
	start := time.Now()
	token, hash, err := s.joinCredentials(ctx, k)
	if err != nil {
		return err
	}
	env := map[string]string{
		"K8S_NODE_NAME":              n.Name,
		"K8S_NODE_IP":                n.IP,
		"K8S_CONTROL_PLANE_ENDPOINT": s.st.Endpoint,
		"K8S_API_PORT":               strconv.Itoa(apiPort),
		"K8S_TOKEN":                  token,
		"K8S_CA_CERT_HASH":           hash,
	}
	if err := s.script(ctx, n, s.st.Install.ScriptPath, "join-worker", env); err != nil {
		return err
	}
	if err := k.waitNode(ctx, n.Name, s.d.cfg.JoinTimeout); err != nil {
		return fmt.Errorf("worker %s did not register its node: %w", n.Name, err)
	}
	s.st.Joined[n.VnfcID], s.st.Names[n.VnfcID] = n.ResourceID, n.Name
	s.log.Info("worker joined", "node", n.Name, "ip", n.IP, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// removeWorker drains worker n and deletes its Node (also when it ran no
// pods), before its VM goes.
func (s *session) removeWorker(ctx context.Context, k *kube, n node) error {
	if err := k.drain(ctx, n.Name, s.d.cfg.DrainTimeout); err != nil {
		return err
	}
	if err := k.deleteNode(ctx, n.Name); err != nil {
		return err
	}
	delete(s.st.Joined, n.VnfcID)
	delete(s.st.Names, n.VnfcID)
	s.log.Info("worker drained and deleted", "node", n.Name, "vnfc", n.VnfcID)
	return nil
}

// setHAProxy makes the kube-apiservers backend of every master list
// exactly masters, and reloads HAProxy where it changed.
func (s *session) setHAProxy(ctx context.Context, masters []node) error {
	servers := make([]haproxy.Server, len(masters))
	for i, m := range masters {
		servers[i] = haproxy.Server{Name: m.Name, Addr: net.JoinHostPort(m.IP, strconv.Itoa(apiPort))}
	}
	for _, m := range masters {
		c, err := s.ssh(ctx, m)
		if err != nil {
			return err
		}
		cfg, err := c.ReadFile(ctx, haproxyConfig)
		if err != nil {
			return fmt.Errorf("read %s on master %s: %w", haproxyConfig, m.Name, err)
		}
		out, changed, err := haproxy.SetBackendServers(cfg, haproxyBackend, servers)
		if err != nil {
			return fmt.Errorf("%s on master %s: %w", haproxyConfig, m.Name, err)
		}
		if !changed {
			continue
		}
		if err := c.WriteFile(ctx, haproxyConfig, out, 0o644); err != nil {
			return fmt.Errorf("write %s on master %s: %w", haproxyConfig, m.Name, err)
		}
		if err := s.script(ctx, m, s.st.Install.ScriptPath, "haproxy-reload", map[string]string{}); err != nil {
			return err
		}
		s.log.Info("haproxy backends updated", "node", m.Name, "backends", len(servers))
	}
	return nil
}

// installHelm runs the Helm installation script on masters, if configured.
func (s *session) installHelm(ctx context.Context, masters []node) error {
	p := s.st.Install
	if p.HelmScriptPath == "" {
		return nil
	}
	for _, m := range masters {
		if err := s.script(ctx, m, p.HelmScriptPath, "install", map[string]string{}); err != nil {
			return err
		}
	}
	return nil
}

// registerVim registers (or updates) the cluster's Kubernetes VIM, with
// helm_info when Helm is on the masters, and returns its vimConnectionInfo.
func (s *session) registerVim(ctx context.Context, k *kube, masters []node) (*driver.Result, error) {
	p := s.st.Install
	if s.st.Token == "" {
		tok, err := k.vimToken(ctx)
		if err != nil {
			return nil, err
		}
		s.st.Token = tok
	}
	name := p.VimName
	if name == "" {
		name = "kubernetes_vim_" + s.req.Instance.ID
	}
	extra := map[string]any{}
	if p.HelmScriptPath != "" {
		ips := make([]any, len(masters))
		for i, m := range masters {
			ips[i] = m.SSHIP
		}
		hi := map[string]any{"masternode_ip": ips, "masternode_username": p.Master.Username}
		if p.Master.Password != "" {
			hi["masternode_password"] = p.Master.Password
		} else {
			hi["masternode_private_key"] = p.Master.PrivateKey
		}
		extra["helm_info"] = hi
	}
	endpoint := "https://" + s.st.Endpoint
	v, err := s.d.cfg.Vims.Ensure(ctx, model.Vim{
		Name:        name,
		Description: "Kubernetes cluster of VNF instance " + s.req.Instance.ID + " (registered by " + Name + ")",
		Type:        "kubernetes",
		AuthURL:     endpoint,
		AuthCred:    map[string]any{"bearer_token": s.st.Token, "ssl_ca_cert": s.st.CA},
		VimProject:  map[string]any{"name": "default"},
		Extra:       extra,
	})
	if err != nil {
		return nil, fmt.Errorf("register Kubernetes VIM %q: %w", name, err)
	}
	s.st.VimID = v.ID
	s.log.Info("kubernetes VIM registered", "vim_id", v.ID, "name", name, "endpoint", endpoint)
	conn := model.VimConnectionInfo{
		ID:            v.ID,
		VimID:         v.ID,
		VimType:       "ETSINFV.KUBERNETES.V_1",
		InterfaceInfo: map[string]any{"endpoint": endpoint, "ssl_ca_cert": s.st.CA},
		AccessInfo:    map[string]any{"bearer_token": s.st.Token},
	}
	if len(extra) > 0 {
		conn.Extra = extra
	}
	return s.result([]model.VimConnectionInfo{conn})
}

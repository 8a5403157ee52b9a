package helm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/remote"
)

// helmInfo is the VIM's extra.helm_info: how to reach the masters that
// have the helm CLI (Tacker v1), plus vnfm's optional keys.
type helmInfo struct {
	IPs      []string
	Username string
	Password string
	Key      string
	// HostKey pins the masters' SSH host key (authorized_keys format);
	// without it the first key seen is pinned in the driver state.
	HostKey string
	// Kubeconfig is the kubeconfig path on the master (default: helm's).
	Kubeconfig string
	// HelmPath is the helm binary on the master (default: helm on PATH).
	HelmPath string
}

func parseHelmInfo(vim *model.VimConnectionInfo) (*helmInfo, error) {
	if vim == nil || vim.Extra == nil {
		return nil, unprocessable("helm_transport ssh needs vimConnectionInfo.extra.helm_info", nil)
	}
	m, ok := vim.Extra["helm_info"].(map[string]any)
	if !ok {
		// Tacker keeps helm_info as a JSON string in the VIM's extra.
		s, isStr := vim.Extra["helm_info"].(string)
		if !isStr || json.Unmarshal([]byte(s), &m) != nil {
			return nil, unprocessable("helm_transport ssh needs vimConnectionInfo.extra.helm_info {masternode_ip, masternode_username, masternode_password}", nil)
		}
	}
	h := &helmInfo{}
	switch ips := m["masternode_ip"].(type) {
	case string:
		for _, ip := range strings.Split(ips, ",") {
			if ip = strings.TrimSpace(ip); ip != "" {
				h.IPs = append(h.IPs, ip)
			}
		}
	case []any:
		for _, x := range ips {
			if s, ok := x.(string); ok && strings.TrimSpace(s) != "" {
				h.IPs = append(h.IPs, strings.TrimSpace(s))
			}
		}
	}
	get := func(k string) string { s, _ := m[k].(string); return s }
	h.Username, h.Password, h.Key = get("masternode_username"), get("masternode_password"), get("masternode_private_key")
	h.HostKey, h.HelmPath = get("masternode_host_key"), get("helm_path")
	if h.Kubeconfig = get("masternode_kubeconfig"); h.Kubeconfig == "" {
		h.Kubeconfig = get("kubeconfig")
	}
	if h.HelmPath == "" {
		h.HelmPath = "helm"
	}
	// Field names only: the values are secrets.
	if len(h.IPs) == 0 || h.Username == "" || (h.Password == "" && h.Key == "") {
		return nil, unprocessable("vimConnectionInfo.extra.helm_info needs masternode_ip, masternode_username and masternode_password or masternode_private_key", nil)
	}
	return h, nil
}

// sshTransport runs the helm CLI on a master node. Charts and values
// files go to a per-instance directory in the SSH user's home, which also
// holds the instance's own repository config, so that two VNFs naming a
// repository alike do not meet.
type sshTransport struct {
	c       *remote.Client
	info    *helmInfo
	ns      string
	dir     string // relative to the home directory (sftp and shell agree)
	timeout time.Duration
	log     *slog.Logger
}

// dialSSH connects to the first master that answers; pins maps address to
// pinned host key and receives the key of a first connection.
func dialSSH(ctx context.Context, info *helmInfo, pins map[string]string, ns, instanceID string, timeout time.Duration, log *slog.Logger) (*sshTransport, error) {
	var errs []error
	for _, ip := range info.IPs {
		pin := info.HostKey
		if pin == "" {
			pin = pins[ip]
		}
		c, err := remote.Dial(ctx, remote.Config{
			Addr:       ip,
			Auth:       remote.Auth{Username: info.Username, Password: info.Password, PrivateKey: []byte(info.Key)},
			HostKey:    pin,
			ConnectFor: 20 * time.Second,
			Log:        log,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			log.Warn("SSH to a master node failed, trying the next", "addr", ip, "err", err)
			errs = append(errs, err)
			continue
		}
		if pin == "" {
			pins[ip] = c.HostKey()
		}
		log.Debug("helm over SSH", "addr", ip)
		return &sshTransport{c: c, info: info, ns: ns, dir: path.Join(".vnfm", "helm", instanceID), timeout: timeout, log: log}, nil
	}
	return nil, classify("connect to a master node", errors.Join(errs...))
}

func (s *sshTransport) Close() error { return s.c.Close() }

var safeArg = regexp.MustCompile(`^[A-Za-z0-9_./=:,@+-]+$`)

// quote makes a shell word of a.
func quote(a string) string {
	if safeArg.MatchString(a) {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// named is an entry of helm's list outputs.
type named struct {
	Name string `json:"name"`
}

func hasName(list []named, name string) bool {
	return slices.ContainsFunc(list, func(x named) bool { return x.Name == name })
}

// helm runs helm with the instance's namespace, kubeconfig and repository
// config; then, when given, the shell command after (cleanup) runs too,
// keeping helm's exit code.
func (s *sshTransport) helm(ctx context.Context, after string, args ...string) ([]byte, error) {
	all := append([]string{s.info.HelmPath}, args...)
	all = append(all, "--namespace", s.ns,
		"--repository-config", path.Join(s.dir, "repositories.yaml"),
		"--repository-cache", path.Join(s.dir, "repository"))
	if s.info.Kubeconfig != "" {
		all = append(all, "--kubeconfig", s.info.Kubeconfig)
	}
	q := make([]string, len(all))
	for i, a := range all {
		q[i] = quote(a)
	}
	cmd := strings.Join(q, " ")
	if after != "" {
		cmd += "; rc=$?; " + after + "; exit $rc"
	}
	res, err := s.c.Run(ctx, cmd, remote.RunOptions{Timeout: s.timeout + 2*time.Minute})
	if err != nil {
		return nil, err
	}
	return res.Stdout, nil
}

func (s *sshTransport) Last(ctx context.Context, name string) (*release.Release, error) {
	out, err := s.helm(ctx, "", "list", "--all", "--filter", "^"+regexp.QuoteMeta(name)+"$", "-o", "json")
	if err != nil {
		return nil, classify("helm list", err)
	}
	var list []named
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("helm list: decode its output: %w", err)
	}
	if !hasName(list, name) {
		return nil, nil
	}
	out, err = s.helm(ctx, "", "status", name, "-o", "json")
	if err != nil {
		return nil, classify("helm status "+name, err)
	}
	var r release.Release
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("helm status %s: decode its output: %w", name, err)
	}
	// helm status leaves the chart out; its metadata has the version.
	out, err = s.helm(ctx, "", "get", "metadata", name, "-o", "json")
	if err != nil {
		return nil, classify("helm get metadata "+name, err)
	}
	var md struct {
		Chart   string `json:"chart"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &md); err != nil {
		return nil, fmt.Errorf("helm get metadata %s: decode its output: %w", name, err)
	}
	r.Chart = &chart.Chart{Metadata: &chart.Metadata{Name: md.Chart, Version: md.Version}}
	return &r, nil
}

// prepare uploads the chart (or adds its repository) and the values, and
// returns the chart argument, the flags and the cleanup command.
func (s *sshTransport) prepare(ctx context.Context, sp *spec) (chartArg string, flags []string, after string, err error) {
	c := sp.Chart
	if c.File != "" {
		if sp.Archive == nil {
			return "", nil, "", unprocessable("chart "+c.File+": the VNF package is not available", nil)
		}
		chartArg = path.Join(s.dir, "charts", path.Base(c.File))
		if err := s.c.WriteFile(ctx, chartArg, sp.Archive, 0o600); err != nil {
			return "", nil, "", classify("upload chart "+c.File, err)
		}
	} else {
		if err := s.RepoAdd(ctx, c.Repo, c.RepoURL); err != nil {
			return "", nil, "", err
		}
		chartArg = c.Repo + "/" + c.Name
		if c.Version != "" {
			flags = append(flags, "--version", c.Version)
		}
	}
	vals := sp.Values
	if vals == nil {
		vals = map[string]any{}
	}
	raw, err := json.Marshal(vals)
	if err != nil {
		return "", nil, "", fmt.Errorf("encode values of %s: %w", sp.Name, err)
	}
	// JSON is YAML; the file is removed after use: values may be secrets.
	vf := path.Join(s.dir, "values-"+sp.Name+".json")
	if err := s.c.WriteFile(ctx, vf, raw, 0o600); err != nil {
		return "", nil, "", classify("upload values of "+sp.Name, err)
	}
	flags = append(flags, "--values", vf, "--wait", "--timeout", strconv.Itoa(int(s.timeout.Seconds()))+"s")
	for _, k := range sortedKeys(sp.Labels) {
		flags = append(flags, "--labels", k+"="+sp.Labels[k])
	}
	return chartArg, flags, "rm -f " + quote(vf), nil
}

func (s *sshTransport) Install(ctx context.Context, sp *spec) (*release.Release, error) {
	chartArg, flags, after, err := s.prepare(ctx, sp)
	if err != nil {
		return nil, err
	}
	if _, err := s.helm(ctx, after, append([]string{"install", sp.Name, chartArg}, flags...)...); err != nil {
		return nil, classify("helm install "+sp.Name, err)
	}
	return s.Last(ctx, sp.Name)
}

func (s *sshTransport) Upgrade(ctx context.Context, sp *spec) (*release.Release, error) {
	last, err := s.Last(ctx, sp.Name)
	if err != nil {
		return nil, err
	}
	if last != nil && last.Info != nil && last.Info.Status.IsPending() {
		return nil, conflict(fmt.Sprintf("Helm release %s is %s: wait for the operation in progress, or end it on the master (helm rollback)", sp.Name, last.Info.Status))
	}
	chartArg, flags, after, err := s.prepare(ctx, sp)
	if err != nil {
		return nil, err
	}
	flags = append(flags, "--history-max", strconv.Itoa(historyMax))
	if sp.Reuse {
		flags = append(flags, "--reuse-values")
	} else {
		flags = append(flags, "--reset-values")
	}
	if _, err := s.helm(ctx, after, append([]string{"upgrade", sp.Name, chartArg}, flags...)...); err != nil {
		return nil, classify("helm upgrade "+sp.Name, err)
	}
	return s.Last(ctx, sp.Name)
}

func (s *sshTransport) Uninstall(ctx context.Context, name string) error {
	_, err := s.helm(ctx, "", "uninstall", name, "--ignore-not-found", "--wait", "--cascade", "foreground",
		"--timeout", strconv.Itoa(int(s.timeout.Seconds()))+"s")
	if err != nil {
		return classify("helm uninstall "+name, err)
	}
	return nil
}

func (s *sshTransport) RepoAdd(ctx context.Context, name, u string) error {
	if _, err := s.helm(ctx, "", "repo", "add", name, u, "--force-update"); err != nil {
		return classify("helm repo add "+name, err)
	}
	return nil
}

func (s *sshTransport) RepoRemove(ctx context.Context, name string) error {
	// helm repo list fails when there is no repository at all.
	out, err := s.helm(ctx, "", "repo", "list", "-o", "json")
	if err != nil {
		var ce *remote.CommandError
		if errors.As(err, &ce) {
			return nil
		}
		return classify("helm repo list", err)
	}
	var list []named
	if json.Unmarshal(out, &list) != nil || !hasName(list, name) {
		return nil
	}
	if _, err := s.helm(ctx, "", "repo", "remove", name); err != nil {
		return classify("helm repo remove "+name, err)
	}
	return nil
}

func (s *sshTransport) Cleanup(ctx context.Context) error {
	if _, err := s.c.Run(ctx, "rm -rf "+quote(s.dir), remote.RunOptions{Timeout: time.Minute}); err != nil {
		return classify("remove the instance's Helm files on the master", err)
	}
	return nil
}

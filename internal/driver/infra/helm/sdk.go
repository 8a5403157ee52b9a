package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	helmdriver "helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vnfm-project/vnfm/internal/driver"
)

// historyMax bounds the release revisions kept: every scale is an upgrade.
const historyMax = 10

// sdkTransport is Helm in-process. Release records are Secrets in the
// release namespace (storage driver "secret"); repositories and
// downloaded charts live under dir, one directory per VNF instance.
type sdkTransport struct {
	cfg     *action.Configuration
	ns      string
	dir     string
	timeout time.Duration
	log     *slog.Logger
	getters getter.Providers
}

func newSDK(rc *rest.Config, ns, dir string, timeout time.Duration, log *slog.Logger) (*sdkTransport, error) {
	cfg := &action.Configuration{}
	debug := func(format string, v ...any) { log.Debug("helm: " + fmt.Sprintf(format, v...)) }
	if err := cfg.Init(newRESTGetter(rc, ns), ns, "secret", debug); err != nil {
		return nil, fmt.Errorf("initialise Helm: %w", err)
	}
	if kc, ok := cfg.KubeClient.(*kube.Client); ok {
		kc.Namespace = ns
	}
	return &sdkTransport{cfg: cfg, ns: ns, dir: dir, timeout: timeout, log: log,
		getters: getter.Providers{{Schemes: []string{"http", "https"}, New: boundedHTTPGetter}}}, nil
}

func (s *sdkTransport) Close() error { return nil }

func (s *sdkTransport) Last(_ context.Context, name string) (*release.Release, error) {
	r, err := s.cfg.Releases.Last(name)
	if errors.Is(err, helmdriver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("read Helm release "+name, err)
	}
	return r, nil
}

func (s *sdkTransport) Install(ctx context.Context, sp *spec) (*release.Release, error) {
	ch, err := s.chart(ctx, sp)
	if err != nil {
		return nil, err
	}
	in := action.NewInstall(s.cfg)
	in.ReleaseName, in.Namespace = sp.Name, s.ns
	in.Wait, in.Timeout = true, s.timeout
	in.Labels = sp.Labels
	r, err := in.RunWithContext(ctx, ch, sp.Values)
	if err != nil {
		return r, classify("helm install "+sp.Name, err)
	}
	return r, nil
}

func (s *sdkTransport) Upgrade(ctx context.Context, sp *spec) (*release.Release, error) {
	last, err := s.Last(ctx, sp.Name)
	if err != nil {
		return nil, err
	}
	if last == nil {
		return nil, fmt.Errorf("helm upgrade %s: no such release", sp.Name)
	}
	if last.Info != nil && last.Info.Status.IsPending() {
		if err := s.unstick(last); err != nil {
			return nil, err
		}
	}
	var ch *chart.Chart
	if sp.Reuse && last.Chart != nil {
		// The deployed chart: a scale changes replicas, nothing else,
		// and needs no repository or package.
		ch = last.Chart
	} else if ch, err = s.chart(ctx, sp); err != nil {
		return nil, err
	}
	up := action.NewUpgrade(s.cfg)
	up.Namespace = s.ns
	up.Wait, up.Timeout = true, s.timeout
	up.ReuseValues, up.ResetValues = sp.Reuse, !sp.Reuse
	up.MaxHistory = historyMax
	up.Labels = sp.Labels
	r, err := up.RunWithContext(ctx, sp.Name, ch, sp.Values)
	if err != nil {
		return r, classify("helm upgrade "+sp.Name, err)
	}
	return r, nil
}

// unstick marks failed a release left pending by a helm call that died
// with its process (a crash mid-install): Helm refuses every later
// operation on it otherwise. A pending release younger than the timeout
// may still have a live operation, and is left alone.
func (s *sdkTransport) unstick(r *release.Release) error {
	if age := time.Since(r.Info.LastDeployed.Time); age < s.timeout {
		return driver.Transient(fmt.Errorf("Helm release %s is %s since %s: another operation may be running", r.Name, r.Info.Status, age.Round(time.Second)))
	}
	s.log.Warn("marking a stale pending Helm release failed", "release", r.Name, "revision", r.Version, "status", string(r.Info.Status))
	r.SetStatus(release.StatusFailed, "marked failed by vnfm: left "+string(r.Info.Status))
	if err := s.cfg.Releases.Update(r); err != nil {
		return classify("mark Helm release "+r.Name+" failed", err)
	}
	return nil
}

func (s *sdkTransport) Uninstall(_ context.Context, name string) error {
	un := action.NewUninstall(s.cfg)
	un.Wait, un.Timeout = true, s.timeout
	un.IgnoreNotFound = true
	// Foreground: the workloads go only once their pods are gone, so the
	// wait covers the pods too.
	un.DeletionPropagation = "foreground"
	if _, err := un.Run(name); err != nil && !errors.Is(err, helmdriver.ErrReleaseNotFound) {
		return classify("helm uninstall "+name, err)
	}
	return nil
}

func (s *sdkTransport) repoFile() string  { return filepath.Join(s.dir, "repositories.yaml") }
func (s *sdkTransport) repoCache() string { return filepath.Join(s.dir, "repository") }

func (s *sdkTransport) RepoAdd(_ context.Context, name, u string) error {
	if err := os.MkdirAll(s.repoCache(), 0o700); err != nil {
		return fmt.Errorf("helm repo add %s: %w", name, err)
	}
	e := &repo.Entry{Name: name, URL: u}
	cr, err := repo.NewChartRepository(e, s.getters)
	if err != nil {
		return unprocessable("helm repo add "+name, err)
	}
	cr.CachePath = s.repoCache()
	if _, err := cr.DownloadIndexFile(); err != nil {
		return repoError("download the index of chart repository "+name, err)
	}
	f, err := repo.LoadFile(s.repoFile())
	if err != nil {
		f = repo.NewFile()
	}
	f.Update(e)
	if err := f.WriteFile(s.repoFile(), 0o600); err != nil {
		return fmt.Errorf("helm repo add %s: %w", name, err)
	}
	return nil
}

func (s *sdkTransport) RepoRemove(_ context.Context, name string) error {
	f, err := repo.LoadFile(s.repoFile())
	if err != nil {
		return nil // no repositories file: nothing registered
	}
	if f.Remove(name) {
		if err := f.WriteFile(s.repoFile(), 0o600); err != nil {
			return fmt.Errorf("helm repo remove %s: %w", name, err)
		}
	}
	for _, p := range []string{name + "-index.yaml", name + "-charts.txt"} {
		if err := os.Remove(filepath.Join(s.repoCache(), p)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("helm repo remove %s: %w", name, err)
		}
	}
	return nil
}

func (s *sdkTransport) Cleanup(context.Context) error {
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove Helm files of the instance: %w", err)
	}
	return nil
}

// chart loads the chart a spec names: the packaged one, or the one the
// repository's index points to (the repository is added first).
func (s *sdkTransport) chart(ctx context.Context, sp *spec) (*chart.Chart, error) {
	c := sp.Chart
	if c.File != "" {
		if sp.Archive == nil {
			return nil, unprocessable("chart "+c.File+": the VNF package is not available", nil)
		}
		ch, err := loader.LoadArchive(bytes.NewReader(sp.Archive))
		if err != nil {
			return nil, unprocessable("load chart "+c.File+" from the VNF package", err)
		}
		return ch, nil
	}
	if err := s.RepoAdd(ctx, c.Repo, c.RepoURL); err != nil {
		return nil, err
	}
	idx, err := repo.LoadIndexFile(filepath.Join(s.repoCache(), c.Repo+"-index.yaml"))
	if err != nil {
		return nil, unprocessable("read the index of chart repository "+c.Repo, err)
	}
	cv, err := idx.Get(c.Name, c.Version)
	if err != nil {
		return nil, unprocessable(fmt.Sprintf("chart %s is not in repository %s", c, c.Repo), err)
	}
	if len(cv.URLs) == 0 {
		return nil, unprocessable(fmt.Sprintf("chart %s has no URL in repository %s", c, c.Repo), nil)
	}
	u, err := repo.ResolveReferenceURL(c.RepoURL, cv.URLs[0])
	if err != nil {
		return nil, unprocessable("chart URL of "+c.String(), err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, unprocessable("chart URL of "+c.String(), err)
	}
	g, err := s.getters.ByScheme(pu.Scheme)
	if err != nil {
		return nil, unprocessable("chart URL of "+c.String(), err)
	}
	buf, err := g.Get(u, getter.WithTimeout(repoTimeout))
	if err != nil {
		return nil, repoError("download chart "+c.String(), err)
	}
	// Kept beside the index: the instance's files are removed together.
	dir := filepath.Join(s.dir, "charts")
	if err := os.MkdirAll(dir, 0o700); err == nil {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s.tgz", cv.Name, cv.Version)), buf.Bytes(), 0o600)
	}
	ch, err := loader.LoadArchive(buf)
	if err != nil {
		return nil, unprocessable("load chart "+c.String(), err)
	}
	return ch, nil
}

// repoError: a repository that does not answer may come back; one that
// answers 4xx will not.
func repoError(what string, err error) error {
	msg := err.Error()
	for _, code := range []int{http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden} {
		if strings.Contains(msg, fmt.Sprintf("%d %s", code, http.StatusText(code))) {
			return unprocessable(what, err)
		}
	}
	if isNetworkError(err) {
		return driver.Transient(fmt.Errorf("%s: %w", what, err))
	}
	return unprocessable(what, err)
}

// restGetter gives Helm the VIM's client config without a kubeconfig file
// on disk: credentials stay in memory.
type restGetter struct {
	cfg  *rest.Config
	ns   string
	once sync.Once
	dc   discovery.CachedDiscoveryInterface
	err  error
}

func newRESTGetter(cfg *rest.Config, ns string) *restGetter {
	return &restGetter{cfg: cfg, ns: ns}
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.once.Do(func() {
		c := rest.CopyConfig(g.cfg)
		// Discovery asks for every group at once.
		c.Burst = max(c.Burst, 100)
		dc, err := discovery.NewDiscoveryClientForConfig(c)
		if err != nil {
			g.err = err
			return
		}
		g.dc = memory.NewMemCacheClient(dc)
	})
	return g.dc, g.err
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	m := restmapper.NewDeferredDiscoveryRESTMapper(dc)
	return restmapper.NewShortcutExpander(m, dc, nil), nil
}

// ToRawKubeConfigLoader is where Helm's kube client takes its default
// namespace from; the config is built in memory from the rest.Config.
func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	c := g.cfg
	api := clientcmdapi.NewConfig()
	api.Clusters["vim"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData,
		CertificateAuthority: c.CAFile, InsecureSkipTLSVerify: c.Insecure, TLSServerName: c.ServerName}
	api.AuthInfos["vim"] = &clientcmdapi.AuthInfo{Token: c.BearerToken, TokenFile: c.BearerTokenFile,
		Username: c.Username, Password: c.Password,
		ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, ClientCertificate: c.CertFile, ClientKey: c.KeyFile}
	api.Contexts["vim"] = &clientcmdapi.Context{Cluster: "vim", AuthInfo: "vim", Namespace: g.ns}
	api.CurrentContext = "vim"
	return clientcmd.NewDefaultClientConfig(*api, &clientcmd.ConfigOverrides{})
}

// repoTimeout bounds one chart repository request.
const repoTimeout = 2 * time.Minute

// boundedHTTPGetter is Helm's HTTP getter with a timeout: built directly,
// as here, it has none (only getter.Getters adds one), and the repository
// index download passes no context and no timeout of its own.
func boundedHTTPGetter(opts ...getter.Option) (getter.Getter, error) {
	return getter.NewHTTPGetter(append([]getter.Option{getter.WithTimeout(repoTimeout)}, opts...)...)
}

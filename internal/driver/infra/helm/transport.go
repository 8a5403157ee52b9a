package helm

import (
	"context"

	"helm.sh/helm/v3/pkg/release"
)

// transport runs Helm for one VNF instance in one namespace: in-process
// with the SDK against the VIM's API server, or the helm CLI on a master
// node over SSH (Tacker v1). Both report releases as Helm's own type.
type transport interface {
	// Last returns the release's latest revision (with its manifest), nil
	// when there is none.
	Last(ctx context.Context, name string) (*release.Release, error)
	// Install installs a new release and waits until it is ready.
	Install(ctx context.Context, s *spec) (*release.Release, error)
	// Upgrade upgrades a release and waits. With s.Reuse the release
	// keeps its values and chart, s.Values are set on top (a scale);
	// otherwise chart and values are exactly s's (a repair).
	Upgrade(ctx context.Context, s *spec) (*release.Release, error)
	// Uninstall removes a release and waits until its objects are gone;
	// a release already gone is no error.
	Uninstall(ctx context.Context, name string) error
	// RepoAdd registers (or refreshes) a chart repository for the
	// instance; RepoRemove forgets it (no error when unknown).
	RepoAdd(ctx context.Context, name, url string) error
	RepoRemove(ctx context.Context, name string) error
	// Cleanup deletes the chart files and repository cache kept for the
	// instance.
	Cleanup(ctx context.Context) error
	Close() error
}

// spec is what a release should be.
type spec struct {
	Name  string
	Chart chartRef
	// Archive is the packaged chart when Chart.File is set (nil when the
	// package could not be read: only a reusing SDK upgrade manages).
	Archive []byte
	Values  map[string]any
	Reuse   bool
	Labels  map[string]string
}

// chartRef says where a release's chart comes from.
type chartRef struct {
	File    string `json:"file,omitempty"` // in the VNF package
	Repo    string `json:"repo,omitempty"`
	RepoURL string `json:"repoUrl,omitempty"`
	Name    string `json:"name,omitempty"`
	// Version is pinned to what was installed, so that a scale never
	// upgrades the chart behind the operator's back.
	Version string `json:"version,omitempty"`
}

func (c chartRef) String() string {
	if c.File != "" {
		return c.File
	}
	s := c.Repo + "/" + c.Name
	if c.Version != "" {
		s += "@" + c.Version
	}
	return s
}

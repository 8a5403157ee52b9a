package pkgm

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
)

// onboarded opens the CSAR of an ONBOARDED package.
func (s *Service) onboarded(ctx context.Context, id string) (*csar.Package, error) {
	content, err := s.Content(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := csar.Open(content, s.limits)
	if err != nil {
		return nil, fmt.Errorf("open stored package: %w", err)
	}
	return c, nil
}

// Content returns the CSAR of an ONBOARDED package.
func (s *Service) Content(ctx context.Context, id string) ([]byte, error) {
	p, err := s.st.GetPackage(ctx, id, false)
	if err != nil {
		return nil, notFound(err, id)
	}
	if p.OnboardingState != model.PkgOnboarded {
		return nil, fmt.Errorf("%w: the package is %s; its content is available once ONBOARDED", lcm.ErrStateConflict, p.OnboardingState)
	}
	return s.st.PackageContent(ctx, id)
}

// vnfdFiles are the files that make up the VNFD: TOSCA.meta, the entry
// definitions and the YAML files beside it (imports and flavours).
func vnfdFiles(c *csar.Package) []string {
	dir := path.Dir(c.EntryDefinitions)
	var out []string
	for _, f := range c.Files {
		ext := strings.ToLower(path.Ext(f))
		if f == "TOSCA-Metadata/TOSCA.meta" || (path.Dir(f) == dir && (ext == ".yaml" || ext == ".yml")) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// VNFD returns the VNFD of an ONBOARDED package as accept asks: text/plain
// is the single YAML file (406 when the VNFD has several), application/zip
// every VNFD file; both accepted → plain when possible.
func (s *Service) VNFD(ctx context.Context, id, accept string) ([]byte, string, error) {
	c, err := s.onboarded(ctx, id)
	if err != nil {
		return nil, "", err
	}
	plain, zipOK := false, false
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		switch mt {
		case "text/plain":
			plain = true
		case "application/zip":
			zipOK = true
		case "*/*":
			plain, zipOK = true, true
		}
	}
	if accept == "" {
		plain, zipOK = true, true
	}
	if !plain && !zipOK {
		return nil, "", fmt.Errorf("%w: the VNFD is served as text/plain or application/zip, not %q", lcm.ErrNotAcceptable, accept)
	}
	files := vnfdFiles(c)
	yamls := 0
	for _, f := range files {
		if f != "TOSCA-Metadata/TOSCA.meta" {
			yamls++
		}
	}
	if plain && (yamls == 1 || !zipOK) {
		if yamls != 1 {
			return nil, "", fmt.Errorf("%w: the VNFD is made of %d files; ask for application/zip", lcm.ErrNotAcceptable, yamls)
		}
		data, err := fs.ReadFile(c.FS, c.EntryDefinitions)
		if err != nil {
			return nil, "", err
		}
		return data, "text/plain", nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		data, err := fs.ReadFile(c.FS, f)
		if err != nil {
			return nil, "", err
		}
		w, err := zw.Create(f)
		if err != nil {
			return nil, "", err
		}
		if _, err := w.Write(data); err != nil {
			return nil, "", err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "application/zip", nil
}

// Artifact returns one file of an ONBOARDED package.
func (s *Service) Artifact(ctx context.Context, id, artifactPath string) ([]byte, error) {
	c, err := s.onboarded(ctx, id)
	if err != nil {
		return nil, err
	}
	clean := path.Clean("/" + artifactPath)[1:]
	if clean == "" || clean != artifactPath {
		return nil, fmt.Errorf("%w: artifact path %q is not a clean path inside the package", lcm.ErrNotFound, artifactPath)
	}
	data, err := fs.ReadFile(c.FS, clean)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: the package has no artifact %s", lcm.ErrNotFound, artifactPath)
		}
		return nil, err
	}
	return data, nil
}

// PackageFS returns the files of an ONBOARDED package, for drivers (BaseHOT,
// scripts, charts). It implements lcm.PackageFiles.
func (s *Service) PackageFS(ctx context.Context, id string) (fs.FS, error) {
	c, err := s.onboarded(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.FS, nil
}

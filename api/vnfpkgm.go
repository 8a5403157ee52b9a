package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/pkgm"
	"github.com/vnfm-project/vnfm/internal/query"
	"github.com/vnfm-project/vnfm/internal/store"
)

const (
	// PkgmAPIVersion is the VNF package management interface version
	// (SOL005 v2.6.1) served under /vnfpkgm/v1.
	PkgmAPIVersion = "2.1.0"
	pkgmPrefix     = "/vnfpkgm/v1"
)

var (
	packageAttrs = query.AttrsOf(reflect.TypeOf(model.VnfPkgInfo{})).Mandatory("_links")
	// SOL005 leaves these out of package lists unless asked for.
	packageDefaultExcluded = []string{"softwareImages", "additionalArtifacts", "userDefinedData", "checksum", "onboardingFailureDetails"}
	// usageState is derived, not stored: it cannot be pushed down.
	packageIndexed = []string{"id", "vnfdId", "onboardingState", "operationalState", "vnfProvider", "vnfProductName"}
)

func (a *API) pkgmRoutes(r chi.Router) {
	if a.pkgm == nil {
		return
	}
	r.Route(pkgmPrefix, func(r chi.Router) {
		r.Use(a.negotiate(vnfpkgmVersion))
		r.Get("/api_versions", a.apiVersions(pkgmPrefix, PkgmAPIVersion))
		r.With(jsonOnly).Get("/vnf_packages", a.listPackages)
		r.With(jsonOnly).Post("/vnf_packages", a.createPackage)
		r.Route("/vnf_packages/{id}", func(r chi.Router) {
			r.Use(a.uuidParam("id", "VNF package"))
			r.With(jsonOnly).Get("/", a.getPackage)
			r.With(jsonOnly).Patch("/", a.modifyPackage)
			r.With(jsonOnly).Delete("/", a.deletePackage)
			r.Put("/package_content", a.uploadPackage)
			r.Get("/package_content", a.downloadPackage)
			r.With(jsonOnly).Post("/package_content/upload_from_uri", a.uploadFromURI)
			r.Get("/vnfd", a.getVnfd)
			r.Get("/artifacts/*", a.getArtifact)
		})
	})
}

func (a *API) packageView(r *http.Request, p *store.Package) *model.VnfPkgInfo {
	v := p.VnfPkgInfo
	self := a.base(r) + pkgmPrefix + "/vnf_packages/" + v.ID
	v.Links = &model.VnfPkgLinks{
		Self:           model.Link{Href: self},
		Vnfd:           model.Link{Href: self + "/vnfd"},
		PackageContent: model.Link{Href: self + "/package_content"},
	}
	return &v
}

// readJSON checks the Content-Type, bounds the body and decodes it into v.
// An empty body leaves v zero when allowEmpty.
func (a *API) readJSON(r *http.Request, v any, allowEmpty bool, types ...string) error {
	if len(types) == 0 {
		types = []string{"application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, a.maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: cannot read request body: %w", lcm.ErrBadRequest, err)
	}
	if int64(len(body)) > a.maxBody {
		return &http.MaxBytesError{Limit: a.maxBody}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return fmt.Errorf("%w: a JSON request body is required", lcm.ErrBadRequest)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ok := false
	for _, t := range types {
		ok = ok || mt == t
	}
	if !ok {
		return fmt.Errorf("%w: Content-Type %q; send %s", errUnsupportedMedia, r.Header.Get("Content-Type"), strings.Join(types, " or "))
	}
	return decodeStrictTypes(body, v)
}

var errUnsupportedMedia = errors.New("unsupported media type")

func (a *API) createPackage(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserDefinedData map[string]any `json:"userDefinedData"`
	}
	if err := a.readJSON(r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.pkgm.Create(r.Context(), req.UserDefinedData)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := a.packageView(r, p)
	w.Header().Set("Location", v.Links.Self.Href)
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) listPackages(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, listSpec[store.Package]{
		attrs:    packageAttrs,
		excluded: packageDefaultExcluded,
		indexed:  packageIndexed,
		fetch: func(r *http.Request, opts store.ListOptions) ([]store.Package, error) {
			return a.pkgm.List(r.Context(), opts)
		},
		seq:  func(p *store.Package) int64 { return p.Seq },
		view: func(r *http.Request, p *store.Package) any { return a.packageView(r, p) },
	})
}

func (a *API) getPackage(w http.ResponseWriter, r *http.Request) {
	p, err := a.pkgm.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.packageView(r, p))
}

func (a *API) modifyPackage(w http.ResponseWriter, r *http.Request) {
	var m pkgm.Modification
	if err := a.readJSON(r, &m, false, "application/merge-patch+json", "application/json"); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.pkgm.Modify(r.Context(), chi.URLParam(r, "id"), &m)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) deletePackage(w http.ResponseWriter, r *http.Request) {
	if err := a.pkgm.Delete(r.Context(), chi.URLParam(r, "id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) uploadPackage(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/zip" && mt != "application/octet-stream" {
		a.fail(w, r, fmt.Errorf("%w: Content-Type %q; send the CSAR as application/zip", errUnsupportedMedia, r.Header.Get("Content-Type")))
		return
	}
	limit := a.pkgm.MaxPackageSize()
	if r.ContentLength > limit {
		// Refused before reading: the client need not send it all.
		a.fail(w, r, &http.MaxBytesError{Limit: limit})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		a.fail(w, r, fmt.Errorf("%w: cannot read the package: %w", lcm.ErrBadRequest, err))
		return
	}
	if int64(len(data)) > limit {
		a.fail(w, r, &http.MaxBytesError{Limit: limit})
		return
	}
	if len(data) == 0 {
		a.fail(w, r, fmt.Errorf("%w: the request body (the CSAR) is empty", lcm.ErrBadRequest))
		return
	}
	if err := a.pkgm.Upload(r.Context(), chi.URLParam(r, "id"), data); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (a *API) uploadFromURI(w http.ResponseWriter, r *http.Request) {
	var req pkgm.UploadFromURIRequest
	if err := a.readJSON(r, &req, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.AddressInformation == "" {
		a.fail(w, r, fmt.Errorf("%w: addressInformation is required", lcm.ErrBadRequest))
		return
	}
	if err := a.pkgm.UploadFromURI(r.Context(), chi.URLParam(r, "id"), &req); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// serveBytes answers with content, honouring Range (206/416).
func serveBytes(w http.ResponseWriter, r *http.Request, name, contentType string, content []byte) {
	w.Header().Set("Content-Type", contentType)
	http.ServeContent(&problemOnError{ResponseWriter: w}, r, name, time.Time{}, bytes.NewReader(content))
}

// problemOnError turns the plain-text errors of http.ServeContent (416 for
// a range past the end) into ProblemDetails.
type problemOnError struct {
	http.ResponseWriter
	failed bool
}

func (p *problemOnError) WriteHeader(code int) {
	if code < 400 {
		p.ResponseWriter.WriteHeader(code)
		return
	}
	p.failed = true
	p.Header().Del("Content-Length")
	detail := http.StatusText(code)
	if code == http.StatusRequestedRangeNotSatisfiable {
		detail = "the requested range is outside the content (see Content-Range)"
	}
	problem(p.ResponseWriter, code, http.StatusText(code), detail)
}

func (p *problemOnError) Write(b []byte) (int, error) {
	if p.failed {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

func (a *API) downloadPackage(w http.ResponseWriter, r *http.Request) {
	content, err := a.pkgm.Content(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	serveBytes(w, r, "package.zip", "application/zip", content)
}

func (a *API) getVnfd(w http.ResponseWriter, r *http.Request) {
	content, ctype, err := a.pkgm.VNFD(r.Context(), chi.URLParam(r, "id"), r.Header.Get("Accept"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	serveBytes(w, r, "vnfd", ctype, content)
}

func (a *API) getArtifact(w http.ResponseWriter, r *http.Request) {
	path := chi.URLParam(r, "*")
	content, err := a.pkgm.Artifact(r.Context(), chi.URLParam(r, "id"), path)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctype := mime.TypeByExtension(filepath.Ext(path))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	serveBytes(w, r, path, ctype, content)
}

func decodeStrictTypes(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: request body: %w", lcm.ErrBadRequest, err)
	}
	return nil
}

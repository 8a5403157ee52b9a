package pkgm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
)

// UploadFromURIRequest is the body of POST .../package_content/upload_from_uri.
type UploadFromURIRequest struct {
	AddressInformation string `json:"addressInformation"`
	UserName           string `json:"userName,omitempty"`
	Password           string `json:"password,omitempty"`
}

// claim moves a CREATED package to state with this process as the owner of
// the onboarding, and runs prepare inside the same transaction.
func (s *Service) claim(ctx context.Context, id string, state model.OnboardingState, prepare func(tx store.Tx, p *store.Package) error) error {
	return s.st.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetPackage(ctx, id, true)
		if err != nil {
			return notFound(err, id)
		}
		if p.OnboardingState != model.PkgCreated {
			return fmt.Errorf("%w: content can only be uploaded to a package in CREATED; this one is %s", lcm.ErrStateConflict, p.OnboardingState)
		}
		if err := prepare(tx, p); err != nil {
			return err
		}
		p.OnboardingState = state
		p.Owner = s.owner
		p.LeaseUntil = s.nowUTC().Add(s.lease)
		return tx.UpdatePackage(ctx, p)
	})
}

// Upload stores a CSAR for a CREATED package and onboards it in the
// background. The bytes and the PROCESSING state commit together: a crash
// after that is recovered by processing the stored bytes again.
func (s *Service) Upload(ctx context.Context, id string, content []byte) error {
	err := s.claim(ctx, id, model.PkgProcessing, func(tx store.Tx, p *store.Package) error {
		return tx.PutPackageContent(ctx, id, content)
	})
	if err != nil {
		return err
	}
	s.log.Info("vnf package content uploaded", "vnf_pkg_id", id, "bytes", len(content))
	s.background(func(ctx context.Context) { s.process(ctx, id) })
	return nil
}

// UploadFromURI records where to fetch the CSAR (credentials sealed) and
// fetches and onboards it in the background.
func (s *Service) UploadFromURI(ctx context.Context, id string, req *UploadFromURIRequest) error {
	u, err := url.Parse(req.AddressInformation)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: addressInformation must be an http or https URL", lcm.ErrBadRequest)
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	sealed, err := s.box.Seal(raw)
	if err != nil {
		return fmt.Errorf("seal source: %w", err)
	}
	err = s.claim(ctx, id, model.PkgUploading, func(_ store.Tx, p *store.Package) error {
		p.SealedSource = sealed
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("vnf package upload from URI accepted", "vnf_pkg_id", id, "host", u.Host)
	s.background(func(ctx context.Context) { s.fetchAndProcess(ctx, id) })
	return nil
}

func (s *Service) background(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// fetchAndProcess downloads the CSAR of an UPLOADING package.
func (s *Service) fetchAndProcess(ctx context.Context, id string) {
	p, err := s.st.GetPackage(ctx, id, false)
	if err != nil {
		s.log.Error("fetch package: load", "vnf_pkg_id", id, "err", err)
		return
	}
	var src UploadFromURIRequest
	raw, err := s.box.Open(p.SealedSource)
	if err == nil {
		err = json.Unmarshal(raw, &src)
	}
	if err != nil {
		s.failOnboarding(ctx, id, 500, fmt.Sprintf("cannot read the stored upload source: %v", err))
		return
	}
	content, err := s.fetch(ctx, &src)
	if err != nil {
		s.failOnboarding(ctx, id, 400, err.Error())
		return
	}
	err = s.owned(ctx, id, func(tx store.Tx, p *store.Package) error {
		if p.OnboardingState != model.PkgUploading {
			return errNotMine
		}
		if err := tx.PutPackageContent(ctx, id, content); err != nil {
			return err
		}
		p.OnboardingState = model.PkgProcessing
		p.LeaseUntil = s.nowUTC().Add(s.lease)
		return nil
	})
	if err != nil {
		s.log.Error("store fetched package", "vnf_pkg_id", id, "err", err)
		return
	}
	s.process(ctx, id)
}

func (s *Service) fetch(ctx context.Context, src *UploadFromURIRequest) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.AddressInformation, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", secret.RedactURL(src.AddressInformation), err)
	}
	if src.UserName != "" || src.Password != "" {
		req.SetBasicAuth(src.UserName, src.Password)
	}
	res, err := s.client.Do(req)
	if err != nil {
		// The error text of net/http includes the URL, which may carry
		// user info: say only what failed.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("fetch %s: %v", secret.RedactURL(src.AddressInformation), err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: the server answered %s", secret.RedactURL(src.AddressInformation), res.Status)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, s.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %v", secret.RedactURL(src.AddressInformation), err)
	}
	if int64(len(data)) > s.maxSize {
		return nil, fmt.Errorf("fetch %s: the package is larger than %d bytes", secret.RedactURL(src.AddressInformation), s.maxSize)
	}
	return data, nil
}

var errNotMine = errors.New("onboarding is no longer held by this process")

// owned updates a package this process holds the onboarding of.
func (s *Service) owned(ctx context.Context, id string, fn func(tx store.Tx, p *store.Package) error) error {
	return s.st.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetPackage(ctx, id, true)
		if err != nil {
			return err
		}
		if p.Owner != s.owner {
			return errNotMine
		}
		if err := fn(tx, p); err != nil {
			return err
		}
		return tx.UpdatePackage(ctx, p)
	})
}

func (s *Service) failOnboarding(ctx context.Context, id string, status int, detail string) {
	err := s.owned(ctx, id, func(_ store.Tx, p *store.Package) error {
		p.OnboardingState = model.PkgError
		p.OnboardingFailureDetails = &model.ProblemDetails{Status: status, Title: "Onboarding failed", Detail: detail}
		p.Owner = ""
		p.LeaseUntil = time.Time{}
		p.SealedSource = nil
		return nil
	})
	if err != nil {
		s.log.Error("record onboarding failure", "vnf_pkg_id", id, "err", err)
		return
	}
	s.log.Warn("vnf package onboarding failed", "vnf_pkg_id", id, "reason", detail)
}

// process parses and checks the stored CSAR and its VNFD and records the
// result. Processing is a pure function of the stored bytes, so running it
// again after a crash is safe.
func (s *Service) process(ctx context.Context, id string) {
	content, err := s.st.PackageContent(ctx, id)
	if err != nil {
		s.log.Error("onboard: load content", "vnf_pkg_id", id, "err", err)
		return
	}
	info, vnfdJSON, err := s.analyse(content)
	if err != nil {
		s.failOnboarding(ctx, id, 422, err.Error())
		return
	}
	err = s.owned(ctx, id, func(tx store.Tx, p *store.Package) error {
		if p.OnboardingState != model.PkgProcessing {
			return errNotMine
		}
		if other, err := tx.OnboardedPackageByVnfd(ctx, info.VnfdID, false); err == nil && other.ID != id {
			return fmt.Errorf("%w: vnfdId %s is already onboarded in package %s", store.ErrDuplicate, info.VnfdID, other.ID)
		}
		p.VnfdID, p.VnfProvider, p.VnfProductName = info.VnfdID, info.VnfProvider, info.VnfProductName
		p.VnfSoftwareVersion, p.VnfdVersion = info.VnfSoftwareVersion, info.VnfdVersion
		p.Checksum, p.SoftwareImages, p.AdditionalArtifacts = info.Checksum, info.SoftwareImages, info.AdditionalArtifacts
		p.Vnfd = vnfdJSON
		p.OnboardingState = model.PkgOnboarded
		p.OperationalState = model.PkgEnabled
		p.OnboardingFailureDetails = nil
		p.Owner = ""
		p.LeaseUntil = time.Time{}
		p.SealedSource = nil
		return nil
	})
	switch {
	case err == nil:
		s.log.Info("vnf package onboarded", "vnf_pkg_id", id, "vnfd_id", info.VnfdID)
	case errors.Is(err, store.ErrDuplicate):
		s.failOnboarding(ctx, id, 409, fmt.Sprintf("vnfdId %s is already onboarded in another package: %v", info.VnfdID, err))
	default:
		s.log.Error("onboard: record result", "vnf_pkg_id", id, "err", err)
	}
}

// recoverStale takes over onboarding that a stopped process left in
// UPLOADING or PROCESSING.
func (s *Service) recoverStale(ctx context.Context) {
	stale, err := s.st.StalePackages(ctx, s.nowUTC())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("list stale packages", "err", err)
		}
		return
	}
	for i := range stale {
		id := stale[i].ID
		var state model.OnboardingState
		err := s.st.InTx(ctx, func(tx store.Tx) error {
			p, err := tx.GetPackage(ctx, id, true)
			if err != nil {
				return err
			}
			if p.Owner != stale[i].Owner || p.Revision != stale[i].Revision {
				return errNotMine // someone else took it
			}
			p.Owner = s.owner
			p.LeaseUntil = s.nowUTC().Add(s.lease)
			state = p.OnboardingState
			return tx.UpdatePackage(ctx, p)
		})
		if err != nil {
			continue
		}
		s.log.Warn("resuming interrupted onboarding", "vnf_pkg_id", id, "state", string(state))
		if state == model.PkgUploading {
			s.background(func(ctx context.Context) { s.fetchAndProcess(ctx, id) })
		} else {
			s.background(func(ctx context.Context) { s.process(ctx, id) })
		}
	}
}

package pkgm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/vnfd"
)

// analyse opens and verifies a CSAR, parses its VNFD and returns what the
// package info shows and the VNFD model to store.
func (s *Service) analyse(content []byte) (*model.VnfPkgInfo, json.RawMessage, error) {
	c, err := csar.Open(content, s.limits)
	if err != nil {
		return nil, nil, err
	}
	if err := c.Verify(); err != nil {
		return nil, nil, err
	}
	v, err := vnfd.Parse(c.FS, c.EntryDefinitions)
	if err != nil {
		return nil, nil, err
	}
	if v.ID() == "" {
		return nil, nil, errors.New("the VNFD has no descriptor_id")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encode VNFD: %w", err)
	}
	sum := c.Checksum
	info := &model.VnfPkgInfo{
		VnfdID:             v.ID(),
		VnfProvider:        v.Provider(),
		VnfProductName:     v.ProductName(),
		VnfSoftwareVersion: v.SoftwareVersion(),
		VnfdVersion:        v.DescriptorVersion(),
		Checksum:           &sum,
	}
	images := map[string]bool{}
	for _, im := range v.SoftwareImages() {
		info.SoftwareImages = append(info.SoftwareImages, model.VnfPackageSoftwareImageInfo{
			ID: im.ID, Name: im.Name, Provider: im.Provider, Version: im.Version,
			Checksum:        model.Checksum{Algorithm: im.Checksum.Algorithm, Hash: im.Checksum.Hash},
			ContainerFormat: strings.ToUpper(im.ContainerFormat), DiskFormat: strings.ToUpper(im.DiskFormat),
			MinDisk: im.MinDisk, MinRAM: im.MinRAM, Size: im.Size, ImagePath: im.ImagePath,
		})
		images[im.ImagePath] = true
	}
	// Every other non-metadata file is an additional artifact.
	vnfdSet := map[string]bool{}
	for _, f := range vnfdFiles(c) {
		vnfdSet[f] = true
	}
	for _, f := range c.Files {
		if vnfdSet[f] || images[f] || strings.HasSuffix(f, ".mf") {
			continue
		}
		data, err := fs.ReadFile(c.FS, f)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f, err)
		}
		h := sha256.Sum256(data)
		info.AdditionalArtifacts = append(info.AdditionalArtifacts, model.VnfPackageArtifactInfo{
			ArtifactPath: f, Checksum: model.Checksum{Algorithm: "SHA-256", Hash: hex.EncodeToString(h[:])},
		})
	}
	return info, raw, nil
}

// Lookup implements lcm.Vnfds over the onboarded packages.
func (s *Service) Lookup(ctx context.Context, tx store.Tx, vnfdID string) (*lcm.VnfdInfo, error) {
	p, err := tx.OnboardedPackageByVnfd(ctx, vnfdID, true)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("vnfd %s: %w", vnfdID, lcm.ErrNotFound)
		}
		return nil, err
	}
	v, err := vnfd.FromJSON(p.Vnfd)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", p.ID, err)
	}
	info := &lcm.VnfdInfo{
		VnfProvider: p.VnfProvider, VnfProductName: p.VnfProductName,
		VnfSoftwareVersion: p.VnfSoftwareVersion, VnfdVersion: p.VnfdVersion,
		VnfPkgID: p.ID, Enabled: p.OperationalState == model.PkgEnabled,
		MgmtDrivers: map[string]string{},
		VNFD:        v,
	}
	for _, f := range v.Flavours() {
		if d := v.MgmtDriver(f.ID); d != "" {
			info.MgmtDrivers[f.ID] = d
		}
	}
	return info, nil
}

package csar

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// buildTime is the modification time of every entry Build writes (the
// earliest a zip can hold), so that output depends on content only.
var buildTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Build zips the package directory dir into a CSAR written to w.
//
// The main VNFD is TOSCA.meta's Entry-Definitions, or, without
// TOSCA-Metadata, the single root-level .yaml/.yml. The manifest is
// TOSCA.meta's ETSI-Entry-Manifest, else the root-level "<entry stem>.mf". It
// is (re)generated to list every file except itself and TOSCA.meta with
// Algorithm SHA-256; an existing manifest's metadata block and
// non_mano_artifact_sets are kept, its Sources and CMS signature are not
// (a signature would no longer match). Other files, TOSCA.meta included, are
// copied unchanged.
//
// Output is deterministic: entries sorted by path, deflated, with a fixed
// timestamp and mode 0644 (0755 for files with an execute bit); directories
// are implied by the paths. Symbolic links and other non-regular files are
// refused. Every error about the package is an *Error.
func Build(dir string, w io.Writer) error {
	st, err := os.Stat(dir)
	if err != nil {
		return &Error{Msg: "cannot read package directory", Err: err}
	}
	if !st.IsDir() {
		return &Error{Msg: dir + " is not a directory"}
	}
	fsys := os.DirFS(dir)
	modes := map[string]fs.FileMode{}
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &Error{File: p, Msg: "cannot read", Err: err}
		}
		if p != "." {
			if c, err := cleanRel(p); err != nil || c != p {
				return errf(p, 0, ErrUnsafePath, "path %q cannot be stored in a CSAR", p)
			}
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return errf(p, 0, ErrUnsafePath, "is a symbolic link")
		}
		if !d.Type().IsRegular() {
			return errf(p, 0, ErrUnsafePath, "is not a regular file")
		}
		info, err := d.Info()
		if err != nil {
			return &Error{File: p, Msg: "cannot read", Err: err}
		}
		mode := fs.FileMode(0o644)
		if info.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		modes[p] = mode
		files = append(files, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)

	entry, manifestPath, err := buildLayout(fsys, files, modes)
	if err != nil {
		return err
	}
	m := &Manifest{Path: manifestPath, Metadata: map[string]string{}, NonMano: map[string][]string{}}
	if _, ok := modes[manifestPath]; ok {
		raw, err := fs.ReadFile(fsys, manifestPath)
		if err != nil {
			return &Error{File: manifestPath, Msg: "cannot read", Err: err}
		}
		old, err := parseManifest(manifestPath, raw)
		if err != nil {
			return err
		}
		m.Metadata, m.metaOrder = old.Metadata, old.metaOrder
		m.NonMano, m.nonManoOrder = old.NonMano, old.nonManoOrder
	} else {
		modes[manifestPath] = 0o644
		files = append(files, manifestPath)
		sort.Strings(files)
	}
	if _, ok := modes[MetaPath]; !ok {
		raw, err := fs.ReadFile(fsys, entry)
		if err != nil {
			return &Error{File: entry, Msg: "cannot read", Err: err}
		}
		if !hasTopLevelMetadata(raw) {
			return errf(entry, 0, nil, "root-level VNFD of a CSAR without TOSCA-Metadata has no top-level metadata section")
		}
	}

	sums := map[string]string{}
	for _, f := range files {
		if f == manifestPath || f == MetaPath {
			continue
		}
		sum, err := hashDiskFile(fsys, f, io.Discard)
		if err != nil {
			return err
		}
		sums[f] = sum
		m.Sources = append(m.Sources, Source{Path: f, Algorithm: "SHA-256", Hash: sum})
	}
	manifest := m.render()

	zw := zip.NewWriter(w)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f, Method: zip.Deflate, Modified: buildTime}
		hdr.SetMode(modes[f])
		out, err := zw.CreateHeader(hdr)
		if err != nil {
			return &Error{File: f, Msg: "cannot write", Err: err}
		}
		if f == manifestPath {
			if _, err := out.Write(manifest); err != nil {
				return &Error{File: f, Msg: "cannot write", Err: err}
			}
			continue
		}
		sum, err := hashDiskFile(fsys, f, out)
		if err != nil {
			return err
		}
		if want, ok := sums[f]; ok && sum != want {
			return errf(f, 0, nil, "file changed while the package was being built")
		}
	}
	if err := zw.Close(); err != nil {
		return &Error{Msg: "cannot write", Err: err}
	}
	return nil
}

// buildLayout finds the main VNFD and the manifest path of a package
// directory, as Open would.
func buildLayout(fsys fs.FS, files []string, modes map[string]fs.FileMode) (entry, manifest string, err error) {
	if _, ok := modes[MetaPath]; ok {
		raw, err := fs.ReadFile(fsys, MetaPath)
		if err != nil {
			return "", "", &Error{File: MetaPath, Msg: "cannot read", Err: err}
		}
		tm, err := parseToscaMeta(MetaPath, raw)
		if err != nil {
			return "", "", err
		}
		line := tm.lines["Entry-Definitions"]
		e := tm.block0["Entry-Definitions"]
		if e == "" {
			return "", "", errf(MetaPath, line, nil, "Entry-Definitions is missing")
		}
		if entry, err = cleanRel(e); err != nil {
			return "", "", errf(MetaPath, line, ErrUnsafePath, "Entry-Definitions %q escapes the package root", e)
		}
		if _, ok := modes[entry]; !ok {
			return "", "", errf(MetaPath, line, nil, "Entry-Definitions %s is not in the package", entry)
		}
		if v, ok := tm.block0["ETSI-Entry-Manifest"]; ok {
			line := tm.lines["ETSI-Entry-Manifest"]
			if manifest, err = cleanRel(v); err != nil {
				return "", "", errf(MetaPath, line, ErrUnsafePath, "ETSI-Entry-Manifest %q escapes the package root", v)
			}
			if !strings.EqualFold(path.Ext(manifest), ".mf") {
				return "", "", errf(MetaPath, line, nil, "ETSI-Entry-Manifest %s is not a .mf file", manifest)
			}
			if manifest == MetaPath || manifest == entry {
				return "", "", errf(MetaPath, line, nil, "ETSI-Entry-Manifest %s names another package file", manifest)
			}
			return entry, manifest, nil
		}
		return entry, defaultManifest(entry), nil
	}
	for _, f := range files {
		if strings.HasPrefix(f, MetaDir+"/") {
			return "", "", errf(MetaDir, 0, nil, "directory has no TOSCA.meta")
		}
	}
	var roots []string
	for _, f := range files {
		if !strings.Contains(f, "/") && isYAML(f) {
			roots = append(roots, f)
		}
	}
	if len(roots) != 1 {
		return "", "", rootYAMLError(roots)
	}
	return roots[0], defaultManifest(roots[0]), nil
}

// hashDiskFile copies a file to w and returns its SHA-256.
func hashDiskFile(fsys fs.FS, name string, w io.Writer) (string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return "", &Error{File: name, Msg: "cannot read", Err: err}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(h, w), f); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", e
		}
		return "", &Error{File: name, Msg: "cannot copy", Err: err}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Package csar reads and builds VNF packages in the TOSCA YAML Cloud Service
// Archive format of ETSI GS NFV-SOL 004.
//
// Open validates a CSAR held in memory and gives a read-only fs.FS over its
// entries; it never writes to disk, never follows a symbolic link and keeps
// every allocation bounded by Limits. Verify checks the digests the manifest
// (and, as OpenStack Tacker does, TOSCA.meta's per-file blocks) declare. Build
// zips a package directory into a CSAR with a freshly generated manifest.
//
// Layouts (SOL004 clause 4.1):
//
//   - with TOSCA-Metadata/TOSCA.meta: block 0 of TOSCA.meta must name the
//     main VNFD in Entry-Definitions. The manifest is the file named by
//     ETSI-Entry-Manifest (which must end in .mf); without that key, a
//     root-level "<Entry-Definitions stem>.mf" is used when present. Files
//     named by ETSI-Entry-Change-Log, -Licenses, -Tests and -Certificate must
//     exist (as a file or a directory).
//   - without TOSCA-Metadata: exactly one .yaml/.yml at the root, with a
//     top-level metadata section, is the main VNFD, and a root-level .mf of
//     the same stem is the manifest.
//
// Manifest (SOL004 clause 4.3.2): a "metadata:" block of key: value pairs, then
// blocks of Source/Algorithm/Hash (optionally Signature/Certificate) separated
// by blank lines, then optionally non_mano_artifact_sets (clause 4.3.7) and a
// CMS signature (clause 5) between "-----BEGIN CMS-----" and
// "-----END CMS-----". The CMS signature is kept verbatim in
// Manifest.Signature but NOT verified; neither are per-artifact Signature or
// Certificate files. A Source that is a URI (external artifact) is recorded
// but never fetched, so its digest is not checked. A Source without Algorithm
// and Hash is only checked for existence. Files the manifest does not list are
// allowed.
package csar

import (
	"archive/zip"
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/vnfm-project/vnfm/internal/model"
)

// Paths fixed by TOSCA and SOL004.
const (
	MetaDir  = "TOSCA-Metadata"
	MetaPath = "TOSCA-Metadata/TOSCA.meta"
)

// maxTextSize bounds the TOSCA.meta, manifest and (for the root-YAML layout)
// entry files that Open reads into memory to parse.
const maxTextSize = 32 << 20

// maxNameLen bounds an entry name (bytes).
const maxNameLen = 4096

// Limits bound what Open accepts. A zero (or negative) field takes its default.
type Limits struct {
	MaxTotalSize int64 // sum of uncompressed sizes, declared and actual
	MaxEntries   int   // zip entries, directories included
	MaxFileSize  int64 // uncompressed size of one entry
}

// DefaultLimits returns 1 GiB in total, 10,000 entries and 512 MiB per file.
func DefaultLimits() Limits {
	return Limits{MaxTotalSize: 1 << 30, MaxEntries: 10000, MaxFileSize: 512 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = d.MaxFileSize
	}
	return l
}

// Sentinels carried in Error.Err, for errors.Is.
var (
	// ErrLimit: the archive exceeds a Limits bound (or a size it declares
	// is a lie).
	ErrLimit = errors.New("csar: limit exceeded")
	// ErrUnsafePath: an entry or a listed path escapes the package root, or
	// an entry is a symbolic link or other non-regular file.
	ErrUnsafePath = errors.New("csar: unsafe path")
	// ErrDigest: a file's content does not match the digest declared for it.
	ErrDigest = errors.New("csar: digest mismatch")
)

// Error is returned for every problem in a CSAR. File is the path inside the
// package (empty for the archive as a whole), Line the 1-based line in File
// when known (0 otherwise).
type Error struct {
	File string
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("csar: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil && e.Err != ErrLimit && e.Err != ErrUnsafePath && e.Err != ErrDigest {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func errf(file string, line int, err error, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Err: err}
}

// Package is an opened, structurally valid CSAR.
type Package struct {
	// FS is a read-only view of the entries, paths cleaned, rooted at the
	// CSAR root. Files are decompressed lazily, through the same size checks
	// as Open. It implements fs.ReadFileFS, fs.ReadDirFS and fs.StatFS.
	FS fs.FS
	// EntryDefinitions is the path of the main VNFD YAML.
	EntryDefinitions string
	// Meta holds TOSCA.meta block 0 (empty without TOSCA-Metadata). Keys
	// SOL004 defines are spelled canonically whatever their case in the
	// file (e.g. "Created-by" is stored as "Created-By").
	Meta map[string]string
	// MetaSources are TOSCA.meta's per-file blocks (Name:) that carry
	// Algorithm and Hash; Verify checks them too, as Tacker does.
	MetaSources []Source
	// Manifest is nil when the CSAR has none.
	Manifest *Manifest
	// Checksum is the SHA-512 of the whole archive.
	Checksum model.Checksum
	// Files lists all regular files, sorted.
	Files []string

	files  map[string]*zip.File
	digest map[digestKey]string // computed by Open for every listed Source
}

type digestKey struct{ path, alg string }

// Open validates and indexes a CSAR held in memory. It never writes to disk.
// data must not be modified while the Package is in use. Every error is an
// *Error.
func Open(data []byte, lim Limits) (*Package, error) {
	lim = lim.withDefaults()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &Error{Msg: "not a valid zip archive", Err: err}
	}
	if zr == nil {
		return nil, &Error{Msg: "not a valid zip archive", Err: err}
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, errf("", 0, ErrLimit, "archive has %d entries, more than the limit of %d", len(zr.File), lim.MaxEntries)
	}
	pfs, err := index(zr.File, lim)
	if err != nil {
		return nil, err
	}
	p := &Package{FS: pfs, Meta: map[string]string{}, files: pfs.files}
	for name := range pfs.files {
		p.Files = append(p.Files, name)
	}
	sort.Strings(p.Files)

	if err := p.locate(pfs, lim); err != nil {
		return nil, err
	}
	if err := p.scan(pfs, lim); err != nil {
		return nil, err
	}
	sum := sha512.Sum512(data)
	p.Checksum = model.Checksum{Algorithm: "SHA-512", Hash: hex.EncodeToString(sum[:])}
	return p, nil
}

// locate finds the entry definitions, TOSCA.meta and the manifest.
func (p *Package) locate(pfs *pkgFS, lim Limits) error {
	manifestPath := ""
	if _, ok := pfs.files[MetaPath]; ok {
		raw, err := pfs.readText(MetaPath)
		if err != nil {
			return err
		}
		tm, err := parseToscaMeta(MetaPath, raw)
		if err != nil {
			return err
		}
		p.Meta = tm.block0
		p.MetaSources = tm.sources
		entry, ok := tm.block0["Entry-Definitions"]
		if !ok || entry == "" {
			return errf(MetaPath, tm.lines["Entry-Definitions"], nil, "Entry-Definitions is missing")
		}
		clean, err := cleanRel(entry)
		if err != nil {
			return errf(MetaPath, tm.lines["Entry-Definitions"], ErrUnsafePath, "Entry-Definitions %q escapes the package root", entry)
		}
		if _, ok := pfs.files[clean]; !ok {
			return errf(MetaPath, tm.lines["Entry-Definitions"], nil, "Entry-Definitions %s is not in the package", clean)
		}
		p.EntryDefinitions = clean
		for _, k := range []string{"ETSI-Entry-Manifest", "ETSI-Entry-Change-Log", "ETSI-Entry-Licenses", "ETSI-Entry-Tests", "ETSI-Entry-Certificate"} {
			v, ok := tm.block0[k]
			if !ok {
				continue
			}
			line := tm.lines[k]
			c, err := cleanRel(v)
			if err != nil {
				return errf(MetaPath, line, ErrUnsafePath, "%s %q escapes the package root", k, v)
			}
			_, isFile := pfs.files[c]
			_, isDir := pfs.dirs[c]
			if k == "ETSI-Entry-Manifest" {
				if !strings.EqualFold(path.Ext(c), ".mf") {
					return errf(MetaPath, line, nil, "ETSI-Entry-Manifest %s is not a .mf file", c)
				}
				if !isFile {
					return errf(MetaPath, line, nil, "ETSI-Entry-Manifest %s is not in the package", c)
				}
				manifestPath = c
				continue
			}
			if !isFile && !isDir {
				return errf(MetaPath, line, nil, "%s %s is not in the package", k, c)
			}
		}
		if manifestPath == "" {
			if mf := defaultManifest(p.EntryDefinitions); pfs.hasFile(mf) {
				manifestPath = mf
			}
		}
	} else {
		if _, ok := pfs.dirs[MetaDir]; ok {
			return errf(MetaDir, 0, nil, "directory has no TOSCA.meta")
		}
		var roots []string
		for _, f := range p.Files {
			if !strings.Contains(f, "/") && isYAML(f) {
				roots = append(roots, f)
			}
		}
		if len(roots) != 1 {
			return rootYAMLError(roots)
		}
		p.EntryDefinitions = roots[0]
		raw, err := pfs.readText(roots[0])
		if err != nil {
			return err
		}
		if !hasTopLevelMetadata(raw) {
			return errf(roots[0], 0, nil, "root-level VNFD of a CSAR without TOSCA-Metadata has no top-level metadata section")
		}
		if mf := defaultManifest(roots[0]); pfs.hasFile(mf) {
			manifestPath = mf
		}
	}
	if manifestPath != "" {
		raw, err := pfs.readText(manifestPath)
		if err != nil {
			return err
		}
		m, err := parseManifest(manifestPath, raw)
		if err != nil {
			return err
		}
		if len(m.Sources) > lim.MaxEntries {
			return errf(manifestPath, 0, ErrLimit, "manifest lists %d sources, more than the limit of %d entries", len(m.Sources), lim.MaxEntries)
		}
		p.Manifest = m
	}
	return nil
}

// defaultManifest is the root-level "<stem of entry's base name>.mf".
func defaultManifest(entry string) string {
	base := path.Base(entry)
	return strings.TrimSuffix(base, path.Ext(base)) + ".mf"
}

func isYAML(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// hasTopLevelMetadata reports whether a YAML document has a "metadata:" key at
// column 0 (TOSCA Simple Profile requires one in the root-level template of a
// CSAR without TOSCA-Metadata).
func hasTopLevelMetadata(raw []byte) bool {
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimPrefix(line, "\ufeff")
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimRight(k, " \t") == "metadata" {
			return true
		}
	}
	return false
}

// scan decompresses every file once: it checks that the actual data matches
// the declared size and CRC, enforces MaxTotalSize on actual bytes and
// computes the digests of the files that the manifest and TOSCA.meta list.
func (p *Package) scan(pfs *pkgFS, lim Limits) error {
	want := map[string][]string{} // path -> canonical algorithms
	add := func(srcs []Source) {
		for _, s := range srcs {
			if s.External || s.Algorithm == "" {
				continue
			}
			alg, ok := lookupAlg(s.Algorithm)
			if !ok {
				continue
			}
			want[s.Path] = appendUnique(want[s.Path], alg.name)
		}
	}
	add(p.MetaSources)
	if p.Manifest != nil {
		add(p.Manifest.Sources)
	}
	p.digest = map[digestKey]string{}
	var total int64
	for _, name := range p.Files {
		f := pfs.files[name]
		var w io.Writer = io.Discard
		type pending struct {
			alg string
			h   hash.Hash
		}
		var hs []pending
		if algs := want[name]; len(algs) > 0 {
			ws := make([]io.Writer, 0, len(algs))
			for _, a := range algs {
				al, _ := lookupAlg(a)
				h := al.new()
				ws = append(ws, h)
				hs = append(hs, pending{a, h})
			}
			w = io.MultiWriter(ws...)
		}
		n, err := copyEntry(w, name, f)
		total += n
		if err != nil {
			return err
		}
		if total > lim.MaxTotalSize {
			return errf(name, 0, ErrLimit, "uncompressed content exceeds the limit of %d bytes", lim.MaxTotalSize)
		}
		for _, h := range hs {
			p.digest[digestKey{name, h.alg}] = hex.EncodeToString(h.h.Sum(nil))
		}
	}
	return nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// copyEntry copies a zip entry's content to w, never more than its declared
// size, and reports data that is larger or smaller than declared or corrupt.
func copyEntry(w io.Writer, name string, f *zip.File) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, errf(name, 0, err, "cannot read entry")
	}
	defer rc.Close()
	r := &sizeReader{name: name, r: io.LimitReader(rc, int64(f.UncompressedSize64)+1), size: int64(f.UncompressedSize64)}
	n, err := io.Copy(w, r)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return n, e
		}
		return n, errf(name, 0, err, "cannot read entry")
	}
	return n, nil
}

// sizeReader fails once more than size bytes come out of r (r must be limited
// to size+1 bytes), and maps archive/zip's own size and checksum errors.
type sizeReader struct {
	name string
	r    io.Reader
	size int64
	n    int64
}

func (s *sizeReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.n += int64(n)
	if s.n > s.size {
		return 0, errf(s.name, 0, ErrLimit, "entry holds more data than its declared size of %d bytes", s.size)
	}
	switch {
	case err == nil, err == io.EOF:
	case errors.Is(err, zip.ErrFormat):
		// archive/zip reports data beyond the declared size this way.
		err = errf(s.name, 0, ErrLimit, "entry holds more data than its declared size of %d bytes", s.size)
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = errf(s.name, 0, err, "entry holds less data than its declared size of %d bytes", s.size)
	case errors.Is(err, zip.ErrChecksum):
		err = errf(s.name, 0, err, "entry is corrupt")
	default:
		err = errf(s.name, 0, err, "entry is corrupt")
	}
	return n, err
}

// index checks every entry's name, type and declared size and builds the FS.
func index(files []*zip.File, lim Limits) (*pkgFS, error) {
	pfs := &pkgFS{files: map[string]*zip.File{}, dirs: map[string]*dirNode{}}
	pfs.dirs["."] = &dirNode{}
	seen := map[string]string{} // cleaned -> original name
	var declared int64
	for _, f := range files {
		name, isDir, err := cleanEntry(f)
		if err != nil {
			return nil, err
		}
		if name == "." {
			if !isDir {
				return nil, errf("", 0, ErrUnsafePath, "entry %q escapes the package root", f.Name)
			}
			continue
		}
		if prev, dup := seen[name]; dup {
			return nil, errf(name, 0, nil, "duplicate entry %q (also %q)", f.Name, prev)
		}
		seen[name] = f.Name
		if f.Flags&0x1 != 0 {
			return nil, errf(name, 0, nil, "entry is encrypted")
		}
		if !isDir && f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, errf(name, 0, nil, "entry uses unsupported compression method %d", f.Method)
		}
		size := f.UncompressedSize64
		if size > uint64(lim.MaxFileSize) {
			return nil, errf(name, 0, ErrLimit, "entry declares %d bytes, more than the per-file limit of %d", size, lim.MaxFileSize)
		}
		declared += int64(size)
		if declared > lim.MaxTotalSize {
			return nil, errf(name, 0, ErrLimit, "declared uncompressed sizes exceed the total limit of %d bytes", lim.MaxTotalSize)
		}
		if isDir {
			if size != 0 {
				return nil, errf(name, 0, nil, "directory entry has content")
			}
			pfs.dirNode(name).mod = f.Modified
			continue
		}
		pfs.files[name] = f
	}
	// A file may not also be a directory (explicit, or the parent of
	// another entry).
	for name := range seen {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := pfs.files[d]; ok {
				return nil, errf(name, 0, nil, "entry is inside %q, which is a file", d)
			}
		}
	}
	pfs.build()
	return pfs, nil
}

// cleanEntry validates a zip entry's name and type and returns the cleaned
// path and whether it is a directory.
func cleanEntry(f *zip.File) (string, bool, error) {
	name, err := cleanRel(f.Name)
	if err != nil {
		return "", false, errf("", 0, ErrUnsafePath, "entry %q escapes the package root", f.Name)
	}
	mode := f.Mode()
	if mode&fs.ModeSymlink != 0 {
		return "", false, errf(name, 0, ErrUnsafePath, "entry is a symbolic link")
	}
	isDir := mode.IsDir() || strings.HasSuffix(f.Name, "/")
	if !isDir && mode.Type() != 0 {
		return "", false, errf(name, 0, ErrUnsafePath, "entry is not a regular file (mode %s)", mode)
	}
	return name, isDir, nil
}

var errEscape = errors.New("path escapes the package root")

// cleanRel validates a slash-separated path relative to the package root and
// cleans it. It rejects empty, absolute, drive-letter, backslash, NUL, ".."
// and invalid-UTF-8 paths. A trailing slash is allowed (and dropped); "." is
// returned for the root itself.
func cleanRel(p string) (string, error) {
	if p == "" || len(p) > maxNameLen || !utf8.ValidString(p) ||
		strings.ContainsAny(p, "\\\x00") || strings.HasPrefix(p, "/") {
		return "", errEscape
	}
	if len(p) >= 2 && p[1] == ':' && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z') {
		return "", errEscape
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", errEscape
		}
	}
	c := path.Clean(p)
	if c != "." && !fs.ValidPath(c) {
		return "", errEscape
	}
	return c, nil
}

func rootYAMLError(roots []string) error {
	list := ""
	if len(roots) > 0 {
		list = " (" + strings.Join(roots, ", ") + ")"
	}
	return errf("", 0, nil, "no %s and %d root-level YAML files%s; exactly one is required", MetaPath, len(roots), list)
}

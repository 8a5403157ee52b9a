package csar

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// ent is one zip entry of a test archive.
type ent struct {
	name string
	body string
	mode fs.FileMode // 0: regular 0644
}

func mkzip(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
func sha384hex(s string) string { h := sha512.Sum384([]byte(s)); return hex.EncodeToString(h[:]) }
func sha512hex(s string) string { h := sha512.Sum512([]byte(s)); return hex.EncodeToString(h[:]) }

const (
	vnfdTop = `tosca_definitions_version: tosca_simple_yaml_1_2
description: Sample VNF
imports:
  - etsi_nfv_sol001_common_types.yaml
metadata:
  template_name: sample
topology_template: {}
`
	commonTypes = "tosca_definitions_version: tosca_simple_yaml_1_2\n"
	installSh   = "#!/bin/sh\necho installing\n"
	imageBody   = "not really a qcow2 image\n"
	changeLog   = "1.0: first release\n"
	license     = "Apache-2.0\n"
	nonMano     = "some ves events\n"
)

func toscaMetaText() string {
	return `TOSCA-Meta-File-Version: 1.0
CSAR-Version: 1.1
Created-by: vnfm tests
Entry-Definitions: Definitions/vnfd_top.yaml
ETSI-Entry-Manifest: vnfd_top.mf
ETSI-Entry-Change-Log: ChangeLog.txt
ETSI-Entry-Licenses: Licenses

Name: Scripts/install.sh
Content-Type: application/x-sh
Algorithm: SHA-256
Hash: ` + sha256hex(installSh) + `

Name: Files/images/image.img
Content-Type: application/x-iso9066-image
`
}

func manifestText() string {
	return `metadata:
  vnf_provider_id: Company
  vnf_product_name: Sample
  vnf_release_date_time: 2024-01-02T03:04:05+00:00
  vnf_package_version: 1.0

Source: Definitions/vnfd_top.yaml
Algorithm: SHA-256
Hash: ` + sha256hex(vnfdTop) + `

Source: ./Definitions/etsi_nfv_sol001_common_types.yaml
Algorithm: sha512
Hash: ` + strings.ToUpper(sha512hex(commonTypes)) + `

Source: Scripts/install.sh
Algorithm: SHA-384
Hash: ` + sha384hex(installSh) + `

Source: Files/images/image.img
Algorithm: Sha-256
Hash: ` + sha256hex(imageBody) + `

Source: Files/ves/events.yaml

Source: https://example.com/images/big.qcow2
Algorithm: SHA-256
Hash: ` + sha256hex("elsewhere") + `

non_mano_artifact_sets:
  onap_ves_events:
    Source: Files/ves/events.yaml
  prv.example.other: 

-----BEGIN CMS-----
MIIBogYJKoZIhvcNAQcCoIIBkzCCAY8CAQExADALBgkqhkiG9w0BBwExggFwMIIB
-----END CMS-----
`
}

// validEntries is a complete CSAR with TOSCA-Metadata.
func validEntries() []ent {
	return []ent{
		{name: "TOSCA-Metadata/", mode: fs.ModeDir | 0o755},
		{name: "TOSCA-Metadata/TOSCA.meta", body: toscaMetaText()},
		{name: "Definitions/vnfd_top.yaml", body: vnfdTop},
		{name: "Definitions/etsi_nfv_sol001_common_types.yaml", body: commonTypes},
		{name: "Scripts/install.sh", body: installSh, mode: 0o755},
		{name: "Files/images/image.img", body: imageBody},
		{name: "Files/ves/events.yaml", body: nonMano},
		{name: "ChangeLog.txt", body: changeLog},
		{name: "Licenses/LICENSE", body: license},
		{name: "vnfd_top.mf", body: manifestText()},
	}
}

func validZip(t testing.TB) []byte { return mkzip(t, validEntries()...) }

// replace returns ents with the body of name changed (or the entry dropped
// when drop).
func replace(ents []ent, name, body string, drop bool) []ent {
	var out []ent
	for _, e := range ents {
		if e.name == name {
			if drop {
				continue
			}
			e.body = body
		}
		out = append(out, e)
	}
	return out
}

func mustOpen(t *testing.T, data []byte) *Package {
	t.Helper()
	p, err := Open(data, Limits{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return p
}

func TestOpenValid(t *testing.T) {
	data := validZip(t)
	p := mustOpen(t, data)
	if p.EntryDefinitions != "Definitions/vnfd_top.yaml" {
		t.Errorf("EntryDefinitions = %q", p.EntryDefinitions)
	}
	if got := p.Meta["Created-By"]; got != "vnfm tests" {
		t.Errorf(`Meta["Created-By"] = %q (canonical key for "Created-by")`, got)
	}
	if p.Meta["CSAR-Version"] != "1.1" || p.Meta["ETSI-Entry-Manifest"] != "vnfd_top.mf" {
		t.Errorf("Meta = %v", p.Meta)
	}
	wantFiles := []string{
		"ChangeLog.txt", "Definitions/etsi_nfv_sol001_common_types.yaml", "Definitions/vnfd_top.yaml",
		"Files/images/image.img", "Files/ves/events.yaml", "Licenses/LICENSE", "Scripts/install.sh",
		"TOSCA-Metadata/TOSCA.meta", "vnfd_top.mf",
	}
	if fmt.Sprint(p.Files) != fmt.Sprint(wantFiles) {
		t.Errorf("Files = %v", p.Files)
	}
	sum := sha512.Sum512(data)
	if p.Checksum.Algorithm != "SHA-512" || p.Checksum.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Checksum = %+v", p.Checksum)
	}
	if len(p.MetaSources) != 1 || p.MetaSources[0].Path != "Scripts/install.sh" || p.MetaSources[0].Line != 9 {
		t.Errorf("MetaSources = %+v", p.MetaSources)
	}

	m := p.Manifest
	if m == nil || m.Path != "vnfd_top.mf" {
		t.Fatalf("Manifest = %+v", m)
	}
	if m.Metadata["vnf_provider_id"] != "Company" || m.Metadata["vnf_release_date_time"] != "2024-01-02T03:04:05+00:00" || len(m.Metadata) != 4 {
		t.Errorf("Metadata = %v", m.Metadata)
	}
	if len(m.Sources) != 6 {
		t.Fatalf("Sources = %+v", m.Sources)
	}
	s1 := m.Sources[1]
	if s1.Path != "Definitions/etsi_nfv_sol001_common_types.yaml" || s1.Algorithm != "SHA-512" || s1.Hash != sha512hex(commonTypes) || s1.Line != 11 {
		t.Errorf("Sources[1] = %+v", s1)
	}
	if m.Sources[4].Algorithm != "" || m.Sources[4].Path != "Files/ves/events.yaml" {
		t.Errorf("Sources[4] = %+v", m.Sources[4])
	}
	if !m.Sources[5].External {
		t.Errorf("Sources[5] should be external: %+v", m.Sources[5])
	}
	if got := m.NonMano["onap_ves_events"]; len(got) != 1 || got[0] != "Files/ves/events.yaml" {
		t.Errorf("NonMano = %v", m.NonMano)
	}
	if _, ok := m.NonMano["prv.example.other"]; !ok {
		t.Errorf("NonMano = %v", m.NonMano)
	}
	if !strings.HasPrefix(m.Signature, "-----BEGIN CMS-----\n") || !strings.HasSuffix(m.Signature, "-----END CMS-----\n") {
		t.Errorf("Signature = %q", m.Signature)
	}
	if err := p.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	got, err := fs.ReadFile(p.FS, "Scripts/install.sh")
	if err != nil || string(got) != installSh {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if fi, err := fs.Stat(p.FS, "Scripts/install.sh"); err != nil || fi.Mode().Perm() != 0o755 || fi.Size() != int64(len(installSh)) {
		t.Errorf("Stat = %v, %v", fi, err)
	}
	if err := fstest.TestFS(p.FS, wantFiles...); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../x", "/Scripts/install.sh", "Scripts/../Scripts/install.sh", "nope"} {
		if _, err := p.FS.Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestOpenRootYAML(t *testing.T) {
	vnfd := "tosca_definitions_version: tosca_simple_yaml_1_2\nmetadata:\n  template_name: x\n"
	mf := "metadata:\n  vnf_product_name: x\n\nSource: vnfd.yaml\nAlgorithm: SHA-256\nHash: " + sha256hex(vnfd) + "\n"
	data := mkzip(t,
		ent{name: "vnfd.yaml", body: vnfd},
		ent{name: "vnfd.mf", body: mf},
		ent{name: "Scripts/run.sh", body: "echo\n"},
		ent{name: "Definitions/types.yaml", body: "x: 1\n"},
	)
	p := mustOpen(t, data)
	if p.EntryDefinitions != "vnfd.yaml" || p.Manifest == nil || p.Manifest.Path != "vnfd.mf" || len(p.Meta) != 0 {
		t.Fatalf("got entry %q manifest %+v meta %v", p.EntryDefinitions, p.Manifest, p.Meta)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	// No manifest is fine.
	p = mustOpen(t, mkzip(t, ent{name: "vnfd.yml", body: vnfd}))
	if p.EntryDefinitions != "vnfd.yml" || p.Manifest != nil {
		t.Fatalf("got %q %+v", p.EntryDefinitions, p.Manifest)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
}

// lyingZip holds an entry whose declared uncompressed size (10 bytes) is far
// smaller than its data (1 MiB of zeros, deflated to about 1 KiB).
func lyingZip(t testing.TB, method uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range validEntries() {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.body)
	}
	data := make([]byte, 1<<20)
	var comp bytes.Buffer
	switch method {
	case zip.Deflate:
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(data)
		fw.Close()
	default:
		comp.Write(data)
	}
	hdr := &zip.FileHeader{
		Name: "Files/bomb.bin", Method: method, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: 10,
	}
	w, err := zw.CreateRaw(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenErrors(t *testing.T) {
	valid := validZip(t)
	meta := toscaMetaText()
	mf := manifestText()
	many := []ent{}
	for i := 0; i < 11; i++ {
		many = append(many, ent{name: fmt.Sprintf("f%02d.txt", i), body: "x"})
	}
	cases := []struct {
		name string
		data []byte
		lim  Limits
		want string // substring of the message
		is   error
	}{
		{name: "not a zip", data: []byte("PK? this is not a zip at all"), want: "not a valid zip archive"},
		{name: "empty", data: nil, want: "not a valid zip archive"},
		{name: "truncated", data: valid[:len(valid)/2], want: "not a valid zip archive"},
		{name: "dotdot entry", data: mkzip(t, append(validEntries(), ent{name: "../evil.sh", body: "x"})...), want: `entry "../evil.sh" escapes the package root`, is: ErrUnsafePath},
		{name: "inner dotdot", data: mkzip(t, append(validEntries(), ent{name: "Scripts/../../evil.sh", body: "x"})...), want: "escapes the package root", is: ErrUnsafePath},
		{name: "absolute entry", data: mkzip(t, append(validEntries(), ent{name: "/etc/passwd", body: "x"})...), want: `entry "/etc/passwd" escapes the package root`, is: ErrUnsafePath},
		{name: "backslash entry", data: mkzip(t, append(validEntries(), ent{name: `..\evil.sh`, body: "x"})...), want: "escapes the package root", is: ErrUnsafePath},
		{name: "drive letter", data: mkzip(t, append(validEntries(), ent{name: "C:/evil.sh", body: "x"})...), want: "escapes the package root", is: ErrUnsafePath},
		{name: "NUL in name", data: mkzip(t, append(validEntries(), ent{name: "a\x00b", body: "x"})...), want: "escapes the package root", is: ErrUnsafePath},
		{name: "symlink entry", data: mkzip(t, append(validEntries(), ent{name: "Scripts/link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777})...), want: "Scripts/link: entry is a symbolic link", is: ErrUnsafePath},
		{name: "device entry", data: mkzip(t, append(validEntries(), ent{name: "dev", mode: fs.ModeDevice | 0o600})...), want: "not a regular file", is: ErrUnsafePath},
		{name: "duplicate", data: mkzip(t, append(validEntries(), ent{name: "./Scripts/install.sh", body: "other"})...), want: "duplicate entry", is: nil},
		{name: "file and dir", data: mkzip(t, append(validEntries(), ent{name: "ChangeLog.txt/x", body: "x"})...), want: "which is a file"},
		{name: "too many entries", data: mkzip(t, many...), lim: Limits{MaxEntries: 10}, want: "11 entries, more than the limit of 10", is: ErrLimit},
		{name: "total size", data: validZip(t), lim: Limits{MaxTotalSize: 100}, want: "exceed the total limit of 100", is: ErrLimit},
		{name: "file size", data: validZip(t), lim: Limits{MaxFileSize: 100}, want: "more than the per-file limit of 100", is: ErrLimit},
		{name: "lying size deflate", data: lyingZip(t, zip.Deflate), want: "Files/bomb.bin: entry holds more data than its declared size of 10 bytes", is: ErrLimit},
		{name: "lying size stored", data: lyingZip(t, zip.Store), want: "more data than its declared size", is: ErrLimit},
		{name: "no entry definitions", data: mkzip(t, replace(validEntries(), MetaPath, strings.Replace(meta, "Entry-Definitions: Definitions/vnfd_top.yaml\n", "", 1), false)...), want: "TOSCA.meta: Entry-Definitions is missing"},
		{name: "entry file missing", data: mkzip(t, replace(validEntries(), "Definitions/vnfd_top.yaml", "", true)...), want: "TOSCA.meta:4: Entry-Definitions Definitions/vnfd_top.yaml is not in the package"},
		{name: "entry escapes", data: mkzip(t, replace(validEntries(), MetaPath, strings.Replace(meta, "Definitions/vnfd_top.yaml", "../vnfd_top.yaml", 1), false)...), want: "escapes the package root", is: ErrUnsafePath},
		{name: "bad meta line", data: mkzip(t, replace(validEntries(), MetaPath, "TOSCA-Meta-File-Version 1.0\n", false)...), want: "TOSCA.meta:1: expected"},
		{name: "meta dir without meta", data: mkzip(t, ent{name: "TOSCA-Metadata/other.txt", body: "x"}, ent{name: "a.yaml", body: "metadata:\n"}), want: "TOSCA-Metadata: directory has no TOSCA.meta"},
		{name: "manifest missing", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "", true)...), want: "ETSI-Entry-Manifest vnfd_top.mf is not in the package"},
		{name: "change log missing", data: mkzip(t, replace(validEntries(), "ChangeLog.txt", "", true)...), want: "ETSI-Entry-Change-Log ChangeLog.txt is not in the package"},
		{name: "unknown algorithm", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", strings.Replace(mf, "Algorithm: SHA-384", "Algorithm: MD5", 1), false)...), want: `vnfd_top.mf:16: unsupported Algorithm "MD5" for Scripts/install.sh`},
		{name: "bad hash length", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", strings.Replace(mf, sha256hex(vnfdTop), "abcd", 1), false)...), want: "vnfd_top.mf:9: Hash of Definitions/vnfd_top.yaml is not a SHA-256 digest"},
		{name: "algorithm without source", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "Algorithm: SHA-256\n", false)...), want: "vnfd_top.mf:1: Algorithm without a preceding Source"},
		{name: "hash without algorithm", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "Source: ChangeLog.txt\nHash: "+sha256hex(changeLog)+"\n", false)...), want: "Source ChangeLog.txt has a Hash but no Algorithm"},
		{name: "source escapes", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "Source: ../../etc/passwd\n", false)...), want: `vnfd_top.mf:1: Source "../../etc/passwd" escapes the package root`, is: ErrUnsafePath},
		{name: "duplicate source", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "Source: ChangeLog.txt\n\nSource: ./ChangeLog.txt\n", false)...), want: "vnfd_top.mf:3: Source ChangeLog.txt is listed twice (also line 1)"},
		{name: "unterminated CMS", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "Source: ChangeLog.txt\n\n-----BEGIN CMS-----\nAAAA\n", false)...), want: "vnfd_top.mf:3: CMS signature has no -----END CMS-----"},
		{name: "content after CMS", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\nSource: ChangeLog.txt\n", false)...), want: "vnfd_top.mf:4: content after the CMS signature"},
		{name: "unknown manifest key", data: mkzip(t, replace(validEntries(), "vnfd_top.mf", "Sourse: ChangeLog.txt\n", false)...), want: `vnfd_top.mf:1: unexpected key "Sourse"`},
		{name: "root yaml none", data: mkzip(t, ent{name: "Scripts/a.yaml", body: "metadata:\n"}), want: "0 root-level YAML files"},
		{name: "root yaml two", data: mkzip(t, ent{name: "a.yaml", body: "metadata:\n"}, ent{name: "b.yml", body: "metadata:\n"}), want: "2 root-level YAML files (a.yaml, b.yml)"},
		{name: "root yaml no metadata", data: mkzip(t, ent{name: "a.yaml", body: "tosca_definitions_version: x\n"}), want: "a.yaml: root-level VNFD of a CSAR without TOSCA-Metadata has no top-level metadata section"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(tc.data, tc.lim)
			if err == nil {
				t.Fatalf("Open succeeded: entry %q", p.EntryDefinitions)
			}
			t.Log(err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	meta := toscaMetaText()
	// The manifest lists a file that is absent.
	missingMF := strings.Replace(manifestText(), "Source: Files/ves/events.yaml\n\n",
		"Source: Files/ves/events.yaml\n\nSource: Scripts/missing.sh\nAlgorithm: SHA-256\nHash: "+sha256hex("x")+"\n\n", 1)
	cases := []struct {
		name string
		ents []ent
		want string
		is   error
	}{
		{
			name: "hash mismatch",
			ents: replace(validEntries(), "Files/images/image.img", "tampered image\n", false),
			want: "Files/images/image.img: SHA-256 mismatch: vnfd_top.mf line 19 declares " + sha256hex(imageBody)[:16] + "…, content is " + sha256hex("tampered image\n")[:16] + "…",
			is:   ErrDigest,
		},
		{
			name: "sha512 mismatch",
			ents: replace(validEntries(), "Definitions/etsi_nfv_sol001_common_types.yaml", "changed\n", false),
			want: "Definitions/etsi_nfv_sol001_common_types.yaml: SHA-512 mismatch",
			is:   ErrDigest,
		},
		{
			name: "TOSCA.meta hash mismatch",
			ents: replace(validEntries(), MetaPath, strings.Replace(meta, sha256hex(installSh), sha256hex("other"), 1), false),
			want: "Scripts/install.sh: SHA-256 mismatch: TOSCA-Metadata/TOSCA.meta line 9 declares",
			is:   ErrDigest,
		},
		{
			name: "manifest lists missing file",
			ents: replace(validEntries(), "vnfd_top.mf", missingMF, false),
			want: "vnfd_top.mf:25: lists Scripts/missing.sh, which is not in the package",
		},
		{
			name: "non-MANO artifact missing",
			ents: replace(replace(validEntries(), "Files/ves/events.yaml", "", true), "vnfd_top.mf",
				strings.Replace(manifestText(), "Source: Files/ves/events.yaml\n\n", "", 1), false),
			want: "vnfd_top.mf: non-MANO artifact set onap_ves_events lists Files/ves/events.yaml, which is not in the package",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustOpen(t, mkzip(t, tc.ents...))
			err := p.Verify()
			if err == nil {
				t.Fatal("Verify succeeded")
			}
			t.Log(err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
		})
	}

	// A Source edited after Open is hashed afresh; an unknown algorithm
	// set by hand is reported by Verify too.
	p := mustOpen(t, validZip(t))
	p.Manifest.Sources[0].Hash = strings.Repeat("0", 64)
	if err := p.Verify(); !errors.Is(err, ErrDigest) {
		t.Errorf("Verify after edit = %v", err)
	}
	p.Manifest.Sources[0].Algorithm, p.Manifest.Sources[0].Hash = "SHA-384", sha384hex(vnfdTop)
	if err := p.Verify(); err != nil {
		t.Errorf("Verify with a fresh SHA-384 = %v", err)
	}
	p.Manifest.Sources[0].Algorithm = "CRC32"
	if err := p.Verify(); err == nil || !strings.Contains(err.Error(), `unsupported Algorithm "CRC32"`) {
		t.Errorf("Verify with CRC32 = %v", err)
	}
}

func TestManifestVariants(t *testing.T) {
	// Unindented metadata (as in ONAP examples), CRLF line ends, a BOM,
	// comments and the "SHA256" spelling.
	mf := "\ufeffmetadata:\r\nvnf_product_name: x\r\nvnf_provider_id: y\r\n# comment\r\nSource: a.txt\r\nAlgorithm: SHA256\r\nHash: " + sha256hex("a") + "\r\nSignature: a.sig\r\nCertificate: a.cert\r\n"
	m, err := parseManifest("m.mf", []byte(mf))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Metadata) != 2 || len(m.Sources) != 1 || m.Sources[0].Algorithm != "SHA-256" || m.Sources[0].Signature != "a.sig" || m.Sources[0].Certificate != "a.cert" || m.Sources[0].Line != 5 {
		t.Fatalf("got %+v", m)
	}
	for _, alg := range []string{"SHA-256", "sha-256", "SHA256", "sha256", "Sha_256"} {
		if a, ok := lookupAlg(alg); !ok || a.name != "SHA-256" {
			t.Errorf("lookupAlg(%q) = %v, %v", alg, a.name, ok)
		}
	}
	if _, ok := lookupAlg("SHA-224"); ok {
		t.Error("SHA-224 accepted")
	}
}

// writeTree writes files (path -> body) under dir; paths ending in "*" are
// made executable.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

func build(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(dir, &buf); err != nil {
		t.Fatalf("Build: %v", err)
	}
	return buf.Bytes()
}

func TestBuildRoundTrip(t *testing.T) {
	dir := t.TempDir()
	oldMF := "metadata:\n  vnf_provider_id: Company\n  vnf_product_name: Sample\n\nSource: Definitions/vnfd_top.yaml\nAlgorithm: SHA-256\nHash: " + strings.Repeat("0", 64) + "\n\nnon_mano_artifact_sets:\n  onap_ves_events:\n    Source: Files/ves/events.yaml\n\n-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n"
	writeTree(t, dir, map[string]string{
		"TOSCA-Metadata/TOSCA.meta": "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-By: test\nEntry-Definitions: Definitions/vnfd_top.yaml\nETSI-Entry-Manifest: vnfd_top.mf\n",
		"Definitions/vnfd_top.yaml": vnfdTop,
		"Definitions/types.yaml":    commonTypes,
		"Scripts/install.sh*":       installSh,
		"Files/images/image.img":    imageBody,
		"Files/ves/events.yaml":     nonMano,
		"vnfd_top.mf":               oldMF,
	})
	data := build(t, dir)
	p := mustOpen(t, data)
	if err := p.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	m := p.Manifest
	if m == nil || m.Path != "vnfd_top.mf" {
		t.Fatalf("manifest %+v", m)
	}
	var listed []string
	for _, s := range m.Sources {
		if s.Algorithm != "SHA-256" {
			t.Errorf("source %+v", s)
		}
		listed = append(listed, s.Path)
	}
	want := "[Definitions/types.yaml Definitions/vnfd_top.yaml Files/images/image.img Files/ves/events.yaml Scripts/install.sh]"
	if fmt.Sprint(listed) != want {
		t.Errorf("listed %v, want %s", listed, want)
	}
	if m.Metadata["vnf_provider_id"] != "Company" || m.Metadata["vnf_product_name"] != "Sample" {
		t.Errorf("metadata %v", m.Metadata)
	}
	if len(m.NonMano["onap_ves_events"]) != 1 || m.Signature != "" {
		t.Errorf("non-MANO %v signature %q", m.NonMano, m.Signature)
	}
	raw, _ := fs.ReadFile(p.FS, "vnfd_top.mf")
	if !strings.HasPrefix(string(raw), "metadata:\n  vnf_provider_id: Company\n  vnf_product_name: Sample\n\nSource: Definitions/types.yaml\n") {
		t.Errorf("manifest:\n%s", raw)
	}
	if fi, err := fs.Stat(p.FS, "Scripts/install.sh"); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("install.sh mode %v %v", fi.Mode(), err)
	}
	if fi, err := fs.Stat(p.FS, "Definitions/types.yaml"); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("types.yaml mode %v %v", fi.Mode(), err)
	}
	// TOSCA.meta is copied unchanged.
	if raw, _ := fs.ReadFile(p.FS, MetaPath); !strings.Contains(string(raw), "Created-By: test") {
		t.Errorf("TOSCA.meta %q", raw)
	}
}

func TestBuildRootYAMLCreatesManifest(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"vnfd.yaml":      "tosca_definitions_version: tosca_simple_yaml_1_2\nmetadata:\n  template_name: x\n",
		"Scripts/run.sh": "echo\n",
	})
	p := mustOpen(t, build(t, dir))
	if p.EntryDefinitions != "vnfd.yaml" || p.Manifest == nil || p.Manifest.Path != "vnfd.mf" || len(p.Manifest.Sources) != 2 {
		t.Fatalf("entry %q manifest %+v", p.EntryDefinitions, p.Manifest)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "vnfd.mf")); !os.IsNotExist(err) {
		t.Errorf("Build wrote into the package directory: %v", err)
	}
}

func TestBuildDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"TOSCA-Metadata/TOSCA.meta": "TOSCA-Meta-File-Version: 1.0\nEntry-Definitions: Definitions/vnfd.yaml\n",
		"Definitions/vnfd.yaml":     vnfdTop,
		"Files/b.txt":               "b",
		"Files/a.txt":               "a",
		"z.txt":                     "z",
	})
	a := build(t, dir)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, f := range []string{"Files/a.txt", "z.txt"} {
		if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	b := build(t, dir)
	if !bytes.Equal(a, b) {
		t.Fatal("Build output differs between runs")
	}
	p := mustOpen(t, a)
	// Without ETSI-Entry-Manifest the manifest is the root "<entry stem>.mf".
	if p.Manifest == nil || p.Manifest.Path != "vnfd.mf" {
		t.Fatalf("manifest %+v", p.Manifest)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	zr, _ := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(buildTime) {
			t.Errorf("%s modified %v", f.Name, f.Modified)
		}
	}
	if fmt.Sprint(names) != "[Definitions/vnfd.yaml Files/a.txt Files/b.txt TOSCA-Metadata/TOSCA.meta vnfd.mf z.txt]" {
		t.Errorf("entries %v", names)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"vnfd.yaml": "metadata:\n"})
		if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
			t.Skip(err)
		}
		err := Build(dir, io.Discard)
		if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), "link: is a symbolic link") {
			t.Fatalf("Build = %v", err)
		}
	})
	t.Run("missing entry definitions", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{MetaPath: "TOSCA-Meta-File-Version: 1.0\nEntry-Definitions: Definitions/nope.yaml\n"})
		err := Build(dir, io.Discard)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), "TOSCA.meta:2: Entry-Definitions Definitions/nope.yaml is not in the package") {
			t.Fatalf("Build = %v", err)
		}
	})
	t.Run("two root yamls", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.yaml": "metadata:\n", "b.yaml": "metadata:\n"})
		if err := Build(dir, io.Discard); err == nil || !strings.Contains(err.Error(), "2 root-level YAML files") {
			t.Fatalf("Build = %v", err)
		}
	})
	t.Run("bad existing manifest", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"a.yaml": "metadata:\n", "a.mf": "Hash: 00\n"})
		if err := Build(dir, io.Discard); err == nil || !strings.Contains(err.Error(), "a.mf:1: Hash without a preceding Source") {
			t.Fatalf("Build = %v", err)
		}
	})
}

func TestFSConcurrent(t *testing.T) {
	p := mustOpen(t, validZip(t))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range p.Files {
				if _, err := fs.ReadFile(p.FS, f); err != nil {
					t.Error(err)
				}
			}
			if err := p.Verify(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	f.Add(validZip(f))
	f.Add(mkzip(f, ent{name: "vnfd.yaml", body: "metadata:\n"}, ent{name: "vnfd.mf", body: "Source: vnfd.yaml\nAlgorithm: SHA-256\nHash: " + sha256hex("metadata:\n") + "\n"}))
	f.Add(mkzip(f, ent{name: "../evil", body: "x"}))
	f.Add(mkzip(f, ent{name: "l", body: "/etc", mode: fs.ModeSymlink | 0o777}))
	f.Add(lyingZip(f, zip.Deflate))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add([]byte("not a zip"))
	lim := Limits{MaxTotalSize: 1 << 20, MaxEntries: 64, MaxFileSize: 256 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Open(data, lim)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Open error %T is not *Error: %v", err, err)
			}
			return
		}
		if err := p.Verify(); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error %T is not *Error: %v", err, err)
			}
		}
		for _, name := range p.Files {
			if !fs.ValidPath(name) {
				t.Fatalf("invalid path %q", name)
			}
			if _, err := fs.ReadFile(p.FS, name); err != nil {
				t.Fatalf("ReadFile(%q) after a successful Open: %v", name, err)
			}
		}
		if err := fs.WalkDir(p.FS, ".", func(string, fs.DirEntry, error) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
}

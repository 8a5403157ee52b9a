package csar

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
)

// toscaMeta is a parsed TOSCA-Metadata/TOSCA.meta.
type toscaMeta struct {
	block0 map[string]string
	lines  map[string]int // block-0 key -> line
	// sources are the per-file blocks (Name:) with Algorithm and Hash.
	sources []Source
}

// metaKeys are the block-0 keys of TOSCA (v1.1-1.3) and SOL004, spelled
// canonically; a key matching one case-insensitively is stored this way.
var metaKeys = []string{
	"TOSCA-Meta-File-Version", "TOSCA-Meta-Version", "CSAR-Version", "Created-By",
	"Entry-Definitions", "Other-Definitions", "ETSI-Entry-Manifest", "ETSI-Entry-Change-Log",
	"ETSI-Entry-Licenses", "ETSI-Entry-Tests", "ETSI-Entry-Certificate",
}

func canonicalKey(k string, known []string) string {
	for _, c := range known {
		if strings.EqualFold(k, c) {
			return c
		}
	}
	return k
}

// textLines splits a text file into lines without "\r" and the leading BOM.
func textLines(raw []byte) []string {
	s := strings.TrimPrefix(string(raw), "\ufeff")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// splitKV splits "key: value", trimming both and one pair of matching quotes
// around the value.
func splitKV(line string) (key, val string, ok bool) {
	k, v, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", false
	}
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if k == "" {
		return "", "", false
	}
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	return k, v, true
}

// parseToscaMeta parses TOSCA.meta: block 0 (up to the first blank line) of
// "Key: value" lines, then blocks that each describe one file (Name:,
// Content-Type:, and, as Tacker reads them, Algorithm: and Hash:).
func parseToscaMeta(file string, raw []byte) (*toscaMeta, error) {
	tm := &toscaMeta{block0: map[string]string{}, lines: map[string]int{}}
	block := 0
	var cur map[string]string // current non-zero block
	var curLines map[string]int
	started := false
	start := 0
	flush := func() error {
		if cur == nil {
			return nil
		}
		defer func() { cur, curLines = nil, nil }()
		name, hasName := cur["Name"]
		alg, hasAlg := cur["Algorithm"]
		sum, hasHash := cur["Hash"]
		if !hasName {
			return errf(file, start, nil, "block has no Name")
		}
		clean, err := cleanRel(name)
		if err != nil {
			return errf(file, curLines["Name"], ErrUnsafePath, "Name %q escapes the package root", name)
		}
		if !hasAlg && !hasHash {
			return nil
		}
		if !hasAlg {
			return errf(file, curLines["Hash"], nil, "Name %s has a Hash but no Algorithm", clean)
		}
		if !hasHash {
			return errf(file, curLines["Algorithm"], nil, "Name %s has an Algorithm but no Hash", clean)
		}
		src, err := newSource(file, clean, alg, curLines["Algorithm"], sum, curLines["Hash"])
		if err != nil {
			return err
		}
		src.Line = curLines["Name"]
		for _, s := range tm.sources {
			if s.Path == src.Path {
				return errf(file, src.Line, nil, "Name %s is listed twice (also line %d)", src.Path, s.Line)
			}
		}
		tm.sources = append(tm.sources, src)
		return nil
	}
	for i, line := range textLines(raw) {
		ln := i + 1
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			if started {
				if err := flush(); err != nil {
					return nil, err
				}
				block++
				started = false
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, v, ok := splitKV(trimmed)
		if !ok {
			return nil, errf(file, ln, nil, "expected \"Key: value\", got %q", clip(trimmed))
		}
		if !started {
			started, start = true, ln
		}
		if block == 0 {
			k = canonicalKey(k, metaKeys)
			if prev, dup := tm.lines[k]; dup {
				return nil, errf(file, ln, nil, "%s is set twice (also line %d)", k, prev)
			}
			tm.block0[k], tm.lines[k] = v, ln
			continue
		}
		if cur == nil {
			cur, curLines = map[string]string{}, map[string]int{}
		}
		k = canonicalKey(k, []string{"Name", "Content-Type", "Algorithm", "Hash"})
		if prev, dup := curLines[k]; dup {
			return nil, errf(file, ln, nil, "%s is set twice in one block (also line %d)", k, prev)
		}
		cur[k], curLines[k] = v, ln
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return tm, nil
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

type algorithm struct {
	name   string // canonical: SHA-256, SHA-384, SHA-512
	new    func() hash.Hash
	hexLen int
}

var algorithms = []algorithm{
	{"SHA-256", sha256.New, 64},
	{"SHA-384", sha512.New384, 96},
	{"SHA-512", sha512.New, 128},
}

// lookupAlg finds an algorithm by name, case-insensitively, with or without
// the dash ("SHA-256", "sha256", "SHA_256").
func lookupAlg(name string) (algorithm, bool) {
	n := strings.ToUpper(strings.NewReplacer("-", "", "_", "", " ", "").Replace(name))
	for _, a := range algorithms {
		if strings.ReplaceAll(a.name, "-", "") == n {
			return a, true
		}
	}
	return algorithm{}, false
}

// newSource validates an Algorithm/Hash pair for a cleaned path and returns a
// Source with the canonical algorithm name and the lower-case hash.
func newSource(file, p, alg string, algLine int, sum string, hashLine int) (Source, error) {
	a, ok := lookupAlg(alg)
	if !ok {
		return Source{}, errf(file, algLine, nil, "unsupported Algorithm %q for %s (want SHA-256, SHA-384 or SHA-512)", clip(alg), p)
	}
	sum = strings.ToLower(sum)
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != a.hexLen {
		return Source{}, errf(file, hashLine, nil, "Hash of %s is not a %s digest (%d hex digits)", p, a.name, a.hexLen)
	}
	return Source{Path: p, Algorithm: a.name, Hash: sum}, nil
}

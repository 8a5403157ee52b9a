package csar

import (
	"fmt"
	"sort"
	"strings"
)

// Manifest is a parsed SOL004 manifest (.mf) file.
type Manifest struct {
	// Path of the manifest inside the package.
	Path string
	// Metadata is the "metadata:" block (vnf_provider_id, vnf_product_name,
	// vnf_release_date_time, vnf_package_version, ...).
	Metadata map[string]string
	// Sources are the artifact blocks, in file order.
	Sources []Source
	// NonMano maps each non-MANO artifact set to the paths it lists.
	NonMano map[string][]string
	// Signature is the CMS signature block, "-----BEGIN CMS-----" to
	// "-----END CMS-----" inclusive, kept verbatim and NOT verified. Empty
	// when the manifest is not signed.
	Signature string

	metaOrder    []string
	nonManoOrder []string
}

// Source is one artifact the manifest (or TOSCA.meta) lists.
type Source struct {
	// Path is the cleaned path inside the package, or the URI as written
	// when External.
	Path string
	// Algorithm is canonical ("SHA-256", "SHA-384", "SHA-512"), or empty
	// when the block has no Algorithm and Hash (existence only).
	Algorithm string
	// Hash is the lower-case hex digest.
	Hash string
	// Line is the line of "Source:" (or TOSCA.meta's "Name:").
	Line int
	// External is set when Path is a URI (an artifact outside the
	// package): it is never fetched, so Verify does not check it.
	External bool
	// Signature and Certificate are the per-artifact entries of SOL004
	// v2.7+, as written; not verified.
	Signature, Certificate string
}

const (
	cmsBegin = "-----BEGIN CMS-----"
	cmsEnd   = "-----END CMS-----"
)

type mfState int

const (
	mfTop mfState = iota
	mfMeta
	mfSource
	mfNonMano
)

// parseManifest parses a manifest file.
func parseManifest(file string, raw []byte) (*Manifest, error) {
	m := &Manifest{Path: file, Metadata: map[string]string{}, NonMano: map[string][]string{}}
	var (
		state                mfState
		cur                  *mfBlock
		seenMeta, seenNonMan bool
		metaLines            = map[string]int{}
		setLines             = map[string]int{}
		curSet               string
		paths                = map[string]int{}
		inCMS, cmsDone       bool
		cmsStart             int
		sig                  []string
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		b := cur
		cur = nil
		src := Source{Path: b.path, Line: b.line, External: b.external, Signature: b.vals["Signature"], Certificate: b.vals["Certificate"]}
		alg, hasAlg := b.vals["Algorithm"]
		sum, hasHash := b.vals["Hash"]
		switch {
		case hasAlg && hasHash:
			s, err := newSource(file, b.path, alg, b.lines["Algorithm"], sum, b.lines["Hash"])
			if err != nil {
				return err
			}
			src.Algorithm, src.Hash = s.Algorithm, s.Hash
		case hasAlg:
			return errf(file, b.line, nil, "Source %s has an Algorithm but no Hash", b.path)
		case hasHash:
			return errf(file, b.line, nil, "Source %s has a Hash but no Algorithm", b.path)
		}
		if prev, dup := paths[src.Path]; dup {
			return errf(file, b.line, nil, "Source %s is listed twice (also line %d)", src.Path, prev)
		}
		paths[src.Path] = b.line
		m.Sources = append(m.Sources, src)
		return nil
	}
	for i, line := range textLines(raw) {
		ln := i + 1
		trimmed := strings.TrimSpace(line)
		if inCMS {
			sig = append(sig, line)
			if trimmed == cmsEnd {
				inCMS, cmsDone = false, true
				m.Signature = strings.Join(sig, "\n") + "\n"
			}
			continue
		}
		if trimmed == "" {
			if state == mfMeta || state == mfSource {
				if err := finish(); err != nil {
					return nil, err
				}
				state = mfTop
			}
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cmsDone {
			return nil, errf(file, ln, nil, "content after the CMS signature")
		}
		if trimmed == cmsBegin {
			if err := finish(); err != nil {
				return nil, err
			}
			inCMS, cmsStart, sig, state = true, ln, []string{trimmed}, mfTop
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		k, v, ok := splitKV(trimmed)
		if !ok {
			return nil, errf(file, ln, nil, "expected \"key: value\", got %q", clip(trimmed))
		}
		top := canonicalKey(k, manifestKeys)
		isTop := containsString(manifestKeys, top)
		switch state {
		case mfMeta:
			if !indented && isTop {
				state = mfTop
				break
			}
			if v == "" {
				return nil, errf(file, ln, nil, "metadata %s has no value", k)
			}
			if prev, dup := metaLines[k]; dup {
				return nil, errf(file, ln, nil, "metadata %s is set twice (also line %d)", k, prev)
			}
			metaLines[k] = ln
			m.Metadata[k] = v
			m.metaOrder = append(m.metaOrder, k)
			continue
		case mfNonMano:
			if !indented {
				state = mfTop
				break
			}
			if top == "Source" {
				if curSet == "" {
					return nil, errf(file, ln, nil, "Source outside a non-MANO artifact set")
				}
				c, err := cleanRel(v)
				if err != nil {
					return nil, errf(file, ln, ErrUnsafePath, "non-MANO artifact %q escapes the package root", clip(v))
				}
				m.NonMano[curSet] = append(m.NonMano[curSet], c)
				continue
			}
			if v != "" {
				return nil, errf(file, ln, nil, "unexpected %q in non_mano_artifact_sets", clip(trimmed))
			}
			if prev, dup := setLines[k]; dup {
				return nil, errf(file, ln, nil, "non-MANO artifact set %s is listed twice (also line %d)", k, prev)
			}
			setLines[k], curSet = ln, k
			m.NonMano[k] = []string{}
			m.nonManoOrder = append(m.nonManoOrder, k)
			continue
		}
		switch top {
		case "metadata", "non_mano_artifact_sets":
			if v != "" {
				return nil, errf(file, ln, nil, "%s: must be followed by indented lines, not a value", top)
			}
			if err := finish(); err != nil {
				return nil, err
			}
			if top == "metadata" {
				if seenMeta {
					return nil, errf(file, ln, nil, "second metadata block")
				}
				seenMeta, state = true, mfMeta
			} else {
				if seenNonMan {
					return nil, errf(file, ln, nil, "second non_mano_artifact_sets block")
				}
				seenNonMan, state, curSet = true, mfNonMano, ""
			}
		case "Source":
			if err := finish(); err != nil {
				return nil, err
			}
			if v == "" {
				return nil, errf(file, ln, nil, "Source has no path")
			}
			b := &mfBlock{line: ln, vals: map[string]string{}, lines: map[string]int{}}
			if isURI(v) {
				b.path, b.external = v, true
			} else {
				c, err := cleanRel(v)
				if err != nil {
					return nil, errf(file, ln, ErrUnsafePath, "Source %q escapes the package root", clip(v))
				}
				b.path = c
			}
			cur, state = b, mfSource
		case "Algorithm", "Hash", "Signature", "Certificate":
			if state != mfSource || cur == nil {
				return nil, errf(file, ln, nil, "%s without a preceding Source", top)
			}
			if prev, dup := cur.lines[top]; dup {
				return nil, errf(file, ln, nil, "%s is set twice for Source %s (also line %d)", top, cur.path, prev)
			}
			cur.vals[top], cur.lines[top] = v, ln
		default:
			return nil, errf(file, ln, nil, "unexpected key %q", clip(k))
		}
	}
	if inCMS {
		return nil, errf(file, cmsStart, nil, "CMS signature has no %s", cmsEnd)
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return m, nil
}

var manifestKeys = []string{"metadata", "non_mano_artifact_sets", "Source", "Algorithm", "Hash", "Signature", "Certificate"}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type mfBlock struct {
	path     string
	line     int
	external bool
	vals     map[string]string
	lines    map[string]int
}

// isURI reports whether a Source names an external artifact ("scheme://...").
func isURI(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, c := range scheme {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// render writes the manifest: metadata, sources, non-MANO artifact sets. The
// signature is not written (a regenerated manifest invalidates it).
func (m *Manifest) render() []byte {
	var b strings.Builder
	keys := m.metaOrder
	if len(keys) != len(m.Metadata) {
		keys = sortedKeys(m.Metadata)
	}
	if len(keys) > 0 {
		b.WriteString("metadata:\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s: %s\n", k, m.Metadata[k])
		}
	}
	for _, s := range m.Sources {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Source: %s\n", s.Path)
		if s.Algorithm != "" {
			fmt.Fprintf(&b, "Algorithm: %s\nHash: %s\n", s.Algorithm, s.Hash)
		}
		if s.Signature != "" {
			fmt.Fprintf(&b, "Signature: %s\n", s.Signature)
		}
		if s.Certificate != "" {
			fmt.Fprintf(&b, "Certificate: %s\n", s.Certificate)
		}
	}
	sets := m.nonManoOrder
	if len(sets) != len(m.NonMano) {
		sets = sortedKeys(m.NonMano)
	}
	if len(sets) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("non_mano_artifact_sets:\n")
		for _, s := range sets {
			fmt.Fprintf(&b, "  %s:\n", s)
			for _, p := range m.NonMano[s] {
				fmt.Fprintf(&b, "    Source: %s\n", p)
			}
		}
	}
	return []byte(b.String())
}

package csar

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Verify checks every digest that the manifest and TOSCA.meta declare
// (SHA-256, SHA-384 or SHA-512) against the content, and that every path they
// list, non-MANO artifacts included, is a file of the package. Files not
// listed are allowed. External (URI) sources are not fetched nor checked, and
// the CMS signature is not verified. It returns the first problem, in file
// order, as an *Error.
func (p *Package) Verify() error {
	for _, s := range p.MetaSources {
		if err := p.verifySource(MetaPath, s); err != nil {
			return err
		}
	}
	m := p.Manifest
	if m == nil {
		return nil
	}
	for _, s := range m.Sources {
		if err := p.verifySource(m.Path, s); err != nil {
			return err
		}
	}
	for _, set := range sortedKeys(m.NonMano) {
		for _, path := range m.NonMano[set] {
			c, err := cleanRel(path)
			if err != nil {
				return errf(m.Path, 0, ErrUnsafePath, "non-MANO artifact %q of set %s escapes the package root", clip(path), set)
			}
			if _, ok := p.files[c]; !ok {
				return errf(m.Path, 0, nil, "non-MANO artifact set %s lists %s, which is not in the package", set, c)
			}
		}
	}
	return nil
}

func (p *Package) verifySource(listing string, s Source) error {
	if s.External {
		return nil
	}
	c, err := cleanRel(s.Path)
	if err != nil {
		return errf(listing, s.Line, ErrUnsafePath, "Source %q escapes the package root", clip(s.Path))
	}
	if _, ok := p.files[c]; !ok {
		return errf(listing, s.Line, nil, "lists %s, which is not in the package", c)
	}
	if s.Algorithm == "" && s.Hash == "" {
		return nil
	}
	alg, ok := lookupAlg(s.Algorithm)
	if !ok {
		return errf(listing, s.Line, nil, "unsupported Algorithm %q for %s (want SHA-256, SHA-384 or SHA-512)", clip(s.Algorithm), c)
	}
	actual, ok := p.digest[digestKey{c, alg.name}]
	if !ok {
		if actual, err = p.hashFile(c, alg); err != nil {
			return err
		}
	}
	want := strings.ToLower(strings.TrimSpace(s.Hash))
	if want != actual {
		where := listing
		if s.Line > 0 {
			where = fmt.Sprintf("%s line %d", listing, s.Line)
		}
		return errf(c, 0, ErrDigest, "%s mismatch: %s declares %s…, content is %s…", alg.name, where, prefix(want), prefix(actual))
	}
	return nil
}

func (p *Package) hashFile(name string, alg algorithm) (string, error) {
	h := alg.new()
	if _, err := copyEntry(h, name, p.files[name]); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func prefix(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

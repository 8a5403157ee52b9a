package query

import (
	"fmt"
	"net/url"
	"strings"
)

// The SOL013 attribute selector URI query parameters (clause 5.3).
const (
	ParamAllFields      = "all_fields"
	ParamFields         = "fields"
	ParamExcludeFields  = "exclude_fields"
	ParamExcludeDefault = "exclude_default"
)

// Selector is a parsed SOL013 attribute selector: which attributes a
// response leaves out.
//
// SOL013 table 5.3.2-2 defines the combinations; only complex attributes
// (objects and arrays) with a lower cardinality bound of 0 are ever left
// out, so mandatory and scalar attributes stay whatever the parameters say:
//
//	(none)                    same as exclude_default
//	all_fields                everything
//	exclude_default           everything but the resource's default set
//	fields=L                  everything but the optional complex attributes not in L
//	exclude_default&fields=L  everything but the default set, except what is in L
//	exclude_fields=L          everything but the optional complex attributes in L
//
// A path in L may name a nested attribute (a/b/c). Naming a/b keeps a but
// applies the selection inside it: a's other optional complex members go.
// Only the top level and the levels on the way to a listed path are
// trimmed, so fields=metadata leaves the inside of _links alone.
//
// Which attributes are optional comes from the Attrs given to Check; the
// defaultExcluded paths are optional by definition (SOL013 admits only such
// attributes in a default set). Without Attrs, Apply treats every object-
// or array-valued attribute as optional.
//
// A Selector is used for one request; Check and Apply must not race.
type Selector struct {
	all  bool
	excl *pathTree // nil: every optional complex attribute (fields without exclude_default)
	incl *pathTree // attributes kept even though excl names them; may be nil
	def  *pathTree // the default set, always eligible for omission

	fields, excludeFields [][]string // as requested, for Check
	known                 *shape     // bound by Check
}

// ParseSelector reads the attribute selector parameters from q.
// defaultExcluded is the resource's default exclude set (defined per
// resource by SOL002/SOL003), as "/"-paths.
//
// fields and exclude_fields take comma-separated "/"-paths, and may be
// repeated (the lists are joined); all_fields and exclude_default are flags
// without a value. Malformed values and the combinations SOL013 forbids
// (all_fields with anything else, fields with exclude_fields,
// exclude_fields with exclude_default) are *SyntaxError.
func ParseSelector(q url.Values, defaultExcluded []string) (*Selector, error) {
	for _, p := range []string{ParamAllFields, ParamExcludeDefault} {
		for _, v := range q[p] {
			if v != "" {
				return nil, &SyntaxError{Param: p, Offset: 0, Msg: p + " is a flag and takes no value"}
			}
		}
	}
	_, all := q[ParamAllFields]
	_, hasFields := q[ParamFields]
	_, hasExcl := q[ParamExcludeFields]
	_, exDefault := q[ParamExcludeDefault]
	switch {
	case all && (hasFields || hasExcl || exDefault):
		return nil, &SyntaxError{Param: ParamAllFields, Offset: -1,
			Msg: "all_fields cannot be combined with fields, exclude_fields or exclude_default"}
	case hasFields && hasExcl:
		return nil, &SyntaxError{Param: ParamFields, Offset: -1, Msg: "fields cannot be combined with exclude_fields"}
	case hasExcl && exDefault:
		return nil, &SyntaxError{Param: ParamExcludeFields, Offset: -1, Msg: "exclude_fields cannot be combined with exclude_default"}
	}

	s := &Selector{all: all, def: &pathTree{}}
	for _, p := range defaultExcluded {
		segs := strings.Split(p, "/")
		for _, seg := range segs {
			if seg == "" {
				return nil, fmt.Errorf("query: invalid default exclusion %q: empty attribute name", p)
			}
		}
		s.def.add(segs)
	}
	var err error
	if s.fields, err = parsePaths(ParamFields, q[ParamFields]); err != nil {
		return nil, err
	}
	if s.excludeFields, err = parsePaths(ParamExcludeFields, q[ParamExcludeFields]); err != nil {
		return nil, err
	}
	switch {
	case hasFields:
		s.incl = &pathTree{}
		for _, p := range s.fields {
			s.incl.add(p)
		}
		if exDefault {
			s.excl = s.def
		} // else nil: every optional complex attribute not listed goes
	case hasExcl:
		s.excl = &pathTree{}
		for _, p := range s.excludeFields {
			s.excl.add(p)
		}
	default: // exclude_default, or no selector at all
		s.excl = s.def
	}
	return s, nil
}

// parsePaths parses the values of a list parameter: comma-separated paths,
// each attribute names separated by "/".
func parsePaths(param string, values []string) ([][]string, error) {
	var out [][]string
	for _, v := range values {
		off := 0
		for item := range strings.SplitSeq(v, ",") {
			var path []string
			segOff := off
			for seg := range strings.SplitSeq(item, "/") {
				if seg == "" {
					return nil, &SyntaxError{Param: param, Offset: segOff, Msg: "empty attribute name"}
				}
				path = append(path, seg)
				segOff += len(seg) + 1
			}
			out = append(out, path)
			off += len(item) + 1
		}
	}
	return out, nil
}

// Check returns an *UnknownAttributeError for the first path in fields or
// exclude_fields that known does not contain. It also remembers known, so
// that Apply can tell optional complex attributes (which a selector may
// omit) from mandatory or scalar ones (which it never omits): call it before
// Apply.
//
// Known attributes that are not eligible (mandatory or scalar) are accepted
// and simply stay in the response, which is what SOL013 table 5.3.2-2
// prescribes for them.
func (s *Selector) Check(known Attrs) error {
	for _, l := range []struct {
		param string
		paths [][]string
	}{{ParamFields, s.fields}, {ParamExcludeFields, s.excludeFields}} {
		for _, p := range l.paths {
			if !known.has(p) {
				return &UnknownAttributeError{Param: l.param, Path: strings.Join(p, "/")}
			}
		}
	}
	s.known = known.root
	return nil
}

// Apply removes the deselected attributes from doc, a decoded JSON object,
// and returns it; doc is modified in place. Arrays of objects on a path are
// traversed. A []any is taken as a list of documents, each trimmed.
func (s *Selector) Apply(doc any) any {
	if s.all {
		return doc
	}
	switch d := doc.(type) {
	case map[string]any:
		s.prune(d, s.excl, s.incl, s.known, s.def)
	case []any:
		for _, e := range d {
			if m, ok := e.(map[string]any); ok {
				s.prune(m, s.excl, s.incl, s.known, s.def)
			}
		}
	}
	return doc
}

// prune trims one object. excl names what to remove (nil: every eligible
// member), incl what to keep anyway, sch is obj's shape (nil if unknown) and
// def the default set at this level.
func (s *Selector) prune(obj map[string]any, excl, incl *pathTree, sch *shape, def *pathTree) {
	visit := func(k string, v any, ex *pathTree) {
		in := incl.kid(k)
		if in != nil && in.leaf {
			return // kept whole
		}
		f := sch.member(k)
		var sub *shape
		if f != nil {
			sub = f.shape
		}
		if excl == nil || ex.leaf {
			if in != nil {
				// Keep k for the listed paths below it, select inside.
				s.descend(v, nil, in, sub, def.kid(k))
				return
			}
			if eligible(v, f, def.kid(k)) {
				delete(obj, k)
			}
			return
		}
		s.descend(v, ex, in, sub, def.kid(k))
	}
	if excl == nil {
		for k, v := range obj {
			visit(k, v, nil)
		}
		return
	}
	for k, ex := range excl.kids {
		if v, ok := obj[k]; ok {
			visit(k, v, ex)
		}
	}
}

func (s *Selector) descend(v any, excl, incl *pathTree, sch *shape, def *pathTree) {
	switch x := v.(type) {
	case map[string]any:
		s.prune(x, excl, incl, sch, def)
	case []any:
		for _, e := range x {
			s.descend(e, excl, incl, sch, def)
		}
	}
}

// eligible reports whether a selector may omit the member with value v and
// schema f: SOL013 lets it omit complex attributes with a lower cardinality
// bound of 0 only.
func eligible(v any, f *field, def *pathTree) bool {
	if def != nil && def.leaf {
		return true
	}
	if f != nil {
		return f.optional && f.shape.complex
	}
	// No schema here: judge by the value.
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// pathTree is a set of attribute paths sharing prefixes.
type pathTree struct {
	leaf bool // the whole attribute at this node is named
	kids map[string]*pathTree
}

func (t *pathTree) add(path []string) {
	n := t
	for _, seg := range path {
		if n.leaf {
			return // an ancestor is named whole already
		}
		c := n.kids[seg]
		if c == nil {
			c = &pathTree{}
			if n.kids == nil {
				n.kids = make(map[string]*pathTree)
			}
			n.kids[seg] = c
		}
		n = c
	}
	n.leaf, n.kids = true, nil
}

func (t *pathTree) kid(name string) *pathTree {
	if t == nil {
		return nil
	}
	return t.kids[name]
}

package query

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
)

// Attrs describes the attribute paths of a resource representation: which
// paths exist (for Filter.Check and Selector.Check) and which attributes an
// attribute selector may omit (Selector.Apply). Build it with AttrsOf. The
// zero Attrs knows no attribute. Attrs is immutable and safe for concurrent
// use.
type Attrs struct {
	root *shape
}

// shape is what a JSON value of some Go type looks like.
type shape struct {
	fields map[string]*field // object members; nil for non-objects
	// open: any deeper path is valid (map, any, json.RawMessage).
	open bool
	// complex: an object or an array, as opposed to a scalar.
	complex bool
}

// field is one object member.
type field struct {
	shape *shape
	// optional: lower cardinality bound 0 (omitempty/omitzero), i.e. the
	// member may be absent.
	optional bool
}

var openShape = &shape{open: true, complex: true}

// openField stands for any member below an open shape: free-form content
// (KeyValuePairs and the like) has no mandatory members.
var openField = &field{shape: openShape, optional: true}

// AttrsOf derives Attrs from a Go type the way encoding/json marshals it:
// member names from `json` tags, `-` skipped, unexported fields skipped,
// embedded structs flattened, pointers, slices and arrays followed (arrays
// are traversed implicitly, as in filters). A map, an interface (any) or a
// json.RawMessage accepts any deeper path; any other type that marshals
// itself (json.Marshaler, encoding.TextMarshaler, e.g. time.Time) is a
// scalar.
//
// A member is optional (SOL013 "lower cardinality bound of 0") when its tag
// has omitempty or omitzero. Where the Go type is more lenient than the
// specification, correct it with Mandatory.
func AttrsOf(t reflect.Type) Attrs {
	b := attrsBuilder{seen: make(map[reflect.Type]*shape)}
	return Attrs{root: b.shapeOf(t)}
}

type attrsBuilder struct {
	seen map[reflect.Type]*shape // breaks cycles in recursive types
}

var (
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func marshalsItself(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)
}

func (b *attrsBuilder) shapeOf(t reflect.Type) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := b.seen[t]; ok {
		return s
	}
	switch {
	case t == rawMessageType:
		return openShape
	case t.Kind() == reflect.Interface:
		return openShape
	case marshalsItself(t):
		// Its JSON form is unknown to reflection; a text marshaler is a string.
		if t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
			return &shape{}
		}
		return openShape
	}
	switch t.Kind() {
	case reflect.Map:
		return openShape
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return &shape{} // []byte is a base64 string
		}
		el := b.shapeOf(t.Elem())
		if el.complex {
			return el
		}
		return &shape{complex: true, open: el.open}
	case reflect.Struct:
		s := &shape{fields: make(map[string]*field), complex: true}
		b.seen[t] = s
		b.addFields(s, t)
		return s
	}
	return &shape{}
}

// addFields adds t's members to s following encoding/json's rules: a
// shallower member hides a deeper one of the same name; at equal depth a
// tagged member wins, and two untagged (or two tagged) ones cancel out.
func (b *attrsBuilder) addFields(s *shape, t reflect.Type) {
	type cand struct {
		f      *field
		depth  int
		tagged bool
		dup    bool
	}
	cands := make(map[string]*cand)
	var walk func(t reflect.Type, depth int, visiting map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, visiting map[reflect.Type]bool) {
		if visiting[t] {
			return
		}
		visiting[t] = true
		defer delete(visiting, t)
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !sf.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					walk(et, depth+1, visiting)
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			optional := false
			for _, o := range strings.Split(opts, ",") {
				if o == "omitempty" || o == "omitzero" {
					optional = true
				}
			}
			c := &cand{f: &field{shape: b.shapeOf(ft), optional: optional}, depth: depth, tagged: tag != "" && tag[0] != ','}
			old, ok := cands[name]
			switch {
			case !ok || depth < old.depth:
				cands[name] = c
			case depth > old.depth:
			case c.tagged && !old.tagged:
				cands[name] = c
			case c.tagged == old.tagged:
				old.dup = true
			}
		}
	}
	walk(t, 0, make(map[reflect.Type]bool))
	for name, c := range cands {
		if !c.dup {
			s.fields[name] = c.f
		}
	}
}

// Mandatory returns a copy of a in which the members at paths are not
// optional, so a selector never omits them. Use it where the Go type says
// omitempty but the specification's cardinality is 1, e.g. "_links" of
// VnfInstance and VnfLcmOpOcc. It panics on a path a does not have: paths
// are fixed when the program is written.
func (a Attrs) Mandatory(paths ...string) Attrs {
	for _, p := range paths {
		segs := strings.Split(p, "/")
		root, ok := markMandatory(a.root, segs)
		if !ok {
			panic(fmt.Sprintf("query: Attrs.Mandatory: unknown attribute %q", p))
		}
		a.root = root
	}
	return a
}

// markMandatory copies the shapes along segs (they may be shared with other
// types) and clears optional on the last member.
func markMandatory(s *shape, segs []string) (*shape, bool) {
	if s == nil || s.fields == nil {
		return nil, false
	}
	f, ok := s.fields[segs[0]]
	if !ok {
		return nil, false
	}
	nf := *f
	if len(segs) == 1 {
		nf.optional = false
	} else {
		sub, ok := markMandatory(f.shape, segs[1:])
		if !ok {
			return nil, false
		}
		nf.shape = sub
	}
	ns := *s
	ns.fields = maps.Clone(s.fields)
	ns.fields[segs[0]] = &nf
	return &ns, true
}

// has reports whether path names an attribute.
func (a Attrs) has(path []string) bool {
	s := a.root
	if s == nil {
		return false
	}
	for _, seg := range path {
		f := s.member(seg)
		if f == nil {
			return false
		}
		s = f.shape
	}
	return true
}

// member returns the member name of s, or nil when s has none such.
func (s *shape) member(name string) *field {
	if s == nil {
		return nil
	}
	if s.open {
		return openField
	}
	return s.fields[name]
}

package query

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Match reports whether doc, a decoded JSON document, satisfies every
// simple expression of the filter.
//
// Semantics, where SOL013 v2.6.1 leaves room:
//
//   - Arrays anywhere on the path, and an array as the attribute itself, are
//     traversed implicitly: a positive operator (eq, in, gt, gte, lt, lte,
//     cont) holds if it holds for at least one reached value, as SOL013
//     subscription filters do ("at least one of the values in the array").
//   - neq, nin and ncont are the exact complements of eq, in and cont: they
//     hold when no reached value matches. So (neq,a/b,x) keeps documents in
//     which no element of a has b equal to x, and a document matches exactly
//     one of (eq,p,v) and (neq,p,v). The alternative, "some element differs",
//     would let [x, y] match both.
//   - A missing attribute, or JSON null, matches no positive operator and so
//     every negated one. An object is not comparable to a value, likewise.
//   - eq/in compare strings exactly; a number attribute compares numerically
//     with a numeric value ("5" and "5.0" equal 5); a boolean attribute
//     equals "true" or "false" only.
//   - gt/gte/lt/lte compare numbers numerically and strings byte-wise,
//     except that two RFC 3339 date-times compare as instants (byte order
//     gets fractional seconds and offsets wrong). A number attribute against
//     a non-numeric value, and any boolean, never match: SOL013 wants the
//     value to be of the attribute's type.
//   - cont holds for string attributes containing one of the values.
func (f *Filter) Match(doc any) bool {
	if f == nil {
		return true
	}
	for i := range f.terms {
		t := &f.terms[i]
		hit := t.reach(doc, t.path)
		if hit == t.op.negated() {
			return false
		}
	}
	return true
}

// reach reports whether the positive form of t's operator holds for some
// value that path reaches from v.
func (t *term) reach(v any, path []string) bool {
	for len(path) > 0 {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[path[0]]
			if !ok {
				return false
			}
			v, path = next, path[1:]
		case []any:
			for _, e := range x {
				if t.reach(e, path) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return t.leaf(v)
}

// leaf applies the positive form of t's operator to the attribute value v.
func (t *term) leaf(v any) bool {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if t.leaf(e) {
				return true
			}
		}
		return false
	}
	switch t.op.positive() {
	case opEq, opIn:
		for i := range t.vals {
			if equal(v, &t.vals[i]) {
				return true
			}
		}
		return false
	case opCont:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for i := range t.vals {
			if strings.Contains(s, t.vals[i].s) {
				return true
			}
		}
		return false
	}
	c, ok := compare(v, &t.vals[0])
	if !ok {
		return false
	}
	switch t.op {
	case opGt:
		return c > 0
	case opGte:
		return c >= 0
	case opLt:
		return c < 0
	default: // opLte
		return c <= 0
	}
}

func equal(v any, l *literal) bool {
	switch x := v.(type) {
	case string:
		return x == l.s
	case bool:
		return l.isBool && x == l.b
	}
	c, ok := compareNumber(v, l)
	return ok && c == 0
}

// compare orders attribute value v against l; ok is false when they are not
// comparable.
func compare(v any, l *literal) (int, bool) {
	if s, ok := v.(string); ok {
		if l.isTime {
			if t, ok := parseTime(s); ok {
				return t.Compare(l.t), true
			}
		}
		return strings.Compare(s, l.s), true
	}
	return compareNumber(v, l)
}

func compareNumber(v any, l *literal) (int, bool) {
	if !l.isNum {
		return 0, false
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		// Integers beyond 2^53 must not collapse onto their neighbours.
		if l.isInt {
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return cmpInt(i, l.i), true
			}
		}
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case int:
		if l.isInt {
			return cmpInt(int64(x), l.i), true
		}
		f = float64(x)
	case int64:
		if l.isInt {
			return cmpInt(x, l.i), true
		}
		f = float64(x)
	default:
		return 0, false
	}
	switch {
	case f < l.num:
		return -1, true
	case f > l.num:
		return 1, true
	case f == l.num:
		return 0, true
	}
	return 0, false // NaN
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

package query

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// op is a SOL013 filter operator (table 5.2.2-2).
type op uint8

const (
	opEq op = iota
	opNeq
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opCont
	opNcont
)

var opNames = [...]string{
	opEq: "eq", opNeq: "neq", opGt: "gt", opGte: "gte", opLt: "lt", opLte: "lte",
	opIn: "in", opNin: "nin", opCont: "cont", opNcont: "ncont",
}

func (o op) String() string { return opNames[o] }

func lookupOp(s string) (op, bool) {
	for i, n := range opNames {
		if n == s {
			return op(i), true
		}
	}
	return 0, false
}

// multi reports whether o takes a value list. SOL013 v2.6.1 table 5.2.2-1
// splits the operators into opOne (eq, neq, gt, lt, gte, lte: exactly one
// value) and opMulti (in, nin, cont, ncont: one or more values). The older
// SOL003 v2.4.1 syntax let eq/neq take lists; v2.6.1 moved that to in/nin.
func (o op) multi() bool { return o >= opIn }

// negated reports whether o is the complement of a positive operator.
func (o op) negated() bool { return o == opNeq || o == opNin || o == opNcont }

// positive returns the operator that o negates (o itself if not negated).
func (o op) positive() op {
	switch o {
	case opNeq:
		return opEq
	case opNin:
		return opIn
	case opNcont:
		return opCont
	}
	return o
}

// literal is one filter value, pre-parsed for every attribute type it may
// meet so that Match does not parse per document.
type literal struct {
	s      string
	num    float64
	isNum  bool
	i      int64
	isInt  bool
	b      bool
	isBool bool
	t      time.Time
	isTime bool
}

func newLiteral(s string) literal {
	l := literal{s: s}
	if isJSONNumber(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			l.num, l.isNum = f, true
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			l.i, l.isInt = i, true
		}
	}
	switch s {
	case "true":
		l.b, l.isBool = true, true
	case "false":
		l.isBool = true
	}
	l.t, l.isTime = parseTime(s)
	return l
}

// term is one simple filter expression: (op,attrPath,value[,value...]).
type term struct {
	op   op
	path []string
	vals []literal
}

// Filter is a parsed SOL013 attribute-based filter: simple expressions that
// must all hold (logical AND). It is immutable and safe for concurrent use.
// A nil *Filter stands for "no filter parameter": it matches everything.
type Filter struct {
	terms []term
}

// ParseFilter parses the value of the "filter" URI query parameter (already
// URL-decoded):
//
//	filterExpr := simpleFilterExpr [";" simpleFilterExpr]*
//	simpleFilterExpr := "(" op "," attrName ["/" attrName]* "," value ["," value]* ")"
//
// eq, neq, gt, gte, lt and lte take exactly one value; in, nin, cont and
// ncont take one or more. A value that contains any of , ' ( ) ; or is empty
// is written in single quotes, with each quote inside doubled:
//
//	(in,vnfInstanceName,'it''s, mine','',plain)
//
// Errors are *SyntaxError.
func ParseFilter(expr string) (*Filter, error) {
	p := filterParser{s: expr}
	if expr == "" {
		return nil, p.errAt(0, "empty filter expression")
	}
	f := &Filter{}
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		f.terms = append(f.terms, t)
		if p.pos == len(p.s) {
			return f, nil
		}
		switch c := p.s[p.pos]; c {
		case ';':
			p.pos++
			if p.pos == len(p.s) {
				return nil, p.errAt(p.pos, "missing simple filter expression after ';'")
			}
		case ')':
			return nil, p.errAt(p.pos, "unbalanced parentheses: unexpected ')'")
		default:
			return nil, p.errAt(p.pos, fmt.Sprintf("unexpected %s after ')': expressions are joined by ';'", char(c)))
		}
	}
}

type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) errAt(off int, msg string) *SyntaxError {
	return &SyntaxError{Param: "filter", Offset: off, Msg: msg}
}

func (p *filterParser) eof() *SyntaxError {
	return p.errAt(len(p.s), "unbalanced parentheses: missing ')'")
}

// char quotes one byte of the input for a message.
func char(c byte) string { return strconv.Quote(string([]byte{c})) }

// special are the characters that delimit tokens; an unquoted value or an
// attribute name cannot contain them.
func special(c byte) bool {
	return c == ',' || c == '\'' || c == '(' || c == ')' || c == ';'
}

func (p *filterParser) term() (term, error) {
	var t term
	if p.pos == len(p.s) {
		return t, p.errAt(p.pos, "missing simple filter expression")
	}
	switch c := p.s[p.pos]; c {
	case '(':
	case ')':
		return t, p.errAt(p.pos, "unbalanced parentheses: unexpected ')'")
	default:
		return t, p.errAt(p.pos, fmt.Sprintf("expected '(' to start a simple filter expression, found %s", char(c)))
	}
	p.pos++

	start := p.pos
	for p.pos < len(p.s) && !special(p.s[p.pos]) {
		p.pos++
	}
	name := p.s[start:p.pos]
	if p.pos == len(p.s) {
		return t, p.eof()
	}
	if name == "" {
		if p.s[p.pos] == '(' {
			return t, p.errAt(p.pos, "unbalanced parentheses: unexpected '(' (expressions do not nest)")
		}
		return t, p.errAt(start, "missing operator")
	}
	o, ok := lookupOp(name)
	if !ok {
		return t, p.errAt(start, fmt.Sprintf("unknown operator %q", name))
	}
	t.op = o
	if c := p.s[p.pos]; c != ',' {
		if c == ')' {
			return t, p.errAt(p.pos, "missing attribute name and value")
		}
		return t, p.errAt(p.pos, fmt.Sprintf("unexpected %s after operator", char(c)))
	}
	p.pos++

	if err := p.path(&t); err != nil {
		return t, err
	}
	for {
		// p.s[p.pos] is the ',' before a value.
		p.pos++
		vstart := p.pos
		v, err := p.value()
		if err != nil {
			return t, err
		}
		if len(t.vals) == 1 && !o.multi() {
			return t, p.errAt(vstart, fmt.Sprintf("operator %s takes exactly one value (use in/nin for a list)", o))
		}
		t.vals = append(t.vals, newLiteral(v))
		if p.s[p.pos] == ')' {
			p.pos++
			return t, nil
		}
	}
}

// path reads attrName ["/" attrName]* up to and not including the ','
// before the first value.
func (p *filterParser) path(t *term) error {
	for {
		start := p.pos
		for p.pos < len(p.s) && !special(p.s[p.pos]) && p.s[p.pos] != '/' {
			p.pos++
		}
		if p.pos == len(p.s) {
			return p.eof()
		}
		if p.pos == start {
			return p.errAt(start, "empty attribute name")
		}
		t.path = append(t.path, p.s[start:p.pos])
		switch c := p.s[p.pos]; c {
		case '/':
			p.pos++
		case ',':
			return nil
		case ')':
			return p.errAt(p.pos, "missing value")
		default:
			return p.errAt(p.pos, fmt.Sprintf("unexpected %s in attribute name", char(c)))
		}
	}
}

// value reads one value and leaves p.pos on the ',' or ')' after it.
func (p *filterParser) value() (string, error) {
	if p.pos == len(p.s) {
		return "", p.eof()
	}
	if p.s[p.pos] == '\'' {
		open := p.pos
		p.pos++
		var b strings.Builder
		for {
			i := strings.IndexByte(p.s[p.pos:], '\'')
			if i < 0 {
				return "", p.errAt(open, "unterminated quoted value")
			}
			b.WriteString(p.s[p.pos : p.pos+i])
			p.pos += i + 1
			if p.pos < len(p.s) && p.s[p.pos] == '\'' { // '' is an escaped quote
				b.WriteByte('\'')
				p.pos++
				continue
			}
			break
		}
		if p.pos == len(p.s) {
			return "", p.eof()
		}
		if c := p.s[p.pos]; c != ',' && c != ')' {
			return "", p.errAt(p.pos, fmt.Sprintf("unexpected %s after quoted value", char(c)))
		}
		return b.String(), nil
	}
	start := p.pos
	for p.pos < len(p.s) {
		switch c := p.s[p.pos]; c {
		case ',', ')':
			if p.pos == start {
				return "", p.errAt(start, "missing value")
			}
			return p.s[start:p.pos], nil
		case '\'', '(', ';':
			return "", p.errAt(p.pos, fmt.Sprintf("%s in a value must be quoted ('...')", char(c)))
		}
		p.pos++
	}
	return "", p.eof()
}

// String returns the filter in SOL013 syntax; ParseFilter(f.String())
// yields an equivalent filter. Values are quoted only where needed.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	for i, t := range f.terms {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteByte('(')
		b.WriteString(t.op.String())
		b.WriteByte(',')
		b.WriteString(strings.Join(t.path, "/"))
		for _, v := range t.vals {
			b.WriteByte(',')
			writeValue(&b, v.s)
		}
		b.WriteByte(')')
	}
	return b.String()
}

func writeValue(b *strings.Builder, v string) {
	needQuote := v == ""
	for i := 0; i < len(v) && !needQuote; i++ {
		needQuote = special(v[i])
	}
	if !needQuote {
		b.WriteString(v)
		return
	}
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(v, "'", "''"))
	b.WriteByte('\'')
}

// Check returns an *UnknownAttributeError for the first attribute path that
// known does not contain.
func (f *Filter) Check(known Attrs) error {
	if f == nil {
		return nil
	}
	for _, t := range f.terms {
		if !known.has(t.path) {
			return &UnknownAttributeError{Param: "filter", Path: strings.Join(t.path, "/")}
		}
	}
	return nil
}

// EqTerms returns, per top-level attribute, values for a conservative
// pre-filter (e.g. an indexed SQL column): it collects the AND terms whose
// operator is eq or in and whose path has a single segment.
//
// The guarantee is: every document that Match()es also matches
// (in,attr,values...) for each returned attr. For string-valued attributes
// that is plain string equality with one of the values, which is what a
// store column can check. For number and boolean attributes the values are
// the literals as written (e.g. "5.0" also matches 5), so a pushdown on such
// attributes must compare the same way Match does.
//
// When an attribute has several eq/in terms, only the one with the fewest
// values is returned: intersecting them would be wrong for arrays (["a","b"]
// matches both (eq,x,a) and (eq,x,b)) and for numbers ("5" and "5.0").
func (f *Filter) EqTerms() map[string][]string {
	terms := make(map[string][]string)
	if f == nil {
		return terms
	}
	for _, t := range f.terms {
		if (t.op != opEq && t.op != opIn) || len(t.path) != 1 {
			continue
		}
		attr := t.path[0]
		if old, ok := terms[attr]; ok && len(old) <= len(t.vals) {
			continue
		}
		vals := make([]string, len(t.vals))
		for i, v := range t.vals {
			vals[i] = v.s
		}
		terms[attr] = vals
	}
	return terms
}

// isJSONNumber reports whether s is a number in JSON syntax (RFC 8259),
// which excludes what strconv also accepts: "NaN", "Inf", "0x1p3", "1_000".
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

// parseTime parses an RFC 3339 date-time (SOL013 DateTime). The cheap shape
// test first keeps Match from calling time.Parse on every ordinary string.
func parseTime(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

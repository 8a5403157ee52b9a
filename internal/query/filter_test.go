package query

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// termView is a comparable picture of a parsed term.
type termView struct {
	Op   string
	Path []string
	Vals []string
}

func view(f *Filter) []termView {
	var out []termView
	for _, t := range f.terms {
		v := termView{Op: t.op.String(), Path: t.path}
		for _, l := range t.vals {
			v.Vals = append(v.Vals, l.s)
		}
		out = append(out, v)
	}
	return out
}

func TestParseFilterValid(t *testing.T) {
	tests := []struct {
		in   string
		want []termView
		str  string // String(); "" means same as in
	}{
		{in: "(eq,vnfdId,abc)", want: []termView{{"eq", []string{"vnfdId"}, []string{"abc"}}}},
		{in: "(neq,a,b)", want: []termView{{"neq", []string{"a"}, []string{"b"}}}},
		{in: "(gt,a,1)", want: []termView{{"gt", []string{"a"}, []string{"1"}}}},
		{in: "(gte,a,1)", want: []termView{{"gte", []string{"a"}, []string{"1"}}}},
		{in: "(lt,a,1)", want: []termView{{"lt", []string{"a"}, []string{"1"}}}},
		{in: "(lte,a,1)", want: []termView{{"lte", []string{"a"}, []string{"1"}}}},
		{in: "(in,a,x,y,z)", want: []termView{{"in", []string{"a"}, []string{"x", "y", "z"}}}},
		{in: "(nin,a,x)", want: []termView{{"nin", []string{"a"}, []string{"x"}}}},
		{in: "(cont,a,x,y)", want: []termView{{"cont", []string{"a"}, []string{"x", "y"}}}},
		{in: "(ncont,a,x,y)", want: []termView{{"ncont", []string{"a"}, []string{"x", "y"}}}},
		{
			in:   "(eq,instantiatedVnfInfo/vnfcResourceInfo/vduId,VDU1)",
			want: []termView{{"eq", []string{"instantiatedVnfInfo", "vnfcResourceInfo", "vduId"}, []string{"VDU1"}}},
		},
		{
			in: "(eq,vimConnectionInfo/vimType,ETSINFV.OPENSTACK_KEYSTONE.V_2);(in,instantiationState,INSTANTIATED,NOT_INSTANTIATED)",
			want: []termView{
				{"eq", []string{"vimConnectionInfo", "vimType"}, []string{"ETSINFV.OPENSTACK_KEYSTONE.V_2"}},
				{"in", []string{"instantiationState"}, []string{"INSTANTIATED", "NOT_INSTANTIATED"}},
			},
		},
		// Quoting: specials inside quotes, '' for a quote, empty value.
		{in: "(eq,a,'x,y')", want: []termView{{"eq", []string{"a"}, []string{"x,y"}}}},
		{in: "(eq,a,'it''s')", want: []termView{{"eq", []string{"a"}, []string{"it's"}}}},
		{in: "(eq,a,'(;)')", want: []termView{{"eq", []string{"a"}, []string{"(;)"}}}},
		{in: "(eq,a,'')", want: []termView{{"eq", []string{"a"}, []string{""}}}},
		{in: "(eq,a,'''')", want: []termView{{"eq", []string{"a"}, []string{"'"}}}},
		{in: "(eq,a,'plain')", want: []termView{{"eq", []string{"a"}, []string{"plain"}}}, str: "(eq,a,plain)"},
		{in: "(in,a,'x,y',z,'')", want: []termView{{"in", []string{"a"}, []string{"x,y", "z", ""}}}},
		// Unquoted values may hold anything but the specials.
		{in: "(eq,a,x y/z=1&é)", want: []termView{{"eq", []string{"a"}, []string{"x y/z=1&é"}}}},
		{in: "(gte,startTime,2024-01-02T03:04:05+01:00)", want: []termView{{"gte", []string{"startTime"}, []string{"2024-01-02T03:04:05+01:00"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, view(f))
			want := tt.str
			if want == "" {
				want = tt.in
			}
			assert.Equal(t, want, f.String())
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string // substring of the message
	}{
		{"", 0, "empty filter expression"},
		// unknown operator
		{"(foo,a,b)", 1, `unknown operator "foo"`},
		{"(EQ,a,b)", 1, `unknown operator "EQ"`},
		{"(,a,b)", 1, "missing operator"},
		{"(eq)", 3, "missing attribute name and value"},
		{"(eq;a,b)", 3, `unexpected ";" after operator`},
		// unbalanced parentheses
		{"eq,a,b", 0, "expected '('"},
		{"(eq,a,b", 7, "missing ')'"},
		{"(eq,a", 5, "missing ')'"},
		{"(eq", 3, "missing ')'"},
		{"(", 1, "missing ')'"},
		{")", 0, "unexpected ')'"},
		{"(eq,a,b))", 8, "unexpected ')'"},
		{"((eq,a,b))", 1, "unexpected '('"},
		{"(eq,a,'b'", 9, "missing ')'"},
		// missing value
		{"(eq,a,)", 6, "missing value"},
		{"(eq,a)", 5, "missing value"},
		{"(in,a,x,)", 8, "missing value"},
		{"(in,a,,x)", 6, "missing value"},
		// wrong arity
		{"(eq,a,x,y)", 8, "operator eq takes exactly one value"},
		{"(neq,a,x,y)", 9, "operator neq takes exactly one value"},
		{"(gt,a,1,2)", 8, "operator gt takes exactly one value"},
		{"(lte,a,1,'2')", 9, "operator lte takes exactly one value"},
		// trailing garbage
		{"(eq,a,b)x", 8, `unexpected "x" after ')'`},
		{"(eq,a,b) ", 8, `unexpected " " after ')'`},
		{"(eq,a,b);", 9, "missing simple filter expression after ';'"},
		{"(eq,a,b);;(eq,a,b)", 9, "expected '('"},
		{"(eq,a,b),(eq,a,b)", 8, `unexpected "," after ')'`},
		// empty attribute name
		{"(eq,,b)", 4, "empty attribute name"},
		{"(eq,a//c,b)", 6, "empty attribute name"},
		{"(eq,/a,b)", 4, "empty attribute name"},
		{"(eq,a/,b)", 6, "empty attribute name"},
		{"(eq,a'b,c)", 5, `unexpected "'" in attribute name`},
		// quoting
		{"(eq,a,'b)", 6, "unterminated quoted value"},
		{"(eq,a,'b'c)", 9, `unexpected "c" after quoted value`},
		{"(eq,a,b'c)", 7, `"'" in a value must be quoted`},
		{"(eq,a,b(c)", 7, `"(" in a value must be quoted`},
		{"(eq,a,b;c)", 7, `";" in a value must be quoted`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			require.Error(t, err)
			assert.Nil(t, f)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "want *SyntaxError, got %T", err)
			assert.Equal(t, "filter", se.Param)
			assert.Equal(t, tt.offset, se.Offset, se.Error())
			assert.Contains(t, se.Msg, tt.msg)
			assert.Contains(t, se.Error(), "byte")
		})
	}
}

func TestFilterStringQuotes(t *testing.T) {
	f, err := ParseFilter("(in,a/b,'','x,y','it''s','(a)',';',plain)")
	require.NoError(t, err)
	s := f.String()
	assert.Equal(t, "(in,a/b,'','x,y','it''s','(a)',';',plain)", s)
	g, err := ParseFilter(s)
	require.NoError(t, err)
	assert.Equal(t, view(f), view(g))
}

func TestEqTerms(t *testing.T) {
	tests := []struct {
		in   string
		want map[string][]string
	}{
		{"(eq,vnfdId,x)", map[string][]string{"vnfdId": {"x"}}},
		{"(in,operationState,STARTING,PROCESSING)", map[string][]string{"operationState": {"STARTING", "PROCESSING"}}},
		{"(eq,a/b,x)", map[string][]string{}},
		{"(neq,a,x);(nin,b,x);(cont,c,x);(gt,d,1)", map[string][]string{}},
		{"(eq,a,x);(eq,b,'y,z')", map[string][]string{"a": {"x"}, "b": {"y,z"}}},
		// The same attribute twice: the narrowest term, never an intersection.
		{"(in,a,x,y,z);(eq,a,q)", map[string][]string{"a": {"q"}}},
		{"(eq,a,q);(in,a,x,y)", map[string][]string{"a": {"q"}}},
		{"(eq,a,q);(eq,a,r)", map[string][]string{"a": {"q"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.EqTerms())
		})
	}
}

func TestIsJSONNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "5", "-12", "1.5", "1e3", "1E+3", "2.5e-3", "123456789012345678901234567890"} {
		assert.True(t, isJSONNumber(s), s)
	}
	for _, s := range []string{"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "NaN", "Inf", "0x10", "1_000", "1.5.5", " 1"} {
		assert.False(t, isJSONNumber(s), s)
	}
}

package query

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"

	"github.com/vnfm-project/vnfm/internal/model"
)

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"(eq,vnfdId,abc)",
		"(in,instantiationState,INSTANTIATED,NOT_INSTANTIATED);(neq,id,x)",
		"(eq,instantiatedVnfInfo/vnfcResourceInfo/vduId,VDU1)",
		"(eq,vnfInstanceName,'it''s, (odd); name')",
		"(cont,a,'',''''),(x)",
		"(gt,metadata/count,1e3);(lte,startTime,2024-01-01T00:00:00Z)",
		"(nin,a/b/c,1,2,3)",
		"(ncont,a,'x",
		"((eq,a,b))",
		"(eq,a//b,c)",
		"(eq,a,b);",
		"",
		";",
		"(eq,a,b,c)",
		"(foo,a,b)",
	} {
		f.Add(s)
	}
	doc := decode(f, instanceJSON, true)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseFilter(%q): %T is not a *SyntaxError", s, err)
			}
			if se.Offset < 0 || se.Offset > len(s) {
				t.Fatalf("ParseFilter(%q): offset %d out of range", s, se.Offset)
			}
			return
		}
		out := flt.String()
		again, err := ParseFilter(out)
		if err != nil {
			t.Fatalf("ParseFilter(%q).String() = %q does not parse: %v", s, out, err)
		}
		if !reflect.DeepEqual(view(flt), view(again)) {
			t.Fatalf("%q: String %q parses to %v, want %v", s, out, view(again), view(flt))
		}
		if again.String() != out {
			t.Fatalf("%q: String is not stable: %q then %q", s, out, again.String())
		}
		if flt.Match(doc) != again.Match(doc) {
			t.Fatalf("%q and %q disagree on Match", s, out)
		}
		_ = flt.EqTerms()
	})
}

func FuzzParseSelector(f *testing.F) {
	f.Add(uint8(0), "", "")
	f.Add(uint8(1), "", "")
	f.Add(uint8(2), "", "")
	f.Add(uint8(4), "metadata,vimConnectionInfo", "")
	f.Add(uint8(6), "instantiatedVnfInfo/vnfcResourceInfo/computeResource", "")
	f.Add(uint8(8), "", "metadata/a,instantiatedVnfInfo/scaleStatus")
	f.Add(uint8(4), "a,,b", "")
	f.Add(uint8(12), "a", "b")
	f.Add(uint8(9), "", "x//y")
	f.Add(uint8(4), "id,_links/self,metadata/tenant", "")
	f.Add(uint8(4), "0", "")

	known := AttrsOf(reflect.TypeFor[model.VnfInstance]()).Mandatory("_links")
	allKeys := keys(decode(f, instanceJSON, false))
	f.Fuzz(func(t *testing.T, flags uint8, fields, excl string) {
		q := url.Values{}
		if flags&1 != 0 {
			q.Set(ParamAllFields, "")
		}
		if flags&2 != 0 {
			q.Set(ParamExcludeDefault, "")
		}
		if flags&4 != 0 {
			q.Set(ParamFields, fields)
		}
		if flags&8 != 0 {
			q.Set(ParamExcludeFields, excl)
		}
		s, err := ParseSelector(q, instanceDefaults)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%v: %T is not a *SyntaxError", q, err)
			}
			return
		}
		if err := s.Check(known); err != nil {
			var ue *UnknownAttributeError
			if !errors.As(err, &ue) {
				t.Fatalf("%v: %T is not an *UnknownAttributeError", q, err)
			}
			// A handler answers 400 here; Apply without a schema must
			// still not panic.
			s.Apply(decode(t, instanceJSON, false))
			return
		}
		got := keys(s.Apply(decode(t, instanceJSON, false)))
		// Mandatory and scalar attributes are never removed.
		for _, k := range []string{"id", "vnfdId", "vnfProvider", "instantiationState", "_links"} {
			if !slices.Contains(got, k) {
				t.Fatalf("%v removed mandatory %q", q, k)
			}
		}
		if flags&1 != 0 && !slices.Equal(got, allKeys) {
			t.Fatalf("all_fields returned %v", got)
		}
	})
}

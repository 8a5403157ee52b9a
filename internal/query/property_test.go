package query

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	propKeys   = []string{"a", "b", "c"}
	propPaths  = []string{"a", "b", "c", "a/a", "a/b", "b/c"}
	propValues = []string{"x", "y", "5", "5.0", "true", "false", "", "x,y"}
	propOps    = []string{"eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "cont", "ncont"}
)

func randScalar(r *rand.Rand, useNumber bool) any {
	switch r.IntN(5) {
	case 0, 1:
		return propValues[r.IntN(len(propValues))]
	case 2:
		n := []string{"5", "5.5", "0", "-1"}[r.IntN(4)]
		if useNumber {
			return json.Number(n)
		}
		var f float64
		_ = json.Unmarshal([]byte(n), &f)
		return f
	case 3:
		return r.IntN(2) == 0
	}
	return nil
}

func randValue(r *rand.Rand, depth int, useNumber bool) any {
	switch k := r.IntN(6); {
	case k == 0 && depth < 2:
		return randDoc(r, depth+1, useNumber)
	case k == 1:
		arr := make([]any, r.IntN(4))
		for i := range arr {
			arr[i] = randValue(r, depth+1, useNumber)
		}
		return arr
	}
	return randScalar(r, useNumber)
}

func randDoc(r *rand.Rand, depth int, useNumber bool) map[string]any {
	m := make(map[string]any)
	for _, k := range propKeys {
		if r.IntN(4) != 0 {
			m[k] = randValue(r, depth, useNumber)
		}
	}
	return m
}

func randFilter(r *rand.Rand) string {
	var b strings.Builder
	for i := range 1 + r.IntN(4) {
		if i > 0 {
			b.WriteByte(';')
		}
		o := propOps[r.IntN(len(propOps))]
		b.WriteString("(" + o + "," + propPaths[r.IntN(len(propPaths))])
		n := 1
		if op, _ := lookupOp(o); op.multi() {
			n += r.IntN(3)
		}
		for range n {
			b.WriteByte(',')
			writeValue(&b, propValues[r.IntN(len(propValues))])
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Every document that Matches satisfies what EqTerms pushes down, i.e.
// matches (in,attr,values...) for each term.
func TestEqTermsConservative(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]map[string]any, 300)
	for i := range docs {
		docs[i] = randDoc(r, 0, i%2 == 0)
	}
	checked := 0
	for range 3000 {
		expr := randFilter(r)
		f, err := ParseFilter(expr)
		require.NoError(t, err, expr)
		terms := f.EqTerms()
		if len(terms) == 0 {
			continue
		}
		var pre []*Filter
		for attr, vals := range terms {
			pf := &Filter{terms: []term{{op: opIn, path: []string{attr}}}}
			for _, v := range vals {
				pf.terms[0].vals = append(pf.terms[0].vals, newLiteral(v))
			}
			pre = append(pre, pf)
		}
		for _, d := range docs {
			if !f.Match(d) {
				continue
			}
			checked++
			for _, pf := range pre {
				require.True(t, pf.Match(d), "filter %s matches %v but pre-filter %s does not", expr, d, pf)
			}
		}
	}
	require.Greater(t, checked, 1000, "the generator should produce matching documents")
}

// The parser and String agree on random filters over the whole syntax.
func TestFilterStringRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		expr := randFilter(r)
		f, err := ParseFilter(expr)
		require.NoError(t, err, expr)
		require.Equal(t, expr, f.String())
	}
}

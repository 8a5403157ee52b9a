package openapi

import (
	"context"
	"html"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"
)

// TestDocsHTMLEveryOperation: the page of the embedded document lists
// every path with every method, the summaries and the body schemas, links
// the YAML and holds no script.
func TestDocsHTMLEveryOperation(t *testing.T) {
	t.Parallel()
	page, err := DocsHTML(context.Background(), "vnflcm/v1/openapi.yaml")
	require.NoError(t, err)
	doc, err := LoadDocument(context.Background())
	require.NoError(t, err)
	s := string(page)
	require.Contains(t, s, "<title>vnfm API - "+html.EscapeString(doc.Info.Title)+" "+doc.Info.Version+"</title>")
	require.Contains(t, s, `<a href="vnflcm/v1/openapi.yaml">`)
	require.NotContains(t, strings.ToLower(s), "<script")
	require.NotContains(t, s, "http://")
	require.NotContains(t, s, "https://")
	require.Greater(t, doc.Paths.Len(), 10)
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			row := `<td class="method">` + method + "</td>\n<td><code>" + base + path + "</code></td>"
			require.Contains(t, s, row, "%s %s", method, path)
			if op.Summary != "" {
				require.Contains(t, s, html.EscapeString(op.Summary), "%s %s", method, path)
			}
		}
	}
	require.Equal(t, ops, strings.Count(s, `<td class="method">`), "one row per operation")
	require.Contains(t, s, "<code>InstantiateVnfRequest</code> (required)")
	require.Contains(t, s, "application/json, application/merge-patch&#43;json")
	require.Contains(t, s, `<span title="The VNF instance resource was created (NOT_INSTANTIATED).">201</span>`)
}

// TestDocsPageEscapes: whatever a document holds is text, in every context
// the template puts it in (element, attribute, URL).
func TestDocsPageEscapes(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert("x")</script>&'`
	desc := "\"><img src=x\n onerror=alert(1)>"
	paths := openapi3.NewPaths()
	paths.Set(`/a/{id}<b>`, &openapi3.PathItem{Post: &openapi3.Operation{
		Summary:     evil,
		Description: evil,
		RequestBody: &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithJSONSchemaRef(
			openapi3.NewSchemaRef(`#/components/schemas/<i>Body~1~0`, nil))},
		Responses: openapi3.NewResponses(openapi3.WithStatus(200, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc)})),
	}})
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info:    &openapi3.Info{Title: evil, Version: evil, Description: evil},
		Servers: openapi3.Servers{{URL: "https://vnfm.example/base/"}},
		Paths:   paths,
	}
	for _, tc := range []struct {
		name, href, wantHref string
	}{
		{"relative", "x/openapi.yaml?a=1&b=2", `href="x/openapi.yaml?a=1&amp;b=2"`},
		{"script URL", "javascript:alert(1)", `href="#ZgotmplZ"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			page, err := DocsPage(DocsSource{Doc: doc, RawHref: tc.href})
			require.NoError(t, err)
			s := string(page)
			require.NotContains(t, s, "<script")
			require.NotContains(t, s, "<img")
			require.NotContains(t, s, "<i>")
			require.NotContains(t, s, "<b>")
			require.Contains(t, s, "<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;</h1>")
			require.Contains(t, s, `<td><code>/base/a/{id}&lt;b&gt;</code></td>`)
			require.Contains(t, s, `<code>&lt;i&gt;Body/~</code>`)
			require.Contains(t, s, `title="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"`)
			require.Contains(t, s, tc.wantHref)
		})
	}
}

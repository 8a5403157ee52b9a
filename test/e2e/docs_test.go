package e2e

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/openapi"
)

// TestDocsPage: GET /docs, open even with authentication on, is an HTML
// page with no script that lists every path of the OpenAPI document and
// links the YAML the server serves.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t), 20, withAuth(t, "basic", nil))
	r := e.do("GET", "/docs", nil, "Accept", "text/html")
	require.Equal(t, 200, r.status, "%s", r.body)
	require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	require.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
	page := string(r.body)
	require.NotContains(t, strings.ToLower(page), "<script")

	doc, err := openapi.LoadDocument(context.Background())
	require.NoError(t, err)
	require.Contains(t, page, "<h1>"+html.EscapeString(doc.Info.Title)+"</h1>")
	require.Contains(t, page, "Version "+doc.Info.Version)
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			require.Contains(t, page, `<td class="method">`+method+"</td>\n<td><code>/vnflcm/v1"+path+"</code>", "%s %s", method, path)
		}
	}

	// The link resolves, from /docs, to the document itself.
	m := regexp.MustCompile(`<a href="([^"]+)">OpenAPI document`).FindStringSubmatch(page)
	require.Len(t, m, 2, "the page links the YAML")
	base, err := url.Parse(e.url + "/docs")
	require.NoError(t, err)
	href, err := url.Parse(m[1])
	require.NoError(t, err)
	yaml := e.do("GET", base.ResolveReference(href).String(), nil, "Accept", "")
	require.Equal(t, 200, yaml.status)
	require.Equal(t, openapi.VnfLcmV1, yaml.body)
}

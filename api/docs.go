package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/vnfm-project/vnfm/openapi"
)

// docsCSP forbids everything but the page's own inline style: the page has
// no script and fetches nothing.
const docsCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docs serves GET /docs, the OpenAPI document as HTML. It is rendered once,
// when the router is built; the link to the YAML is relative so that it
// holds behind a proxy that adds a path prefix.
func (a *API) docs() http.HandlerFunc {
	page, err := openapi.DocsHTML(context.Background(), strings.TrimPrefix(prefix, "/")+"/openapi.yaml")
	if err != nil {
		// Not reached in practice: New has loaded the same document.
		if a.log != nil {
			a.log.Error("render the API page", "err", err)
		}
		return func(w http.ResponseWriter, _ *http.Request) {
			problem(w, http.StatusInternalServerError, "Internal Server Error", "the API page could not be rendered; see the vnfm log")
		}
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	}
}

package openapi

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// DocsSource is one document of the /docs page.
type DocsSource struct {
	Doc *openapi3.T
	// RawHref links to the document as served (relative to the page, so
	// that it works behind a proxy that adds a path prefix).
	RawHref string
}

// DocsPage renders the documents as one self-contained HTML page: no
// script and nothing to fetch, since vnfm may run where nothing can be
// fetched. html/template escapes everything taken from the documents.
func DocsPage(srcs ...DocsSource) ([]byte, error) {
	page := docsPage{}
	for _, s := range srcs {
		page.Docs = append(page.Docs, docsView(s))
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("openapi: rendering docs: %w", err)
	}
	return buf.Bytes(), nil
}

// DocsHTML is the page of the embedded documents, each linked at rawHref.
func DocsHTML(ctx context.Context, rawHref string) ([]byte, error) {
	doc, err := LoadDocument(ctx)
	if err != nil {
		return nil, err
	}
	return DocsPage(DocsSource{Doc: doc, RawHref: rawHref})
}

type docsPage struct{ Docs []docView }

type docView struct {
	Title, Version, Description, RawHref string
	Ops                                  []opView
}

type opView struct {
	Method, Path, Summary, Description string
	Deprecated                         bool
	Body                               *bodyView
	Responses                          []respView
}

type bodyView struct {
	Schema     string
	MediaTypes []string
	Required   bool
}

type respView struct{ Code, Description string }

// methodOrder lists operations of a path as people read them.
var methodOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

func docsView(s DocsSource) docView {
	d := s.Doc
	v := docView{RawHref: s.RawHref}
	if d.Info != nil {
		v.Title, v.Version, v.Description = d.Info.Title, d.Info.Version, d.Info.Description
	}
	if d.Paths == nil {
		return v
	}
	base := serverPath(d)
	for _, p := range d.Paths.Keys() {
		item := d.Paths.Value(p)
		if item == nil {
			continue
		}
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		slices.SortFunc(methods, func(a, b string) int {
			return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
		})
		for _, m := range methods {
			op := ops[m]
			ov := opView{Method: m, Path: base + p, Summary: op.Summary, Description: op.Description, Deprecated: op.Deprecated}
			if ov.Summary == "" && ov.Description == "" {
				ov.Summary = item.Summary
			}
			ov.Body = bodyOf(op.RequestBody)
			if op.Responses != nil {
				for _, code := range op.Responses.Keys() {
					r := respView{Code: code}
					if ref := op.Responses.Value(code); ref != nil && ref.Value != nil && ref.Value.Description != nil {
						// One line: it is a tooltip.
						r.Description = strings.Join(strings.Fields(*ref.Value.Description), " ")
					}
					ov.Responses = append(ov.Responses, r)
				}
			}
			v.Ops = append(v.Ops, ov)
		}
	}
	return v
}

// rank is a method's place in methodOrder; unknown ones go last.
func rank(m string) int {
	if i := slices.Index(methodOrder, m); i >= 0 {
		return i
	}
	return len(methodOrder)
}

// serverPath is the path of the document's first server URL (the prefix
// of every path), "" when it has none.
func serverPath(d *openapi3.T) string {
	if len(d.Servers) == 0 || d.Servers[0] == nil {
		return ""
	}
	u := d.Servers[0].URL
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			u = u[j:]
		} else {
			u = ""
		}
	}
	return strings.TrimRight(u, "/")
}

func bodyOf(rb *openapi3.RequestBodyRef) *bodyView {
	if rb == nil {
		return nil
	}
	if rb.Value == nil {
		return &bodyView{Schema: refName(rb.Ref)}
	}
	bv := &bodyView{Required: rb.Value.Required}
	var names []string
	for _, mt := range slices.Sorted(maps.Keys(rb.Value.Content)) {
		bv.MediaTypes = append(bv.MediaTypes, mt)
		if media := rb.Value.Content[mt]; media != nil {
			names = append(names, schemaName(media.Schema))
		}
	}
	slices.Sort(names)
	bv.Schema = strings.Join(slices.Compact(names), " | ")
	return bv
}

// schemaName names a body schema: its component's name, "array of" one,
// or its type when it is inline.
func schemaName(s *openapi3.SchemaRef) string {
	switch {
	case s == nil:
		return "any"
	case s.Ref != "":
		return refName(s.Ref)
	case s.Value == nil:
		return "any"
	case s.Value.Type.Is(openapi3.TypeArray) && s.Value.Items != nil:
		return "array of " + schemaName(s.Value.Items)
	case s.Value.Type != nil && !s.Value.Type.IsEmpty():
		return strings.Join(s.Value.Type.Slice(), " or ") + " (inline)"
	}
	return "inline schema"
}

// refName is the last token of a $ref: #/components/schemas/X is X.
func refName(ref string) string {
	tok := ref[strings.LastIndexByte(ref, '/')+1:]
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
}

//go:embed docs.html.tmpl
var docsTemplateText string

var docsTemplate = template.Must(template.New("docs").Parse(docsTemplateText))

// Package openapi holds the OpenAPI 3 document of the /vnflcm/v1 API (ETSI
// NFV-SOL 003/002 V2.6.1 VNF Lifecycle Management, API version 1.3.0) and
// validates incoming requests against it.
package openapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// VnfLcmV1 is the OpenAPI 3.0 document of /vnflcm/v1, served as-is to clients.
//
//go:embed vnflcm-v1.yaml
var VnfLcmV1 []byte

var (
	// ErrNoRoute reports a path the document does not define (404).
	ErrNoRoute = errors.New("no such resource")
	// ErrMethodNotAllowed reports a method the document does not define on a
	// known path (405). The error returned is a *MethodNotAllowedError.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrMalformedBody reports a request body that is not JSON (400). It is
	// wrapped by a *ValidationError so that servers can tell it from a
	// well-formed body that does not match its schema.
	ErrMalformedBody = errors.New("request body is not valid JSON")
)

// MethodNotAllowedError is returned for a known path and an unknown method;
// errors.Is(err, ErrMethodNotAllowed) holds. Allowed feeds the Allow header.
type MethodNotAllowedError struct {
	Method  string
	Path    string
	Allowed []string
}

func (e *MethodNotAllowedError) Error() string {
	return fmt.Sprintf("method %s is not allowed on %s; allowed: %s", e.Method, e.Path, strings.Join(e.Allowed, ", "))
}

// Is makes errors.Is(err, ErrMethodNotAllowed) true.
func (e *MethodNotAllowedError) Is(target error) bool { return target == ErrMethodNotAllowed }

// UnsupportedMediaTypeError is returned when the request's Content-Type is
// not one the operation declares (415).
type UnsupportedMediaTypeError struct {
	ContentType string   // as sent; empty if the header was missing
	Supported   []string // the media types the operation accepts, sorted
}

func (e *UnsupportedMediaTypeError) Error() string {
	ct := e.ContentType
	if ct == "" {
		return fmt.Sprintf("the request has a body but no Content-Type; use %s", strings.Join(e.Supported, " or "))
	}
	return fmt.Sprintf("content type %q is not supported; use %s", ct, strings.Join(e.Supported, " or "))
}

// ValidationError is returned when the request's parameters, headers or body
// do not match the document (400, or 422 for a well-formed body at the
// server's choice). Error() is meant for ProblemDetails.detail.
type ValidationError struct {
	In     string // "path", "query", "header" or "body"; empty if mixed
	Detail string
	Err    error // the kin-openapi error, or ErrMalformedBody
}

func (e *ValidationError) Error() string { return e.Detail }
func (e *ValidationError) Unwrap() error { return e.Err }

// Validator checks requests against VnfLcmV1. It is immutable after
// NewValidator and so safe for concurrent use.
type Validator struct {
	router routers.Router
	opts   *openapi3filter.Options
}

// LoadDocument parses and validates the embedded document.
func LoadDocument(ctx context.Context) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(VnfLcmV1)
	if err != nil {
		return nil, fmt.Errorf("openapi: loading vnflcm-v1.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: validating vnflcm-v1.yaml: %w", err)
	}
	return doc, nil
}

// NewValidator loads the document once and builds its router.
func NewValidator() (*Validator, error) {
	doc, err := LoadDocument(context.Background())
	if err != nil {
		return nil, err
	}
	// gorillamux tells "no such path" from "no such method"; the document's
	// relative server URL /vnflcm/v1 becomes the path prefix of every route.
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: building router: %w", err)
	}
	return &Validator{
		router: router,
		opts: &openapi3filter.Options{
			// The body is checked by validateBody: it has been read already,
			// needs its own content negotiation and JSON errors, and must
			// not be rewritten with defaults.
			ExcludeRequestBody: true,
			MultiError:         true,
			// Defaults would be written into the request's query and headers.
			SkipSettingDefaults: true,
			// Authentication is the server's business, not the document's.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
	}, nil
}

// ValidateRequest checks r's route, path, query and header parameters and,
// if the operation takes one, body (already read by the caller; r.Body is
// not touched). It returns nil, an error matching ErrNoRoute or
// ErrMethodNotAllowed, an *UnsupportedMediaTypeError or a *ValidationError.
func (v *Validator) ValidateRequest(ctx context.Context, r *http.Request, body []byte) error {
	// A shallow copy without body: kin-openapi may read or replace Body.
	req := *r
	req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0

	route, pathParams, err := v.router.FindRoute(&req)
	switch {
	case err == nil:
	case errors.Is(err, routers.ErrPathNotFound):
		return fmt.Errorf("%w: %s", ErrNoRoute, r.URL.Path)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return &MethodNotAllowedError{Method: r.Method, Path: r.URL.Path, Allowed: v.allowed(&req)}
	default:
		return fmt.Errorf("openapi: finding route: %w", err)
	}

	rb := route.Operation.RequestBody
	var media *openapi3.MediaType
	if rb != nil && rb.Value != nil {
		if media, err = negotiate(rb.Value, r.Header.Get("Content-Type"), body); err != nil {
			return err
		}
	}

	input := &openapi3filter.RequestValidationInput{
		Request:     &req,
		PathParams:  pathParams,
		QueryParams: r.URL.Query(),
		Route:       route,
		Options:     v.opts,
	}
	if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
		return &ValidationError{In: paramLocation(err), Detail: Describe(err), Err: err}
	}

	// Bodies sent to operations without one (e.g. "{}" on retry) are ignored.
	if rb == nil || rb.Value == nil {
		return nil
	}
	return validateBody(rb.Value, media, body)
}

// allowed lists the methods the document defines on req's path.
func (v *Validator) allowed(req *http.Request) []string {
	var methods []string
	probe := *req
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe.Method = m
		if _, _, err := v.router.FindRoute(&probe); err == nil {
			methods = append(methods, m)
		}
	}
	return methods
}

// negotiate returns the media type of the request body, or an
// *UnsupportedMediaTypeError if the operation does not accept it. A request
// with neither body nor Content-Type has nothing to negotiate.
func negotiate(rb *openapi3.RequestBody, contentType string, body []byte) (*openapi3.MediaType, error) {
	if contentType == "" && len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	// Content.Get ignores parameters (charset) and case.
	if media := rb.Content.Get(contentType); media != nil {
		return media, nil
	}
	supported := make([]string, 0, len(rb.Content))
	for mt := range rb.Content {
		supported = append(supported, mt)
	}
	slices.Sort(supported)
	return nil, &UnsupportedMediaTypeError{ContentType: contentType, Supported: supported}
}

func validateBody(rb *openapi3.RequestBody, media *openapi3.MediaType, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if rb.Required {
			return &ValidationError{In: "body", Detail: "request body is required", Err: openapi3filter.ErrInvalidRequired}
		}
		return nil
	}
	value, err := decodeJSON(body)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrMalformedBody, err)
		return &ValidationError{In: "body", Detail: err.Error(), Err: err}
	}
	if media == nil || media.Schema == nil || media.Schema.Value == nil {
		return nil
	}
	if err := media.Schema.Value.VisitJSON(value, openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
		return &ValidationError{In: "body", Detail: "request body: " + Describe(err), Err: err}
	}
	return nil
}

// decodeJSON decodes exactly one JSON value, with numbers kept as
// json.Number as kin-openapi expects, and rejects trailing data.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value at byte %d", dec.InputOffset())
	}
	return value, nil
}

// jsonError adds the position to encoding/json's syntax errors.
func jsonError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("%w (at byte %d)", err, syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected end of input: %w", err)
	}
	return err
}

// paramLocation tells where the failing parameters are, if all in one place.
func paramLocation(err error) string {
	var in string
	for _, e := range flatten(err) {
		var re *openapi3filter.RequestError
		if !errors.As(e, &re) || re.Parameter == nil {
			return ""
		}
		if in != "" && in != re.Parameter.In {
			return ""
		}
		in = re.Parameter.In
	}
	return in
}

// flatten expands top-level MultiErrors only: a RequestError's own cause may
// be a MultiError of SchemaErrors, which belongs to that parameter.
func flatten(err error) []error {
	if me, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// maxMessages bounds the detail of a request with very many errors.
const maxMessages = 10

// Describe turns a kin-openapi validation error (*openapi3filter.RequestError,
// *openapi3.SchemaError, openapi3.MultiError or anything wrapping them) into
// one human-readable line, e.g. `terminationType: value "SOMETIMES" is not
// one of the allowed values [FORCEFUL GRACEFUL]`. Several problems are joined
// with "; " in order of location, an object's own before its members'.
// Unlike kin-openapi's Error() methods it does not dump schemas or request
// values (enum mismatches quote the value, truncated).
func Describe(err error) string {
	var msgs []string
	for _, p := range describe(err) {
		msgs = append(msgs, p.String())
	}
	msgs = slices.Compact(msgs)
	if len(msgs) > maxMessages {
		msgs = append(msgs[:maxMessages], fmt.Sprintf("and %d more errors", len(msgs)-maxMessages))
	}
	return strings.Join(msgs, "; ")
}

// problem is one validation failure: where in the value, and what.
type problem struct {
	prefix string   // what was validated, e.g. `query parameter "filter"`
	path   []string // JSON pointer tokens within that value
	msg    string
}

func (p problem) String() string {
	var b strings.Builder
	b.WriteString(p.prefix)
	if len(p.path) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pointer(p.path))
	}
	switch {
	case b.Len() == 0:
	case p.msg == "is required" || p.msg == "must not be empty":
		// `header "Version" is required` reads better without a colon.
		b.WriteByte(' ')
	default:
		b.WriteString(": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

func describe(err error) []problem {
	switch e := err.(type) {
	case nil:
		return nil
	case openapi3.MultiError:
		var ps []problem
		for _, sub := range e {
			ps = append(ps, describe(sub)...)
		}
		// kin-openapi reports members before the object's missing properties;
		// sorting by location reads better and is deterministic.
		slices.SortStableFunc(ps, func(a, b problem) int {
			if c := strings.Compare(a.prefix, b.prefix); c != 0 {
				return c
			}
			return slices.Compare(a.path, b.path)
		})
		return ps
	case *openapi3.SchemaError:
		return describeSchemaError(e)
	case *openapi3filter.RequestError:
		return describeRequestError(e)
	case *openapi3filter.SecurityRequirementsError:
		return []problem{{msg: "authentication failed"}}
	}
	// Wrapped: describe the outermost kin-openapi error we know.
	var (
		me openapi3.MultiError
		se *openapi3.SchemaError
		re *openapi3filter.RequestError
	)
	switch {
	case errors.As(err, &re):
		return describeRequestError(re)
	case errors.As(err, &me):
		return describe(me)
	case errors.As(err, &se):
		return describeSchemaError(se)
	}
	return []problem{{msg: err.Error()}}
}

func describeRequestError(e *openapi3filter.RequestError) []problem {
	var prefix string
	switch {
	case e.Parameter != nil && e.Parameter.In == openapi3.ParameterInHeader:
		prefix = fmt.Sprintf("header %q", e.Parameter.Name)
	case e.Parameter != nil:
		prefix = fmt.Sprintf("%s parameter %q", e.Parameter.In, e.Parameter.Name)
	case e.RequestBody != nil:
		prefix = "request body"
	}
	var ps []problem
	switch {
	case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
		ps = []problem{{msg: "is required"}}
	case errors.Is(e.Err, openapi3filter.ErrInvalidEmptyValue):
		ps = []problem{{msg: "must not be empty"}}
	case e.Err != nil:
		ps = describe(e.Err)
	default:
		ps = []problem{{msg: e.Reason}}
	}
	for i := range ps {
		if ps[i].prefix == "" {
			ps[i].prefix = prefix
		}
	}
	return ps
}

func describeSchemaError(e *openapi3.SchemaError) []problem {
	path := e.JSONPointer()
	msg := e.Reason
	switch e.SchemaField {
	case "required":
		// kin-openapi puts the missing property at the end of the path,
		// but the reason already names it.
		if len(path) > 0 {
			path = path[:len(path)-1]
		}
	case "enum":
		if e.Schema != nil {
			msg = fmt.Sprintf("value %s is not one of the allowed values %v", shortValue(e.Value), e.Schema.Enum)
		}
	case "nullable":
		msg = "value must not be null"
	case "oneOf", "anyOf":
		// kin-openapi keeps no useful detail for these. If only one
		// alternative admits the value's JSON type, its errors are the
		// ones that matter; otherwise the document states the rule in
		// x-error.
		if alt := onlyAlternative(e.Schema, e.Value); alt != nil {
			if err := alt.VisitJSON(e.Value, openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
				ps := describe(err)
				for i := range ps {
					ps[i].path = append(slices.Clip(path), ps[i].path...)
				}
				return ps
			}
		}
		if s, ok := e.Schema.Extensions["x-error"].(string); ok && s != "" {
			msg = s
		}
	case "allOf", "not":
		if s, ok := e.Schema.Extensions["x-error"].(string); ok && s != "" {
			msg = s
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("value does not match the schema (%s)", e.SchemaField)
	}
	return []problem{{path: path, msg: msg}}
}

// onlyAlternative returns the single oneOf/anyOf alternative whose type
// admits value, or nil if there are several or none.
func onlyAlternative(schema *openapi3.Schema, value any) *openapi3.Schema {
	if schema == nil {
		return nil
	}
	var typ string
	switch value.(type) {
	case map[string]any:
		typ = openapi3.TypeObject
	case []any:
		typ = openapi3.TypeArray
	case string:
		typ = openapi3.TypeString
	case bool:
		typ = openapi3.TypeBoolean
	case json.Number, float64:
		typ = openapi3.TypeNumber
	default:
		return nil
	}
	var found *openapi3.Schema
	for _, ref := range append(slices.Clip(schema.OneOf), schema.AnyOf...) {
		alt := ref.Value
		if alt == nil || alt.Type == nil || !(alt.Type.Is(typ) || typ == openapi3.TypeNumber && alt.Type.Is(openapi3.TypeInteger)) {
			continue
		}
		if found != nil {
			return nil
		}
		found = alt
	}
	return found
}

// pointer renders a path as an RFC 6901 JSON pointer without the leading "/"
// (e.g. extVirtualLinks/0/extCps), which reads well and stays unambiguous.
func pointer(path []string) string {
	var b strings.Builder
	for i, tok := range path {
		if i > 0 {
			b.WriteByte('/')
		}
		tok = strings.ReplaceAll(tok, "~", "~0")
		b.WriteString(strings.ReplaceAll(tok, "/", "~1"))
	}
	return b.String()
}

// shortValue quotes a value for a message, bounded so that a client cannot
// make the detail arbitrarily long.
func shortValue(v any) string {
	const max = 64
	var s string
	switch v := v.(type) {
	case string:
		if len(v) > max {
			v = v[:max] + "..."
		}
		return fmt.Sprintf("%q", v)
	case json.Number:
		s = v.String()
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprintf("%T", v)
		}
		s = string(b)
	}
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

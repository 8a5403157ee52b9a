package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/query"
	"github.com/vnfm-project/vnfm/internal/store"
)

var (
	// _links is mandatory in SOL003 although the Go type omits it when nil.
	instanceAttrs = query.AttrsOf(reflect.TypeOf(model.VnfInstance{})).Mandatory("_links")
	opOccAttrs    = query.AttrsOf(reflect.TypeOf(model.VnfLcmOpOcc{})).Mandatory("_links")
	// The complex attributes SOL003 (tables 5.5.2.2-1 and 5.5.2.13-1 notes)
	// leaves out of lists unless asked for.
	instanceDefaultExcluded = []string{"vnfConfigurableProperties", "vimConnectionInfo", "instantiatedVnfInfo", "metadata", "extensions"}
	opOccDefaultExcluded    = []string{"operationParams", "error", "resourceChanges", "changedInfo", "changedExtConnectivity"}
)

// listSpec is one list endpoint's query handling.
type listSpec[T any] struct {
	attrs    query.Attrs
	excluded []string
	indexed  []string // attributes store.Cond can pre-filter on
	fetch    func(r *http.Request, opts store.ListOptions) ([]T, error)
	seq      func(*T) int64
	view     func(r *http.Request, item *T) any
}

// serveList implements filter, attribute selectors and paging: it scans
// pages from the store (narrowed by the filter's eq terms on indexed
// columns), applies the full filter, and stops after one result more than
// a page so it knows whether to send a Link to the next one.
func serveList[T any](a *API, w http.ResponseWriter, r *http.Request, spec listSpec[T]) {
	q, err := queryValues(r.URL.RawQuery)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var filter *query.Filter
	if fs, ok := q["filter"]; ok {
		var err error
		if filter, err = query.ParseFilter(strings.Join(fs, ";")); err != nil {
			a.fail(w, r, fmt.Errorf("filter: %w", err))
			return
		}
		if err := filter.Check(spec.attrs); err != nil {
			a.fail(w, r, fmt.Errorf("filter: %w", err))
			return
		}
	}
	sel, err := query.ParseSelector(q, spec.excluded)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := sel.Check(spec.attrs); err != nil {
		a.fail(w, r, err)
		return
	}
	after, err := parseMarker(q.Get("nextpage_opaque_marker"))
	if err != nil {
		a.fail(w, r, err)
		return
	}

	opts := store.ListOptions{AfterSeq: after, Limit: a.pageSize + 1}
	if filter != nil {
		for attr, vals := range filter.EqTerms() {
			for _, ix := range spec.indexed {
				if ix == attr {
					opts.Where = append(opts.Where, store.Cond{Attr: attr, Values: vals})
				}
			}
		}
	}
	out := make([]any, 0)
	var lastSeq int64
	more := false
scan:
	for {
		batch, err := spec.fetch(r, opts)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for i := range batch {
			item := &batch[i]
			opts.AfterSeq = spec.seq(item)
			doc, err := toDoc(spec.view(r, item))
			if err != nil {
				a.fail(w, r, err)
				return
			}
			if filter != nil && !filter.Match(doc) {
				continue
			}
			if len(out) == a.pageSize {
				more = true
				break scan
			}
			out = append(out, sel.Apply(doc))
			lastSeq = spec.seq(item)
		}
		if len(batch) < opts.Limit {
			break
		}
	}
	if more {
		q.Set("nextpage_opaque_marker", makeMarker(lastSeq))
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, a.base(r), r.URL.Path, q.Encode()))
	}
	writeJSON(w, http.StatusOK, out)
}

func toDoc(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc any
	err = json.Unmarshal(raw, &doc)
	return doc, err
}

// Markers are opaque to clients; a version prefix lets the format change.
func makeMarker(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s1:" + strconv.FormatInt(seq, 10)))
}

func parseMarker(m string) (int64, error) {
	if m == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(m)
	if err == nil {
		if s, ok := strings.CutPrefix(string(raw), "s1:"); ok {
			if seq, err := strconv.ParseInt(s, 10, 64); err == nil && seq >= 0 {
				return seq, nil
			}
		}
	}
	return 0, fmt.Errorf("%w: nextpage_opaque_marker %q is not a marker this server issued", lcm.ErrBadRequest, m)
}

func (a *API) listInstances(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, listSpec[store.Instance]{
		attrs:    instanceAttrs,
		excluded: instanceDefaultExcluded,
		indexed:  store.InstanceAttrs,
		fetch: func(r *http.Request, opts store.ListOptions) ([]store.Instance, error) {
			return a.lcm.ListInstances(r.Context(), opts)
		},
		seq:  func(i *store.Instance) int64 { return i.Seq },
		view: func(r *http.Request, i *store.Instance) any { return a.instanceView(r, i) },
	})
}

func (a *API) listOpOccs(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, listSpec[store.OpOcc]{
		attrs:    opOccAttrs,
		excluded: opOccDefaultExcluded,
		indexed:  store.OpOccAttrs,
		fetch: func(r *http.Request, opts store.ListOptions) ([]store.OpOcc, error) {
			return a.lcm.ListOpOccs(r.Context(), opts)
		},
		seq:  func(o *store.OpOcc) int64 { return o.Seq },
		view: func(r *http.Request, o *store.OpOcc) any { return a.opOccView(r, o) },
	})
}

// queryValues parses a query string splitting on "&" only: SOL013 filters
// use ";" between expressions, which net/url would reject as a separator.
func queryValues(raw string) (url.Values, error) {
	q := url.Values{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("%w: query parameter %q: %w", lcm.ErrBadRequest, k, err)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("%w: query parameter %q: %w", lcm.ErrBadRequest, key, err)
		}
		q.Add(key, val)
	}
	return q, nil
}

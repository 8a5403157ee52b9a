package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
)

// vimPrefix is Tacker's NFVO API, where the Tacker CLI's `openstack vim`
// commands go. The client appends ".json" to every path.
const vimPrefix = "/v1.0"

func (a *API) vimRoutes(r chi.Router) {
	if a.vims == nil {
		return
	}
	r.Route(vimPrefix, func(r chi.Router) {
		r.Use(jsonOnly, legacyErrors)
		for _, p := range []string{"/vims", "/vims.json"} {
			r.Get(p, a.listVims)
			r.Post(p, a.registerVim)
		}
		r.Get("/vims/{id}", a.vimByID(a.showVim))
		r.Put("/vims/{id}", a.vimByID(a.updateVim))
		r.Delete("/vims/{id}", a.vimByID(a.deleteVim))
	})
}

// vimByID strips the ".json" suffix the Tacker client adds.
func (a *API) vimByID(h func(w http.ResponseWriter, r *http.Request, id string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r, strings.TrimSuffix(chi.URLParam(r, "id"), ".json"))
	}
}

// vimBody is Tacker's {"vim": {...}} envelope.
type vimBody struct {
	Vim json.RawMessage `json:"vim"`
}

// vimAttrs are what a client may send: the read-only attributes (id,
// status, times) are refused.
var vimAttrs = map[string]bool{"name": true, "description": true, "type": true, "tenant_id": true, "auth_url": true,
	"vim_project": true, "auth_cred": true, "placement_attr": true, "is_default": true, "extra": true}

// readVim decodes the envelope and reports which attributes were present.
func (a *API) readVim(r *http.Request) (*model.Vim, map[string]bool, error) {
	var env vimBody
	if err := a.readJSON(r, &env, false); err != nil {
		return nil, nil, err
	}
	if len(env.Vim) == 0 || string(env.Vim) == "null" {
		return nil, nil, fmt.Errorf(`%w: the body must be {"vim": {...}}`, lcm.ErrBadRequest)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(env.Vim, &keys); err != nil {
		return nil, nil, fmt.Errorf("%w: vim must be an object: %w", lcm.ErrBadRequest, err)
	}
	present := map[string]bool{}
	for k := range keys {
		if !vimAttrs[k] {
			return nil, nil, fmt.Errorf("%w: unknown or read-only VIM attribute %q", lcm.ErrBadRequest, k)
		}
		present[k] = true
	}
	var in model.Vim
	if err := decodeStrictTypes(env.Vim, &in); err != nil {
		return nil, nil, err
	}
	return &in, present, nil
}

func (a *API) registerVim(w http.ResponseWriter, r *http.Request) {
	in, _, err := a.readVim(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.vims.Register(r.Context(), *in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", a.base(r)+vimPrefix+"/vims/"+v.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"vim": v})
}

func (a *API) showVim(w http.ResponseWriter, r *http.Request, id string) {
	v, err := a.vims.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"vim": fieldsOf(r, v)})
}

// listVims answers Tacker's list, which filters by attribute (?name=x,
// ?id=y, repeated values meaning "any of") and projects with ?fields=.
func (a *API) listVims(w http.ResponseWriter, r *http.Request) {
	list, err := a.vims.List(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	out := make([]any, 0, len(list))
	for i := range list {
		v := &list[i]
		if !matches(q["id"], v.ID) || !matches(q["name"], v.Name) || !matches(q["type"], v.Type) ||
			!matches(q["status"], v.Status) || !matches(q["is_default"], fmt.Sprint(v.IsDefault)) {
			continue
		}
		out = append(out, fieldsOf(r, v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"vims": out})
}

func matches(want []string, got string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if strings.EqualFold(w, got) {
			return true
		}
	}
	return false
}

// fieldsOf projects a VIM to the ?fields= the client asked for.
func fieldsOf(r *http.Request, v *model.Vim) any {
	fields := r.URL.Query()["fields"]
	if len(fields) == 0 {
		return v
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var all map[string]any
	if json.Unmarshal(raw, &all) != nil {
		return v
	}
	out := map[string]any{}
	for _, f := range fields {
		for _, name := range strings.Split(f, ",") {
			if x, ok := all[strings.TrimSpace(name)]; ok {
				out[strings.TrimSpace(name)] = x
			}
		}
	}
	return out
}

func (a *API) updateVim(w http.ResponseWriter, r *http.Request, id string) {
	in, present, err := a.readVim(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.vims.Update(r.Context(), id, *in, present)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"vim": v})
}

func (a *API) deleteVim(w http.ResponseWriter, r *http.Request, id string) {
	if err := a.vims.Delete(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// legacyErrors marks requests whose error bodies also carry Tacker's
// {"TackerError": {...}}, which the Tacker CLI prints for its NFVO API.
func legacyErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&legacyWriter{ResponseWriter: w}, r)
	})
}

type legacyWriter struct{ http.ResponseWriter }

// legacyProblem is ProblemDetails plus Tacker's error object.
type legacyProblem struct {
	model.ProblemDetails
	TackerError struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Detail  string `json:"detail"`
	} `json:"TackerError"`
}

package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/notify"
	"github.com/vnfm-project/vnfm/internal/query"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/openapi"
)

// problem writes a ProblemDetails response.
func problem(w http.ResponseWriter, status int, title, detail string) {
	pd := model.ProblemDetails{Status: status, Title: title, Detail: detail}
	var body any = pd
	if _, ok := w.(*legacyWriter); ok {
		lp := legacyProblem{ProblemDetails: pd}
		lp.TackerError.Type = strings.ReplaceAll(title, " ", "")
		lp.TackerError.Message = detail
		body = lp
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// fail maps an error to its ProblemDetails: the one place that does so.
// Unexpected errors are logged with an id the client sees instead of the
// message (which could hold internals).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		syn     *query.SyntaxError
		unknown *query.UnknownAttributeError
		media   *openapi.UnsupportedMediaTypeError
		tooBig  *http.MaxBytesError
	)
	// The error kinds are sentinels wrapped as "kind: detail"; the title
	// says the kind, so the detail drops it.
	detail := func(kinds ...error) string {
		msg := err.Error()
		for _, k := range kinds {
			msg = strings.TrimPrefix(msg, k.Error()+": ")
		}
		return msg
	}
	switch {
	case errors.Is(err, lcm.ErrBadRequest), errors.As(err, &syn), errors.As(err, &unknown):
		problem(w, http.StatusBadRequest, "Bad Request", detail(lcm.ErrBadRequest))
	case errors.Is(err, notify.ErrInvalid):
		problem(w, http.StatusBadRequest, "Bad Request", detail(notify.ErrInvalid))
	case errors.Is(err, notify.ErrCallback):
		problem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", detail(notify.ErrCallback))
	case errors.As(err, &media), errors.Is(err, errUnsupportedMedia):
		problem(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", detail(errUnsupportedMedia))
	case errors.As(err, &tooBig):
		problem(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit))
	case errors.Is(err, lcm.ErrNotFound), errors.Is(err, store.ErrNotFound):
		problem(w, http.StatusNotFound, "Not Found", detail(lcm.ErrNotFound))
	case errors.Is(err, lcm.ErrNotAcceptable):
		problem(w, http.StatusNotAcceptable, "Not Acceptable", detail(lcm.ErrNotAcceptable))
	case errors.Is(err, lcm.ErrStateConflict), errors.Is(err, store.ErrOpInProgress):
		problem(w, http.StatusConflict, "Conflict", detail(lcm.ErrStateConflict))
	case errors.Is(err, lcm.ErrPrecondition):
		problem(w, http.StatusPreconditionFailed, "Precondition Failed", detail(lcm.ErrPrecondition))
	case errors.Is(err, store.ErrConflict):
		problem(w, http.StatusConflict, "Conflict", "the resource was modified concurrently; read it again and retry")
	case errors.Is(err, lcm.ErrUnprocessable):
		problem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", detail(lcm.ErrUnprocessable))
	default:
		id := uuid.NewString()
		a.log.ErrorContext(r.Context(), "request failed", "error_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		problem(w, http.StatusInternalServerError, "Internal Server Error", "internal error "+id+"; see the vnfm log")
	}
}

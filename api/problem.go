package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/query"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/openapi"
)

// problem writes a ProblemDetails response.
func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(model.ProblemDetails{Status: status, Title: title, Detail: detail})
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
	switch {
	case errors.Is(err, lcm.ErrBadRequest), errors.As(err, &syn), errors.As(err, &unknown):
		problem(w, http.StatusBadRequest, "Bad Request", err.Error())
	case errors.As(err, &media), errors.Is(err, errUnsupportedMedia):
		problem(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", err.Error())
	case errors.As(err, &tooBig):
		problem(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large", err.Error())
	case errors.Is(err, lcm.ErrNotFound), errors.Is(err, store.ErrNotFound):
		problem(w, http.StatusNotFound, "Not Found", err.Error())
	case errors.Is(err, lcm.ErrNotAcceptable):
		problem(w, http.StatusNotAcceptable, "Not Acceptable", err.Error())
	case errors.Is(err, lcm.ErrStateConflict), errors.Is(err, store.ErrOpInProgress):
		problem(w, http.StatusConflict, "Conflict", err.Error())
	case errors.Is(err, lcm.ErrPrecondition):
		problem(w, http.StatusPreconditionFailed, "Precondition Failed", err.Error())
	case errors.Is(err, store.ErrConflict):
		problem(w, http.StatusConflict, "Conflict", "the resource was modified concurrently; read it again and retry")
	case errors.Is(err, lcm.ErrUnprocessable):
		problem(w, http.StatusUnprocessableEntity, "Unprocessable Entity", err.Error())
	default:
		id := uuid.NewString()
		a.log.ErrorContext(r.Context(), "request failed", "error_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		problem(w, http.StatusInternalServerError, "Internal Server Error", "internal error "+id+"; see the vnfm log")
	}
}

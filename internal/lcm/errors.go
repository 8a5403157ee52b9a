package lcm

import "errors"

// Error kinds the API maps to HTTP status codes (api.problemFor). Errors are
// wrapped with a detail for the client: fmt.Errorf("%w: ...", ErrX).
var (
	ErrBadRequest    = errors.New("bad request")          // 400
	ErrNotFound      = errors.New("not found")            // 404
	ErrNotAcceptable = errors.New("not acceptable")       // 406
	ErrStateConflict = errors.New("state conflict")       // 409
	ErrPrecondition  = errors.New("precondition failed")  // 412
	ErrUnprocessable = errors.New("unprocessable entity") // 422
)

package helm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/remote"
)

// titleInvalid is the ProblemDetails title of a request the driver refuses.
const titleInvalid = "Invalid request for the Helm driver"

func unprocessable(msg string, err error) error {
	if err != nil {
		err = fmt.Errorf("%s: %w", msg, err)
	} else {
		err = errors.New(msg)
	}
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: titleInvalid, Err: err}
}

func conflict(msg string) error {
	return &driver.ProblemError{Status: http.StatusConflict, Title: "Helm release conflict", Err: errors.New(msg)}
}

// classify turns an error of the Helm SDK, the helm CLI over SSH or
// client-go into what the conductor acts on: TransientError for what a
// retry can fix, ProblemError for what the operator must fix, ctx errors
// unchanged. The chain is kept.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *driver.ProblemError
	var te *driver.TransientError
	if errors.As(err, &pe) || errors.As(err, &te) {
		return err
	}
	e := fmt.Errorf("%s: %w", what, err)
	if errors.Is(err, context.Canceled) {
		return e
	}
	// Helm's wait ends with the context's deadline or wait's timeout: the
	// workloads did not become ready in time.
	if errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err) {
		return &driver.ProblemError{Status: http.StatusGatewayTimeout, Title: "Helm release not ready in time", Err: e}
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		code := int(st.Status().Code)
		switch {
		case apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
			apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || code >= 500:
			return driver.Transient(e)
		case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
			return &driver.ProblemError{Status: http.StatusInternalServerError, Title: "Kubernetes refused the request", Err: e}
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
			return &driver.ProblemError{Status: http.StatusConflict, Title: "Kubernetes reported a conflict", Err: e}
		case code >= 400:
			return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "Kubernetes rejected the release", Err: e}
		}
		return e
	}
	var ce *remote.CommandError
	if errors.As(err, &ce) {
		return &driver.ProblemError{Status: http.StatusInternalServerError, Title: "helm failed on the master node", Err: e}
	}
	if errors.Is(err, remote.ErrAuth) || errors.Is(err, remote.ErrHostKeyMismatch) {
		return &driver.ProblemError{Status: http.StatusInternalServerError, Title: "SSH to the master node refused", Err: e}
	}
	if isNetworkError(err) {
		return driver.Transient(e)
	}
	return e
}

func isNetworkError(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

var errNoRelease = errors.New("the VNF instance has no Helm release recorded")

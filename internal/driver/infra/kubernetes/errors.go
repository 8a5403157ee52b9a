package kubernetes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/vnfm-project/vnfm/internal/driver"
)

const titleRefused = "Kubernetes refused the request"

// titleInvalid is the ProblemDetails title of a request the driver refuses.
const titleInvalid = "Invalid request for the Kubernetes driver"

func unprocessable(msg string, err error) error {
	if err != nil {
		err = fmt.Errorf("%s: %w", msg, err)
	} else {
		err = errors.New(msg)
	}
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: titleInvalid, Err: err}
}

// classify turns a client-go or network error into what the conductor acts
// on: TransientError for what a retry can fix (5xx, 429, timeouts, a
// connection lost), ProblemError for what the operator must fix,
// cancellation unchanged. The chain is kept, so apierrors.IsNotFound and the like
// still work on the result.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// Most likely the per-request timeout (rest.Config.Timeout); when
		// the step's own context ended, the conductor sees that first.
		return driver.Transient(fmt.Errorf("%s: %w", what, err))
	}
	var pe *driver.ProblemError
	var te *driver.TransientError
	if errors.As(err, &pe) || errors.As(err, &te) {
		return err
	}
	if meta.IsNoMatchError(err) {
		return unprocessable(what+": the cluster does not serve this kind", err)
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		e := fmt.Errorf("%s: %w", what, err)
		code := int(st.Status().Code)
		switch {
		case apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
			apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || code >= 500:
			after := 0
			if s, ok := apierrors.SuggestsClientDelay(err); ok {
				after = s
			}
			return &driver.TransientError{Err: e, After: time.Duration(after) * time.Second}
		case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
			return &driver.ProblemError{Status: http.StatusInternalServerError, Title: titleRefused, Err: e}
		case apierrors.IsNotFound(err):
			return &driver.ProblemError{Status: http.StatusNotFound, Title: "Kubernetes resource not found", Err: e}
		case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
			return &driver.ProblemError{Status: http.StatusConflict, Title: "Kubernetes reported a conflict", Err: e}
		case code >= 400:
			return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "Kubernetes rejected the request", Err: e}
		}
		return e
	}
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var cvErr *tls.CertificateVerificationError
	if errors.As(err, &uaErr) || errors.As(err, &hostErr) || errors.As(err, &cvErr) {
		return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "Kubernetes TLS verification failed",
			Err: fmt.Errorf("%s: %w (check interfaceInfo.ssl_ca_cert)", what, err)}
	}
	if isNetworkError(err) {
		return driver.Transient(fmt.Errorf("%s: %w", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// within prefixes err's message with where it happened, keeping its
// class: a ProblemError stays one, with the prefix in its own message
// (which is what the op occ shows).
func within(where string, err error) error {
	var pe *driver.ProblemError
	if errors.As(err, &pe) {
		return &driver.ProblemError{Status: pe.Status, Title: pe.Title, Err: fmt.Errorf("%s: %w", where, pe.Err)}
	}
	var te *driver.TransientError
	if errors.As(err, &te) {
		return &driver.TransientError{Err: fmt.Errorf("%s: %w", where, te.Err), After: te.After}
	}
	return fmt.Errorf("%s: %w", where, err)
}

func isNetworkError(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// redacted is an API error about a Secret, without the server's message:
// a validation message may quote what the Secret holds.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// redact keeps of an API error on a Secret its code, reason and the
// fields it names.
func redact(err error) error {
	var st apierrors.APIStatus
	if err == nil || !errors.As(err, &st) {
		return err
	}
	s := st.Status()
	msg := fmt.Sprintf("HTTP %d %s", s.Code, s.Reason)
	if s.Details != nil {
		var fields []string
		for _, c := range s.Details.Causes {
			if c.Field != "" {
				fields = append(fields, fmt.Sprintf("%s (%s)", c.Field, c.Type))
			}
		}
		if len(fields) > 0 {
			msg += ": " + strings.Join(fields, ", ")
		}
	}
	return &redacted{msg: msg + " (message withheld: the object is a Secret)", err: err}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

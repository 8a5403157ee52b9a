package openstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/vnfm-project/vnfm/internal/driver"
)

const titleRefused = "OpenStack refused the request"

// apiError is an OpenStack API failure with a short message (the service's
// own explanation rather than gophercloud's whole response dump); it still
// unwraps to the gophercloud error.
type apiError struct {
	msg string
	err error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// classify turns a gophercloud or network error into what the conductor
// acts on: TransientError for what a retry can fix, ProblemError for what
// the operator must fix, ctx errors unchanged.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var pe *driver.ProblemError
	var te *driver.TransientError
	if errors.As(err, &pe) || errors.As(err, &te) {
		return err
	}
	var reauth *gophercloud.ErrUnableToReauthenticate
	var reauthV gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &reauth) || errors.As(err, &reauthV) {
		return &driver.ProblemError{Status: http.StatusInternalServerError, Title: titleRefused,
			Err: fmt.Errorf("%s: the token expired and Keystone refused to issue a new one: %w", what, errors.New(shortReauth(err)))}
	}
	var ue gophercloud.ErrUnexpectedResponseCode
	var uep *gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &uep) {
		ue = *uep
	}
	if uep != nil || errors.As(err, &ue) {
		return classifyHTTP(what, ue, err)
	}
	var enf *gophercloud.ErrEndpointNotFound
	var enfV gophercloud.ErrEndpointNotFound
	if errors.As(err, &enf) || errors.As(err, &enfV) {
		return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "OpenStack service not found",
			Err: fmt.Errorf("%s: no endpoint in the Keystone catalog for the VIM's region/interface", what)}
	}
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var cvErr *tls.CertificateVerificationError
	if errors.As(err, &uaErr) || errors.As(err, &hostErr) || errors.As(err, &cvErr) {
		return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "OpenStack TLS verification failed",
			Err: fmt.Errorf("%s: %w (check interfaceInfo.ssl_ca_cert)", what, err)}
	}
	if isNetworkError(err) {
		return driver.Transient(fmt.Errorf("%s: %w", what, err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

func classifyHTTP(what string, ue gophercloud.ErrUnexpectedResponseCode, err error) error {
	path := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil {
		path = u.Path // no query: it may carry filters, never needed in messages
	}
	msg := fmt.Sprintf("%s: %s %s: HTTP %d", what, ue.Method, path, ue.Actual)
	if m := serviceMessage(ue.Body); m != "" {
		msg += ": " + m
	}
	e := &apiError{msg: msg, err: err}
	code := ue.Actual
	lower := strings.ToLower(string(ue.Body))
	switch {
	case code >= 500 || code == http.StatusTooManyRequests || code == 498:
		return &driver.TransientError{Err: e, After: retryAfter(ue.ResponseHeader)}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		if strings.Contains(lower, "quota") {
			return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "OpenStack quota exceeded", Err: e}
		}
		return &driver.ProblemError{Status: http.StatusInternalServerError, Title: titleRefused, Err: e}
	case code == http.StatusRequestEntityTooLarge || strings.Contains(lower, "quota") || strings.Contains(lower, "limit exceeded"):
		return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "OpenStack quota exceeded", Err: e}
	case code == http.StatusNotFound:
		return &driver.ProblemError{Status: http.StatusNotFound, Title: "OpenStack resource not found", Err: e}
	case code == http.StatusConflict:
		return &driver.ProblemError{Status: http.StatusConflict, Title: "OpenStack reported a conflict", Err: e}
	case code >= 400:
		return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "OpenStack rejected the request", Err: e}
	}
	return e
}

// serviceMessage extracts the human part of an OpenStack error body:
// Heat {"error":{"message"}}/"explanation", Keystone {"error":{"message"}},
// Nova {"itemNotFound":{"message"}}, Neutron {"NeutronError":{"message"}}.
func serviceMessage(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		s := strings.TrimSpace(string(body))
		if len(s) > 300 || strings.Contains(s, "<") {
			return ""
		}
		return s
	}
	pick := func(x map[string]any) string {
		for _, k := range []string{"message", "explanation", "faultstring", "title"} {
			if s, ok := x[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	for _, v := range m {
		if inner, ok := v.(map[string]any); ok {
			if s := pick(inner); s != "" {
				return trim(s, 500)
			}
		}
	}
	return trim(pick(m), 500)
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func shortReauth(err error) string {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		if m := serviceMessage(ue.Body); m != "" {
			return fmt.Sprintf("HTTP %d: %s", ue.Actual, m)
		}
		return fmt.Sprintf("HTTP %d", ue.Actual)
	}
	return "re-authentication failed"
}

func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
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

func catalogError(service string, err error) error {
	return &driver.ProblemError{Status: http.StatusUnprocessableEntity, Title: "OpenStack service not found",
		Err: fmt.Errorf("no %s endpoint in the Keystone catalog for the VIM's region/interface: %w", service, err)}
}

// notFound reports whether err is an HTTP 404 from OpenStack.
func notFound(err error) bool {
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return true
	}
	var uep *gophercloud.ErrUnexpectedResponseCode
	return errors.As(err, &uep) && uep.Actual == http.StatusNotFound
}

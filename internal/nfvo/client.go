// Package nfvo is the VNFM side of the SOL003 VNF Lifecycle Operation
// Granting interface: it asks an NFVO for grants.
package nfvo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/model"
)

// APIVersion is the SOL003 v2.6.1 Grant API version sent in the Version
// header.
const APIVersion = "1.2.0"

// grantsPath is where the Grants resource sits below the API root.
const grantsPath = "/grant/v1/grants"

const (
	defaultHTTPTimeout  = 30 * time.Second
	defaultPollInterval = time.Second
	defaultTimeout      = 10 * time.Minute
	maxBody             = 8 << 20
)

// ErrTimeout means the NFVO did not decide an asynchronous grant within
// Config.Timeout. It is not transient: the grant may still be pending and
// requesting again would create a second one.
var ErrTimeout = errors.New("no grant decision from the NFVO in time")

// Config configures a Client.
type Config struct {
	BaseURL      string                            // NFVO API root, e.g. http://nfvo:9890
	Auth         *model.SubscriptionAuthentication // nil = none
	HTTP         *http.Client                      // default: one with a 30 s timeout
	Tokens       *callauth.Tokens                  // optional shared cache
	PollInterval time.Duration                     // default 1 s; a Retry-After header (seconds) wins
	Timeout      time.Duration                     // overall, default 10 min, for asynchronous grants
	Log          *slog.Logger                      // default: discard
}

// Client requests grants from one NFVO. It is safe for concurrent use.
type Client struct {
	grants   *url.URL
	auth     *callauth.Client
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errors.New("nfvo: BaseURL must be an absolute http or https URL")
	}
	if u.User != nil {
		return nil, errors.New("nfvo: BaseURL must not contain user information; use Auth")
	}
	u.RawQuery, u.Fragment = "", ""
	u = u.JoinPath(grantsPath)

	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	tokens := cfg.Tokens
	if tokens == nil {
		tokens = callauth.NewTokens(hc, nil)
	}
	auth, err := tokens.Client(hc, cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("nfvo: %w", err)
	}
	c := &Client{grants: u, auth: auth, interval: cfg.PollInterval, timeout: cfg.Timeout, log: cfg.Log}
	if c.interval <= 0 {
		c.interval = defaultPollInterval
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Rejected is the NFVO's refusal of a grant (403 Forbidden).
type Rejected struct {
	Status int
	Detail string
}

func (e *Rejected) Error() string { return "the NFVO rejected the grant: " + e.Detail }

// transientError is a failure worth retrying later: 5xx, 429 or network.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// IsTransient reports whether err is a failure that may go away when the
// grant is requested again later: a 5xx or 429 answer or a network error.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// Grant requests a grant and waits for the decision: directly (201) or by
// polling the individual grant (202 + Location) until Config.Timeout.
func (c *Client) Grant(ctx context.Context, req *model.GrantRequest) (*model.Grant, error) {
	if req == nil {
		return nil, errors.New("nfvo: nil grant request")
	}
	start := time.Now()
	g, err := c.grant(ctx, req)
	c.logOutcome(ctx, req, g, err, time.Since(start))
	return g, err
}

func (c *Client) logOutcome(ctx context.Context, req *model.GrantRequest, g *model.Grant, err error, d time.Duration) {
	attrs := []slog.Attr{
		slog.String("vnf_lcm_op_occ_id", req.VnfLcmOpOccID),
		slog.String("operation", string(req.Operation)),
		slog.Duration("duration", d),
	}
	var rej *Rejected
	switch {
	case err == nil:
		attrs = append(attrs, slog.String("outcome", "granted"), slog.String("grant_id", g.ID))
	case errors.As(err, &rej):
		attrs = append(attrs, slog.String("outcome", "rejected"), slog.String("detail", rej.Detail))
	case errors.Is(err, ErrTimeout):
		attrs = append(attrs, slog.String("outcome", "timeout"), slog.String("error", err.Error()))
	default:
		attrs = append(attrs, slog.String("outcome", "failed"), slog.Bool("transient", IsTransient(err)),
			slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "grant", attrs...)
}

func (c *Client) grant(ctx context.Context, req *model.GrantRequest) (*model.Grant, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("nfvo: encoding the grant request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.grants.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("nfvo: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.send(ctx, parent, hreq)
	if err != nil {
		return nil, fmt.Errorf("nfvo: requesting a grant: %w", err)
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
		return c.decode(resp, req)
	case http.StatusAccepted:
		loc, err := c.location(resp)
		if err != nil {
			return nil, err
		}
		return c.poll(ctx, parent, loc, retryAfter(resp, c.interval), req)
	default:
		return nil, answerError("requesting a grant", resp)
	}
}

// send sends r with credentials and classifies failures to get an answer.
func (c *Client) send(ctx, parent context.Context, r *http.Request) (*http.Response, error) {
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Version", APIVersion)
	resp, err := c.auth.Do(ctx, r)
	if err == nil {
		return resp, nil
	}
	var te *callauth.TokenError
	switch {
	case parent.Err() != nil:
		return nil, err // the caller gave up: not ours to retry
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w within %s: %w", ErrTimeout, c.timeout, err)
	case errors.As(err, &te):
		// A refused client stays refused; a failing token server may recover.
		if te.Status >= 500 || te.Status == http.StatusTooManyRequests {
			return nil, &transientError{err}
		}
		return nil, err
	default:
		return nil, &transientError{err}
	}
}

// location returns the individual grant to poll. It must be on the NFVO's
// origin: the poll carries the NFVO credentials.
func (c *Client) location(resp *http.Response) (*url.URL, error) {
	h := resp.Header.Get("Location")
	if h == "" {
		return nil, errors.New("nfvo: the NFVO answered 202 without a Location")
	}
	loc, err := resp.Request.URL.Parse(h)
	if err != nil {
		return nil, fmt.Errorf("nfvo: the NFVO answered 202 with an unusable Location: %w", err)
	}
	if loc.Scheme != c.grants.Scheme || loc.Host != c.grants.Host {
		return nil, fmt.Errorf("nfvo: the NFVO answered 202 with a Location on another origin (%s://%s)", loc.Scheme, loc.Host)
	}
	return loc, nil
}

// poll reads the individual grant until it is decided. Transient failures
// do not end the wait: the grant still exists at the NFVO.
func (c *Client) poll(ctx, parent context.Context, loc *url.URL, wait time.Duration, req *model.GrantRequest) (*model.Grant, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			if parent.Err() != nil {
				return nil, fmt.Errorf("nfvo: waiting for the grant decision: %w", parent.Err())
			}
			if last != nil {
				return nil, fmt.Errorf("nfvo: %w within %s (last poll: %w)", ErrTimeout, c.timeout, last)
			}
			return nil, fmt.Errorf("nfvo: %w within %s", ErrTimeout, c.timeout)
		}

		g, next, err := c.pollOnce(ctx, parent, loc, req)
		switch {
		case err == nil && g != nil:
			return g, nil
		case err != nil && !IsTransient(err):
			return nil, err
		}
		last = err
		c.log.DebugContext(ctx, "grant pending", "vnf_lcm_op_occ_id", req.VnfLcmOpOccID, "error", err)
		timer.Reset(next)
	}
}

// pollOnce reads the individual grant once. A nil grant and nil error mean
// still pending; next is when to ask again.
func (c *Client) pollOnce(ctx, parent context.Context, loc *url.URL, req *model.GrantRequest) (*model.Grant, time.Duration, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("nfvo: %w", err)
	}
	resp, err := c.send(ctx, parent, hreq)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return nil, 0, fmt.Errorf("nfvo: %w", err)
		}
		return nil, c.interval, fmt.Errorf("nfvo: reading the grant: %w", err)
	}
	defer resp.Body.Close()
	next := retryAfter(resp, c.interval)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
		g, err := c.decode(resp, req)
		return g, 0, err
	case http.StatusAccepted:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return nil, next, nil
	default:
		return nil, next, answerError("reading the grant", resp)
	}
}

func (c *Client) decode(resp *http.Response, req *model.GrantRequest) (*model.Grant, error) {
	var g model.Grant
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&g); err != nil {
		return nil, fmt.Errorf("nfvo: decoding the grant: %w", err)
	}
	if g.VnfLcmOpOccID != req.VnfLcmOpOccID {
		return nil, fmt.Errorf("nfvo: grant %s is for vnfLcmOpOccId %q, not %q", g.ID, g.VnfLcmOpOccID, req.VnfLcmOpOccID)
	}
	return &g, nil
}

// answerError turns an unwanted answer into an error: *Rejected for 403,
// transient for 5xx and 429, plain otherwise.
func answerError(what string, resp *http.Response) error {
	detail := problemDetail(resp)
	if resp.StatusCode == http.StatusForbidden {
		return &Rejected{Status: resp.StatusCode, Detail: detail}
	}
	err := fmt.Errorf("nfvo: %s: the NFVO answered %d: %s", what, resp.StatusCode, detail)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return &transientError{err}
	}
	return err
}

// problemDetail reads a ProblemDetails body's detail (or title), falling
// back to the status text.
func problemDetail(resp *http.Response) string {
	var p model.ProblemDetails
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if json.Unmarshal(b, &p) == nil {
		if d := strings.TrimSpace(p.Detail); d != "" {
			return d
		}
		if t := strings.TrimSpace(p.Title); t != "" {
			return t
		}
	}
	if t := http.StatusText(resp.StatusCode); t != "" {
		return t
	}
	return "status " + strconv.Itoa(resp.StatusCode)
}

// retryAfter reads Retry-After (delay-seconds or an HTTP date), else def.
func retryAfter(resp *http.Response, def time.Duration) time.Duration {
	h := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if h == "" {
		return def
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, time.Until(t))
	}
	return def
}

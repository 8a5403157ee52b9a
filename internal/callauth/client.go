package callauth

import (
	"context"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/vnfm-project/vnfm/internal/model"
)

// Client adds one peer's credentials to requests.
type Client struct {
	hc     *http.Client
	tokens *Tokens
	scheme string // "", model.AuthBasic or model.AuthOAuth2

	basic model.BasicAuthParams
	oauth model.OAuth2ClientCredentials
	key   tokenKey
}

// Client returns a Client that sends requests through hc (nil: a client
// with a 30 s timeout) with the credentials in a; nil a means none. a must
// pass Validate. When several authTypes are listed, OAUTH2_CLIENT_CREDENTIALS
// is preferred, then BASIC. A nil t gets a private cache.
func (t *Tokens) Client(hc *http.Client, a *model.SubscriptionAuthentication) (*Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{hc: hc}
	if a == nil {
		return c, nil
	}
	if err := Validate(a); err != nil {
		return nil, err
	}
	switch {
	case slices.Contains(a.AuthType, model.AuthOAuth2):
		if t == nil {
			t = NewTokens(hc, nil)
		}
		c.scheme, c.tokens = model.AuthOAuth2, t
		// Copies, so that later changes to a do not leak into a cached key.
		c.oauth = *a.ParamsOauth2ClientCredentials
		c.key = keyOf(&c.oauth)
	case slices.Contains(a.AuthType, model.AuthBasic):
		c.scheme = model.AuthBasic
		c.basic = *a.ParamsBasic
	}
	return c, nil
}

// Do sends req with the credentials, under ctx. As with http.Client.Do,
// req.Body is always closed. With OAuth 2.0, a 401 answer drops the token
// and the request is sent once more with a fresh one, provided its body can
// be replayed (req.GetBody, or no body); otherwise the 401 is returned.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	switch c.scheme {
	case model.AuthBasic:
		r := req.Clone(ctx)
		r.SetBasicAuth(c.basic.UserName, c.basic.Password)
		return c.hc.Do(r)
	case model.AuthOAuth2:
		return c.doOAuth2(ctx, req)
	default:
		return c.hc.Do(req.Clone(ctx))
	}
}

func (c *Client) doOAuth2(ctx context.Context, req *http.Request) (*http.Response, error) {
	tok, err := c.tokens.token(ctx, c.key, c.oauth)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(ctx)
	r.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.hc.Do(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}

	// The token may have been revoked or expired early: retry once.
	var body io.ReadCloser
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil // cannot replay: the 401 is the answer
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	c.tokens.invalidate(c.key, tok)
	if tok, err = c.tokens.token(ctx, c.key, c.oauth); err != nil {
		if body != nil {
			body.Close()
		}
		return nil, err // says why no fresh token came, which a bare 401 would not
	}

	r = req.Clone(ctx)
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+tok)
	return c.hc.Do(r)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

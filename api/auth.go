package api

import (
	"context"
	"log/slog"

	"github.com/go-chi/chi/v5"

	"github.com/vnfm-project/vnfm/internal/auth"
)

// authRoutes serves the OAuth 2.0 token endpoint when vnfm issues tokens.
// Authentication itself is a middleware (Config.Middleware).
func (a *API) authRoutes(r chi.Router) {
	if a.token != nil {
		r.Method("POST", auth.TokenPath, a.token)
	}
}

// principalAttr names the authenticated client in the access log; an
// empty attribute (left out of the line) when there is none.
func principalAttr(ctx context.Context) slog.Attr {
	if p := auth.LoggedPrincipal(ctx); p != "" {
		return slog.String("principal", p)
	}
	return slog.Attr{}
}

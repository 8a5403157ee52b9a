package api

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/go-chi/chi/v5"

	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/notify"
	"github.com/vnfm-project/vnfm/internal/query"
	"github.com/vnfm-project/vnfm/internal/store"
)

var subscriptionAttrs = query.AttrsOf(reflect.TypeOf(model.LccnSubscription{}))

func (a *API) subscriptionRoutes(r chi.Router) {
	r.Get("/subscriptions", a.listSubscriptions)
	r.Post("/subscriptions", a.createSubscription)
	r.Route("/subscriptions/{id}", func(r chi.Router) {
		r.Get("/", a.getSubscription)
		r.Delete("/", a.deleteSubscription)
	})
}

func (a *API) subscriptionView(r *http.Request, s *store.Subscription) *model.LccnSubscription {
	v := s.LccnSubscription
	v.Links = model.SubscriptionLinks{Self: model.Link{Href: a.base(r) + prefix + "/subscriptions/" + v.ID}}
	return &v
}

// createSubscription answers 201 with the new subscription, or 303 See
// Other to an existing one with the same callback and filter (SOL003
// §5.4.18.3.1).
func (a *API) createSubscription(w http.ResponseWriter, r *http.Request) {
	var req notify.SubscriptionRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	sub, existing, err := a.subs.Create(r.Context(), &req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v := a.subscriptionView(r, sub)
	w.Header().Set("Location", v.Links.Self.Href)
	if existing {
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	writeJSON(w, http.StatusCreated, v)
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request) {
	sub, err := a.subs.Get(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, subscriptionNotFound(err, chi.URLParam(r, "id")))
		return
	}
	writeJSON(w, http.StatusOK, a.subscriptionView(r, sub))
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	if err := a.subs.Delete(r.Context(), chi.URLParam(r, "id")); err != nil {
		a.fail(w, r, subscriptionNotFound(err, chi.URLParam(r, "id")))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	serveList(a, w, r, listSpec[store.Subscription]{
		attrs:   subscriptionAttrs,
		indexed: store.SubscriptionAttrs,
		fetch: func(r *http.Request, opts store.ListOptions) ([]store.Subscription, error) {
			return a.subs.List(r.Context(), opts)
		},
		seq:  func(s *store.Subscription) int64 { return s.Seq },
		view: func(r *http.Request, s *store.Subscription) any { return a.subscriptionView(r, s) },
	})
}

func subscriptionNotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: subscription %s does not exist", lcm.ErrNotFound, id)
	}
	return err
}

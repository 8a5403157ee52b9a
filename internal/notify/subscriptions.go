package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
)

var (
	// ErrInvalid: the request is malformed (400).
	ErrInvalid = errors.New("invalid subscription request")
	// ErrCallback: the callback URI did not pass the test GET (422).
	ErrCallback = errors.New("callback URI check failed")
)

// Sealer seals and opens write-only values (*secret.Box).
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// SubscriptionRequest is LccnSubscriptionRequest.
type SubscriptionRequest struct {
	Filter         *model.LifecycleChangeNotificationsFilter `json:"filter,omitempty"`
	CallbackURI    string                                    `json:"callbackUri"`
	Authentication *model.SubscriptionAuthentication         `json:"authentication,omitempty"`
}

// SubscriptionsConfig configures Subscriptions.
type SubscriptionsConfig struct {
	Store  store.Store
	Box    Sealer
	Tokens *callauth.Tokens
	// HTTP carries the callback test GET; bounded by TestTimeout.
	HTTP        *http.Client
	TestTimeout time.Duration
	// AllowDuplicates creates a second subscription with the same callback
	// and filter instead of pointing to the first (303).
	AllowDuplicates bool
	Log             *slog.Logger
	NewID           func() string
}

// Subscriptions manages LCM notification subscriptions.
type Subscriptions struct{ cfg SubscriptionsConfig }

// NewSubscriptions makes the service.
func NewSubscriptions(cfg SubscriptionsConfig) *Subscriptions {
	if cfg.NewID == nil {
		cfg.NewID = uuid.NewString
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.TestTimeout <= 0 {
		cfg.TestTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Subscriptions{cfg: cfg}
}

// Create checks the request, tests the callback and stores the
// subscription. For a duplicate (same callback and filter) it returns the
// existing one and existing=true, unless duplicates are allowed.
func (s *Subscriptions) Create(ctx context.Context, req *SubscriptionRequest) (sub *store.Subscription, existing bool, err error) {
	if err := validate(req); err != nil {
		return nil, false, err
	}
	key := dupKey(req)
	if !s.cfg.AllowDuplicates {
		dups, err := s.cfg.Store.SubscriptionsByKey(ctx, key)
		if err != nil {
			return nil, false, fmt.Errorf("look up duplicates: %w", err)
		}
		if len(dups) > 0 {
			return &dups[0], true, nil
		}
	}
	if err := s.testCallback(ctx, req); err != nil {
		return nil, false, err
	}
	sub = &store.Subscription{
		LccnSubscription: model.LccnSubscription{ID: s.cfg.NewID(), Filter: req.Filter, CallbackURI: req.CallbackURI},
		Key:              key,
	}
	if req.Authentication != nil {
		raw, err := json.Marshal(req.Authentication)
		if err != nil {
			return nil, false, fmt.Errorf("marshal authentication: %w", err)
		}
		if sub.Sealed, err = s.cfg.Box.Seal(raw); err != nil {
			return nil, false, fmt.Errorf("seal authentication: %w", err)
		}
	}
	if err := s.cfg.Store.CreateSubscription(ctx, sub); err != nil {
		return nil, false, fmt.Errorf("store subscription: %w", err)
	}
	s.cfg.Log.Info("subscription created", "subscription_id", sub.ID, "callback", secret.RedactURL(req.CallbackURI))
	return sub, false, nil
}

// Get reads one subscription.
func (s *Subscriptions) Get(ctx context.Context, id string) (*store.Subscription, error) {
	return s.cfg.Store.GetSubscription(ctx, id)
}

// List reads a page of subscriptions.
func (s *Subscriptions) List(ctx context.Context, opts store.ListOptions) ([]store.Subscription, error) {
	return s.cfg.Store.ListSubscriptions(ctx, opts)
}

// Delete removes a subscription and its undelivered notifications.
func (s *Subscriptions) Delete(ctx context.Context, id string) error {
	if err := s.cfg.Store.DeleteSubscription(ctx, id); err != nil {
		return err
	}
	s.cfg.Log.Info("subscription deleted", "subscription_id", id)
	return nil
}

// testCallback GETs the callback with the subscription's credentials; SOL003
// §5.4.20.3.2 requires 204 No Content.
func (s *Subscriptions) testCallback(ctx context.Context, req *SubscriptionRequest) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.TestTimeout)
	defer cancel()
	c, err := s.cfg.Tokens.Client(s.cfg.HTTP, req.Authentication)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, req.CallbackURI, nil)
	if err != nil {
		return fmt.Errorf("%w: callbackUri: %w", ErrInvalid, err)
	}
	hr.Header.Set("Version", APIVersion)
	resp, err := c.Do(ctx, hr)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrCallback, secret.RedactURL(req.CallbackURI), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%w: GET %s answered %d; the notification endpoint must answer 204 No Content", ErrCallback, secret.RedactURL(req.CallbackURI), resp.StatusCode)
	}
	return nil
}

var (
	notificationTypes = []string{model.NotifOpOcc, model.NotifIdentifierCreation, model.NotifIdentifierDeletion}
	operations        = []model.Operation{model.OpInstantiate, model.OpScale, model.OpScaleToLevel, model.OpChangeFlavour,
		model.OpTerminate, model.OpHeal, model.OpOperate, model.OpChangeExtConn, model.OpModifyInfo}
	states = []model.OperationState{model.Starting, model.Processing, model.Completed, model.FailedTemp,
		model.Failed, model.RollingBack, model.RolledBack}
)

func validate(req *SubscriptionRequest) error {
	u, err := url.Parse(req.CallbackURI)
	if req.CallbackURI == "" {
		return fmt.Errorf("%w: callbackUri is required", ErrInvalid)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: callbackUri must be an absolute http or https URI", ErrInvalid)
	}
	if f := req.Filter; f != nil {
		for _, t := range f.NotificationTypes {
			if !slices.Contains(notificationTypes, t) {
				return fmt.Errorf("%w: filter.notificationTypes: unknown type %q", ErrInvalid, t)
			}
		}
		for _, o := range f.OperationTypes {
			if !slices.Contains(operations, o) {
				return fmt.Errorf("%w: filter.operationTypes: unknown operation %q", ErrInvalid, o)
			}
		}
		for _, st := range f.OperationStates {
			if !slices.Contains(states, st) {
				return fmt.Errorf("%w: filter.operationStates: unknown state %q", ErrInvalid, st)
			}
		}
		if v := f.VnfInstanceSubscriptionFilter; v != nil {
			for i, p := range v.VnfProductsFromProviders {
				if p.VnfProvider == "" {
					return fmt.Errorf("%w: filter.vnfInstanceSubscriptionFilter.vnfProductsFromProviders[%d].vnfProvider is required", ErrInvalid, i)
				}
				for j, pr := range p.VnfProducts {
					if pr.VnfProductName == "" {
						return fmt.Errorf("%w: ...vnfProductsFromProviders[%d].vnfProducts[%d].vnfProductName is required", ErrInvalid, i, j)
					}
					for k, v := range pr.Versions {
						if v.VnfSoftwareVersion == "" {
							return fmt.Errorf("%w: ...vnfProducts[%d].versions[%d].vnfSoftwareVersion is required", ErrInvalid, j, k)
						}
					}
				}
			}
		}
	}
	if req.Authentication != nil {
		if err := callauth.Validate(req.Authentication); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return nil
}

// dupKey identifies callback and filter. Filter arrays are sets, so their
// order does not make a subscription different.
func dupKey(req *SubscriptionRequest) string {
	var f model.LifecycleChangeNotificationsFilter
	if req.Filter != nil {
		raw, _ := json.Marshal(req.Filter)
		_ = json.Unmarshal(raw, &f) // a deep copy to sort
	}
	slices.Sort(f.NotificationTypes)
	slices.Sort(f.OperationTypes)
	slices.Sort(f.OperationStates)
	if v := f.VnfInstanceSubscriptionFilter; v != nil {
		slices.Sort(v.VnfdIDs)
		slices.Sort(v.VnfInstanceIDs)
		slices.Sort(v.VnfInstanceNames)
		for i := range v.VnfProductsFromProviders {
			p := &v.VnfProductsFromProviders[i]
			for j := range p.VnfProducts {
				pr := &p.VnfProducts[j]
				for k := range pr.Versions {
					slices.Sort(pr.Versions[k].VnfdVersions)
				}
				sortByJSON(pr.Versions)
			}
			sortByJSON(p.VnfProducts)
		}
		sortByJSON(v.VnfProductsFromProviders)
		if len(v.VnfdIDs)+len(v.VnfInstanceIDs)+len(v.VnfInstanceNames)+len(v.VnfProductsFromProviders) == 0 {
			f.VnfInstanceSubscriptionFilter = nil
		}
	}
	raw, _ := json.Marshal(f)
	sum := sha256.Sum256(append(append([]byte(req.CallbackURI), 0), raw...))
	return hex.EncodeToString(sum[:])
}

// sortByJSON orders s by its elements' JSON (their nested arrays already
// sorted), a total order for struct elements.
func sortByJSON[T any](s []T) {
	slices.SortFunc(s, func(a, b T) int {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return bytes.Compare(ja, jb)
	})
}

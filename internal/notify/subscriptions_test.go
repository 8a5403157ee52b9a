package notify

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/etsischema"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

const (
	basicUser   = "nfvo-user"
	basicPass   = "pw-Zq8!basic secret"
	oauthID     = "vnfm-client"
	oauthSecret = "cs-Kx3#oauth secret"
)

func init() { testsecrets.Register(basicPass, oauthSecret) }

// callback is a notification endpoint that records the requests and
// answers status to all.
type callback struct {
	srv *httptest.Server

	mu     sync.Mutex
	status int
	gets   []*http.Request
	hang   chan struct{} // when set, GETs wait for it (or the client)
}

func newCallback(t *testing.T, status int) *callback {
	c := &callback{status: status}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.gets = append(c.gets, r.Clone(r.Context()))
		status, hang := c.status, c.hang
		c.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callback) requests() []*http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*http.Request(nil), c.gets...)
}

func (c *callback) setStatus(s int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = s
}

type subsEnv struct {
	st   store.Store
	box  Sealer
	subs *Subscriptions
	logs *logBuf
	tok  *tokenServer
	tokS *httptest.Server
}

func newSubsEnv(t *testing.T, st store.Store, dups bool) *subsEnv {
	log, logs := newLog(t)
	e := &subsEnv{st: st, box: newBox(t), logs: logs, tok: newTokenServer(oauthID, oauthSecret)}
	e.tokS = httptest.NewServer(e.tok)
	t.Cleanup(e.tokS.Close)
	hc := &http.Client{Timeout: 10 * time.Second}
	e.subs = NewSubscriptions(SubscriptionsConfig{
		Store: st, Box: e.box, Tokens: callauth.NewTokens(hc, nil), HTTP: hc,
		TestTimeout: 2 * time.Second, AllowDuplicates: dups, Log: log,
	})
	return e
}

func basicAuth() *model.SubscriptionAuthentication {
	return &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthBasic}, ParamsBasic: &model.BasicAuthParams{UserName: basicUser, Password: basicPass},
	}
}

func (e *subsEnv) oauth() *model.SubscriptionAuthentication {
	return &model.SubscriptionAuthentication{
		AuthType: []string{model.AuthOAuth2},
		ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
			ClientID: oauthID, ClientPassword: oauthSecret, TokenEndpoint: e.tokS.URL + "/token",
		},
	}
}

func fullFilter() *model.LifecycleChangeNotificationsFilter {
	return &model.LifecycleChangeNotificationsFilter{
		NotificationTypes: []string{model.NotifOpOcc, model.NotifIdentifierCreation},
		OperationTypes:    []model.Operation{model.OpInstantiate, model.OpTerminate, model.OpScale},
		OperationStates:   []model.OperationState{model.Completed, model.Failed, model.FailedTemp},
		VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{
			VnfdIDs:          []string{"vnfd-b", "vnfd-a"},
			VnfInstanceIDs:   []string{"inst-1", "inst-2"},
			VnfInstanceNames: []string{"fw-east", "fw-west"},
			VnfProductsFromProviders: []model.VnfProductsFromProvider{
				{VnfProvider: "acme", VnfProducts: []model.VnfProduct{
					{VnfProductName: "firewall", Versions: []model.VnfProductVersion{
						{VnfSoftwareVersion: "1.0", VnfdVersions: []string{"1.0", "1.1"}},
						{VnfSoftwareVersion: "2.0"},
					}},
					{VnfProductName: "router"},
				}},
				{VnfProvider: "globex"},
			},
		},
	}
}

// view is the LccnSubscription as the API serves it.
func view(sub *store.Subscription) []byte {
	v := sub.LccnSubscription
	v.Links = model.SubscriptionLinks{Self: model.Link{Href: "http://vnfm.example/vnflcm/v1/subscriptions/" + v.ID}}
	raw, _ := json.Marshal(&v)
	return raw
}

func TestSubscriptionCreate(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			e := newSubsEnv(t, b.open(t), false)
			cb := newCallback(t, http.StatusNoContent)

			// BASIC.
			req := &SubscriptionRequest{Filter: fullFilter(), CallbackURI: cb.srv.URL + "/basic", Authentication: basicAuth()}
			sub, existing, err := e.subs.Create(ctx, req)
			require.NoError(t, err)
			require.False(t, existing)
			require.NotEmpty(t, sub.ID)
			gets := cb.requests()
			require.Len(t, gets, 1, "the callback was tested")
			u, p, ok := gets[0].BasicAuth()
			require.True(t, ok)
			require.Equal(t, basicUser, u)
			require.Equal(t, basicPass, p)
			require.Equal(t, APIVersion, gets[0].Header.Get("Version"))
			require.Equal(t, "/basic", gets[0].URL.Path)

			got, err := e.subs.Get(ctx, sub.ID)
			require.NoError(t, err)
			require.Equal(t, sub.LccnSubscription, got.LccnSubscription)
			require.Equal(t, req.Filter, got.Filter)
			require.Equal(t, req.CallbackURI, got.CallbackURI)
			require.NotEmpty(t, got.Key)
			requireSealed(t, e.box, got.Sealed, req.Authentication, basicPass, basicUser)
			raw := view(got)
			etsischema.Validate(t, "LccnSubscription", raw)
			require.Empty(t, containsAny(string(raw), basicPass, basicUser, "authentication", "paramsBasic"), "%s", raw)

			// OAuth 2.0: the test GET carries a token.
			req2 := &SubscriptionRequest{CallbackURI: cb.srv.URL + "/oauth", Authentication: e.oauth()}
			sub2, existing, err := e.subs.Create(ctx, req2)
			require.NoError(t, err)
			require.False(t, existing)
			gets = cb.requests()
			require.Len(t, gets, 2)
			require.Equal(t, "Bearer token-1", gets[1].Header.Get("Authorization"))
			got2, err := e.subs.Get(ctx, sub2.ID)
			require.NoError(t, err)
			require.Nil(t, got2.Filter)
			requireSealed(t, e.box, got2.Sealed, req2.Authentication, oauthSecret)
			raw = view(got2)
			etsischema.Validate(t, "LccnSubscription", raw)
			require.Empty(t, containsAny(string(raw), oauthSecret, oauthID, "tokenEndpoint"), "%s", raw)

			// No authentication: nothing sealed, no credentials sent.
			sub3, _, err := e.subs.Create(ctx, &SubscriptionRequest{CallbackURI: cb.srv.URL + "/none", Filter: &model.LifecycleChangeNotificationsFilter{}})
			require.NoError(t, err)
			require.Empty(t, cb.requests()[2].Header.Get("Authorization"))
			got3, err := e.subs.Get(ctx, sub3.ID)
			require.NoError(t, err)
			require.Empty(t, got3.Sealed)
			etsischema.Validate(t, "LccnSubscription", view(got3))

			list, err := e.subs.List(ctx, store.ListOptions{})
			require.NoError(t, err)
			var ids []string
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			require.Equal(t, []string{sub.ID, sub2.ID, sub3.ID}, ids)
			_, err = e.subs.Get(ctx, "sub-missing")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}

// requireSealed checks that the sealed authentication opens to want and
// shows none of the secrets.
func requireSealed(t *testing.T, box Opener, sealed []byte, want *model.SubscriptionAuthentication, secrets ...string) {
	t.Helper()
	require.NotEmpty(t, sealed)
	for _, s := range secrets {
		require.NotContains(t, string(sealed), s)
		require.NotContains(t, string(sealed), base64.StdEncoding.EncodeToString([]byte(s)))
	}
	require.NotContains(t, string(sealed), "paramsBasic")
	opened, err := OpenAuth(box, sealed)
	require.NoError(t, err)
	require.Equal(t, want, opened)
}

func TestSubscriptionCallbackCheck(t *testing.T) {
	t.Parallel()
	e := newSubsEnv(t, storetest.SQLite(t), false)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hanging := newCallback(t, http.StatusNoContent)
	hanging.hang = make(chan struct{})
	t.Cleanup(func() { close(hanging.hang) })

	tests := []struct {
		name   string
		status int    // the callback's answer; 0: use uri
		uri    string // when status is 0
		auth   *model.SubscriptionAuthentication
		want   []string
	}{
		{"200", http.StatusOK, "", nil, []string{"answered 200", "204 No Content"}},
		{"201", http.StatusCreated, "", nil, []string{"answered 201"}},
		{"404", http.StatusNotFound, "", nil, []string{"answered 404"}},
		{"500", http.StatusInternalServerError, "", nil, []string{"answered 500"}},
		{"401 with credentials", http.StatusUnauthorized, "", basicAuth(), []string{"answered 401"}},
		{"unreachable", 0, closed.URL + "/cb", nil, []string{"connection refused"}},
		{"unknown host", 0, "http://callback.invalid/cb", nil, []string{"callback.invalid"}},
		{"timeout", 0, hanging.srv.URL + "/cb", nil, []string{"deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			uri := tt.uri
			if tt.status != 0 {
				uri = newCallback(t, tt.status).srv.URL + "/cb"
			}
			sub, _, err := e.subs.Create(t.Context(), &SubscriptionRequest{CallbackURI: uri, Authentication: tt.auth})
			require.ErrorIs(t, err, ErrCallback)
			require.NotErrorIs(t, err, ErrInvalid)
			require.Nil(t, sub)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.Empty(t, containsAny(err.Error(), basicPass))
			list, err := e.st.SubscriptionsByKey(t.Context(), dupKey(&SubscriptionRequest{CallbackURI: uri}))
			require.NoError(t, err)
			require.Empty(t, list, "not stored")
		})
	}
}

func TestSubscriptionInvalid(t *testing.T) {
	t.Parallel()
	e := newSubsEnv(t, storetest.SQLite(t), true)
	cb := newCallback(t, http.StatusNoContent)
	good := cb.srv.URL + "/cb"
	type R = SubscriptionRequest
	type F = model.LifecycleChangeNotificationsFilter
	withAuth := func(f func(a *model.SubscriptionAuthentication)) *R {
		a := &model.SubscriptionAuthentication{
			AuthType:    []string{model.AuthBasic, model.AuthOAuth2},
			ParamsBasic: &model.BasicAuthParams{UserName: basicUser, Password: basicPass},
			ParamsOauth2ClientCredentials: &model.OAuth2ClientCredentials{
				ClientID: oauthID, ClientPassword: oauthSecret, TokenEndpoint: e.tokS.URL + "/token",
			},
		}
		f(a)
		return &R{CallbackURI: good, Authentication: a}
	}
	onProviders := func(p ...model.VnfProductsFromProvider) *R {
		return &R{CallbackURI: good, Filter: &F{VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{VnfProductsFromProviders: p}}}
	}
	tests := []struct {
		name string
		req  *R
		want string
	}{
		{"no callbackUri", &R{}, "callbackUri is required"},
		{"relative callbackUri", &R{CallbackURI: "/notifications"}, "absolute http or https"},
		{"callbackUri without host", &R{CallbackURI: "http:///cb"}, "absolute http or https"},
		{"callbackUri not http", &R{CallbackURI: "ftp://nfvo.example/cb"}, "absolute http or https"},
		{"callbackUri unparsable", &R{CallbackURI: "http://nfvo example/%zz"}, "absolute http or https"},
		{"unknown notificationType", &R{CallbackURI: good, Filter: &F{NotificationTypes: []string{model.NotifOpOcc, "VnfInstanceChangeNotification"}}},
			`notificationTypes: unknown type "VnfInstanceChangeNotification"`},
		{"unknown operation", &R{CallbackURI: good, Filter: &F{OperationTypes: []model.Operation{"REBOOT"}}}, `operationTypes: unknown operation "REBOOT"`},
		{"lower-case operation", &R{CallbackURI: good, Filter: &F{OperationTypes: []model.Operation{"instantiate"}}}, "operationTypes"},
		{"unknown state", &R{CallbackURI: good, Filter: &F{OperationStates: []model.OperationState{model.Completed, "DONE"}}}, `operationStates: unknown state "DONE"`},
		{"provider without name", onProviders(model.VnfProductsFromProvider{VnfProducts: []model.VnfProduct{{VnfProductName: "fw"}}}), "vnfProvider is required"},
		{"product without name", onProviders(model.VnfProductsFromProvider{VnfProvider: "acme", VnfProducts: []model.VnfProduct{{}}}), "vnfProductName is required"},
		{"version without software version", onProviders(model.VnfProductsFromProvider{VnfProvider: "acme", VnfProducts: []model.VnfProduct{
			{VnfProductName: "fw", Versions: []model.VnfProductVersion{{VnfdVersions: []string{"1.0"}}}}}}), "vnfSoftwareVersion is required"},
		{"no authType", withAuth(func(a *model.SubscriptionAuthentication) { a.AuthType = nil }), "authType is required"},
		{"unknown authType", withAuth(func(a *model.SubscriptionAuthentication) { a.AuthType = []string{"KERBEROS"} }), "unknown value"},
		{"TLS_CERT", withAuth(func(a *model.SubscriptionAuthentication) { a.AuthType = []string{model.AuthTLS} }), "not supported"},
		{"BASIC without params", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsBasic = nil }), "paramsBasic is required"},
		{"BASIC without password", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsBasic.Password = "" }), "paramsBasic.password is required"},
		{"BASIC without userName", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsBasic.UserName = "" }), "paramsBasic.userName is required"},
		{"BASIC userName with colon", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsBasic.UserName = "a:b" }), "must not contain ':'"},
		{"OAuth2 without params", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsOauth2ClientCredentials = nil }),
			"paramsOauth2ClientCredentials is required"},
		{"OAuth2 without tokenEndpoint", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsOauth2ClientCredentials.TokenEndpoint = "" }),
			"tokenEndpoint is required"},
		{"OAuth2 relative tokenEndpoint", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsOauth2ClientCredentials.TokenEndpoint = "/token" }),
			"tokenEndpoint must be an absolute"},
		{"OAuth2 tokenEndpoint with user info", withAuth(func(a *model.SubscriptionAuthentication) {
			a.ParamsOauth2ClientCredentials.TokenEndpoint = "https://" + oauthID + ":" + url.PathEscape(oauthSecret) + "@auth.example/token"
		}), "must not contain user information"},
		{"OAuth2 without clientPassword", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsOauth2ClientCredentials.ClientPassword = "" }),
			"clientPassword is required"},
		{"OAuth2 without clientId", withAuth(func(a *model.SubscriptionAuthentication) { a.ParamsOauth2ClientCredentials.ClientID = "" }),
			"clientId is required"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				sub, existing, err := e.subs.Create(t.Context(), tt.req)
				require.ErrorIs(t, err, ErrInvalid)
				require.NotErrorIs(t, err, ErrCallback)
				require.Nil(t, sub)
				require.False(t, existing)
				require.Contains(t, err.Error(), tt.want)
				msg := err.Error()
				require.Empty(t, containsAny(msg, basicPass, oauthSecret, url.PathEscape(oauthSecret), url.QueryEscape(oauthSecret)), "%s", msg)
			})
		}
	})
	require.Empty(t, cb.requests(), "an invalid request is not tested against its callback")
	list, err := e.subs.List(t.Context(), store.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestSubscriptionDuplicates(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			e := newSubsEnv(t, b.open(t), false)
			cb := newCallback(t, http.StatusNoContent)
			uri := cb.srv.URL + "/cb"
			first, existing, err := e.subs.Create(ctx, &SubscriptionRequest{CallbackURI: uri, Filter: fullFilter(), Authentication: basicAuth()})
			require.NoError(t, err)
			require.False(t, existing)
			bare, _, err := e.subs.Create(ctx, &SubscriptionRequest{CallbackURI: uri})
			require.NoError(t, err)
			require.NotEqual(t, first.ID, bare.ID, "another filter")
			gets := len(cb.requests())

			// The arrays of the filter in another order: the flat ones, then
			// also the nested product ones.
			flat := fullFilter()
			reverse(flat.NotificationTypes)
			reverse(flat.OperationTypes)
			reverse(flat.OperationStates)
			reverse(flat.VnfInstanceSubscriptionFilter.VnfdIDs)
			reverse(flat.VnfInstanceSubscriptionFilter.VnfInstanceIDs)
			reverse(flat.VnfInstanceSubscriptionFilter.VnfInstanceNames)
			require.NotEqual(t, fullFilter(), flat)
			shuffled := fullFilter()
			sf := shuffled.VnfInstanceSubscriptionFilter
			reverse(shuffled.NotificationTypes)
			reverse(sf.VnfdIDs)
			reverse(sf.VnfProductsFromProviders)
			for i := range sf.VnfProductsFromProviders {
				p := &sf.VnfProductsFromProviders[i]
				reverse(p.VnfProducts)
				for j := range p.VnfProducts {
					reverse(p.VnfProducts[j].Versions)
					for k := range p.VnfProducts[j].Versions {
						reverse(p.VnfProducts[j].Versions[k].VnfdVersions)
					}
				}
			}
			require.NotEqual(t, fullFilter(), shuffled)

			tests := []struct {
				name string
				req  *SubscriptionRequest
				want *store.Subscription // nil: a new one
			}{
				{"same", &SubscriptionRequest{CallbackURI: uri, Filter: fullFilter(), Authentication: basicAuth()}, first},
				{"other credentials", &SubscriptionRequest{CallbackURI: uri, Filter: fullFilter()}, first},
				{"flat arrays in another order", &SubscriptionRequest{CallbackURI: uri, Filter: flat}, first},
				{"nested arrays in another order", &SubscriptionRequest{CallbackURI: uri, Filter: shuffled}, first},
				{"no filter", &SubscriptionRequest{CallbackURI: uri}, bare},
				{"empty filter", &SubscriptionRequest{CallbackURI: uri, Filter: &model.LifecycleChangeNotificationsFilter{}}, bare},
				{"empty instance filter", &SubscriptionRequest{CallbackURI: uri, Filter: &model.LifecycleChangeNotificationsFilter{
					VnfInstanceSubscriptionFilter: &model.VnfInstanceSubscriptionFilter{}}}, bare},
				{"other callback", &SubscriptionRequest{CallbackURI: uri + "/2", Filter: fullFilter()}, nil},
				{"one state less", &SubscriptionRequest{CallbackURI: uri, Filter: func() *model.LifecycleChangeNotificationsFilter {
					f := fullFilter()
					f.OperationStates = f.OperationStates[1:]
					return f
				}()}, nil},
				{"one vnfd version less", &SubscriptionRequest{CallbackURI: uri, Filter: func() *model.LifecycleChangeNotificationsFilter {
					f := fullFilter()
					v := &f.VnfInstanceSubscriptionFilter.VnfProductsFromProviders[0].VnfProducts[0].Versions[0]
					v.VnfdVersions = v.VnfdVersions[:1]
					return f
				}()}, nil},
			}
			for _, tt := range tests {
				sub, existing, err := e.subs.Create(ctx, tt.req)
				require.NoError(t, err, tt.name)
				if tt.want != nil {
					require.True(t, existing, tt.name)
					require.Equal(t, tt.want.ID, sub.ID, tt.name)
					require.Len(t, cb.requests(), gets, "%s: no callback test for a duplicate", tt.name)
					continue
				}
				require.False(t, existing, tt.name)
				require.NotEqual(t, first.ID, sub.ID, tt.name)
				gets++
				require.Len(t, cb.requests(), gets, tt.name)
			}
			// A duplicate's filter is the first one's, as stored.
			got, err := e.subs.Get(ctx, first.ID)
			require.NoError(t, err)
			require.Equal(t, fullFilter(), got.Filter)
		})
	}
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func TestSubscriptionAllowDuplicates(t *testing.T) {
	t.Parallel()
	e := newSubsEnv(t, storetest.SQLite(t), true)
	cb := newCallback(t, http.StatusNoContent)
	req := &SubscriptionRequest{CallbackURI: cb.srv.URL + "/cb", Filter: fullFilter()}
	seen := map[string]bool{}
	var key string
	for range 3 {
		sub, existing, err := e.subs.Create(t.Context(), req)
		require.NoError(t, err)
		require.False(t, existing)
		require.False(t, seen[sub.ID])
		seen[sub.ID] = true
		if key != "" {
			require.Equal(t, key, sub.Key, "still recognisable as duplicates")
		}
		key = sub.Key
	}
	require.Len(t, cb.requests(), 3, "each tested")
	dups, err := e.st.SubscriptionsByKey(t.Context(), key)
	require.NoError(t, err)
	require.Len(t, dups, 3)
}

func TestSubscriptionDelete(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			raw := b.open(t)
			st := Wrap(raw, Config{})
			e := newSubsEnv(t, st, true)
			cb := newCallback(t, http.StatusNoContent)
			gone, _, err := e.subs.Create(ctx, &SubscriptionRequest{CallbackURI: cb.srv.URL + "/gone"})
			require.NoError(t, err)
			kept, _, err := e.subs.Create(ctx, &SubscriptionRequest{CallbackURI: cb.srv.URL + "/kept"})
			require.NoError(t, err)

			inst := newInstance()
			require.NoError(t, st.CreateInstance(ctx, inst))
			require.NoError(t, st.CreateOpOcc(ctx, newOpOcc(inst.ID, model.OpInstantiate)))
			require.Len(t, pending(t, raw, gone.ID), 2)
			require.EqualValues(t, 4, depth(t, raw))

			require.NoError(t, e.subs.Delete(ctx, gone.ID))
			require.Empty(t, pending(t, raw, gone.ID))
			require.Len(t, pending(t, raw, kept.ID), 2)
			require.EqualValues(t, 2, depth(t, raw))
			_, err = e.subs.Get(ctx, gone.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.ErrorIs(t, e.subs.Delete(ctx, gone.ID), store.ErrNotFound)
			require.Contains(t, e.logs.String(), "subscription deleted")

			// Later events are no longer addressed to it.
			require.NoError(t, st.DeleteInstance(ctx, inst.ID, inst.Revision))
			require.Empty(t, pending(t, raw, gone.ID))
			require.Len(t, pending(t, raw, kept.ID), 3)
		})
	}
}

// Secrets (password, clientPassword, a password in the callback URI)
// appear in no error and no log line, whatever happens: success, refused
// callback, refused token request, invalid request, failed deliveries.
func TestSubscriptionSecretsNeverShown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := storetest.SQLite(t)
	e := newSubsEnv(t, st, true)
	cb := newCallback(t, http.StatusNoContent)
	uriPass := "uri-Pw9$secret"
	testsecrets.Register(uriPass)
	cbURL, err := url.Parse(cb.srv.URL + "/cb")
	require.NoError(t, err)
	cbURL.User = url.UserPassword("nfvo", uriPass)
	var errs []error
	create := func(req *SubscriptionRequest) *store.Subscription {
		sub, _, err := e.subs.Create(ctx, req)
		if err != nil {
			errs = append(errs, err)
		}
		return sub
	}

	basic := create(&SubscriptionRequest{CallbackURI: cb.srv.URL + "/basic", Authentication: basicAuth()})
	require.NotNil(t, basic)
	withURIPass := create(&SubscriptionRequest{CallbackURI: cbURL.String()})
	require.NotNil(t, withURIPass)
	oauth := create(&SubscriptionRequest{CallbackURI: cb.srv.URL + "/oauth", Authentication: e.oauth()})
	require.NotNil(t, oauth)
	require.Contains(t, e.logs.String(), "nfvo:xxxxx@", "the URI's password redacted")

	cb.setStatus(http.StatusUnauthorized)
	require.Nil(t, create(&SubscriptionRequest{CallbackURI: cb.srv.URL + "/refused", Authentication: basicAuth()}))
	require.Nil(t, create(&SubscriptionRequest{CallbackURI: cbURL.String() + "/refused"}))
	wrongSecret := e.oauth()
	wrongSecret.ParamsOauth2ClientCredentials.ClientPassword = oauthSecret + "-wrong"
	require.Nil(t, create(&SubscriptionRequest{CallbackURI: cb.srv.URL + "/x", Authentication: wrongSecret}))
	deadToken := e.oauth()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadToken.ParamsOauth2ClientCredentials.TokenEndpoint = "http://" + l.Addr().String() + "/token?client_secret=" + url.QueryEscape(oauthSecret)
	l.Close()
	require.Nil(t, create(&SubscriptionRequest{CallbackURI: cb.srv.URL + "/y", Authentication: deadToken}))
	invalid := basicAuth()
	invalid.ParamsBasic.UserName = ""
	require.Nil(t, create(&SubscriptionRequest{CallbackURI: cb.srv.URL + "/z", Authentication: invalid}))
	require.Len(t, errs, 5)
	require.ErrorIs(t, errs[0], ErrCallback)
	require.ErrorIs(t, errs[1], ErrCallback)
	require.ErrorIs(t, errs[2], ErrCallback)
	require.Contains(t, errs[2].Error(), "invalid_client")
	require.ErrorIs(t, errs[3], ErrCallback)
	require.ErrorIs(t, errs[4], ErrInvalid)

	// Deliveries that fail: the callback refuses, the token endpoint
	// refuses (the secret changed there).
	for _, sub := range []*store.Subscription{basic, withURIPass, oauth} {
		enqueueSeq(t, st, sub.ID, 0, 1)
	}
	e.tok.setSecret("rotated")
	d := NewDeliverer(st, e.box, callauth.NewTokens(nil, nil), &http.Client{}, slogTo(e.logs), prometheus.NewRegistry(), fastDelivery())
	d.Start(ctx)
	t.Cleanup(d.Stop)
	require.Eventually(t, func() bool {
		for _, sub := range []*store.Subscription{basic, withURIPass, oauth} {
			ns := pending(t, st, sub.ID)
			if len(ns) != 1 || ns[0].Attempts < 2 {
				return false
			}
		}
		return true
	}, waitFor, tick)
	d.Stop()
	for _, sub := range []*store.Subscription{basic, withURIPass} {
		require.Contains(t, pending(t, st, sub.ID)[0].LastError, "callback answered 401")
	}
	require.Contains(t, pending(t, st, oauth.ID)[0].LastError, "invalid_client")

	secrets := []string{
		basicPass, oauthSecret, uriPass,
		url.QueryEscape(basicPass), url.QueryEscape(oauthSecret), url.QueryEscape(uriPass),
		url.PathEscape(uriPass),
		base64.StdEncoding.EncodeToString([]byte(basicUser + ":" + basicPass)),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(oauthID) + ":" + url.QueryEscape(oauthSecret))),
	}
	for _, err := range errs {
		require.Empty(t, containsAny(err.Error(), secrets...), "error shows a secret: %v", err)
	}
	logs := e.logs.String()
	require.Contains(t, logs, "notification delivery failed")
	require.Empty(t, containsAny(logs, secrets...), "the log shows a secret:\n%s", logs)
	for _, sub := range []*store.Subscription{basic, oauth} {
		raw := view(sub)
		require.Empty(t, containsAny(string(raw), secrets...))
	}
}

// slogTo logs at debug level into lb.
func slogTo(lb *logBuf) *slog.Logger {
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

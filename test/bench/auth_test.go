package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnfm-project/vnfm/internal/auth"
	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// BenchmarkAuthOverhead measures what authentication costs per request on
// GET /vnflcm/v1/vnf_instances/{id} through the whole API on SQLite, served
// in process as in BenchmarkMetricsOverhead:
//
//	none            no authentication, no request metrics: the baseline
//	basic           HTTP Basic, one user (bcrypt at the cost of `vnfm
//	                hash-password`, scopes [*]); the steady state, where the
//	                guard's cache of successful checks spares bcrypt. The
//	                first request, which pays bcrypt, is reported as
//	                uncached_ns
//	bearer          a token from POST /oauth2/token (client credentials),
//	                sent as Authorization: Bearer; an HS256 check per request
//	bearer+metrics  bearer with the request metrics on: subtract none for
//	                "auth + metrics overhead per request"
//	guard/{basic,bearer}  the guard's middleware alone before a trivial
//	                handler: what authentication costs without the noise of
//	                the whole request
//
//	go test -run '^$' -bench AuthOverhead -benchtime 2s -count 5 ./test/bench/
func BenchmarkAuthOverhead(b *testing.B) {
	const (
		user, password = "bench", "bench-password-0123"
		client, secret = "bench-client", "bench-client-secret-0123"
	)
	for _, bc := range []struct {
		name    string
		mode    string
		metrics bool
	}{
		{"none", "none", false},
		{"basic", auth.MethodBasic, false},
		{"bearer", auth.MethodOAuth2, false},
		{"bearer+metrics", auth.MethodOAuth2, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			cfg := server.Config{DataDir: dir, Vnfds: scripted.Vnfds{}, Auth: bc.mode,
				HTTP: server.HTTPConfig{NoRequestMetrics: !bc.metrics}}
			switch bc.mode {
			case auth.MethodBasic:
				cfg.AuthOptions.UsersFile = accountsFile(b, dir, "users.yaml", "name", user, "password_bcrypt", password)
			case auth.MethodOAuth2:
				cfg.AuthOptions.ClientsFile = accountsFile(b, dir, "clients.yaml", "client_id", client, "secret_bcrypt", secret)
			}
			st := storetest.SQLite(b)
			srv, err := server.New(context.Background(), cfg, st, server.Static(driver.NewRegistry()), quietLog())
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			// Seeded through the store: the first request through the API
			// is then the first authenticated one.
			ids, _, err := seed(context.Background(), st, 1)
			if err != nil {
				b.Fatal(err)
			}
			path := apiPrefix + "/vnf_instances/" + ids[0]

			var authz string
			var uncached time.Duration
			switch bc.mode {
			case auth.MethodBasic:
				authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
				start := time.Now()
				getAs(b, h, path, authz)
				uncached = time.Since(start)
			case auth.MethodOAuth2:
				authz = "Bearer " + fetchToken(b, h, client, secret)
			}
			b.ReportAllocs()
			for b.Loop() {
				getAs(b, h, path, authz)
			}
			if uncached > 0 {
				// After the loop: its first b.Loop resets reported metrics.
				b.ReportMetric(float64(uncached.Nanoseconds()), "uncached_ns")
			}
		})
	}
	b.Run("guard", func(b *testing.B) {
		for _, gc := range []struct{ name, mode string }{{"basic", auth.MethodBasic}, {"bearer", auth.MethodOAuth2}} {
			mode := gc.mode
			b.Run(gc.name, func(b *testing.B) {
				dir := b.TempDir()
				cfg := auth.Config{Modes: mode, DataDir: dir}
				if mode == auth.MethodBasic {
					cfg.UsersFile = accountsFile(b, dir, "users.yaml", "name", user, "password_bcrypt", password)
				} else {
					cfg.ClientsFile = accountsFile(b, dir, "clients.yaml", "client_id", client, "secret_bcrypt", secret)
				}
				g, err := auth.New(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				served := 0
				h := g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
				req := httptest.NewRequest(http.MethodGet, apiPrefix+"/vnf_instances/1b1b2d8c-55a4-4e4b-9a4b-2f8b1b2c3d4e", nil)
				if mode == auth.MethodBasic {
					req.SetBasicAuth(user, password)
					h.ServeHTTP(discard{http.Header{}}, req) // fills the cache
				} else {
					req.Header.Set("Authorization", "Bearer "+fetchToken(b, g.TokenHandler(), client, secret))
				}
				w := discard{http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(w, req)
				}
				if served < b.N {
					b.Fatalf("the guard let %d of %d requests through", served, b.N)
				}
			})
		}
	})
}

// accountsFile writes a users or clients file with one account holding
// every scope, hashed as `vnfm hash-password` does.
func accountsFile(b *testing.B, dir, file, nameField, name, hashField, pw string) string {
	b.Helper()
	hash, err := auth.HashPassword([]byte(pw))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, file)
	entry := "- {" + nameField + ": " + name + ", " + hashField + ": '" + hash + "', scopes: ['*']}\n"
	if err := os.WriteFile(path, []byte(entry), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// fetchToken asks the token endpoint once, the client authenticating
// with HTTP Basic.
func fetchToken(b *testing.B, h http.Handler, client, secret string) string {
	b.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req := httptest.NewRequest(http.MethodPost, auth.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("POST %s: %d %s", auth.TokenPath, rec.Code, rec.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
		b.Fatalf("POST %s: no access_token (%v)", auth.TokenPath, err)
	}
	return body.AccessToken
}

// getAs GETs path from h once with the Authorization header authz (none
// when empty), checking the status.
func getAs(b *testing.B, h http.Handler, path, authz string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Version", "1.3.0")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
}

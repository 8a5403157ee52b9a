package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	enc := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		in   string
		want credential
		err  error
	}{
		{"Basic " + enc([]byte("u:p")), credential{scheme: MethodBasic, user: "u", password: "p"}, nil},
		{"BASIC   " + enc([]byte("u:p:q")) + " ", credential{scheme: MethodBasic, user: "u", password: "p:q"}, nil},
		{"Basic " + enc([]byte("u:")), credential{scheme: MethodBasic, user: "u"}, nil},
		{"Basic " + enc([]byte(":p")), credential{}, errBadBasic},
		{"Basic " + enc([]byte("up")), credential{}, errBadBasic},
		{"Basic", credential{}, errNoScheme},
		{"Basic ", credential{}, errNoScheme},
		{"Bearer a.b-c_d~e+f/g==", credential{scheme: schemeBearer, token: "a.b-c_d~e+f/g=="}, nil},
		{"bearer abc", credential{scheme: schemeBearer, token: "abc"}, nil},
		{"Bearer a b", credential{}, errBadBearer},
		{"Bearer ===", credential{}, errBadBearer},
		{"Bearer a\"b", credential{}, errBadBearer},
		{"Digest x", credential{}, errUnknownScheme},
		{"Bearer " + strings.Repeat("a", maxCredentials), credential{}, errTooLong},
		{"", credential{}, errNoScheme},
	} {
		t.Run(tc.in[:min(len(tc.in), 30)], func(t *testing.T) {
			t.Parallel()
			got, err := parseAuthorization(tc.in)
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, tc.want, got)
		})
	}
}

// fuzzDetails are every detail a 401 or 429 may have: none repeats
// anything of the request.
func fuzzDetails(g *Guard) []string {
	d := []string{"authentication required: " + g.accepted(), "wrong user name or password",
		"this scheme is not accepted here; " + g.accepted(), "more than one Authorization header"}
	for _, e := range []error{errNoScheme, errUnknownScheme, errTooLong, errBadBasic, errBadBearer} {
		d = append(d, e.Error())
	}
	for _, p := range []string{"the token has expired", "the token is not valid yet", "the token is from another issuer",
		"the token is for another audience", "the token lacks a required claim", "the token algorithm is not accepted",
		"the token is signed by an unknown key", "the token signature is invalid", "the token's client is no longer known",
		"the token has no subject", "the token is malformed", "the token cannot be verified"} {
		d = append(d, "the Bearer token is not valid: "+p)
	}
	return d
}

// FuzzAuthorizationHeader: parsing never panics and round-trips, and the
// guard answers any header it cannot accept with a 401 (or 429) whose
// detail is one of its fixed texts.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{"Basic dTpw", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:guess")), "Bearer abc",
		"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "basic", "Negotiate x", " Bearer  a== "} {
		f.Add(s)
	}
	g, err := New(context.Background(), Config{Modes: "basic,oauth2", Options: Options{UsersFile: usersFile(f), ClientsFile: clientsFile(f)},
		DataDir: f.TempDir(), FailBurst: 1 << 30})
	require.NoError(f, err)
	details := fuzzDetails(g)
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	f.Fuzz(func(t *testing.T, header string) {
		c, err := parseAuthorization(header)
		if err == nil {
			switch c.scheme {
			case MethodBasic:
				require.NotEmpty(t, c.user)
				require.NotContains(t, c.user, ":")
				back, err := parseAuthorization("Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password)))
				require.NoError(t, err)
				require.Equal(t, c, back)
			case schemeBearer:
				require.True(t, isB64Token(c.token))
				require.True(t, strings.HasSuffix(strings.TrimRight(header, " \t"), c.token))
				require.Empty(t, c.user+c.password)
			default:
				t.Fatalf("scheme %q", c.scheme)
			}
		}

		r := httptest.NewRequest("GET", "/vnflcm/v1/vnf_instances", nil)
		if strings.ContainsAny(header, "\r\n\x00") {
			// net/http never hands such a header value to a handler.
			return
		}
		r.Header.Set("Authorization", header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Contains(t, []int{401, 429}, w.Code, "no guessed header gets in")
		var pd struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &pd))
		require.Equal(t, w.Code, pd.Status)
		if w.Code == 401 {
			require.True(t, slices.Contains(details, pd.Detail), "a detail that is not a fixed text: %q", pd.Detail)
			require.NotEmpty(t, w.Header().Values("WWW-Authenticate"))
			for _, v := range w.Header().Values("WWW-Authenticate") {
				require.NotContains(t, v, "\n")
			}
		}
	})
}

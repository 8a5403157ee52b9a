package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestHashPasswordCmd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stdin string
		code        int
		pw          string
	}{
		{"one line", "s3cret pass\n", 0, "s3cret pass"},
		{"no newline", "s3cret", 0, "s3cret"},
		{"CRLF", "s3cret\r\n", 0, "s3cret"},
		{"two lines", "a\nb\n", 2, ""},
		{"empty", "\n", 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := hashPasswordCmd(strings.NewReader(tc.stdin), &out, &errOut)
			require.Equal(t, tc.code, code, errOut.String())
			if code != 0 {
				require.Empty(t, out.String())
				return
			}
			h := strings.TrimSpace(out.String())
			require.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte(tc.pw)))
			require.NotContains(t, out.String()+errOut.String(), tc.pw)
		})
	}
}

// TestServeAuthFlags: a wrong --auth setup stops serve before it listens.
func TestServeAuthFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth", "basic"}, "auth mode basic needs --auth-users-file"},
		{[]string{"--auth", "ldap"}, `auth mode \"ldap\"`},
		{[]string{"--auth", "none", "--auth-clients-file", "/x"}, "--auth-clients-file is set but --auth does not include oauth2"},
		{[]string{"--auth", "jwt", "--auth-jwks-url", "https://idp.example/jwks"}, "needs --auth-jwks-url, --auth-issuer and --auth-audience"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...)
			require.Equal(t, 1, Main(args, &out, &errOut, Wiring{Drivers: nil}))
			require.Contains(t, errOut.String(), tc.want)
			require.NotContains(t, errOut.String(), "vnfm listening")
		})
	}
	// An open API is a choice: serve without --auth refuses to start.
	var out, errOut bytes.Buffer
	require.Equal(t, 2, Main([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, &out, &errOut, Wiring{Drivers: nil}))
	require.Contains(t, errOut.String(), "--auth none to leave the API open")
	require.True(t, authOff(""))
	require.True(t, authOff(" none "))
	require.False(t, authOff("basic"))
}

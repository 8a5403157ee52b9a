package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "k", "key")
	box, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	sealed, err := box.Seal([]byte("s3cret"))
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, []byte("s3cret")))
	again, err := box.Seal([]byte("s3cret"))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "fresh nonce each time")

	// The same file gives the same key.
	box2, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	pt, err := box2.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "s3cret", string(pt))

	// Another key is told apart; tampering is detected.
	other, err := LoadOrCreateKeyFile(filepath.Join(dir, "other"))
	require.NoError(t, err)
	_, err = other.Open(sealed)
	require.ErrorIs(t, err, ErrWrongKey)
	sealed[len(sealed)-1] ^= 1
	_, err = box.Open(sealed)
	require.Error(t, err)

	n, err := box.Seal(nil)
	require.NoError(t, err)
	require.Nil(t, n)
	_, err = NewBox([]byte("short"))
	require.Error(t, err)
}

func TestRedact(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"username": "admin", "password": "p", "region": "R", "ssl_ca_cert": "CERT",
		"bearer_token": "t", "client_secret": "c", "private_key": "k", "ssh_key": "k",
		"nested": []any{map[string]any{"masternode_password": "m", "masternode_ip": []any{"10.0.0.1"}}},
	}
	out, removed := Redact(in)
	require.True(t, removed)
	require.Equal(t, map[string]any{
		"username": "admin", "region": "R", "ssl_ca_cert": "CERT",
		"nested": []any{map[string]any{"masternode_ip": []any{"10.0.0.1"}}},
	}, out)
	require.Equal(t, "p", in["password"], "the input is not modified")
	_, removed = Redact(map[string]any{"a": 1})
	require.False(t, removed)
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://vnfm:s3cret@db:5432/vnfm": "postgres://vnfm:xxxxx@db:5432/vnfm",
		"https://nfvo.example/notify":         "https://nfvo.example/notify",
		"http://u:p@[::1":                     "(unparsable URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

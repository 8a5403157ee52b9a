package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/server"
)

func writeKey(t *testing.T, path string) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600))
	return k
}

// TestLoadKeys: the key from the environment wins over the file (which is
// then neither read nor created), old key files join the keyring, and a
// configuration printed in full does not show the key.
func TestLoadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fileKey := writeKey(t, filepath.Join(dir, "file.key"))
	oldKey := writeKey(t, filepath.Join(dir, "old.key"))
	envKey := make([]byte, 32)
	_, err := rand.Read(envKey)
	require.NoError(t, err)
	envText := base64.StdEncoding.EncodeToString(envKey)

	for name, tc := range map[string]struct {
		cfg     server.Config
		create  bool
		want    []byte
		wantErr string
	}{
		"file":                {cfg: server.Config{EncryptionKeyFile: filepath.Join(dir, "file.key")}, want: fileKey},
		"environment wins":    {cfg: server.Config{EncryptionKeyFile: filepath.Join(dir, "file.key"), EncryptionKey: server.KeyText(envText)}, want: envKey},
		"bad environment":     {cfg: server.Config{EncryptionKey: "s3cret-not-base64"}, wantErr: server.EncryptionKeyEnv},
		"missing, no create":  {cfg: server.Config{EncryptionKeyFile: filepath.Join(dir, "none.key")}, wantErr: "none.key"},
		"missing old key":     {cfg: server.Config{EncryptionKeyFile: filepath.Join(dir, "file.key"), OldEncryptionKeyFiles: []string{filepath.Join(dir, "gone.key")}}, wantErr: "gone.key"},
		"default file made":   {cfg: server.Config{DataDir: filepath.Join(dir, "data")}, create: true},
		"environment no file": {cfg: server.Config{DataDir: filepath.Join(dir, "data-env"), EncryptionKey: server.KeyText(envText)}, create: true, want: envKey},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.cfg
			cfg.OldEncryptionKeyFiles = append(cfg.OldEncryptionKeyFiles, filepath.Join(dir, "old.key"))
			cur, old, err := server.LoadKeys(&cfg, tc.create)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			require.Len(t, cur, 32)
			if tc.want != nil {
				require.Equal(t, tc.want, cur)
			}
			require.Equal(t, [][]byte{oldKey}, old)
			if cfg.EncryptionKey != "" && cfg.DataDir != "" {
				_, err := os.Stat(filepath.Join(cfg.DataDir, "encryption.key"))
				require.ErrorIs(t, err, os.ErrNotExist, "no key file is made when the environment has the key")
			}
		})
	}

	cfg := server.Config{EncryptionKey: server.KeyText(envText)}
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(cfg.EncryptionKey)} {
		require.NotContains(t, s, envText)
	}
}

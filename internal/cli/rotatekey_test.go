package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
)

// seedDB makes an embedded database in dir with a VIM whose credentials
// are sealed with the key in DIR/encryption.key, and returns that key.
func seedDB(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := secret.LoadOrCreateKey(filepath.Join(dir, "encryption.key"))
	require.NoError(t, err)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	st, err := server.OpenStore(context.Background(), &server.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer st.Close()
	sealed, err := box.Seal([]byte(`{"password":"s3cret-VIM-password"}`))
	require.NoError(t, err)
	require.NoError(t, st.CreateVim(context.Background(), &store.Vim{Vim: model.Vim{ID: "vim-1", Name: "lab", Type: "openstack"}, Sealed: sealed}))
	return key
}

func run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut, Wiring{})
	return code, out.String(), errOut.String()
}

var vimRow = regexp.MustCompile(`VIM credentials\s+(\d+)\s+(\d+)`)

// TestRotateKeyCommand: rotate-key re-encrypts with the new key (creating
// the file), prints counts and no key or value, and a second run finds
// everything current.
func TestRotateKeyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldKey := seedDB(t, dir)
	newFile := filepath.Join(dir, "new.key")

	code, out, errOut := run("rotate-key", "--data-dir", dir, "--new-key-file", newFile)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	require.Equal(t, []string{"1", "0"}, vimRow.FindStringSubmatch(out)[1:], out)
	require.Contains(t, out, "every sealed value is under key")
	newKey, err := secret.ReadKeyFile(newFile)
	require.NoError(t, err)
	for _, s := range []string{"s3cret", base64.StdEncoding.EncodeToString(oldKey), base64.StdEncoding.EncodeToString(newKey)} {
		require.NotContains(t, out+errOut, s)
	}

	// The new key alone opens the VIM's credentials.
	st, err := server.OpenStore(context.Background(), &server.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	v, err := st.GetVim(context.Background(), "vim-1")
	require.NoError(t, err)
	require.NoError(t, st.Close())
	newBox, err := secret.NewBox(newKey)
	require.NoError(t, err)
	pt, err := newBox.Open(v.Sealed)
	require.NoError(t, err)
	require.Contains(t, string(pt), "s3cret-VIM-password")

	// Again, now with the new key as current: nothing to do.
	code, out, errOut = run("rotate-key", "--data-dir", dir, "--encryption-key-file", newFile,
		"--old-encryption-key-files", filepath.Join(dir, "encryption.key"), "--new-key-file", newFile)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	m := vimRow.FindStringSubmatch(out)
	require.Equal(t, []string{"0", "1"}, m[1:], out)
}

// TestRotateKeyCommandRefuses: no new key file, no database or no current
// key file are errors, and a missing key file is not invented.
func TestRotateKeyCommandRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, _, errOut := run("rotate-key", "--data-dir", dir)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--new-key-file")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "encryption.key"), []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))), 0o600))
	code, _, errOut = run("rotate-key", "--data-dir", dir, "--new-key-file", filepath.Join(dir, "new.key"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no embedded database")

	other := t.TempDir()
	seedDB(t, other)
	missing := filepath.Join(other, "missing.key")
	code, _, errOut = run("rotate-key", "--data-dir", other, "--encryption-key-file", missing, "--new-key-file", filepath.Join(other, "new.key"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "missing.key")
	_, err := os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist, "the current key file is never created")

	// The new key cannot open the old values without the old key: the
	// rotation stops and names the row.
	code, _, errOut = run("rotate-key", "--data-dir", other, "--encryption-key-file", filepath.Join(dir, "encryption.key"), "--new-key-file", filepath.Join(other, "new.key"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "vims vim-1")
	require.NotContains(t, errOut, "s3cret")
}

// TestRotateKeyFromEnvironment: VNFM_ENCRYPTION_KEY is the current key and
// wins over the key file (not parallel: it sets the environment).
func TestRotateKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	oldKey := seedDB(t, dir)
	require.NoError(t, os.Remove(filepath.Join(dir, "encryption.key")))
	t.Setenv(server.EncryptionKeyEnv, base64.StdEncoding.EncodeToString(oldKey))
	code, out, errOut := run("rotate-key", "--data-dir", dir, "--encryption-key-file", filepath.Join(dir, "ignored.key"), "--new-key-file", filepath.Join(dir, "new.key"))
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	require.Equal(t, []string{"1", "0"}, vimRow.FindStringSubmatch(out)[1:], out)
	require.NotContains(t, out+errOut, base64.StdEncoding.EncodeToString(oldKey))
	_, err := os.Stat(filepath.Join(dir, "ignored.key"))
	require.ErrorIs(t, err, os.ErrNotExist)

	t.Setenv(server.EncryptionKeyEnv, "s3cret-not-a-key")
	code, _, errOut = run("rotate-key", "--data-dir", dir, "--new-key-file", filepath.Join(dir, "new.key"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, server.EncryptionKeyEnv)
	require.NotContains(t, errOut, "s3cret")
}

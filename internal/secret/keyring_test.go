package secret

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, keySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// TestKeyring: a keyring opens values of every key it holds, picked by the
// key id in the value, and seals with the current key only.
func TestKeyring(t *testing.T) {
	t.Parallel()
	oldKey, newKeyB, stranger := newKey(t), newKey(t), newKey(t)
	oldBox, err := NewBox(oldKey)
	require.NoError(t, err)
	sealedOld, err := oldBox.Seal([]byte("under old"))
	require.NoError(t, err)

	ring, err := NewKeyring(newKeyB, oldKey, newKeyB) // the current key among the old is ignored
	require.NoError(t, err)
	require.Len(t, ring.OldKeyIDs(), 1)
	require.NotEqual(t, oldBox.KeyID(), ring.KeyID())
	require.Equal(t, []string{oldBox.KeyID()}, ring.OldKeyIDs())

	pt, err := ring.Open(sealedOld)
	require.NoError(t, err)
	require.Equal(t, "under old", string(pt))
	require.False(t, ring.IsCurrent(sealedOld))
	require.True(t, oldBox.IsCurrent(sealedOld))

	sealedNew, err := ring.Seal([]byte("under new"))
	require.NoError(t, err)
	require.True(t, ring.IsCurrent(sealedNew))
	id, ok := KeyIDOf(sealedNew)
	require.True(t, ok)
	require.Equal(t, ring.KeyID(), id)
	_, err = oldBox.Open(sealedNew)
	require.ErrorIs(t, err, ErrWrongKey, "the old key alone cannot open what the keyring sealed")

	newOnly, err := NewBox(newKeyB)
	require.NoError(t, err)
	pt, err = newOnly.Open(sealedNew)
	require.NoError(t, err)
	require.Equal(t, "under new", string(pt))

	strangerBox, err := NewKeyring(stranger, oldKey)
	require.NoError(t, err)
	_, err = strangerBox.Open(sealedNew)
	require.ErrorIs(t, err, ErrWrongKey)

	// A relabelled value (another key's id in the header) fails to open.
	forged := append([]byte{}, sealedOld...)
	copy(forged[1:1+keyIDSize], sealedNew[1:1+keyIDSize])
	_, err = ring.Open(forged)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrWrongKey)

	_, ok = KeyIDOf([]byte("short"))
	require.False(t, ok)
	require.True(t, ring.IsCurrent(nil), "nil needs no re-sealing")
	_, err = NewKeyring(newKeyB, []byte("short"))
	require.ErrorContains(t, err, "old key 1")
}

// TestKeyFiles: ReadKeyFile never creates a file; DecodeKey errors do not
// repeat the text.
func TestKeyFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.key")
	_, err := ReadKeyFile(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist, "not created")

	k, err := LoadOrCreateKey(missing)
	require.NoError(t, err)
	again, err := ReadKeyFile(missing)
	require.NoError(t, err)
	require.True(t, bytes.Equal(k, again))

	for name, text := range map[string]string{
		"not base64": "s3cret-not-base64!!",
		"wrong size": base64.StdEncoding.EncodeToString([]byte("s3cret-short")),
	} {
		_, err := DecodeKey(text)
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), "s3cret", name)
		require.NotContains(t, err.Error(), text, name)
	}
	got, err := DecodeKey(" " + base64.StdEncoding.EncodeToString(k) + "\n")
	require.NoError(t, err)
	require.Equal(t, k, got)
}

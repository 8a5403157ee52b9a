// Package secret seals write-only values (VIM passwords, tokens, keys) with
// AES-256-GCM and strips them from documents that are served or logged.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	keySize   = 32
	keyIDSize = 8
	format    = 1 // first byte of every sealed value
)

// ErrWrongKey is returned when a value was sealed with another key.
var ErrWrongKey = errors.New("sealed with a different key")

// Box seals and opens values. The key id (a hash prefix of the key) is
// stored with every value, so a Box made by NewKeyring can open values sealed
// with an earlier key (picked by id) while it seals with the current one:
// that is what lets a key rotation run without downtime.
type Box struct {
	aead  cipher.AEAD
	keyID [keyIDSize]byte
	// old opens values sealed with earlier keys, by key id.
	old map[[keyIDSize]byte]cipher.AEAD
}

// NewBox makes a Box from a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	return NewKeyring(key)
}

// NewKeyring makes a Box that seals with current and opens values sealed
// with current or with any of old.
func NewKeyring(current []byte, old ...[]byte) (*Box, error) {
	aead, id, err := newAEAD(current)
	if err != nil {
		return nil, err
	}
	b := &Box{aead: aead, keyID: id}
	for i, k := range old {
		a, oid, err := newAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("old key %d: %w", i+1, err)
		}
		if oid == id {
			continue
		}
		if b.old == nil {
			b.old = map[[keyIDSize]byte]cipher.AEAD{}
		}
		b.old[oid] = a
	}
	return b, nil
}

func newAEAD(key []byte) (cipher.AEAD, [keyIDSize]byte, error) {
	var id [keyIDSize]byte
	if len(key) != keySize {
		return nil, id, fmt.Errorf("encryption key must be %d bytes, got %d", keySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, id, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, id, fmt.Errorf("gcm: %w", err)
	}
	sum := sha256.Sum256(key)
	copy(id[:], sum[:keyIDSize])
	return aead, id, nil
}

// KeyID is the current key's id in hex: safe to log (a hash prefix).
func (b *Box) KeyID() string { return hex.EncodeToString(b.keyID[:]) }

// OldKeyIDs are the ids of the keys that only open, in no particular order.
func (b *Box) OldKeyIDs() []string {
	out := make([]string, 0, len(b.old))
	for id := range b.old {
		out = append(out, hex.EncodeToString(id[:]))
	}
	return out
}

// IsCurrent reports whether sealed was sealed with the current key (nil is:
// there is nothing to re-seal).
func (b *Box) IsCurrent(sealed []byte) bool {
	if sealed == nil {
		return true
	}
	id, ok := keyIDOf(sealed)
	return ok && id == b.keyID
}

// KeyIDOf returns the hex id of the key a sealed value names, and false when
// the bytes do not look like a sealed value.
func KeyIDOf(sealed []byte) (string, bool) {
	id, ok := keyIDOf(sealed)
	if !ok {
		return "", false
	}
	return hex.EncodeToString(id[:]), true
}

// minSealed is header, GCM nonce and tag: the shortest sealed value.
const minSealed = 1 + keyIDSize + 12 + 16

func keyIDOf(sealed []byte) ([keyIDSize]byte, bool) {
	var id [keyIDSize]byte
	if len(sealed) < minSealed || sealed[0] != format {
		return id, false
	}
	copy(id[:], sealed[1:1+keyIDSize])
	return id, true
}

// DecodeKey decodes a base64 key (surrounding blanks ignored). The error
// never contains the text.
func DecodeKey(text string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(key) != keySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, got %d", keySize, len(key))
	}
	return key, nil
}

// ReadKeyFile reads a base64 key from path; unlike LoadOrCreateKeyFile it
// never creates one (a rotation must not invent the key it opens with).
func ReadKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key, err := DecodeKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// LoadOrCreateKeyFile reads a base64 key from path, creating the file with a
// fresh random key (mode 0600) when it does not exist.
func LoadOrCreateKeyFile(path string) (*Box, error) {
	key, err := LoadOrCreateKey(path)
	if err != nil {
		return nil, err
	}
	return NewBox(key)
}

// LoadOrCreateKey is LoadOrCreateKeyFile returning the key itself.
func LoadOrCreateKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key dir: %w", err)
		}
		enc := base64.StdEncoding.EncodeToString(key) + "\n"
		// O_EXCL: two processes starting at once must not overwrite each
		// other's key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(enc)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("write key file: %w", err)
			}
			return key, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create key file: %w", err)
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key, err := DecodeKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// Seal encrypts plaintext. A nil plaintext seals to nil.
func (b *Box) Seal(plaintext []byte) ([]byte, error) {
	if plaintext == nil {
		return nil, nil
	}
	out := make([]byte, 1+keyIDSize, 1+keyIDSize+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = format
	copy(out[1:], b.keyID[:])
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	out = append(out, nonce...)
	// The header is authenticated so a value cannot be relabelled.
	return b.aead.Seal(out, nonce, plaintext, out[:1+keyIDSize]), nil
}

// Open decrypts a value made by Seal with the current key or, for a
// keyring, with one of the old keys. nil opens to nil.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	hdr := 1 + keyIDSize
	id, ok := keyIDOf(sealed)
	if !ok {
		return nil, errors.New("sealed value: bad format")
	}
	aead := b.aead
	if id != b.keyID {
		if aead = b.old[id]; aead == nil {
			return nil, ErrWrongKey
		}
	}
	nonce := sealed[hdr : hdr+aead.NonceSize()]
	pt, err := aead.Open(nil, nonce, sealed[hdr+aead.NonceSize():], sealed[:hdr])
	if err != nil {
		return nil, fmt.Errorf("sealed value: %w", err)
	}
	return pt, nil
}

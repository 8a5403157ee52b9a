// Package secret seals write-only values (VIM passwords, tokens, keys) with
// AES-256-GCM and strips them from documents that are served or logged.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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

// Box seals and opens values with one key. The key id (a hash prefix of the
// key) is stored with every value so a rotation can tell old values apart.
type Box struct {
	aead  cipher.AEAD
	keyID [keyIDSize]byte
}

// NewBox makes a Box from a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, got %d", keySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	b := &Box{aead: aead}
	sum := sha256.Sum256(key)
	copy(b.keyID[:], sum[:keyIDSize])
	return b, nil
}

// LoadOrCreateKeyFile reads a base64 key from path, creating the file with a
// fresh random key (mode 0600) when it does not exist.
func LoadOrCreateKeyFile(path string) (*Box, error) {
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
			return NewBox(key)
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create key file: %w", err)
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("key file %s: not base64: %w", path, err)
	}
	return NewBox(key)
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

// Open decrypts a value made by Seal. nil opens to nil.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	hdr := 1 + keyIDSize
	if len(sealed) < hdr+b.aead.NonceSize() || sealed[0] != format {
		return nil, errors.New("sealed value: bad format")
	}
	if !bytes.Equal(sealed[1:hdr], b.keyID[:]) {
		return nil, ErrWrongKey
	}
	nonce := sealed[hdr : hdr+b.aead.NonceSize()]
	pt, err := b.aead.Open(nil, nonce, sealed[hdr+b.aead.NonceSize():], sealed[:hdr])
	if err != nil {
		return nil, fmt.Errorf("sealed value: %w", err)
	}
	return pt, nil
}

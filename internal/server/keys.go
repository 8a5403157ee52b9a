package server

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/vnfm-project/vnfm/internal/secret"
)

// KeyText is a base64 encryption key given as text (VNFM_ENCRYPTION_KEY). It
// prints as "[redacted]", so a configuration that gets logged or formatted
// with %+v cannot leak it.
type KeyText string

func (KeyText) String() string                 { return "[redacted]" }
func (KeyText) GoString() string               { return "[redacted]" }
func (KeyText) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (k KeyText) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// EncryptionKeyEnv is the variable that carries the current encryption key
// (base64); it wins over the key file. It is not a flag: a key on a command
// line is visible to every local user.
const EncryptionKeyEnv = "VNFM_ENCRYPTION_KEY"

// LoadKeys returns the current encryption key (cfg.EncryptionKey, else the
// key file, created when missing if create is set) and the old keys that
// must still open values. Errors name files, never key material.
func LoadKeys(cfg *Config, create bool) (current []byte, old [][]byte, err error) {
	if cfg.EncryptionKey != "" {
		if current, err = secret.DecodeKey(string(cfg.EncryptionKey)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", EncryptionKeyEnv, err)
		}
	} else {
		path := cfg.EncryptionKeyFile
		if path == "" {
			path = filepath.Join(cfg.DataDir, "encryption.key")
		}
		if create {
			current, err = secret.LoadOrCreateKey(path)
		} else {
			current, err = secret.ReadKeyFile(path)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	for _, f := range cfg.OldEncryptionKeyFiles {
		k, err := secret.ReadKeyFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("old encryption key: %w", err)
		}
		old = append(old, k)
	}
	return current, old, nil
}

// openKeyring is the server's Box: it seals with the current key and opens
// with it or any old one (a rotation in progress).
func openKeyring(cfg *Config, log *slog.Logger) (*secret.Box, error) {
	cur, old, err := LoadKeys(cfg, true)
	if err != nil {
		return nil, err
	}
	box, err := secret.NewKeyring(cur, old...)
	if err != nil {
		return nil, err
	}
	source := "file"
	if cfg.EncryptionKey != "" {
		source = "environment"
	}
	// Ids are hash prefixes: they tell keys apart without revealing them.
	log.Info("encryption key", "key_id", box.KeyID(), "source", source, "old_key_ids", box.OldKeyIDs())
	return box, nil
}

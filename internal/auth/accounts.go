package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
)

type accountKind int

const (
	kindUser   accountKind = iota // HTTP Basic users
	kindClient                    // OAuth 2.0 clients
)

func (k accountKind) String() string {
	if k == kindClient {
		return "client"
	}
	return "user"
}

// account is one user or client: a bcrypt hash and the scopes it may use.
type account struct {
	name   string
	hash   []byte
	scopes []string
}

// accounts are the users or clients of one file.
type accounts struct {
	kind   accountKind
	byName map[string]*account
	// dummy is checked for unknown names so that the answer time does not
	// tell which names exist.
	dummy []byte
	ok    verified
}

// fileEntry is one entry of a users file (name, password_bcrypt) or a
// clients file (client_id, secret_bcrypt).
type fileEntry struct {
	Name           string   `yaml:"name"`
	PasswordBcrypt string   `yaml:"password_bcrypt"`
	ClientID       string   `yaml:"client_id"`
	SecretBcrypt   string   `yaml:"secret_bcrypt"`
	Scopes         []string `yaml:"scopes"`
}

// loadAccounts reads a YAML or JSON list of accounts.
func loadAccounts(path string, kind accountKind) (*accounts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%ss file: %w", kind, err)
	}
	a, err := parseAccounts(data, kind)
	if err != nil {
		return nil, fmt.Errorf("%ss file %s: %w", kind, path, err)
	}
	return a, nil
}

func parseAccounts(data []byte, kind accountKind) (*accounts, error) {
	var entries []fileEntry
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&entries); err != nil && !errors.Is(err, io.EOF) {
		// yaml errors quote lines of the file, which holds only hashes;
		// still, say no more than where it broke.
		return nil, fmt.Errorf("not a YAML or JSON list of %ss: %w", kind, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("no %ss", kind)
	}
	a := &accounts{kind: kind, byName: map[string]*account{}}
	maxCost := bcrypt.MinCost
	for i, e := range entries {
		name, hash, nameField, hashField := e.Name, e.PasswordBcrypt, "name", "password_bcrypt"
		other := e.ClientID != "" || e.SecretBcrypt != ""
		if kind == kindClient {
			name, hash, nameField, hashField = e.ClientID, e.SecretBcrypt, "client_id", "secret_bcrypt"
			other = e.Name != "" || e.PasswordBcrypt != ""
		}
		if other {
			return nil, fmt.Errorf("%s %d: a %s has %s and %s", kind, i+1, kind, nameField, hashField)
		}
		switch {
		case name == "":
			return nil, fmt.Errorf("%s %d: no %s", kind, i+1, nameField)
		case len(name) > 256:
			return nil, fmt.Errorf("%s %d: %s longer than 256 bytes", kind, i+1, nameField)
		case kind == kindUser && strings.Contains(name, ":"):
			return nil, fmt.Errorf("user %q: HTTP Basic user names cannot hold a colon", name)
		case a.byName[name] != nil:
			return nil, fmt.Errorf("%s %q is listed twice", kind, name)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %s is not a bcrypt hash (make one with `vnfm hash-password`)", kind, name, hashField)
		}
		maxCost = max(maxCost, cost)
		if len(e.Scopes) == 0 {
			return nil, fmt.Errorf("%s %q: no scopes (known: %s)", kind, name, strings.Join(knownScopes, " "))
		}
		for _, s := range e.Scopes {
			if !slices.Contains(knownScopes, s) {
				return nil, fmt.Errorf("%s %q: unknown scope %q (known: %s)", kind, name, s, strings.Join(knownScopes, " "))
			}
		}
		a.byName[name] = &account{name: name, hash: []byte(hash), scopes: slices.Clone(e.Scopes)}
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	dummy, err := bcrypt.GenerateFromPassword(pw, maxCost)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	a.dummy = dummy
	a.ok.init()
	return a, nil
}

// check returns the account when secret is its password, else nil.
func (a *accounts) check(name, secret string, now time.Time) *account {
	acct := a.byName[name]
	if acct != nil && a.ok.has(name, secret, now) {
		return acct
	}
	hash := a.dummy
	if acct != nil {
		hash = acct.hash
	}
	// bcrypt reads 72 bytes; a longer secret is not the one that was hashed.
	err := bcrypt.CompareHashAndPassword(hash, []byte(secret))
	if acct == nil || err != nil || len(secret) > 72 {
		return nil
	}
	a.ok.add(name, secret, now)
	return acct
}

// verified remembers recent successful checks, so that a client sending
// Basic credentials on every request does not pay bcrypt every time. It
// holds HMACs under a key of this process, never the secrets.
type verified struct {
	mu  sync.Mutex
	key []byte
	m   map[[sha256.Size]byte]time.Time
}

const (
	verifiedFor = 5 * time.Minute
	maxVerified = 4096
)

func (v *verified) init() {
	v.key = make([]byte, 32)
	_, _ = rand.Read(v.key)
	v.m = map[[sha256.Size]byte]time.Time{}
}

func (v *verified) sum(name, secret string) [sha256.Size]byte {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var s [sha256.Size]byte
	copy(s[:], m.Sum(nil))
	return s
}

func (v *verified) has(name, secret string, now time.Time) bool {
	k := v.sum(name, secret)
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.m[k]
	return ok && now.Before(until)
}

func (v *verified) add(name, secret string, now time.Time) {
	k := v.sum(name, secret)
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.m) >= maxVerified {
		clear(v.m)
	}
	v.m[k] = now.Add(verifiedFor)
}

// HashPassword is the bcrypt hash of a password or client secret, for the
// users and clients files.
func HashPassword(pw []byte) (string, error) {
	switch {
	case len(pw) == 0:
		return "", errors.New("empty password")
	case len(pw) > 72:
		return "", errors.New("bcrypt takes at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword(pw, bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	return string(h), nil
}

// Package testsecrets is the suite-wide set of secrets that tests plant in
// requests, configuration and stored rows. No response body, log line or
// process output of any test may contain one: the harnesses check everything
// they capture against All at cleanup, so a secret registered by one test is
// also caught when another test leaks it.
package testsecrets

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"sync"
)

// The base secrets, planted by the e2e harness's instantiate body and reused
// by the process tests.
const (
	VIMPassword  = "s3cret-VIM-password"
	BearerToken  = "s3cret-bearer-token"
	NodePassword = "s3cret-node-password"
)

// minLen keeps out strings too short to be told from ordinary text ("pw",
// "admin"): they would make every check fail.
const minLen = 6

var (
	mu      sync.RWMutex
	secrets = map[string]bool{}
	sorted  []string // the keys of secrets, sorted
	needles [][]byte // every secret and its URL-escaped forms, in sorted's order
	owners  []string // needles[i] is a form of owners[i]
)

func init() { Register(VIMPassword, BearerToken, NodePassword) }

// Register adds secrets to the set; registering one again is a no-op. It
// panics on a secret shorter than 6 bytes, which could not be told from
// ordinary text. Call it where the secret is defined (a package-level
// secret from an init func, so that every test's cleanup knows it).
func Register(s ...string) {
	mu.Lock()
	defer mu.Unlock()
	changed := false
	for _, v := range s {
		if len(v) < minLen {
			panic(fmt.Sprintf("testsecrets: %q is too short to be a test secret (at least %d bytes)", v, minLen))
		}
		if !secrets[v] {
			secrets[v] = true
			changed = true
		}
	}
	if !changed {
		return
	}
	sorted = sorted[:0]
	for v := range secrets {
		sorted = append(sorted, v)
	}
	slices.Sort(sorted)
	needles, owners = needles[:0], owners[:0]
	for _, v := range sorted {
		// A secret leaks just as well inside a URL or a form body.
		forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
		slices.Sort(forms)
		for _, f := range slices.Compact(forms) {
			needles = append(needles, []byte(f))
			owners = append(owners, v)
		}
	}
}

// All returns the registered secrets, sorted.
func All() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Clone(sorted)
}

// Find reports the first registered secret (in All's order) that data
// contains, literally or URL-escaped.
func Find(data []byte) (string, bool) {
	mu.RLock()
	defer mu.RUnlock()
	for i, n := range needles {
		if bytes.Contains(data, n) {
			return owners[i], true
		}
	}
	return "", false
}

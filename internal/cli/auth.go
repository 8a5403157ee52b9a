package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vnfm-project/vnfm/internal/auth"
	"github.com/vnfm-project/vnfm/internal/server"
)

// authFlags adds --auth and its settings to fs.
func authFlags(fs *flag.FlagSet, cfg *server.Config) {
	o := &cfg.AuthOptions
	fs.StringVar(&cfg.Auth, "auth", "", "client authentication (required): a comma-separated set of basic, oauth2 (vnfm issues tokens at /oauth2/token), jwt (tokens of an external issuer); or none, which leaves the API open")
	fs.StringVar(&o.UsersFile, "auth-users-file", "", "basic: YAML or JSON list of {name, password_bcrypt, scopes} (hashes from vnfm hash-password)")
	fs.StringVar(&o.ClientsFile, "auth-clients-file", "", "oauth2: YAML or JSON list of {client_id, secret_bcrypt, scopes}")
	fs.StringVar(&o.TokenKeyFile, "auth-token-key-file", "", "oauth2: HS256 key (base64) of issued tokens; default DATA_DIR/auth-token.key, generated if missing; replicas must share it")
	fs.DurationVar(&o.TokenTTL, "auth-token-ttl", time.Hour, "oauth2: lifetime of issued tokens")
	fs.StringVar(&o.JWKSURL, "auth-jwks-url", "", "jwt: the external issuer's JWKS URL (RSA and EC keys)")
	fs.StringVar(&o.Issuer, "auth-issuer", "", "jwt: the iss tokens must have")
	fs.StringVar(&o.Audience, "auth-audience", "", "jwt: the aud tokens must include")
	fs.BoolVar(&o.MetricsPublic, "metrics-public", false, "serve /metrics without credentials (else it needs the metrics scope)")
}

// hashPasswordCmd prints the bcrypt hash of the password on stdin (one
// line; never an argument, which every local user could read).
func hashPasswordCmd(stdin io.Reader, stdout, stderr io.Writer) int {
	pw, err := io.ReadAll(io.LimitReader(stdin, 1024))
	if err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 1
	}
	pw = bytes.TrimSuffix(bytes.TrimSuffix(pw, []byte("\n")), []byte("\r"))
	if bytes.ContainsAny(pw, "\r\n") {
		fmt.Fprintln(stderr, "vnfm: hash-password reads one line")
		return 2
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 2
	}
	fmt.Fprintln(stdout, h)
	return 0
}

// errAuthUnset: an open API must be a choice, never a default.
const errAuthUnset = "vnfm: choose how clients authenticate: --auth basic, oauth2 or jwt (comma-separated), or --auth none to leave the API open to anyone who can reach it"

// authOff reports whether --auth leaves the API open (none, or empty).
func authOff(modes string) bool {
	m, err := auth.ParseModes(modes)
	return err == nil && m["none"]
}

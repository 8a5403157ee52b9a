// Package cli is the vnfm command line, shared by cmd/vnfm and the test
// binary that registers the scripted driver:
//
//	vnfm serve     run the API server and the operation conductor
//	vnfm migrate   apply database migrations and exit
//	vnfm version   print the version
//	vnfm rotate-key re-encrypt every sealed value with a new key
//
// Every flag has a VNFM_* environment variable (flag name upper-cased,
// dashes as underscores); a flag given on the command line wins.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vnfm-project/vnfm/internal/callauth"
	"github.com/vnfm-project/vnfm/internal/csar"
	"github.com/vnfm-project/vnfm/internal/lcm"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/server"
)

// Version is set at build time with -ldflags "-X github.com/vnfm-project/vnfm/internal/cli.Version=...".
var Version = "dev"

// Wiring is what a binary plugs in: its drivers and VNFD source.
type Wiring struct {
	Drivers server.Drivers
	Vnfds   lcm.Vnfds
}

const usage = "usage: vnfm serve|migrate|version [flags]\n       vnfm package build DIR -o FILE.zip\n       vnfm rotate-key --new-key-file NEW [flags]\n       vnfm hash-password < PASSWORD_FILE"

// packageCmd builds a CSAR from a package directory, with a manifest that
// lists every file with its SHA-256.
func packageCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("package build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output CSAR file (default: DIR.zip)")
	// Flags may come after the directory, as in "build DIR -o FILE".
	var dirs []string
	rest := args[1:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			dirs = append(dirs, rest[0])
			rest = rest[1:]
		}
	}
	if len(dirs) != 1 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	dir := strings.TrimRight(dirs[0], "/")
	if *out == "" {
		*out = dir + ".zip"
	}
	f, err := os.CreateTemp(filepath.Dir(*out), ".csar-*")
	if err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 1
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 1
	}
	if err := csar.Build(dir, f); err != nil {
		f.Close()
		fmt.Fprintln(stderr, "vnfm:", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 1
	}
	// Rename last so a failed build never leaves a half-written CSAR.
	if err := os.Rename(f.Name(), *out); err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 1
	}
	fmt.Fprintln(stdout, *out)
	return 0
}

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer, wiring Wiring) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "vnfm %s (VNF LCM API 1.3.0)\n", Version)
		return 0
	case "package":
		return packageCmd(args, stdout, stderr)
	case "rotate-key":
		return rotateKeyCmd(args, stdout, stderr)
	case "hash-password":
		return hashPasswordCmd(os.Stdin, stdout, stderr)
	case "serve", "migrate":
	default:
		fmt.Fprintf(stderr, "vnfm: unknown command %q\n%s\n", cmd, usage)
		return 2
	}

	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var logLevel string
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9890", "address to listen on (Tacker's port)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "postgres://user@host/db, or empty for embedded SQLite in the data dir")
	fs.StringVar(&cfg.DataDir, "data-dir", "./var", "directory for the embedded database and the generated encryption key")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.EncryptionKeyFile, "encryption-key-file", "", "AES-256 key (base64) sealing VIM secrets; default DATA_DIR/encryption.key, generated if missing")
	finishKeys := keyFlags(fs, &cfg)
	tlsFlags(fs, &cfg)
	authFlags(fs, &cfg)
	fs.StringVar(&cfg.PublicURL, "public-url", "", "base URL in Location headers and links (default: from the request)")
	fs.IntVar(&cfg.PageSize, "page-size", 100, "maximum items in one list response")
	fs.DurationVar(&cfg.Lease, "lease", 30*time.Second, "how long an operation's claim lives without renewal; a crashed replica's operations fail after this")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for running steps")
	fs.DurationVar(&cfg.Notify.RetryFor, "notify-retry-for", 24*time.Hour, "how long an undelivered notification is retried before it is given up")
	fs.BoolVar(&cfg.AllowDuplicateSubscriptions, "allow-duplicate-subscriptions", false, "create a second subscription with the same callback and filter instead of answering 303 See Other")
	fs.StringVar(&cfg.NFVO.URL, "nfvo-url", "", "NFVO API root whose /grant/v1/grants grants every operation (default: grant locally)")
	var nfvoAuth string
	fs.StringVar(&nfvoAuth, "nfvo-auth-file", "", "JSON file with the NFVO credentials, in SOL003 SubscriptionAuthentication form (BASIC or OAUTH2_CLIENT_CREDENTIALS)")
	fs.DurationVar(&cfg.NFVO.Timeout, "nfvo-grant-timeout", 10*time.Minute, "how long an asynchronous grant may take")
	var vimFiles string
	fs.StringVar(&vimFiles, "vim-file", "", "comma-separated VIM config files (Tacker's vim register format plus name and is_default) registered or updated at start")
	fs.Float64Var(&cfg.HTTP.RateLimit, "rate-limit", 0, "requests/s one client (remote address) may sustain, answered 429 beyond; 0 = no limit")
	fs.IntVar(&cfg.HTTP.RateBurst, "rate-burst", 0, "requests one client may send at once above --rate-limit (default: the rate rounded up)")
	if err := applyEnv(fs); err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	finishKeys()
	for _, f := range strings.Split(vimFiles, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.VimFiles = append(cfg.VimFiles, f)
		}
	}

	if nfvoAuth != "" {
		a, err := readAuthFile(nfvoAuth)
		if err != nil {
			fmt.Fprintln(stderr, "vnfm:", err)
			return 2
		}
		cfg.NFVO.Auth = a
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "vnfm: log level %q: %v\n", logLevel, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cmd == "migrate" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			log.Error("data dir", "err", err)
			return 1
		}
		st, err := server.OpenStore(ctx, &cfg, log)
		if err != nil {
			log.Error("migrate", "err", err)
			return 1
		}
		st.Close()
		log.Info("database is up to date")
		return 0
	}
	if strings.TrimSpace(cfg.Auth) == "" {
		fmt.Fprintln(stderr, errAuthUnset)
		return 2
	}
	if authOff(cfg.Auth) {
		log.Warn("authentication is off (--auth none): anyone who can reach " + cfg.Listen + " controls your VNFs")
	}
	cfg.Vnfds = wiring.Vnfds
	if err := server.Run(ctx, cfg, wiring.Drivers, log, watchHUP(ctx, log)); err != nil {
		log.Error("vnfm", "err", err)
		return 1
	}
	return 0
}

// readAuthFile reads NFVO credentials; they live in a file, not in argv,
// where any local user could read them.
func readAuthFile(path string) (*model.SubscriptionAuthentication, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nfvo auth file: %w", err)
	}
	var a model.SubscriptionAuthentication
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("nfvo auth file %s: not SubscriptionAuthentication JSON: %w", path, err)
	}
	if err := callauth.Validate(&a); err != nil {
		return nil, fmt.Errorf("nfvo auth file %s: %w", path, err)
	}
	return &a, nil
}

// applyEnv sets flags from VNFM_* variables.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "VNFM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/vnfm-project/vnfm/internal/rekey"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
)

const rotateUsage = "usage: vnfm rotate-key --new-key-file NEW [--database-url URL] [--data-dir DIR] [--encryption-key-file OLD] [--old-encryption-key-files F,...]"

// rotateKeyCmd re-encrypts every sealed value with the key in
// --new-key-file. The keys it opens with are the server's (VNFM_ENCRYPTION_KEY
// or --encryption-key-file, plus --old-encryption-key-files). It prints counts
// per kind of value, never a value or a key.
func rotateKeyCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rotate-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var newKeyFile, logLevel string
	var batch int
	fs.StringVar(&newKeyFile, "new-key-file", "", "key file (base64) to re-encrypt with; created with a fresh random key when missing")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "postgres://user@host/db, or empty for embedded SQLite in the data dir")
	fs.StringVar(&cfg.DataDir, "data-dir", "./var", "directory of the embedded database and the default key file")
	fs.StringVar(&cfg.EncryptionKeyFile, "encryption-key-file", "", "the key values are sealed with now; default DATA_DIR/encryption.key ("+server.EncryptionKeyEnv+" wins)")
	finishKeys := keyFlags(fs, &cfg)
	fs.IntVar(&batch, "batch-size", rekey.DefaultBatch, "rows re-encrypted per transaction")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	if err := applyEnv(fs); err != nil {
		fmt.Fprintln(stderr, "vnfm:", err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	finishKeys()
	if newKeyFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, rotateUsage)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "vnfm: log level %q: %v\n", logLevel, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	cur, old, err := server.LoadKeys(&cfg, false)
	if err != nil {
		log.Error("current encryption key", "err", err)
		return 1
	}
	newKey, err := secret.LoadOrCreateKey(newKeyFile)
	if err != nil {
		log.Error("new encryption key", "err", err)
		return 1
	}
	kr, err := secret.NewKeyring(newKey, append([][]byte{cur}, old...)...)
	if err != nil {
		log.Error("keyring", "err", err)
		return 1
	}
	if err := sqliteExists(&cfg); err != nil {
		log.Error("database", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := server.OpenStore(ctx, &cfg, log)
	if err != nil {
		log.Error("database", "err", err)
		return 1
	}
	defer st.Close()

	log.Info("rotating encryption key", "new_key_id", kr.KeyID(), "old_key_ids", kr.OldKeyIDs())
	rep, err := rekey.Rotate(ctx, st, kr, rekey.Options{Batch: batch, Log: log})
	printReport(stdout, rep)
	if err != nil {
		// What committed stays: running the command again resumes.
		log.Error("rotation stopped; run it again to resume", "err", err)
		return 1
	}
	stale, err := rekey.Stale(ctx, st, kr)
	if err != nil {
		log.Error("check", "err", err)
		return 1
	}
	left := 0
	for _, t := range store.SealedTables {
		if n := stale[t]; n > 0 {
			fmt.Fprintf(stdout, "left under another key in %s: %d\n", t, n)
			left += n
		}
	}
	if left > 0 {
		// A server still running with the old key as its current one
		// wrote them meanwhile.
		log.Error("values under another key remain; restart the servers with the new key as current and run again", "count", left)
		return 1
	}
	fmt.Fprintf(stdout, "every sealed value is under key %s; serve with --encryption-key-file %s\n", kr.KeyID(), newKeyFile)
	return 0
}

func printReport(w io.Writer, rep rekey.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tROTATED\tALREADY CURRENT")
	for _, k := range rekey.Kinds {
		c := rep[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, c.Rotated, c.Current)
	}
	tw.Flush()
}

// sqliteExists refuses to rotate an embedded database that is not there:
// opening would create an empty one and report nothing to do.
func sqliteExists(cfg *server.Config) error {
	u := cfg.DatabaseURL
	if u != "" && !strings.HasPrefix(u, "sqlite:") {
		return nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//")
	if path == "" {
		path = filepath.Join(cfg.DataDir, "vnfm.db")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no embedded database at %s: %w", path, err)
	}
	return nil
}

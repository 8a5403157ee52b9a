package cli

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/vnfm-project/vnfm/internal/server"
)

// keyFlags adds the flags naming old encryption keys to fs. The returned
// func, called after Parse, completes cfg, including the current key from
// VNFM_ENCRYPTION_KEY (not a flag: argv is readable by every local user).
func keyFlags(fs *flag.FlagSet, cfg *server.Config) func() {
	var old string
	fs.StringVar(&old, "old-encryption-key-files", "", "comma-separated earlier key files (base64): values sealed with them still open, new ones use the current key (during a key rotation)")
	return func() {
		cfg.OldEncryptionKeyFiles = splitList(old)
		cfg.EncryptionKey = server.KeyText(os.Getenv(server.EncryptionKeyEnv))
	}
}

// tlsFlags adds the HTTPS flags to fs.
func tlsFlags(fs *flag.FlagSet, cfg *server.Config) {
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert-file", "", "PEM certificate (chain) to serve HTTPS with; reloaded on SIGHUP")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file; reloaded on SIGHUP")
	fs.StringVar(&cfg.TLS.ClientCAFile, "tls-client-ca-file", "", "PEM CA certificates: when set, clients must present a certificate signed by one of them (mTLS)")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// watchHUP catches SIGHUP from now on (so that it no longer ends the
// process, even while the server starts) and returns the server.Run hook
// that reloads the TLS files on each one until ctx ends.
func watchHUP(ctx context.Context, log *slog.Logger) func(*server.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return func(srv *server.Server) {
		// Never signal.Stop: a SIGHUP during shutdown must not kill the
		// process either.
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					log.Info("SIGHUP received")
					// ReloadTLS logs its own failure and keeps the old pair.
					_ = srv.ReloadTLS()
				}
			}
		}()
	}
}

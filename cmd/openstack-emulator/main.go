// Command openstack-emulator serves the vnfm OpenStack emulator (Keystone v3,
// Heat, Nova, read-only Neutron) on one listener.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vnfm-project/vnfm/internal/osemu"
	"github.com/vnfm-project/vnfm/internal/osemu/netns"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "openstack-emulator:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("openstack-emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5000", "listen address")
	stateFile := fs.String("state", "", "state file (empty: memory only)")
	tokenTTL := fs.Duration("token-ttl", time.Hour, "Keystone token lifetime")
	actionDelay := fs.Duration("action-delay", 100*time.Millisecond, "minimum duration of stack actions and server builds")
	publicURL := fs.String("public-url", "", "base URL for the catalog and links (default: from each request's Host)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	backend := fs.String("backend", "plain", "server backend: plain (API only) or namespace (each server a network namespace running sshd; needs root)")
	nsDir := fs.String("namespace-dir", "/run/openstack-emulator", "namespace backend: directory for the servers' sshd configs, keys and logs")
	nsPrefix := fs.String("namespace-prefix", "ose", "namespace backend: prefix of the namespaces, bridges and veths it creates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	var be osemu.Backend
	switch *backend {
	case "plain":
		be = osemu.Plain{}
	case "namespace":
		nb, err := netns.New(netns.Config{Prefix: *nsPrefix, Dir: *nsDir, Log: log})
		if err != nil {
			return fmt.Errorf("-backend namespace: %w", err)
		}
		be = nb
	default:
		return fmt.Errorf("-backend %q: unsupported (plain or namespace)", *backend)
	}
	emu, err := osemu.New(osemu.Config{
		Backend: be, StateFile: *stateFile, TokenTTL: *tokenTTL, ActionDelay: *actionDelay,
		PublicURL: *publicURL, Log: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		_ = emu.Close()
		return fmt.Errorf("listen: %w", err)
	}
	base := *publicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	log.Info("openstack emulator listening", "keystone", base+"/v3", "state", *stateFile, "backend", *backend)
	// These are the emulator's fixed, well-known development credentials.
	log.Info("default dev credentials (well-known, not secret)",
		"user", osemu.DefaultUser, "password", osemu.DefaultPassword,
		"project", osemu.DefaultProject, "domain", osemu.DefaultDomain,
		"app_cred_id", osemu.DefaultAppCredID, "app_cred_secret", osemu.DefaultAppCredSecret)

	srv := &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			_ = emu.Close()
			return fmt.Errorf("serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	return errors.Join(shutErr, emu.Close())
}

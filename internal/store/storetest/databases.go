package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/sqlitestore"
	"github.com/vnfm-project/vnfm/migrations"
)

// DatabaseURLEnv names the variable that points the Postgres helpers at a
// server; the user needs the CREATEDB privilege.
const DatabaseURLEnv = "VNFM_TEST_DATABASE_URL"

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// templateLockKey serializes building the template database across test
// processes (go test runs packages in parallel). "vnfmtmpl".
const templateLockKey int64 = 0x766e666d746d706c

// SQLite returns a migrated store in a fresh file under t.TempDir(), closed
// when the test ends.
func SQLite(t testing.TB) *sqlitestore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "vnfm.db"), testLogger(t))
	if err != nil {
		t.Fatalf("storetest: open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close sqlite: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: migrate sqlite: %v", err)
	}
	return s
}

// Postgres returns a store on a fresh, migrated database of its own, closed
// and dropped when the test ends. Postgres must be reachable (see
// DatabaseURLEnv); a test that asked for it fails rather than skips.
func Postgres(t testing.TB) *pgstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := pgstore.Open(ctx, PostgresURL(t), testLogger(t))
	if err != nil {
		t.Fatalf("storetest: open postgres: %v", err)
	}
	// Registered after PostgresURL's drop, so it runs before it.
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close postgres: %v", err)
		}
	})
	return s
}

// PostgresURL creates a fresh migrated database (a copy of a template built
// once per migration set) and returns its URL. It is dropped when the test
// ends, after closing any connection still open. Use it to open several
// stores ("replicas") on one database.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin := adminConn(t)
	defer admin.Close(ctx)
	tpl := templateDB(t, admin)
	return createDB(t, admin, tpl)
}

// EmptyPostgresURL creates a fresh database without any schema and returns
// its URL; it is dropped when the test ends. For migration tests.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	admin := adminConn(t)
	defer admin.Close(context.Background())
	return createDB(t, admin, "")
}

func baseURL() string {
	if u := os.Getenv(DatabaseURLEnv); u != "" {
		return u
	}
	return defaultDatabaseURL
}

func adminConn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		t.Fatalf("storetest: cannot reach Postgres at %s: %v\n"+
			"Start the local server with\n"+
			"\tpg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or set %s to the URL of a server where you may CREATE DATABASE.",
			Redacted(baseURL()), err, DatabaseURLEnv)
	}
	return conn
}

var (
	templateMu    sync.Mutex
	templateReady string // name of the template this process has checked
)

// templateDB returns the name of a migrated template database, building it if
// no process has yet. Its name carries a hash of the migration files, so a
// schema change gets a new template rather than a stale one.
func templateDB(t testing.TB, admin *pgx.Conn) string {
	t.Helper()
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateReady != "" {
		return templateReady
	}
	ctx := context.Background()
	hash, err := migrationsHash()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	name := "vnfm_test_template_" + hash
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		t.Fatalf("storetest: lock template: %v", err)
	}
	defer func() { _, _ = admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockKey) }()

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("storetest: look up template: %v", err)
	}
	if !exists {
		// Built under another name and renamed when complete, so a run that
		// dies half-way never leaves a broken template behind.
		tmp := name + "_tmp"
		mustExec(t, admin, "DROP DATABASE IF EXISTS "+ident(tmp)+" WITH (FORCE)")
		mustExec(t, admin, "CREATE DATABASE "+ident(tmp))
		s, err := pgstore.Open(ctx, WithDatabase(baseURL(), tmp), testLogger(t))
		if err != nil {
			t.Fatalf("storetest: open template: %v", err)
		}
		err = s.Migrate(ctx)
		_ = s.Close()
		if err != nil {
			t.Fatalf("storetest: migrate template: %v", err)
		}
		mustExec(t, admin, "ALTER DATABASE "+ident(tmp)+" RENAME TO "+ident(name))
	}
	templateReady = name
	return name
}

// createDB creates a uniquely named database (from template tpl unless
// empty), schedules its drop and returns its URL.
func createDB(t testing.TB, admin *pgx.Conn, tpl string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "vnfm_test_" + hex.EncodeToString(b[:])
	sql := "CREATE DATABASE " + ident(name)
	if tpl != "" {
		sql += " TEMPLATE " + ident(tpl)
	}
	// Copying a template fails while another session is connected to it; its
	// builder's connections may take a moment to go away.
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if _, err = admin.Exec(context.Background(), sql); err == nil || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, baseURL())
		if err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE: a test may have left connections open (or failed mid-way).
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	return WithDatabase(baseURL(), name)
}

func mustExec(t testing.TB, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("storetest: %s: %v", sql, err)
	}
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// migrationsHash identifies the Postgres migration set.
func migrationsHash() (string, error) {
	ms, err := migrations.Load(migrations.Postgres)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", m.Version, m.Name, m.SQL)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// WithDatabase points a libpq URL or key=value connection string at db.
func WithDatabase(dsn, db string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + db
			return u.String()
		}
	}
	// In key=value form a later key overrides an earlier one.
	return dsn + " dbname=" + db
}

// Redacted hides the password of a database URL for messages.
func Redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(" + DatabaseURLEnv + ")"
}

// testLogger writes store logs (warnings and up) to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

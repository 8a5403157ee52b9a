package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// readyTimeout bounds the readiness checks: a probe that hangs is as bad
// as one that fails.
const readyTimeout = 2 * time.Second

// schemaVersioner is a DB that knows whether its migrations are applied.
type schemaVersioner interface {
	SchemaVersion(ctx context.Context) (applied, latest int64, err error)
}

// readyz answers 200 when vnfm can serve: the database answers and has the
// schema this binary needs. A schema newer than the binary's is ready: during
// a rolling upgrade the new replicas migrate first and old ones keep
// serving (migrations only add). /healthz is the liveness check and never
// looks at the database, so a database outage does not get vnfm restarted.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	var notReady []string
	if err := a.db.Ping(ctx); err != nil {
		a.log.Warn("readiness check failed: database", "err", err)
		notReady = append(notReady, "database unreachable")
	} else if sv, ok := a.db.(schemaVersioner); ok {
		applied, latest, err := sv.SchemaVersion(ctx)
		switch {
		case err != nil:
			a.log.Warn("readiness check failed: schema version", "err", err)
			notReady = append(notReady, "database schema version unreadable")
		case applied < latest:
			notReady = append(notReady, fmt.Sprintf("database schema at migration %d, this vnfm needs %d (run vnfm migrate)", applied, latest))
		}
	}
	if len(notReady) > 0 {
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", "not ready: "+strings.Join(notReady, "; "))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

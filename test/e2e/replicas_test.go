package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

// Two vnfm replicas on one Postgres, operations on many instances at once:
// every op occ completes, and each runs its infra step exactly once, in one
// replica or the other.
func TestTwoReplicasShareOnePostgres(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	// Replicas share the database and the key that seals its secrets.
	key := filepath.Join(t.TempDir(), "encryption.key")
	var envs []*env
	for range 2 {
		st, err := pgstore.Open(context.Background(), url, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		envs = append(envs, newEnv(t, st, 100, func(c *server.Config) { c.EncryptionKeyFile = key }))
	}
	const n = 24
	ops := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envs[i%2]
			r := e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": fmt.Sprintf("vnfd-%d", i)})
			require.Equal(t, 201, r.status)
			ops[i] = e.task(r.json(t)["id"].(string), "instantiate", withScript(map[string]string{"instantiate": "sleep:50ms"}))
		}()
	}
	wg.Wait()
	ran := map[int]int{}
	for _, op := range ops {
		envs[0].wait(op, "COMPLETED")
		count := 0
		for i, e := range envs {
			for _, c := range e.drv.CallsFor(op) {
				if c == "instantiate" {
					count++
					ran[i]++
				}
			}
		}
		require.Equal(t, 1, count, "op %s ran its infra step once", op)
	}
	require.Len(t, ran, 2, "both replicas took work: %v", ran)
}

// A graceful shutdown lets the running step finish, hands the op occ back at
// the next step boundary, and another replica resumes it from there.
func TestShutdownCheckpointsAndAnotherReplicaResumes(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	key := filepath.Join(t.TempDir(), "encryption.key")
	open := func() *env {
		st, err := pgstore.Open(context.Background(), url, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return newEnv(t, st, 100, func(c *server.Config) { c.EncryptionKeyFile = key })
	}
	a := open()
	id := a.create()
	a.wait(a.task(id, "instantiate", instantiateBody), "COMPLETED")
	op := a.task(id, "heal", map[string]any{"additionalParams": map[string]any{"script": map[string]string{"heal_start": "sleep:1500ms"}}})
	a.wait(op, "PROCESSING")
	// PROCESSING comes before the first step starts: stop only once
	// heal_start runs (the driver records a call as it begins), or a
	// loaded machine stops the conductor before it.
	require.Eventually(t, func() bool { return len(a.drv.CallsFor(op)) > 0 }, 10*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.srv.Conductor().Stop(ctx)
	require.Equal(t, []string{"heal_start"}, a.drv.CallsFor(op), "the running step finished, nothing after it ran")
	require.Equal(t, "PROCESSING", a.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+op, nil).json(t)["operationState"])

	b := open()
	b.wait(op, "COMPLETED")
	require.Equal(t, []string{"heal", "heal_end"}, b.drv.CallsFor(op), "resumed after the checkpoint")
}

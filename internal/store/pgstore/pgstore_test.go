package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/migrations"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.Postgres(t) })
}

func openReplicas(t *testing.T, url string, n int) []*pgstore.Store {
	t.Helper()
	out := make([]*pgstore.Store, n)
	for i := range out {
		s, err := pgstore.Open(t.Context(), url, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		out[i] = s
	}
	return out
}

// TestReplicasRaceCreateOpOcc: two replicas (pools) creating an op occ for the
// same instance at once produce exactly one winner.
func TestReplicasRaceCreateOpOcc(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	replicas := openReplicas(t, storetest.PostgresURL(t), 2)
	for round := range 5 {
		inst := &store.Instance{}
		inst.ID = "inst-" + string(rune('a'+round))
		require.NoError(t, replicas[0].CreateInstance(ctx, inst))

		const n = 8
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			s := replicas[i%2]
			op := &store.OpOcc{}
			op.ID = inst.ID + "-op-" + string(rune('0'+i))
			op.VnfInstanceID = inst.ID
			op.OperationState = model.Starting
			op.Operation = model.OpInstantiate
			op.Job = store.JobRun
			wg.Go(func() {
				<-start
				// Half take the instance lock first, as the API does.
				if i%4 < 2 {
					errs[i] = s.CreateOpOcc(ctx, op)
					return
				}
				errs[i] = s.InTx(ctx, func(tx store.Tx) error {
					if _, err := tx.GetInstance(ctx, inst.ID, true); err != nil {
						return err
					}
					return tx.CreateOpOcc(ctx, op)
				})
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				assert.ErrorIs(t, err, store.ErrOpInProgress)
			}
		}
		assert.Equal(t, 1, wins, "round %d", round)
	}
}

// TestConcurrentMigrate: replicas starting together on an empty database all
// succeed and each migration is recorded once.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := storetest.EmptyPostgresURL(t)
	replicas := openReplicas(t, url, 4)
	var wg sync.WaitGroup
	errs := make([]error, len(replicas))
	for i, s := range replicas {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.NoError(t, replicas[0].Migrate(ctx), "migrating again is a no-op")

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	ms, err := migrations.Load(migrations.Postgres)
	require.NoError(t, err)
	var want []int64
	for _, m := range ms {
		want = append(want, m.Version)
	}
	assert.Equal(t, want, got)

	inst := &store.Instance{}
	inst.ID = "x"
	require.NoError(t, replicas[1].CreateInstance(ctx, inst))
}

// TestWakeupsAcrossReplicas: a job queued by one replica wakes the others.
func TestWakeupsAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	replicas := openReplicas(t, storetest.PostgresURL(t), 2)
	ch := replicas[0].Wakeups(ctx)
	require.NotNil(t, ch)
	op := &store.OpOcc{}
	op.ID, op.VnfInstanceID, op.OperationState, op.Job = "op-1", "inst-1", model.Starting, store.JobRun
	require.NoError(t, replicas[1].CreateOpOcc(ctx, op))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no wakeup from the other replica")
	}
}

// TestWakeupsReconnect: the listener survives its connection being killed
// and signals after reconnecting.
func TestWakeupsReconnect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := storetest.PostgresURL(t)
	s := openReplicas(t, url, 1)[0]
	ch := s.Wakeups(ctx)
	require.NotNil(t, ch)

	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer admin.Close(ctx)
	// Kill the listener's session (its last statement was the LISTEN).
	var killed int
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN '||$1`, pgstore.JobsChannel).Scan(&killed)
	require.NoError(t, err)
	require.Equal(t, 1, killed)
	select {
	case <-ch: // the post-reconnect signal
	case <-time.After(10 * time.Second):
		t.Fatal("no wakeup after reconnect")
	}
	// And it is listening again.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		op := &store.OpOcc{}
		op.ID, op.VnfInstanceID, op.OperationState, op.Job = "op-"+string(rune('a'+i)), "inst-"+string(rune('a'+i)), model.Starting, store.JobRun
		require.NoError(t, s.CreateOpOcc(ctx, op))
		select {
		case <-ch:
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("no wakeup after reconnect")
		}
	}
}

// TestWakeupsEndWithContext: cancelling ctx stops the listener; Close waits
// for it.
func TestWakeupsEndWithContext(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	ctx, cancel := context.WithCancel(t.Context())
	require.NotNil(t, s.Wakeups(ctx))
	require.NotNil(t, s.Wakeups(t.Context()))
	cancel()
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the listeners")
	}
	assert.Nil(t, s.Wakeups(t.Context()), "no listener on a closed store")
}

// TestInTxRetriesDeadlock: two transactions locking two instances in opposite
// order deadlock; Postgres aborts one, and InTx re-runs it.
func TestInTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := storetest.Postgres(t)
	a, b := &store.Instance{}, &store.Instance{}
	a.ID, b.ID = "a", "b"
	require.NoError(t, s.CreateInstance(ctx, a))
	require.NoError(t, s.CreateInstance(ctx, b))

	var barrier sync.WaitGroup
	barrier.Add(2)
	var once [2]sync.Once
	var mu sync.Mutex
	attempts := 0
	run := func(i int, first, second string) error {
		return s.InTx(ctx, func(tx store.Tx) error {
			mu.Lock()
			attempts++
			mu.Unlock()
			if _, err := tx.GetInstance(ctx, first, true); err != nil {
				return err
			}
			// Only the first attempts meet, so the retry cannot deadlock again.
			once[i].Do(func() { barrier.Done(); barrier.Wait() })
			_, err := tx.GetInstance(ctx, second, true)
			return err
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = run(0, "a", "b") })
	wg.Go(func() { errs[1] = run(1, "b", "a") })
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	assert.Equal(t, 3, attempts, "one transaction was re-run")
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := pgstore.Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", nil)
	assert.Error(t, err)
}

package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/test/scripted"
)

// Starting an operation resolves the instance's registered VIM inside the
// transaction that takes the operation slot. Reading it through the pool
// instead needed a second connection per transaction, and more concurrent
// requests than pooled connections then all waited for each other forever
// (Postgres' pool has 4 on 2 cores; SQLite's writers hold theirs).
func TestConcurrentStartsOnRegisteredVim(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/v1.0/vims.json", vimBody("pool", true))
		require.Equal(t, 201, r.status, "%s", r.body)
		vimID := r.json(t)["vim"].(map[string]any)["id"].(string)

		const n = 24
		ids := make([]string, n)
		for i := range ids {
			ids[i] = e.create()
		}
		resps := make([]*resp, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resps[i] = e.do("POST", "/vnflcm/v1/vnf_instances/"+ids[i]+"/instantiate", map[string]any{"flavourId": "simple",
					"vimConnectionInfo": []any{map[string]any{"id": "c1", "vimId": vimID, "vimType": scripted.VimType}}})
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%d concurrent instantiates did not all answer within 60 s: the store's connections are deadlocked", n)
		}
		t.Logf("%d concurrent instantiates accepted in %v", n, time.Since(start))
		ops := make([]string, n)
		for i, r := range resps {
			require.Equal(t, 202, r.status, "%s", r.body)
			loc := r.header.Get("Location")
			ops[i] = loc[strings.LastIndex(loc, "/")+1:]
		}
		for _, op := range ops {
			e.wait(op, "COMPLETED")
		}
	})
}

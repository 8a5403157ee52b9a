// Package bench measures vnfm end to end: the real HTTP API (httptest) over
// both stores, and LCM operations driven through the conductor with the
// scripted driver. The measurements are Go benchmarks, so a plain
// `go test ./test/bench/` only runs the small tests; scripts/bench.sh (make
// bench) runs the benchmarks:
//
//	BenchmarkGetInstance/{postgres,sqlite}/by_id      GET one of 10,000 instances
//	BenchmarkListFilter/{postgres,sqlite}/eq_vnfdId   filter on an indexed attribute (1% match)
//	BenchmarkListFilter/{postgres,sqlite}/cont_name   filter the store cannot narrow: a full scan
//	BenchmarkLCMOps                                   INSTANTIATE throughput on Postgres, next to pgbench -N
//
// Each store is seeded once per backend sub-benchmark (directly through the
// store, timed as seed_s); read requests run in parallel (b.RunParallel) and
// report req/s and latency percentiles. Postgres comes from storetest
// (VNFM_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432).
package bench

import (
	"github.com/vnfm-project/vnfm/internal/latency"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/pgstore"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

const (
	// seedInstances is how many instances the read benchmarks serve.
	seedInstances = 10000
	// vnfdCount distinct vnfdIds: (eq,vnfdId,vnfd-7) matches 1%.
	vnfdCount = 100
	// pageSize is the server's list page size (the vnfm default).
	pageSize = 100
	// readConcurrency is the number of client goroutines for reads.
	readConcurrency = 8
	// seedBatch instances per transaction; seedWorkers transactions at once
	// on Postgres (SQLite has one writer).
	seedBatch   = 500
	seedWorkers = 4

	apiPrefix = "/vnflcm/v1"
	// Names are vnf-0000 ... vnf-9999, so "-42" is in exactly vnf-4200 ...
	// vnf-4299: 100 matches, which fill a page, and the handler reads on to
	// the end of the table looking for a 101st.
	filterIndexed = "(eq,vnfdId,vnfd-7)"
	filterScan    = "(cont,vnfInstanceName,-42)"
)

// ---------------------------------------------------------------------------
// Read benchmarks

// backend opens a fresh, migrated store; analyze (may be nil) refreshes
// planner statistics after seeding, as autovacuum would.
type backend struct {
	name string
	open func(tb testing.TB) (st store.Store, analyze func(context.Context) error)
}

var backends = []backend{
	{"postgres", func(tb testing.TB) (store.Store, func(context.Context) error) {
		u := storetest.PostgresURL(tb)
		st, err := pgstore.Open(context.Background(), u, quietLog())
		if err != nil {
			tb.Fatalf("open postgres: %v", err)
		}
		tb.Cleanup(func() { _ = st.Close() }) // runs before the database is dropped
		return st, func(ctx context.Context) error {
			conn, err := pgx.Connect(ctx, u)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "VACUUM ANALYZE vnf_instances")
			return err
		}
	}},
	{"sqlite", func(tb testing.TB) (store.Store, func(context.Context) error) {
		return storetest.SQLite(tb), nil
	}},
}

// readFixture is a seeded store behind the real API.
type readFixture struct {
	url    string
	ids    []string
	seed   time.Duration
	client *http.Client
}

// forEachBackend runs fn per backend on a freshly seeded fixture. The
// fixture belongs to the backend-level sub-benchmark, whose body runs once
// (it has sub-benchmarks), so seeding happens once however often the leaf
// benchmarks are re-run to find b.N.
func forEachBackend(b *testing.B, fn func(b *testing.B, fx *readFixture)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			fn(b, newReadFixture(b, be))
		})
	}
}

func newReadFixture(b *testing.B, be backend) *readFixture {
	ctx := context.Background()
	st, analyze := be.open(b)
	ids, took, err := seed(ctx, st, seedInstances)
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("%s: seeded %d instances in %s (%.0f/s)", be.name, len(ids), took.Round(time.Millisecond), float64(len(ids))/took.Seconds())
	if took > 30*time.Second {
		b.Logf("WARNING: seeding took %s, more than the 30 s budget", took)
	}
	if analyze != nil {
		t0 := time.Now()
		if err := analyze(ctx); err != nil {
			b.Fatalf("analyze: %v", err)
		}
		b.Logf("%s: VACUUM ANALYZE took %s", be.name, time.Since(t0).Round(time.Millisecond))
	}

	// The access log is formatted as in production (JSON, info) but
	// discarded, so terminal output does not distort the numbers.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(ctx, server.Config{DataDir: b.TempDir(), PageSize: pageSize, Vnfds: scripted.Vnfds{}}, st, server.Static(driver.NewRegistry()), log)
	if err != nil {
		b.Fatalf("server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	client := newClient()
	b.Cleanup(func() {
		client.CloseIdleConnections()
		hs.Close()
	})
	fx := &readFixture{url: hs.URL, ids: ids, seed: took, client: client}

	// The benchmarks only check status codes; check the answers once here.
	if n := fx.mustList(b, filterIndexed); n != seedInstances/vnfdCount {
		b.Fatalf("filter %s: %d items, want %d", filterIndexed, n, seedInstances/vnfdCount)
	}
	if n := fx.mustList(b, filterScan); n != 100 {
		b.Fatalf("filter %s: %d items, want 100", filterScan, n)
	}
	if _, err := fx.get(fx.url + apiPrefix + "/vnf_instances/" + ids[len(ids)/2]); err != nil {
		b.Fatal(err)
	}
	return fx
}

func newClient() *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        128,
			MaxIdleConnsPerHost: 128,
			DisableCompression:  true,
		},
	}
}

// get GETs u and returns the body; a status other than 200 is an error.
func (fx *readFixture) get(u string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Version", "1.3.0")
	req.Header.Set("Accept", "application/json")
	res, err := fx.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.300s", u, res.StatusCode, body)
	}
	return body, nil
}

func (fx *readFixture) mustList(b *testing.B, filter string) int {
	body, err := fx.get(fx.url + apiPrefix + "/vnf_instances?filter=" + filter)
	if err != nil {
		b.Fatal(err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		b.Fatalf("list %s: %v", filter, err)
	}
	return len(items)
}

// seed creates n instances directly through the store: batches of
// seedBatch per transaction, seedWorkers transactions at once when the store
// allows concurrent writers. It returns the ids in creation order.
func seed(ctx context.Context, st store.Store, n int) ([]string, time.Duration, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	workers := 1
	if st.Shared() {
		workers = seedWorkers
	}
	batches := make(chan int)
	errs := make(chan error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for lo := range batches {
				hi := min(lo+seedBatch, n)
				err := st.InTx(ctx, func(tx store.Tx) error {
					for i := lo; i < hi; i++ {
						if err := tx.CreateInstance(ctx, seedInstance(i, ids[i])); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					for range batches { // drain
					}
					return
				}
			}
		})
	}
	for lo := 0; lo < n; lo += seedBatch {
		batches <- lo
	}
	close(batches)
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return nil, took, err
	}
	return ids, took, nil
}

// seedInstance is instance number i: two in three are INSTANTIATED with a
// VIM connection, two VNFCs and driver state, like ones the scripted driver
// makes; the rest are freshly created.
func seedInstance(i int, id string) *store.Instance {
	inst := &store.Instance{VnfInstance: model.VnfInstance{
		ID:                     id,
		VnfInstanceName:        fmt.Sprintf("vnf-%04d", i),
		VnfInstanceDescription: "benchmark instance",
		VnfdID:                 fmt.Sprintf("vnfd-%d", i%vnfdCount),
		VnfProvider:            "Scripted Inc.",
		VnfProductName:         "Scripted VNF",
		VnfSoftwareVersion:     "1.0",
		VnfdVersion:            "1.0",
		InstantiationState:     model.NotInstantiated,
		Metadata:               map[string]any{"tenant": fmt.Sprintf("tenant-%d", i%10)},
	}}
	if i%3 == 0 {
		return inst
	}
	inst.InstantiationState = model.Instantiated
	inst.VimConnectionInfo = []model.VimConnectionInfo{{
		ID: "vim-1", VimID: "c3d0ab2c-0000-4000-8000-000000000001", VimType: scripted.VimType,
		InterfaceInfo: map[string]any{"endpoint": "http://127.0.0.1:5000/v3"},
		AccessInfo:    map[string]any{"username": "admin", "region": "RegionOne"},
	}}
	info := &model.InstantiatedVnfInfo{
		FlavourID:   "simple",
		VnfState:    model.VnfStarted,
		ScaleStatus: []model.ScaleInfo{{AspectID: scripted.Aspect, ScaleLevel: 0}},
		ExtCpInfo:   []json.RawMessage{json.RawMessage(`{"id":"` + uuid.NewString() + `","cpdId":"CP1","cpProtocolInfo":[{"layerProtocol":"IP_OVER_ETHERNET"}]}`)},
	}
	for range 2 {
		info.VnfcResourceInfo = append(info.VnfcResourceInfo, model.VnfcResourceInfo{
			ID: uuid.NewString(), VduID: "VDU1",
			ComputeResource: model.ResourceHandle{VimConnectionID: "vim-1", ResourceID: "server-" + uuid.NewString(), VimLevelResourceType: "OS::Nova::Server"},
		})
	}
	inst.InstantiatedVnfInfo = info
	sealed := make([]byte, 160) // about what a sealed vimConnectionInfo takes
	_, _ = rand.Read(sealed)
	inst.Sealed = sealed
	inst.Private = json.RawMessage(`{"stack":"stack-` + id + `"}`)
	return inst
}

// benchGETs runs b.N GETs of the URL path(k) for k = 0, 1, ... from
// readConcurrency goroutines and reports req/s and latency percentiles.
func benchGETs(b *testing.B, fx *readFixture, path func(k int64) string) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism(max(1, (readConcurrency+procs-1)/procs))
	var (
		next     atomic.Int64
		failures atomic.Int64
		firstErr atomic.Pointer[error]
		mu       sync.Mutex
		all      = make([]time.Duration, 0, b.N)
	)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		lat := make([]time.Duration, 0, 256)
		for pb.Next() {
			u := fx.url + path(next.Add(1)-1)
			t0 := time.Now()
			_, err := fx.get(u)
			lat = append(lat, time.Since(t0))
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", n, b.N, *firstErr.Load())
	}
	reportLatency(b, all, "")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(fx.seed.Seconds(), "seed_s")
}

// BenchmarkGetInstance: GET /vnf_instances/{id}, ids round-robin over the
// 10,000 seeded instances.
func BenchmarkGetInstance(b *testing.B) {
	forEachBackend(b, func(b *testing.B, fx *readFixture) {
		b.Run("by_id", func(b *testing.B) {
			benchGETs(b, fx, func(k int64) string {
				return apiPrefix + "/vnf_instances/" + fx.ids[k%int64(len(fx.ids))]
			})
		})
	})
}

// BenchmarkListFilter: GET /vnf_instances?filter=... over 10,000 instances,
// one page of 100 results each time.
func BenchmarkListFilter(b *testing.B) {
	forEachBackend(b, func(b *testing.B, fx *readFixture) {
		for _, bc := range []struct{ name, filter string }{
			{"eq_vnfdId", filterIndexed}, // narrowed by the vnfd_id index
			{"cont_name", filterScan},    // read and matched row by row: full scan
		} {
			b.Run(bc.name, func(b *testing.B) {
				p := apiPrefix + "/vnf_instances?filter=" + bc.filter
				benchGETs(b, fx, func(int64) string { return p })
			})
		}
	})
}

// ---------------------------------------------------------------------------
// LCM operations

// lcmOps is how many instances BenchmarkLCMOps instantiates per round
// (VNFM_BENCH_LCM_OPS overrides it).
func lcmOps() int {
	if v, err := strconv.Atoi(os.Getenv("VNFM_BENCH_LCM_OPS")); err == nil && v > 0 {
		return v
	}
	return 500
}

// lcmClients is the number of client goroutines posting requests.
const lcmClients = 16

var lcmInstantiateBody = mustJSON(map[string]any{
	"flavourId": "simple",
	"vimConnectionInfo": []any{map[string]any{
		"id": "vim-1", "vimId": "c3d0ab2c-0000-4000-8000-000000000001", "vimType": scripted.VimType,
		"interfaceInfo": map[string]any{"endpoint": "http://127.0.0.1:5000/v3"},
		"accessInfo":    map[string]any{"username": "admin", "password": "bench-password", "region": "RegionOne"},
	}},
})

// BenchmarkLCMOps creates instances over HTTP, then posts INSTANTIATE for
// all of them concurrently and waits until every op occ is COMPLETED, with
// the conductor running the scripted driver on Postgres. ops/s counts from
// the first POST to the last op occ entering COMPLETED. pgbench -N then runs
// against the same Postgres server, so pgbench_N_tps shows what the machine
// does with plain small write transactions in the same run.
func BenchmarkLCMOps(b *testing.B) {
	n := lcmOps()
	ctx := context.Background()
	st := storetest.Postgres(b)
	drv := scripted.New()
	reg := driver.NewRegistry()
	drv.Register(reg)
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(ctx, server.Config{DataDir: b.TempDir(), PageSize: pageSize, Lease: 30 * time.Second, Vnfds: scripted.Vnfds{}}, st, server.Static(reg), log)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Conductor().Start(ctx); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	client := newClient()
	b.Cleanup(func() {
		client.CloseIdleConnections()
		hs.Close()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.Conductor().Stop(stopCtx)
	})

	var (
		opsDone    int
		opsTime    time.Duration
		createTime time.Duration
		accept     []time.Duration // POST instantiate round trips
		opLatency  []time.Duration // op occ startTime to COMPLETED
	)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		t0 := time.Now()
		ids, _, err := postAll(client, n, func(int) (string, []byte) {
			return hs.URL + apiPrefix + "/vnf_instances", []byte(`{"vnfdId":"vnfd-1","vnfInstanceName":"bench"}`)
		}, http.StatusCreated, func(res *http.Response, body []byte) (string, error) {
			var v struct {
				ID string `json:"id"`
			}
			return v.ID, json.Unmarshal(body, &v)
		})
		if err != nil {
			b.Fatalf("create instances: %v", err)
		}
		createTime += time.Since(t0)
		b.StartTimer()

		start := time.Now()
		opIDs, lat, err := postAll(client, n, func(i int) (string, []byte) {
			return hs.URL + apiPrefix + "/vnf_instances/" + ids[i] + "/instantiate", lcmInstantiateBody
		}, http.StatusAccepted, func(res *http.Response, _ []byte) (string, error) {
			loc := res.Header.Get("Location")
			if i := strings.LastIndex(loc, "/"); i >= 0 && i+1 < len(loc) {
				return loc[i+1:], nil
			}
			return "", fmt.Errorf("no op occ in Location %q", loc)
		})
		if err != nil {
			b.Fatalf("instantiate: %v", err)
		}
		accept = append(accept, lat...)
		ends, err := waitCompleted(ctx, st, opIDs, 2*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		last := start
		for _, op := range ends {
			last = maxTime(last, op.StateEnteredTime)
			opLatency = append(opLatency, op.StateEnteredTime.Sub(op.StartTime))
		}
		opsDone += len(ends)
		opsTime += last.Sub(start)
		b.StartTimer()
	}
	b.StopTimer()

	tps, pgErr := runPgbench(b)

	b.ReportMetric(float64(opsDone)/opsTime.Seconds(), "ops/s")
	b.ReportMetric(float64(n*b.N)/createTime.Seconds(), "creates/s")
	reportLatency(b, accept, "accept_")
	slices.Sort(opLatency)
	b.ReportMetric(ms(latency.Percentile(opLatency, 50)), "op_p50_ms")
	b.ReportMetric(ms(latency.Percentile(opLatency, 99)), "op_p99_ms")
	if pgErr != nil {
		b.Logf("pgbench not run: %v", pgErr)
	} else {
		b.ReportMetric(tps, "pgbench_N_tps")
	}
	b.Logf("LCM: %d INSTANTIATE op occs in %s with %d conductor workers (default) and %d clients; pgbench -N -c 4 -j 2 -T 10: %.0f tps",
		opsDone, opsTime.Round(time.Millisecond), 8, lcmClients, tps)
}

// postAll POSTs n requests from lcmClients goroutines, expecting status
// want, and returns what extract gets from each response (in request
// order) and the round-trip latencies.
func postAll(client *http.Client, n int, req func(i int) (string, []byte), want int,
	extract func(*http.Response, []byte) (string, error),
) ([]string, []time.Duration, error) {
	out := make([]string, n)
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(lcmClients, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				u, body := req(i)
				t0 := time.Now()
				v, err := post(client, u, body, want, extract)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	return out, lat, firstErr
}

func post(client *http.Client, u string, body []byte, want int, extract func(*http.Response, []byte) (string, error)) (string, error) {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Version", "1.3.0")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != want {
		return "", fmt.Errorf("POST %s: status %d, want %d: %.300s", u, res.StatusCode, want, raw)
	}
	return extract(res, raw)
}

// waitCompleted polls the store until every op occ in ids is COMPLETED and
// returns them; an op occ in another final state or FAILED_TEMP is an error.
func waitCompleted(ctx context.Context, st store.Store, ids []string, timeout time.Duration) ([]store.OpOcc, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(timeout)
	for {
		done, err := st.ListOpOccs(ctx, store.ListOptions{Where: []store.Cond{{
			Attr: "operationState", Values: []string{
				string(model.Completed), string(model.FailedTemp), string(model.Failed), string(model.RolledBack),
			},
		}}})
		if err != nil {
			return nil, err
		}
		var ours []store.OpOcc
		for _, op := range done {
			if !want[op.ID] {
				continue
			}
			if op.OperationState != model.Completed {
				detail := ""
				if op.Error != nil {
					detail = op.Error.Detail
				}
				return nil, fmt.Errorf("op occ %s ended %s: %s", op.ID, op.OperationState, detail)
			}
			ours = append(ours, op)
		}
		if len(ours) == len(want) {
			return ours, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d op occs COMPLETED after %s", len(ours), len(want), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// pgbench

const pgbenchDB = "vnfm_pgbench"

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// runPgbench initialises a scratch database with pgbench -i -s 1, runs
// pgbench -N -c 4 -j 2 -T 10 on it and drops it; it returns the tps.
func runPgbench(b *testing.B) (float64, error) {
	bin, err := findPgbench()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := postgresBaseURL()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return 0, fmt.Errorf("connect %s: %w", storetest.Redacted(base), err)
	}
	defer admin.Close(context.Background())
	drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{pgbenchDB}.Sanitize() + " WITH (FORCE)"
	if _, err := admin.Exec(ctx, drop); err != nil {
		return 0, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{pgbenchDB}.Sanitize()); err != nil {
		return 0, err
	}
	defer func() {
		if _, err := admin.Exec(context.Background(), drop); err != nil {
			b.Errorf("drop %s: %v", pgbenchDB, err)
		}
	}()
	dsn := storetest.WithDatabase(base, pgbenchDB)
	if out, err := exec.CommandContext(ctx, bin, "-i", "-s", "1", "-q", dsn).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "-N", "-c", "4", "-j", "2", "-T", "10", dsn).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench -N: %v: %s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no tps in pgbench output: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// findPgbench prefers the newest /usr/lib/postgresql/*/bin/pgbench, then PATH.
func findPgbench() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	sort.Slice(matches, func(i, j int) bool { return pgMajor(matches[i]) > pgMajor(matches[j]) })
	if len(matches) > 0 {
		return matches[0], nil
	}
	return exec.LookPath("pgbench")
}

func pgMajor(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// postgresBaseURL is the server storetest uses.
func postgresBaseURL() string {
	if u := os.Getenv(storetest.DatabaseURLEnv); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// ---------------------------------------------------------------------------
// Helpers

func reportLatency(b *testing.B, lat []time.Duration, prefix string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(ms(latency.Percentile(lat, 50)), prefix+"p50_ms")
	b.ReportMetric(ms(latency.Percentile(lat, 90)), prefix+"p90_ms")
	b.ReportMetric(ms(latency.Percentile(lat, 99)), prefix+"p99_ms")
	b.ReportMetric(ms(lat[len(lat)-1]), prefix+"max_ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// ---------------------------------------------------------------------------
// Tests (go test runs these; the benchmarks need -bench)

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 50, 7},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2}, 50, 1},
		{[]time.Duration{1, 2}, 51, 2},
		{[]time.Duration{1, 2, 3, 4}, 50, 2},
		{[]time.Duration{1, 2, 3, 4}, 75, 3},
		{[]time.Duration{1, 2, 3, 4}, 100, 4},
		{[]time.Duration{1, 2, 3, 4}, 0, 1},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 90, 90 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 99.5, 100 * time.Millisecond},
	} {
		if got := latency.Percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("latency.Percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

// TestSeedShape checks the premises of the list benchmarks: the indexed
// filter matches 1% of the seeded instances, and the scanning one exactly a
// page, so the handler reads the whole table.
func TestSeedShape(t *testing.T) {
	vnfd7, name42, instantiated := 0, 0, 0
	for i := range seedInstances {
		inst := seedInstance(i, uuid.NewString())
		if inst.VnfdID == "vnfd-7" {
			vnfd7++
		}
		if strings.Contains(inst.VnfInstanceName, "-42") {
			name42++
		}
		if inst.InstantiationState == model.Instantiated {
			instantiated++
		}
	}
	if vnfd7 != seedInstances/100 {
		t.Errorf("%s matches %d instances, want %d", filterIndexed, vnfd7, seedInstances/100)
	}
	if name42 != pageSize {
		t.Errorf("%s matches %d instances, want exactly a page (%d)", filterScan, name42, pageSize)
	}
	if instantiated == 0 || instantiated == seedInstances {
		t.Errorf("%d of %d instances instantiated, want a mix", instantiated, seedInstances)
	}
}

// TestVnfmLoad builds cmd/vnfm-load and runs it against a local test
// server: round-robin paths (a comma list whose filter holds commas), {id}
// filled from a list GET, the Version header, -n, the status histogram and
// the percentiles.
func TestVnfmLoad(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build vnfm-load")
	}
	bin := filepath.Join(t.TempDir(), "vnfm-load")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/vnfm-project/vnfm/cmd/vnfm-load")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build vnfm-load: %v\n%s", err, out)
	}

	const slow = 150 * time.Millisecond
	var mu sync.Mutex
	seen := map[string]int{}
	versions := map[string]int{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.RequestURI()]++
		versions[r.Header.Get("Version")]++
		mu.Unlock()
		switch {
		case r.URL.Path == "/vnflcm/v1/vnf_instances" && r.URL.RawQuery == "":
			// Two pages, linked as vnfm does.
			w.Header().Set("Link", `<http://`+r.Host+`/vnflcm/v1/vnf_instances?page=2>; rel="next"`)
			_, _ = io.WriteString(w, `[{"id":"a"},{"id":"b"}]`)
		case r.URL.Path == "/vnflcm/v1/vnf_instances" && r.URL.RawQuery == "page=2":
			_, _ = io.WriteString(w, `[{"id":"c"}]`)
		case r.URL.Path == "/vnflcm/v1/vnf_instances":
			_, _ = io.WriteString(w, `[]`)
		case r.URL.Path == "/vnflcm/v1/vnf_instances/c":
			http.Error(w, "gone", http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/vnflcm/v1/vnf_instances/"):
			_, _ = io.WriteString(w, `{}`)
		case r.URL.Path == "/slow":
			time.Sleep(slow)
			_, _ = io.WriteString(w, `{}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer hs.Close()

	const filterPath = "/vnflcm/v1/vnf_instances?filter=(eq,vnfdId,vnfd-7)"
	cmd := exec.Command(bin, "-url", hs.URL, "-c", "3", "-n", "60", "-d", "30s", "-json",
		"-path", filterPath+",/vnflcm/v1/vnf_instances/{id}", "-path", "/vnflcm/v1/vnf_instances/{id}")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vnfm-load: %v\n%s", err, out)
	}
	var rep struct {
		Requests  int64            `json:"requests"`
		Errors    int64            `json:"errors"`
		IDs       int              `json:"ids"`
		Status    map[string]int64 `json:"status"`
		RPS       float64          `json:"requestsPerSecond"`
		LatencyMs struct{ P50, P90, P99, Max float64 }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	// 60 requests: 20 filter lists, 40 by id over a, b, c (c is 404).
	if rep.Requests != 60 || rep.IDs != 3 || rep.RPS <= 0 {
		t.Errorf("report %+v, want 60 requests over 3 ids", rep)
	}
	if rep.Status["200"] != 60-40/3 || rep.Status["404"] != 40/3 || rep.Errors != 40/3 {
		t.Errorf("status %v errors %d, want 404 for a third of the 40 by-id requests", rep.Status, rep.Errors)
	}
	mu.Lock()
	if seen[filterPath] != 20 {
		t.Errorf("filter path requested %d times, want 20 (seen %v)", seen[filterPath], seen)
	}
	for _, id := range []string{"a", "b", "c"} {
		if n := seen["/vnflcm/v1/vnf_instances/"+id]; n < 13 || n > 14 {
			t.Errorf("instance %s requested %d times, want 13 or 14", id, n)
		}
	}
	if len(versions) != 1 || versions["1.3.0"] == 0 {
		t.Errorf("Version headers %v, want 1.3.0 on every request", versions)
	}
	mu.Unlock()

	// Percentiles: 9 fast paths to 1 slow one over 40 requests: p50 and p90
	// are fast, p99 and max slow.
	var args []string
	for range 9 {
		args = append(args, "-path", "/vnflcm/v1/vnf_instances/x")
	}
	args = append(args, "-path", "/slow")
	out, err = exec.Command(bin, append([]string{"-url", hs.URL, "-c", "2", "-n", "40", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("vnfm-load: %v\n%s", err, out)
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	slowMs := ms(slow)
	if l := rep.LatencyMs; l.P50 >= slowMs || l.P90 >= slowMs || l.P99 < slowMs || l.Max < slowMs {
		t.Errorf("latency %+v: want p50, p90 under %v ms and p99, max at least that", l, slowMs)
	}

	// Not loopback: refused before any request.
	cmd = exec.Command(bin, "-url", "http://192.0.2.1:9890", "-path", "/healthz", "-n", "1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not a loopback address") {
		t.Errorf("non-loopback -url: err %v, output %s", err, out)
	}
}

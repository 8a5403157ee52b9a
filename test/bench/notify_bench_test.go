package bench

import (
	"github.com/vnfm-project/vnfm/internal/latency"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// Notification delivery (the in-process twin of `vnfm-load notify`):
//
//	BenchmarkNotify/{postgres,sqlite}/clients={1,4}   100 subscribers,
//	        lifecycles of create, instantiate, terminate, delete
//
// Each round runs notifyInstances() lifecycles (default 10) from 1 or 4
// client goroutines through the HTTP API, with the conductor, the scripted driver
// and the notification deliverer running, and waits until every subscriber
// received all 8 notifications of every instance. It reports the delivery
// latency (receipt minus the notification's timeStamp, the state change) as
// p50-ms, p90-ms, p99-ms and max-ms, and notifs/s: notifications received
// over the time from the round's first request to its last receipt.

const (
	notifySubscribers = 100
	notifyClients     = 4
	notifsPerInstance = 8
)

// notifyInstances is how many lifecycles one round runs
// (VNFM_BENCH_NOTIFY_INSTANCES overrides it).
func notifyInstances() int {
	if v, err := strconv.Atoi(os.Getenv("VNFM_BENCH_NOTIFY_INSTANCES")); err == nil && v > 0 {
		return v
	}
	return 10
}

func BenchmarkNotify(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			fx := newNotifyFixture(b, be, notifySubscribers)
			// One client paces the lifecycles (delivery mostly keeps up);
			// four make more notifications than the deliverer sends, so
			// notifs/s is its throughput and the latency is queueing.
			for _, clients := range []int{1, notifyClients} {
				b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
					benchNotifyRounds(b, fx, be.name, clients)
				})
			}
		})
	}
}

func benchNotifyRounds(b *testing.B, fx *notifyFixture, name string, clients int) {
	n := notifyInstances()
	var (
		lat      []time.Duration
		received int
		spent    time.Duration
	)
	b.ResetTimer()
	for range b.N {
		r, err := fx.round(n, clients, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, r.latencies...)
		received += len(r.latencies)
		spent += r.span
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(ms(latency.Percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(latency.Percentile(lat, 90)), "p90-ms")
	b.ReportMetric(ms(latency.Percentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(float64(received)/spent.Seconds(), "notifs/s")
	b.Logf("%s: %d notifications to %d subscribers for %d lifecycles (%d clients) in %s",
		name, received, len(fx.eps.got), n*b.N, clients, spent.Round(time.Millisecond))
}

// TestNotifyRound runs one small round on SQLite, so that the benchmark's
// machinery (exact counts, order per subscriber) is checked by go test.
func TestNotifyRound(t *testing.T) {
	var sqlite backend
	for _, be := range backends {
		if be.name == "sqlite" {
			sqlite = be
		}
	}
	fx := newNotifyFixture(t, sqlite, 3)
	r, err := fx.round(2, 2, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.latencies) != 2*3*notifsPerInstance {
		t.Fatalf("%d notifications, want %d", len(r.latencies), 2*3*notifsPerInstance)
	}
}

// notifyFixture is a server with the deliverer running and the subscribers'
// endpoints.
type notifyFixture struct {
	url    string
	client *http.Client
	eps    *notifyEndpoints
}

func newNotifyFixture(tb testing.TB, be backend, subscribers int) *notifyFixture {
	ctx := context.Background()
	st, _ := be.open(tb)
	reg := driver.NewRegistry()
	scripted.New().Register(reg)
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(ctx, server.Config{DataDir: tb.TempDir(), PageSize: pageSize, Lease: 30 * time.Second, Vnfds: scripted.Vnfds{}},
		st, server.Static(reg), log)
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.StartBackground(ctx); err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	eps := &notifyEndpoints{got: make([][]notifyReceipt, subscribers), tick: make(chan struct{}, 1)}
	cb := httptest.NewServer(eps)
	client := newClient()
	tb.Cleanup(func() {
		client.CloseIdleConnections()
		hs.Close()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		srv.StopBackground(stopCtx)
		cb.Close()
	})
	fx := &notifyFixture{url: hs.URL, client: client, eps: eps}
	for i := range subscribers {
		body := mustJSON(map[string]any{"callbackUri": cb.URL + "/cb/" + strconv.Itoa(i)})
		if _, _, err := fx.call(http.MethodPost, "/subscriptions", body, http.StatusCreated); err != nil {
			tb.Fatalf("subscribe: %v", err)
		}
	}
	return fx
}

// notifyReceipt is one notification as an endpoint got it.
type notifyReceipt struct {
	at    time.Time
	ts    time.Time
	id    string
	inst  string
	phase int
}

type notifyEndpoints struct {
	mu    sync.Mutex
	got   [][]notifyReceipt
	total atomic.Int64
	tick  chan struct{}
}

func (e *notifyEndpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/cb/"))
	if err != nil || i < 0 || i >= len(e.got) {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	raw, err := io.ReadAll(r.Body)
	at := time.Now()
	var n struct {
		ID               string    `json:"id"`
		NotificationType string    `json:"notificationType"`
		TimeStamp        time.Time `json:"timeStamp"`
		VnfInstanceID    string    `json:"vnfInstanceId"`
		Operation        string    `json:"operation"`
		OperationState   string    `json:"operationState"`
	}
	if err != nil || json.Unmarshal(raw, &n) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.got[i] = append(e.got[i], notifyReceipt{at: at, ts: n.TimeStamp, id: n.ID, inst: n.VnfInstanceID,
		phase: notifyPhase(n.NotificationType, n.Operation, n.OperationState)})
	e.mu.Unlock()
	e.total.Add(1)
	select {
	case e.tick <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// notifyPhase orders an instance's notifications (-1: unexpected).
func notifyPhase(typ, op, state string) int {
	switch typ {
	case "VnfIdentifierCreationNotification":
		return 0
	case "VnfIdentifierDeletionNotification":
		return 7
	}
	base := map[string]int{"INSTANTIATE": 1, "TERMINATE": 4}[op]
	step := map[string]int{"STARTING": 0, "PROCESSING": 1, "COMPLETED": 2}
	if s, ok := step[state]; ok && base > 0 {
		return base + s
	}
	return -1
}

// take removes and returns everything received so far.
func (e *notifyEndpoints) take() [][]notifyReceipt {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.got
	e.got = make([][]notifyReceipt, len(out))
	e.total.Store(0)
	return out
}

type notifyRoundResult struct {
	latencies []time.Duration
	span      time.Duration
}

// round runs n lifecycles from k goroutines and waits for their
// notifications; any missing, duplicate, unexpected or out-of-order one is
// an error.
func (fx *notifyFixture) round(n, k int, timeout time.Duration) (*notifyRoundResult, error) {
	subs := len(fx.eps.got)
	start := time.Now()
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range min(k, n) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := fx.lifecycle(timeout); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	want := int64(n * subs * notifsPerInstance)
	deadline := time.After(timeout)
	for fx.eps.total.Load() < want {
		select {
		case <-fx.eps.tick:
		case <-deadline:
			return nil, fmt.Errorf("%d of %d notifications after %s", fx.eps.total.Load(), want, timeout)
		}
	}
	time.Sleep(100 * time.Millisecond) // room for duplicates to show
	got := fx.eps.take()
	res := &notifyRoundResult{}
	last := start
	for s, list := range got {
		if len(list) != n*notifsPerInstance {
			return nil, fmt.Errorf("subscriber %d got %d notifications, want %d", s, len(list), n*notifsPerInstance)
		}
		seen := map[string]bool{}
		phases := map[string]int{}
		for _, r := range list {
			if seen[r.id] {
				return nil, fmt.Errorf("subscriber %d: notification %s twice", s, r.id)
			}
			seen[r.id] = true
			if p, ok := phases[r.inst]; r.phase < 0 || (ok && r.phase != p+1) || (!ok && r.phase != 0) {
				return nil, fmt.Errorf("subscriber %d: instance %s: phase %d after %d", s, r.inst, r.phase, p)
			}
			phases[r.inst] = r.phase
			res.latencies = append(res.latencies, r.at.Sub(r.ts))
			last = maxTime(last, r.at)
		}
	}
	res.span = last.Sub(start)
	return res, nil
}

var notifyTerminateBody = []byte(`{"terminationType":"FORCEFUL"}`)

// lifecycle creates, instantiates, terminates and deletes one instance.
func (fx *notifyFixture) lifecycle(timeout time.Duration) error {
	_, raw, err := fx.call(http.MethodPost, "/vnf_instances", []byte(`{"vnfdId":"vnfd-1","vnfInstanceName":"bench"}`), http.StatusCreated)
	if err != nil {
		return err
	}
	var inst struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &inst); err != nil {
		return err
	}
	for _, t := range []struct {
		op   string
		body []byte
	}{{"instantiate", lcmInstantiateBody}, {"terminate", notifyTerminateBody}} {
		res, _, err := fx.call(http.MethodPost, "/vnf_instances/"+inst.ID+"/"+t.op, t.body, http.StatusAccepted)
		if err != nil {
			return err
		}
		loc := res.Header.Get("Location")
		if err := fx.waitOp(loc[strings.LastIndex(loc, "/")+1:], timeout); err != nil {
			return err
		}
	}
	_, _, err = fx.call(http.MethodDelete, "/vnf_instances/"+inst.ID, nil, http.StatusNoContent)
	return err
}

func (fx *notifyFixture) waitOp(id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, raw, err := fx.call(http.MethodGet, "/vnf_lcm_op_occs/"+id, nil, http.StatusOK)
		if err != nil {
			return err
		}
		var op struct {
			OperationState string `json:"operationState"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			return err
		}
		switch op.OperationState {
		case "COMPLETED":
			return nil
		case "FAILED_TEMP", "FAILED", "ROLLED_BACK":
			return fmt.Errorf("op occ %s is %s: %s", id, op.OperationState, raw)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("op occ %s still %s after %s", id, op.OperationState, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call sends a request to the API (path under /vnflcm/v1) and wants status.
func (fx *notifyFixture) call(method, path string, body []byte, want int) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, fx.url+apiPrefix+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Version", "1.3.0")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := fx.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, res.StatusCode, want, raw)
	}
	return res, raw, nil
}

// TestVnfmLoadNotify runs `vnfm-load notify` against an in-process vnfm
// (scripted driver): its subscribers must get every notification, and it
// must remove its subscriptions afterwards.
func TestVnfmLoadNotify(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build vnfm-load")
	}
	bin := filepath.Join(t.TempDir(), "vnfm-load")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/vnfm-project/vnfm/cmd/vnfm-load")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build vnfm-load: %v\n%s", err, out)
	}
	var sqlite backend
	for _, be := range backends {
		if be.name == "sqlite" {
			sqlite = be
		}
	}
	fx := newNotifyFixture(t, sqlite, 0)
	cmd := exec.Command(bin, "notify", "-url", fx.url, "-vnfd-id", "vnfd-1", "-instantiate-body", string(lcmInstantiateBody),
		"-subscribers", "5", "-instances", "3", "-c", "2", "-wait", "20s", "-json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vnfm-load notify: %v\n%s\n%s", err, out, stderr.String())
	}
	var rep struct {
		InstancesDone int              `json:"instancesDone"`
		Expected      int64            `json:"expected"`
		Received      int64            `json:"received"`
		Duplicates    int64            `json:"duplicates"`
		OutOfOrder    int64            `json:"outOfOrder"`
		Unsubscribed  int              `json:"unsubscribed"`
		PerSecond     float64          `json:"notificationsPerSecond"`
		ByType        map[string]int64 `json:"byType"`
		LatencyMs     struct{ P50, P99 float64 }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if rep.InstancesDone != 3 || rep.Expected != 3*5*notifsPerInstance || rep.Received != rep.Expected ||
		rep.Duplicates != 0 || rep.OutOfOrder != 0 || rep.Unsubscribed != 5 || rep.PerSecond <= 0 || rep.LatencyMs.P50 <= 0 {
		t.Errorf("report %s", out)
	}
	if rep.ByType["INSTANTIATE COMPLETED"] != 15 || rep.ByType["VnfIdentifierDeletionNotification"] != 15 {
		t.Errorf("by type %v", rep.ByType)
	}
	_, raw, err := fx.call(http.MethodGet, "/subscriptions", nil, http.StatusOK)
	if err != nil || string(bytes.TrimSpace(raw)) != "[]" {
		t.Errorf("subscriptions left: %s %v", raw, err)
	}
}

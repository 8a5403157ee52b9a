// Package e2e drives a whole vnfm (API, LCM service, conductor, store) over
// HTTP, with the scripted driver, on Postgres and on SQLite.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// testSecrets are planted in requests; no response body or log line may
// ever contain one (nor any other secret in testsecrets, which holds these).
var testSecrets = []string{testsecrets.VIMPassword, testsecrets.BearerToken, testsecrets.NodePassword}

type env struct {
	t      testing.TB
	url    string
	drv    *scripted.Driver
	srv    *server.Server
	st     store.Store
	logBuf *syncBuffer
	mu     sync.Mutex
	bodies [][]byte
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var backends = map[string]func(t testing.TB) store.Store{
	"postgres": func(t testing.TB) store.Store { return storetest.Postgres(t) },
	"sqlite":   func(t testing.TB) store.Store { return storetest.SQLite(t) },
}

// forEachStore runs fn as a parallel subtest per backend.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, open(t), 20))
		})
	}
}

func newEnv(t testing.TB, st store.Store, pageSize int, opts ...func(*server.Config)) *env {
	t.Helper()
	return newEnvWith(t, st, pageSize, nil, opts...)
}

// newEnvWith is newEnv with extra driver registrations.
func newEnvWith(t testing.TB, st store.Store, pageSize int, register func(*driver.Registry, *scripted.Driver), opts ...func(*server.Config)) *env {
	t.Helper()
	return newEnvDeps(t, st, pageSize, func(reg *driver.Registry, drv *scripted.Driver, _ server.Deps) {
		if register != nil {
			register(reg, drv)
		}
	}, opts...)
}

// newEnvDeps is newEnvWith for drivers that need the server's services.
func newEnvDeps(t testing.TB, st store.Store, pageSize int, register func(*driver.Registry, *scripted.Driver, server.Deps), opts ...func(*server.Config)) *env {
	t.Helper()
	drv := scripted.New()
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := server.Config{
		DataDir:  t.TempDir(),
		PageSize: pageSize,
		Lease:    3 * time.Second,
		Vnfds:    scripted.Vnfds{},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(context.Background(), cfg, st, func(d server.Deps) *driver.Registry {
		reg := driver.NewRegistry()
		drv.Register(reg)
		if register != nil {
			register(reg, drv, d)
		}
		return reg
	}, log)
	require.NoError(t, err)
	require.NoError(t, srv.StartBackground(context.Background()))
	e := &env{t: t, drv: drv, srv: srv, st: st, logBuf: logBuf}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		srv.Handler().ServeHTTP(rec, r)
		e.mu.Lock()
		e.bodies = append(e.bodies, rec.body.Bytes())
		e.mu.Unlock()
	}))
	e.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.StopBackground(ctx)
		for _, f := range e.secretFindings() {
			e.t.Errorf("%s", f)
		}
	})
	return e
}

type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// secretFindings checks every response body and the log against every
// registered test secret (of any test) and describes each leak; it returns
// them rather than failing so that a test can prove the check works.
func (e *env) secretFindings() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, b := range e.bodies {
		if s, ok := testsecrets.Find(b); ok {
			out = append(out, fmt.Sprintf("secret %q appeared in a response body: %s", s, b))
		}
	}
	if s, ok := testsecrets.Find([]byte(e.logBuf.String())); ok {
		out = append(out, fmt.Sprintf("secret %q appeared in the log", s))
	}
	return out
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r *resp) list(t testing.TB) []map[string]any {
	t.Helper()
	var l []map[string]any
	require.NoError(t, json.Unmarshal(r.body, &l), "body: %s", r.body)
	return l
}

// do sends a request; body may be a string (sent as is) or a value
// (marshalled). Headers come in pairs.
func (e *env) do(method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	return e.doAs(e.t, method, path, body, headers...)
}

// doAs is do reporting to t (a fuzz iteration's own T).
func (e *env) doAs(t testing.TB, method, path string, body any, headers ...string) *resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.url + path
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Version", "1.3.0")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NotEmpty(t, res.Header.Get("Version"), "every response carries a Version header")
	if res.StatusCode >= 400 {
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), "errors are ProblemDetails: %s", raw)
		var pd map[string]any
		require.NoError(t, json.Unmarshal(raw, &pd))
		require.EqualValues(t, res.StatusCode, pd["status"])
		require.NotEmpty(t, pd["detail"])
		validate(t, "ProblemDetails", raw)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: raw}
}

// create makes an instance and returns its id.
func (e *env) create() string {
	e.t.Helper()
	r := e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": "vnfd-1", "vnfInstanceName": "vnf-a"})
	require.Equal(e.t, 201, r.status, "%s", r.body)
	validate(e.t, "VnfInstance", r.body)
	return r.json(e.t)["id"].(string)
}

// task posts a task and returns the op occ id from Location.
func (e *env) task(id, name string, body any) string {
	e.t.Helper()
	r := e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/"+name, body)
	require.Equal(e.t, 202, r.status, "%s %s", name, r.body)
	require.Empty(e.t, r.body)
	loc := r.header.Get("Location")
	require.Contains(e.t, loc, "/vnflcm/v1/vnf_lcm_op_occs/")
	require.True(e.t, strings.HasPrefix(loc, "http://"), "Location is absolute: %s", loc)
	return loc[strings.LastIndex(loc, "/")+1:]
}

// wait polls the op occ until it is in one of states.
func (e *env) wait(opID string, states ...string) map[string]any {
	e.t.Helper()
	return e.waitFor(opID, 30*time.Second, states...)
}

// waitFor waits up to timeout for the op occ to reach one of states; a
// state it stays in by itself (FAILED_TEMP until someone acts, or a final
// one) that is not wanted fails at once.
func (e *env) waitFor(opID string, timeout time.Duration, states ...string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+opID, nil)
		require.Equal(e.t, 200, r.status)
		op := r.json(e.t)
		for _, s := range states {
			if op["operationState"] == s {
				validate(e.t, "VnfLcmOpOcc", r.body)
				return op
			}
		}
		switch op["operationState"] {
		case "FAILED_TEMP", "FAILED", "COMPLETED", "ROLLED_BACK":
			e.t.Fatalf("op occ %s is %v, want %v: %s", opID, op["operationState"], states, r.body)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("op occ %s stayed %v for %v, want %v: %s", opID, op["operationState"], timeout, states, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) instance(id string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/vnflcm/v1/vnf_instances/"+id, nil)
	require.Equal(e.t, 200, r.status, "%s", r.body)
	validate(e.t, "VnfInstance", r.body)
	return r.json(e.t)
}

var instantiateBody = map[string]any{
	"flavourId": "simple",
	"vimConnectionInfo": []any{map[string]any{
		"id": "vim-1", "vimId": "c3d0ab2c-0000-4000-8000-000000000001", "vimType": scripted.VimType,
		"interfaceInfo": map[string]any{"endpoint": "http://127.0.0.1:5000/v3"},
		"accessInfo":    map[string]any{"username": "admin", "password": "s3cret-VIM-password", "region": "RegionOne", "bearer_token": "s3cret-bearer-token"},
	}},
	"additionalParams": map[string]any{"k8s_cluster_installation_param": map[string]any{"master_node": map[string]any{"username": "ubuntu", "password": "s3cret-node-password"}}},
}

// withScript returns instantiateBody with a script in additionalParams.
func withScript(script map[string]string) map[string]any {
	b := map[string]any{}
	for k, v := range instantiateBody {
		b[k] = v
	}
	ap := map[string]any{"script": script}
	for k, v := range instantiateBody["additionalParams"].(map[string]any) {
		ap[k] = v
	}
	b["additionalParams"] = ap
	return b
}

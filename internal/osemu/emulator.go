// Package osemu emulates the parts of OpenStack (Keystone v3, Heat, Nova and
// a read-only Neutron) that vnfm's OpenStack infra driver uses, over real
// HTTP, so that gophercloud client code can be exercised without a cloud.
package osemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Config configures an Emulator.
type Config struct {
	Backend     Backend       // nil → Plain{}
	StateFile   string        // "" → memory only; else load at New and save (atomically: temp file + rename) after every change
	TokenTTL    time.Duration // default 1h
	ActionDelay time.Duration // minimum time a stack action / server build stays *_IN_PROGRESS / BUILD (default 100ms; tests use ~10ms)
	Region      string        // default "RegionOne"
	PublicURL   string        // base URL used in the service catalog and links; "" → derived from each request's Host (http://<Host>)
	Log         *slog.Logger  // nil → discard
}

// Well-known development credentials of the emulator.
const (
	DefaultUser           = "admin"
	DefaultPassword       = "admin"
	DefaultProject        = "admin"
	DefaultDomain         = "Default"
	DefaultAppCredID      = "vnfm-app-cred"
	DefaultAppCredSecret  = "vnfm-app-secret"
	defaultDomainID       = "default"
	defaultAppCredName    = "vnfm-app-cred"
	defaultActionDelay    = 100 * time.Millisecond
	maxRequestBody        = 32 << 20
	maxEventsPerStack     = 1000
	defaultFaultReason    = "Quota exceeded for cores: Requested 1, but already used 20 of 20 cores (HTTP 403)"
	serverErrorReasonFmt  = "Went to status %s due to \"Message: Unknown, Code: Unknown\""
	engineDownReasonFmt   = "Engine went down during stack %s"
	engineDownResReasonFm = "Engine went down during resource %s"
)

// DefaultNetworks are the shared networks every emulator starts with; each
// has one subnet (gateway .1, allocations from .10).
var DefaultNetworks = []struct{ Name, CIDR string }{
	{"public", "10.250.0.0/24"},
	{"net0", "10.250.1.0/24"},
	{"net1", "10.250.2.0/24"},
}

// ErrNotFound is returned by admin helpers for unknown objects.
var ErrNotFound = errors.New("not found")

// Fault is an injected failure; see Emulator.InjectFault.
type Fault struct {
	Target   string        `json:"target"`   // "stack_create","stack_update","stack_delete" (the action fails) | "keystone","heat","nova","neutron" (API answers Status)
	Times    int           `json:"times"`    // how many times it fires; 0 = until cleared
	Status   int           `json:"status"`   // API targets: HTTP status to answer (401, 403, 413, 500, 503...)
	Reason   string        `json:"reason"`   // stack_*: resource_status_reason of the failing resource; API: error message
	Resource string        `json:"resource"` // stack_*: name of the resource that fails (default: the first OS::Nova::Server created/updated)
	Latency  time.Duration `json:"latency"`  // API targets: extra delay per call (JSON: nanoseconds or a "200ms" string)
}

// UnmarshalJSON accepts latency as nanoseconds or a Go duration string.
func (f *Fault) UnmarshalJSON(b []byte) error {
	type plain Fault
	var aux struct {
		plain
		Latency json.RawMessage `json:"latency"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*f = Fault(aux.plain)
	if len(aux.Latency) == 0 || string(aux.Latency) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(aux.Latency, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		f.Latency = d
		return nil
	}
	var n int64
	if err := json.Unmarshal(aux.Latency, &n); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	f.Latency = time.Duration(n)
	return nil
}

type faultEntry struct {
	Fault
	left int // remaining firings; <0 unlimited
}

// Emulator is one emulated OpenStack cloud.
type Emulator struct {
	cfg     Config
	log     *slog.Logger
	backend Backend

	ctx    context.Context // cancelled by Close to stop async work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	st     *state
	tokens map[string]*token
	faults []*faultEntry
	closed bool
}

// New creates an emulator, loading Config.StateFile when it exists.
func New(cfg Config) (*Emulator, error) {
	if cfg.Backend == nil {
		cfg.Backend = Plain{}
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.ActionDelay <= 0 {
		cfg.ActionDelay = defaultActionDelay
	}
	if cfg.Region == "" {
		cfg.Region = "RegionOne"
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Emulator{cfg: cfg, log: log, backend: cfg.Backend, tokens: map[string]*token{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())

	st, err := e.initialState()
	if err != nil {
		e.cancel()
		return nil, err
	}
	e.st = st
	if err := e.saveLocked(); err != nil {
		e.cancel()
		return nil, err
	}
	// Backends are idempotent: restart every live server with its spec.
	for _, s := range st.Servers {
		if err := e.backend.Start(e.ctx, e.serverSpecLocked(s)); err != nil {
			e.log.Warn("backend start after restart failed", "server", s.ID, "err", err)
		}
	}
	return e, nil
}

func (e *Emulator) initialState() (*state, error) {
	if e.cfg.StateFile == "" {
		st := newState()
		e.seedNetworks(st)
		return st, nil
	}
	st, err := loadState(e.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		st = newState()
		e.seedNetworks(st)
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	recoverInterrupted(st)
	e.log.Info("state loaded", "file", e.cfg.StateFile, "stacks", len(st.Stacks), "servers", len(st.Servers))
	return st, nil
}

// recoverInterrupted turns actions the previous process did not finish into
// failures, as Heat does when an engine dies.
func recoverInterrupted(st *state) {
	for _, s := range st.Stacks {
		if s.Status == "IN_PROGRESS" {
			s.Status = "FAILED"
			s.Reason = fmt.Sprintf(engineDownReasonFmt, s.Action)
		}
		for _, r := range s.Resources {
			if r.Status == "IN_PROGRESS" {
				r.Status = "FAILED"
				r.Reason = fmt.Sprintf(engineDownResReasonFm, r.Action)
			}
		}
	}
}

func (e *Emulator) seedNetworks(st *state) {
	now := time.Now().UTC()
	for _, dn := range DefaultNetworks {
		n := &network{ID: newUUID(), Name: dn.Name, Shared: true, External: dn.Name == "public", Created: now}
		sn := &subnet{ID: newUUID(), Name: dn.Name + "-subnet", NetworkID: n.ID, CIDR: dn.CIDR, Created: now}
		sn.Gateway = gatewayOf(dn.CIDR)
		n.SubnetIDs = []string{sn.ID}
		st.Networks[n.ID] = n
		st.Subnets[sn.ID] = sn
	}
}

// Close stops asynchronous work, saves the state and closes the backend.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	e.mu.Lock()
	err := e.saveLocked()
	e.mu.Unlock()
	return errors.Join(err, e.backend.Close())
}

// saveLocked persists the state when a state file is configured.
func (e *Emulator) saveLocked() error {
	if e.cfg.StateFile == "" {
		return nil
	}
	b, err := json.Marshal(e.st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(e.cfg.StateFile, b)
}

// changed saves after a mutation; a failing disk is logged, not fatal, since
// the in-memory state is still consistent.
func (e *Emulator) changed() {
	if err := e.saveLocked(); err != nil {
		e.log.Error("saving state failed", "err", err)
	}
}

// InjectFault adds a fault; faults of the same target fire in insertion order.
func (e *Emulator) InjectFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	left := f.Times
	if left <= 0 {
		left = -1
	}
	e.faults = append(e.faults, &faultEntry{Fault: f, left: left})
	e.log.Info("fault injected", "target", f.Target, "times", f.Times, "status", f.Status, "resource", f.Resource)
}

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// takeFaultLocked returns the first matching fault and consumes one firing.
func (e *Emulator) takeFaultLocked(target string, match func(*Fault) bool) (Fault, bool) {
	for i, f := range e.faults {
		if f.Target != target || (match != nil && !match(&f.Fault)) {
			continue
		}
		out := f.Fault
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
		}
		return out, true
	}
	return Fault{}, false
}

// SetServerStatus forces a Nova server's status, e.g. "ERROR" or "SHUTOFF".
func (e *Emulator) SetServerStatus(id, status string) error {
	status = strings.ToUpper(strings.TrimSpace(status))
	switch status {
	case "ACTIVE", "ERROR", "SHUTOFF", "BUILD", "PAUSED", "SUSPENDED", "REBOOT", "HARD_REBOOT":
	default:
		return fmt.Errorf("server status %q: unsupported", status)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.st.Servers[id]
	if !ok {
		return fmt.Errorf("server %s: %w", id, ErrNotFound)
	}
	s.Status = status
	s.ReadyAt = time.Now()
	s.Updated = time.Now().UTC()
	e.changed()
	return nil
}

// ExpireTokens invalidates every issued token.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokens = map[string]*token{}
}

// Handler serves every API on one listener.
func (e *Emulator) Handler() http.Handler {
	return http.HandlerFunc(e.serveHTTP)
}

func (e *Emulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		e.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.code, "dur", time.Since(start))
	}()
	p := r.URL.Path
	switch {
	case p == "/" || p == "":
		e.serveVersions(sw, r)
	case p == "/v3" || strings.HasPrefix(p, "/v3/"):
		if e.apiFault(sw, r, "keystone") {
			return
		}
		e.serveKeystone(sw, r)
	case strings.HasPrefix(p, "/heat-api/"):
		e.serveService(sw, r, "heat", e.serveHeat)
	case p == "/compute" || strings.HasPrefix(p, "/compute/"):
		e.serveService(sw, r, "nova", e.serveNova)
	case p == "/networking" || strings.HasPrefix(p, "/networking/"):
		e.serveService(sw, r, "neutron", e.serveNeutron)
	case strings.HasPrefix(p, "/admin/"):
		e.serveAdmin(sw, r)
	default:
		writeJSON(sw, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 404, "title": "Not Found", "message": "The resource could not be found."}})
	}
}

func (e *Emulator) serveService(w http.ResponseWriter, r *http.Request, svc string, h func(http.ResponseWriter, *http.Request)) {
	if e.apiFault(w, r, svc) {
		return
	}
	if !e.validToken(r.Header.Get("X-Auth-Token")) {
		writeKeystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	h(w, r)
}

// apiFault applies latency and error faults of an API target; true when it
// answered the request.
func (e *Emulator) apiFault(w http.ResponseWriter, r *http.Request, svc string) bool {
	e.mu.Lock()
	f, ok := e.takeFaultLocked(svc, nil)
	e.mu.Unlock()
	if !ok {
		return false
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.Status == 0 {
		return false
	}
	msg := f.Reason
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	if f.Status == http.StatusServiceUnavailable || f.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	switch svc {
	case "keystone":
		writeKeystoneError(w, f.Status, msg)
	case "heat":
		writeHeatError(w, f.Status, "InjectedFault", msg)
	case "nova":
		writeNovaError(w, f.Status, msg)
	default:
		writeNeutronError(w, f.Status, "InjectedFault", msg)
	}
	return true
}

// baseURL is the public base of the emulator for this request.
func (e *Emulator) baseURL(r *http.Request) string {
	if e.cfg.PublicURL != "" {
		return e.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (e *Emulator) serveVersions(w http.ResponseWriter, r *http.Request) {
	base := e.baseURL(r)
	writeJSON(w, http.StatusMultipleChoices, map[string]any{"versions": map[string]any{"values": []any{keystoneVersion(base)}}})
}

func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/admin/")
	switch {
	case p == "faults" && r.Method == http.MethodPost:
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		if !validFaultTarget(f.Target) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unknown fault target " + f.Target})
			return
		}
		e.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	case p == "faults" && r.Method == http.MethodDelete:
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "servers/") && r.Method == http.MethodPost:
		var body struct {
			Status string `json:"status"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		err := e.SetServerStatus(strings.TrimPrefix(p, "servers/"), body.Status)
		switch {
		case errors.Is(err, ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	case p == "tokens/expire" && r.Method == http.MethodPost:
		e.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	case p == "state" && r.Method == http.MethodGet:
		e.mu.Lock()
		b, err := json.Marshal(e.st)
		e.mu.Unlock()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "unknown admin endpoint"})
	}
}

func validFaultTarget(t string) bool {
	switch t {
	case "stack_create", "stack_update", "stack_delete", "keystone", "heat", "nova", "neutron":
		return true
	}
	return false
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(c int) {
	if s.code == 0 {
		s.code = c
	}
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeKeystoneError(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Keystone uri="/v3"`)
	}
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "title": http.StatusText(code)}})
}

func writeHeatError(w http.ResponseWriter, code int, typ, msg string) {
	expl := map[int]string{
		400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
		404: "The resource could not be found.",
		409: "There was a conflict when trying to complete your request.",
	}[code]
	if expl == "" {
		expl = msg
	}
	writeJSON(w, code, map[string]any{
		"explanation": expl,
		"code":        code,
		"error":       map[string]any{"message": msg, "traceback": nil, "type": typ},
		"title":       http.StatusText(code),
	})
}

func writeNovaError(w http.ResponseWriter, code int, msg string) {
	kind := map[int]string{400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest", 413: "overLimit", 429: "overLimit", 503: "serviceUnavailable"}[code]
	if kind == "" {
		kind = "computeFault"
	}
	writeJSON(w, code, map[string]any{kind: map[string]any{"code": code, "message": msg}})
}

func writeNeutronError(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, map[string]any{"NeutronError": map[string]any{"type": typ, "message": msg, "detail": ""}})
}

// splitPath splits a URL path below prefix into its segments.
func splitPath(p, prefix string) []string {
	p = strings.Trim(strings.TrimPrefix(p, prefix), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

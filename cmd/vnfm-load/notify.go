package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const notifyUsageText = `usage: vnfm-load notify -url http://127.0.0.1:9890 -vnfd-id VNFD [flags]

vnfm-load notify measures LCM notification delivery of YOUR OWN vnfm. It
serves -subscribers notification endpoints on one loopback listener
(/cb/0 ... /cb/N-1), subscribes each of them to the vnfm at -url (filtered
to the instances of this run, by vnfInstanceName), then runs -instances
lifecycles from -c concurrent workers: create, instantiate, terminate,
delete, each operation polled to COMPLETED. It waits for the notifications
(8 per instance and subscriber: creation, START/PROCESSING/COMPLETED of
both operations, deletion), deletes the subscriptions and reports:

  latency        receipt time minus the notification's timeStamp (the
                 state change): p50/p90/p99/max
  notifications/s  received notifications over the time from the first
                 create to the last receipt
  expected, received, duplicates and out-of-order counts

The instantiate request defaults to {"flavourId":"simple"}: no
vimConnectionInfo, so the server's default VIM is used (make run registers
the OpenStack emulator). Give another body with -instantiate-body (JSON text,
or @FILE).

The same loopback rule as the GET mode applies: -url must be a loopback
address unless -allow-remote, and the callbacks listen on -listen (default
127.0.0.1, a free port).

Flags:
`

// notifyConfig is the notify mode's configuration.
type notifyConfig struct {
	base            *url.URL
	subscribers     int
	instances       int
	concurrency     int
	vnfdID          string
	instantiateBody []byte
	terminateBody   []byte
	listen          string
	wait            time.Duration
	opTimeout       time.Duration
	timeout         time.Duration
	jsonOut         bool
	allowRemote     bool
}

// NotifyReport is the notify mode's result, also its -json output.
type NotifyReport struct {
	URL         string `json:"url"`
	Subscribers int    `json:"subscribers"`
	Instances   int    `json:"instances"`
	Concurrency int    `json:"concurrency"`
	// InstancesDone went through create, instantiate, terminate and delete.
	InstancesDone int    `json:"instancesDone"`
	Errors        int    `json:"errors"`
	FirstError    string `json:"firstError,omitempty"`
	// OpsS is from the first create to the last delete.
	OpsS float64 `json:"opsSeconds"`
	// DeliveryS is from the first create to the last notification received.
	DeliveryS float64 `json:"deliverySeconds"`
	// Expected are the notifications of the instances done, for every
	// subscriber; Received those of them that arrived (without duplicates).
	Expected   int64 `json:"expected"`
	Received   int64 `json:"received"`
	Duplicates int64 `json:"duplicates"`
	OutOfOrder int64 `json:"outOfOrder"`
	// Other counts notifications of instances not done (failed operations).
	Other        int64            `json:"other"`
	PerSecond    float64          `json:"notificationsPerSecond"`
	LatencyMs    Latency          `json:"latencyMs"`
	ByType       map[string]int64 `json:"byType"`
	Unsubscribed int              `json:"unsubscribed"`
}

const (
	maxSubscribers      = 1000
	maxNotifyInstances  = 100000
	notificationsPerRun = 8 // per instance and subscriber
)

func runNotify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vnfm-load notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, notifyUsageText)
		fs.PrintDefaults()
	}
	cfg := notifyConfig{}
	var rawURL, instantiate, terminate string
	fs.StringVar(&rawURL, "url", "", "base URL of YOUR OWN vnfm, e.g. http://127.0.0.1:9890 (loopback unless -allow-remote)")
	fs.IntVar(&cfg.subscribers, "subscribers", 100, "notification endpoints, one subscription each")
	fs.IntVar(&cfg.instances, "instances", 20, "lifecycles (create, instantiate, terminate, delete) to run")
	fs.IntVar(&cfg.concurrency, "c", 8, "lifecycles run at once")
	fs.StringVar(&cfg.vnfdID, "vnfd-id", "", "vnfdId of the instances (an onboarded VNFD)")
	fs.StringVar(&instantiate, "instantiate-body", `{"flavourId":"simple"}`, "InstantiateVnfRequest: JSON text or @FILE")
	fs.StringVar(&terminate, "terminate-body", `{"terminationType":"FORCEFUL"}`, "TerminateVnfRequest: JSON text or @FILE")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "address the notification endpoints listen on (vnfm must reach it)")
	fs.DurationVar(&cfg.wait, "wait", 60*time.Second, "how long to wait for missing notifications without any arriving")
	fs.DurationVar(&cfg.opTimeout, "op-timeout", 2*time.Minute, "how long one operation may take")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a non-loopback -url (only for a test server of your own)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vnfm-load notify: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.check(rawURL, instantiate, terminate); err != nil {
		fmt.Fprintln(stderr, "vnfm-load notify:", err)
		fmt.Fprintln(stderr, "run vnfm-load notify -h for usage")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := cfg.run(ctx, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "vnfm-load notify:", err)
		return 1
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printNotifyReport(stdout, rep)
	}
	if rep.Errors > 0 || rep.Received < rep.Expected {
		return 1
	}
	return 0
}

func (c *notifyConfig) check(rawURL, instantiate, terminate string) error {
	// Reuse the GET mode's URL checks (it needs a path to accept the URL).
	g := config{paths: []string{"/"}, concurrency: 1, duration: time.Second, timeout: time.Second, allowRemote: c.allowRemote}
	if err := g.check(rawURL); err != nil {
		return err
	}
	c.base = g.base
	if c.vnfdID == "" {
		return errors.New("-vnfd-id is required (an onboarded VNFD's id)")
	}
	if c.subscribers < 1 || c.subscribers > maxSubscribers {
		return fmt.Errorf("-subscribers %d: want 1..%d", c.subscribers, maxSubscribers)
	}
	if c.instances < 1 || c.instances > maxNotifyInstances {
		return fmt.Errorf("-instances %d: want 1..%d", c.instances, maxNotifyInstances)
	}
	if c.concurrency < 1 || c.concurrency > maxConcurrency {
		return fmt.Errorf("-c %d: want 1..%d", c.concurrency, maxConcurrency)
	}
	if c.wait <= 0 || c.opTimeout <= 0 || c.timeout <= 0 {
		return errors.New("-wait, -op-timeout and -timeout must be more than 0")
	}
	host, _, err := net.SplitHostPort(c.listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", c.listen, err)
	}
	if ip := net.ParseIP(host); !c.allowRemote && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %q: want a loopback IP address (or -allow-remote)", c.listen)
	}
	if c.instantiateBody, err = jsonArg("-instantiate-body", instantiate); err != nil {
		return err
	}
	if c.terminateBody, err = jsonArg("-terminate-body", terminate); err != nil {
		return err
	}
	return nil
}

// jsonArg reads a JSON object given as text or @FILE.
func jsonArg(name, v string) ([]byte, error) {
	raw := []byte(v)
	if strings.HasPrefix(v, "@") {
		var err error
		if raw, err = os.ReadFile(v[1:]); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	return raw, nil
}

// received is one notification as an endpoint got it.
type received struct {
	at       time.Time
	id       string
	typ      string
	ts       time.Time
	instance string
	op       string
	state    string
}

// endpoints records what the notification endpoints receive.
type endpoints struct {
	mu    sync.Mutex
	got   [][]received // per subscriber
	total atomic.Int64
	bad   atomic.Int64 // unparsable or to an unknown path
	tick  chan struct{}
}

func newEndpoints(n int) *endpoints {
	return &endpoints{got: make([][]received, n), tick: make(chan struct{}, 1)}
}

func (e *endpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/cb/"))
	if !strings.HasPrefix(r.URL.Path, "/cb/") || err != nil || i < 0 || i >= len(e.got) {
		e.bad.Add(1)
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet: // the subscription's test
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	at := time.Now()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var n struct {
		ID               string    `json:"id"`
		NotificationType string    `json:"notificationType"`
		TimeStamp        time.Time `json:"timeStamp"`
		VnfInstanceID    string    `json:"vnfInstanceId"`
		Operation        string    `json:"operation"`
		OperationState   string    `json:"operationState"`
	}
	if err := json.Unmarshal(raw, &n); err != nil || n.ID == "" {
		e.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.got[i] = append(e.got[i], received{at: at, id: n.ID, typ: n.NotificationType, ts: n.TimeStamp,
		instance: n.VnfInstanceID, op: n.Operation, state: n.OperationState})
	e.mu.Unlock()
	e.total.Add(1)
	select {
	case e.tick <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// phase orders an instance's notifications: creation, the instantiate's
// states, the terminate's, deletion; -1 for anything else.
func phase(n *received) int {
	switch n.typ {
	case "VnfIdentifierCreationNotification":
		return 0
	case "VnfIdentifierDeletionNotification":
		return 7
	}
	base := map[string]int{"INSTANTIATE": 1, "TERMINATE": 4}[n.op]
	if base == 0 {
		return -1
	}
	switch n.state {
	case "STARTING":
		return base
	case "PROCESSING":
		return base + 1
	case "COMPLETED":
		return base + 2
	}
	return -1
}

// lcmClient is the notify mode's HTTP side.
type lcmClient struct {
	base string
	hc   *http.Client
}

func (c *lcmClient) do(ctx context.Context, method, path string, body []byte, want int) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Version", apiVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vnfm-load")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != want {
		return res, raw, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, res.StatusCode, want, raw)
	}
	return res, raw, nil
}

// task posts an operation and polls its op occ until it ends.
func (c *lcmClient) task(ctx context.Context, instID, op string, body []byte, timeout time.Duration) error {
	res, _, err := c.do(ctx, http.MethodPost, "/vnflcm/v1/vnf_instances/"+url.PathEscape(instID)+"/"+op, body, http.StatusAccepted)
	if err != nil {
		return err
	}
	loc := res.Header.Get("Location")
	i := strings.LastIndex(loc, "/")
	if i < 0 || i+1 >= len(loc) {
		return fmt.Errorf("%s of %s: no op occ in Location %q", op, instID, loc)
	}
	opID := loc[i+1:]
	deadline := time.Now().Add(timeout)
	wait := 20 * time.Millisecond
	for {
		_, raw, err := c.do(ctx, http.MethodGet, "/vnflcm/v1/vnf_lcm_op_occs/"+url.PathEscape(opID), nil, http.StatusOK)
		if err != nil {
			return err
		}
		var o struct {
			OperationState string `json:"operationState"`
			Error          *struct {
				Detail string `json:"detail"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return fmt.Errorf("op occ %s: %w", opID, err)
		}
		switch o.OperationState {
		case "COMPLETED":
			return nil
		case "FAILED_TEMP", "FAILED", "ROLLED_BACK":
			detail := ""
			if o.Error != nil {
				detail = ": " + o.Error.Detail
			}
			return fmt.Errorf("%s of %s: op occ %s is %s%s", op, instID, opID, o.OperationState, detail)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s of %s: op occ %s still %s after %s", op, instID, opID, o.OperationState, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// lifecycle creates, instantiates, terminates and deletes one instance.
func (c *lcmClient) lifecycle(ctx context.Context, cfg *notifyConfig, name string, created func(id string)) error {
	body, _ := json.Marshal(map[string]string{"vnfdId": cfg.vnfdID, "vnfInstanceName": name})
	_, raw, err := c.do(ctx, http.MethodPost, "/vnflcm/v1/vnf_instances", body, http.StatusCreated)
	if err != nil {
		return err
	}
	var inst struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &inst); err != nil || inst.ID == "" {
		return fmt.Errorf("create: no id in %.200s", raw)
	}
	created(inst.ID)
	if err := c.task(ctx, inst.ID, "instantiate", cfg.instantiateBody, cfg.opTimeout); err != nil {
		return err
	}
	if err := c.task(ctx, inst.ID, "terminate", cfg.terminateBody, cfg.opTimeout); err != nil {
		return err
	}
	_, _, err = c.do(ctx, http.MethodDelete, "/vnflcm/v1/vnf_instances/"+url.PathEscape(inst.ID), nil, http.StatusNoContent)
	return err
}

// parallel runs fn(0..n-1) from k goroutines and returns the errors.
func parallel(n, k int, fn func(i int) error) []error {
	var next atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range min(k, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

func (cfg *notifyConfig) run(ctx context.Context, stderr io.Writer) (*NotifyReport, error) {
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	eps := newEndpoints(cfg.subscribers)
	hs := &http.Server{Handler: eps, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	cbBase := "http://" + ln.Addr().String()

	c := &lcmClient{base: cfg.base.String(), hc: &http.Client{
		Timeout: cfg.timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        cfg.concurrency * 4,
			MaxIdleConnsPerHost: cfg.concurrency * 4,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer c.hc.CloseIdleConnections()

	// One instance name for the whole run: the subscriptions' filter.
	tok := make([]byte, 6)
	_, _ = rand.Read(tok)
	name := "vnfm-load-" + hex.EncodeToString(tok)
	subIDs := make([]string, cfg.subscribers)
	rep := &NotifyReport{URL: cfg.base.String(), Subscribers: cfg.subscribers, Instances: cfg.instances,
		Concurrency: cfg.concurrency, ByType: map[string]int64{}}
	// The subscriptions go whatever happens: a leftover one would be
	// retried against a closed port for a day.
	defer func() {
		ids := make([]string, 0, len(subIDs))
		for _, id := range subIDs {
			if id != "" {
				ids = append(ids, id)
			}
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		errs := parallel(len(ids), cfg.concurrency, func(i int) error {
			_, _, err := c.do(cctx, http.MethodDelete, "/vnflcm/v1/subscriptions/"+url.PathEscape(ids[i]), nil, http.StatusNoContent)
			return err
		})
		rep.Unsubscribed = len(ids) - len(errs)
		for _, err := range errs {
			fmt.Fprintln(stderr, "vnfm-load notify: unsubscribe:", err)
		}
	}()
	errs := parallel(cfg.subscribers, cfg.concurrency, func(i int) error {
		body, _ := json.Marshal(map[string]any{
			"callbackUri": cbBase + "/cb/" + strconv.Itoa(i),
			"filter":      map[string]any{"vnfInstanceSubscriptionFilter": map[string]any{"vnfInstanceNames": []string{name}}},
		})
		_, raw, err := c.do(ctx, http.MethodPost, "/vnflcm/v1/subscriptions", body, http.StatusCreated)
		if err != nil {
			return err
		}
		var s struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &s); err != nil || s.ID == "" {
			return fmt.Errorf("subscribe: no id in %.200s", raw)
		}
		subIDs[i] = s.ID
		return nil
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("subscribe (%d of %d failed): %w", len(errs), cfg.subscribers, errs[0])
	}

	var mu sync.Mutex
	done := map[string]bool{}
	start := time.Now()
	errs = parallel(cfg.instances, cfg.concurrency, func(int) error {
		var id string
		err := c.lifecycle(ctx, cfg, name, func(s string) { id = s })
		if err == nil {
			mu.Lock()
			done[id] = true
			mu.Unlock()
		}
		return err
	})
	opsEnd := time.Now()
	rep.OpsS = opsEnd.Sub(start).Seconds()
	rep.InstancesDone = len(done)
	rep.Errors = len(errs)
	if len(errs) > 0 {
		rep.FirstError = errs[0].Error()
	}
	rep.Expected = int64(len(done)) * notificationsPerRun * int64(cfg.subscribers)

	// Wait for the rest: until every expected one is in, or none came for
	// -wait. (Counting all arrivals is an upper bound; the report counts
	// them properly below.)
	idle := time.NewTimer(cfg.wait)
	defer idle.Stop()
	for eps.total.Load() < rep.Expected && ctx.Err() == nil {
		select {
		case <-eps.tick:
			idle.Reset(cfg.wait)
		case <-idle.C:
			fmt.Fprintf(stderr, "vnfm-load notify: no notification for %s, %d of %d in\n", cfg.wait, eps.total.Load(), rep.Expected)
			goto count
		case <-ctx.Done():
		}
	}
	// Anything late (duplicates, extras) gets a moment to show up.
	time.Sleep(200 * time.Millisecond)
count:
	eps.mu.Lock()
	defer eps.mu.Unlock()
	var lat []time.Duration
	last := start
	for _, got := range eps.got {
		seen := map[string]bool{}
		phases := map[string]int{}
		for k := range got {
			n := &got[k]
			if !done[n.instance] {
				rep.Other++
				continue
			}
			if seen[n.id] {
				rep.Duplicates++
				continue
			}
			seen[n.id] = true
			rep.Received++
			key := n.typ
			if n.op != "" {
				key = n.op + " " + n.state
			}
			rep.ByType[key]++
			if p, ok := phases[n.instance]; ok && phase(n) < p {
				rep.OutOfOrder++
			} else {
				phases[n.instance] = phase(n)
			}
			lat = append(lat, n.at.Sub(n.ts))
			if n.at.After(last) {
				last = n.at
			}
		}
	}
	rep.DeliveryS = last.Sub(start).Seconds()
	if rep.DeliveryS > 0 {
		rep.PerSecond = float64(rep.Received) / rep.DeliveryS
	}
	rep.LatencyMs = latencyStats(lat)
	if b := eps.bad.Load(); b > 0 {
		fmt.Fprintf(stderr, "vnfm-load notify: %d malformed notification requests\n", b)
	}
	return rep, nil
}

func printNotifyReport(w io.Writer, r *NotifyReport) {
	fmt.Fprintf(w, "target         %s\n", r.URL)
	fmt.Fprintf(w, "subscribers    %d\n", r.Subscribers)
	fmt.Fprintf(w, "instances      %d done of %d (concurrency %d), lifecycles took %.2fs\n", r.InstancesDone, r.Instances, r.Concurrency, r.OpsS)
	fmt.Fprintf(w, "notifications  %d received of %d expected, %d duplicates, %d out of order, %d for failed instances\n",
		r.Received, r.Expected, r.Duplicates, r.OutOfOrder, r.Other)
	fmt.Fprintf(w, "delivery       %.2fs from the first create to the last receipt: %.1f notifications/s\n", r.DeliveryS, r.PerSecond)
	l := r.LatencyMs
	fmt.Fprintf(w, "latency ms     p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (min %.3f, mean %.3f)  state change to receipt\n",
		l.P50, l.P90, l.P99, l.Max, l.Min, l.Mean)
	keys := make([]string, 0, len(r.ByType))
	for k := range r.ByType {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "by type")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-36s %d\n", k, r.ByType[k])
	}
	fmt.Fprintf(w, "errors         %d\n", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error    %s\n", r.FirstError)
	}
	fmt.Fprintf(w, "unsubscribed   %d of %d\n", r.Unsubscribed, r.Subscribers)
}

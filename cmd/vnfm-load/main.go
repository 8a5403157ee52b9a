// Command vnfm-load is a small HTTP load generator for benchmarking your own
// vnfm (or any SOL003 server you run): it sends GET requests to one base URL
// from a fixed number of concurrent workers for a bounded time and prints
// throughput, latency percentiles, errors and a status code histogram.
//
// vnfm-load notify instead measures LCM notification delivery: it serves
// loopback notification endpoints, subscribes them, runs create, instantiate,
// terminate and delete lifecycles and reports the delivery latency (state
// change to receipt) and notifications/s (see notify.go).
//
// Point it only at a server you operate, normally on the loopback interface;
// it refuses non-loopback targets unless -allow-remote is given.
package main

import (
	"github.com/vnfm-project/vnfm/internal/latency"

	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	apiVersion     = "1.3.0"
	maxDuration    = 5 * time.Minute
	idPlaceholder  = "{id}"
	maxConcurrency = 1024
	maxIDs         = 100000
)

const usageText = `usage: vnfm-load -url http://127.0.0.1:9890 -path PATH [-path PATH ...] [flags]

vnfm-load sends GET requests (with "Version: %s") to the server at -url and
reports requests/s, p50/p90/p99/max latency, the error count and a status
code histogram.

Only point it at your own server, normally on the loopback interface
(127.0.0.1, ::1, localhost): it is meant for benchmarking a vnfm you run,
not for loading anybody else's service. A URL whose host does not resolve
to a loopback address is refused unless -allow-remote is given, which you
should use only for a test server of your own on another machine.

Each request takes the next path round-robin. -path is repeatable; one -path
may also hold a comma list, split only at commas followed by "/" (so SOL013
filters such as filter=(eq,vnfdId,vnfd-7) stay whole). A path may contain
{id}: it is replaced, round-robin, by ids read from -ids-file (one per line)
or, without it, collected first with a list GET of -ids-from (default: the
path up to "/{id}", e.g. /vnflcm/v1/vnf_instances), following Link rel="next"
pages.

vnfm-load notify ... measures notification delivery instead (vnfm-load
notify -h).

Examples:
  vnfm-load -url http://127.0.0.1:9890 -path /vnflcm/v1/vnf_instances/{id} -c 8 -d 10s
  vnfm-load -url http://127.0.0.1:9890 -path '/vnflcm/v1/vnf_instances?filter=(eq,vnfdId,vnfd-7)' -json

Flags:
`

type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(v string) error {
	for _, s := range splitPaths(v) {
		if s == "" {
			continue
		}
		*p = append(*p, s)
	}
	return nil
}

// splitPaths splits a comma list of paths at commas followed by "/" only:
// commas inside a path (filter values) are kept.
func splitPaths(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		if v[i] == ',' && i+1 < len(v) && v[i+1] == '/' {
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

type config struct {
	base        *url.URL
	paths       []string
	idsFile     string
	idsFrom     string
	concurrency int
	duration    time.Duration
	maxRequests int64
	timeout     time.Duration
	jsonOut     bool
	allowRemote bool
}

// Report is the result, also the -json output.
type Report struct {
	URL         string           `json:"url"`
	Paths       []string         `json:"paths"`
	IDs         int              `json:"ids,omitempty"`
	Concurrency int              `json:"concurrency"`
	DurationS   float64          `json:"durationSeconds"`
	Requests    int64            `json:"requests"`
	RPS         float64          `json:"requestsPerSecond"`
	Errors      int64            `json:"errors"`
	LatencyMs   Latency          `json:"latencyMs"`
	Status      map[string]int64 `json:"status"`
	FirstError  string           `json:"firstError,omitempty"`
}

// Latency holds latency statistics in milliseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "notify" {
		return runNotify(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("vnfm-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, usageText, apiVersion)
		fs.PrintDefaults()
	}
	var paths pathList
	var rawURL string
	cfg := config{}
	fs.StringVar(&rawURL, "url", "", "base URL of YOUR OWN server, e.g. http://127.0.0.1:9890 (loopback unless -allow-remote)")
	fs.Var(&paths, "path", "request path (repeatable, or a comma list); may contain {id}")
	fs.StringVar(&cfg.idsFile, "ids-file", "", "file with ids for {id}, one per line")
	fs.StringVar(&cfg.idsFrom, "ids-from", "", "list path to collect ids for {id} from (default: the path up to /{id})")
	fs.IntVar(&cfg.concurrency, "c", 8, "concurrent workers")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "test duration (at most 5m)")
	fs.Int64Var(&cfg.maxRequests, "n", 0, "stop after this many requests (0 = no limit; -d still applies)")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a non-loopback -url (only for a test server of your own)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vnfm-load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.paths = paths
	if err := cfg.check(rawURL); err != nil {
		fmt.Fprintln(stderr, "vnfm-load:", err)
		fmt.Fprintln(stderr, "run vnfm-load -h for usage")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	client := &http.Client{
		Timeout: cfg.timeout,
		Transport: &http.Transport{
			Proxy:               nil, // never send the load through a proxy
			MaxIdleConns:        cfg.concurrency * 2,
			MaxIdleConnsPerHost: cfg.concurrency * 2,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		// Redirects could lead elsewhere: do not follow them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ids, err := cfg.loadIDs(ctx, client)
	if err != nil {
		fmt.Fprintln(stderr, "vnfm-load:", err)
		return 1
	}
	rep := cfg.load(ctx, client, ids)
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	if rep.Requests > 0 && rep.Errors == rep.Requests {
		return 1
	}
	return 0
}

func (c *config) check(rawURL string) error {
	if rawURL == "" {
		return errors.New("-url is required (the base URL of your own server, e.g. http://127.0.0.1:9890)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("-url %q: want http://HOST:PORT or https://HOST:PORT", rawURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("-url %q: give query strings in -path", rawURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c.base = u
	if !c.allowRemote {
		if err := requireLoopback(u.Hostname()); err != nil {
			return err
		}
	}
	if len(c.paths) == 0 {
		return errors.New("at least one -path is required")
	}
	for _, p := range c.paths {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			return fmt.Errorf("-path %q: want a path starting with a single /, relative to -url", p)
		}
	}
	if c.concurrency < 1 || c.concurrency > maxConcurrency {
		return fmt.Errorf("-c %d: want 1..%d", c.concurrency, maxConcurrency)
	}
	if c.duration <= 0 || c.duration > maxDuration {
		return fmt.Errorf("-d %s: want more than 0 and at most %s", c.duration, maxDuration)
	}
	if c.maxRequests < 0 {
		return fmt.Errorf("-n %d: want 0 (no limit) or more", c.maxRequests)
	}
	if c.timeout <= 0 {
		return fmt.Errorf("-timeout %s: want more than 0", c.timeout)
	}
	if c.idsFrom != "" && (!strings.HasPrefix(c.idsFrom, "/") || strings.HasPrefix(c.idsFrom, "//")) {
		return fmt.Errorf("-ids-from %q: want a path starting with a single /", c.idsFrom)
	}
	return nil
}

// requireLoopback accepts a host that is, or resolves only to, loopback
// addresses.
func requireLoopback(host string) error {
	refuse := fmt.Errorf("-url host %q is not a loopback address; vnfm-load is for your own server (use -allow-remote only for a test server you operate)", host)
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return refuse
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("-url host %q: %w", host, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLoopback() {
			return refuse
		}
	}
	if len(addrs) == 0 {
		return refuse
	}
	return nil
}

func (c *config) needsIDs() bool {
	for _, p := range c.paths {
		if strings.Contains(p, idPlaceholder) {
			return true
		}
	}
	return false
}

// loadIDs returns the ids for {id}, or nil when no path has the placeholder.
func (c *config) loadIDs(ctx context.Context, client *http.Client) ([]string, error) {
	if !c.needsIDs() {
		return nil, nil
	}
	var ids []string
	if c.idsFile != "" {
		raw, err := os.ReadFile(c.idsFile)
		if err != nil {
			return nil, fmt.Errorf("-ids-file: %w", err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				ids = append(ids, s)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("-ids-file %s holds no ids", c.idsFile)
		}
		return ids, nil
	}
	from := c.idsFrom
	if from == "" {
		for _, p := range c.paths {
			if i := strings.Index(p, "/"+idPlaceholder); i > 0 {
				from = p[:i]
				break
			}
		}
		if from == "" {
			return nil, errors.New("cannot tell which list to read ids from: give -ids-from or -ids-file")
		}
	}
	next := c.base.String() + from
	for next != "" && len(ids) < maxIDs {
		page, link, err := c.listPage(ctx, client, next)
		if err != nil {
			return nil, fmt.Errorf("collect ids from %s: %w", from, err)
		}
		ids = append(ids, page...)
		next = link
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("collect ids: GET %s returned no items; create some or give -ids-file", from)
	}
	return ids, nil
}

// listPage GETs one list page and returns the items' ids and the next page's
// URL (only when it is on the same server).
func (c *config) listPage(ctx context.Context, client *http.Client, u string) ([]string, string, error) {
	req, err := c.newRequest(ctx, u)
	if err != nil {
		return nil, "", err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, "", err
	}
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("status %d: %.200s", res.StatusCode, body)
	}
	var items []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, "", fmt.Errorf("want a JSON array of objects with an id: %w", err)
	}
	var ids []string
	for _, it := range items {
		if it.ID != "" {
			ids = append(ids, it.ID)
		}
	}
	return ids, c.nextLink(res.Header.Values("Link")), nil
}

// nextLink extracts rel="next" from Link headers, if it points at the same
// scheme and host as -url.
func (c *config) nextLink(links []string) string {
	for _, h := range links {
		for _, part := range strings.Split(h, ",") {
			part = strings.TrimSpace(part)
			if !strings.Contains(part, `rel="next"`) && !strings.Contains(part, "rel=next") {
				continue
			}
			start, end := strings.Index(part, "<"), strings.Index(part, ">")
			if start < 0 || end < start {
				continue
			}
			ref, err := url.Parse(part[start+1 : end])
			if err != nil {
				continue
			}
			abs := c.base.ResolveReference(ref)
			if abs.Scheme == c.base.Scheme && abs.Host == c.base.Host {
				return abs.String()
			}
		}
	}
	return ""
}

func (c *config) newRequest(ctx context.Context, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Version", apiVersion)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vnfm-load")
	return req, nil
}

type workerResult struct {
	latencies []time.Duration
	status    map[int]int64
	errors    int64
	transport int64
	firstErr  string
}

// load runs the workers and builds the report.
func (c *config) load(ctx context.Context, client *http.Client, ids []string) *Report {
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var next, nextID atomic.Int64
	results := make([]*workerResult, c.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c.concurrency {
		res := &workerResult{status: map[int]int64{}}
		results[w] = res
		wg.Go(func() {
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if c.maxRequests > 0 && k >= c.maxRequests {
					return
				}
				p := c.paths[k%int64(len(c.paths))]
				if strings.Contains(p, idPlaceholder) {
					id := ids[(nextID.Add(1)-1)%int64(len(ids))]
					p = strings.ReplaceAll(p, idPlaceholder, url.PathEscape(id))
				}
				c.one(ctx, client, c.base.String()+p, res)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return buildReport(c, ids, elapsed, results)
}

func (c *config) one(ctx context.Context, client *http.Client, u string, res *workerResult) {
	req, err := c.newRequest(ctx, u)
	if err != nil {
		res.fail(err)
		return
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return // the run ended mid-request: not counted
		}
		res.latencies = append(res.latencies, time.Since(t0))
		res.transport++
		res.fail(err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil && ctx.Err() != nil {
		return
	}
	res.latencies = append(res.latencies, time.Since(t0))
	res.status[resp.StatusCode]++
	if err != nil {
		res.transport++
		res.fail(err)
		return
	}
	if resp.StatusCode >= 400 {
		res.fail(fmt.Errorf("GET %s: status %d", req.URL.RequestURI(), resp.StatusCode))
	}
}

func (r *workerResult) fail(err error) {
	r.errors++
	if r.firstErr == "" {
		r.firstErr = err.Error()
	}
}

func buildReport(c *config, ids []string, elapsed time.Duration, results []*workerResult) *Report {
	rep := &Report{
		URL: c.base.String(), Paths: c.paths, IDs: len(ids), Concurrency: c.concurrency,
		DurationS: elapsed.Seconds(), Status: map[string]int64{},
	}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		rep.Errors += r.errors
		for code, n := range r.status {
			rep.Status[strconv.Itoa(code)] += n
		}
		if r.transport > 0 {
			rep.Status["transport_error"] += r.transport
		}
		if rep.FirstError == "" {
			rep.FirstError = r.firstErr
		}
	}
	rep.Requests = int64(len(all))
	if elapsed > 0 {
		rep.RPS = float64(rep.Requests) / elapsed.Seconds()
	}
	rep.LatencyMs = latencyStats(all)
	return rep
}

func latencyStats(all []time.Duration) Latency {
	if len(all) == 0 {
		return Latency{}
	}
	slices.Sort(all)
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Latency{
		Min:  ms(all[0]),
		Mean: ms(sum / time.Duration(len(all))),
		P50:  ms(latency.Percentile(all, 50)),
		P90:  ms(latency.Percentile(all, 90)),
		P99:  ms(latency.Percentile(all, 99)),
		Max:  ms(all[len(all)-1]),
	}
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "target       %s\n", r.URL)
	for _, p := range r.Paths {
		fmt.Fprintf(w, "path         %s\n", p)
	}
	if r.IDs > 0 {
		fmt.Fprintf(w, "ids          %d\n", r.IDs)
	}
	fmt.Fprintf(w, "concurrency  %d\n", r.Concurrency)
	fmt.Fprintf(w, "duration     %.2fs\n", r.DurationS)
	fmt.Fprintf(w, "requests     %d\n", r.Requests)
	fmt.Fprintf(w, "requests/s   %.1f\n", r.RPS)
	l := r.LatencyMs
	fmt.Fprintf(w, "latency ms   p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (min %.3f, mean %.3f)\n",
		l.P50, l.P90, l.P99, l.Max, l.Min, l.Mean)
	fmt.Fprintf(w, "errors       %d\n", r.Errors)
	codes := make([]string, 0, len(r.Status))
	for k := range r.Status {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	fmt.Fprintln(w, "status")
	for _, k := range codes {
		fmt.Fprintf(w, "  %-15s %d\n", k, r.Status[k])
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error  %s\n", r.FirstError)
	}
}

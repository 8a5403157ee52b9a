package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// subscriptionPassword is the BASIC password of the subscription the CLI
// creates: it must appear in no CLI output, no server response and not in
// the vnfm log.
const subscriptionPassword = "s3cret-SUBSCRIPTION-password"

func init() { testsecrets.Register(subscriptionPassword) }

// exchange is one request the recording proxy passed to vnfm.
type exchange struct {
	method, path string
	status       int
	location     string
	body         []byte
}

func (e exchange) String() string {
	s := fmt.Sprintf("%s %s -> %d", e.method, e.path, e.status)
	if e.location != "" {
		s += " (Location " + e.location + ")"
	}
	return s
}

// recordingProxy sits between the CLI and vnfm and keeps every response, so
// that the test sees exactly what the server answered the CLI.
type recordingProxy struct {
	url string
	mu  sync.Mutex
	log []exchange
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	// The Host header stays the proxy's, so vnfm's Location and _links
	// point back through the proxy.
	rp.ModifyResponse = func(res *http.Response) error {
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(raw))
		p.mu.Lock()
		p.log = append(p.log, exchange{method: res.Request.Method, path: res.Request.URL.RequestURI(),
			status: res.StatusCode, location: res.Header.Get("Location"), body: raw})
		p.mu.Unlock()
		return nil
	}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	p.url = hs.URL
	return p
}

// since returns the exchanges after the first n.
func (p *recordingProxy) since(n int) []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.log[n:]...)
}

func (p *recordingProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

func (p *recordingProxy) assertNoSecret(t *testing.T, secret string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.log {
		require.NotContains(t, string(e.body), secret, "secret in the answer to %v", e)
		require.NotContains(t, e.location, secret, "secret in the Location of %v", e)
	}
}

// TestTackerCLISubscriptions drives /vnflcm/v1/subscriptions with `openstack
// vnflcm subsc create|list|show|delete`: a filtered subscription with BASIC
// authentication (the notification arrives with the credentials; the
// password is never shown), list with --filter, the duplicate that vnfm
// answers 303 See Other, and delete.
func TestTackerCLISubscriptions(t *testing.T) {
	t.Parallel()
	for _, f := range []string{systemPython, openstackCLI, tackerPlugin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the Tacker CLI is not installed (%v); install it with\n"+
				"\tapt-get install python3-tackerclient python3-openstackclient", err)
		}
	}
	srv := startServer(t, "", t.TempDir())
	proxy := newRecordingProxy(t, srv.url)
	c := &tacker{endpoint: proxy.url}

	nfvo := newBasicSubscriber(t, "nfvo", subscriptionPassword)
	plain := newSubscriber(t)

	dir := t.TempDir()
	writeJSON := func(name string, v any) string {
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, raw, 0o600))
		return p
	}
	var filter map[string]any // as the CLI prints it (decoded JSON)
	require.NoError(t, json.Unmarshal([]byte(`{
		"vnfInstanceSubscriptionFilter": {"vnfdIds": ["vnfd-1"]},
		"notificationTypes": ["VnfLcmOperationOccurrenceNotification"],
		"operationTypes": ["INSTANTIATE"],
		"operationStates": ["COMPLETED"]}`), &filter))
	withAuth := writeJSON("subsc.json", map[string]any{
		"filter":      filter,
		"callbackUri": nfvo.url,
		"authentication": map[string]any{
			"authType":    []string{"BASIC"},
			"paramsBasic": map[string]any{"userName": "nfvo", "password": subscriptionPassword},
		},
	})
	noAuth := writeJSON("plain.json", map[string]any{"callbackUri": plain.url})

	// create: the callback test GET carried the credentials.
	var sub map[string]any
	c.json(t, &sub, "vnflcm", "subsc", "create", withAuth)
	id, _ := sub["ID"].(string)
	require.NotEmpty(t, id, "%v", sub)
	require.Equal(t, nfvo.url, sub["Callback URI"])
	require.Equal(t, filter, sub["Filter"])
	require.Equal(t, proxy.url+"/vnflcm/v1/subscriptions/"+id, sub["Links"].(map[string]any)["self"].(map[string]any)["href"])
	require.NotContains(t, sub, "Authentication")
	nfvo.mu.Lock()
	require.Equal(t, 1, nfvo.gets, "one test GET")
	require.Zero(t, nfvo.unauth, "the test GET carried the BASIC credentials")
	nfvo.mu.Unlock()

	var other map[string]any
	c.json(t, &other, "vnflcm", "subsc", "create", noAuth)
	otherID := other["ID"].(string)
	require.NotEqual(t, id, otherID)
	require.Empty(t, other["Filter"], "no filter: %v", other)

	// The same request again: vnfm answers 303 See Other with the existing
	// subscription's URI. python-requests would follow it with a GET, but
	// the CLI's keystoneauth (5.0) handles redirects itself and repeats the
	// request with the same method: it POSTs the body again to the
	// subscription's URI, which answers 405, and the CLI exits 1 with that
	// message (no traceback). A client that follows 303 with a GET prints
	// the existing subscription instead; either is accepted here.
	before := proxy.count()
	err, stdout, stderr := c.exec(t, "vnflcm", "subsc", "create", withAuth, "-f", "json")
	seen := proxy.since(before)
	t.Logf("duplicate create: exit %v; requests %v\nstdout:\n%s\nstderr:\n%s", err, seen, stdout, stderr)
	require.NotContains(t, stdout+stderr, "Traceback")
	require.Len(t, seen, 2, "the POST and the redirected request: %v", seen)
	require.Equal(t, "POST", seen[0].method)
	require.Equal(t, http.StatusSeeOther, seen[0].status, "%v", seen)
	require.Equal(t, proxy.url+"/vnflcm/v1/subscriptions/"+id, seen[0].location)
	require.Empty(t, seen[0].body, "303 has no body")
	require.Equal(t, "/vnflcm/v1/subscriptions/"+id, seen[1].path, "the CLI followed the Location")
	switch seen[1].method {
	case "POST": // keystoneauth 5.0 (Debian bookworm)
		require.Equal(t, http.StatusMethodNotAllowed, seen[1].status, "%v", seen)
		validate(t, "ProblemDetails", seen[1].body)
		require.Error(t, err, "the CLI reports the 405")
		require.Equal(t, "POST is not supported on /vnflcm/v1/subscriptions/"+id, strings.TrimSpace(stderr))
		require.Empty(t, stdout)
	case "GET":
		require.Equal(t, http.StatusOK, seen[1].status, "%v", seen)
		require.NoError(t, err, "duplicate create exits 0")
		var dup map[string]any
		require.NoError(t, json.Unmarshal([]byte(stdout), &dup), "duplicate create printed:\n%s", stdout)
		require.Equal(t, id, dup["ID"], "the CLI shows the existing subscription")
		require.Equal(t, filter, dup["Filter"])
	default:
		t.Fatalf("the CLI followed the 303 with %v", seen[1])
	}
	nfvo.mu.Lock()
	require.Equal(t, 1, nfvo.gets, "a duplicate is not tested again")
	nfvo.mu.Unlock()

	// list, with and without --filter.
	var list []map[string]any
	c.json(t, &list, "vnflcm", "subsc", "list")
	require.ElementsMatch(t, []map[string]any{
		{"ID": id, "Callback URI": nfvo.url},
		{"ID": otherID, "Callback URI": plain.url},
	}, list)
	c.json(t, &list, "vnflcm", "subsc", "list", "--filter", "(eq,callbackUri,"+nfvo.url+")")
	require.Equal(t, []map[string]any{{"ID": id, "Callback URI": nfvo.url}}, list)
	c.json(t, &list, "vnflcm", "subsc", "list", "--filter", "(eq,filter/operationTypes,INSTANTIATE)")
	require.Equal(t, []map[string]any{{"ID": id, "Callback URI": nfvo.url}}, list)
	c.json(t, &list, "vnflcm", "subsc", "list", "--filter", "(neq,id,"+id+")")
	require.Equal(t, []map[string]any{{"ID": otherID, "Callback URI": plain.url}}, list)

	// show.
	var shown map[string]any
	c.json(t, &shown, "vnflcm", "subsc", "show", id)
	require.Equal(t, id, shown["ID"])
	require.Equal(t, nfvo.url, shown["Callback URI"])
	require.Equal(t, filter, shown["Filter"])

	// An instantiate: the filtered subscription gets only INSTANTIATE
	// COMPLETED, with the credentials; the plain one gets everything.
	v := c.create(t)
	params := filepath.Join(dir, "params.json")
	require.NoError(t, os.WriteFile(params, []byte(instantiateBody(t, "{}")), 0o600))
	c.run(t, "vnflcm", "instantiate", v.id, params)
	opID := v.awaitOp("INSTANTIATE", "COMPLETED")["ID"].(string)
	got := nfvo.waitAccepted(1, 10*time.Second)
	wantNotification(t, got[0], "VnfLcmOperationOccurrenceNotification", "COMPLETED", v.id, opID, id)
	all := plain.waitAccepted(4, 10*time.Second)
	wantNotification(t, all[0], "VnfIdentifierCreationNotification", "", v.id, "", otherID)
	wantNotification(t, all[3], "VnfLcmOperationOccurrenceNotification", "COMPLETED", v.id, opID, otherID)
	time.Sleep(500 * time.Millisecond)
	require.Len(t, nfvo.received(), 1, "the filter lets only INSTANTIATE COMPLETED through: %v", nfvo.received())
	nfvo.mu.Lock()
	require.Zero(t, nfvo.unauth, "every notification carried the BASIC credentials")
	nfvo.mu.Unlock()

	// delete, then show and delete fail with vnfm's message.
	require.Contains(t, c.run(t, "vnflcm", "subsc", "delete", id), "Lccn Subscription '"+id+"' is deleted successfully")
	require.Contains(t, c.runFail(t, "vnflcm", "subsc", "show", id), "subscription "+id+" does not exist")
	require.Contains(t, c.runFail(t, "vnflcm", "subsc", "delete", id), "Failed to delete 1 of 1 Lccn Subscriptions")
	c.json(t, &list, "vnflcm", "subsc", "list")
	require.Equal(t, []map[string]any{{"ID": otherID, "Callback URI": plain.url}}, list)
	require.Contains(t, c.run(t, "vnflcm", "subsc", "delete", otherID), "is deleted successfully")
	c.json(t, &list, "vnflcm", "subsc", "list")
	require.Empty(t, list)

	srv.stop()
	c.assertNoSecret(t, subscriptionPassword)
	proxy.assertNoSecret(t, subscriptionPassword)
	srv.assertNoSecret(t, subscriptionPassword)
	for _, n := range append(nfvo.tried(), plain.tried()...) {
		require.NotContains(t, string(n.raw), subscriptionPassword, "secret in a notification")
	}
}

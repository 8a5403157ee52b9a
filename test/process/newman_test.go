package process

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newmanVersion is the newman .ci/run installs.
const newmanVersion = "6.2.2"

// TestPostmanCollection runs deploy/postman's collection with newman against
// the real vnfm and the OpenStack emulator, as `make run` starts them, with
// a loopback notification endpoint as callbackUri. Every assertion must
// pass, and the run must have made every assertion the collection holds, so
// a request or folder that did not run fails the test.
func TestPostmanCollection(t *testing.T) {
	t.Parallel()
	newman, err := exec.LookPath("newman")
	if err != nil {
		t.Fatalf("newman is not installed: run `npm install -g newman@%s` (.ci/run installs it)", newmanVersion)
	}
	root := moduleRoot(t)
	collection := filepath.Join(root, "deploy", "postman", "vnfm.postman_collection.json")
	items, wantAssertions := collectionContents(t, collection)
	require.Greater(t, wantAssertions, 100, "the collection has its tests")

	// The collection uploads bin/samples/vm-simple.zip relative to the
	// working dir; build it here rather than in the checkout.
	work := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(work, "bin", "samples"), 0o755))
	out, err := exec.Command(vnfmBinary, "package", "build", filepath.Join(root, "test", "samples", "vm-simple"),
		"-o", filepath.Join(work, "bin", "samples", "vm-simple.zip")).CombinedOutput()
	require.NoError(t, err, "%s", out)

	sink := newNotificationSink(t)
	vnfm := startWithEmulator(t, root)

	report := filepath.Join(work, "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, newman, "run", collection,
		"-e", filepath.Join(root, "deploy", "postman", "vnfm.postman_environment.json"),
		"--env-var", "baseUrl="+vnfm.url,
		"--env-var", "callbackUri="+sink.url+"/notify",
		"--working-dir", work,
		"--reporters", "cli,json", "--reporter-json-export", report,
		"--color", "off", "--disable-unicode", "--no-insecure-file-read")
	cmd.Dir = work
	cmd.Env = cleanEnv("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "VNFM")
	var cli syncBuffer
	cmd.Stdout, cmd.Stderr = &cli, &cli
	start := time.Now()
	err = cmd.Run()
	require.NoError(t, err, "newman failed:\n%s", tail(cli.String(), 150))

	raw, err := os.ReadFile(report)
	require.NoError(t, err)
	var rep newmanReport
	require.NoError(t, json.Unmarshal(raw, &rep))
	s := rep.Run.Stats
	t.Logf("newman: %d requests, %d assertions, %v (run %v by newman's clock)", s.Requests.Total, s.Assertions.Total,
		time.Since(start).Round(time.Millisecond), time.Duration(rep.Run.Timings.Completed-rep.Run.Timings.Started)*time.Millisecond)
	require.Empty(t, rep.Run.Failures, "newman failures:\n%s", tail(cli.String(), 150))
	require.Zero(t, s.Assertions.Failed)
	require.Zero(t, s.Requests.Failed)
	require.Zero(t, s.TestScripts.Failed)
	require.Equal(t, wantAssertions, s.Assertions.Total, "every pm.test in the collection ran exactly once")
	ran := map[string]bool{}
	for _, e := range rep.Run.Executions {
		ran[e.Item.ID] = true
	}
	for id, name := range items {
		require.True(t, ran[id], "request %q did not run", name)
	}

	// The subscription the collection made received the instance's
	// notifications.
	require.Eventually(t, func() bool {
		got := sink.types()
		return got["VnfIdentifierCreationNotification"] > 0 && got["VnfLcmOperationOccurrenceNotification INSTANTIATE COMPLETED"] > 0
	}, 10*time.Second, 50*time.Millisecond, "notifications received: %v", sink.types())
	require.NotContains(t, vnfm.out.String(), `"password"`, "a password in vnfm's log")
}

// collectionContents returns the collection's requests (id to name) and the
// number of pm.test calls in their scripts. The collection's scripts make
// each pm.test call once per request (a poll loop asserts on its last pass
// only), so this is the number of assertions a full run makes.
func collectionContents(t *testing.T, path string) (map[string]string, int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var c struct {
		Info struct {
			Schema string `json:"schema"`
		} `json:"info"`
		Item []postmanItem `json:"item"`
		// Collection-level scripts would run once per request, polls
		// included, and make the count timing-dependent.
		Event []json.RawMessage `json:"event"`
	}
	require.NoError(t, json.Unmarshal(raw, &c))
	require.Equal(t, "https://schema.getpostman.com/json/collection/v2.1.0/collection.json", c.Info.Schema)
	require.Empty(t, c.Event, "no collection-level scripts")
	items := map[string]string{}
	n := 0
	var walk func([]postmanItem)
	walk = func(list []postmanItem) {
		for _, it := range list {
			walk(it.Item)
			if it.Request == nil {
				require.Empty(t, it.Event, "folder-level scripts in %q", it.Name)
				continue
			}
			require.NotEmpty(t, it.ID, "request %q has an id", it.Name)
			items[it.ID] = it.Name
			tests := 0
			for _, e := range it.Event {
				c := strings.Count(strings.Join(e.Script.Exec, "\n"), "pm.test(")
				if e.Listen == "test" {
					tests += c
				}
				n += c
			}
			require.Positive(t, tests, "request %q has no pm.test", it.Name)
		}
	}
	walk(c.Item)
	return items, n
}

type postmanItem struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Item    []postmanItem   `json:"item"`
	Request json.RawMessage `json:"request"`
	Event   []struct {
		Listen string `json:"listen"`
		Script struct {
			Exec []string `json:"exec"`
		} `json:"script"`
	} `json:"event"`
}

// newmanReport is the part of newman's JSON report the test reads.
type newmanReport struct {
	Run struct {
		Stats struct {
			Requests, Assertions, TestScripts struct {
				Total, Failed int
			}
		} `json:"stats"`
		Timings struct {
			Started, Completed int64
		} `json:"timings"`
		Executions []struct {
			Item struct {
				ID string `json:"id"`
			} `json:"item"`
		} `json:"executions"`
		Failures []json.RawMessage `json:"failures"`
	} `json:"run"`
}

// notificationSink is a subscriber: GET (the subscription check) and POST
// answer 204; it counts what it was sent.
type notificationSink struct {
	url string
	mu  sync.Mutex
	got map[string]int // "type" or "type operation state"
}

func newNotificationSink(t *testing.T) *notificationSink {
	t.Helper()
	s := &notificationSink{got: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			var n struct {
				NotificationType, Operation, OperationState string
			}
			body, _ := io.ReadAll(r.Body)
			if json.Unmarshal(body, &n) == nil {
				s.mu.Lock()
				s.got[n.NotificationType]++
				if n.Operation != "" {
					s.got[n.NotificationType+" "+n.Operation+" "+n.OperationState]++
				}
				s.mu.Unlock()
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *notificationSink) types() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

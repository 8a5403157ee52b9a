package process

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

// TestSIGKILLMidWorkflowThenRetry kills vnfm while an instantiate is in its
// driver step, starts a new process on the same database and data dir, and
// checks the op occ is failed over to FAILED_TEMP within the lease, that the
// instance was left alone, and that a retry then completes it.
func TestSIGKILLMidWorkflowThenRetry(t *testing.T) {
	t.Parallel()
	for _, store := range []struct {
		name  string
		dbURL func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			sigkillThenRetry(t, store.dbURL(t))
		})
	}
}

func sigkillThenRetry(t *testing.T, dbURL string) {
	dataDir := t.TempDir() // holds the encryption key (and the SQLite file)
	release := filepath.Join(t.TempDir(), "release")

	first := startServer(t, dbURL, dataDir)
	r := first.do("POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":"vnfd-1"}`)
	require.Equal(t, 201, r.status, "%s", r.body)
	validate(t, "VnfInstance", r.body)
	id := r.json(t)["id"].(string)

	body, err := json.Marshal(map[string]any{
		"flavourId": "simple",
		"vimConnectionInfo": []any{map[string]any{
			"id": "vim-1", "vimType": "TEST.SCRIPTED.V_1",
			"accessInfo": map[string]any{"password": vimPassword},
		}},
		"additionalParams": map[string]any{"script": map[string]string{"instantiate": "block:" + release}},
	})
	require.NoError(t, err)
	r = first.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/instantiate", string(body))
	require.Equal(t, 202, r.status, "%s", r.body)
	loc := r.header.Get("Location")
	require.Contains(t, loc, "/vnflcm/v1/vnf_lcm_op_occs/")
	opID := loc[strings.LastIndex(loc, "/")+1:]
	opPath := "/vnflcm/v1/vnf_lcm_op_occs/" + opID

	waitOpState(t, first, opID, 10*time.Second, "PROCESSING")
	// Kill it inside the blocked driver call, the step after the
	// instantiate_start hook.
	waitStepDone(t, first, opID, "mgmt_instantiate_start")
	require.Equal(t, "PROCESSING", first.do("GET", opPath, "").json(t)["operationState"])
	first.kill()
	killed := time.Now()
	require.False(t, stepDone(first, opID, "infra_instantiate"), "the driver step was blocked")

	second := startServer(t, dbURL, dataDir)
	// The op occ's lease (2 s) must run out and the new process reap it.
	op := waitOpState(t, second, opID, lease+6*time.Second-time.Since(killed), "FAILED_TEMP")
	t.Logf("FAILED_TEMP %v after the SIGKILL", time.Since(killed).Round(time.Millisecond))
	pd, ok := op["error"].(map[string]any)
	require.True(t, ok, "FAILED_TEMP op occ has an error: %v", op)
	require.Equal(t, "Operation interrupted", pd["title"])
	require.Contains(t, pd["detail"], "vnfm process running this operation stopped")
	require.Contains(t, op["_links"].(map[string]any), "retry")

	r = second.do("GET", "/vnflcm/v1/vnf_instances/"+id, "")
	require.Equal(t, 200, r.status, "%s", r.body)
	validate(t, "VnfInstance", r.body)
	require.Equal(t, "NOT_INSTANTIATED", r.json(t)["instantiationState"])

	require.NoError(t, os.WriteFile(release, nil, 0o600))
	r = second.do("POST", opPath+"/retry", "")
	require.Equal(t, 202, r.status, "%s", r.body)
	op = waitOpState(t, second, opID, 15*time.Second, "COMPLETED")
	require.Equal(t, "INSTANTIATE", op["operation"])
	// The retry re-ran the interrupted step, not the finished one before it.
	require.True(t, stepDone(second, opID, "infra_instantiate"))
	require.True(t, stepDone(second, opID, "mgmt_instantiate_end"))
	require.False(t, stepDone(second, opID, "mgmt_instantiate_start"), "retry resumes after the last finished step")

	r = second.do("GET", "/vnflcm/v1/vnf_instances/"+id, "")
	require.Equal(t, 200, r.status, "%s", r.body)
	validate(t, "VnfInstance", r.body)
	inst := r.json(t)
	require.Equal(t, "INSTANTIATED", inst["instantiationState"])
	info := inst["instantiatedVnfInfo"].(map[string]any)
	require.Len(t, info["vnfcResourceInfo"], 2)

	second.stop()
	for _, p := range []*proc{first, second} {
		p.assertNoSecret(t, vimPassword)
	}
}

// stepDone tells whether p logged the end of the op occ's step.
func stepDone(p *proc, opID, step string) bool {
	for _, line := range strings.Split(p.out.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil &&
			rec["msg"] == "step done" && rec["op_occ_id"] == opID && rec["step"] == step {
			return true
		}
	}
	return false
}

func waitStepDone(t *testing.T, p *proc, opID, step string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !stepDone(p, opID, step) {
		if time.Now().After(deadline) {
			t.Fatalf("vnfm-scripted did not log the end of step %s of %s", step, opID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOpState polls the op occ until it is in state, failing after timeout
// or if it settles in another final state.
func waitOpState(t *testing.T, p *proc, opID string, timeout time.Duration, state string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := p.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+opID, "")
		require.Equal(t, 200, r.status, "%s", r.body)
		op := r.json(t)
		got := op["operationState"]
		if got == state {
			validate(t, "VnfLcmOpOcc", r.body)
			return op
		}
		switch got {
		case "COMPLETED", "FAILED", "ROLLED_BACK":
			t.Fatalf("op occ %s is %v, want %s: %s", opID, got, state, r.body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("op occ %s still %v after %v, want %s: %s", opID, got, timeout, state, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

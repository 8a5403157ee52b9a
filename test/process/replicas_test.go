package process

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/store/storetest"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// startReplicas starts two vnfm-scripted processes on one fresh Postgres
// database, each with its own data dir and both with the same encryption
// key file, as replicas behind a load balancer run.
func startReplicas(t *testing.T) [2]*proc {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "encryption.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600))
	var ps [2]*proc
	for i := range ps {
		ps[i] = startServer(t, dbURL, t.TempDir(), "--encryption-key-file", keyFile)
	}
	return ps
}

// scriptedInstantiate is an instantiate request for the scripted driver,
// with a VIM password that must never come back, and script as
// additionalParams.script.
func scriptedInstantiate(t *testing.T, script map[string]string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"flavourId": "simple",
		"vimConnectionInfo": []any{map[string]any{
			"id": "vim-1", "vimType": scripted.VimType,
			"accessInfo": map[string]any{"username": "admin", "password": vimPassword},
		}},
		"additionalParams": map[string]any{"script": script},
	})
	require.NoError(t, err)
	return string(body)
}

// createInstance creates a VNF instance through p and returns its id.
func createInstance(t *testing.T, p *proc, name string) string {
	t.Helper()
	r := p.do("POST", "/vnflcm/v1/vnf_instances", fmt.Sprintf(`{"vnfdId":"vnfd-%s","vnfInstanceName":%q}`, name, name))
	require.Equal(t, 201, r.status, "%s", r.body)
	return r.json(t)["id"].(string)
}

// startTask POSTs a task through p and returns the op occ id.
func startTask(t *testing.T, p *proc, id, task, body string) string {
	t.Helper()
	r := p.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/"+task, body)
	require.Equal(t, 202, r.status, "%s %s: %s", task, id, r.body)
	loc := r.header.Get("Location")
	require.Contains(t, loc, "/vnflcm/v1/vnf_lcm_op_occs/")
	return loc[strings.LastIndex(loc, "/")+1:]
}

// settle polls the op occ through p until no job is left for it: a final
// state, or FAILED_TEMP (which waits for retry, rollback or fail).
func settle(t *testing.T, p *proc, opID string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := p.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+opID, "")
		require.Equal(t, 200, r.status, "op occ %s: %s", opID, r.body)
		op := r.json(t)
		switch op["operationState"] {
		case "COMPLETED", "FAILED", "ROLLED_BACK", "FAILED_TEMP":
			return op
		}
		require.True(t, time.Now().Before(deadline), "op occ %s still %v after %v", opID, op["operationState"], timeout)
		time.Sleep(100 * time.Millisecond)
	}
}

// journal is what the processes logged about op occs: the conductor logs
// "op occ running" when it takes one, "step done" after each step and
// "op occ finished" once it is final.
type journal struct {
	running  map[string]int            // op occ -> times taken
	steps    map[string]map[string]int // op occ -> step -> times done
	finished map[string][]string       // op occ -> final states logged
}

func readJournal(outputs ...string) journal {
	j := journal{running: map[string]int{}, steps: map[string]map[string]int{}, finished: map[string][]string{}}
	for _, out := range outputs {
		for _, line := range strings.Split(out, "\n") {
			var rec struct {
				Msg   string `json:"msg"`
				OpOcc string `json:"op_occ_id"`
				Step  string `json:"step"`
				State string `json:"state"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil || rec.OpOcc == "" {
				continue
			}
			switch rec.Msg {
			case "op occ running":
				j.running[rec.OpOcc]++
			case "step done":
				if j.steps[rec.OpOcc] == nil {
					j.steps[rec.OpOcc] = map[string]int{}
				}
				j.steps[rec.OpOcc][rec.Step]++
			case "op occ finished":
				j.finished[rec.OpOcc] = append(j.finished[rec.OpOcc], rec.State)
			}
		}
	}
	return j
}

// TestTwoProcessesShareOnePostgres runs 40 VNF lifecycles at once on two
// vnfm processes sharing one database, every request of a lifecycle going
// to the other process than the one before: each op occ completes, is taken
// by exactly one process once and runs its infrastructure step once, and
// both processes do some of the work.
func TestTwoProcessesShareOnePostgres(t *testing.T) {
	t.Parallel()
	ps := startReplicas(t)
	const n = 40
	instantiate := scriptedInstantiate(t, map[string]string{"instantiate": "sleep:200ms", "scale": "sleep:50ms"})
	lifecycle := []struct {
		task, body, operation, infra string
		vnfcs                        int // VNFCs once it is done
		state                        string
	}{
		{"instantiate", instantiate, "INSTANTIATE", "infra_instantiate", 2, "INSTANTIATED"},
		{"scale", `{"type":"SCALE_OUT","aspectId":"` + scripted.Aspect + `","numberOfSteps":2}`, "SCALE", "infra_scale", 4, "INSTANTIATED"},
		{"scale", `{"type":"SCALE_IN","aspectId":"` + scripted.Aspect + `"}`, "SCALE", "infra_scale", 3, "INSTANTIATED"},
		{"terminate", `{"terminationType":"FORCEFUL"}`, "TERMINATE", "infra_terminate", 0, "NOT_INSTANTIATED"},
	}
	ops := make([][]string, n) // per instance, in lifecycle order
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := func(k int) *proc { return ps[(i+k)%2] }
			id := createInstance(t, p(0), fmt.Sprintf("r%d", i))
			for k, step := range lifecycle {
				opID := startTask(t, p(k+1), id, step.task, step.body)
				op := settle(t, p(k), opID, time.Minute)
				require.Equal(t, "COMPLETED", op["operationState"], "%s of %s: %v", step.operation, id, op["error"])
				require.Equal(t, step.operation, op["operation"])
				ops[i] = append(ops[i], opID)

				r := p(k+1).do("GET", "/vnflcm/v1/vnf_instances/"+id, "")
				require.Equal(t, 200, r.status, "%s", r.body)
				inst := r.json(t)
				require.Equal(t, step.state, inst["instantiationState"], "after %s", step.operation)
				var vnfcs []any
				if info, ok := inst["instantiatedVnfInfo"].(map[string]any); ok {
					vnfcs, _ = info["vnfcResourceInfo"].([]any)
				}
				require.Len(t, vnfcs, step.vnfcs, "VNFCs after %s", step.operation)
			}
			// The instance has these op occs and no others.
			r := p(0).do("GET", "/vnflcm/v1/vnf_lcm_op_occs?filter=(eq,vnfInstanceId,"+id+")", "")
			require.Equal(t, 200, r.status, "%s", r.body)
			var list []struct{ ID, OperationState string }
			require.NoError(t, json.Unmarshal(r.body, &list))
			var got []string
			for _, o := range list {
				got = append(got, o.ID)
				require.Equal(t, "COMPLETED", o.OperationState)
			}
			require.ElementsMatch(t, ops[i], got, "op occs of %s", id)
			r = p(1).do("DELETE", "/vnflcm/v1/vnf_instances/"+id, "")
			require.Equal(t, 204, r.status, "%s", r.body)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d lifecycles (%d op occs) on two processes in %v", n, n*len(lifecycle), time.Since(start).Round(time.Millisecond))

	all := readJournal(ps[0].out.String(), ps[1].out.String())
	var byProc [2]int
	for i, p := range ps {
		byProc[i] = len(readJournal(p.out.String()).finished)
	}
	for i := range n {
		require.Len(t, ops[i], len(lifecycle))
		for k, opID := range ops[i] {
			require.Equal(t, 1, all.running[opID], "op occ %s was taken once", opID)
			require.Equal(t, []string{"COMPLETED"}, all.finished[opID], "op occ %s finished once", opID)
			require.Equal(t, 1, all.steps[opID][lifecycle[k].infra], "op occ %s ran %s once: %v", opID, lifecycle[k].infra, all.steps[opID])
			for step, c := range all.steps[opID] {
				require.Equal(t, 1, c, "op occ %s: step %s done %d times", opID, step, c)
			}
		}
	}
	t.Logf("op occs finished per process: %v", byProc)
	require.Positive(t, byProc[0], "the first process ran op occs")
	require.Positive(t, byProc[1], "the second process ran op occs")
	for _, p := range ps {
		p.assertNoSecret(t, vimPassword)
		p.stop()
	}
}

// TestTwoProcessesOneSIGKILLed starts instantiates on many instances across
// two processes and SIGKILLs one of them while it runs some: nothing is
// lost. The other process runs what was still queued, the killed
// process's op occs go to FAILED_TEMP once their lease runs out (never
// silently redone), and a retry on the survivor completes them.
func TestTwoProcessesOneSIGKILLed(t *testing.T) {
	t.Parallel()
	ps := startReplicas(t)
	victim, survivor := ps[0], ps[1]
	const n = 24
	// Long enough that the kill lands inside the driver call of every op
	// occ the victim has taken.
	body := scriptedInstantiate(t, map[string]string{"instantiate": "sleep:3s"})
	ids := make([]string, n)
	ops := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = createInstance(t, ps[i%2], fmt.Sprintf("k%d", i))
			ops[i] = startTask(t, ps[(i+1)%2], ids[i], "instantiate", body)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	require.Eventually(t, func() bool { return len(readJournal(victim.out.String()).running) >= 2 }, 20*time.Second, 10*time.Millisecond,
		"the victim took op occs")
	victim.kill()
	killed := time.Now()
	atKill := readJournal(victim.out.String())
	t.Logf("SIGKILLed one process while it ran %d op occs", len(atKill.running))

	// Nothing lost: every op occ is there and settles, through the
	// survivor.
	failed := map[string]bool{}
	for i, opID := range ops {
		op := settle(t, survivor, opID, lease+time.Minute)
		switch op["operationState"] {
		case "COMPLETED":
		case "FAILED_TEMP":
			failed[opID] = true
			pd := op["error"].(map[string]any)
			require.Equal(t, "Operation interrupted", pd["title"])
			r := survivor.do("GET", "/vnflcm/v1/vnf_instances/"+ids[i], "")
			require.Equal(t, 200, r.status, "%s", r.body)
			require.Equal(t, "NOT_INSTANTIATED", r.json(t)["instantiationState"], "an interrupted instantiate changed nothing")
		default:
			t.Fatalf("op occ %s is %v: %v", opID, op["operationState"], op["error"])
		}
	}
	t.Logf("all %d op occs settled %v after the SIGKILL: %d FAILED_TEMP", n, time.Since(killed).Round(time.Millisecond), len(failed))
	// The killed process may have claimed a few more than it logged
	// running: those are interrupted too.
	for opID := range atKill.running {
		require.True(t, failed[opID], "op occ %s, which the killed process was running, is FAILED_TEMP", opID)
		require.Zero(t, atKill.steps[opID]["infra_instantiate"], "the kill landed inside the driver step of %s", opID)
	}
	after := readJournal(survivor.out.String())
	require.Positive(t, len(after.finished), "the survivor ran op occs")
	for opID := range failed {
		require.Zero(t, after.running[opID], "the survivor did not redo %s on its own", opID)
	}

	// Retrying on the survivor completes them: each driver step done once
	// in all.
	start := time.Now()
	for opID := range failed {
		r := survivor.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", "")
		require.Equal(t, 202, r.status, "%s", r.body)
	}
	for opID := range failed {
		op := settle(t, survivor, opID, time.Minute)
		require.Equal(t, "COMPLETED", op["operationState"], "retried %s: %v", opID, op["error"])
	}
	t.Logf("%d retries completed in %v", len(failed), time.Since(start).Round(time.Millisecond))
	all := readJournal(victim.out.String(), survivor.out.String())
	for i, opID := range ops {
		require.Equal(t, 1, all.steps[opID]["infra_instantiate"], "op occ %s ran its driver step to the end once", opID)
		require.Equal(t, []string{"COMPLETED"}, all.finished[opID], "op occ %s finished once", opID)
		r := survivor.do("GET", "/vnflcm/v1/vnf_instances/"+ids[i], "")
		require.Equal(t, 200, r.status, "%s", r.body)
		require.Equal(t, "INSTANTIATED", r.json(t)["instantiationState"])
	}
	for _, p := range ps {
		p.assertNoSecret(t, vimPassword)
	}
	survivor.stop()
}

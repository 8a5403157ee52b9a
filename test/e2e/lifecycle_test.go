package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/test/scripted"
)

func vnfcs(t *testing.T, inst map[string]any) []map[string]any {
	t.Helper()
	info, ok := inst["instantiatedVnfInfo"].(map[string]any)
	require.True(t, ok, "instantiatedVnfInfo present: %v", inst)
	var out []map[string]any
	for _, v := range info["vnfcResourceInfo"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func scaleLevel(t *testing.T, inst map[string]any) float64 {
	t.Helper()
	for _, s := range inst["instantiatedVnfInfo"].(map[string]any)["scaleStatus"].([]any) {
		m := s.(map[string]any)
		if m["aspectId"] == scripted.Aspect {
			return m["scaleLevel"].(float64)
		}
	}
	t.Fatalf("no scale status for %s", scripted.Aspect)
	return 0
}

func TestFullLifecycle(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		id := e.create()
		inst := e.instance(id)
		require.Equal(t, "NOT_INSTANTIATED", inst["instantiationState"])
		require.Equal(t, "Scripted Inc.", inst["vnfProvider"])
		require.Contains(t, inst["_links"].(map[string]any), "instantiate")

		op := e.wait(e.task(id, "instantiate", instantiateBody), "COMPLETED")
		require.Equal(t, "INSTANTIATE", op["operation"])
		require.Len(t, op["resourceChanges"].(map[string]any)["affectedVnfcs"], 2)
		params := op["operationParams"].(map[string]any)
		require.Equal(t, "simple", params["flavourId"])
		require.Equal(t, []string{"instantiate_start", "instantiate", "instantiate_end"}, e.drv.CallsFor(op["id"].(string)))

		inst = e.instance(id)
		require.Equal(t, "INSTANTIATED", inst["instantiationState"])
		info := inst["instantiatedVnfInfo"].(map[string]any)
		require.Equal(t, "simple", info["flavourId"])
		require.Equal(t, "STARTED", info["vnfState"])
		require.Len(t, vnfcs(t, inst), 2)
		vim := inst["vimConnectionInfo"].([]any)[0].(map[string]any)
		require.Equal(t, "vim-1", vim["id"])
		access := vim["accessInfo"].(map[string]any)
		require.Equal(t, "admin", access["username"], "non-secret access info is kept")
		require.NotContains(t, access, "password")
		require.NotContains(t, access, "bearer_token")

		// DELETE while INSTANTIATED is refused.
		require.Equal(t, 409, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
		// A second instantiate is refused.
		require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/instantiate", instantiateBody).status)

		// Scale out by 2, then in by 1: newest removed first.
		e.wait(e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect, "numberOfSteps": 2}), "COMPLETED")
		inst = e.instance(id)
		require.Len(t, vnfcs(t, inst), 4)
		require.EqualValues(t, 2, scaleLevel(t, inst))
		newest := vnfcs(t, inst)[3]["id"]
		op = e.wait(e.task(id, "scale", map[string]any{"type": "SCALE_IN", "aspectId": scripted.Aspect}), "COMPLETED")
		removed := op["resourceChanges"].(map[string]any)["affectedVnfcs"].([]any)[0].(map[string]any)
		require.Equal(t, newest, removed["id"])
		require.Equal(t, "REMOVED", removed["changeType"])
		inst = e.instance(id)
		require.Len(t, vnfcs(t, inst), 3)
		require.EqualValues(t, 1, scaleLevel(t, inst))
		// Scaling in below level 0 is refused up front.
		r := e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/scale", map[string]any{"type": "SCALE_IN", "aspectId": scripted.Aspect, "numberOfSteps": 5})
		require.Equal(t, 422, r.status, "%s", r.body)
		r = e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/scale", map[string]any{"type": "SCALE_OUT", "aspectId": "nope"})
		require.Equal(t, 422, r.status, "%s", r.body)

		// SOL002 heal of one VNFC: same VNFC id, new resource id.
		target := vnfcs(t, inst)[0]
		oldRes := target["computeResource"].(map[string]any)["resourceId"]
		op = e.wait(e.task(id, "heal", map[string]any{"vnfcInstanceId": []string{target["id"].(string)}, "cause": "node down"}), "COMPLETED")
		require.Equal(t, []string{"heal_start", "heal", "heal_end"}, e.drv.CallsFor(op["id"].(string)))
		inst = e.instance(id)
		healed := vnfcs(t, inst)[0]
		require.Equal(t, target["id"], healed["id"])
		require.NotEqual(t, oldRes, healed["computeResource"].(map[string]any)["resourceId"])
		require.Equal(t, vnfcs(t, inst)[1]["computeResource"], vnfcs(t, e.instance(id))[1]["computeResource"])
		// Unknown VNFC ids are refused.
		r = e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/heal", map[string]any{"vnfcInstanceId": []string{"no-such-vnfc"}})
		require.Equal(t, 422, r.status)
		// SOL003 heal of the whole VNF: every VNFC replaced.
		op = e.wait(e.task(id, "heal", map[string]any{"cause": "rebuild"}), "COMPLETED")
		require.Len(t, op["resourceChanges"].(map[string]any)["affectedVnfcs"], 3)

		// Operate, change flavour, scale to level, change ext conn.
		e.wait(e.task(id, "operate", map[string]any{"changeStateTo": "STOPPED"}), "COMPLETED")
		require.Equal(t, "STOPPED", e.instance(id)["instantiatedVnfInfo"].(map[string]any)["vnfState"])
		require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/operate", map[string]any{"changeStateTo": "STOPPED"}).status)
		e.wait(e.task(id, "change_flavour", map[string]any{"newFlavourId": "big"}), "COMPLETED")
		require.Equal(t, "big", e.instance(id)["instantiatedVnfInfo"].(map[string]any)["flavourId"])
		e.wait(e.task(id, "scale_to_level", map[string]any{"scaleInfo": []any{map[string]any{"aspectId": scripted.Aspect, "scaleLevel": 3}}}), "COMPLETED")
		require.EqualValues(t, 3, scaleLevel(t, e.instance(id)))
		e.wait(e.task(id, "change_ext_conn", map[string]any{"extVirtualLinks": []any{map[string]any{"id": "ext-1", "resourceId": "net-1", "extCps": []any{map[string]any{"cpdId": "CP1", "cpConfig": []any{map[string]any{"cpProtocolData": []any{map[string]any{"layerProtocol": "IP_OVER_ETHERNET"}}}}}}}}}), "COMPLETED")

		// Terminate, then delete.
		op = e.wait(e.task(id, "terminate", map[string]any{"terminationType": "GRACEFUL", "gracefulTerminationTimeout": 1}), "COMPLETED")
		require.Equal(t, []string{"terminate_start", "terminate", "terminate_end"}, e.drv.CallsFor(op["id"].(string)))
		inst = e.instance(id)
		require.Equal(t, "NOT_INSTANTIATED", inst["instantiationState"])
		require.NotContains(t, inst, "instantiatedVnfInfo")
		require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/terminate", map[string]any{"terminationType": "FORCEFUL"}).status)
		require.Equal(t, 204, e.do("DELETE", "/vnflcm/v1/vnf_instances/"+id, nil).status)
		require.Equal(t, 404, e.do("GET", "/vnflcm/v1/vnf_instances/"+id, nil).status)

		// Every op occ of the instance is still listed, all COMPLETED.
		ops := e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs?filter=(eq,vnfInstanceId,"+id+")", nil).list(t)
		require.Len(t, ops, 10)
		for _, o := range ops {
			require.Equal(t, "COMPLETED", o["operationState"])
			require.NotContains(t, o, "operationParams", "complex attributes are excluded from lists by default")
		}
	})
}

func TestFailureRetryRollbackFail(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		// A step failing once: FAILED_TEMP with the error, retry resumes
		// after the last finished step and completes.
		id := e.create()
		opID := e.task(id, "instantiate", withScript(map[string]string{"instantiate_end": "failonce"}))
		op := e.wait(opID, "FAILED_TEMP")
		pd := op["error"].(map[string]any)
		require.Contains(t, pd["detail"], "mgmt_instantiate_end")
		require.Contains(t, op["_links"].(map[string]any), "retry")
		// Another task is blocked by the FAILED_TEMP op occ.
		require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/instantiate", instantiateBody).status)
		r := e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", nil)
		require.Equal(t, 202, r.status, "%s", r.body)
		e.wait(opID, "COMPLETED")
		require.Equal(t, []string{"instantiate_start", "instantiate", "instantiate_end", "instantiate_end"}, e.drv.CallsFor(opID), "retry resumed at the failed step")
		require.Equal(t, "INSTANTIATED", e.instance(id)["instantiationState"])
		// retry/rollback/fail only from FAILED_TEMP.
		for _, a := range []string{"retry", "rollback", "fail"} {
			require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/"+a, nil).status)
		}

		// Rollback of a failed instantiate undoes the infra step (terminate).
		id2 := e.create()
		opID = e.task(id2, "instantiate", withScript(map[string]string{"instantiate_end": "fail"}))
		e.wait(opID, "FAILED_TEMP")
		require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/rollback", nil).status)
		e.wait(opID, "ROLLED_BACK")
		require.Equal(t, []string{"instantiate_start", "instantiate", "instantiate_end", "rollback_terminate"}, e.drv.CallsFor(opID))
		require.Equal(t, "NOT_INSTANTIATED", e.instance(id2)["instantiationState"])

		// Fail: 200 with the op occ, FAILED, the instance is free again.
		opID = e.task(id2, "instantiate", withScript(map[string]string{"instantiate": "fail"}))
		e.wait(opID, "FAILED_TEMP")
		r = e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/fail", nil)
		require.Equal(t, 200, r.status)
		validate(t, "VnfLcmOpOcc", r.body)
		require.Equal(t, "FAILED", r.json(t)["operationState"])
		e.wait(e.task(id2, "instantiate", instantiateBody), "COMPLETED")

		// A heal cannot be rolled back once its infra step ran.
		opID = e.task(id2, "heal", map[string]any{"additionalParams": map[string]any{"script": map[string]string{"heal_end": "fail"}}})
		e.wait(opID, "FAILED_TEMP")
		r = e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/rollback", nil)
		require.Equal(t, 409, r.status)
		require.Contains(t, string(r.body), "infra_heal")
		require.Equal(t, 200, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/fail", nil).status)

		// Scale out rolled back by scaling in.
		opID = e.task(id2, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect, "additionalParams": map[string]any{"script": map[string]string{"scale_end": "fail"}}})
		e.wait(opID, "FAILED_TEMP")
		require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/rollback", nil).status)
		e.wait(opID, "ROLLED_BACK")
		require.Equal(t, []string{"scale_start", "scale", "scale_end", "rollback_scale"}, e.drv.CallsFor(opID))
		require.Len(t, vnfcs(t, e.instance(id2)), 2)
	})
}

func TestTransientPanicCancel(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		// Transient errors are retried inside the step.
		id := e.create()
		opID := e.task(id, "instantiate", withScript(map[string]string{"instantiate": "transient:2"}))
		e.wait(opID, "COMPLETED")
		require.Equal(t, []string{"instantiate_start", "instantiate", "instantiate", "instantiate", "instantiate_end"}, e.drv.CallsFor(opID))

		// A driver panic becomes FAILED_TEMP; the server keeps serving.
		opID = e.task(id, "scale", map[string]any{"type": "SCALE_OUT", "aspectId": scripted.Aspect, "additionalParams": map[string]any{"script": map[string]string{"scale": "panic"}}})
		op := e.wait(opID, "FAILED_TEMP")
		require.Contains(t, op["error"].(map[string]any)["detail"], "panic")
		require.Equal(t, 200, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/fail", nil).status)

		// FORCEFUL cancel interrupts a slow step.
		opID = e.task(id, "heal", map[string]any{"additionalParams": map[string]any{"script": map[string]string{"heal": "sleep:60s"}}})
		e.wait(opID, "PROCESSING")
		require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", nil).status)
		r := e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/cancel", map[string]any{"cancelMode": "FORCEFUL"})
		require.Equal(t, 202, r.status, "%s", r.body)
		op = e.wait(opID, "FAILED_TEMP")
		require.Contains(t, op["error"].(map[string]any)["detail"], "cancel")
		require.Equal(t, false, op["isCancelPending"])
		require.Equal(t, 409, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/cancel", nil).status, "nothing to cancel in FAILED_TEMP")
		require.Equal(t, 200, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/fail", nil).status)

		// GRACEFUL cancel lets the step finish and stops before the next.
		opID = e.task(id, "heal", map[string]any{"additionalParams": map[string]any{"script": map[string]string{"heal_start": "sleep:1500ms"}}})
		e.wait(opID, "PROCESSING")
		require.Equal(t, 202, e.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/cancel", map[string]any{"cancelMode": "GRACEFUL"}).status)
		e.wait(opID, "FAILED_TEMP")
		require.Equal(t, []string{"heal_start"}, e.drv.CallsFor(opID))
	})
}

// Many concurrent requests on one instance: exactly one op occ wins.
func TestOneOperationAtATime(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		id := e.create()
		body := withScript(map[string]string{"instantiate": "sleep:200ms"})
		var wg sync.WaitGroup
		codes := make(chan int, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- e.do("POST", "/vnflcm/v1/vnf_instances/"+id+"/instantiate", body).status
			}()
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		require.Equal(t, map[int]int{202: 1, 409: 15}, count)
		ops := e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs?filter=(eq,vnfInstanceId,"+id+")", nil).list(t)
		require.Len(t, ops, 1)
		e.wait(ops[0]["id"].(string), "COMPLETED")
	})
}

func TestModifyInfo(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		id := e.create()
		r := e.do("GET", "/vnflcm/v1/vnf_instances/"+id, nil)
		etag := r.header.Get("ETag")
		require.NotEmpty(t, etag)
		// Stale If-Match → 412, nothing queued.
		r = e.do("PATCH", "/vnflcm/v1/vnf_instances/"+id, `{"vnfInstanceName":"x"}`, "Content-Type", "application/merge-patch+json", "If-Match", `"999"`)
		require.Equal(t, 412, r.status)
		patch := map[string]any{
			"vnfInstanceName": "renamed", "metadata": map[string]any{"owner": "ops"},
			"vimConnectionInfo": []any{map[string]any{"id": "vim-2", "vimType": scripted.VimType, "accessInfo": map[string]any{"username": "u", "password": "s3cret-VIM-password"}}},
		}
		r = e.do("PATCH", "/vnflcm/v1/vnf_instances/"+id, patch, "Content-Type", "application/merge-patch+json", "If-Match", etag)
		require.Equal(t, 202, r.status, "%s", r.body)
		loc := r.header.Get("Location")
		op := e.wait(loc[strings.LastIndex(loc, "/")+1:], "COMPLETED")
		require.Equal(t, "MODIFY_INFO", op["operation"])
		require.Equal(t, "renamed", op["changedInfo"].(map[string]any)["vnfInstanceName"])
		inst := e.instance(id)
		require.Equal(t, "renamed", inst["vnfInstanceName"])
		require.Equal(t, "ops", inst["metadata"].(map[string]any)["owner"])
		// application/json is accepted too (the Tacker CLI sends it); a
		// merge patch of accessInfo keeps the sealed password.
		r = e.do("PATCH", "/vnflcm/v1/vnf_instances/"+id, map[string]any{"vimConnectionInfo": []any{map[string]any{"id": "vim-2", "vimType": scripted.VimType, "accessInfo": map[string]any{"region": "R2"}}}})
		require.Equal(t, 202, r.status, "%s", r.body)
		loc = r.header.Get("Location")
		e.wait(loc[strings.LastIndex(loc, "/")+1:], "COMPLETED")
		vim := e.instance(id)["vimConnectionInfo"].([]any)[0].(map[string]any)["accessInfo"].(map[string]any)
		require.Equal(t, map[string]any{"username": "u", "region": "R2"}, vim)
		// The sealed password is still there for drivers: instantiate on it.
		opID := e.task(id, "instantiate", map[string]any{"flavourId": "simple"})
		e.wait(opID, "COMPLETED")
		got := e.instance(id)["vimConnectionInfo"].([]any)[0].(map[string]any)
		require.Equal(t, "vim-2", got["id"])
		r = e.do("PATCH", "/vnflcm/v1/vnf_instances/"+id, `{"vnfInstanceName":"x"}`, "Content-Type", "text/plain")
		require.Equal(t, 415, r.status)
	})
}

func TestListFilterPaging(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 45 {
			r := e.do("POST", "/vnflcm/v1/vnf_instances", map[string]any{"vnfdId": fmt.Sprintf("vnfd-%d", i%3), "vnfInstanceName": fmt.Sprintf("vnf-%02d", i), "metadata": map[string]any{"tier": i % 2}})
			require.Equal(t, 201, r.status)
			ids = append(ids, r.json(t)["id"].(string))
		}
		// Paging: 20 + 20 + 5, Link only while a next page exists.
		var got []string
		url := "/vnflcm/v1/vnf_instances"
		pages := 0
		for url != "" {
			r := e.do("GET", url, nil)
			require.Equal(t, 200, r.status)
			for _, it := range r.list(t) {
				validate(t, "VnfInstance", mustJSON(t, it))
				require.NotContains(t, it, "metadata", "excluded by default")
				got = append(got, it["id"].(string))
			}
			pages++
			url = ""
			if l := r.header.Get("Link"); l != "" {
				require.Regexp(t, `^<http://[^>]+nextpage_opaque_marker=[^>]+>; rel="next"$`, l)
				url = l[1:strings.Index(l, ">")]
			}
		}
		require.Equal(t, 3, pages)
		require.Equal(t, ids, got)

		// Filters: eq on an indexed attribute, nested attribute, in, cont, neq.
		l := e.do("GET", "/vnflcm/v1/vnf_instances?filter=(eq,vnfdId,vnfd-1)&all_fields", nil).list(t)
		require.Len(t, l, 15)
		require.Contains(t, l[0], "metadata", "all_fields returns everything")
		l = e.do("GET", "/vnflcm/v1/vnf_instances?filter=(eq,vnfdId,vnfd-1);(eq,metadata/tier,1)", nil).list(t)
		require.Len(t, l, 8)
		l = e.do("GET", "/vnflcm/v1/vnf_instances?filter=(in,vnfInstanceName,vnf-01,vnf-02,'vnf-03')", nil).list(t)
		require.Len(t, l, 3)
		l = e.do("GET", "/vnflcm/v1/vnf_instances?filter=(cont,vnfInstanceName,vnf-4)&fields=metadata", nil).list(t)
		require.Len(t, l, 5)
		require.Contains(t, l[0], "metadata")
		require.NotContains(t, l[0], "instantiatedVnfInfo")
		l = e.do("GET", "/vnflcm/v1/vnf_instances?filter=(neq,instantiationState,NOT_INSTANTIATED)", nil).list(t)
		require.Empty(t, l)
		require.Equal(t, "[]\n", string(e.do("GET", "/vnflcm/v1/vnf_instances?filter=(neq,instantiationState,NOT_INSTANTIATED)", nil).body), "an empty list is a bare []")

		for _, bad := range []string{
			"filter=(eq,nosuch,1)", "filter=(eq,vnfdId", "filter=(like,vnfdId,x)", "filter=(eq,vnfdId/x,1)",
			"nextpage_opaque_marker=garbage", "all_fields&fields=metadata", "fields=nosuch",
		} {
			r := e.do("GET", "/vnflcm/v1/vnf_instances?"+bad, nil)
			require.Equal(t, 400, r.status, "%s: %s", bad, r.body)
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, backends["sqlite"](t), 100)
	id := e.create()
	cases := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		detail             string
	}{
		{"unknown instance", "GET", "/vnflcm/v1/vnf_instances/6f1d3e46-0000-4000-8000-000000000000", nil, nil, 404, "does not exist"},
		{"not a uuid", "GET", "/vnflcm/v1/vnf_instances/not-a-uuid", nil, nil, 404, "not a valid UUID"},
		{"unknown op occ", "POST", "/vnflcm/v1/vnf_lcm_op_occs/6f1d3e46-0000-4000-8000-000000000000/retry", nil, nil, 404, "does not exist"},
		{"method", "PUT", "/vnflcm/v1/vnf_instances", `{}`, nil, 405, "PUT"},
		{"method on op occs", "DELETE", "/vnflcm/v1/vnf_lcm_op_occs", nil, nil, 405, "DELETE"},
		{"version", "GET", "/vnflcm/v1/vnf_instances", nil, []string{"Version", "2.0.0"}, 406, "2.0.0"},
		{"accept", "GET", "/vnflcm/v1/vnf_instances", nil, []string{"Accept", "application/xml"}, 406, "application/xml"},
		{"malformed json", "POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":`, nil, 400, "JSON"},
		{"missing vnfdId", "POST", "/vnflcm/v1/vnf_instances", `{"vnfInstanceName":"x"}`, nil, 400, "vnfdId"},
		{"wrong type", "POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":42}`, nil, 400, "vnfdId"},
		{"unknown vnfd", "POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":"unknown-vnfd"}`, nil, 422, "unknown-vnfd"},
		{"content type", "POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":"x"}`, []string{"Content-Type", "text/plain"}, 415, "text/plain"},
		{"missing flavour", "POST", "/vnflcm/v1/vnf_instances/" + id + "/instantiate", `{}`, nil, 400, "flavourId"},
		{"bad enum", "POST", "/vnflcm/v1/vnf_instances/" + id + "/terminate", `{"terminationType":"SOMETIMES"}`, nil, 400, "terminationType"},
		{"steps zero", "POST", "/vnflcm/v1/vnf_instances/" + id + "/scale", `{"type":"SCALE_OUT","aspectId":"a","numberOfSteps":0}`, nil, 400, "numberOfSteps"},
		{"heal ids not array", "POST", "/vnflcm/v1/vnf_instances/" + id + "/heal", `{"vnfcInstanceId":"x"}`, nil, 400, "vnfcInstanceId"},
		{"not instantiated", "POST", "/vnflcm/v1/vnf_instances/" + id + "/heal", `{}`, nil, 409, "INSTANTIATED"},
		{"no driver", "POST", "/vnflcm/v1/vnf_instances/" + id + "/instantiate", `{"flavourId":"f","vimConnectionInfo":[{"id":"v","vimType":"ETSINFV.OPENSTACK_KEYSTONE.V_3"}]}`, nil, 422, "no infrastructure driver"},
		{"no vim", "POST", "/vnflcm/v1/vnf_instances/" + id + "/instantiate", `{"flavourId":"f"}`, nil, 422, "no default VIM"},
		{"too big", "POST", "/vnflcm/v1/vnf_instances", `{"vnfdId":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, "exceeds"},
		{"scale_to_level both", "POST", "/vnflcm/v1/vnf_instances/" + id + "/scale_to_level", `{"instantiationLevelId":"l","scaleInfo":[{"aspectId":"a","scaleLevel":1}]}`, nil, 400, "exactly one"},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, c.body, c.headers...)
		require.Equal(t, c.status, r.status, "%s: %s", c.name, r.body)
		require.Contains(t, string(r.body), c.detail, c.name)
	}
	// Nothing was written by the bad requests: still one instance, no op occ.
	require.Len(t, e.do("GET", "/vnflcm/v1/vnf_instances", nil).list(t), 1)
	require.Empty(t, e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs", nil).list(t))

	// api_versions answers any Version header.
	for _, p := range []string{"/vnflcm/api_versions", "/vnflcm/v1/api_versions"} {
		r := e.do("GET", p, nil, "Version", "2.0.0")
		require.Equal(t, 200, r.status)
		validate(t, "ApiVersionInformation", r.body)
		require.Contains(t, string(r.body), `"1.3.0"`)
	}
	require.Equal(t, 200, e.do("GET", "/healthz", nil).status)
	require.Equal(t, 200, e.do("GET", "/readyz", nil).status)
	require.Equal(t, 200, e.do("GET", "/vnflcm/v1/openapi.yaml", nil, "Accept", "").status)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := jsonMarshal(v)
	require.NoError(t, err)
	return raw
}

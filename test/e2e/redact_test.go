package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// TestOperationParamsRedacted: secrets in additionalParams (attributes named
// like passwords, tokens, keys, credentials, and the values of Helm
// parameters with such names) are not in the op occ the API serves, while
// the driver gets the request as sent.
func TestOperationParamsRedacted(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		body := withScript(nil)
		ap := body["additionalParams"].(map[string]any)
		ap["using_helm_install_param"] = []any{map[string]any{
			"exthelmchart": false, "helmreleasename": "web", "helmchartfile_path": "Files/web.tgz",
			"helmparameter": []any{"image.tag=1.25", "auth.rootPassword=" + testSecrets[0], "replicas=2,db.token=" + testSecrets[1]},
		}}
		ap["apiKey"] = testSecrets[1]
		ap["Registry_Credential"] = map[string]any{"user": "u", "pass": testSecrets[2]}
		ap["keyboard"] = "us"

		id := e.create()
		opID := e.task(id, "instantiate", body)
		op := e.wait(opID, "COMPLETED")

		got := op["operationParams"].(map[string]any)["additionalParams"].(map[string]any)
		require.Equal(t, "us", got["keyboard"], "keyboard is not a key")
		for _, k := range []string{"apiKey", "Registry_Credential"} {
			require.NotContains(t, got, k)
		}
		require.NotContains(t, got["k8s_cluster_installation_param"].(map[string]any)["master_node"], "password")
		helm := got["using_helm_install_param"].([]any)[0].(map[string]any)
		require.Equal(t, "web", helm["helmreleasename"])
		require.Equal(t, []any{"image.tag=1.25", "auth.rootPassword=***", "replicas=2,db.token=***"}, helm["helmparameter"])

		// The list view with all_fields too.
		r := e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs?all_fields", nil)
		require.Equal(t, 200, r.status, "%s", r.body)
		for _, s := range testSecrets {
			require.NotContains(t, string(r.body), s)
		}

		// The driver got the real values.
		raw, ok := e.drv.Params(opID)
		require.True(t, ok)
		var sent struct {
			AdditionalParams struct {
				Helm []struct {
					Params []string `json:"helmparameter"`
				} `json:"using_helm_install_param"`
				APIKey string         `json:"apiKey"`
				Cred   map[string]any `json:"Registry_Credential"`
			} `json:"additionalParams"`
		}
		require.NoError(t, json.Unmarshal(raw, &sent))
		require.Equal(t, []string{"image.tag=1.25", "auth.rootPassword=" + testSecrets[0], "replicas=2,db.token=" + testSecrets[1]}, sent.AdditionalParams.Helm[0].Params)
		require.Equal(t, testSecrets[1], sent.AdditionalParams.APIKey)
		require.Equal(t, testSecrets[2], sent.AdditionalParams.Cred["pass"])
	})
}

// TestOldOperationParamsRedactedOnServe: an op occ stored before a redaction
// rule existed (a Helm password in its document) is served redacted.
func TestOldOperationParamsRedactedOnServe(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		id := e.create()
		now := time.Now().UTC()
		op := &store.OpOcc{VnfLcmOpOcc: model.VnfLcmOpOcc{ID: uuid.NewString(), VnfInstanceID: id, Operation: model.OpInstantiate,
			OperationState: model.Completed, StateEnteredTime: now, StartTime: now,
			OperationParams: json.RawMessage(`{"flavourId":"simple","additionalParams":{"using_helm_install_param":[{"helmreleasename":"web","helmparameter":["a=1","auth.password=` + testSecrets[0] + `"]}]}}`)}}
		require.NoError(t, e.st.CreateOpOcc(t.Context(), op))
		r := e.do("GET", "/vnflcm/v1/vnf_lcm_op_occs/"+op.ID, nil)
		require.Equal(t, 200, r.status, "%s", r.body)
		helm := r.json(t)["operationParams"].(map[string]any)["additionalParams"].(map[string]any)["using_helm_install_param"].([]any)[0].(map[string]any)
		require.Equal(t, []any{"a=1", "auth.password=***"}, helm["helmparameter"])
	})
}

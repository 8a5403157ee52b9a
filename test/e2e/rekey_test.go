package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/driver"
	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/rekey"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/server"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/test/scripted"
)

// basicCallback is a notification endpoint that records the BASIC
// credentials each POST came with.
type basicCallback struct {
	mu    sync.Mutex
	posts []string // "user:password"
}

func (c *basicCallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		u, p, _ := r.BasicAuth()
		c.mu.Lock()
		c.posts = append(c.posts, u+":"+p)
		c.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *basicCallback) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts = nil
}

func (c *basicCallback) got(want string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.posts {
		if p == want {
			return true
		}
	}
	return false
}

// TestRotateKey: with instances holding vimConnectionInfo secrets and
// driver state, a registered VIM, a subscription with BASIC
// authentication, an op occ in FAILED_TEMP with sealed parameters and
// workflow data, and a package with a sealed upload source, a rotation
// re-encrypts everything; a server with only the new key then reads it all
// back (GET, retry, VIM resolution, notification delivery) and no value is
// left under the old key.
func TestRotateKey(t *testing.T) {
	t.Parallel()
	const osType = "ETSINFV.OPENSTACK_KEYSTONE.V_3"
	register := func(reg *driver.Registry, d *scripted.Driver) { reg.RegisterInfra(d, osType) }
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			keys := t.TempDir()
			oldFile, newFile := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
			cb := &basicCallback{}
			cbSrv := httptest.NewServer(cb)
			t.Cleanup(cbSrv.Close)
			basic := "nfvo:" + testSecrets[1]

			e1 := newEnvWith(t, st, 20, register, func(c *server.Config) { c.EncryptionKeyFile = oldFile })
			r := e1.do("POST", "/v1.0/vims.json", vimBody("lab", false))
			require.Equal(t, 201, r.status, "%s", r.body)
			vimID := r.json(t)["vim"].(map[string]any)["id"].(string)
			r = e1.do("POST", "/vnflcm/v1/subscriptions", map[string]any{"callbackUri": cbSrv.URL,
				"authentication": map[string]any{"authType": []string{"BASIC"}, "paramsBasic": map[string]any{"userName": "nfvo", "password": testSecrets[1]}}})
			require.Equal(t, 201, r.status, "%s", r.body)

			done := e1.create()
			e1.wait(e1.task(done, "instantiate", instantiateBody), "COMPLETED")
			failed := e1.create()
			failedOp := e1.task(failed, "instantiate", withScript(map[string]string{"instantiate_end": "failonce"}))
			e1.wait(failedOp, "FAILED_TEMP")
			byVim := e1.create()
			e1.wait(e1.task(byVim, "instantiate", map[string]any{"flavourId": "simple",
				"vimConnectionInfo": []any{map[string]any{"id": "mine", "vimId": vimID, "vimType": osType}}}), "COMPLETED")

			oldBox, err := secret.LoadOrCreateKeyFile(oldFile)
			require.NoError(t, err)
			source, err := oldBox.Seal([]byte(`{"addressInformation":"http://repo/p.zip","password":"` + testSecrets[2] + `"}`))
			require.NoError(t, err)
			pkg := &store.Package{VnfPkgInfo: model.VnfPkgInfo{ID: "pkg-uploading", OnboardingState: model.PkgCreated,
				OperationalState: model.PkgDisabled, UsageState: model.PkgNotInUse}, SealedSource: source}
			require.NoError(t, st.CreatePackage(ctx, pkg))
			require.Eventually(t, func() bool { return cb.got(basic) }, 20*time.Second, 20*time.Millisecond, "notifications delivered before the rotation")
			stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			e1.srv.StopBackground(stopCtx)
			cancel()

			newKey, err := secret.LoadOrCreateKey(newFile)
			require.NoError(t, err)
			oldKey, err := secret.ReadKeyFile(oldFile)
			require.NoError(t, err)
			ring, err := secret.NewKeyring(newKey, oldKey)
			require.NoError(t, err)
			rep, err := rekey.Rotate(ctx, st, ring, rekey.Options{Batch: 2})
			require.NoError(t, err)
			for _, k := range rekey.Kinds {
				require.Positive(t, rep[k].Rotated, "%s: %+v", k, rep[k])
			}

			// Not one value under the old key: the sealed columns by their
			// header, every sealed-shaped string in the JSON columns too.
			newOnly, err := secret.NewBox(newKey)
			require.NoError(t, err)
			stale, err := rekey.Stale(ctx, st, newOnly)
			require.NoError(t, err)
			require.Empty(t, stale)
			for _, table := range store.SealedTables {
				require.NoError(t, st.InTx(ctx, func(tx store.Tx) error {
					rows, err := tx.(store.RekeyTx).SealedRows(ctx, table, "", 1000)
					for _, row := range rows {
						if id, ok := secret.KeyIDOf(row.Sealed); ok {
							require.Equal(t, newOnly.KeyID(), id, "%s %s", table, row.ID)
						}
						require.NotContains(t, string(row.JSON), "s3cret")
					}
					return err
				}))
			}

			// A server with only the new key.
			cb.reset()
			e2 := newEnvWith(t, st, 20, register, func(c *server.Config) { c.EncryptionKeyFile = newFile })
			inst := e2.instance(done)
			require.Equal(t, "INSTANTIATED", inst["instantiationState"])
			require.Len(t, inst["vimConnectionInfo"], 1)

			// The retry opens the sealed parameters and the workflow data
			// (the journal's finished steps are not run again). The new
			// driver's failonce fails once more, then the retry completes.
			require.Equal(t, 202, e2.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+failedOp+"/retry", nil).status)
			op := e2.wait(failedOp, "FAILED_TEMP")
			require.Contains(t, op["error"].(map[string]any)["detail"], "mgmt_instantiate_end")
			require.Equal(t, 202, e2.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+failedOp+"/retry", nil).status)
			e2.wait(failedOp, "COMPLETED")
			require.Equal(t, []string{"instantiate_end", "instantiate_end"}, e2.drv.CallsFor(failedOp))
			v, ok := e2.drv.Vim(failedOp)
			require.True(t, ok)
			require.Equal(t, testSecrets[0], v.AccessInfo["password"], "the parameters' credentials")

			// The instance's sealed vimConnectionInfo and driver state, and
			// a registered VIM's credentials, resolve.
			for _, id := range []string{done, byVim} {
				healOp := e2.task(id, "heal", map[string]any{})
				e2.wait(healOp, "COMPLETED")
				v, ok := e2.drv.Vim(healOp)
				require.True(t, ok)
				require.Equal(t, testSecrets[0], v.AccessInfo["password"])
			}

			// The subscription's BASIC credentials open for delivery.
			require.Eventually(t, func() bool { return cb.got(basic) }, 20*time.Second, 20*time.Millisecond, "notification with the subscription's credentials after the rotation")

			got, err := st.GetPackage(ctx, pkg.ID, false)
			require.NoError(t, err)
			plain, err := newOnly.Open(got.SealedSource)
			require.NoError(t, err)
			require.Contains(t, string(plain), "http://repo/p.zip")
			_, err = oldBox.Open(got.SealedSource)
			require.ErrorIs(t, err, secret.ErrWrongKey)
		})
	}
}

// TestOldKeysStillOpen: a server whose current key is new and that lists
// the old one in OldEncryptionKeyFiles resumes an op occ sealed with the
// old key, and what it writes afterwards is sealed with the new key.
func TestOldKeysStillOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := backends["sqlite"](t)
	keys := t.TempDir()
	oldFile, newFile := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
	e1 := newEnv(t, st, 20, func(c *server.Config) { c.EncryptionKeyFile = oldFile })
	id := e1.create()
	opID := e1.task(id, "instantiate", withScript(map[string]string{"instantiate_end": "failonce"}))
	e1.wait(opID, "FAILED_TEMP")
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	e1.srv.StopBackground(stopCtx)
	cancel()

	e2 := newEnv(t, st, 20, func(c *server.Config) {
		c.EncryptionKeyFile = newFile
		c.OldEncryptionKeyFiles = []string{oldFile}
	})
	for _, want := range []string{"FAILED_TEMP", "COMPLETED"} { // the new driver's failonce fails once more
		require.Equal(t, 202, e2.do("POST", "/vnflcm/v1/vnf_lcm_op_occs/"+opID+"/retry", nil).status)
		e2.wait(opID, want)
	}
	v, ok := e2.drv.Vim(opID)
	require.True(t, ok)
	require.Equal(t, testSecrets[0], v.AccessInfo["password"])

	newKey, err := secret.ReadKeyFile(newFile)
	require.NoError(t, err)
	newBox, err := secret.NewBox(newKey)
	require.NoError(t, err)
	inst, err := st.GetInstance(ctx, id, false)
	require.NoError(t, err)
	require.True(t, newBox.IsCurrent(inst.Sealed), "written on completion with the current key")
	op, err := st.GetOpOcc(ctx, opID, false)
	require.NoError(t, err)
	require.False(t, newBox.IsCurrent(op.SealedParams), "the request stays as sealed until a rotation")
}

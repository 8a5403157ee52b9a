package rekey_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/rekey"
	"github.com/vnfm-project/vnfm/internal/secret"
	"github.com/vnfm-project/vnfm/internal/store"
	"github.com/vnfm-project/vnfm/internal/store/storetest"
)

var backends = map[string]func(t testing.TB) store.Store{
	"postgres": func(t testing.TB) store.Store { return storetest.Postgres(t) },
	"sqlite":   func(t testing.TB) store.Store { return storetest.SQLite(t) },
}

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func box(t *testing.T, cur []byte, old ...[]byte) *secret.Box {
	t.Helper()
	b, err := secret.NewKeyring(cur, old...)
	require.NoError(t, err)
	return b
}

func seal(t *testing.T, b *secret.Box, s string) []byte {
	t.Helper()
	v, err := b.Seal([]byte(s))
	require.NoError(t, err)
	return v
}

func b64(v []byte) string { return base64.StdEncoding.EncodeToString(v) }

// seeded is what seed wrote, by plaintext, to be read back.
type seeded struct {
	inst, opID, vimID, subID, pkgID string
	extraVims                       []string
}

// seed writes one row of every kind with values sealed by b, in the
// services' formats, plus rows with nothing sealed and extra VIMs for
// batching.
func seed(t *testing.T, st store.Store, b *secret.Box, extra int) seeded {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	var s seeded
	inst := &store.Instance{VnfInstance: model.VnfInstance{ID: "inst-sealed", VnfdID: "d", InstantiationState: model.Instantiated}}
	inst.Sealed = seal(t, b, "vims")
	inst.Private = json.RawMessage(fmt.Sprintf(`{"vimConnectionId":"vim-1","infraSealed":%q,"mgmtSealed":%q}`,
		b64(seal(t, b, `{"infra":1}`)), b64(seal(t, b, `{"mgmt":1}`))))
	require.NoError(t, st.CreateInstance(ctx, inst))
	s.inst = inst.ID
	require.NoError(t, st.CreateInstance(ctx, &store.Instance{VnfInstance: model.VnfInstance{ID: "inst-bare", VnfdID: "d", InstantiationState: model.NotInstantiated}}))

	op := &store.OpOcc{VnfLcmOpOcc: model.VnfLcmOpOcc{ID: "op-sealed", VnfInstanceID: inst.ID, Operation: model.OpInstantiate,
		OperationState: model.FailedTemp, StateEnteredTime: now, StartTime: now}}
	op.SealedParams = seal(t, b, "params")
	op.Progress = json.RawMessage(fmt.Sprintf(`{"done":["grant","infra_instantiate"],"data":{"sealed":%q}}`, b64(seal(t, b, "flow"))))
	require.NoError(t, st.CreateOpOcc(ctx, op))
	s.opID = op.ID
	bare := &store.OpOcc{VnfLcmOpOcc: model.VnfLcmOpOcc{ID: "op-bare", VnfInstanceID: "inst-bare", Operation: model.OpInstantiate,
		OperationState: model.Completed, StateEnteredTime: now, StartTime: now}, Progress: json.RawMessage(`{"done":["grant"]}`)}
	require.NoError(t, st.CreateOpOcc(ctx, bare))

	for i := range extra + 1 {
		v := &store.Vim{Vim: model.Vim{ID: fmt.Sprintf("vim-%02d", i), Name: fmt.Sprintf("vim-%02d", i), Type: "openstack"}, Sealed: seal(t, b, "vim")}
		require.NoError(t, st.CreateVim(ctx, v))
		if i == 0 {
			s.vimID = v.ID
		} else {
			s.extraVims = append(s.extraVims, v.ID)
		}
	}
	sub := &store.Subscription{LccnSubscription: model.LccnSubscription{ID: "sub-1", CallbackURI: "http://nfvo/cb"}, Sealed: seal(t, b, "auth"), Key: "k"}
	require.NoError(t, st.CreateSubscription(ctx, sub))
	s.subID = sub.ID
	pkg := &store.Package{VnfPkgInfo: model.VnfPkgInfo{ID: "pkg-1", OnboardingState: model.PkgCreated, OperationalState: model.PkgDisabled, UsageState: model.PkgNotInUse},
		SealedSource: seal(t, b, "source")}
	require.NoError(t, st.CreatePackage(ctx, pkg))
	s.pkgID = pkg.ID
	return s
}

func open(t *testing.T, b *secret.Box, v []byte) string {
	t.Helper()
	pt, err := b.Open(v)
	require.NoError(t, err)
	return string(pt)
}

// readBack opens every seeded value with b and checks the plaintexts.
func readBack(t *testing.T, st store.Store, b *secret.Box, s seeded) {
	t.Helper()
	ctx := t.Context()
	inst, err := st.GetInstance(ctx, s.inst, false)
	require.NoError(t, err)
	require.Equal(t, "vims", open(t, b, inst.Sealed))
	var priv struct {
		VimConnectionID string `json:"vimConnectionId"`
		InfraSealed     []byte `json:"infraSealed"`
		MgmtSealed      []byte `json:"mgmtSealed"`
	}
	require.NoError(t, json.Unmarshal(inst.Private, &priv))
	require.Equal(t, "vim-1", priv.VimConnectionID, "other fields are kept")
	require.Equal(t, `{"infra":1}`, open(t, b, priv.InfraSealed))
	require.Equal(t, `{"mgmt":1}`, open(t, b, priv.MgmtSealed))

	op, err := st.GetOpOcc(ctx, s.opID, false)
	require.NoError(t, err)
	require.Equal(t, "params", open(t, b, op.SealedParams))
	var j struct {
		Done []string `json:"done"`
		Data struct {
			Sealed []byte `json:"sealed"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(op.Progress, &j))
	require.Equal(t, []string{"grant", "infra_instantiate"}, j.Done, "the journal is kept")
	require.Equal(t, "flow", open(t, b, j.Data.Sealed))

	for _, id := range append([]string{s.vimID}, s.extraVims...) {
		v, err := st.GetVim(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "vim", open(t, b, v.Sealed))
	}
	sub, err := st.GetSubscription(ctx, s.subID)
	require.NoError(t, err)
	require.Equal(t, "auth", open(t, b, sub.Sealed))
	pkg, err := st.GetPackage(ctx, s.pkgID, false)
	require.NoError(t, err)
	require.Equal(t, "source", open(t, b, pkg.SealedSource))
}

func counts(rep rekey.Report) map[rekey.Kind][2]int {
	out := map[rekey.Kind][2]int{}
	for k, c := range rep {
		out[k] = [2]int{c.Rotated, c.Current}
	}
	return out
}

// TestRotate: every kind is re-encrypted in batches, the new key alone then
// opens everything, nothing is left under the old one, and a second run
// changes nothing.
func TestRotate(t *testing.T) {
	t.Parallel()
	for name, openStore := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			oldKey, newKey := key(t), key(t)
			oldBox := box(t, oldKey)
			s := seed(t, st, oldBox, 4)

			ring := box(t, newKey, oldKey)
			rep, err := rekey.Rotate(t.Context(), st, ring, rekey.Options{Batch: 2})
			require.NoError(t, err)
			require.Equal(t, map[rekey.Kind][2]int{
				rekey.InstanceVims: {1, 0}, rekey.InstanceDriverState: {2, 0},
				rekey.OpOccParams: {1, 0}, rekey.OpOccWorkflow: {1, 0},
				rekey.VimCredentials: {5, 0}, rekey.SubscriptionAuth: {1, 0}, rekey.PackageSource: {1, 0},
			}, counts(rep))

			newOnly := box(t, newKey)
			readBack(t, st, newOnly, s)
			stale, err := rekey.Stale(t.Context(), st, newOnly)
			require.NoError(t, err)
			require.Empty(t, stale)
			// Stale does see values under another key.
			stale, err = rekey.Stale(t.Context(), st, oldBox)
			require.NoError(t, err)
			require.Equal(t, map[store.SealedTable]int{store.SealedInstances: 3, store.SealedOpOccs: 2,
				store.SealedVims: 5, store.SealedSubscriptions: 1, store.SealedPackages: 1}, stale)

			inst, err := st.GetInstance(t.Context(), s.inst, false)
			require.NoError(t, err)
			require.EqualValues(t, 1, inst.Revision, "re-encrypting is no change to the instance")

			rep, err = rekey.Rotate(t.Context(), st, ring, rekey.Options{})
			require.NoError(t, err)
			require.Equal(t, map[rekey.Kind][2]int{
				rekey.InstanceVims: {0, 1}, rekey.InstanceDriverState: {0, 2},
				rekey.OpOccParams: {0, 1}, rekey.OpOccWorkflow: {0, 1},
				rekey.VimCredentials: {0, 5}, rekey.SubscriptionAuth: {0, 1}, rekey.PackageSource: {0, 1},
			}, counts(rep), "idempotent")
		})
	}
}

// crashing seals n values, then fails like a process dying mid-batch.
type crashing struct {
	*secret.Box
	n int
}

var errCrash = errors.New("simulated crash")

func (c *crashing) Seal(p []byte) ([]byte, error) {
	if c.n == 0 {
		return nil, errCrash
	}
	c.n--
	return c.Box.Seal(p)
}

// TestRotateResumes: a rotation that stops halfway leaves whole batches
// committed and the rest untouched; the keyring old+new opens everything,
// and running again finishes the job.
func TestRotateResumes(t *testing.T) {
	t.Parallel()
	for name, openStore := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			oldKey, newKey := key(t), key(t)
			s := seed(t, st, box(t, oldKey), 4)
			ring := box(t, newKey, oldKey)

			// Instances (3 values), op occs (2) and two VIM batches (2
			// each) go through; the third VIM batch dies.
			rep, err := rekey.Rotate(t.Context(), st, &crashing{Box: ring, n: 3 + 2 + 2 + 2}, rekey.Options{Batch: 2})
			require.ErrorIs(t, err, errCrash)
			require.Equal(t, 4, rep[rekey.VimCredentials].Rotated, "two whole VIM batches committed")
			require.Zero(t, rep[rekey.SubscriptionAuth].Rotated)

			readBack(t, st, ring, s)
			stale, err := rekey.Stale(t.Context(), st, ring)
			require.NoError(t, err)
			require.Equal(t, map[store.SealedTable]int{store.SealedVims: 1, store.SealedSubscriptions: 1, store.SealedPackages: 1}, stale,
				"the failed batch rolled back whole")

			rep, err = rekey.Rotate(t.Context(), st, ring, rekey.Options{Batch: 2})
			require.NoError(t, err)
			require.Equal(t, [2]int{1, 4}, counts(rep)[rekey.VimCredentials])
			require.Equal(t, [2]int{0, 3}, [2]int{rep[rekey.InstanceVims].Rotated + rep[rekey.InstanceDriverState].Rotated,
				rep[rekey.InstanceVims].Current + rep[rekey.InstanceDriverState].Current})
			readBack(t, st, box(t, newKey), s)
		})
	}
}

// TestRotateUnknownKey: a value under a key the keyring lacks stops the
// rotation with the row named and the value kept out of the message.
func TestRotateUnknownKey(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	stranger, newKey := key(t), key(t)
	v := &store.Vim{Vim: model.Vim{ID: "vim-x", Name: "x", Type: "openstack"}, Sealed: seal(t, box(t, stranger), "s3cret-VIM-password")}
	require.NoError(t, st.CreateVim(t.Context(), v))
	_, err := rekey.Rotate(t.Context(), st, box(t, newKey), rekey.Options{})
	require.ErrorIs(t, err, secret.ErrWrongKey)
	require.ErrorContains(t, err, "vims vim-x")
	require.ErrorContains(t, err, "--old-encryption-key-files")
	require.NotContains(t, err.Error(), "s3cret")
}

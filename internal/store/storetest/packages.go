package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/internal/model"
	"github.com/vnfm-project/vnfm/internal/store"
)

// packageTests are the package subtests of Run.
var packageTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"PackageCRUD", testPackageCRUD},
	{"PackageRevisionConflicts", testPackageRevisionConflicts},
	{"PackageDuplicateID", testPackageDuplicateID},
	{"PackageWhere", testPackageWhere},
	{"PackagePaging", testPackagePaging},
	{"PackageContent", testPackageContent},
	{"PackageContentLarge", testPackageContentLarge},
	{"PackageOnboardedVnfdUnique", testPackageOnboardedVnfdUnique},
	{"PackageDuplicateKeepsTxUsable", testPackageDuplicateKeepsTxUsable},
	{"ConcurrentOnboard", testConcurrentOnboard},
	{"OnboardedPackageByVnfd", testOnboardedPackageByVnfd},
	{"StalePackages", testStalePackages},
	{"PackageInTxRollback", testPackageInTxRollback},
	{"PackageInTxCommit", testPackageInTxCommit},
	{"PackageRoundTrip", testPackageRoundTrip},
}

func newPackage(id string) *store.Package {
	return &store.Package{VnfPkgInfo: model.VnfPkgInfo{
		ID:               id,
		OnboardingState:  model.PkgCreated,
		OperationalState: model.PkgDisabled,
		UsageState:       model.PkgNotInUse,
		UserDefinedData:  map[string]any{"k": "v"},
	}}
}

func createPackage(t *testing.T, s store.Store) *store.Package {
	t.Helper()
	p := newPackage(newID("pkg"))
	require.NoError(t, s.CreatePackage(t.Context(), p))
	return p
}

// onboard fills in what onboarding learns from the VNFD and marks p
// ONBOARDED (in memory only).
func onboard(p *store.Package, vnfdID string) {
	p.VnfdID = vnfdID
	p.VnfProvider = "acme"
	p.VnfProductName = "firewall"
	p.VnfSoftwareVersion = "1.0"
	p.VnfdVersion = "1.0"
	p.Checksum = &model.Checksum{Algorithm: "SHA-256", Hash: "00ff"}
	p.OnboardingState = model.PkgOnboarded
	p.OperationalState = model.PkgEnabled
	p.Vnfd = json.RawMessage(`{"id":"` + vnfdID + `"}`)
	p.Owner, p.LeaseUntil = "", time.Time{}
}

func pkgIDs(l []store.Package) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].ID
	}
	return out
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// sameBytes compares without dumping megabytes on failure.
func sameBytes(t *testing.T, want, got []byte, msg string) {
	t.Helper()
	if !bytes.Equal(want, got) {
		t.Errorf("%s: bytes differ (want %d bytes, got %d)", msg, len(want), len(got))
	}
}

func testPackageCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	p := newPackage(newID("pkg"))
	require.NoError(t, s.CreatePackage(ctx, p))
	assert.Equal(t, int64(1), p.Revision)
	assert.Positive(t, p.Seq)
	assert.True(t, p.CreatedAt.After(before), "CreatedAt set")

	got, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, p.VnfPkgInfo, got.VnfPkgInfo)
	assert.Equal(t, p.Revision, got.Revision)
	assert.Equal(t, p.Seq, got.Seq)
	sameTime(t, p.CreatedAt, got.CreatedAt, "CreatedAt")
	assert.Nil(t, got.Vnfd)
	assert.Nil(t, got.SealedSource)
	assert.Empty(t, got.Owner)
	assert.True(t, got.LeaseUntil.IsZero())

	lease := time.Now().Add(time.Minute).UTC()
	got.OnboardingState = model.PkgProcessing
	got.Owner, got.LeaseUntil = "w1", lease
	require.NoError(t, s.UpdatePackage(ctx, got))
	assert.Equal(t, int64(2), got.Revision)
	sameTime(t, lease, got.LeaseUntil, "returned lease")

	again, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, int64(2), again.Revision)
	assert.Equal(t, model.PkgProcessing, again.OnboardingState)
	assert.Equal(t, "w1", again.Owner)
	sameTime(t, lease, again.LeaseUntil, "stored lease")
	assert.Equal(t, p.Seq, again.Seq, "update keeps seq")
	sameTime(t, p.CreatedAt, again.CreatedAt, "update keeps CreatedAt")

	onboard(again, "vnfd-crud")
	require.NoError(t, s.UpdatePackage(ctx, again))
	onboarded, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, again.VnfPkgInfo, onboarded.VnfPkgInfo)
	assert.Equal(t, string(again.Vnfd), string(onboarded.Vnfd))
	assert.Empty(t, onboarded.Owner, "released")
	assert.True(t, onboarded.LeaseUntil.IsZero(), "released lease: %v", onboarded.LeaseUntil)

	list, err := s.ListPackages(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{p.ID}, pkgIDs(list))

	require.NoError(t, s.DeletePackage(ctx, p.ID, onboarded.Revision))
	_, err = s.GetPackage(ctx, p.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
	list, err = s.ListPackages(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = s.OnboardedPackageByVnfd(ctx, "vnfd-crud", false)
	assert.ErrorIs(t, err, store.ErrNotFound)

	assert.Error(t, s.CreatePackage(ctx, newPackage("")), "empty id")
}

func testPackageRevisionConflicts(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := createPackage(t, s)
	stale := *p

	p.UserDefinedData = map[string]any{"who": "first"}
	require.NoError(t, s.UpdatePackage(ctx, p))

	stale.UserDefinedData = map[string]any{"who": "second"}
	assert.ErrorIs(t, s.UpdatePackage(ctx, &stale), store.ErrConflict)
	assert.Equal(t, int64(1), stale.Revision, "a failed update leaves Revision alone")
	assert.ErrorIs(t, s.DeletePackage(ctx, p.ID, 1), store.ErrConflict)

	got, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, "first", got.UserDefinedData["who"])

	missing := newPackage(newID("missing"))
	missing.Revision = 1
	assert.ErrorIs(t, s.UpdatePackage(ctx, missing), store.ErrNotFound)
	assert.ErrorIs(t, s.DeletePackage(ctx, missing.ID, 1), store.ErrNotFound)
	_, err = s.GetPackage(ctx, missing.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// A delete with a stale revision keeps the content too.
	require.NoError(t, s.PutPackageContent(ctx, p.ID, []byte("csar")))
	assert.ErrorIs(t, s.DeletePackage(ctx, p.ID, 1), store.ErrConflict)
	content, err := s.PackageContent(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "csar", string(content))
}

func testPackageDuplicateID(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := createPackage(t, s)
	dup := newPackage(p.ID)
	dup.UserDefinedData = map[string]any{"other": true}
	assert.ErrorIs(t, s.CreatePackage(ctx, dup), store.ErrDuplicate)
	got, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, p.UserDefinedData, got.UserDefinedData, "the original is untouched")

	// In a transaction the failure leaves the transaction usable.
	other := newPackage(newID("pkg"))
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreatePackage(ctx, newPackage(p.ID)); !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("want ErrDuplicate, got %w", err)
		}
		return tx.CreatePackage(ctx, other)
	})
	require.NoError(t, err)
	_, err = s.GetPackage(ctx, other.ID, false)
	require.NoError(t, err)
}

func testPackageWhere(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newPackage(newID("a"))
	b := newPackage(newID("b"))
	c := newPackage(newID("c"))
	for _, p := range []*store.Package{a, b, c} {
		require.NoError(t, s.CreatePackage(ctx, p))
	}
	onboard(a, "vnfd-a")
	require.NoError(t, s.UpdatePackage(ctx, a))
	onboard(b, "vnfd-b")
	b.VnfProvider = "globex"
	b.UsageState = model.PkgInUse
	require.NoError(t, s.UpdatePackage(ctx, b))
	c.VnfdID, c.VnfProductName, c.OnboardingState = "vnfd-a", "router", model.PkgError
	require.NoError(t, s.UpdatePackage(ctx, c))

	list := func(where ...store.Cond) []string {
		t.Helper()
		l, err := s.ListPackages(ctx, store.ListOptions{Where: where})
		require.NoError(t, err)
		return pkgIDs(l)
	}
	assert.Equal(t, []string{b.ID}, list(store.Cond{Attr: "vnfdId", Values: []string{"vnfd-b"}}))
	assert.Equal(t, []string{a.ID, c.ID}, list(store.Cond{Attr: "vnfdId", Values: []string{"vnfd-a"}}))
	assert.Equal(t, []string{a.ID, b.ID}, list(store.Cond{Attr: "onboardingState", Values: []string{"ONBOARDED"}}))
	assert.Equal(t, []string{a.ID, c.ID}, list(store.Cond{Attr: "onboardingState", Values: []string{"ONBOARDED", "ERROR"}},
		store.Cond{Attr: "vnfdId", Values: []string{"vnfd-a"}}))
	assert.Equal(t, []string{c.ID}, list(store.Cond{Attr: "operationalState", Values: []string{"DISABLED"}}))
	assert.Equal(t, []string{b.ID}, list(store.Cond{Attr: "usageState", Values: []string{"IN_USE"}}))
	assert.Equal(t, []string{b.ID}, list(store.Cond{Attr: "vnfProvider", Values: []string{"globex"}}))
	assert.Equal(t, []string{c.ID}, list(store.Cond{Attr: "vnfProductName", Values: []string{"router"}}))
	assert.Equal(t, []string{a.ID, c.ID}, list(store.Cond{Attr: "id", Values: []string{c.ID, a.ID}}))
	assert.Empty(t, list(store.Cond{Attr: "vnfdId", Values: []string{"nope"}}))
	assert.Empty(t, list(store.Cond{Attr: "usageState"}), "no values: nothing equals one of them")

	// The indexed columns follow updates of the document.
	b.UsageState = model.PkgNotInUse
	b.OperationalState = model.PkgDisabled
	require.NoError(t, s.UpdatePackage(ctx, b))
	assert.Empty(t, list(store.Cond{Attr: "usageState", Values: []string{"IN_USE"}}))
	assert.Equal(t, []string{b.ID, c.ID}, list(store.Cond{Attr: "operationalState", Values: []string{"DISABLED"}}))

	// Cond combines with paging.
	l, err := s.ListPackages(ctx, store.ListOptions{
		AfterSeq: a.Seq, Limit: 1,
		Where: []store.Cond{{Attr: "vnfProvider", Values: []string{"acme", "globex"}}},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID}, pkgIDs(l))

	// Every advertised attribute is accepted; others are not.
	for _, attr := range store.PackageAttrs {
		_, err := s.ListPackages(ctx, store.ListOptions{Where: []store.Cond{{Attr: attr, Values: []string{"x"}}}})
		assert.NoError(t, err, attr)
	}
	for _, attr := range []string{"vnfSoftwareVersion", "vnfd_id", "owner", "instantiationState"} {
		_, err := s.ListPackages(ctx, store.ListOptions{Where: []store.Cond{{Attr: attr, Values: []string{"x"}}}})
		assert.Error(t, err, attr)
	}
}

func testPackagePaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []string
	var lastSeq int64
	for range 7 {
		p := createPackage(t, s)
		assert.Greater(t, p.Seq, lastSeq, "seq increases")
		lastSeq = p.Seq
		ids = append(ids, p.ID)
	}
	var got []string
	var after int64
	pages := 0
	for {
		page, err := s.ListPackages(ctx, store.ListOptions{AfterSeq: after, Limit: 3})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		pages++
		require.LessOrEqual(t, len(page), 3)
		for _, p := range page {
			require.Greater(t, p.Seq, after, "seq order")
			after = p.Seq
			got = append(got, p.ID)
		}
	}
	assert.Equal(t, ids, got)
	assert.Equal(t, 3, pages)

	all, err := s.ListPackages(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, ids, pkgIDs(all), "no limit returns everything in seq order")

	// A deleted row leaves a gap; paging past it still works, and a new row
	// never reuses a seq.
	require.NoError(t, s.DeletePackage(ctx, ids[6], 1))
	require.NoError(t, s.DeletePackage(ctx, ids[1], 1))
	page, err := s.ListPackages(ctx, store.ListOptions{AfterSeq: all[0].Seq, Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{ids[2], ids[3]}, pkgIDs(page))
	p := createPackage(t, s)
	assert.Greater(t, p.Seq, all[6].Seq)
}

func testPackageContent(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := createPackage(t, s)
	other := createPackage(t, s)

	_, err := s.PackageContent(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "no content yet")
	_, err = s.PackageContent(ctx, "no-such-package")
	assert.ErrorIs(t, err, store.ErrNotFound, "no package")
	assert.ErrorIs(t, s.PutPackageContent(ctx, "no-such-package", []byte("x")), store.ErrNotFound)
	_, err = s.PackageContent(ctx, "no-such-package")
	assert.ErrorIs(t, err, store.ErrNotFound, "a failed put stores nothing")

	first := []byte("PK\x03\x04\x00\x00first\xff")
	require.NoError(t, s.PutPackageContent(ctx, p.ID, first))
	require.NoError(t, s.PutPackageContent(ctx, other.ID, []byte("other")))
	got, err := s.PackageContent(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, first, got)

	second := []byte("PK\x03\x04second, longer than the first one")
	require.NoError(t, s.PutPackageContent(ctx, p.ID, second), "replace")
	got, err = s.PackageContent(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, second, got)

	// Content is not part of the package resource.
	cur, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, p.Revision, cur.Revision, "content writes do not change the revision")

	require.NoError(t, s.PutPackageContent(ctx, p.ID, nil))
	got, err = s.PackageContent(ctx, p.ID)
	require.NoError(t, err, "empty content is content")
	assert.Empty(t, got)
	require.NoError(t, s.PutPackageContent(ctx, p.ID, first))

	// Deleting the package deletes its content, and only its.
	require.NoError(t, s.DeletePackage(ctx, p.ID, cur.Revision))
	_, err = s.PackageContent(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.PackageContent(ctx, other.ID)
	require.NoError(t, err)
	assert.Equal(t, "other", string(got))
	// A new package with the old id starts without content.
	again := newPackage(p.ID)
	require.NoError(t, s.CreatePackage(ctx, again))
	_, err = s.PackageContent(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// Inside a transaction too.
	require.NoError(t, s.PutPackageContent(ctx, other.ID, second))
	err = s.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.GetPackage(ctx, other.ID, true)
		if err != nil {
			return err
		}
		return tx.DeletePackage(ctx, cur.ID, cur.Revision)
	})
	require.NoError(t, err)
	_, err = s.PackageContent(ctx, other.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// testPackageContentLarge round-trips a 5 MB CSAR byte for byte, through a
// replacement and inside a transaction.
func testPackageContentLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	const size = 5 << 20
	p := createPackage(t, s)
	big := randomBytes(size, 1)
	require.NoError(t, s.PutPackageContent(ctx, p.ID, big))
	got, err := s.PackageContent(ctx, p.ID)
	require.NoError(t, err)
	sameBytes(t, big, got, "5 MB content")

	big2 := randomBytes(size+3, 2)
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.PutPackageContent(ctx, p.ID, big2); err != nil {
			return err
		}
		got, err := tx.PackageContent(ctx, p.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(big2, got) {
			return errors.New("replaced content differs inside the transaction")
		}
		return nil
	})
	require.NoError(t, err)
	got, err = s.PackageContent(ctx, p.ID)
	require.NoError(t, err)
	sameBytes(t, big2, got, "replaced 5 MB content")

	// Listing packages does not carry the content along (nor fail on it).
	l, err := s.ListPackages(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{p.ID}, pkgIDs(l))
}

func testPackageOnboardedVnfdUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createPackage(t, s), createPackage(t, s)

	// Packages not (yet) onboarded may share a vnfdId.
	for _, p := range []*store.Package{a, b} {
		p.VnfdID, p.OnboardingState = "vnfd-x", model.PkgProcessing
		require.NoError(t, s.UpdatePackage(ctx, p))
	}
	c := newPackage(newID("pkg"))
	c.VnfdID, c.OnboardingState = "vnfd-x", model.PkgError
	require.NoError(t, s.CreatePackage(ctx, c))

	onboard(a, "vnfd-x")
	require.NoError(t, s.UpdatePackage(ctx, a))

	bRev := b.Revision
	onboard(b, "vnfd-x")
	assert.ErrorIs(t, s.UpdatePackage(ctx, b), store.ErrDuplicate)
	assert.Equal(t, bRev, b.Revision, "a failed update leaves Revision alone")
	stored, err := s.GetPackage(ctx, b.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.PkgProcessing, stored.OnboardingState, "the loser is unchanged")
	assert.Equal(t, bRev, stored.Revision)

	// Creating a package ONBOARDED with a taken vnfdId is a duplicate too.
	d := newPackage(newID("pkg"))
	onboard(d, "vnfd-x")
	assert.ErrorIs(t, s.CreatePackage(ctx, d), store.ErrDuplicate)
	_, err = s.GetPackage(ctx, d.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// Another vnfdId is free; so is a non-onboarded update of the winner's
	// competitor.
	onboard(d, "vnfd-y")
	require.NoError(t, s.CreatePackage(ctx, d))
	stored.OnboardingState = model.PkgError
	require.NoError(t, s.UpdatePackage(ctx, stored))

	// Once the onboarded package is gone, another may take its vnfdId.
	require.NoError(t, s.DeletePackage(ctx, a.ID, a.Revision))
	onboard(stored, "vnfd-x")
	require.NoError(t, s.UpdatePackage(ctx, stored))
	got, err := s.OnboardedPackageByVnfd(ctx, "vnfd-x", false)
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.ID)
}

// testPackageDuplicateKeepsTxUsable: after ErrDuplicate inside a transaction
// the caller can still record the failure and commit.
func testPackageDuplicateKeepsTxUsable(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := createPackage(t, s), createPackage(t, s)
	onboard(a, "vnfd-tx")
	require.NoError(t, s.UpdatePackage(ctx, a))

	err := s.InTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetPackage(ctx, b.ID, true)
		if err != nil {
			return err
		}
		onboard(p, "vnfd-tx")
		if err := tx.UpdatePackage(ctx, p); !errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("want ErrDuplicate, got %v", err)
		}
		if _, err := tx.OnboardedPackageByVnfd(ctx, "vnfd-tx", true); err != nil {
			return err
		}
		p.OnboardingState = model.PkgError
		p.OnboardingFailureDetails = &model.ProblemDetails{Status: 409, Detail: "duplicate vnfdId"}
		return tx.UpdatePackage(ctx, p)
	})
	require.NoError(t, err)
	got, err := s.GetPackage(ctx, b.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.PkgError, got.OnboardingState)
	assert.Equal(t, b.Revision+1, got.Revision)
	require.NotNil(t, got.OnboardingFailureDetails)
	assert.Equal(t, "duplicate vnfdId", got.OnboardingFailureDetails.Detail)
}

// testConcurrentOnboard: packages of one VNFD onboarded at once (in
// transactions that lock their own package) produce exactly one winner.
func testConcurrentOnboard(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	pkgs := make([]*store.Package, n)
	for i := range pkgs {
		pkgs[i] = createPackage(t, s)
	}
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range pkgs {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				onboard(p, "vnfd-race")
				errs[i] = s.UpdatePackage(ctx, p)
				return
			}
			errs[i] = s.InTx(ctx, func(tx store.Tx) error {
				cur, err := tx.GetPackage(ctx, p.ID, true)
				if err != nil {
					return err
				}
				onboard(cur, "vnfd-race")
				return tx.UpdatePackage(ctx, cur)
			})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	var winner string
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = pkgs[i].ID
		case errors.Is(err, store.ErrDuplicate):
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	require.Equal(t, 1, wins, "exactly one package onboards")
	got, err := s.OnboardedPackageByVnfd(ctx, "vnfd-race", false)
	require.NoError(t, err)
	assert.Equal(t, winner, got.ID)
	l, err := s.ListPackages(ctx, store.ListOptions{Where: []store.Cond{{Attr: "onboardingState", Values: []string{"ONBOARDED"}}}})
	require.NoError(t, err)
	assert.Equal(t, []string{winner}, pkgIDs(l))
}

func testOnboardedPackageByVnfd(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.OnboardedPackageByVnfd(ctx, "vnfd-1", false)
	assert.ErrorIs(t, err, store.ErrNotFound)

	pending := createPackage(t, s)
	pending.VnfdID, pending.OnboardingState = "vnfd-1", model.PkgProcessing
	require.NoError(t, s.UpdatePackage(ctx, pending))
	_, err = s.OnboardedPackageByVnfd(ctx, "vnfd-1", false)
	assert.ErrorIs(t, err, store.ErrNotFound, "only ONBOARDED packages count")

	p := createPackage(t, s)
	onboard(p, "vnfd-1")
	p.SealedSource = []byte{0, 1, 2}
	require.NoError(t, s.UpdatePackage(ctx, p))
	q := createPackage(t, s)
	onboard(q, "vnfd-2")
	require.NoError(t, s.UpdatePackage(ctx, q))

	got, err := s.OnboardedPackageByVnfd(ctx, "vnfd-1", false)
	require.NoError(t, err)
	assert.Equal(t, p.ID, got.ID)
	assert.Equal(t, p.Revision, got.Revision)
	assert.Equal(t, p.Seq, got.Seq)
	assert.Equal(t, p.VnfPkgInfo, got.VnfPkgInfo)
	assert.Equal(t, string(p.Vnfd), string(got.Vnfd))
	assert.Equal(t, p.SealedSource, got.SealedSource)

	// forUpdate inside a transaction: lock, change, commit.
	err = s.InTx(ctx, func(tx store.Tx) error {
		cur, err := tx.OnboardedPackageByVnfd(ctx, "vnfd-1", true)
		if err != nil {
			return err
		}
		cur.UsageState = model.PkgInUse
		return tx.UpdatePackage(ctx, cur)
	})
	require.NoError(t, err)
	got, err = s.OnboardedPackageByVnfd(ctx, "vnfd-1", false)
	require.NoError(t, err)
	assert.Equal(t, model.PkgInUse, got.UsageState)

	// Leaving ONBOARDED (disabling does not; an error state would).
	got.OnboardingState = model.PkgError
	require.NoError(t, s.UpdatePackage(ctx, got))
	_, err = s.OnboardedPackageByVnfd(ctx, "vnfd-1", false)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testStalePackages(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Now().UTC()

	stale, err := s.StalePackages(ctx, now)
	require.NoError(t, err)
	assert.Empty(t, stale)

	mk := func(state model.OnboardingState, owner string, lease time.Time) *store.Package {
		t.Helper()
		p := newPackage(newID(string(state)))
		p.OnboardingState, p.Owner, p.LeaseUntil = state, owner, lease
		if state == model.PkgOnboarded {
			onboard(p, newID("vnfd"))
			p.Owner, p.LeaseUntil = owner, lease
		}
		require.NoError(t, s.CreatePackage(ctx, p))
		return p
	}
	_ = mk(model.PkgCreated, "", time.Time{})
	uploadingLive := mk(model.PkgUploading, "a", now.Add(time.Minute))
	uploadingExpired := mk(model.PkgUploading, "a", now.Add(-time.Minute))
	processingUnowned := mk(model.PkgProcessing, "", time.Time{})
	processingLive := mk(model.PkgProcessing, "b", now.Add(time.Hour))
	processingExpired := mk(model.PkgProcessing, "b", now.Add(-time.Second))
	processingNoLease := mk(model.PkgProcessing, "c", time.Time{})
	uploadingUnowned := mk(model.PkgUploading, "", now.Add(time.Hour))
	_ = mk(model.PkgOnboarded, "", time.Time{})
	_ = mk(model.PkgOnboarded, "d", now.Add(-time.Hour))
	_ = mk(model.PkgError, "", time.Time{})
	_ = mk(model.PkgError, "e", now.Add(-time.Hour))

	stale, err = s.StalePackages(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, []string{uploadingExpired.ID, processingUnowned.ID, processingExpired.ID,
		processingNoLease.ID, uploadingUnowned.ID}, pkgIDs(stale))
	assert.NotContains(t, pkgIDs(stale), uploadingLive.ID)
	assert.NotContains(t, pkgIDs(stale), processingLive.ID)
	for _, p := range stale {
		assert.Contains(t, []model.OnboardingState{model.PkgUploading, model.PkgProcessing}, p.OnboardingState)
	}
	sameTime(t, now.Add(-time.Minute), stale[0].LeaseUntil, "lease read back")
	assert.Equal(t, "a", stale[0].Owner)

	// Later, the live leases have ended too.
	stale, err = s.StalePackages(ctx, now.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, []string{uploadingLive.ID, uploadingExpired.ID, processingUnowned.ID, processingExpired.ID,
		processingNoLease.ID, uploadingUnowned.ID}, pkgIDs(stale))

	// Taking a package over (new owner and lease) takes it off the list;
	// finishing the work too.
	processingExpired.Owner, processingExpired.LeaseUntil = "z", now.Add(time.Hour)
	require.NoError(t, s.UpdatePackage(ctx, processingExpired))
	onboard(processingUnowned, newID("vnfd"))
	require.NoError(t, s.UpdatePackage(ctx, processingUnowned))
	stale, err = s.StalePackages(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, []string{uploadingExpired.ID, processingNoLease.ID, uploadingUnowned.ID}, pkgIDs(stale))
}

func testPackageInTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	existing := createPackage(t, s)
	require.NoError(t, s.PutPackageContent(ctx, existing.ID, []byte("old")))
	p := newPackage(newID("pkg"))
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreatePackage(ctx, p); err != nil {
			return err
		}
		if err := tx.PutPackageContent(ctx, p.ID, randomBytes(1<<20, 3)); err != nil {
			return err
		}
		e, err := tx.GetPackage(ctx, existing.ID, true)
		if err != nil {
			return err
		}
		onboard(e, "vnfd-rolled-back")
		if err := tx.UpdatePackage(ctx, e); err != nil {
			return err
		}
		if err := tx.PutPackageContent(ctx, existing.ID, []byte("new")); err != nil {
			return err
		}
		// Inside, the writes are visible.
		if _, err := tx.GetPackage(ctx, p.ID, false); err != nil {
			return err
		}
		if _, err := tx.PackageContent(ctx, p.ID); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)

	_, err = s.GetPackage(ctx, p.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound, "no package")
	_, err = s.PackageContent(ctx, p.ID)
	assert.ErrorIs(t, err, store.ErrNotFound, "no content")
	l, err := s.ListPackages(ctx, store.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{existing.ID}, pkgIDs(l))
	got, err := s.GetPackage(ctx, existing.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.PkgCreated, got.OnboardingState)
	assert.Equal(t, int64(1), got.Revision)
	content, err := s.PackageContent(ctx, existing.ID)
	require.NoError(t, err)
	assert.Equal(t, "old", string(content))
	_, err = s.OnboardedPackageByVnfd(ctx, "vnfd-rolled-back", false)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// A rolled-back delete keeps package and content.
	err = s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeletePackage(ctx, existing.ID, 1); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	content, err = s.PackageContent(ctx, existing.ID)
	require.NoError(t, err)
	assert.Equal(t, "old", string(content))

	// A panic in fn rolls back too.
	panicked := newPackage(newID("panic"))
	assert.Panics(t, func() {
		_ = s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.CreatePackage(ctx, panicked); err != nil {
				return err
			}
			if err := tx.PutPackageContent(ctx, panicked.ID, []byte("x")); err != nil {
				return err
			}
			panic("boom")
		})
	})
	_, err = s.GetPackage(ctx, panicked.ID, false)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.PackageContent(ctx, panicked.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testPackageInTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPackage(newID("pkg"))
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreatePackage(ctx, p); err != nil {
			return err
		}
		if err := tx.PutPackageContent(ctx, p.ID, []byte("csar")); err != nil {
			return err
		}
		locked, err := tx.GetPackage(ctx, p.ID, true)
		if err != nil {
			return err
		}
		onboard(locked, "vnfd-commit")
		if err := tx.UpdatePackage(ctx, locked); err != nil {
			return err
		}
		l, err := tx.ListPackages(ctx, store.ListOptions{Where: []store.Cond{{Attr: "onboardingState", Values: []string{"ONBOARDED"}}}})
		if err != nil {
			return err
		}
		if len(l) != 1 {
			return fmt.Errorf("list in tx: %d packages", len(l))
		}
		_, err = tx.OnboardedPackageByVnfd(ctx, "vnfd-commit", false)
		return err
	})
	require.NoError(t, err)
	got, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Equal(t, model.PkgOnboarded, got.OnboardingState)
	assert.Equal(t, int64(2), got.Revision)
	content, err := s.PackageContent(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, "csar", string(content))
}

// testPackageRoundTrip: the document survives in full; Vnfd and SealedSource
// byte for byte, through every read path; absent values stay absent.
func testPackageRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Key order, spacing, duplicate keys and escapes must survive.
	vnfd := json.RawMessage("{ \"z\": 1,\n  \"a\" : [1, 2.50, \"\\u00e9\\u0000\"], \"z\": 2 }")
	sealed := []byte{0, 1, 2, 0xff, 0xfe, 0, '\'', '"', '\\', 0x80}
	p := &store.Package{VnfPkgInfo: model.VnfPkgInfo{
		ID:                 newID("pkg"),
		VnfdID:             "vnfd-rt",
		VnfProvider:        "acme \u00e9\u4e2d <&>",
		VnfProductName:     "firewall",
		VnfSoftwareVersion: "2.1",
		VnfdVersion:        "1.3",
		Checksum:           &model.Checksum{Algorithm: "SHA-512", Hash: "abcdef"},
		SoftwareImages: []model.VnfPackageSoftwareImageInfo{{
			ID: "img-1", Name: "cirros", Provider: "acme", Version: "0.6",
			Checksum:        model.Checksum{Algorithm: "SHA-256", Hash: "0123"},
			ContainerFormat: "BARE", DiskFormat: "QCOW2", CreatedAt: "2024-02-29T23:59:59Z",
			MinDisk: 1, MinRAM: 512, Size: 16 << 20, UserMetadata: map[string]any{"n": 1.5},
			ImagePath: "Files/images/cirros.img",
		}},
		AdditionalArtifacts: []model.VnfPackageArtifactInfo{{
			ArtifactPath: "Scripts/install.sh", Checksum: model.Checksum{Algorithm: "SHA-256", Hash: "4567"},
			Metadata: map[string]any{"l": []any{"a", nil}},
		}},
		OnboardingState:          model.PkgOnboarded,
		OperationalState:         model.PkgEnabled,
		UsageState:               model.PkgNotInUse,
		UserDefinedData:          map[string]any{"nested": map[string]any{"b": true}},
		OnboardingFailureDetails: &model.ProblemDetails{Status: 422, Detail: "earlier failure"},
		Links: &model.VnfPkgLinks{Self: model.Link{Href: "/vnfpkgm/v1/vnf_packages/x"},
			Vnfd: model.Link{Href: "/vnfd"}, PackageContent: model.Link{Href: "/content"}},
	}, Vnfd: vnfd, SealedSource: sealed}
	require.NoError(t, s.CreatePackage(ctx, p))

	check := func(got *store.Package, path string) {
		t.Helper()
		assertSameJSON(t, p.VnfPkgInfo, got.VnfPkgInfo)
		assert.Equal(t, string(vnfd), string(got.Vnfd), path)
		assert.Equal(t, sealed, got.SealedSource, path)
	}
	got, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	check(got, "get")
	l, err := s.ListPackages(ctx, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l, 1)
	check(&l[0], "list")
	byVnfd, err := s.OnboardedPackageByVnfd(ctx, "vnfd-rt", false)
	require.NoError(t, err)
	check(byVnfd, "by vnfd")

	// Through an update, and the stale list.
	got.OnboardingState = model.PkgProcessing
	got.Vnfd = json.RawMessage(`[ ]`)
	got.SealedSource = []byte("\x00\x00secret\xc3\x28")
	require.NoError(t, s.UpdatePackage(ctx, got))
	stale, err := s.StalePackages(ctx, time.Now())
	require.NoError(t, err)
	require.Len(t, stale, 1)
	assert.Equal(t, "[ ]", string(stale[0].Vnfd))
	assert.Equal(t, got.SealedSource, stale[0].SealedSource)

	// Absent values stay absent, also after having been set.
	got.Vnfd, got.SealedSource = nil, nil
	require.NoError(t, s.UpdatePackage(ctx, got))
	cleared, err := s.GetPackage(ctx, p.ID, false)
	require.NoError(t, err)
	assert.Nil(t, cleared.Vnfd)
	assert.Nil(t, cleared.SealedSource)
	bare := createPackage(t, s)
	gotBare, err := s.GetPackage(ctx, bare.ID, false)
	require.NoError(t, err)
	assert.Nil(t, gotBare.Vnfd)
	assert.Nil(t, gotBare.SealedSource)
	assert.Nil(t, gotBare.Checksum)
	assert.Nil(t, gotBare.SoftwareImages)
}

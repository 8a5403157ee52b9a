package e2e

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vnfm-project/vnfm/test/testsecrets"
)

// TestSecretCheckFindsLeaks: the check every env runs at cleanup reports a
// registered secret, whichever test registered it, in a response body or in
// the log, and nothing on clean data.
func TestSecretCheckFindsLeaks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		bodies []string
		log    string
		want   []string
	}{
		{"clean", []string{`{"id":"1"}`, ``}, `{"msg":"instantiated","password":"***"}`, nil},
		{"a base secret in a body", []string{`{"id":"1"}`, `{"password":"` + testSecrets[0] + `"}`}, ``,
			[]string{fmt.Sprintf("secret %q appeared in a response body: {\"password\":%q}", testSecrets[0], testSecrets[0])}},
		{"another test's secret in the log", nil, `{"msg":"token","secret":"` + authRWSecret + `"}`,
			[]string{fmt.Sprintf("secret %q appeared in the log", authRWSecret)}},
		{"part of a secret is no leak", []string{`s3cret-rw`}, `s3cret-`, nil},
		{"both", []string{nfvoPassword}, "user:" + url.QueryEscape(nfvoSecret),
			[]string{fmt.Sprintf("secret %q appeared in a response body: %s", nfvoPassword, nfvoPassword),
				fmt.Sprintf("secret %q appeared in the log", nfvoSecret)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &env{t: t, logBuf: &syncBuffer{}}
			for _, b := range tc.bodies {
				e.bodies = append(e.bodies, []byte(b))
			}
			_, _ = e.logBuf.Write([]byte(tc.log))
			require.Equal(t, tc.want, e.secretFindings())
		})
	}
}

// TestSecretCheckRunsAtCleanup: a real env whose response bodies and log
// hold a secret registered at run time reports both when its test ends. The
// reports go to a recorder, so this test passes when they arrive.
func TestSecretCheckRunsAtCleanup(t *testing.T) {
	t.Parallel()
	const planted = "s3cret-planted-by-the-meta-test"
	testsecrets.Register(planted)
	rec := &errRecorder{TB: t}
	// Registered first, so it runs after the env's own cleanup.
	t.Cleanup(func() {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		require.Equal(t, []string{
			fmt.Sprintf("secret %q appeared in a response body: {\"leak\":%q}", planted, planted),
			fmt.Sprintf("secret %q appeared in the log", planted),
		}, rec.errs)
	})
	e := newEnv(rec, backends["sqlite"](t), 20)
	require.Equal(t, 200, e.do("GET", "/vnflcm/v1/vnf_instances", nil).status)
	e.mu.Lock()
	e.bodies = append(e.bodies, []byte(`{"leak":"`+planted+`"}`))
	e.mu.Unlock()
	_, _ = e.logBuf.Write([]byte(`{"level":"INFO","msg":"leak","password":"` + planted + `"}` + "\n"))
}

// errRecorder is t with Errorf recorded instead of reported.
type errRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

package testsecrets

import (
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFind(t *testing.T) {
	t.Parallel()
	const planted = "find-test-p@ss word/1"
	Register(planted)
	for _, tc := range []struct {
		name string
		data string
		want string // "" when nothing is found
	}{
		{"clean", `{"id":"x","password":"***"}`, ""},
		{"empty", "", ""},
		{"base secret in a body", `{"accessInfo":{"password":"` + VIMPassword + `"}}`, VIMPassword},
		{"registered secret in a log line", `level=DEBUG msg=sent auth="` + planted + `"`, planted},
		{"query-escaped", "GET /token?client_secret=" + url.QueryEscape(planted), planted},
		{"path-escaped", "http://u:" + url.PathEscape(planted) + "@host/", planted},
		{"a prefix is not the secret", planted[:len(planted)-1], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Find([]byte(tc.data))
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			s := fmt.Sprintf("register-test-secret-%02d", i)
			Register(s, s)
			_, _ = Find([]byte("concurrent reader"))
			_ = All()
		})
	}
	wg.Wait()
	all := All()
	require.True(t, slices.IsSorted(all))
	require.Subset(t, all, []string{VIMPassword, BearerToken, NodePassword, "register-test-secret-00", "register-test-secret-19"})
	require.Len(t, slices.Compact(slices.Clone(all)), len(all), "no duplicates")
	all[0] = "mutated"
	require.NotEqual(t, "mutated", All()[0], "All returns a copy")

	require.Panics(t, func() { Register("pw") }, "too short to tell from ordinary text")
	_, ok := Find([]byte("pw admin"))
	require.False(t, ok)
}

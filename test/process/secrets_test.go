package process

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSecretCheckFindsLeaks: the check launch's cleanup runs on every
// process reports a registered secret, whichever test registered it, in the
// output or in a response body, and nothing on clean data.
func TestSecretCheckFindsLeaks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		out    string
		bodies []string
		want   []string
	}{
		{"clean", `{"msg":"vnfm stopped"}`, []string{`{"accessInfo":{}}`}, nil},
		{"another test's secret in the output", `{"msg":"auth","password":"` + operatorPassword + `"}`, nil,
			[]string{fmt.Sprintf("secret %q in the output of vnfm-scripted", operatorPassword)}},
		{"the base secret in a body", ``, []string{`{}`, `{"password":"` + vimPassword + `"}`},
			[]string{fmt.Sprintf("secret %q in a response body: {\"password\":%q}", vimPassword, vimPassword)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &proc{t: t, bin: binary, out: &syncBuffer{}}
			_, _ = p.out.Write([]byte(tc.out))
			for _, b := range tc.bodies {
				p.bodies = append(p.bodies, []byte(b))
			}
			require.Equal(t, tc.want, p.secretFindings())
		})
	}
}

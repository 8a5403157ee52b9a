package deploy

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serveFlags are the flags `vnfm serve -h` lists.
func serveFlags(t *testing.T, bin string) []string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-h")
	cmd.Env = cleanEnv()
	out, _ := cmd.CombinedOutput() // -h exits 2
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllSubmatch(out, -1) {
		flags = append(flags, string(m[1]))
	}
	require.Greater(t, len(flags), 10, "%s", out)
	return flags
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VNFM_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestEnvSample checks deploy/vnfm.env.sample: every flag of vnfm serve has
// its variable there, nothing else is, the file is plain KEY=value lines
// (systemd's EnvironmentFile syntax), and vnfm accepts every value in it.
func TestEnvSample(t *testing.T) {
	t.Parallel()
	bin := builtAsInImage(t)
	raw, err := os.ReadFile("../../deploy/vnfm.env.sample")
	require.NoError(t, err)
	line := regexp.MustCompile(`^(#?)(VNFM_[A-Z0-9_]+)=([^\s"'\\]*)$`)
	listed := map[string]bool{}
	var active, all []string
	for i, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			require.True(t, l == "" || strings.HasPrefix(l, "#"), "line %d is neither a comment nor KEY=value: %q", i+1, l)
			continue
		}
		require.False(t, listed[m[2]], "%s is listed twice", m[2])
		listed[m[2]] = true
		if m[1] == "" {
			active = append(active, m[2]+"="+m[3])
		}
		if m[3] != "" {
			all = append(all, m[2]+"="+m[3])
		}
	}
	want := map[string]bool{}
	for _, f := range serveFlags(t, bin) {
		v := "VNFM_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		want[v] = true
		require.True(t, listed[v], "--%s has no %s line in deploy/vnfm.env.sample", f, v)
	}
	for v := range listed {
		require.True(t, want[v], "%s is not a flag of vnfm serve", v)
	}

	// vnfm reads the variables before its flags and names one it cannot
	// parse; -h then stops it before it serves.
	for name, vars := range map[string][]string{"active": active, "with the commented ones": all} {
		cmd := exec.Command(bin, "serve", "-h")
		cmd.Env = append(cleanEnv(), vars...)
		out, _ := cmd.CombinedOutput()
		require.Contains(t, string(out), "Usage of serve", "%s: %s", name, out)
		require.NotContains(t, string(out), "vnfm: VNFM_", "%s: a value vnfm refuses", name)
	}
}

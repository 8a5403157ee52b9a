package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const unitFile = "../../deploy/systemd/vnfm.service"

// unitSettings reads a unit file: section.key to its values, in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "not key=value: %q", line)
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func TestSystemdUnitSettings(t *testing.T) {
	t.Parallel()
	u := unitSettings(t, unitFile)
	for _, tc := range []struct{ key, want string }{
		{"Service.ExecStart", "/usr/local/bin/vnfm serve"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"}, // TLS files are read again on SIGHUP
		{"Service.EnvironmentFile", "/etc/vnfm/vnfm.env"},
		{"Service.Restart", "on-failure"},
		{"Service.User", "vnfm"},
		{"Service.StateDirectory", "vnfm"},
		{"Service.ReadWritePaths", "/var/lib/vnfm"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.CapabilityBoundingSet", ""},
		{"Service.AmbientCapabilities", ""},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.PrivateDevices", "yes"},
		{"Service.MemoryDenyWriteExecute", "yes"},
		{"Service.LockPersonality", "yes"},
		{"Service.RestrictNamespaces", "yes"},
		{"Service.RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"Service.SystemCallFilter", "@system-service"},
		{"Install.WantedBy", "multi-user.target"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, u[tc.key], tc.want)
		})
	}
	// Longer than vnfm's default --shutdown-timeout (30s).
	stop := u["Service.TimeoutStopSec"]
	require.Len(t, stop, 1)
	secs, err := strconv.Atoi(strings.TrimSuffix(stop[0], "s"))
	require.NoError(t, err)
	require.Greater(t, secs, 30)
	// The user the unit runs as is the one sysusers.d creates.
	sysusers, err := os.ReadFile("../../deploy/systemd/vnfm.sysusers")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^u vnfm - .* /var/lib/vnfm$`, string(sysusers))
}

// TestSystemdAnalyze has systemd check the unit: `systemd-analyze verify`
// (syntax, known settings, executable commands) and `systemd-analyze
// security --offline` (the hardening score) on a copy whose ExecStart
// names an executable that exists here.
func TestSystemdAnalyze(t *testing.T) {
	t.Parallel()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed: apt-get install systemd (.ci/run installs it)")
	}
	raw, err := os.ReadFile(unitFile)
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)
	require.Contains(t, string(raw), "ExecStart=/usr/local/bin/vnfm serve")
	unit := filepath.Join(t.TempDir(), "vnfm.service")
	require.NoError(t, os.WriteFile(unit, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/vnfm", self)), 0o644))

	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify: %s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify has no complaints")

	// The threshold is the exposure times 10: at most 2.0 ("OK").
	out, err = exec.Command(sa, "security", "--offline=yes", "--threshold=20", "--no-pager", unit).CombinedOutput()
	require.NoError(t, err, "systemd-analyze security: %s", out)
	m := regexp.MustCompile(`Overall exposure level for vnfm\.service: ([0-9.]+) (\w+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	t.Logf("systemd-analyze security: exposure %s %s", m[1], m[2])
	require.Equal(t, "OK", string(m[2]))
}

package process

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestREADMEWalkthrough runs the README's walkthroughs as they are written:
// every ```sh block preceded by <!-- check:NAME --> runs, in order, in one
// bash -euo pipefail per NAME, against the real vnfm binary with the
// OpenStack emulator registered as its default VIM from
// deploy/vim-emulator.yaml, as `make run` starts them. Only the ports
// differ (VNFM points the commands at this server).
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	scripts := checkedBlocks(readme)
	require.Contains(t, scripts, "curl", "README has no <!-- check:curl --> blocks")
	require.Contains(t, scripts, "tacker", "README has no <!-- check:tacker --> blocks")

	for _, name := range []string{"curl", "tacker"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vnfm := startWithEmulator(t, root)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", scripts[name])
			cmd.Dir = root
			cmd.Env = append(cleanEnv("OS_", "PYTHON", "VIRTUAL_ENV", "VNFM"), "VNFM="+vnfm.url)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			t.Logf("walkthrough %s took %v", name, time.Since(start).Round(time.Millisecond))
			require.NoError(t, err, "the README's %s walkthrough failed:\n%s", name, tail(out.String(), 120))
			require.NotContains(t, out.String(), `"password"`, "a password attribute appeared in the walkthrough's output")
		})
	}
}

// checkedBlocks returns, per check name, the concatenated ```sh blocks that
// follow a <!-- check:NAME --> line.
func checkedBlocks(readme []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readme))
	var name string
	var in bool
	for sc.Scan() {
		line := sc.Text()
		switch {
		case in && strings.TrimSpace(line) == "```":
			in, name = false, ""
		case in:
			out[name] += line + "\n"
		case strings.HasPrefix(line, "<!-- check:"):
			name = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "<!-- check:"), " -->")
		case name != "" && strings.HasPrefix(line, "```sh"):
			in = true
		case strings.TrimSpace(line) != "":
			name = ""
		}
	}
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	return filepath.Dir(strings.TrimSpace(string(gomod)))
}

// startWithEmulator starts the OpenStack emulator and vnfm with the
// emulator as its default VIM, as scripts/run.sh does.
func startWithEmulator(t *testing.T, root string) *proc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	emu := exec.Command(emulatorBinary, "-listen", addr, "-action-delay", "20ms", "-state", filepath.Join(t.TempDir(), "emulator.json"))
	var emuOut syncBuffer
	emu.Stdout, emu.Stderr = &emuOut, &emuOut
	require.NoError(t, emu.Start())
	t.Cleanup(func() {
		_ = emu.Process.Kill()
		_ = emu.Wait()
		if t.Failed() {
			t.Logf("openstack-emulator output:\n%s", tail(emuOut.String(), 80))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/v3")
		if err == nil {
			res.Body.Close()
			break
		}
		require.True(t, time.Now().Before(deadline), "the emulator did not answer: %v\n%s", err, emuOut.String())
		time.Sleep(50 * time.Millisecond)
	}
	vimFile, err := os.ReadFile(filepath.Join(root, "deploy", "vim-emulator.yaml"))
	require.NoError(t, err)
	vimFile = bytes.ReplaceAll(vimFile, []byte("http://127.0.0.1:5000/v3"), []byte(fmt.Sprintf("http://%s/v3", addr)))
	f := filepath.Join(t.TempDir(), "vim.yaml")
	require.NoError(t, os.WriteFile(f, vimFile, 0o600))
	return startBinary(t, vnfmBinary, "", t.TempDir(), "--vim-file", f)
}

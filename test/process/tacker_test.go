package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The OpenStack client with the Tacker plugin, from Debian. It runs under
// the system Python explicitly: a pyenv python3 on PATH lacks the modules.
const (
	openstackCLI = "/usr/bin/openstack"
	systemPython = "/usr/bin/python3"
	tackerPlugin = "/usr/lib/python3/dist-packages/tackerclient"
)

// TestTackerCLI drives vnfm with `openstack vnflcm ...` (python-tackerclient,
// VNF LCM v1): every command must exit 0 and print what it should.
func TestTackerCLI(t *testing.T) {
	t.Parallel()
	for _, f := range []string{systemPython, openstackCLI, tackerPlugin} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the Tacker CLI is not installed (%v); install it with\n"+
				"\tapt-get install python3-tackerclient python3-openstackclient", err)
		}
	}
	// A small page size makes every list paginate: the client must follow
	// the Link headers.
	srv := startServer(t, "", t.TempDir(), "--page-size", "2")
	c := &tacker{endpoint: srv.url}

	var versions map[string]any
	c.json(t, &versions, "vnflcm", "versions")
	require.Contains(t, versions, "uriPrefix")
	require.Contains(t, versions["apiVersions"], map[string]any{"version": "1.3.0"})
	c.json(t, &versions, "vnflcm", "versions", "--major-version", "1")
	require.Equal(t, "/vnflcm/v1", versions["uriPrefix"])

	dir := t.TempDir()
	params := func(name, script string) string {
		p := filepath.Join(dir, name)
		body := `{"flavourId":"simple","vimConnectionInfo":[{"id":"vim-1","vimType":"TEST.SCRIPTED.V_1",` +
			`"accessInfo":{"password":"` + vimPassword + `"}}],"additionalParams":{"script":` + script + `}}`
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	plain := params("params.json", `{}`)
	failOnce := params("failonce.json", `{"instantiate_end":"failonce"}`)
	fail := params("fail.json", `{"instantiate_end":"fail"}`)
	update := filepath.Join(dir, "update.json")
	require.NoError(t, os.WriteFile(update, []byte(`{"vnfInstanceName":"n2","vnfInstanceDescription":"d2","metadata":{"owner":"ops"}}`), 0o600))

	// Each python invocation takes about a second, so the scenarios run side
	// by side on the one server.
	t.Run("scenarios", func(t *testing.T) {
		t.Run("lifecycle", func(t *testing.T) {
			t.Parallel()
			tackerLifecycle(t, c, plain, update)
		})
		t.Run("retry", func(t *testing.T) {
			t.Parallel()
			v := c.create(t)
			require.Contains(t, c.run(t, "vnflcm", "instantiate", v.id, failOnce), "has been accepted")
			op := v.awaitOp("INSTANTIATE", "FAILED_TEMP")
			c.json(t, &op, "vnflcm", "op", "show", op["ID"].(string))
			require.Equal(t, "FAILED_TEMP", op["Operation State"])
			require.Contains(t, op["Error"].(map[string]any)["detail"], "scripted one-time failure in instantiate_end")
			out := c.run(t, "vnflcm", "op", "retry", op["ID"].(string))
			require.Contains(t, out, "Retry request for LCM operation "+op["ID"].(string)+" has been accepted")
			v.waitOp(op["ID"].(string), "COMPLETED")
			// Terminate and delete in one go.
			out = c.run(t, "vnflcm", "terminate", v.id, "--termination-type", "FORCEFUL", "--D")
			require.Contains(t, out, "VNF Instance '"+v.id+"' is deleted successfully")
		})
		t.Run("rollback", func(t *testing.T) {
			t.Parallel()
			v := c.create(t)
			c.run(t, "vnflcm", "instantiate", v.id, fail)
			op := v.awaitOp("INSTANTIATE", "FAILED_TEMP")
			out := c.run(t, "vnflcm", "op", "rollback", op["ID"].(string))
			require.Contains(t, out, "Rollback request for LCM operation "+op["ID"].(string)+" has been accepted")
			v.waitOp(op["ID"].(string), "ROLLED_BACK")
			// Rolled back to NOT_INSTANTIATED, so it can be deleted.
			require.Contains(t, c.run(t, "vnflcm", "delete", v.id), "is deleted successfully")
		})
		t.Run("fail", func(t *testing.T) {
			t.Parallel()
			v := c.create(t)
			c.run(t, "vnflcm", "instantiate", v.id, fail)
			op := v.awaitOp("INSTANTIATE", "FAILED_TEMP")
			var failed map[string]any
			c.json(t, &failed, "vnflcm", "op", "fail", op["ID"].(string))
			require.Equal(t, op["ID"], failed["ID"])
			require.Equal(t, "FAILED", failed["Operation State"])
			require.Equal(t, "INSTANTIATE", failed["Operation"])
			require.Contains(t, failed["Error"].(map[string]any)["detail"], "scripted failure in instantiate_end")
			require.Contains(t, c.run(t, "vnflcm", "delete", v.id), "is deleted successfully")
		})
	})

	var list []map[string]any
	c.json(t, &list, "vnflcm", "list")
	require.Empty(t, list, "every instance was deleted")

	srv.stop()
	srv.assertNoSecret(t, vimPassword)
	c.assertNoSecret(t, vimPassword)
}

func tackerLifecycle(t *testing.T, c *tacker, params, update string) {
	var inst map[string]any
	c.json(t, &inst, "vnflcm", "create", "vnfd-1", "--name", "n1", "--description", "d1")
	id := inst["ID"].(string)
	require.Equal(t, "n1", inst["VNF Instance Name"])
	require.Equal(t, "d1", inst["VNF Instance Description"])
	require.Equal(t, "vnfd-1", inst["VNFD ID"])
	require.Equal(t, "Scripted Inc.", inst["VNF Provider"])
	require.Equal(t, "NOT_INSTANTIATED", inst["Instantiation State"])
	v := &vnf{t: t, c: c, id: id, seen: map[string]bool{}}

	var list []map[string]any
	c.json(t, &list, "vnflcm", "list")
	require.Contains(t, list, map[string]any{
		"ID": id, "VNF Instance Name": "n1", "Instantiation State": "NOT_INSTANTIATED",
		"VNF Provider": "Scripted Inc.", "VNF Software Version": "1.0",
		"VNF Product Name": "Scripted VNF", "VNFD ID": "vnfd-1",
	})

	inst = v.show()
	require.Equal(t, "NOT_INSTANTIATED", inst["Instantiation State"])
	require.Contains(t, inst["Links"], "instantiate")

	out := c.run(t, "vnflcm", "instantiate", id, params)
	require.Contains(t, out, "Instantiate request for VNF Instance "+id+" has been accepted.")
	opID := v.awaitOp("INSTANTIATE", "")["ID"].(string)
	op := v.waitOp(opID, "COMPLETED") // vnflcm op show
	require.Equal(t, "INSTANTIATE", op["Operation"])
	require.Equal(t, id, op["VNF Instance ID"])
	require.Len(t, op["Resource Changes"].(map[string]any)["affectedVnfcs"], 2)
	require.Equal(t, "simple", op["Operation Parameters"].(map[string]any)["flavourId"])
	inst = v.show()
	require.Equal(t, "INSTANTIATED", inst["Instantiation State"])
	require.Len(t, vnfcsOf(t, inst), 2)
	require.Equal(t, "vim-1", inst["VIM Connection Info"].([]any)[0].(map[string]any)["id"])

	out = c.run(t, "vnflcm", "scale", "--type", "SCALE_OUT", "--aspect-id", "VDU1_aspect", id)
	require.Contains(t, out, "Scale request for VNF Instance "+id+" has been accepted.")
	v.awaitOp("SCALE", "COMPLETED")
	inst = v.show()
	before := vnfcsOf(t, inst)
	require.Len(t, before, 3)
	require.Equal(t, []any{map[string]any{"aspectId": "VDU1_aspect", "scaleLevel": float64(1)}},
		inst["Instantiated Vnf Info"].(map[string]any)["scaleStatus"])

	// SOL003 heal: the whole VNF, every VNFC gets a new resource.
	out = c.run(t, "vnflcm", "heal", id)
	require.Contains(t, out, "Heal request for VNF Instance "+id+" has been accepted.")
	v.awaitOp("HEAL", "COMPLETED")
	healed := vnfcsOf(t, v.show())
	require.Len(t, healed, 3)
	for i := range healed {
		require.Equal(t, before[i]["id"], healed[i]["id"])
		require.NotEqual(t, resourceID(before[i]), resourceID(healed[i]))
	}

	// SOL002 heal of one VNFC, then a modify-info; one show checks both.
	target := healed[1]["id"].(string)
	out = c.run(t, "vnflcm", "heal", id, "--vnfc-instance", target, "--cause", "node down")
	require.Contains(t, out, "Heal request for VNF Instance "+id+" has been accepted.")
	v.awaitOp("HEAL", "COMPLETED")
	out = c.run(t, "vnflcm", "update", id, "--I", update)
	require.Contains(t, out, "Update vnf:"+id)
	v.awaitOp("MODIFY_INFO", "COMPLETED")
	inst = v.show()
	require.Equal(t, "n2", inst["VNF Instance Name"])
	require.Equal(t, "d2", inst["VNF Instance Description"])
	after := vnfcsOf(t, inst)
	require.Equal(t, resourceID(healed[0]), resourceID(after[0]))
	require.NotEqual(t, resourceID(healed[1]), resourceID(after[1]))
	require.Equal(t, resourceID(healed[2]), resourceID(after[2]))

	var ops []map[string]any
	c.json(t, &ops, "vnflcm", "op", "list")
	var mine []string
	for _, o := range ops {
		if o["VNF Instance ID"] == id {
			require.Equal(t, "COMPLETED", o["Operation State"], "%v", o)
			mine = append(mine, o["Operation"].(string))
		}
	}
	require.ElementsMatch(t, []string{"INSTANTIATE", "SCALE", "HEAL", "HEAL", "MODIFY_INFO"}, mine)

	out = c.run(t, "vnflcm", "terminate", id, "--termination-type", "GRACEFUL", "--graceful-termination-timeout", "1")
	require.Contains(t, out, "Terminate request for VNF Instance '"+id+"' has been accepted.")
	v.awaitOp("TERMINATE", "COMPLETED")
	out = c.run(t, "vnflcm", "delete", id)
	require.Contains(t, out, "Vnf instance '"+id+"' is deleted successfully")
	stderr := c.runFail(t, "vnflcm", "show", id)
	require.Contains(t, stderr, "does not exist")
}

func vnfcsOf(t *testing.T, inst map[string]any) []map[string]any {
	t.Helper()
	info, ok := inst["Instantiated Vnf Info"].(map[string]any)
	require.True(t, ok, "show prints the instantiated VNF info: %v", inst)
	var out []map[string]any
	for _, v := range info["vnfcResourceInfo"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func resourceID(vnfc map[string]any) any {
	return vnfc["computeResource"].(map[string]any)["resourceId"]
}

// tacker runs `openstack` against one vnfm and keeps everything it printed.
type tacker struct {
	endpoint string
	// auth replaces --os-auth-type none (e.g. http_basic with a user).
	auth    []string
	mu      sync.Mutex
	outputs []string
}

// exec runs openstack with args and returns its exit error, stdout, stderr.
func (c *tacker) exec(t *testing.T, args ...string) (error, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	authArgs := c.auth
	if authArgs == nil {
		authArgs = []string{"--os-auth-type", "none"}
	}
	argv := append(append([]string{openstackCLI}, authArgs...), append([]string{"--os-endpoint", c.endpoint}, args...)...)
	cmd := exec.CommandContext(ctx, systemPython, argv...)
	cmd.Env = cleanEnv("OS_", "PYTHON", "VIRTUAL_ENV")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("openstack %s (%v)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	c.mu.Lock()
	c.outputs = append(c.outputs, stdout.String(), stderr.String())
	c.mu.Unlock()
	return err, stdout.String(), stderr.String()
}

// run requires the command to exit 0 and returns its standard output.
func (c *tacker) run(t *testing.T, args ...string) string {
	t.Helper()
	err, stdout, stderr := c.exec(t, args...)
	require.NoError(t, err, "openstack %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, stderr)
	return stdout
}

// json runs a command that formats its output (-f json) into v.
func (c *tacker) json(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.run(t, append(args, "-f", "json")...)
	require.NoError(t, json.Unmarshal([]byte(out), v), "openstack %s printed:\n%s", strings.Join(args, " "), out)
}

// runFail requires the command to exit non-zero and returns its stderr.
func (c *tacker) runFail(t *testing.T, args ...string) string {
	t.Helper()
	err, stdout, stderr := c.exec(t, args...)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "openstack %s should fail: %v\nstdout:\n%s", strings.Join(args, " "), err, stdout)
	return stderr
}

func (c *tacker) assertNoSecret(t *testing.T, secret string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.outputs {
		require.NotContains(t, o, secret, "secret in the CLI output")
	}
}

// create makes an instance with `vnflcm create` and returns it.
func (c *tacker) create(t *testing.T) *vnf {
	t.Helper()
	var inst map[string]any
	c.json(t, &inst, "vnflcm", "create", "vnfd-1")
	require.Equal(t, "NOT_INSTANTIATED", inst["Instantiation State"])
	return &vnf{t: t, c: c, id: inst["ID"].(string), seen: map[string]bool{}}
}

// vnf is an instance and the op occs already seen for it.
type vnf struct {
	t    *testing.T
	c    *tacker
	id   string
	seen map[string]bool
}

func (v *vnf) show() map[string]any {
	v.t.Helper()
	var inst map[string]any
	v.c.json(v.t, &inst, "vnflcm", "show", v.id)
	require.Equal(v.t, v.id, inst["ID"])
	return inst
}

var finalStates = map[any]bool{"COMPLETED": true, "FAILED_TEMP": true, "FAILED": true, "ROLLED_BACK": true}

// awaitOp finds the instance's new op occ for operation with `vnflcm op list
// --filter` and, unless state is empty, waits until it is in state. It
// returns the op occ as listed (or shown, if it had to wait).
func (v *vnf) awaitOp(operation, state string) map[string]any {
	t := v.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ops []map[string]any
		v.c.json(t, &ops, "vnflcm", "op", "list", "--filter", "(eq,vnfInstanceId,"+v.id+")")
		for _, o := range ops {
			id := o["ID"].(string)
			require.Equal(t, v.id, o["VNF Instance ID"], "filtered list: %v", ops)
			if v.seen[id] || o["Operation"] != operation {
				continue
			}
			v.seen[id] = true
			if state == "" {
				return o
			}
			if finalStates[o["Operation State"]] {
				require.Equal(t, state, o["Operation State"], "%v", o)
				return o
			}
			return v.waitOp(id, state)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new %s op occ for %s in: %v", operation, v.id, ops)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitOp polls `vnflcm op show` until the op occ is in state.
func (v *vnf) waitOp(opID, state string) map[string]any {
	t := v.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var op map[string]any
		v.c.json(t, &op, "vnflcm", "op", "show", opID)
		require.Equal(t, opID, op["ID"])
		got := op["Operation State"]
		if got == state {
			return op
		}
		if finalStates[got] {
			t.Fatalf("op occ %s is %v, want %s: %v", opID, got, state, op)
		}
		if time.Now().After(deadline) {
			t.Fatalf("op occ %s still %v, want %s", opID, got, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

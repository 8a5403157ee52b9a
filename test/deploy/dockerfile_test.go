package deploy

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const root = "../.."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []instruction
	var cur string
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	require.Empty(t, cur, "a continuation line ends the file")
	return out
}

// stage is a FROM and what follows it.
type stage struct {
	from, name string
	ins        []instruction
}

func stages(t *testing.T, ins []instruction) []stage {
	t.Helper()
	var out []stage
	for _, in := range ins {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			out = append(out, s)
			continue
		}
		require.NotEmpty(t, out, "%s before FROM", in.cmd)
		out[len(out)-1].ins = append(out[len(out)-1].ins, in)
	}
	return out
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// TestDockerfile checks deploy/Dockerfile without a Docker engine: a Go
// build stage of the module's Go version, a distroless static nonroot
// final stage, what it copies exists, and its entrypoint is the binary it
// copies, serving on the port it exposes.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	st := stages(t, parseDockerfile(t, filepath.Join(root, "deploy", "Dockerfile")))
	require.Len(t, st, 2, "a build stage and the image")
	build, image := st[0], st[1]

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	require.NotNil(t, goVersion)
	require.Equal(t, "golang:"+string(goVersion[1]), build.from, "the build image has go.mod's Go version")
	require.NotEmpty(t, build.name)
	for _, c := range build.all("COPY") {
		f := strings.Fields(c.args)
		for _, src := range f[:len(f)-1] {
			_, err := os.Stat(filepath.Join(root, src))
			require.NoError(t, err, "COPY %s: not in the build context", src)
		}
	}
	run := buildCommand(t, build)
	require.Contains(t, run, "CGO_ENABLED=0")
	require.Contains(t, run, "./cmd/vnfm")
	_, err = os.Stat(filepath.Join(root, "cmd", "vnfm", "main.go"))
	require.NoError(t, err)

	require.Regexp(t, `^gcr\.io/distroless/static(-debian\d+)?:nonroot$`, image.from, "static (CA certificates, no libc), nonroot")
	require.Equal(t, []instruction{{"USER", "nonroot:nonroot"}}, image.all("USER"))
	require.Equal(t, []instruction{{"EXPOSE", "9890"}}, image.all("EXPOSE"))
	require.Len(t, image.all("RUN"), 0, "the distroless image has no shell")
	ep := image.all("ENTRYPOINT")
	require.Len(t, ep, 1)
	var entry []string
	require.NoError(t, json.Unmarshal([]byte(ep[0].args), &entry), "exec form: signals reach vnfm")
	require.Len(t, entry, 2)
	require.Equal(t, "serve", entry[1])
	copied := false
	for _, c := range image.all("COPY") {
		f := strings.Fields(c.args)
		if f[0] == "--from="+build.name && f[len(f)-1] == entry[0] && f[len(f)-2] == "/out/vnfm" {
			copied = true
		}
	}
	require.True(t, copied, "the entrypoint %s is the binary the build stage made", entry[0])
	env := strings.Join(fieldsOf(image.all("ENV")), " ")
	require.Contains(t, env, "VNFM_LISTEN=0.0.0.0:9890", "reachable from outside the container")

	ignore, err := os.ReadFile(filepath.Join(root, "deploy", "Dockerfile.dockerignore"))
	require.NoError(t, err)
	for _, p := range []string{".git", "bin", "var"} {
		require.Regexp(t, "(?m)^/?"+regexp.QuoteMeta(p)+"$", string(ignore))
	}
}

func fieldsOf(ins []instruction) []string {
	var out []string
	for _, in := range ins {
		out = append(out, strings.Fields(in.args)...)
	}
	return out
}

// buildCommand is the build stage's RUN that runs go build.
func buildCommand(t *testing.T, build stage) string {
	t.Helper()
	for _, r := range build.all("RUN") {
		if strings.Contains(r.args, "go build") {
			return r.args
		}
	}
	t.Fatal("no RUN go build in the build stage")
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	if imageBinary != "" {
		os.RemoveAll(filepath.Dir(imageBinary))
	}
	os.Exit(code)
}

var (
	imageBinaryOnce sync.Once
	imageBinary     string
	imageBinaryErr  error
	imageBinaryOut  []byte
)

// builtAsInImage runs the Dockerfile's go build command here (its /out
// directory replaced by a temporary one) and returns the binary.
func builtAsInImage(t *testing.T) string {
	t.Helper()
	imageBinaryOnce.Do(func() {
		st := stages(t, parseDockerfile(t, filepath.Join(root, "deploy", "Dockerfile")))
		dir, err := os.MkdirTemp("", "vnfm-image-")
		if err != nil {
			imageBinaryErr = err
			return
		}
		run := strings.ReplaceAll(buildCommand(t, st[0]), "/out/", dir+"/")
		cmd := exec.Command("sh", "-c", run)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "VERSION=image-test")
		imageBinaryOut, imageBinaryErr = cmd.CombinedOutput()
		imageBinary = filepath.Join(dir, "vnfm")
	})
	require.NoError(t, imageBinaryErr, "the Dockerfile's build command: %s", imageBinaryOut)
	return imageBinary
}

// The binary the Dockerfile builds needs no libc (the image has none).
func TestImageBinaryIsStatic(t *testing.T) {
	t.Parallel()
	bin := builtAsInImage(t)
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "no dynamic loader")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs)
	out, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "vnfm image-test", "VERSION reaches the binary")
}

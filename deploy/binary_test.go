package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the repository's root, from this package's directory.
const repoRoot = ".."

func repoPath(p string) string { return filepath.Join(repoRoot, filepath.FromSlash(p)) }

// binDir holds the enricher binary built for this test process; TestMain
// removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "enricher-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	err  error
}

// enricherBinary builds ./cmd/enricher once per test process, on the first
// test that needs it, and checks that it has `describe`.
func enricherBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil && os.Getenv("GOROOT") != "" {
			goCmd, err = filepath.Join(os.Getenv("GOROOT"), "bin", "go"), nil
		}
		if err != nil {
			build.err = fmt.Errorf("no go command to build the binary: %w", err)
			return
		}
		path := filepath.Join(binDir, "enricher")
		cmd := exec.Command(goCmd, "build", "-o", path, "./cmd/enricher")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/enricher: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command(path, "describe").CombinedOutput(); err != nil {
			build.err = fmt.Errorf("enricher describe: %v: %s(cli.NewDescribeCmd() must be in newRootCmd's AddCommand list, cmd/enricher/main.go)", err, out)
			return
		}
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// --- the binary's commands, flags and variables, from `enricher describe` ---

// command is one command of the binary as `enricher describe` prints it
// (internal/cli/describe.go).
type command struct {
	Path     string   `json:"path"` // "run", "sink redis"
	Aliases  []string `json:"aliases"`
	Runnable bool     `json:"runnable"`
	Flags    []flag   `json:"flags"` // its own and inherited
	Args     []string `json:"args"`  // left over by describe ARGS...
}

type flag struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Default      string `json:"default"`
	NoOptDefault string `json:"no_opt_default"`
	Env          string `json:"env"`       // the variable it reads
	Value        string `json:"value"`     // in describe's environment
	EnvError     string `json:"env_error"` // why the variable's value was refused
}

// commandPath is how the binary names the command: "enricher run".
func (c command) commandPath() string { return "enricher " + c.Path }

func (c command) lookup(name string) (flag, bool) {
	for _, f := range c.Flags {
		if f.Name == name {
			return f, true
		}
	}
	return flag{}, false
}

// value returns the flag's value in describe's environment.
func (c command) value(t *testing.T, name string) string {
	t.Helper()
	f, ok := c.lookup(name)
	if !ok {
		t.Fatalf("`%s` has no --%s", c.commandPath(), name)
	}
	return f.Value
}

// envNames returns the variables c reads: the env of its flags.
func (c command) envNames() map[string]bool {
	out := map[string]bool{}
	for _, f := range c.Flags {
		if f.Env != "" {
			out[f.Env] = true
		}
	}
	return out
}

// built says whether c is a real command rather than a placeholder stub:
// every real command binds its flags to variables.
func (c command) built() bool { return len(c.envNames()) > 0 }

// describe runs `enricher describe ARGS...` with env as its whole
// environment and returns its standard output.
func describe(t *testing.T, env map[string]string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(enricherBinary(t), append([]string{"describe"}, args...)...)
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// commands returns every command of the binary, its flags' values read from env.
func commands(t *testing.T, env map[string]string) map[string]command {
	t.Helper()
	out, err := describe(t, env)
	if err != nil {
		t.Fatalf("enricher describe: %v", err)
	}
	var tree struct {
		Commands []command `json:"commands"`
	}
	if err := json.Unmarshal(out, &tree); err != nil {
		t.Fatalf("enricher describe: %v\n%s", err, out)
	}
	byPath := map[string]command{}
	for _, c := range tree.Commands {
		byPath[c.Path] = c
	}
	return byPath
}

// allEnvNames returns the variables any command of the binary reads.
func allEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, c := range commands(t, nil) {
		for e := range c.envNames() {
			out[e] = true
		}
	}
	return out
}

// goRuntimeEnv are variables the Go runtime reads in any of the binaries.
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true, "TZ": true}

// resolveCommand finds the subcommand a service runs, as the binary does
// (`enricher describe ARGS...`); no command means the image's CMD, `run`.
func resolveCommand(t *testing.T, args []string) (command, []string) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"run"}
	}
	out, err := describe(t, nil, args...)
	var c command
	if err == nil {
		err = json.Unmarshal(out, &c)
	}
	if err != nil {
		t.Fatalf("command %q: the binary has no such subcommand (%v)", strings.Join(args, " "), err)
	}
	return c, c.Args
}

// runFlags returns `enricher run`'s flags as the compose service sets them
// through env.
func runFlags(t *testing.T, env map[string]string) command {
	t.Helper()
	run, ok := commands(t, env)["run"]
	if !ok {
		t.Fatal("the binary has no `run` command")
	}
	for _, f := range run.Flags {
		if f.EnvError != "" {
			t.Fatalf("$%s=%q: %s", f.Env, env[f.Env], f.EnvError)
		}
	}
	return run
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, "$"+k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

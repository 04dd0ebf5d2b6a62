package deploy

// The Makefile's targets that drive the stack: with no Docker engine they
// say so in one line (deploy/scripts/need-docker.sh) instead of letting
// docker-compose print a Python traceback.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMakeTargetsNeedDocker runs make up, down, logs and ps against a fake
// docker (never the real one: on a machine with an engine, up would start
// the stack). Each must stop before compose runs, print exactly one line on
// stderr saying what is missing and how to fix it, followed only by make's
// own "make: *** [Makefile:N: TARGET] Error 1", print nothing on stdout, and
// exit 2 (make's failure status).
func TestMakeTargetsNeedDocker(t *testing.T) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	shells := scriptShells(t)
	// A docker CLI with no engine behind it: the real one prints this and
	// exits 1 for `docker info` (and `docker compose` with no plugin).
	noEngine := fakeBin(t, map[string]string{
		"docker": "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n",
	})
	// An engine that answers, and a compose command that is not installed.
	engineOnly := fakeBin(t, map[string]string{
		"docker": "#!/bin/sh\ncase $1 in info) echo 28.2.2; exit 0 ;; esac\nexit 1\n",
	})
	const demo = ", or run 'make demo' for the pipeline without Docker"
	for _, sh := range shells {
		// The recipes run `bash` from PATH: this shell's.
		shBin := shellBin(t, sh)
		// No docker command at all: PATH holds only what make's recipe needs.
		bare := toolsBin(t, sh, "timeout")
		for _, tc := range []struct {
			name string
			path string // PATH for make
			vars []string
			want string // the line, after "make TARGET: "
		}{
			{name: "no engine", path: withPath(shBin, noEngine, os.Getenv("PATH")),
				want: "no Docker engine answers (docker info failed): install Docker Engine and start it" + demo},
			{name: "no docker command", path: bare,
				want: "no docker command on PATH: install Docker Engine (https://docs.docker.com/engine/install/) and start it" + demo},
			{name: "no compose client", path: withPath(shBin, engineOnly, os.Getenv("PATH")), vars: []string{"COMPOSE=no-such-compose"},
				want: "no compose client ('no-such-compose version' failed): install the Docker Compose plugin or docker-compose 1.29+" + demo},
		} {
			t.Run(sh.name+"/"+tc.name, func(t *testing.T) {
				for _, target := range []string{"up", "down", "logs", "ps"} {
					t.Run(target, func(t *testing.T) {
						t.Parallel()
						cmd := exec.Command(makeCmd, append([]string{target}, tc.vars...)...)
						cmd.Dir = repoRoot
						cmd.Env = makeEnv("PATH=" + tc.path)
						var stdout, stderr bytes.Buffer
						cmd.Stdout, cmd.Stderr = &stdout, &stderr
						err := cmd.Run()
						if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 {
							t.Errorf("make %s: got exit status %d (%v), want 2", target, code, err)
						}
						if stdout.Len() > 0 {
							t.Errorf("stdout: got %q, want nothing", stdout.String())
						}
						lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
						if len(lines) != 2 {
							t.Fatalf("stderr: got %d lines, want the message and make's error line:\n%s", len(lines), stderr.String())
						}
						if want := "make " + target + ": " + tc.want; lines[0] != want {
							t.Errorf("stderr line 1:\ngot  %s\nwant %s", lines[0], want)
						}
						makeErr := regexp.MustCompile(`^make: \*\*\* \[Makefile:[0-9]+: ` + target + `\] Error 1$`)
						if !makeErr.MatchString(lines[1]) {
							t.Errorf("stderr line 2: got %q, want make's %q", lines[1], makeErr)
						}
					})
				}
			})
		}
	}
}

// TestMakeCheckImages: `make check-images` needs the docker CLI but no
// engine; without the CLI it says so in one line, like the other targets.
func TestMakeCheckImages(t *testing.T) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	// A CLI with no engine behind it, whose registry lookups succeed.
	noEngine := fakeBin(t, map[string]string{
		"docker": "#!/bin/sh\ncase $1 in manifest) echo '{}'; exit 0 ;; esac\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n",
	})
	for _, sh := range scriptShells(t) {
		shBin := shellBin(t, sh)
		bare := toolsBin(t, sh, "awk", "cat", "cut", "dirname", "find", "mktemp", "rm", "sed", "sort", "timeout", "tr")
		for _, tc := range []struct {
			name     string
			path     string
			wantCode int
			wantOut  string // the last line of stdout
			wantErr  []string
		}{
			{name: "no engine needed", path: withPath(shBin, noEngine, os.Getenv("PATH")), wantCode: 0,
				wantOut: "check-images: all [0-9]+ images found"},
			{name: "no docker command", path: bare, wantCode: 2, wantErr: []string{
				`check-images: no docker command on PATH: install the Docker CLI \(https://docs.docker.com/engine/install/\); it needs no engine, only access to the registries`,
				`make: \*\*\* \[Makefile:[0-9]+: check-images\] Error 1`,
			}},
		} {
			t.Run(sh.name+"/"+tc.name, func(t *testing.T) {
				cmd := exec.Command(makeCmd, "check-images")
				cmd.Dir = repoRoot
				cmd.Env = makeEnv("PATH=" + tc.path)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				_ = cmd.Run()
				if code := cmd.ProcessState.ExitCode(); code != tc.wantCode {
					t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
				}
				if tc.wantOut != "" {
					lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
					if !regexp.MustCompile("^" + tc.wantOut + "$").MatchString(lines[len(lines)-1]) {
						t.Errorf("last line of stdout: got %q, want %q", lines[len(lines)-1], tc.wantOut)
					}
				}
				got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
				if len(tc.wantErr) == 0 && stderr.Len() == 0 {
					return
				}
				if len(got) != len(tc.wantErr) {
					t.Fatalf("stderr: got %d lines, want %d:\n%s", len(got), len(tc.wantErr), stderr.String())
				}
				for i, w := range tc.wantErr {
					if !regexp.MustCompile("^" + w + "$").MatchString(got[i]) {
						t.Errorf("stderr line %d: got %q, want %q", i+1, got[i], w)
					}
				}
			})
		}
	}
}

// shellBin returns a directory holding sh as `bash`, to put first on PATH.
func shellBin(t *testing.T, sh testShell) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(sh.path, filepath.Join(dir, "bash")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// toolsBin returns a directory holding sh as `bash` and the named tools
// that are installed, and nothing else: a PATH without docker.
func toolsBin(t *testing.T, sh testShell, tools ...string) string {
	t.Helper()
	dir := shellBin(t, sh)
	for _, tool := range tools {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeBin returns a directory holding executable scripts named by files.
func fakeBin(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// makeEnv is the test's environment for a top-level make: without the
// variables a make running this test passes down (a sub-make would print
// "Entering directory" and name itself make[N]), with set overriding.
func makeEnv(set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "PATH", "COMPOSE", "PROFILES":
			continue
		}
		env = append(env, kv)
	}
	return append(env, set...)
}

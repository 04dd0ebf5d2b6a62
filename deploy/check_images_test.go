package deploy

// deploy/scripts/check-images.sh (make check-images): which images it finds,
// and what it makes of docker manifest inspect's answers, against a fake
// docker.

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// pulledImages is the Go twin of check-images.sh's search, written from the
// same rules with this package's compose loader: image: of every service
// (and top-level x- extension) of docker-compose.yml and
// deploy/compose.*.yml not built here, and every
// FROM of every Dockerfile that is neither a stage nor scratch, global ARG
// defaults substituted. The two disagreeing means one of them lets an image
// slip past.
func pulledImages(t *testing.T, root string) []string {
	t.Helper()
	set := map[string]bool{}
	composeFiles := []string{filepath.Join(root, "docker-compose.yml")}
	for _, pat := range []string{"deploy/compose.*.yml", "deploy/compose.*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, pat))
		if err != nil {
			t.Fatal(err)
		}
		composeFiles = append(composeFiles, m...)
	}
	for _, f := range composeFiles {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var cf composeFile
		if err := yaml.Unmarshal(b, &cf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, svc := range cf.Services {
			if svc.Image != "" && svc.Build == nil {
				set[interpolate(svc.Image)] = true
			}
		}
		// Top-level x- extensions: what services merge with <<.
		var top map[string]any
		if err := yaml.Unmarshal(b, &top); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, v := range top {
			ext, ok := v.(map[string]any)
			if !strings.HasPrefix(k, "x-") || !ok {
				continue
			}
			if img, ok := ext["image"].(string); ok && ext["build"] == nil {
				set[interpolate(img)] = true
			}
		}
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == ".git" || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".dockerignore") ||
			!(name == "Dockerfile" || strings.HasSuffix(name, ".Dockerfile") || strings.HasPrefix(name, "Dockerfile.")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, ref := range dockerfileBaseImages(string(b)) {
			set[ref] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(set))
	for ref := range set {
		out = append(out, ref)
	}
	sort.Strings(out)
	return out
}

var dockerfileVar = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// dockerfileBaseImages returns the images a Dockerfile's FROM lines pull,
// build arguments expanded.
func dockerfileBaseImages(df string) []string {
	froms, args := parseDockerfileFroms(df)
	refs := make([]string, 0, len(froms))
	for _, ref := range froms {
		refs = append(refs, dockerfileVar.ReplaceAllStringFunc(ref, func(m string) string {
			s := dockerfileVar.FindStringSubmatch(m)
			if s[3] != "" {
				return args[s[3]]
			}
			if v := args[s[1]]; v != "" {
				return v
			}
			return s[2]
		}))
	}
	return refs
}

// dockerfileFroms returns the images a Dockerfile builds from as written
// (build arguments left in), stage names and scratch left out.
func dockerfileFroms(df string) []string {
	froms, _ := parseDockerfileFroms(df)
	return froms
}

// parseDockerfileFroms returns the image of each FROM line that is not an
// earlier stage or scratch, and the ARGs declared before the first FROM
// (the only ones a FROM line can read).
func parseDockerfileFroms(df string) (froms []string, args map[string]string) {
	args = map[string]string{}
	stages := map[string]bool{"scratch": true}
	seenFrom := false
	for _, line := range strings.Split(df, "\n") {
		f := strings.Fields(strings.TrimSuffix(line, "\r"))
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "ARG":
			if seenFrom {
				continue // a stage's ARG: not visible to FROM
			}
			for _, a := range f[1:] {
				k, v, _ := strings.Cut(a, "=")
				args[k] = strings.Trim(v, `"'`)
			}
		case "FROM":
			seenFrom = true
			i := 1
			for i < len(f) && strings.HasPrefix(f[i], "--") {
				i++
			}
			if i >= len(f) {
				continue
			}
			if !stages[strings.ToLower(f[i])] {
				froms = append(froms, f[i])
			}
			if i+2 < len(f) && strings.EqualFold(f[i+1], "AS") {
				stages[strings.ToLower(f[i+2])] = true
			}
		}
	}
	return froms, args
}

// awkVariants are the awks to run the script with: the system's, and BWK
// awk (macOS's /usr/bin/awk) when Debian's original-awk is installed.
func awkVariants(t *testing.T) []testShell {
	t.Helper()
	out := []testShell{{"awk", ""}}
	if p, err := exec.LookPath("original-awk"); err == nil {
		dir := t.TempDir()
		if err := os.Symlink(p, filepath.Join(dir, "awk")); err != nil {
			t.Fatal(err)
		}
		out = append(out, testShell{"bwk-awk", dir})
	} else {
		t.Log("BWK awk (macOS's) not tried: apt-get install original-awk")
	}
	return out
}

// runCheckImages runs the script with sh, PATH set to path, and env added.
func runCheckImages(t *testing.T, sh testShell, path string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	script, err := filepath.Abs(repoPath("deploy/scripts/check-images.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh.path, append([]string{script}, args...)...)
	cmd.Env = append(append(os.Environ(), "PATH="+path), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// withPath joins the non-empty directories into a PATH.
func withPath(dirs ...string) string {
	var keep []string
	for _, d := range dirs {
		if d != "" {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

// TestCheckImagesFindsEveryImage: the script's list of this repository's
// images is the Go tests' list, so an image added to a compose file or a
// Dockerfile is checked by `make check-images` (or this test says which
// side misses it).
func TestCheckImagesFindsEveryImage(t *testing.T) {
	want := pulledImages(t, repoRoot)
	if !slices.Contains(want, cfImage(t, "postgres")) || !slices.Contains(want, cfImage(t, "kafka")) {
		t.Fatalf("the Go side's list lacks the postgres or kafka image: %q", want)
	}
	for _, ref := range want {
		if strings.HasPrefix(ref, "thmanyah/") {
			t.Errorf("%s is built here, not pulled; the Go side lists it", ref)
		}
	}
	for _, sh := range scriptShells(t) {
		for _, awk := range awkVariants(t) {
			t.Run(sh.name+"/"+awk.name, func(t *testing.T) {
				out, errOut, code := runCheckImages(t, sh, withPath(awk.path, os.Getenv("PATH")), nil, "--list")
				if code != 0 {
					t.Fatalf("--list: exit %d\n%s", code, errOut)
				}
				got := strings.Fields(out)
				if !slices.Equal(got, want) {
					t.Errorf("check-images.sh --list:\n  %s\nthe Go tests' parse of the compose files and Dockerfiles:\n  %s",
						strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			})
		}
	}
}

func cfImage(t *testing.T, service string) string {
	t.Helper()
	return interpolate(loadCompose(t).Services[service].Image)
}

// TestCheckImagesParsing runs the script's search on a small tree with the
// cases the repository does not have (yet): variables, quotes, comments,
// stages, scratch, --platform, build: before and after image:, a stage's
// ARG, override files, Dockerfiles in subdirectories and testdata.
func TestCheckImagesParsing(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"docker-compose.yml": `x-built: &built
  build:
    context: .
  image: example/built:local

x-pulled: &pulled
  image: grafana/grafana:12.4.10

services:
  plain:
    image: postgres:15.14-bookworm
  quoted:
    image: "redis:7.4.2-alpine"   # a comment
  variable:
    image: ${UI_IMAGE:-ghcr.io/kafbat/kafka-ui:v1.5.0}
  merged:
    <<: *built
    command: ["run"]
  built-after:
    image: example/other:local
    ports:
      - "127.0.0.1:1:1"
    build:
      context: ./x
  nested:
    environment:
      image: not-an-image
    image: 'quay.io/debezium/connect:2.7.4.Final'
  unset:
    image: ${UNSET_TAG_PREFIX}busybox:${BUSYBOX_TAG-1.37.0}

volumes:
  data:
`,
		"deploy/compose.extra.yml": `services:
  extra:
    image: apache/kafka:3.9.1
`,
		"Dockerfile": `# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26.8
ARG BASE="alpine:3.22.2"
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG LATE=ignored
FROM build as test
FROM scratch AS empty
FROM ${BASE}
COPY --from=build /x /x
`,
		"deploy/sub/Dockerfile":          "FROM ${MISSING:-busybox:1.37.0}\r\n",
		"deploy/sub/tool.Dockerfile":     "from debian:bookworm-20250520-slim\n",
		"deploy/sub/testdata/Dockerfile": "FROM ignored:1\n",
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The compose files must be compose files: the Go side reads them with
	// the loader the other tests use.
	want := []string{
		"alpine:3.22.2",
		"apache/kafka:3.9.1",
		"busybox:1.37.0",
		"debian:bookworm-20250520-slim",
		"ghcr.io/kafbat/kafka-ui:v1.5.0",
		"golang:1.26.8-bookworm",
		"grafana/grafana:12.4.10",
		"postgres:15.14-bookworm",
		"quay.io/debezium/connect:2.7.4.Final",
		"redis:7.4.2-alpine",
	}
	if got := pulledImages(t, root); !slices.Equal(got, want) {
		t.Errorf("Go side:\ngot  %q\nwant %q", got, want)
	}
	for _, sh := range scriptShells(t) {
		for _, awk := range awkVariants(t) {
			t.Run(sh.name+"/"+awk.name, func(t *testing.T) {
				out, errOut, code := runCheckImages(t, sh, withPath(awk.path, os.Getenv("PATH")), []string{"CHECK_IMAGES_ROOT=" + root}, "--list")
				if code != 0 {
					t.Fatalf("--list: exit %d\n%s", code, errOut)
				}
				if got := strings.Fields(out); !slices.Equal(got, want) {
					t.Errorf("script:\ngot  %q\nwant %q", got, want)
				}
			})
		}
	}
}

// fakeManifestDocker answers `docker manifest inspect REF` as a registry
// would, from lists in its environment, and logs each REF it was asked.
const fakeManifestDocker = `#!/usr/bin/env bash
if [ "$1 $2" != "manifest inspect" ]; then
  echo "fake docker: want manifest inspect, got: $*" >&2
  exit 2
fi
ref=$3
echo "$ref" >>"$FAKE_LOG"
case " ${FAKE_MISSING:-} " in *" $ref "*)
  echo "no such manifest: docker.io/library/$ref" >&2; exit 1 ;;
esac
case " ${FAKE_DENIED:-} " in *" $ref "*)
  echo "errors: denied: requested access to the resource is denied unauthorized: authentication required" >&2; exit 1 ;;
esac
case " ${FAKE_HANG:-} " in *" $ref "*)
  exec sleep 60 ;;
esac
if [ -n "${FAKE_OFFLINE:-}" ]; then
  echo 'failed to configure transport: error pinging v2 registry: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' >&2
  exit 1
fi
echo '{"schemaVersion": 2}'
`

// TestCheckImagesScript runs the check against a fake docker.
func TestCheckImagesScript(t *testing.T) {
	images := pulledImages(t, repoRoot)
	pg := cfImage(t, "postgres")
	kafka := cfImage(t, "kafka")
	fake := fakeBin(t, map[string]string{"docker": fakeManifestDocker})
	// Everything the script needs but docker; and, as on a Mac, everything
	// but timeout(1), with the fake docker.
	noDocker, noTimeout := t.TempDir(), fakeBin(t, map[string]string{"docker": fakeManifestDocker})
	for _, tool := range []string{"awk", "bash", "cat", "cut", "dirname", "env", "find", "mktemp", "perl", "rm", "sed", "sleep", "sort", "timeout", "tr"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue
		}
		for _, dir := range []string{noDocker, noTimeout} {
			if dir == noTimeout && tool == "timeout" {
				continue
			}
			if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, perlErr := exec.LookPath("perl")
	n := len(images)
	for _, sh := range scriptShells(t) {
		for _, tc := range []struct {
			name       string
			path       string
			env        []string
			wantCode   int
			wantOut    []string // lines of stdout, among others
			wantErr    string   // stderr, exactly
			wantAsked  bool     // the fake was asked about every image, once
			wantOKRefs int
			needPerl   bool
		}{
			{name: "all found", path: withPath(fake, os.Getenv("PATH")), wantCode: 0,
				wantOut: []string{"ok       " + pg + " (docker-compose.yml)", "check-images: all " + strconv.Itoa(n) + " images found"}, wantAsked: true, wantOKRefs: n},
			{name: "one missing", path: withPath(fake, os.Getenv("PATH")), env: []string{"FAKE_MISSING=" + pg}, wantCode: 1,
				wantOut:   []string{"missing  " + pg + " (docker-compose.yml): no such manifest: docker.io/library/" + pg},
				wantErr:   "check-images: 1 of " + strconv.Itoa(n) + " images missing: " + pg + "; fix the tag (or the registry) before make up\n",
				wantAsked: true, wantOKRefs: n - 1},
			{name: "a repository denied", path: withPath(fake, os.Getenv("PATH")), env: []string{"FAKE_DENIED=" + kafka}, wantCode: 1,
				wantOut:   []string{"missing  " + kafka + " (docker-compose.yml): no such repository, or a private one: errors: denied"},
				wantErr:   "check-images: 1 of " + strconv.Itoa(n) + " images missing: " + kafka + "; fix the tag (or the registry) before make up\n",
				wantAsked: true, wantOKRefs: n - 1},
			{name: "registry unreachable", path: withPath(fake, os.Getenv("PATH")), env: []string{"FAKE_OFFLINE=1"}, wantCode: 2,
				wantOut:   []string{"error    " + pg + " (docker-compose.yml): failed to configure transport"},
				wantErr:   "check-images: 0 of " + strconv.Itoa(n) + " images found, " + strconv.Itoa(n) + " could not be looked up; check the network and the registry's status, then run it again\n",
				wantAsked: true},
			{name: "a registry that does not answer", path: withPath(fake, os.Getenv("PATH")), env: []string{"FAKE_HANG=" + pg, "CHECK_IMAGES_TIMEOUT=1"}, wantCode: 2,
				wantOut:   []string{"error    " + pg + " (docker-compose.yml): no answer within 1s"},
				wantErr:   "check-images: " + strconv.Itoa(n-1) + " of " + strconv.Itoa(n) + " images found, 1 could not be looked up; check the network and the registry's status, then run it again\n",
				wantAsked: true, wantOKRefs: n - 1},
			{name: "no timeout(1): perl's alarm", path: noTimeout, env: []string{"FAKE_HANG=" + pg, "CHECK_IMAGES_TIMEOUT=1"}, wantCode: 2,
				wantOut:   []string{"error    " + pg + " (docker-compose.yml): no answer within 1s"},
				wantErr:   "check-images: " + strconv.Itoa(n-1) + " of " + strconv.Itoa(n) + " images found, 1 could not be looked up; check the network and the registry's status, then run it again\n",
				wantAsked: true, wantOKRefs: n - 1, needPerl: true},
			{name: "no docker command", path: noDocker, wantCode: 1,
				wantErr: "check-images: no docker command on PATH: install the Docker CLI (https://docs.docker.com/engine/install/); it needs no engine, only access to the registries\n"},
		} {
			t.Run(sh.name+"/"+tc.name, func(t *testing.T) {
				if tc.needPerl && perlErr != nil {
					t.Skip("perl is not installed (apt-get install perl-base)")
				}
				log := filepath.Join(t.TempDir(), "asked")
				out, errOut, code := runCheckImages(t, sh, tc.path, append([]string{"FAKE_LOG=" + log}, tc.env...))
				if code != tc.wantCode {
					t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
				}
				lines := strings.Split(out, "\n")
				for _, w := range tc.wantOut {
					if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
						t.Errorf("stdout has no line starting %q:\n%s", w, out)
					}
				}
				if tc.wantErr != "" && errOut != tc.wantErr {
					t.Errorf("stderr:\ngot  %q\nwant %q", errOut, tc.wantErr)
				}
				if tc.wantErr == "" && errOut != "" {
					t.Errorf("stderr: got %q, want nothing", errOut)
				}
				if got := strings.Count(out, "\nok       ") + boolInt(strings.HasPrefix(out, "ok       ")); got != tc.wantOKRefs {
					t.Errorf("%d ok lines, want %d:\n%s", got, tc.wantOKRefs, out)
				}
				b, _ := os.ReadFile(log)
				asked := strings.Fields(string(b))
				sort.Strings(asked)
				if tc.wantAsked && !slices.Equal(asked, images) {
					t.Errorf("asked the registry about\n  %q\nwant each of\n  %q", asked, images)
				}
				if !tc.wantAsked && len(asked) > 0 {
					t.Errorf("asked the registry about %q, want nothing", asked)
				}
			})
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

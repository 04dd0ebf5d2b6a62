package main

// Offline checks of the production-like stack: docker-compose.yml, the
// Dockerfile, debezium-connectors/*.json, deploy/postgres/*.sql and
// deploy/scripts/*.sh. No Docker engine runs on the development machines,
// so nothing here starts a container; what can be checked without one is
// checked against the binary itself (its commands, flags and variables), a
// real Postgres 15, a fake Kafka Connect and a fake docker.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/thmanyah/enricher/internal/pgtemp"
	"github.com/thmanyah/enricher/tools/datagen"
)

const (
	repoRoot = "../.."
	// enricherService is the compose service that runs `enricher run`.
	enricherService = "enricher"
	// mainConnector is the connector `make register` registers by default.
	mainConnector = "debezium-connectors/thmanyah-postgres.json"
	// scaleOutFile adds a second enricher instance to the stack.
	scaleOutFile = "deploy/compose.scale-out.yml"
)

var allProfiles = []string{"datagen", "sinks", "backfill"}

func repoPath(p string) string { return filepath.Join(repoRoot, filepath.FromSlash(p)) }

// --- docker-compose.yml, parsed -------------------------------------------

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Build       any                          `yaml:"build"`
	Command     any                          `yaml:"command"`
	Environment any                          `yaml:"environment"`
	Healthcheck *composeHealth               `yaml:"healthcheck"`
	Ports       []string                     `yaml:"ports"`
	Volumes     []string                     `yaml:"volumes"`
	Profiles    []string                     `yaml:"profiles"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
}

type composeHealth struct {
	Test    any  `yaml:"test"`
	Disable bool `yaml:"disable"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

func loadCompose(t *testing.T) composeFile { return loadComposeFile(t, "docker-compose.yml") }

func loadComposeFile(t *testing.T, name string) composeFile {
	t.Helper()
	b, err := os.ReadFile(repoPath(name))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("%s: %v (depends_on must use the map form with conditions)", name, err)
	}
	if len(cf.Services) == 0 {
		t.Fatalf("%s has no services", name)
	}
	return cf
}

func (cf composeFile) serviceNames() []string {
	names := make([]string, 0, len(cf.Services))
	for n := range cf.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// enricherImageServices are the services that run this repository's image.
func (cf composeFile) enricherImageServices(t *testing.T) []string {
	t.Helper()
	svc, ok := cf.Services[enricherService]
	if !ok || svc.Image == "" {
		t.Fatalf("docker-compose.yml has no %q service with an image", enricherService)
	}
	var out []string
	for _, n := range cf.serviceNames() {
		if cf.Services[n].Image == svc.Image {
			out = append(out, n)
		}
	}
	return out
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// interpolate resolves ${VAR:-default} to its default (and ${VAR} to ""),
// as compose does with none of the variables set.
func interpolate(s string) string {
	return interpolation.ReplaceAllString(s, "$2")
}

func (s composeService) command() []string {
	switch c := s.Command.(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(interpolate(c))
	case []any:
		out := make([]string, len(c))
		for i, a := range c {
			out[i] = interpolate(fmt.Sprint(a))
		}
		return out
	default:
		panic(fmt.Sprintf("command of unexpected type %T", c))
	}
}

func (s composeService) env() map[string]string {
	out := map[string]string{}
	switch e := s.Environment.(type) {
	case map[string]any:
		for k, v := range e {
			out[k] = interpolate(fmt.Sprint(v))
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			out[k] = interpolate(v)
		}
	}
	return out
}

func (s composeService) hasHealthcheck() bool {
	return s.Healthcheck != nil && !s.Healthcheck.Disable && s.Healthcheck.Test != nil
}

func (h *composeHealth) testLine() string {
	switch x := h.Test.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, a := range x {
			parts[i] = fmt.Sprint(a)
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// --- the binary's commands, flags and variables ----------------------------

// envNames returns the variables cmd reads: the env annotations of its flags.
func envNames(cmd *cobra.Command) map[string]bool {
	out := map[string]bool{}
	visit := func(f *pflag.Flag) {
		for _, e := range f.Annotations[envAnnotation] {
			out[e] = true
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return out
}

// allEnvNames returns the variables any command of the binary reads.
func allEnvNames(root *cobra.Command) map[string]bool {
	out := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for e := range envNames(c) {
			out[e] = true
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// goRuntimeEnv are variables the Go runtime reads in any of the binaries.
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true, "TZ": true}

// resolveCommand finds the subcommand a service runs; no command means the
// image's CMD, `run`.
func resolveCommand(t *testing.T, root *cobra.Command, args []string) (*cobra.Command, []string) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"run"}
	}
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		t.Fatalf("command %q: the binary has no such subcommand (%v)", strings.Join(args, " "), err)
	}
	return cmd, rest
}

// built says whether cmd is a real command rather than a placeholder stub:
// every real command binds its flags to variables.
func built(cmd *cobra.Command) bool { return len(envNames(cmd)) > 0 }

func hostPort(t *testing.T, s string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("%q is not host:port: %v", s, err)
	}
	return h, p
}

// --- tests: docker-compose.yml ---------------------------------------------

// TestComposeConfigValidates asks docker-compose itself (and the compose
// plugin when there is one) to validate the file, with and without profiles.
// CI installs Debian's docker-compose; without it this test skips.
func TestComposeConfigValidates(t *testing.T) {
	type tool struct {
		name string
		argv []string
	}
	var tools []tool
	if p, err := exec.LookPath("docker-compose"); err == nil {
		tools = append(tools, tool{"docker-compose", []string{p}})
	}
	if p, err := exec.LookPath("docker"); err == nil && exec.Command(p, "compose", "version").Run() == nil {
		tools = append(tools, tool{"docker compose", []string{p, "compose"}})
	}
	if len(tools) == 0 {
		t.Skip("neither docker-compose nor the docker compose plugin is installed (apt-get install --no-install-recommends docker-compose); the YAML checks below still run")
	}
	for _, tl := range tools {
		for _, tc := range []struct {
			name     string
			files    []string
			profiles []string
		}{
			{"default services", []string{"docker-compose.yml"}, nil},
			{"all profiles", []string{"docker-compose.yml"}, allProfiles},
			{"scale-out override", []string{"docker-compose.yml", scaleOutFile}, nil},
		} {
			t.Run(tl.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel() // docker-compose 1.x takes a second or more to start
				args := append([]string{}, tl.argv[1:]...)
				for _, f := range tc.files {
					args = append(args, "-f", repoPath(f))
				}
				for _, p := range tc.profiles {
					args = append(args, "--profile", p)
				}
				args = append(args, "config", "-q")
				out, err := exec.Command(tl.argv[0], args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", tl.name, strings.Join(args, " "), err, out)
				}
			})
		}
	}
}

var versionTag = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)*([.-][0-9A-Za-z]+)*$`)

// splitImage splits an image reference into name, tag and digest.
func splitImage(ref string) (name, tag, digest string) {
	name, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

func checkPinned(t *testing.T, ref string, builtHere bool) {
	t.Helper()
	_, tag, digest := splitImage(ref)
	switch {
	case digest != "":
		return
	case tag == "":
		t.Errorf("image %q has no tag: it means latest", ref)
	case tag == "latest":
		t.Errorf("image %q is not pinned", ref)
	case !builtHere && !versionTag.MatchString(tag):
		t.Errorf("image %q: tag %q is not a version", ref, tag)
	}
}

func TestComposeImagesPinned(t *testing.T) {
	cf := loadCompose(t)
	for _, name := range cf.serviceNames() {
		t.Run(name, func(t *testing.T) {
			svc := cf.Services[name]
			if svc.Image == "" {
				t.Fatal("no image: give built services an image name too, so every service of this image shares one build")
			}
			checkPinned(t, svc.Image, svc.Build != nil)
		})
	}
}

// TestComposeStackVersions keeps the stack on the versions the contract
// and the Debezium fixtures were written for.
func TestComposeStackVersions(t *testing.T) {
	cf := loadCompose(t)
	for _, tc := range []struct {
		service string
		image   string // regexp
		why     string
	}{
		{"postgres", `^postgres:15\.`, "CONTRACT.md's data model is Postgres 15"},
		{"kafka", `^apache/kafka:[0-9]`, "Kafka in KRaft mode, no ZooKeeper"},
		{"schema-registry", `^confluentinc/cp-schema-registry:`, "a Confluent-compatible registry"},
		{"connect", `^quay\.io/debezium/connect:2\.7\.[0-9]+\.Final$`, "the fixtures in internal/fixtures/debezium are Debezium 2.7's output"},
		{"redis", `^redis:[0-9]`, "the Redis sink's store"},
	} {
		t.Run(tc.service, func(t *testing.T) {
			svc, ok := cf.Services[tc.service]
			if !ok {
				t.Fatalf("no %q service", tc.service)
			}
			if !regexp.MustCompile(tc.image).MatchString(svc.Image) {
				t.Errorf("image %q does not match %s: %s", svc.Image, tc.image, tc.why)
			}
		})
	}
}

// TestComposeEnricherImageServices checks every service that runs this
// repository's image against the binary: the subcommand exists, each flag
// on its command line is one of its flags, and each variable in its
// environment is one it reads.
func TestComposeEnricherImageServices(t *testing.T) {
	cf := loadCompose(t)
	all := allEnvNames(newRootCmd())
	for _, name := range cf.enricherImageServices(t) {
		t.Run(name, func(t *testing.T) {
			svc := cf.Services[name]
			cmd, _ := resolveCommand(t, newRootCmd(), svc.command())
			reads := envNames(cmd)
			if !built(cmd) {
				// A placeholder until its issue lands: check what can be
				// checked now, against every command's variables.
				t.Logf("`%s` is not built yet: its flags are unchecked and its variables checked against every command's", cmd.CommandPath())
				reads = all
			}
			for _, arg := range svc.command() {
				if !built(cmd) || !strings.HasPrefix(arg, "--") {
					continue
				}
				flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
				if cmd.Flags().Lookup(flag) == nil && cmd.InheritedFlags().Lookup(flag) == nil {
					t.Errorf("command passes --%s, which `%s` does not have", flag, cmd.CommandPath())
				}
			}
			env := svc.env()
			keys := make([]string, 0, len(env))
			for k := range env {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !reads[k] && !goRuntimeEnv[k] {
					t.Errorf("sets $%s, which `%s` does not read (it reads %s)", k, cmd.CommandPath(), sortedKeys(reads))
				}
			}
		})
	}
}

func sortedKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, "$"+k)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// runFlags returns `enricher run`'s flags as the compose service sets them.
func runFlags(t *testing.T, env map[string]string) *pflag.FlagSet {
	t.Helper()
	fs := newRunCmd().Flags()
	fs.VisitAll(func(f *pflag.Flag) {
		if e := f.Annotations[envAnnotation]; len(e) == 1 {
			if v, ok := env[e[0]]; ok && v != "" {
				if err := f.Value.Set(v); err != nil {
					t.Fatalf("$%s=%q: %v", e[0], v, err)
				}
			}
		}
	})
	return fs
}

func TestComposeEnricherService(t *testing.T) {
	cf := loadCompose(t)
	svc := cf.Services[enricherService]
	cmd, _ := resolveCommand(t, newRootCmd(), svc.command())
	env := svc.env()
	fs := runFlags(t, env)
	httpAddr, _ := fs.GetString("http-addr")
	host, port := hostPort(t, httpAddr)

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"runs the service", func(t *testing.T) {
			if cmd.Name() != "run" {
				t.Errorf("got `%s`, want `enricher run`", cmd.CommandPath())
			}
		}},
		{"listens on every interface inside the container", func(t *testing.T) {
			if host != "0.0.0.0" && host != "" {
				t.Errorf("HTTP_ADDR host %q: the published port cannot reach it; want 0.0.0.0", host)
			}
		}},
		{"publishes the HTTP port on loopback", func(t *testing.T) {
			want := "127.0.0.1:8080:" + port
			if !slices.ContainsFunc(svc.Ports, func(p string) bool { return interpolate(p) == want }) {
				t.Errorf("ports %q: want %q", svc.Ports, want)
			}
		}},
		{"healthcheck hits /healthz on the HTTP port", func(t *testing.T) {
			if !svc.hasHealthcheck() {
				t.Fatal("no healthcheck")
			}
			want := "http://127.0.0.1:" + port + "/healthz"
			if got := svc.Healthcheck.testLine(); !strings.Contains(got, want) {
				t.Errorf("healthcheck %q does not request %s", got, want)
			}
		}},
		{"data dir is on a named volume", func(t *testing.T) {
			dir, _ := fs.GetString("data-dir")
			for _, v := range svc.Volumes {
				parts := strings.Split(v, ":")
				if len(parts) < 2 {
					continue
				}
				if _, named := cf.Volumes[parts[0]]; named && (dir == parts[1] || strings.HasPrefix(dir, strings.TrimSuffix(parts[1], "/")+"/")) {
					return
				}
			}
			t.Errorf("DATA_DIR %q is not under a named volume of %q: the view would be lost with the container", dir, svc.Volumes)
		}},
		{"environment documented in README-operations.md", func(t *testing.T) {
			doc, err := os.ReadFile(repoPath("README-operations.md"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range svc.env() {
				row := regexp.MustCompile("(?m)^\\| `" + k + "` \\| `([^`]*)` \\|")
				m := row.FindSubmatch(doc)
				switch {
				case m == nil:
					t.Errorf("$%s is not in README-operations.md's configuration table", k)
				case string(m[1]) != v:
					t.Errorf("$%s: README-operations.md says %q, docker-compose.yml sets %q", k, m[1], v)
				}
			}
		}},
		{"brokers and registry are compose services", func(t *testing.T) {
			brokers, _ := fs.GetString("brokers")
			for _, b := range splitList(brokers) {
				if h, _ := hostPort(t, b); cf.Services[h].Image == "" {
					t.Errorf("broker %q is not a compose service", b)
				}
			}
			reg, _ := fs.GetString("schema-registry-url")
			if reg == "" {
				t.Fatal("no SCHEMA_REGISTRY_URL: the stack runs a registry, and Avro input needs one")
			}
			u, err := url.Parse(reg)
			if err != nil || cf.Services[u.Hostname()].Image == "" {
				t.Errorf("SCHEMA_REGISTRY_URL %q does not name a compose service (%v)", reg, err)
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// TestComposeWiring checks the parts every service shares: published ports
// on loopback only, healthchecks on the long-running services, and
// depends_on with conditions that wait for health where there is one.
func TestComposeWiring(t *testing.T) {
	cf := loadCompose(t)
	// The enricher image has a HEALTHCHECK of its own (the Dockerfile's).
	imageWithHealth := cf.Services[enricherService].Image
	healthchecked := func(s composeService) bool {
		if s.Healthcheck != nil && s.Healthcheck.Disable {
			return false
		}
		return s.hasHealthcheck() || s.Image == imageWithHealth
	}
	for _, name := range cf.serviceNames() {
		t.Run(name, func(t *testing.T) {
			svc := cf.Services[name]
			for _, p := range svc.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("port %q is published on every interface; want 127.0.0.1:...", p)
				}
			}
			if len(svc.Profiles) == 0 && !svc.hasHealthcheck() {
				t.Errorf("a default service without a healthcheck: `make up` cannot tell when it is ready")
			}
			deps := make([]string, 0, len(svc.DependsOn))
			for d := range svc.DependsOn {
				deps = append(deps, d)
			}
			sort.Strings(deps)
			for _, d := range deps {
				cond := svc.DependsOn[d].Condition
				target, ok := cf.Services[d]
				switch {
				case !ok:
					t.Errorf("depends on %q, which is not a service", d)
				case cond == "":
					t.Errorf("depends on %q without a condition", d)
				case healthchecked(target) && cond != "service_healthy":
					t.Errorf("depends on %q with %q; it has a healthcheck, so want service_healthy", d, cond)
				case len(target.Profiles) > 0 && !slices.ContainsFunc(target.Profiles, func(p string) bool { return slices.Contains(svc.Profiles, p) }):
					t.Errorf("depends on %q, which only runs with profile %v", d, target.Profiles)
				}
			}
		})
	}
	t.Run("postgres", func(t *testing.T) {
		pg := cf.Services["postgres"]
		cmd := strings.Join(pg.command(), " ")
		if !strings.Contains(cmd, "wal_level=logical") {
			t.Errorf("postgres command %q: Debezium needs wal_level=logical", cmd)
		}
		if !slices.ContainsFunc(pg.Volumes, func(v string) bool {
			return strings.HasPrefix(v, "./deploy/postgres:/docker-entrypoint-initdb.d")
		}) {
			t.Errorf("volumes %q: deploy/postgres is not mounted on /docker-entrypoint-initdb.d", pg.Volumes)
		}
	})
}

// TestComposeScaleOut checks deploy/compose.scale-out.yml: a second
// instance of the same service in the same group, with its own view and port.
func TestComposeScaleOut(t *testing.T) {
	base := loadCompose(t)
	over := loadComposeFile(t, scaleOutFile)
	first := base.Services[enricherService]
	second, ok := over.Services[enricherService+"-2"]
	if !ok {
		t.Fatalf("%s has no %s-2 service", scaleOutFile, enricherService)
	}
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"same image and command", func(t *testing.T) {
			if second.Image != first.Image || !slices.Equal(second.command(), first.command()) {
				t.Errorf("got %s %q, want %s %q", second.Image, second.command(), first.Image, first.command())
			}
		}},
		{"same environment, so the same consumer group", func(t *testing.T) {
			a, b := first.env(), second.env()
			for k := range a {
				if a[k] != b[k] {
					t.Errorf("$%s: %q in %s, %q in %s-2", k, a[k], enricherService, b[k], enricherService)
				}
			}
			for k := range b {
				if _, ok := a[k]; !ok {
					t.Errorf("$%s is set on %s-2 only", k, enricherService)
				}
			}
		}},
		{"its own data volume and host port", func(t *testing.T) {
			for _, v := range second.Volumes {
				src, _, _ := strings.Cut(v, ":")
				if slices.ContainsFunc(first.Volumes, func(w string) bool { return strings.HasPrefix(w, src+":") }) {
					t.Errorf("volume %q is the first instance's: Badger lets one process open a directory", v)
				}
				if _, declared := over.Volumes[src]; !declared {
					t.Errorf("volume %q is not declared in %s", src, scaleOutFile)
				}
			}
			for _, p := range second.Ports {
				if slices.Contains(first.Ports, p) {
					t.Errorf("port %q is the first instance's", p)
				}
			}
		}},
		{"healthcheck hits /healthz", func(t *testing.T) {
			if !second.hasHealthcheck() || !strings.Contains(second.Healthcheck.testLine(), "/healthz") {
				t.Error("no healthcheck on /healthz")
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// --- tests: Dockerfile -------------------------------------------------------

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	gomod, err := os.ReadFile(repoPath("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go ([0-9.]+)\s*$`).FindStringSubmatch(string(gomod))
	if goVersion == nil {
		t.Fatal("go.mod has no go line")
	}
	froms := regexp.MustCompile(`(?mi)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(df, -1)
	stages := map[string]bool{}
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"base images pinned", func(t *testing.T) {
			if len(froms) < 2 {
				t.Fatalf("got %d FROM lines, want a multi-stage build", len(froms))
			}
			for _, m := range froms {
				if !stages[m[1]] {
					checkPinned(t, m[1], false)
				}
				if m[2] != "" {
					stages[m[2]] = true
				}
			}
		}},
		{"builder's Go is go.mod's", func(t *testing.T) {
			for _, m := range froms {
				if name, tag, _ := splitImage(m[1]); name == "golang" {
					if !strings.HasPrefix(tag, goVersion[1]+"-") && tag != goVersion[1] {
						t.Errorf("builder %s; go.mod says go %s: bump one to the other", m[1], goVersion[1])
					}
					return
				}
			}
			t.Error("no golang builder stage")
		}},
		{"static binary", func(t *testing.T) {
			if !strings.Contains(df, "CGO_ENABLED=0") {
				t.Error("the build does not set CGO_ENABLED=0")
			}
		}},
		{"runs as a non-root user", func(t *testing.T) {
			users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
			if len(users) == 0 {
				t.Fatal("no USER: the image would run as root")
			}
			u, _, _ := strings.Cut(users[len(users)-1][1], ":")
			if u == "root" || u == "0" {
				t.Errorf("USER %s", users[len(users)-1][1])
			}
		}},
		{"healthcheck on /healthz", func(t *testing.T) {
			if !regexp.MustCompile(`(?m)^HEALTHCHECK .*(\n.*)*/healthz`).MatchString(df) {
				t.Error("no HEALTHCHECK requesting /healthz")
			}
		}},
		{"runs `enricher run` and exposes 8080", func(t *testing.T) {
			if !strings.Contains(df, `ENTRYPOINT ["enricher"]`) || !strings.Contains(df, `CMD ["run"]`) {
				t.Error(`want ENTRYPOINT ["enricher"] and CMD ["run"]`)
			}
			if !regexp.MustCompile(`(?m)^EXPOSE 8080\b`).MatchString(df) {
				t.Error("no EXPOSE 8080")
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// --- tests: debezium-connectors/*.json ----------------------------------------

type connectorConfig map[string]string

func loadConnector(t *testing.T, path string) connectorConfig {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cfg := connectorConfig{}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s: %q is %T; Kafka Connect configs are strings", path, k, v)
			continue
		}
		cfg[k] = s
	}
	return cfg
}

func connectorFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(repoPath("debezium-connectors/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no debezium-connectors/*.json (%v)", err)
	}
	return files
}

func (c connectorConfig) list(key string) []string { return splitList(c[key]) }

// topics returns the topic of each captured table.
func (c connectorConfig) topics() map[string]string {
	out := map[string]string{}
	for _, table := range c.list("table.include.list") {
		out[table] = c["topic.prefix"] + "." + table
	}
	return out
}

// cleanupPolicy returns the cleanup.policy topic.creation gives topic: the
// first group whose include patterns match it in full, else the default.
func (c connectorConfig) cleanupPolicy(t *testing.T, topic string) string {
	t.Helper()
	for _, g := range c.list("topic.creation.groups") {
		for _, pat := range c.list("topic.creation." + g + ".include") {
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				t.Fatalf("topic.creation.%s.include %q: %v", g, pat, err)
			}
			if re.MatchString(topic) {
				if p, ok := c["topic.creation."+g+".cleanup.policy"]; ok {
					return p
				}
				return c["topic.creation.default.cleanup.policy"]
			}
		}
	}
	return c["topic.creation.default.cleanup.policy"]
}

var converterKeys = regexp.MustCompile(`^(key|value)\.converter(\..+)?$`)

func TestConnectorConfigs(t *testing.T) {
	cf := loadCompose(t)
	run := runFlags(t, cf.Services[enricherService].env())
	contentTopic, _ := run.GetString("content-topic")
	eventsFlag, _ := run.GetString("events-topics")
	eventsTopics := splitList(eventsFlag)
	pgEnv := cf.Services["postgres"].env()

	for _, path := range connectorFiles(t) {
		avro := strings.HasSuffix(path, "-avro.json")
		t.Run(filepath.Base(path), func(t *testing.T) {
			c := loadConnector(t, path)
			for _, tc := range []struct {
				name  string
				check func(t *testing.T)
			}{
				{"required keys", func(t *testing.T) {
					for _, k := range []string{"name", "connector.class", "plugin.name", "slot.name", "publication.name",
						"topic.prefix", "table.include.list", "key.converter", "value.converter", "tombstones.on.delete",
						"heartbeat.interval.ms", "heartbeat.action.query", "database.hostname", "database.dbname", "database.user",
						"topic.creation.default.replication.factor", "topic.creation.default.partitions"} {
						if c[k] == "" {
							t.Errorf("no %q", k)
						}
					}
				}},
				{"settings", func(t *testing.T) {
					for k, want := range map[string]string{
						"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
						"plugin.name":                 "pgoutput",
						"publication.autocreate.mode": "filtered",
						"topic.prefix":                "thmanyah",
						"tombstones.on.delete":        "true",
						"snapshot.mode":               "initial",
					} {
						if c[k] != want {
							t.Errorf("%s: got %q, want %q", k, c[k], want)
						}
					}
					if ms, err := strconv.Atoi(c["heartbeat.interval.ms"]); err != nil || ms <= 0 {
						t.Errorf("heartbeat.interval.ms %q: want a positive number of milliseconds", c["heartbeat.interval.ms"])
					}
				}},
				{"converters", func(t *testing.T) {
					for _, side := range []string{"key", "value"} {
						if avro {
							if got := c[side+".converter"]; got != "io.confluent.connect.avro.AvroConverter" {
								t.Errorf("%s.converter: got %q, want Confluent's AvroConverter", side, got)
							}
							reg := c[side+".converter.schema.registry.url"]
							u, err := url.Parse(reg)
							if reg == "" || err != nil || cf.Services[u.Hostname()].Image == "" {
								t.Errorf("%s.converter.schema.registry.url %q: want the compose registry service", side, reg)
							}
							continue
						}
						if got := c[side+".converter"]; got != "org.apache.kafka.connect.json.JsonConverter" {
							t.Errorf("%s.converter: got %q, want JsonConverter", side, got)
						}
						if got := c[side+".converter.schemas.enable"]; got != "false" {
							t.Errorf("%s.converter.schemas.enable: got %q, want false", side, got)
						}
					}
				}},
				{"topics are the ones enricher run reads", func(t *testing.T) {
					topics := c.topics()
					produced := map[string]bool{}
					for _, tp := range topics {
						produced[tp] = true
					}
					if !produced[contentTopic] {
						t.Errorf("no table of %q gives the content topic %q", c["table.include.list"], contentTopic)
					}
					if !slices.ContainsFunc(eventsTopics, func(e string) bool { return produced[e] }) {
						t.Errorf("no table of %q gives one of the engagement topics %q", c["table.include.list"], eventsTopics)
					}
					for table, tp := range topics {
						if tp == contentTopic || slices.Contains(eventsTopics, tp) {
							continue
						}
						if !strings.Contains(c["heartbeat.action.query"], table) {
							t.Errorf("table %s (topic %s) is neither read by enricher run nor the heartbeat table", table, tp)
						}
					}
				}},
				{"heartbeat table is captured", func(t *testing.T) {
					// The heartbeat only advances the slot if its change
					// travels through the publication.
					if !slices.ContainsFunc(c.list("table.include.list"), func(table string) bool {
						return strings.Contains(c["heartbeat.action.query"], table)
					}) {
						t.Errorf("heartbeat.action.query %q writes no table of table.include.list", c["heartbeat.action.query"])
					}
				}},
				{"content topic compacted, engagement topics not", func(t *testing.T) {
					if p := c.cleanupPolicy(t, contentTopic); !strings.Contains(p, "compact") {
						t.Errorf("topic.creation gives %s cleanup.policy %q, want compact", contentTopic, p)
					}
					for _, e := range eventsTopics {
						if p := c.cleanupPolicy(t, e); strings.Contains(p, "compact") {
							t.Errorf("topic.creation gives %s cleanup.policy %q: compaction would drop events", e, p)
						}
					}
				}},
				{"truncates skipped on a compacted content topic", func(t *testing.T) {
					// A truncate record has a null key: Kafka rejects it on a
					// compacted topic (and the task would fail).
					if !slices.Contains(c.list("skipped.operations"), "t") {
						t.Errorf("skipped.operations %q does not skip t", c["skipped.operations"])
					}
				}},
				{"database is the compose postgres", func(t *testing.T) {
					if cf.Services[c["database.hostname"]].Image == "" {
						t.Errorf("database.hostname %q is not a compose service", c["database.hostname"])
					}
					if c["database.dbname"] != pgEnv["POSTGRES_DB"] {
						t.Errorf("database.dbname %q, compose creates %q", c["database.dbname"], pgEnv["POSTGRES_DB"])
					}
				}},
			} {
				t.Run(tc.name, tc.check)
			}
		})
	}

	// A variant differs from the connector it stands for in its converters
	// only, and keeps its name: registering it updates that connector, with
	// the same slot, publication and offsets.
	for _, path := range connectorFiles(t) {
		if !strings.HasSuffix(path, "-avro.json") {
			continue
		}
		base := strings.TrimSuffix(path, "-avro.json") + ".json"
		t.Run(filepath.Base(path)+" matches "+filepath.Base(base), func(t *testing.T) {
			v, b := loadConnector(t, path), loadConnector(t, base)
			keys := map[string]bool{}
			for k := range v {
				keys[k] = true
			}
			for k := range b {
				keys[k] = true
			}
			for k := range keys {
				if !converterKeys.MatchString(k) && v[k] != b[k] {
					t.Errorf("%s: %q in the variant, %q in %s", k, v[k], b[k], filepath.Base(base))
				}
			}
		})
	}
}

// --- tests: deploy/postgres/*.sql against a real Postgres 15 -----------------

// TestPostgresInitScripts runs deploy/postgres/*.sql as the postgres image's
// entrypoint would (in name order, as the superuser, in $POSTGRES_DB), then
// does as the connector's role what Debezium does at start: create and
// re-align its filtered publication, read the tables for the snapshot, run
// the heartbeat query, and stream from a pgoutput slot, where the heartbeat
// must arrive.
func TestPostgresInitScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Postgres")
	}
	cf := loadCompose(t)
	dbname := cf.Services["postgres"].env()["POSTGRES_DB"]
	conn := loadConnector(t, repoPath(mainConnector))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cl, err := pgtemp.Start(ctx)
	if errors.Is(err, pgtemp.ErrNoServer) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	if err := cl.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{dbname}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	urlAs := func(user string) string {
		return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, cl.Port, dbname)
	}
	scripts, _ := filepath.Glob(repoPath("deploy/postgres/*.sql"))
	if len(scripts) == 0 {
		t.Fatal("no deploy/postgres/*.sql")
	}
	sort.Strings(scripts)
	for _, s := range scripts {
		if err := runSQLFile(ctx, urlAs("postgres"), s); err != nil {
			t.Fatalf("%s: %v", filepath.Base(s), err)
		}
	}

	admin, err := pgx.Connect(ctx, urlAs("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	dbz, err := pgx.Connect(ctx, urlAs(conn["database.user"]))
	if err != nil {
		t.Fatalf("the connector's role %q cannot log in: %v", conn["database.user"], err)
	}
	defer dbz.Close(context.Background())

	var tables []string
	for _, tbl := range conn.list("table.include.list") {
		schema, name, _ := strings.Cut(tbl, ".")
		tables = append(tables, pgx.Identifier{schema, name}.Sanitize())
	}
	pub := pgx.Identifier{conn["publication.name"]}.Sanitize()

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"seed catalogue loaded", func(t *testing.T) {
			var rows, events int
			if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM content), (SELECT count(*) FROM engagement_events)`).Scan(&rows, &events); err != nil {
				t.Fatal(err)
			}
			if rows < 5 || events == 0 {
				t.Errorf("got %d content rows and %d events, want a seed catalogue with a few events", rows, events)
			}
			var n int
			if err := admin.QueryRow(ctx, `SELECT count(*) FROM content WHERE id = 'c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the row README-operations.md queries is missing (%d, %v)", n, err)
			}
		}},
		{"replica identity default", func(t *testing.T) {
			for _, tbl := range []string{"content", "engagement_events"} {
				var ident string
				if err := admin.QueryRow(ctx, `SELECT relreplident::text FROM pg_class WHERE oid = $1::regclass`, tbl).Scan(&ident); err != nil {
					t.Fatal(err)
				}
				if ident != "d" {
					t.Errorf("%s: replica identity %q, want d (DEFAULT), as 10-schema.sql explains", tbl, ident)
				}
			}
		}},
		{"datagen adopts the tables", func(t *testing.T) {
			if _, err := admin.Exec(ctx, datagen.Schema); err != nil {
				t.Errorf("datagen's DDL on the stack's schema: %v", err)
			}
		}},
		{"connector role creates the filtered publication", func(t *testing.T) {
			if _, err := dbz.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+strings.Join(tables, ", ")); err != nil {
				t.Fatal(err)
			}
		}},
		{"connector role re-aligns the publication", func(t *testing.T) {
			if _, err := dbz.Exec(ctx, "ALTER PUBLICATION "+pub+" SET TABLE "+strings.Join(tables, ", ")); err != nil {
				t.Fatal(err)
			}
		}},
		{"connector role reads the tables", func(t *testing.T) {
			for _, tbl := range tables {
				var n int
				if err := dbz.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
					t.Errorf("snapshot of %s: %v", tbl, err)
				}
			}
		}},
		{"heartbeat streams through the publication", func(t *testing.T) {
			streamHeartbeat(ctx, t, urlAs(conn["database.user"]), dbz, conn)
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// runSQLFile runs a script with psql, as the postgres image's entrypoint
// does (ON_ERROR_STOP), or through pgx when psql is not installed.
func runSQLFile(ctx context.Context, pgURL, path string) error {
	if psql, err := exec.LookPath("psql"); err == nil {
		out, err := exec.CommandContext(ctx, psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-d", pgURL, "-f", path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	c, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, string(b))
	return err
}

// streamHeartbeat opens a temporary pgoutput slot named like the
// connector's, runs the heartbeat query and waits for its change.
func streamHeartbeat(ctx context.Context, t *testing.T, pgURL string, conn *pgx.Conn, c connectorConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cfg, err := pgconn.ParseConfig(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["replication"] = "database"
	repl, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("replication connection as %s: %v", cfg.User, err)
	}
	defer repl.Close(context.Background())
	if _, err := pglogrepl.CreateReplicationSlot(ctx, repl, c["slot.name"], "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, Mode: pglogrepl.LogicalReplication}); err != nil {
		t.Fatalf("create slot %s: %v", c["slot.name"], err)
	}
	if err := pglogrepl.StartReplication(ctx, repl, c["slot.name"], 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: []string{"proto_version '1'", "publication_names '" + c["publication.name"] + "'"},
	}); err != nil {
		t.Fatalf("start replication: %v", err)
	}
	if _, err := conn.Exec(ctx, c["heartbeat.action.query"]); err != nil {
		t.Fatalf("heartbeat.action.query as %s: %v", cfg.User, err)
	}
	relations := map[uint32]string{}
	for {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("no heartbeat change on the slot: %v", err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			t.Fatal(err)
		}
		lm, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			t.Fatal(err)
		}
		var rel uint32
		switch m := lm.(type) {
		case *pglogrepl.RelationMessage:
			relations[m.RelationID] = m.Namespace + "." + m.RelationName
			continue
		case *pglogrepl.InsertMessage:
			rel = m.RelationID
		case *pglogrepl.UpdateMessage:
			rel = m.RelationID
		default:
			continue
		}
		if name := relations[rel]; name != "" && strings.Contains(c["heartbeat.action.query"], name) {
			return
		}
	}
}

// --- tests: deploy/scripts/register-connectors.sh ---------------------------

// fakeConnect answers the part of Kafka Connect's REST API the script uses.
type fakeConnect struct {
	mu       sync.Mutex
	configs  map[string]map[string]any
	statuses int    // status requests so far
	notReady int    // status requests answered with no task yet
	failTask bool   // the task is FAILED
	reject   string // PUT answers 400 with this message
}

func (f *fakeConnect) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connectors", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("[]"))
	})
	mux.HandleFunc("PUT /connectors/{name}/config", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type"}`, http.StatusUnsupportedMediaType)
			return
		}
		if f.reject != "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"error_code":400,"message":%q}`, f.reject)
			return
		}
		var cfg map[string]any
		if err := json.NewDecoder(r.Body).Decode(&cfg); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, existed := f.configs[r.PathValue("name")]
		f.configs[r.PathValue("name")] = cfg
		if existed {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /connectors/{name}/status", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.statuses++
		name := r.PathValue("name")
		switch {
		case f.statuses <= f.notReady:
			_, _ = fmt.Fprintf(w, `{"name":%q,"connector":{"state":"RUNNING","worker_id":"connect:8083"},"tasks":[],"type":"source"}`, name)
		case f.failTask:
			_, _ = fmt.Fprintf(w, `{"name":%q,"connector":{"state":"RUNNING","worker_id":"connect:8083"},"tasks":[{"id":0,"state":"FAILED","worker_id":"connect:8083","trace":"io.debezium.DebeziumException: Postgres server wal_level property must be 'logical' but is: 'replica'"}],"type":"source"}`, name)
		default:
			_, _ = fmt.Fprintf(w, `{"name":%q,"connector":{"state":"RUNNING","worker_id":"connect:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"connect:8083"}],"type":"source"}`, name)
		}
	})
	return mux
}

func TestRegisterConnectorsScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	script, err := filepath.Abs(repoPath("deploy/scripts/register-connectors.sh"))
	if err != nil {
		t.Fatal(err)
	}
	mainFile, _ := filepath.Abs(repoPath(mainConnector))
	want := map[string]any{}
	if b, err := os.ReadFile(mainFile); err != nil || json.Unmarshal(b, &want) != nil {
		t.Fatalf("read %s: %v", mainConnector, err)
	}
	name, _ := want["name"].(string)

	for _, tc := range []struct {
		name     string
		fake     *fakeConnect
		args     []string
		runs     int
		wantErr  bool
		wantOut  []string // in the output of the last run
		wantSent bool     // the stored config is the file's
	}{
		{name: "creates, then updates", runs: 2, wantOut: []string{name + " updated", name + " RUNNING"}, wantSent: true, args: []string{mainFile}},
		{name: "waits for a task", fake: &fakeConnect{notReady: 1}, runs: 1, wantOut: []string{name + " created", name + " RUNNING"}, wantSent: true, args: []string{mainFile}},
		{name: "no arguments: every config but the -avro variants", runs: 1, wantOut: []string{name + " created"}, wantSent: true},
		{name: "failed task shows the trace", fake: &fakeConnect{failTask: true}, runs: 1, wantErr: true, args: []string{mainFile},
			wantOut: []string{name + " FAILED", "wal_level property must be 'logical'", "/restart?includeTasks=true"}},
		{name: "rejected config shows the reason", fake: &fakeConnect{reject: "Connector configuration is invalid"}, runs: 1, wantErr: true, args: []string{mainFile},
			wantOut: []string{"answered 400", "Connector configuration is invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fake == nil {
				tc.fake = &fakeConnect{}
			}
			tc.fake.configs = map[string]map[string]any{}
			srv := httptest.NewServer(tc.fake.handler())
			defer srv.Close()
			var out []byte
			var err error
			for i := 0; i < tc.runs; i++ {
				cmd := exec.Command("bash", append([]string{script}, tc.args...)...)
				cmd.Env = append(os.Environ(), "CONNECT_URL="+srv.URL, "CONNECT_WAIT=6", "RUNNING_WAIT=6")
				out, err = cmd.CombinedOutput()
				if err != nil && !tc.wantErr {
					t.Fatalf("run %d: %v\n%s", i+1, err, out)
				}
			}
			if tc.wantErr && err == nil {
				t.Fatalf("got success, want failure\n%s", out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !tc.wantSent {
				return
			}
			tc.fake.mu.Lock()
			defer tc.fake.mu.Unlock()
			if len(tc.fake.configs) != 1 {
				t.Errorf("got %d connectors registered, want 1 (the -avro variant is opt-in)", len(tc.fake.configs))
			}
			got := tc.fake.configs[name]
			for k, v := range want {
				if got[k] != v {
					t.Errorf("sent %s=%v, want %v", k, got[k], v)
				}
			}
		})
	}
}

// --- tests: deploy/scripts/wait-healthy.sh -----------------------------------

// TestWaitHealthyScript runs the script against a fake `docker` and compose
// command that report container states from files.
func TestWaitHealthyScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	script, err := filepath.Abs(repoPath("deploy/scripts/wait-healthy.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		containers map[string]string // id: "name status health exitcode" as docker inspect prints it
		wantErr    bool
		wantOut    string
	}{
		{name: "healthy, running without a check, a job done", containers: map[string]string{
			"a": "/enricher running healthy 0", "b": "/redis running none 0", "c": "/backfill exited none 0",
		}, wantOut: "all 3 containers ready"},
		{name: "a container exited with an error", containers: map[string]string{
			"a": "/enricher running healthy 0", "b": "/sink-redis exited none 1",
		}, wantErr: true, wantOut: "sink-redis exited with code 1"},
		{name: "an unhealthy container", containers: map[string]string{
			"a": "/connect running unhealthy 0",
		}, wantErr: true, wantOut: "connect is unhealthy"},
		{name: "still starting at the deadline", containers: map[string]string{
			"a": "/kafka running starting 0",
		}, wantErr: true, wantOut: "not ready after 0s: kafka(running/starting)"},
		{name: "no containers", containers: map[string]string{}, wantErr: true, wantOut: "no containers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			if err := os.Mkdir(state, 0o755); err != nil {
				t.Fatal(err)
			}
			for id, line := range tc.containers {
				if err := os.WriteFile(filepath.Join(state, id), []byte(line+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fakes := map[string]string{
				"docker":  "#!/usr/bin/env bash\ncase $1 in\n  inspect) cat \"$FAKE_STATE/${*: -1}\" ;;\n  logs) echo \"log of ${*: -1}\" ;;\nesac\n",
				"compose": "#!/usr/bin/env bash\nls \"$FAKE_STATE\"\n",
			}
			for name, body := range fakes {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
				"FAKE_STATE="+state, "COMPOSE=compose --profile sinks", "UP_TIMEOUT=0")
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v\n%s", err, tc.wantErr, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

package deploy

// docker-compose.yml and deploy/compose.scale-out.yml: the files parsed, and
// the checks that need only them (compose_enricher_test.go checks the
// services that run this repository's image against the binary).

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	// enricherService is the compose service that runs `enricher run`.
	enricherService = "enricher"
	// mainConnector is the connector `make register` registers by default.
	mainConnector = "debezium-connectors/thmanyah-postgres.json"
	// scaleOutFile adds a second enricher instance to the stack.
	scaleOutFile = "deploy/compose.scale-out.yml"
)

var allProfiles = []string{"datagen", "sinks", "backfill", "bigquery", "monitoring", "kafka-ui"}

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
			{"avro override", []string{"docker-compose.yml", avroFile}, allProfiles},
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

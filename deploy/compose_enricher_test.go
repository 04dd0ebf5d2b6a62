package deploy

// The compose services that run this repository's image, checked against
// the binary: `enricher describe` (binary_test.go) says which commands,
// flags and variables it has.

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestComposeEnricherImageServices checks every service that runs this
// repository's image against the binary: the subcommand exists, each flag
// on its command line is one of its flags, and each variable in its
// environment is one it reads.
func TestComposeEnricherImageServices(t *testing.T) {
	cf := loadCompose(t)
	all := allEnvNames(t)
	for _, name := range cf.enricherImageServices(t) {
		t.Run(name, func(t *testing.T) {
			svc := cf.Services[name]
			cmd, _ := resolveCommand(t, svc.command())
			reads := cmd.envNames()
			if !cmd.built() {
				// A placeholder until its issue lands: check what can be
				// checked now, against every command's variables.
				t.Logf("`%s` is not built yet: its flags are unchecked and its variables checked against every command's", cmd.commandPath())
				reads = all
			}
			for _, arg := range svc.command() {
				if !cmd.built() || !strings.HasPrefix(arg, "--") {
					continue
				}
				flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
				if _, ok := cmd.lookup(flag); !ok {
					t.Errorf("command passes --%s, which `%s` does not have", flag, cmd.commandPath())
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
					t.Errorf("sets $%s, which `%s` does not read (it reads %s)", k, cmd.commandPath(), sortedKeys(reads))
				}
			}
		})
	}
}

func TestComposeEnricherService(t *testing.T) {
	cf := loadCompose(t)
	svc := cf.Services[enricherService]
	cmd, _ := resolveCommand(t, svc.command())
	env := svc.env()
	run := runFlags(t, env)
	httpAddr := run.value(t, "http-addr")
	host, port := hostPort(t, httpAddr)

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"runs the service", func(t *testing.T) {
			if name := cmd.Path[strings.LastIndex(cmd.Path, " ")+1:]; name != "run" {
				t.Errorf("got `%s`, want `enricher run`", cmd.commandPath())
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
			dir := run.value(t, "data-dir")
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
			brokers := run.value(t, "brokers")
			for _, b := range splitList(brokers) {
				if h, _ := hostPort(t, b); cf.Services[h].Image == "" {
					t.Errorf("broker %q is not a compose service", b)
				}
			}
			reg := run.value(t, "schema-registry-url")
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

func hostPort(t *testing.T, s string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("%q is not host:port: %v", s, err)
	}
	return h, p
}

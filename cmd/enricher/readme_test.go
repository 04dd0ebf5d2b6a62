package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testproc"
)

// TestREADMEConfigTable keeps the README's configuration table true: every
// flag of `enricher run` is there with its variable and default, and nothing else.
func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `([A-Z_]+)` \\| (?:`([^`]*)`|empty) \\|")
	documented := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = [2]string{m[2], m[3]}
	}
	fs := newRunCmd().Flags()
	fs.VisitAll(func(f *pflag.Flag) {
		doc, ok := documented[f.Name]
		if !ok {
			t.Errorf("--%s is not in the README's configuration table", f.Name)
			return
		}
		delete(documented, f.Name)
		if env := f.Annotations[cli.EnvAnnotation]; len(env) != 1 || env[0] != doc[0] {
			t.Errorf("--%s: README says $%s, the binary reads %v", f.Name, doc[0], env)
		}
		def := f.DefValue
		if def == "720h0m0s" {
			def = "720h"
		}
		if def != doc[1] {
			t.Errorf("--%s: README says default %q, the binary has %q", f.Name, doc[1], def)
		}
	})
	for name := range documented {
		t.Errorf("README documents --%s, which `enricher run` does not have", name)
	}
}

func TestEnvAndFlagPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, fs *pflag.FlagSet)
	}{
		{name: "env sets", env: map[string]string{"CONSUMER_GROUP": "g2"}, check: func(t *testing.T, fs *pflag.FlagSet) {
			if v, _ := fs.GetString("group"); v != "g2" {
				t.Errorf("group: got %q, want g2 from $CONSUMER_GROUP", v)
			}
		}},
		{name: "flag wins", env: map[string]string{"CONSUMER_GROUP": "g2"}, args: []string{"--group", "g3"}, check: func(t *testing.T, fs *pflag.FlagSet) {
			if v, _ := fs.GetString("group"); v != "g3" {
				t.Errorf("group: got %q, want g3 from the command line", v)
			}
		}},
		{name: "bad env value names flag and variable", env: map[string]string{"JOIN_WAIT": "soon"}, wantErr: `invalid value "soon" for --join-wait (from $JOIN_WAIT)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cmd := newRunCmd()
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			err := cli.ApplyEnv(cmd, nil)
			if tc.wantErr != "" {
				if err == nil || !regexp.MustCompile(regexp.QuoteMeta(tc.wantErr)).MatchString(err.Error()) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cmd.Flags())
		})
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(c *RunConfig)
		wantErr string
	}{
		{"no brokers", func(c *RunConfig) { c.Brokers = nil }, "--brokers ($KAFKA_BROKERS)"},
		{"bad http addr", func(c *RunConfig) { c.HTTPAddr = "8080" }, "--http-addr ($HTTP_ADDR)"},
		{"bad join mode", func(c *RunConfig) { c.JoinMode = "sometimes" }, "--join-mode ($JOIN_MODE)"},
		{"negative join wait", func(c *RunConfig) { c.JoinWait = -1 }, "--join-wait ($JOIN_WAIT)"},
		{"bad registry url", func(c *RunConfig) { c.SchemaRegistryURL = "localhost:8081" }, "--schema-registry-url ($SCHEMA_REGISTRY_URL)"},
		{"events topic is output", func(c *RunConfig) { c.EventsTopics = []string{"processed_engagements"} }, "--events-topics ($EVENTS_TOPICS)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig([]string{"localhost:9092"}, t.TempDir())
			tc.mutate(&c)
			err := c.validate()
			if err == nil || !regexp.MustCompile(regexp.QuoteMeta(tc.wantErr)).MatchString(err.Error()) {
				t.Fatalf("got %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
}

// TestREADMEExamplesWorkInTheDemo: every localhost:8080 URL the README shows
// answers 200 against `enricher demo` (the no-Postgres form, which makes the
// same catalogue from the same seed), except those marked for `make up`.
func TestREADMEExamplesWorkInTheDemo(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	urlRE := regexp.MustCompile("localhost:8080(/[^\\s'\"`]*)")
	var paths []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "# in make up") {
			continue
		}
		for _, m := range urlRE.FindAllStringSubmatch(line, -1) {
			paths = append(paths, m[1])
		}
	}
	if len(paths) < 4 {
		t.Fatalf("found %d example URLs in the README, want the HTTP section's at least: %q", len(paths), paths)
	}

	ctx, cancel := context.WithCancel(context.Background())
	out := &testproc.Buffer{}
	root := newRootCmd()
	root.SetArgs([]string{"demo", "--no-postgres", "--http-addr", "127.0.0.1:0", "--status-every", "1h", "--log-level", "error"})
	root.SetOut(out)
	root.SetErr(out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	})

	addrRE := regexp.MustCompile(`enricher: http://([^/\s]+)/`)
	var addr string
	testkafka.Eventually(t, 60*time.Second, "the demo prints its address", func() bool {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	for _, p := range paths {
		var code int
		testkafka.Eventually(t, 60*time.Second, "GET "+p+" answers 200 in the demo", func() bool {
			res, err := http.Get("http://" + addr + p)
			if err != nil {
				return false
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			code = res.StatusCode
			return code == http.StatusOK
		})
	}
}

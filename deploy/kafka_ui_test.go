package deploy

// docker-compose.yml's kafka-ui service (profile kafka-ui): Kafbat UI
// pointed at the stack's own Kafka, registry and Connect, read-only.

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const kafkaUIService = "kafka-ui"

func TestComposeKafkaUI(t *testing.T) {
	cf := loadCompose(t)
	ui, ok := cf.Services[kafkaUIService]
	if !ok {
		t.Fatalf("no %q service", kafkaUIService)
	}
	env := ui.env()
	enricher := cf.Services[enricherService].env()
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"profile kafka-ui only", func(t *testing.T) {
			if !slices.Equal(ui.Profiles, []string{"kafka-ui"}) {
				t.Errorf("profiles %q, want [kafka-ui]: the UI is opt-in", ui.Profiles)
			}
			if !slices.Contains(allProfiles, "kafka-ui") {
				t.Error("allProfiles lacks kafka-ui: TestComposeConfigValidates would not validate it")
			}
		}},
		{"the maintained fork, pinned", func(t *testing.T) {
			// provectuslabs/kafka-ui is unmaintained since 2024.
			if !regexp.MustCompile(`^(ghcr\.io/|docker\.io/)?kafbat/kafka-ui:v[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(ui.Image) {
				t.Errorf("image %q, want kafbat/kafka-ui at a release tag", ui.Image)
			}
		}},
		{"the stack's Kafka and registry, as the enricher reaches them", func(t *testing.T) {
			if got, want := env["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"], enricher["KAFKA_BROKERS"]; got != want {
				t.Errorf("KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS=%q, the enricher's KAFKA_BROKERS=%q", got, want)
			}
			if got, want := env["KAFKA_CLUSTERS_0_SCHEMAREGISTRY"], enricher["SCHEMA_REGISTRY_URL"]; got != want {
				t.Errorf("KAFKA_CLUSTERS_0_SCHEMAREGISTRY=%q, the enricher's SCHEMA_REGISTRY_URL=%q", got, want)
			}
			if env["KAFKA_CLUSTERS_0_NAME"] == "" {
				t.Error("KAFKA_CLUSTERS_0_NAME is empty: the UI refuses a cluster without a name")
			}
		}},
		{"the Debezium Connect worker", func(t *testing.T) {
			addr := env["KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS"]
			m := regexp.MustCompile(`^http://([a-z0-9-]+):([0-9]+)$`).FindStringSubmatch(addr)
			if m == nil {
				t.Fatalf("KAFKA_CLUSTERS_0_KAFKACONNECT_0_ADDRESS=%q, want http://SERVICE:PORT", addr)
			}
			connect, ok := cf.Services[m[1]]
			if !ok || len(connect.Profiles) > 0 {
				t.Fatalf("Connect address names %q, not a default service", m[1])
			}
			if !slices.ContainsFunc(connect.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+m[2]) }) {
				t.Errorf("%s does not serve on %s (its ports: %q)", m[1], m[2], connect.Ports)
			}
			if env["KAFKA_CLUSTERS_0_KAFKACONNECT_0_NAME"] == "" {
				t.Error("KAFKA_CLUSTERS_0_KAFKACONNECT_0_NAME is empty")
			}
		}},
		{"read-only, no configuration from the UI", func(t *testing.T) {
			if env["KAFKA_CLUSTERS_0_READONLY"] != "true" {
				t.Errorf("KAFKA_CLUSTERS_0_READONLY=%q, want true: a click must not delete a topic or reset the enricher's offsets", env["KAFKA_CLUSTERS_0_READONLY"])
			}
			if env["DYNAMIC_CONFIG_ENABLED"] != "false" {
				t.Errorf("DYNAMIC_CONFIG_ENABLED=%q, want false", env["DYNAMIC_CONFIG_ENABLED"])
			}
		}},
		{"port 8088 on loopback, to the UI's 8080", func(t *testing.T) {
			if !slices.Equal(ui.Ports, []string{"127.0.0.1:${KAFKA_UI_HOST_PORT:-8088}:8080"}) {
				t.Errorf("ports %q", ui.Ports)
			}
		}},
		{"healthcheck with busybox wget on the actuator", func(t *testing.T) {
			// The image is Alpine-based with no curl.
			if !ui.hasHealthcheck() {
				t.Fatal("no healthcheck: make up cannot tell when the UI is ready")
			}
			line := ui.Healthcheck.testLine()
			if !strings.Contains(line, "wget") || !strings.Contains(line, "http://127.0.0.1:8080/actuator/health") {
				t.Errorf("healthcheck %q, want wget on http://127.0.0.1:8080/actuator/health", line)
			}
		}},
		{"README-operations.md names the same image", func(t *testing.T) {
			b, err := os.ReadFile(repoPath("README-operations.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "| `kafka-ui` (profile `kafka-ui`) | `"+ui.Image+"` |") {
				t.Errorf("README-operations.md's stack table has no kafka-ui row with `%s`", ui.Image)
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

package deploy

// debezium-connectors/*.json: the Debezium Postgres connector configs `make
// register` sends to Kafka Connect, checked against docker-compose.yml and
// the topics `enricher run` reads.

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

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
	contentTopic := run.value(t, "content-topic")
	eventsFlag := run.value(t, "events-topics")
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

package deploy

// The compose profile `bigquery`: the connect-bigquery worker in
// docker-compose.yml, the image it builds (deploy/bigquery/connect/Dockerfile),
// the connector body `make register-bigquery` sends
// (deploy/bigquery/connector.json) and that target's preflight
// (deploy/scripts/register-bigquery.sh). deploy/bigquery/ddl_test.go checks
// the connector against the table's DDL.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	bigQueryService   = "connect-bigquery"
	bigQueryConnector = "deploy/bigquery/connector.json"
	bigQueryConnName  = "bigquery-processed-engagements"
	bigQueryDocker    = "deploy/bigquery/connect/Dockerfile"
	// bigQueryKeyFile is where connector.json's keyfile points inside the
	// worker: the key file's name in the mounted secrets directory.
	bigQueryKeyFile = "bigquery-keyfile.json"
	// bigQueryHostPort is the worker's default published port: 8083 is the
	// Debezium worker's.
	bigQueryHostPort = "8084"
)

// kcbqConfigKeys are the settings of BigQuerySinkConfig in
// confluentinc/kafka-connect-bigquery at tag v2.5.11 (the *_CONFIG constants
// of kcbq-connector/.../config/BigQuerySinkConfig.java), the version the
// Dockerfile installs. A key outside this list and Connect's own would be
// ignored by the connector, silently.
var kcbqConfigKeys = []string{
	"allBQFieldsNullable", "allowBigQueryRequiredFieldRelaxation", "allowNewBigQueryFields",
	"allowSchemaUnionization", "autoCreateBucket", "autoCreateTables", "avroDataCacheSize",
	"batchLoadIntervalSec", "bigQueryMessageTimePartitioning", "bigQueryPartitionDecorator",
	"bigQueryRetry", "bigQueryRetryWait", "clusteringPartitionFieldNames",
	"convertDebeziumTimestampToInteger", "convertDoubleSpecialValues", "defaultDataset",
	"deleteEnabled", "enableBatchLoad", "enableRetries", "gcsBucketName", "gcsFolderName",
	"intermediateTableSuffix", "kafkaDataFieldName", "kafkaKeyFieldName", "keySource", "keyfile",
	"max.retries", "mergeIntervalMs", "mergeRecordsThreshold", "partitionExpirationMs", "project",
	"queueSize", "runtimeProvider", "sanitizeFieldNames", "sanitizeTopics", "schemaRetriever",
	"threadPoolSize", "timePartitioningType", "timestampPartitionFieldName", "topic2TableMap",
	"topics", "topics.regex", "upsertEnabled",
}

// connectFrameworkKey says whether key is one Kafka Connect itself reads from
// a sink connector's config.
func connectFrameworkKey(key string) bool {
	switch key {
	case "name", "connector.class", "tasks.max", "topics", "topics.regex", "key.converter",
		"value.converter", "header.converter", "transforms", "predicates", "config.action.reload":
		return true
	}
	for _, prefix := range []string{"key.converter.", "value.converter.", "header.converter.",
		"transforms.", "predicates.", "errors.", "consumer.override."} {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

var envReference = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}`)

// rawEnv returns a service's environment as written, nil for a variable
// passed through from compose's own environment (`NAME:` with no value).
func (s composeService) rawEnv() map[string]any {
	out := map[string]any{}
	if e, ok := s.Environment.(map[string]any); ok {
		for k, v := range e {
			if v != nil {
				v = interpolate(fmt.Sprint(v))
			}
			out[k] = v
		}
	}
	return out
}

// buildContext returns the service's build context and Dockerfile, relative
// to the repository.
func (s composeService) buildContext(t *testing.T) (dir, dockerfile string) {
	t.Helper()
	dockerfile = "Dockerfile"
	switch b := s.Build.(type) {
	case string:
		dir = b
	case map[string]any:
		dir, _ = b["context"].(string)
		if d, ok := b["dockerfile"].(string); ok {
			dockerfile = d
		}
	}
	if dir == "" {
		t.Fatalf("build %v has no context", s.Build)
	}
	return filepath.ToSlash(filepath.Clean(dir)), dockerfile
}

// bigQueryDockerfile returns the worker's Dockerfile, its base image and the
// connector version it installs.
func bigQueryDockerfile(t *testing.T) (df, base, kcbq string) {
	t.Helper()
	b, err := os.ReadFile(repoPath(bigQueryDocker))
	if err != nil {
		t.Fatal(err)
	}
	df = string(b)
	froms := dockerfileFroms(df)
	if len(froms) != 1 {
		t.Fatalf("%s: got FROM %q, want one base image", bigQueryDocker, froms)
	}
	m := regexp.MustCompile(`(?m)^ARG\s+KCBQ_VERSION=(\S+)\s*$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatalf("%s has no ARG KCBQ_VERSION=<version>", bigQueryDocker)
	}
	return df, froms[0], m[1]
}

// TestComposeBuiltImages covers the images compose builds besides the
// enricher's (whose Dockerfile TestDockerfile checks): each build has a
// Dockerfile whose base images are pinned by version.
func TestComposeBuiltImages(t *testing.T) {
	cf := loadCompose(t)
	enricherImage := cf.Services[enricherService].Image
	for _, name := range cf.serviceNames() {
		svc := cf.Services[name]
		if svc.Build == nil || svc.Image == enricherImage {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir, dockerfile := svc.buildContext(t)
			b, err := os.ReadFile(repoPath(filepath.ToSlash(filepath.Join(dir, dockerfile))))
			if err != nil {
				t.Fatalf("its Dockerfile: %v", err)
			}
			froms := dockerfileFroms(string(b))
			if len(froms) == 0 {
				t.Fatal("the Dockerfile has no FROM")
			}
			for _, ref := range froms {
				if strings.Contains(ref, "$") {
					t.Errorf("FROM %s: a build argument in FROM hides the version from this check; write the tag", ref)
					continue
				}
				checkPinned(t, ref, false)
			}
		})
	}
}

// TestBigQueryImage: the worker's image is the stack's Confluent Platform
// release with a connector of at least 2.1, and docker-compose.yml's image
// tag and the docs name the same versions.
func TestBigQueryImage(t *testing.T) {
	cf := loadCompose(t)
	df, base, kcbq := bigQueryDockerfile(t)
	baseName, cpVersion, _ := splitImage(base)
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"base is cp-kafka-connect of the registry's release", func(t *testing.T) {
			_, registry, _ := splitImage(cf.Services["schema-registry"].Image)
			if baseName != "confluentinc/cp-kafka-connect" || cpVersion != registry {
				t.Errorf("FROM %s; want confluentinc/cp-kafka-connect:%s, the release of the stack's cp-schema-registry (its AvroConverter talks to that registry)", base, registry)
			}
			if !strings.HasPrefix(cpVersion, "7.7.") {
				t.Errorf("FROM %s: want 7.7.x, whose Kafka 3.7 has EnvVarConfigProvider (Kafka 3.5+)", base)
			}
		}},
		{"connector pinned, at least 2.1", func(t *testing.T) {
			parts := strings.Split(kcbq, ".")
			major, err1 := strconv.Atoi(parts[0])
			minor, err2 := 0, error(nil)
			if len(parts) > 1 {
				minor, err2 = strconv.Atoi(parts[1])
			}
			if len(parts) != 3 || err1 != nil || err2 != nil {
				t.Fatalf("KCBQ_VERSION=%s is not a release version", kcbq)
			}
			if major < 2 || (major == 2 && minor < 1) {
				t.Errorf("KCBQ_VERSION=%s; want 2.1 or later: timePartitioningType arrived in 2.1", kcbq)
			}
		}},
		{"installed from Confluent Hub at that version", func(t *testing.T) {
			for _, want := range []string{
				"confluent-hub install --no-prompt",
				`"wepay/kafka-connect-bigquery:${KCBQ_VERSION}"`,
				"--component-dir /usr/share/confluent-hub-components",
				"kcbq-connector-${KCBQ_VERSION}.jar",
			} {
				if !strings.Contains(df, want) {
					t.Errorf("%s lacks %q", bigQueryDocker, want)
				}
			}
		}},
		{"compose's image tag names both versions", func(t *testing.T) {
			want := "thmanyah/connect-bigquery:" + cpVersion + "-kcbq" + kcbq
			if got := cf.Services[bigQueryService].Image; got != want {
				t.Errorf("image %q; want %q, so that a version bump rebuilds it", got, want)
			}
		}},
		{"the docs name the same versions", func(t *testing.T) {
			for file, wants := range map[string][]string{
				"deploy/bigquery/README.md": {"wepay/kafka-connect-bigquery:" + kcbq, base},
				"README-operations.md":      {"kcbq " + kcbq, "cp-kafka-connect:" + cpVersion},
			} {
				b, err := os.ReadFile(repoPath(file))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range wants {
					if !strings.Contains(string(b), w) {
						t.Errorf("%s does not mention %q", file, w)
					}
				}
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// TestBigQueryWorkerService checks connect-bigquery in docker-compose.yml: a
// worker of its own, reachable on its own port, with the env config provider
// the connector's ${env:...} values need and the key where the connector
// looks for it.
func TestBigQueryWorkerService(t *testing.T) {
	cf := loadCompose(t)
	svc, ok := cf.Services[bigQueryService]
	if !ok {
		t.Fatalf("docker-compose.yml has no %s service", bigQueryService)
	}
	env := svc.rawEnv()
	str := func(k string) string { s, _ := env[k].(string); return s }
	cfg := loadConnector(t, repoPath(bigQueryConnector))
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"profile bigquery only", func(t *testing.T) {
			if !slices.Equal(svc.Profiles, []string{"bigquery"}) {
				t.Errorf("profiles %q; want [bigquery]", svc.Profiles)
			}
		}},
		{"built from the Dockerfile", func(t *testing.T) {
			dir, dockerfile := svc.buildContext(t)
			if got := filepath.ToSlash(filepath.Join(dir, dockerfile)); got != bigQueryDocker {
				t.Errorf("builds %s; want %s", got, bigQueryDocker)
			}
		}},
		{"published on its own port", func(t *testing.T) {
			want := "127.0.0.1:" + bigQueryHostPort + ":8083"
			if len(svc.Ports) != 1 || interpolate(svc.Ports[0]) != want || !strings.Contains(svc.Ports[0], "CONNECT_BIGQUERY_HOST_PORT") {
				t.Errorf("ports %q; want [127.0.0.1:${CONNECT_BIGQUERY_HOST_PORT:-%s}:8083]", svc.Ports, bigQueryHostPort)
			}
			for _, other := range cf.serviceNames() {
				if other == bigQueryService {
					continue
				}
				for _, p := range cf.Services[other].Ports {
					if strings.HasPrefix(interpolate(p), "127.0.0.1:"+bigQueryHostPort+":") {
						t.Errorf("%s publishes host port %s too", other, bigQueryHostPort)
					}
				}
			}
		}},
		{"a cluster of its own", func(t *testing.T) {
			// The Debezium image reads them without the CONNECT_ prefix.
			debezium := cf.Services["connect"].env()
			for _, k := range []string{"GROUP_ID", "CONFIG_STORAGE_TOPIC", "OFFSET_STORAGE_TOPIC", "STATUS_STORAGE_TOPIC"} {
				got := str("CONNECT_" + k)
				switch {
				case got == "":
					t.Errorf("CONNECT_%s is not set", k)
				case got == debezium[k]:
					t.Errorf("CONNECT_%s=%s is the Debezium worker's: both would join one Connect cluster", k, got)
				}
			}
			topics := []string{str("CONNECT_CONFIG_STORAGE_TOPIC"), str("CONNECT_OFFSET_STORAGE_TOPIC"), str("CONNECT_STATUS_STORAGE_TOPIC")}
			if len(slices.Compact(slices.Sorted(slices.Values(topics)))) != 3 {
				t.Errorf("storage topics %q must be three different topics", topics)
			}
		}},
		{"what the image requires", func(t *testing.T) {
			for k, want := range map[string]string{
				"CONNECT_BOOTSTRAP_SERVERS":                   "kafka:9092",
				"CONNECT_REST_ADVERTISED_HOST_NAME":           bigQueryService,
				"CONNECT_REST_PORT":                           "8083",
				"CONNECT_KEY_CONVERTER":                       cfg["key.converter"],
				"CONNECT_VALUE_CONVERTER":                     cfg["value.converter"],
				"CONNECT_VALUE_CONVERTER_SCHEMA_REGISTRY_URL": cf.Services[enricherService].env()["SCHEMA_REGISTRY_URL"],
				"CONNECT_CONFIG_STORAGE_REPLICATION_FACTOR":   "1",
				"CONNECT_OFFSET_STORAGE_REPLICATION_FACTOR":   "1",
				"CONNECT_STATUS_STORAGE_REPLICATION_FACTOR":   "1",
			} {
				if got := str(k); got != want {
					t.Errorf("%s=%q; want %q", k, got, want)
				}
			}
			if !slices.Contains(splitList(str("CONNECT_PLUGIN_PATH")), "/usr/share/confluent-hub-components") {
				t.Errorf("CONNECT_PLUGIN_PATH=%q lacks /usr/share/confluent-hub-components, where the Dockerfile installs the connector", str("CONNECT_PLUGIN_PATH"))
			}
		}},
		{"declares the env config provider for every ${env:NAME}", func(t *testing.T) {
			if !slices.Contains(splitList(str("CONNECT_CONFIG_PROVIDERS")), "env") {
				t.Errorf("CONNECT_CONFIG_PROVIDERS=%q; want env", str("CONNECT_CONFIG_PROVIDERS"))
			}
			if got, want := str("CONNECT_CONFIG_PROVIDERS_ENV_CLASS"), "org.apache.kafka.common.config.provider.EnvVarConfigProvider"; got != want {
				t.Errorf("CONNECT_CONFIG_PROVIDERS_ENV_CLASS=%q; want %q", got, want)
			}
			allow, err := regexp.Compile("^(?:" + str("CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN") + ")$")
			if err != nil {
				t.Fatalf("CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN: %v", err)
			}
			seen := map[string]bool{}
			for key, v := range cfg {
				for _, m := range envReference.FindAllStringSubmatch(v, -1) {
					name := m[1]
					seen[name] = true
					if _, ok := env[name]; !ok {
						t.Errorf("%s=%s: $%s is not in %s's environment", key, v, name, bigQueryService)
					}
					if !allow.MatchString(name) {
						t.Errorf("%s=%s: the provider's allowlist %q refuses $%s", key, v, str("CONNECT_CONFIG_PROVIDERS_ENV_PARAM_ALLOWLIST_PATTERN"), name)
					}
				}
			}
			for _, name := range []string{"BQ_PROJECT", "BQ_DATASET"} {
				if v, ok := env[name]; !ok || v != nil {
					t.Errorf("%s: %v; want it passed through from the shell (`%s:` with no value), so an unset one stays visibly unresolved", name, v, name)
				}
			}
			if got := str("SCHEMA_REGISTRY_URL"); got != cf.Services[enricherService].env()["SCHEMA_REGISTRY_URL"] {
				t.Errorf("SCHEMA_REGISTRY_URL=%q; want the enricher's registry", got)
			}
			if len(seen) == 0 {
				t.Error("connector.json uses no ${env:...}: then the worker needs no provider")
			}
		}},
		{"the key directory mounted where keyfile points", func(t *testing.T) {
			var target, source string
			for _, v := range svc.Volumes {
				parts := strings.Split(interpolate(v), ":")
				if len(parts) == 3 && parts[1] == "/etc/kafka-connect/secrets" && parts[2] == "ro" {
					source, target = parts[0], parts[1]
				}
			}
			if target == "" {
				t.Fatalf("volumes %q: want ${BQ_SECRETS_DIR:-./deploy/bigquery/secrets}:/etc/kafka-connect/secrets:ro", svc.Volumes)
			}
			if want := target + "/" + bigQueryKeyFile; cfg["keyfile"] != want || cfg["keySource"] != "FILE" {
				t.Errorf("keyfile=%q keySource=%q; want %q and FILE", cfg["keyfile"], cfg["keySource"], want)
			}
			if fi, err := os.Stat(repoPath(source)); err != nil || !fi.IsDir() {
				t.Errorf("the default key directory %s is not in the repository (%v): Docker would create it as root", source, err)
			}
			ignore, err := os.ReadFile(repoPath(filepath.ToSlash(filepath.Join(source, ".gitignore"))))
			if err != nil || !strings.Contains(string(ignore), "*") {
				t.Errorf("%s/.gitignore must ignore the key: %v", source, err)
			}
		}},
		{"starts after the broker and the registry, healthchecked", func(t *testing.T) {
			for _, d := range []string{"kafka", "schema-registry"} {
				if svc.DependsOn[d].Condition != "service_healthy" {
					t.Errorf("depends_on %s: %q; want service_healthy", d, svc.DependsOn[d].Condition)
				}
			}
			if !svc.hasHealthcheck() || !strings.Contains(svc.Healthcheck.testLine(), "http://localhost:8083/connectors") {
				t.Error("no healthcheck on the REST API's /connectors")
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// TestBigQueryConnectorBody checks deploy/bigquery/connector.json as the body
// of PUT /connectors/<name>/config: a flat map of strings holding its name,
// every key one that Connect or the pinned connector reads.
func TestBigQueryConnectorBody(t *testing.T) {
	cfg := loadConnector(t, repoPath(bigQueryConnector))
	cf := loadCompose(t)
	run := runFlags(t, cf.Services[enricherService].env())
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"flat, named", func(t *testing.T) {
			if _, nested := cfg["config"]; nested || cfg["name"] != bigQueryConnName {
				t.Errorf("name=%q; want a flat config named %s (PUT .../config takes the map itself, not {name, config})", cfg["name"], bigQueryConnName)
			}
		}},
		{"reads the enricher's output", func(t *testing.T) {
			if got, want := cfg["topics"], run.value(t, "output-topic"); got != want {
				t.Errorf("topics=%q; want %q, enricher run's --output-topic", got, want)
			}
		}},
		{"a DLQ of its own", func(t *testing.T) {
			dlq := cfg["errors.deadletterqueue.topic.name"]
			switch {
			case dlq == "":
				t.Error("errors.deadletterqueue.topic.name is not set")
			case dlq == run.value(t, "dlq-topic") || dlq == cfg["topics"]:
				t.Errorf("DLQ %q is the enricher's DLQ or the input: Connect's error headers are not the service's", dlq)
			}
			if cfg["errors.tolerance"] != "all" || cfg["errors.deadletterqueue.topic.replication.factor"] != "1" {
				t.Errorf("errors.tolerance=%q, DLQ replication factor %q; want all and 1 (one broker)", cfg["errors.tolerance"], cfg["errors.deadletterqueue.topic.replication.factor"])
			}
		}},
		{"converters", func(t *testing.T) {
			for k, want := range map[string]string{
				"key.converter":                       "org.apache.kafka.connect.storage.StringConverter",
				"value.converter":                     "io.confluent.connect.avro.AvroConverter",
				"value.converter.schema.registry.url": "${env:SCHEMA_REGISTRY_URL}",
			} {
				if cfg[k] != want {
					t.Errorf("%s=%q; want %q", k, cfg[k], want)
				}
			}
		}},
		{"keyed by event_id", func(t *testing.T) {
			var found bool
			for _, a := range splitList(cfg["transforms"]) {
				if cfg["transforms."+a+".type"] == "org.apache.kafka.connect.transforms.ValueToKey" && cfg["transforms."+a+".fields"] == "event_id" {
					found = true
				}
			}
			if !found || cfg["upsertEnabled"] != "true" {
				t.Errorf("transforms=%q upsertEnabled=%q; want ValueToKey on event_id and upsert", cfg["transforms"], cfg["upsertEnabled"])
			}
		}},
		{"project and dataset from the worker's environment", func(t *testing.T) {
			if cfg["project"] != "${env:BQ_PROJECT}" || cfg["defaultDataset"] != "${env:BQ_DATASET}" {
				t.Errorf("project=%q defaultDataset=%q; want ${env:BQ_PROJECT} and ${env:BQ_DATASET}", cfg["project"], cfg["defaultDataset"])
			}
		}},
		{"every key is read by Connect or kcbq", func(t *testing.T) {
			for key := range cfg {
				if !connectFrameworkKey(key) && !slices.Contains(kcbqConfigKeys, key) {
					t.Errorf("%q is neither Kafka Connect's nor a setting of the installed kcbq", key)
				}
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// fakeCurl answers as connect-bigquery would, and records each call as
// "METHOD URL HEADER" in $FAKE_CURL_LOG and each PUT body in $FAKE_CURL_BODY.
const fakeCurl = `#!/usr/bin/env bash
set -euo pipefail
method=GET out= fmt= data= header= url=
while [ $# -gt 0 ]; do
  case $1 in
    -X) method=$2; shift ;;
    -o) out=$2; shift ;;
    -w) fmt=$2; shift ;;
    -H) header=$2; shift ;;
    --data-binary) data=$2; shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
echo "$method $url $header" >>"$FAKE_CURL_LOG"
code=200 body='[]'
case "$method $url" in
  "PUT "*/config) cp "${data#@}" "$FAKE_CURL_BODY"; code=201; body='{}' ;;
  "GET "*/status) body='{"name":"n","connector":{"state":"RUNNING","worker_id":"connect-bigquery:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"connect-bigquery:8083"}],"type":"sink"}' ;;
esac
if [ -n "$out" ]; then printf '%s' "$body" >"$out"; else printf '%s' "$body"; fi
if [ -n "$fmt" ]; then printf '%s' "$code"; fi
`

const serviceAccountKey = `{
  "type": "service_account",
  "project_id": "thmanyah-analytics",
  "private_key_id": "0123456789abcdef",
  "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
  "client_email": "kafka-connect@thmanyah-analytics.iam.gserviceaccount.com",
  "client_id": "1"
}
`

// preflightEnv is the environment of a register-bigquery run: this process's
// without anything that would change what the script does, plus set.
func preflightEnv(fakeDir string, set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BQ_") || strings.HasPrefix(k, "CONNECT_") || strings.HasPrefix(k, "FAKE_CURL_") || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"PATH=" + fakeDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"FAKE_CURL_LOG=" + filepath.Join(fakeDir, "curl.log"), "FAKE_CURL_BODY=" + filepath.Join(fakeDir, "body.json"),
		"CONNECT_WAIT=4", "RUNNING_WAIT=4"}, set...)...)
}

// TestRegisterBigQueryPreflight runs deploy/scripts/register-bigquery.sh
// against a fake curl: each missing or wrong input stops it with one line on
// stderr naming that input, before any call to Kafka Connect; with all of
// them right it PUTs connector.json to the worker's port.
func TestRegisterBigQueryPreflight(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed (apt-get install bash)")
	}
	script, err := filepath.Abs(repoPath("deploy/scripts/register-bigquery.sh"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(repoPath(bigQueryConnector))
	if err != nil {
		t.Fatal(err)
	}
	const noKey = "\x00none"
	const keyDir = "\x00dir"
	good := []string{"BQ_PROJECT=thmanyah-analytics", "BQ_DATASET=thmanyah"}
	for _, tc := range []struct {
		name    string
		env     []string
		key     string // the key file's content, or noKey, or keyDir
		wantErr string // in the one line on stderr; "" for success
		wantURL string // of the PUT
	}{
		{name: "no BQ_PROJECT", env: []string{"BQ_DATASET=thmanyah"}, key: serviceAccountKey, wantErr: "BQ_PROJECT is not set: export BQ_PROJECT="},
		{name: "empty BQ_PROJECT", env: []string{"BQ_PROJECT=", "BQ_DATASET=thmanyah"}, key: serviceAccountKey, wantErr: "BQ_PROJECT is not set"},
		{name: "a project name, not its ID", env: []string{"BQ_PROJECT=Thmanyah Analytics", "BQ_DATASET=thmanyah"}, key: serviceAccountKey, wantErr: "BQ_PROJECT='Thmanyah Analytics' is not a GCP project ID"},
		{name: "no BQ_DATASET", env: []string{"BQ_PROJECT=thmanyah-analytics"}, key: serviceAccountKey, wantErr: "BQ_DATASET is not set: export BQ_DATASET="},
		{name: "a dataset with a hyphen", env: []string{"BQ_PROJECT=thmanyah-analytics", "BQ_DATASET=thmanyah-prod"}, key: serviceAccountKey, wantErr: "BQ_DATASET='thmanyah-prod' is not a BigQuery dataset ID"},
		{name: "missing keyfile", env: good, key: noKey, wantErr: "no BigQuery key file at "},
		{name: "keyfile path is a directory", env: good, key: keyDir, wantErr: "bigquery-keyfile.json is a directory"},
		{name: "keyfile not JSON", env: good, key: "type: service_account\n", wantErr: "is not a JSON key file"},
		{name: "keyfile not a service account's", env: good, key: `{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}`, wantErr: `is not a service-account key (no "type": "service_account")`},
		{name: "keyfile without its private key", env: good, key: `{"type": "service_account", "client_email": "a@b"}`, wantErr: `has no "private_key"`},
		{name: "all good", env: good, key: serviceAccountKey, wantURL: "http://127.0.0.1:8084/connectors/" + bigQueryConnName + "/config"},
		{name: "all good, another host port", env: append([]string{"CONNECT_BIGQUERY_HOST_PORT=9084"}, good...), key: serviceAccountKey,
			wantURL: "http://127.0.0.1:9084/connectors/" + bigQueryConnName + "/config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeBin(t, map[string]string{"curl": fakeCurl})
			secrets := t.TempDir()
			keyPath := filepath.Join(secrets, bigQueryKeyFile)
			switch tc.key {
			case noKey:
			case keyDir:
				if err := os.Mkdir(keyPath, 0o755); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(keyPath, []byte(tc.key), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", script)
			cmd.Env = preflightEnv(fake, append([]string{"BQ_SECRETS_DIR=" + secrets}, tc.env...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			calls, _ := os.ReadFile(filepath.Join(fake, "curl.log"))

			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got success, want %q\n%s%s", tc.wantErr, stdout.String(), stderr.String())
				}
				lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "register-bigquery: ") || !strings.Contains(lines[0], tc.wantErr) {
					t.Errorf("stderr: got %q, want one line \"register-bigquery: ...%s...\"", stderr.String(), tc.wantErr)
				}
				if stdout.Len() > 0 {
					t.Errorf("stdout: got %q, want nothing", stdout.String())
				}
				if len(calls) > 0 {
					t.Errorf("curl was called before the preflight passed:\n%s", calls)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
			}
			if wantPut := "PUT " + tc.wantURL + " Content-Type: application/json"; !slices.Contains(strings.Split(string(calls), "\n"), wantPut) {
				t.Errorf("curl calls:\n%s\nwant %q", calls, wantPut)
			}
			body, err := os.ReadFile(filepath.Join(fake, "body.json"))
			if err != nil || !bytes.Equal(body, want) {
				t.Errorf("PUT body is not %s (%v):\n%s", bigQueryConnector, err, body)
			}
			if !strings.Contains(stdout.String(), bigQueryConnName+" RUNNING") {
				t.Errorf("stdout lacks %q:\n%s", bigQueryConnName+" RUNNING", stdout.String())
			}
		})
	}
}

// TestMakeRegisterBigQuery runs `make register-bigquery` against a fake curl:
// without BQ_PROJECT the preflight's one line is its only output besides
// make's own error line, and curl is never called; with everything set it
// PUTs the connector to the worker, CONNECT_BIGQUERY_URL included.
func TestMakeRegisterBigQuery(t *testing.T) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed (apt-get install make)")
	}
	const put = "PUT %s/connectors/" + bigQueryConnName + "/config Content-Type: application/json"
	for _, tc := range []struct {
		name    string
		args    []string // after the target
		env     []string
		wantErr string // the preflight's line; "" for success
		wantPut string // the PUT curl saw
	}{
		{name: "no BQ_PROJECT", env: []string{"BQ_DATASET=thmanyah"}, wantErr: "register-bigquery: BQ_PROJECT is not set"},
		{name: "default worker", env: []string{"BQ_PROJECT=thmanyah-analytics", "BQ_DATASET=thmanyah"},
			wantPut: fmt.Sprintf(put, "http://127.0.0.1:"+bigQueryHostPort)},
		{name: "CONNECT_BIGQUERY_URL", args: []string{"CONNECT_BIGQUERY_URL=http://127.0.0.1:9185"},
			env: []string{"BQ_PROJECT=thmanyah-analytics", "BQ_DATASET=thmanyah"}, wantPut: fmt.Sprintf(put, "http://127.0.0.1:9185")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := fakeBin(t, map[string]string{"curl": fakeCurl})
			secrets := t.TempDir()
			if err := os.WriteFile(filepath.Join(secrets, bigQueryKeyFile), []byte(serviceAccountKey), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(makeCmd, append([]string{"register-bigquery"}, tc.args...)...)
			cmd.Dir = repoRoot
			// As makeEnv: no variables of a make running this test, which
			// would make this one a sub-make that names itself make[N].
			for _, kv := range preflightEnv(fake, append([]string{"BQ_SECRETS_DIR=" + secrets}, tc.env...)...) {
				switch k, _, _ := strings.Cut(kv, "="); k {
				case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS":
					continue
				}
				cmd.Env = append(cmd.Env, kv)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			calls, _ := os.ReadFile(filepath.Join(fake, "curl.log"))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
				}
				if !slices.Contains(strings.Split(string(calls), "\n"), tc.wantPut) {
					t.Errorf("curl calls:\n%s\nwant %q", calls, tc.wantPut)
				}
				return
			}
			if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 {
				t.Errorf("got exit status %d (%v), want 2", code, err)
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], tc.wantErr) ||
				!regexp.MustCompile(`^make: \*\*\* \[Makefile:[0-9]+: register-bigquery\] Error 1$`).MatchString(lines[1]) {
				t.Errorf("stderr: got %q, want the preflight's line and make's error line", stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: got %q, want nothing", stdout.String())
			}
			if len(calls) > 0 {
				t.Errorf("curl was called:\n%s", calls)
			}
		})
	}
}

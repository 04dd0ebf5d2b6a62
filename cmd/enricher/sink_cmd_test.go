package main

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/thmanyah/enricher/internal/cli"
	httpsink "github.com/thmanyah/enricher/sink/http"
	redissink "github.com/thmanyah/enricher/sink/redis"
)

// TestSinkFlagErrors: a value a sink refuses is reported naming the flag and
// its variable, whether it came from the command line or the environment,
// and before anything connects (the brokers and Redis here do not exist).
func TestSinkFlagErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := busy.Addr().String()
	const noKafka, noRedis = "--brokers=127.0.0.1:1", "--redis-url=redis://127.0.0.1:1/0"
	const url = "--url=http://127.0.0.1:1/events"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // the error starts with it
	}{
		{"redis window", nil, []string{"redis", noKafka, noRedis, "--window=1500ms"},
			"--window ($SINK_REDIS_WINDOW): 1.5s is not a positive whole number of seconds"},
		{"redis window from env", map[string]string{"SINK_REDIS_WINDOW": "90500ms"}, []string{"redis", noKafka, noRedis},
			"--window ($SINK_REDIS_WINDOW): 1m30.5s is not a positive whole number of seconds"},
		{"redis top", nil, []string{"redis", noKafka, noRedis, "--top=-1"}, "--top ($SINK_REDIS_TOP): must not be negative"},
		{"redis no brokers", nil, []string{"redis", "--brokers=", noRedis}, "--brokers ($KAFKA_BROKERS): no broker given"},
		{"redis dlq is input", nil, []string{"redis", noKafka, noRedis, "--dlq-topic=processed_engagements"},
			"--dlq-topic ($DLQ_TOPIC): is the input topic"},
		{"redis url", nil, []string{"redis", noKafka, "--redis-url=http://localhost"}, "--redis-url ($REDIS_URL): "},
		{"redis content api", nil, []string{"redis", noKafka, noRedis, "--content-api=ftp://x"},
			`--content-api ($SINK_REDIS_CONTENT_API): "ftp://x" is not an http(s) URL`},
		{"redis addr", nil, []string{"redis", noKafka, noRedis, "--http-addr=8081"},
			`--http-addr ($SINK_REDIS_HTTP_ADDR): "8081" is not host:port`},
		{"redis port in use", nil, []string{"redis", noKafka, noRedis, "--http-addr=" + inUse},
			`--http-addr ($SINK_REDIS_HTTP_ADDR): listen on "` + inUse + `": `},
		{"http no url", nil, []string{"http", noKafka}, "--url ($SINK_HTTP_URL): no endpoint given"},
		{"http batch", nil, []string{"http", noKafka, url, "--batch=0"}, "--batch ($SINK_HTTP_BATCH): must be positive"},
		{"http retries", nil, []string{"http", noKafka, url, "--max-retries=-1"},
			"--max-retries ($SINK_HTTP_MAX_RETRIES): must not be negative"},
		{"http registry", map[string]string{"SCHEMA_REGISTRY_URL": "localhost:8081"}, []string{"http", noKafka, url},
			`--schema-registry-url ($SCHEMA_REGISTRY_URL): "localhost:8081" is not an http(s) URL`},
		{"http port in use", nil, []string{"http", noKafka, url, "--http-addr=" + inUse},
			`--http-addr ($SINK_HTTP_ADDR): listen on "` + inUse + `": `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			root := newRootCmd()
			root.SetArgs(append([]string{"sink"}, tc.args...))
			err := root.ExecuteContext(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error starting %q", err, tc.want)
			}
			if strings.HasSuffix(tc.name, "port in use") && !strings.HasSuffix(err.Error(), "(is the port in use?)") {
				t.Errorf("got %v, want it to end with (is the port in use?)", err)
			}
		})
	}
}

// TestSinkFlagsCoverConfig: every field of a sink's Config is set by exactly
// one flag, so every field Run can refuse is reported under a flag's name.
func TestSinkFlagsCoverConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cmd    *cobra.Command
		config any
	}{
		{"redis", newSinkRedisCmd(), redissink.Config{}},
		{"http", newSinkHTTPCmd(), httpsink.Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := map[string][]string{}
			tc.cmd.Flags().VisitAll(func(f *pflag.Flag) {
				if fields := f.Annotations[cli.FieldAnnotation]; len(fields) == 1 {
					flags[fields[0]] = append(flags[fields[0]], f.Name)
				}
			})
			typ := reflect.TypeOf(tc.config)
			for i := range typ.NumField() {
				name := typ.Field(i).Name
				if got := flags[name]; len(got) != 1 {
					t.Errorf("%s.Config.%s: set by flags %v, want exactly one", tc.name, name, got)
				}
				delete(flags, name)
			}
			for field, names := range flags {
				t.Errorf("flags %v name the field %s, which %s.Config does not have", names, field, tc.name)
			}
		})
	}
}

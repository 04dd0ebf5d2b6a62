package main

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/thmanyah/enricher/internal/cli"
	"github.com/thmanyah/enricher/tools/capture"
	"github.com/thmanyah/enricher/tools/datagen"
	"github.com/thmanyah/enricher/tools/demo"
	"github.com/thmanyah/enricher/tools/receiver"
)

// TestDatagenCaptureBenchFlags checks the tool commands refuse bad flags
// with one line naming the flag, before they connect to anything.
func TestDatagenCaptureBenchFlags(t *testing.T) {
	const badBrokers = `--brokers ($KAFKA_BROKERS): "kafka:x" is not host:port`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"datagen: no target", []string{"datagen"}, "datagen: give exactly one of --pg-url ($PG_URL) and --brokers ($KAFKA_BROKERS)"},
		{"datagen: both targets", []string{"datagen", "--pg-url", "postgres://x@127.0.0.1:1/db", "--brokers", "127.0.0.1:1"},
			"datagen: give exactly one of --pg-url ($PG_URL) and --brokers ($KAFKA_BROKERS)"},
		{"datagen: bad brokers", []string{"datagen", "--brokers", "kafka:x"}, badBrokers},
		{"datagen: negative rate", []string{"datagen", "--brokers", "127.0.0.1:1", "--rate", "-1"}, "--rate ($DATAGEN_RATE): must not be negative"},
		{"datagen: negative update rate", []string{"datagen", "--brokers", "127.0.0.1:1", "--update-rate", "-1"},
			"--update-rate ($DATAGEN_UPDATE_RATE): must not be negative"},
		{"datagen: empty catalogue", []string{"datagen", "--brokers", "127.0.0.1:1", "--catalogue", "0"}, "--catalogue ($DATAGEN_CATALOGUE): must be at least 1"},
		{"datagen: negative duration", []string{"datagen", "--brokers", "127.0.0.1:1", "--duration", "-1s"}, "--duration ($DATAGEN_DURATION): must not be negative"},
		{"datagen: rate not a number", []string{"datagen", "--brokers", "127.0.0.1:1", "--rate", "NaN"},
			"--rate ($DATAGEN_RATE): NaN is not a number of events per second"},
		{"capture: no pg url", []string{"capture"}, "--pg-url ($PG_URL): required"},
		{"capture: no brokers", []string{"capture", "--pg-url", "postgres://x@127.0.0.1:1/db", "--brokers", ""},
			"--brokers ($KAFKA_BROKERS): no broker given"},
		{"capture: bad slot", []string{"capture", "--pg-url", "postgres://x@127.0.0.1:1/db", "--slot", "Bad-Slot"},
			`--slot ($CAPTURE_SLOT): "Bad-Slot": want lower-case letters, digits and _`},
		{"capture: table listed twice", []string{"capture", "--pg-url", "postgres://x@127.0.0.1:1/db", "--tables", "content,public.content"},
			`--tables ($CAPTURE_TABLES): "public.content" listed twice`},
		{"capture: bad brokers", []string{"capture", "--pg-url", "postgres://x@127.0.0.1:1/db", "--brokers", "kafka:x"}, badBrokers},
		{"bench: bad brokers", []string{"bench", "--brokers", "kafka:x"}, badBrokers},
		{"bench: bad cpus", []string{"bench", "--cpus", "2,0"}, `--cpus: "0" is neither a positive count nor all`},
		{"bench passthrough: bad brokers", []string{"bench", "passthrough", "--brokers", "kafka:x"}, badBrokers},
		{"backfill: bad brokers", []string{"backfill", "--brokers", "kafka:x"}, badBrokers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, env := range []string{"KAFKA_BROKERS", "PG_URL"} {
				t.Setenv(env, "") // restored when the test ends
				os.Unsetenv(env)
			}
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			if err := root.ExecuteContext(context.Background()); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("output %q, want none", out.String())
			}
		})
	}
}

// TestToolFlagsCoverConfig: every field of a tool's Config but those no
// flag sets (unset) is set by exactly one flag, and every field a flag
// names exists, so every field Run can refuse is reported under a flag's
// name. A field of a nested struct is named Outer.Inner; an embedded
// struct's fields by their own names.
func TestToolFlagsCoverConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cmd    *cobra.Command
		config any
		unset  []string
	}{
		{"receiver", newReceiverCmd(), receiver.Config{}, []string{"Logger", "OnRequest"}},
		{"datagen", newDatagenCmd(), datagen.RunConfig{}, []string{"Logger"}},
		{"demo", newDemoCmd(), demo.Config{}, []string{"Service"}},
		{"capture", newCaptureCmd(), capture.Config{}, []string{"Logger", "Registerer", "FlushTimeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := map[string][]string{}
			tc.cmd.Flags().VisitAll(func(f *pflag.Flag) {
				if fields := f.Annotations[cli.FieldAnnotation]; len(fields) == 1 {
					flags[fields[0]] = append(flags[fields[0]], f.Name)
				}
			})
			unset := map[string]bool{}
			for _, name := range tc.unset {
				unset[name] = true
			}
			var walk func(typ reflect.Type, prefix string)
			walk = func(typ reflect.Type, prefix string) {
				for i := range typ.NumField() {
					f := typ.Field(i)
					switch {
					case f.Anonymous:
						walk(f.Type, prefix)
						continue
					case f.Type.Kind() == reflect.Struct:
						walk(f.Type, prefix+f.Name+".")
						continue
					}
					name := prefix + f.Name
					if got := flags[name]; !unset[name] && len(got) != 1 || unset[name] && len(got) != 0 {
						t.Errorf("%s: set by flags %v, want exactly one (none if unset)", name, got)
					}
					delete(flags, name)
				}
			}
			walk(reflect.TypeOf(tc.config), "")
			for field, names := range flags {
				t.Errorf("flags %v name the field %s, which the Config does not have", names, field)
			}
		})
	}
}

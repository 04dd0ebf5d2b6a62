package deploy

// The Avro variant: deploy/connect-avro (the compose connect image plus
// Confluent's Avro converter), deploy/compose.avro.yml and `make up-avro`.
// The image must be the compose one plus the jar set Debezium documents, at
// the versions the registry's Confluent release is built with, each checked
// against its repository's SHA-1; the override must change `connect` only;
// the -avro connector must name classes the image has.

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	// avroFile runs `connect` from deploy/connect-avro.
	avroFile = "deploy/compose.avro.yml"
	// avroDir is the build context of the Avro Connect image.
	avroDir = "deploy/connect-avro"
	// avroConnector is the connector config that needs the image.
	avroConnector = "debezium-connectors/thmanyah-postgres-avro.json"
	// avroPluginDir is where the jars go: the PostgreSQL connector's plugin
	// directory in the Debezium image (its KAFKA_CONNECT_PLUGINS_DIR is
	// /kafka/connect).
	avroPluginDir = "$KAFKA_CONNECT_PLUGINS_DIR/debezium-connector-postgres"
)

// avroJar is one jar of the converter's set: Debezium 2.7's Avro
// documentation lists every one of them ("Deploying Confluent Schema
// Registry with Debezium containers"); why says who needs it.
type avroJar struct {
	group    string // Maven group, as a path
	artifact string
	arg      string // the Dockerfile ARG that pins its version
	why      string
}

// confluent reports whether the jar comes from Confluent's repository, at
// the Confluent release.
func (j avroJar) confluent() bool { return j.arg == "CONFLUENT_VERSION" }

var avroJars = []avroJar{
	{"io/confluent", "kafka-connect-avro-converter", "CONFLUENT_VERSION", "io.confluent.connect.avro.AvroConverter, the class the -avro connector config names"},
	{"io/confluent", "kafka-connect-avro-data", "CONFLUENT_VERSION", "the converter's Connect <-> Avro mapping"},
	{"io/confluent", "kafka-avro-serializer", "CONFLUENT_VERSION", "the converter's serializer"},
	{"io/confluent", "kafka-schema-serializer", "CONFLUENT_VERSION", "kafka-avro-serializer's base"},
	{"io/confluent", "kafka-schema-converter", "CONFLUENT_VERSION", "kafka-connect-avro-data's dependency"},
	{"io/confluent", "kafka-schema-registry-client", "CONFLUENT_VERSION", "the registry's REST client"},
	{"io/confluent", "common-config", "CONFLUENT_VERSION", "Confluent's config helpers (Debezium's list)"},
	{"io/confluent", "common-utils", "CONFLUENT_VERSION", "every Confluent module's dependency"},
	{"org/apache/avro", "avro", "AVRO_VERSION", "Apache Avro"},
	{"org/apache/commons", "commons-compress", "COMMONS_COMPRESS_VERSION", "avro's and the client's dependency"},
	{"com/google/guava", "guava", "GUAVA_VERSION", "the client's schema caches"},
	{"com/google/guava", "failureaccess", "FAILUREACCESS_VERSION", "guava's one runtime dependency"},
	{"com/fasterxml/jackson/core", "jackson-databind", "JACKSON_VERSION", "the client's JSON"},
	{"com/fasterxml/jackson/core", "jackson-core", "JACKSON_VERSION", "jackson-databind's dependency"},
	{"com/fasterxml/jackson/core", "jackson-annotations", "JACKSON_VERSION", "jackson-databind's dependency"},
	{"com/fasterxml/jackson/dataformat", "jackson-dataformat-csv", "JACKSON_VERSION", "kafka-schema-serializer's dependency"},
	{"org/yaml", "snakeyaml", "SNAKEYAML_VERSION", "the client's dependency"},
	{"io/swagger/core/v3", "swagger-annotations", "SWAGGER_ANNOTATIONS_VERSION", "the annotations on the client's REST entities"},
	{"org/slf4j", "slf4j-api", "SLF4J_VERSION", "logging API (Connect loads org.slf4j from the worker, so this copy is inert)"},
	{"io/confluent", "logredactor", "LOGREDACTOR_VERSION", "kafka-avro-serializer's dependency"},
	{"io/confluent", "logredactor-metrics", "LOGREDACTOR_VERSION", "logredactor's dependency"},
	{"com/eclipsesource/minimal-json", "minimal-json", "MINIMAL_JSON_VERSION", "logredactor's dependency"},
	{"com/google/re2j", "re2j", "RE2J_VERSION", "logredactor's dependency"},
}

// confluentBuildVersions are the versions a Confluent release builds the
// converter with: the poms of confluentinc/schema-registry, rest-utils and
// common at its tag, guava's own failureaccess and logredactor's own
// dependencies. A new release needs its row, read from those poms.
var confluentBuildVersions = map[string]map[string]string{
	"7.7.1": {
		"AVRO_VERSION":                "1.11.3",     // common v7.7.1 pom.xml avro.version
		"COMMONS_COMPRESS_VERSION":    "1.26.1",     // schema-registry v7.7.1 pom.xml commons.compress.version
		"GUAVA_VERSION":               "32.0.1-jre", // common guava.version
		"FAILUREACCESS_VERSION":       "1.0.1",      // guava 32.0.1-jre's dependency
		"JACKSON_VERSION":             "2.16.0",     // common jackson.version (Kafka 3.7.0's too)
		"SNAKEYAML_VERSION":           "2.0",        // common snakeyaml.version
		"SWAGGER_ANNOTATIONS_VERSION": "2.1.10",     // schema-registry swagger.version
		"SLF4J_VERSION":               "1.7.36",     // common slf4j.version
		"LOGREDACTOR_VERSION":         "1.0.12",     // common logredactor.version
		"MINIMAL_JSON_VERSION":        "0.9.5",      // logredactor 1.0.12's dependency
		"RE2J_VERSION":                "1.6",        // logredactor 1.0.12's dependency
	},
}

// converterClasses says which jar of the set holds each converter class a
// connector config may name.
var converterClasses = map[string]string{
	"io.confluent.connect.avro.AvroConverter": "kafka-connect-avro-converter",
}

// --- deploy/connect-avro/Dockerfile, parsed --------------------------------

type avroDockerfile struct {
	text  string
	froms []string
	args  map[string]string // ARG name -> default
	users []string
}

func loadAvroDockerfile(t *testing.T) avroDockerfile {
	t.Helper()
	b, err := os.ReadFile(repoPath(avroDir + "/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := avroDockerfile{text: string(b), args: map[string]string{}}
	for _, m := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df.text, -1) {
		df.froms = append(df.froms, m[1])
	}
	for _, m := range regexp.MustCompile(`(?m)^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?\s*$`).FindAllStringSubmatch(df.text, -1) {
		df.args[m[1]] = m[2]
	}
	for _, m := range regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df.text, -1) {
		df.users = append(df.users, m[1])
	}
	return df
}

// installEnv is the environment the Dockerfile gives install-jars.sh: its
// ARGs, and repos in place of the real repositories when not nil.
func (df avroDockerfile) installEnv(dest string, repos map[string]string) []string {
	env := []string{"DEST=" + dest}
	for k, v := range df.args {
		if r, ok := repos[k]; ok {
			v = r
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// jarURL is where the Dockerfile's ARGs say a jar comes from.
func (df avroDockerfile) jarURL(j avroJar) string {
	repo := df.args["MAVEN_CENTRAL"]
	if j.confluent() {
		repo = df.args["CONFLUENT_REPO"]
	}
	v := df.args[j.arg]
	return fmt.Sprintf("%s/%s/%s/%s/%s-%s.jar", repo, j.group, j.artifact, v, j.artifact, v)
}

// avroJarNamed is the jar of avroJars with that artifact.
func avroJarNamed(t *testing.T, artifact string) avroJar {
	t.Helper()
	i := slices.IndexFunc(avroJars, func(j avroJar) bool { return j.artifact == artifact })
	if i < 0 {
		t.Fatalf("no %s in avroJars", artifact)
	}
	return avroJars[i]
}

func (df avroDockerfile) jarName(j avroJar) string {
	return j.artifact + "-" + df.args[j.arg] + ".jar"
}

// --- tests: the image ------------------------------------------------------

func TestConnectAvroImage(t *testing.T) {
	df := loadAvroDockerfile(t)
	cf := loadCompose(t)
	over := loadComposeFile(t, avroFile)
	connect := cf.Services["connect"].Image
	_, registryTag, _ := splitImage(cf.Services["schema-registry"].Image)
	confluent := df.args["CONFLUENT_VERSION"]

	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"FROM is compose's connect image", func(t *testing.T) {
			// The Avro variant must differ from the JSON one in its
			// converter only.
			if len(df.froms) != 1 || df.froms[0] != connect {
				t.Errorf("FROM %q; docker-compose.yml's connect runs %q: change both together", df.froms, connect)
			}
		}},
		{"runs as the base image's unprivileged user", func(t *testing.T) {
			// quay.io/debezium/connect ends with USER kafka (uid 1001).
			for _, u := range df.users {
				if name, _, _ := strings.Cut(u, ":"); name == "root" || name == "0" {
					t.Errorf("USER %s: the base image runs as kafka; install without root", u)
				}
			}
		}},
		{"Confluent release is the registry's", func(t *testing.T) {
			if confluent == "" || confluent != registryTag {
				t.Errorf("CONFLUENT_VERSION %q; the stack's registry is %s: the converter and the registry come from one release", confluent, cf.Services["schema-registry"].Image)
			}
		}},
		{"every jar version pinned", func(t *testing.T) {
			for _, j := range avroJars {
				v, ok := df.args[j.arg]
				switch {
				case !ok:
					t.Errorf("%s: no ARG %s", j.artifact, j.arg)
				case !versionTag.MatchString(v) || strings.Contains(strings.ToUpper(v), "SNAPSHOT") || v == "latest":
					t.Errorf("%s: ARG %s=%q is not a released version", j.artifact, j.arg, v)
				}
			}
		}},
		{"versions are the ones the Confluent release is built with", func(t *testing.T) {
			want, ok := confluentBuildVersions[confluent]
			if !ok {
				t.Fatalf("no build versions for Confluent %s: add them to confluentBuildVersions from the poms of confluentinc/schema-registry, rest-utils and common at tag v%s", confluent, confluent)
			}
			for arg, v := range want {
				if df.args[arg] != v {
					t.Errorf("ARG %s=%q; Confluent %s is built with %q", arg, df.args[arg], confluent, v)
				}
			}
		}},
		{"repositories over HTTPS", func(t *testing.T) {
			for _, arg := range []string{"CONFLUENT_REPO", "MAVEN_CENTRAL"} {
				if !strings.HasPrefix(df.args[arg], "https://") {
					t.Errorf("ARG %s=%q: want an https:// URL", arg, df.args[arg])
				}
			}
		}},
		{"installs into the PostgreSQL connector's plugin directory", func(t *testing.T) {
			if !regexp.MustCompile(`(?m)^COPY\s+install-jars\.sh\s`).MatchString(df.text) {
				t.Error("install-jars.sh is not copied into the image")
			}
			run := regexp.MustCompile(`(?m)^RUN .*install-confluent-avro-jars\.sh.*$`).FindString(df.text)
			if !strings.Contains(run, `DEST="`+avroPluginDir+`"`) {
				t.Errorf("RUN %q: want DEST=%q, the connector's own plugin directory", run, avroPluginDir)
			}
		}},
		{"override's image tag names both versions", func(t *testing.T) {
			_, debeziumTag, _ := splitImage(connect)
			want := "thmanyah/connect-avro:" + debeziumTag + "-cp" + confluent
			if got := over.Services["connect"].Image; got != want {
				t.Errorf("%s: connect image %q, want %q", avroFile, got, want)
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// TestConnectAvroConnectorClasses checks that each converter class the
// -avro connector config names is in a jar the image installs, and that
// install-jars.sh refuses to build without it.
func TestConnectAvroConnectorClasses(t *testing.T) {
	c := loadConnector(t, repoPath(avroConnector))
	script, err := os.ReadFile(repoPath(avroDir + "/install-jars.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"key.converter", "value.converter"} {
		t.Run(key, func(t *testing.T) {
			class := c[key]
			artifact, ok := converterClasses[class]
			if !ok {
				t.Fatalf("%s=%q: no jar of deploy/connect-avro provides it (converterClasses)", key, class)
			}
			if !slices.ContainsFunc(avroJars, func(j avroJar) bool { return j.artifact == artifact }) {
				t.Errorf("%s is in %s, which the image does not install", class, artifact)
			}
			entry := strings.ReplaceAll(class, ".", "/") + ".class"
			if !bytes.Contains(script, []byte(entry)) {
				t.Errorf("install-jars.sh does not check that %s holds %s", artifact, entry)
			}
		})
	}
}

// --- tests: install-jars.sh against a fake Maven repository ----------------

// fakeRepo says how the fake repository misbehaves.
type fakeRepo struct {
	missing   string // a jar name answered 404
	badSHA1   string // a jar name whose .sha1 is another hash
	junkSHA1  string // a jar name whose .sha1 is not a hash
	upperSHA1 bool   // .sha1 files in upper case, followed by the file name
	noClass   bool   // the converter jar lacks AvroConverter.class
}

// fakeMaven serves any jar under any path (a real zip whose entries name
// it) and its .sha1, recording every request.
type fakeMaven struct {
	fakeRepo
	mu        sync.Mutex
	requested []string
}

func (f *fakeMaven) jar(name string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	entries := []string{"META-INF/MANIFEST.MF", strings.TrimSuffix(name, ".jar") + ".properties"}
	if strings.HasPrefix(name, "kafka-connect-avro-converter-") && !f.noClass {
		entries = append(entries, "io/confluent/connect/avro/AvroConverter.class")
	}
	for _, e := range entries {
		w, err := zw.Create(e)
		if err != nil {
			panic(err) // a zip.Writer on a bytes.Buffer does not fail
		}
		fmt.Fprintf(w, "%s of %s\n", e, name)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func (f *fakeMaven) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requested = append(f.requested, r.URL.Path)
	f.mu.Unlock()
	name := path.Base(strings.TrimSuffix(r.URL.Path, ".sha1"))
	if !strings.HasSuffix(name, ".jar") || name == f.missing {
		http.NotFound(w, r)
		return
	}
	body := f.jar(name)
	if !strings.HasSuffix(r.URL.Path, ".sha1") {
		_, _ = w.Write(body)
		return
	}
	sum := sha1.Sum(body)
	hash := hex.EncodeToString(sum[:])
	switch {
	case name == f.badSHA1:
		hash = strings.Repeat("0", 40)
	case name == f.junkSHA1:
		hash = "<html>moved</html>"
	case f.upperSHA1:
		hash = strings.ToUpper(hash) + "  " + name
	}
	_, _ = w.Write([]byte(hash + "\n"))
}

func (f *fakeMaven) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.requested)
	sort.Strings(out)
	return out
}

// scriptEnv is this process's environment without proxies (the fake
// repository is on loopback) and without variables a case sets.
func scriptEnv(set []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(strings.ToLower(k), "_proxy") || slices.ContainsFunc(set, func(s string) bool { return strings.HasPrefix(s, k+"=") }) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, set...)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestConnectAvroInstallJars(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed (apt-get install bash)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (apt-get install curl); the image has it")
	}
	df := loadAvroDockerfile(t)
	script := repoPath(avroDir + "/install-jars.sh")
	// What Debezium's connector directory holds before: it must stay.
	const existing = "debezium-connector-postgres-2.7.4.Final.jar"

	var wantJars []string
	for _, j := range avroJars {
		wantJars = append(wantJars, df.jarName(j))
	}
	wantDir := append([]string{existing}, wantJars...)
	sort.Strings(wantDir)
	guava, avro, converter := df.jarName(avroJarNamed(t, "guava")), df.jarName(avroJarNamed(t, "avro")), df.jarName(avroJarNamed(t, "kafka-connect-avro-converter"))

	for _, tc := range []struct {
		name    string
		fake    fakeRepo
		noDest  bool
		already string // a jar already in the plugin directory
		wantErr string // "" for success; else a part of the one stderr line
	}{
		{name: "installs the documented set, each checked"},
		{name: "a .sha1 in upper case with the file name", fake: fakeRepo{upperSHA1: true}},
		{name: "a jar that does not match its .sha1 is refused", fake: fakeRepo{badSHA1: guava},
			wantErr: guava + " has SHA-1 "},
		{name: "a jar the repository does not have", fake: fakeRepo{missing: avro},
			wantErr: "cannot download http://"},
		{name: "a .sha1 that holds no hash", fake: fakeRepo{junkSHA1: converter},
			wantErr: "holds no SHA-1"},
		{name: "a converter jar without AvroConverter", fake: fakeRepo{noClass: true},
			wantErr: "has no io/confluent/connect/avro/AvroConverter.class"},
		{name: "another version of a library already in the directory", already: "guava-31.1-jre.jar",
			wantErr: "already has guava-31.1-jre.jar"},
		{name: "no plugin directory", noDest: true, wantErr: "no directory "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeMaven{fakeRepo: tc.fake}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "debezium-connector-postgres")
			if !tc.noDest {
				if err := os.Mkdir(dest, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{existing, tc.already} {
					if name != "" {
						if err := os.WriteFile(filepath.Join(dest, name), []byte("jar"), 0o644); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			repos := map[string]string{"CONFLUENT_REPO": srv.URL + "/confluent", "MAVEN_CENTRAL": srv.URL + "/central"}
			cmd := exec.Command(bash, script)
			cmd.Env = scriptEnv(df.installEnv(dest, repos))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()

			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("succeeded; want a failure saying %q\n%s", tc.wantErr, stdout.String())
				}
				line := strings.TrimSuffix(stderr.String(), "\n")
				if strings.Contains(line, "\n") || !strings.HasPrefix(line, "install-jars: ") || !strings.Contains(line, tc.wantErr) {
					t.Errorf("stderr: got %q, want one line containing %q", stderr.String(), tc.wantErr)
				}
				if !tc.noDest {
					want := []string{existing}
					if tc.already != "" {
						want = append(want, tc.already)
						sort.Strings(want)
					}
					if got := listDir(t, dest); !slices.Equal(got, want) {
						t.Errorf("the plugin directory after a failure: got %q, want it untouched, %q", got, want)
					}
				}
				return
			}

			if err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if got := listDir(t, dest); !slices.Equal(got, wantDir) {
				t.Errorf("plugin directory:\ngot  %q\nwant %q", got, wantDir)
			}
			// Every jar from the repository the Dockerfile names, at its
			// pinned version, and its .sha1: nothing more.
			var want []string
			for _, j := range avroJars {
				u := strings.TrimPrefix(df.jarURL(j), df.args["MAVEN_CENTRAL"])
				prefix := "/central"
				if j.confluent() {
					u, prefix = strings.TrimPrefix(df.jarURL(j), df.args["CONFLUENT_REPO"]), "/confluent"
				}
				want = append(want, prefix+u, prefix+u+".sha1")
			}
			got := fake.requests()
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("requests:\ngot  %q\nwant %q", got, want)
			}
			wantOut := fmt.Sprintf("install-jars: %d jars in %s, each matching its repository's SHA-1\n", len(avroJars), dest)
			if stdout.String() != wantOut {
				t.Errorf("stdout: got %q, want %q", stdout.String(), wantOut)
			}
		})
	}
}

// --- tests: deploy/compose.avro.yml ----------------------------------------

// TestConnectAvroCompose checks that the override builds `connect` from
// deploy/connect-avro and changes nothing else, in the file and, when
// docker-compose is installed, in the configuration it resolves.
func TestConnectAvroCompose(t *testing.T) {
	b, err := os.ReadFile(repoPath(avroFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", avroFile, err)
	}
	t.Run("only connect's build and image", func(t *testing.T) {
		for k := range raw {
			if k != "services" {
				t.Errorf("top-level %q: the override adds nothing but connect's image", k)
			}
		}
		services, _ := raw["services"].(map[string]any)
		var names []string
		for s := range services {
			names = append(names, s)
		}
		if !slices.Equal(names, []string{"connect"}) {
			t.Fatalf("services %q, want connect only", names)
		}
		connect, _ := services["connect"].(map[string]any)
		var keys []string
		for k := range connect {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(keys, []string{"build", "image"}) {
			t.Errorf("connect sets %q, want build and image only", keys)
		}
	})
	t.Run("builds deploy/connect-avro under a pinned local tag", func(t *testing.T) {
		svc := loadComposeFile(t, avroFile).Services["connect"]
		build, _ := svc.Build.(map[string]any)
		if ctx, _ := build["context"].(string); ctx != avroDir {
			t.Errorf("build context %v, want %s (relative to docker-compose.yml)", svc.Build, avroDir)
		}
		if _, err := os.Stat(repoPath(avroDir + "/Dockerfile")); err != nil {
			t.Error(err)
		}
		checkPinned(t, svc.Image, true)
	})
	t.Run("resolved by docker-compose, only connect differs", func(t *testing.T) {
		dc, err := exec.LookPath("docker-compose")
		if err != nil {
			t.Skip("docker-compose is not installed (apt-get install --no-install-recommends docker-compose)")
		}
		config := func(files ...string) map[string]any {
			args := []string{}
			for _, f := range files {
				args = append(args, "-f", repoPath(f))
			}
			for _, p := range allProfiles {
				args = append(args, "--profile", p)
			}
			out, err := exec.Command(dc, append(args, "config")...).Output()
			if err != nil {
				t.Fatalf("docker-compose %s config: %v", strings.Join(files, " "), err)
			}
			var m map[string]any
			if err := yaml.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		base, merged := config("docker-compose.yml"), config("docker-compose.yml", avroFile)
		bs, _ := base["services"].(map[string]any)
		ms, _ := merged["services"].(map[string]any)
		// docker-compose 1.29 sorts the mount and port lists of every service
		// when it merges files: their order means nothing.
		for _, services := range []map[string]any{bs, ms} {
			for _, svc := range services {
				m, _ := svc.(map[string]any)
				for _, k := range []string{"volumes", "ports"} {
					if list, ok := m[k].([]any); ok {
						slices.SortFunc(list, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
					}
				}
			}
		}
		for name := range bs {
			if name == "connect" {
				continue
			}
			if !reflect.DeepEqual(bs[name], ms[name]) {
				t.Errorf("service %s differs with the override", name)
			}
		}
		if len(ms) != len(bs) {
			t.Errorf("%d services with the override, %d without", len(ms), len(bs))
		}
		bc, _ := bs["connect"].(map[string]any)
		mc, _ := ms["connect"].(map[string]any)
		for k := range mc {
			if k != "image" && k != "build" && !reflect.DeepEqual(bc[k], mc[k]) {
				t.Errorf("connect's %s differs with the override", k)
			}
		}
		for k := range bc {
			if _, ok := mc[k]; !ok {
				t.Errorf("connect's %s is gone with the override", k)
			}
		}
		for k := range base {
			if k != "services" && !reflect.DeepEqual(base[k], merged[k]) {
				t.Errorf("top-level %s differs with the override", k)
			}
		}
	})
}

// --- tests: make up-avro ---------------------------------------------------

// TestMakeUpAvro checks what `make up-avro` runs (make -n: nothing is
// started), and that without a Docker engine it stops with make up's one
// line, naming itself.
func TestMakeUpAvro(t *testing.T) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed (apt-get install make)")
	}
	run := func(t *testing.T, pathEnv string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(makeCmd, args...)
		cmd.Dir = repoRoot
		cmd.Env = makeEnv("PATH=" + pathEnv)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		_ = cmd.Run()
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}
	const files = "-f docker-compose.yml -f " + avroFile
	for _, tc := range []struct {
		name    string
		target  string
		want    []string // lines make -n prints, in order
		notWant string
	}{
		{"up-avro: the override, then the -avro connector", "up-avro", []string{
			"docker-compose " + files + " up -d --build",
			`COMPOSE="docker-compose ` + files + `" UP_TIMEOUT=300 bash deploy/scripts/wait-healthy.sh`,
			"bash deploy/scripts/register-connectors.sh " + avroConnector,
		}, ""},
		{"up: unchanged, the default file and the JSON connector", "up", []string{
			"docker-compose up -d --build",
			"bash deploy/scripts/register-connectors.sh " + mainConnector,
		}, avroFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, os.Getenv("PATH"), "-n", tc.target, "COMPOSE=docker-compose")
			if code != 0 {
				t.Fatalf("make -n %s: exit %d\n%s", tc.target, code, errOut)
			}
			rest := out
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("make -n %s does not run %q (in this order):\n%s", tc.target, w, out)
				}
				rest = rest[i+len(w):]
			}
			if tc.notWant != "" && strings.Contains(out, tc.notWant) {
				t.Errorf("make -n %s mentions %s:\n%s", tc.target, tc.notWant, out)
			}
		})
	}
	t.Run("no Docker engine", func(t *testing.T) {
		noEngine := fakeBin(t, map[string]string{
			"docker": "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n",
		})
		out, errOut, code := run(t, noEngine+string(os.PathListSeparator)+os.Getenv("PATH"), "up-avro")
		if code != 2 || out != "" {
			t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
		}
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		want := "make up-avro: no Docker engine answers (docker info failed): install Docker Engine and start it, or run 'make demo' for the pipeline without Docker"
		if len(lines) != 2 || lines[0] != want || !regexp.MustCompile(`^make: \*\*\* \[Makefile:[0-9]+: up-avro\] Error 1$`).MatchString(lines[1]) {
			t.Errorf("stderr:\n%s\nwant:\n%s\nmake: *** [Makefile:N: up-avro] Error 1", errOut, want)
		}
	})
}

package deploy

// deploy/scripts/register-connectors.sh against a fake Kafka Connect, and
// deploy/scripts/wait-healthy.sh against a fake docker.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

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
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (apt-get install curl)")
	}
	shells := scriptShells(t)
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

	type testCase struct {
		name     string
		fake     *fakeConnect
		args     []string
		runs     int
		wantErr  bool
		wantOut  []string // in the output of the last run
		wantSent bool     // the stored config is the file's
	}
	cases := func() []testCase {
		return []testCase{
			{name: "creates, then updates", runs: 2, wantOut: []string{name + " updated", name + " RUNNING"}, wantSent: true, args: []string{mainFile}},
			{name: "waits for a task", fake: &fakeConnect{notReady: 1}, runs: 1, wantOut: []string{name + " created", name + " RUNNING"}, wantSent: true, args: []string{mainFile}},
			{name: "no arguments: every config but the -avro variants", runs: 1, wantOut: []string{name + " created"}, wantSent: true},
			{name: "failed task shows the trace", fake: &fakeConnect{failTask: true}, runs: 1, wantErr: true, args: []string{mainFile},
				wantOut: []string{name + " FAILED", "wal_level property must be 'logical'", "/restart?includeTasks=true"}},
			{name: "rejected config shows the reason", fake: &fakeConnect{reject: "Connector configuration is invalid"}, runs: 1, wantErr: true, args: []string{mainFile},
				wantOut: []string{"answered 400", "Connector configuration is invalid"}},
		}
	}
	for _, sh := range shells {
		for _, tc := range cases() {
			t.Run(sh.name+"/"+tc.name, func(t *testing.T) {
				if tc.fake == nil {
					tc.fake = &fakeConnect{}
				}
				tc.fake.configs = map[string]map[string]any{}
				srv := httptest.NewServer(tc.fake.handler())
				defer srv.Close()
				var out []byte
				var err error
				for i := 0; i < tc.runs; i++ {
					cmd := exec.Command(sh.path, append([]string{script}, tc.args...)...)
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
}

// --- tests: deploy/scripts/wait-healthy.sh -----------------------------------

// fakeComposePs is a compose command whose `ps` lists the containers in
// $FAKE_STATE the way Compose v2 does: running ones only, unless -a/--all
// (docker-compose 1.29 also hides stopped one-off containers without it).
// Anything but `ps` with -q fails, so the script's call is checked too.
const fakeComposePs = `#!/usr/bin/env bash
all= quiet= ps=
for a in "$@"; do
  case $a in
    ps) ps=1 ;;
    -a | --all) all=1 ;;
    -q | --quiet) quiet=1 ;;
  esac
done
if [ -z "$ps" ] || [ -z "$quiet" ]; then
  echo "fake compose: want ps -q, got: $*" >&2
  exit 2
fi
for f in "$FAKE_STATE"/*; do
  [ -e "$f" ] || continue
  read -r name state rest <"$f"
  if [ "$state" = running ] || [ "$state" = restarting ] || [ -n "$all" ]; then
    echo "${f##*/}"
  fi
done
`

// TestWaitHealthyScript runs the script against a fake `docker` and compose
// command that report container states from files.
func TestWaitHealthyScript(t *testing.T) {
	shells := scriptShells(t)
	script, err := filepath.Abs(repoPath("deploy/scripts/wait-healthy.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shells {
		for _, tc := range []struct {
			name       string
			containers map[string]string // id: "name status health exitcode [oneoff]" as docker inspect prints it
			compose    string            // the fake compose's body; fakeComposePs when empty
			wantErr    bool
			wantOut    string
		}{
			{name: "healthy, running without a check, a job done", containers: map[string]string{
				"a": "/enricher running healthy 0 False", "b": "/redis running none 0 False", "c": "/backfill exited none 0 False",
			}, wantOut: "all 3 containers ready"},
			{name: "a container exited with an error", containers: map[string]string{
				"a": "/enricher running healthy 0 False", "b": "/sink-redis exited none 1 False",
			}, wantErr: true, wantOut: "sink-redis exited with code 1"},
			{name: "the only container crashed", containers: map[string]string{
				"a": "/datagen exited none 2 False",
			}, wantErr: true, wantOut: "datagen exited with code 2; its last lines:\nlog of a"},
			{name: "an unhealthy container", containers: map[string]string{
				"a": "/connect running unhealthy 0 False",
			}, wantErr: true, wantOut: "connect is unhealthy"},
			{name: "still starting at the deadline", containers: map[string]string{
				"a": "/kafka running starting 0 False",
			}, wantErr: true, wantOut: "not ready after 0s: kafka(running/starting)"},
			{name: "restarting at the deadline", containers: map[string]string{
				"a": "/enricher running healthy 0 False", "b": "/sink-http restarting none 1 False",
			}, wantErr: true, wantOut: "not ready after 0s: sink-http(restarting/none)"},
			{name: "an old failed compose run is not up's", containers: map[string]string{
				"a": "/enricher running healthy 0 False", "b": "/thmanyah-backfill-run-1 exited none 1 True",
			}, wantOut: "all 1 containers ready"},
			{name: "no containers", containers: map[string]string{}, wantErr: true, wantOut: "no containers"},
			{name: "compose ps fails", containers: map[string]string{"a": "/kafka running healthy 0 False"},
				compose: "#!/usr/bin/env bash\necho 'no configuration file provided: not found' >&2\nexit 1\n",
				wantErr: true, wantOut: "wait: 'compose --profile sinks ps -a -q' failed"},
		} {
			t.Run(sh.name+"/"+tc.name, func(t *testing.T) {
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
				compose := tc.compose
				if compose == "" {
					compose = fakeComposePs
				}
				fakes := map[string]string{
					"docker":  "#!/usr/bin/env bash\ncase $1 in\n  inspect) cat \"$FAKE_STATE/${*: -1}\" ;;\n  logs) echo \"log of ${*: -1}\" ;;\nesac\n",
					"compose": compose,
				}
				for name, body := range fakes {
					if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				cmd := exec.Command(sh.path, script)
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
}

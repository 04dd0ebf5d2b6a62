package deploy

// deploy/monitoring (profile monitoring): Prometheus' configuration and alert
// rules checked and unit-tested by promtool, the Grafana dashboard checked
// for the panels it must have and for queries that parse, the compose wiring
// between them, and every metric any query or rule reads checked against
// what the real binary exports (TestMonitoringMetricsExported scrapes
// `enricher run` and both sinks, driven with kfake and a real Redis).

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testproc"
	"github.com/thmanyah/enricher/internal/testredis"
)

// prometheusSeries are series Prometheus writes itself rather than scrapes.
var prometheusSeries = map[string]bool{"up": true, "ALERTS": true}

func TestPromQLSelectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		expr string
		want []string // name{label,label}
	}{
		{"bare name", "enricher_view_ready", []string{"enricher_view_ready{}"}},
		{"matchers", `enricher_events_total{result=~"a|b", topic!="x"}`, []string{"enricher_events_total{result,topic}"}},
		{"function and range", "rate(enricher_events_total[5m])", []string{"enricher_events_total{}"}},
		{"aggregation with by before", "sum by (job, le) (rate(x_bucket[$__rate_interval]))", []string{"x_bucket{}"}},
		{"aggregation with by after", "sum(rate(x_total[1m])) by (reason)", []string{"x_total{}"}},
		{"histogram_quantile", "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 5", []string{"h_bucket{}"}},
		{"set operators and on", `up{job=~"a|b"} == 0 and on (job, instance) max_over_time(up[1h]) == 1`, []string{"up{job}", "up{}"}},
		{"or of two metrics", "sum by (job) (a_lag or b_lag) > 1e3", []string{"a_lag{}", "b_lag{}"}},
		{"offset and bool", "a_total offset 5m > bool 0", []string{"a_total{}"}},
		{"__name__ matcher", `{__name__="a_total", reason="x"}`, []string{"a_total{reason}"}},
		{"string with braces", `label_replace(a, "dst", "$1", "src", "(.*){x}")`, []string{"a{}"}},
		{"subquery", "max_over_time(rate(a_total[1m])[10m:1m])", []string{"a_total{}"}},
		{"count_values keyword", `count_values("v", a)`, []string{"a{}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sels, err := promqlSelectors(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sels {
				labels := slices.Clone(s.labels)
				sort.Strings(labels)
				got = append(got, s.name+"{"+strings.Join(labels, ",")+"}")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`{job="x"}`, `{__name__=~"a.*"}`, `a{b=}`} {
		if _, err := promqlSelectors(bad); err == nil {
			t.Errorf("%s: no error; want one (no metric name to check)", bad)
		}
	}
}

// TestMonitoringPrometheusConfig: promtool accepts the configuration (and
// the rule files it names), and each scrape job is a compose service
// scraped on the port that service listens on.
func TestMonitoringPrometheusConfig(t *testing.T) {
	t.Run("promtool check config", func(t *testing.T) {
		runPromtool(t, repoPath(filepath.Dir(prometheusConfig)), "check", "config", filepath.Base(prometheusConfig))
	})
	var pc promConfig
	loadYAML(t, prometheusConfig, &pc)
	cf := loadCompose(t)
	jobs := map[string]bool{}
	for _, sc := range pc.ScrapeConfigs {
		jobs[sc.JobName] = true
		t.Run("job "+sc.JobName, func(t *testing.T) {
			svc, ok := cf.Services[sc.JobName]
			if !ok {
				t.Fatalf("job %q is not a compose service: the dashboard and the alerts select jobs by service name", sc.JobName)
			}
			if sc.MetricsPath != "/metrics" {
				t.Errorf("metrics_path %q, want /metrics", sc.MetricsPath)
			}
			listens := map[string]bool{}
			for k, v := range svc.env() {
				if host, port, ok := strings.Cut(v, ":"); ok && host == "0.0.0.0" && strings.HasSuffix(k, "_ADDR") {
					listens[port] = true
				}
			}
			var targets []string
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
			if len(targets) != 1 {
				t.Fatalf("targets %q, want the one service", targets)
			}
			host, port, _ := strings.Cut(targets[0], ":")
			if host != sc.JobName || !listens[port] {
				t.Errorf("target %q: want %s:<port> with a port the service listens on (%v)", targets[0], sc.JobName, slices.Sorted(maps.Keys(listens)))
			}
		})
	}
	for _, want := range []string{"enricher", "sink-redis", "sink-http"} {
		if !jobs[want] {
			t.Errorf("no scrape job %q", want)
		}
	}
	t.Run("compose mounts this file", func(t *testing.T) {
		prom := cf.Services["prometheus"]
		var cfgPath string
		for _, a := range prom.command() {
			if v, ok := strings.CutPrefix(a, "--config.file="); ok {
				cfgPath = v
			}
		}
		if got := hostPath(t, prom, cfgPath); got != prometheusConfig {
			t.Errorf("--config.file=%s is %q on the host, want %s", cfgPath, got, prometheusConfig)
		}
	})
}

// TestMonitoringAlertRules: promtool accepts the rules and its unit tests
// (alerts_test.yml) pass; each rule is one an operator can act on.
func TestMonitoringAlertRules(t *testing.T) {
	dir := repoPath(filepath.Dir(alertRules))
	t.Run("promtool check rules", func(t *testing.T) {
		runPromtool(t, dir, "check", "rules", filepath.Base(alertRules))
	})
	t.Run("promtool test rules", func(t *testing.T) {
		runPromtool(t, dir, "test", "rules", filepath.Base(alertRuleTests))
	})

	var rf ruleFile
	loadYAML(t, alertRules, &rf)
	var tests struct {
		Tests []struct {
			PromqlExprTest []struct {
				ExpSamples []struct {
					Labels string `yaml:"labels"`
				} `yaml:"exp_samples"`
			} `yaml:"promql_expr_test"`
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	loadYAML(t, alertRuleTests, &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	firing := regexp.MustCompile(`alertname="([^"]+)", alertstate="firing"`)
	for _, tg := range tests.Tests {
		for _, pt := range tg.PromqlExprTest {
			for _, s := range pt.ExpSamples {
				if m := firing.FindStringSubmatch(s.Labels); m != nil {
					fires[m[1]] = true
				}
			}
		}
		for _, at := range tg.AlertRuleTest {
			quiet[at.Alertname] = true
		}
	}
	anchors := markdownAnchors(t, "README-operations.md")
	runbookURL := regexp.MustCompile(`^README-operations\.md#([a-z0-9_-]+)$`)
	var names []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			names = append(names, r.Alert)
			t.Run(r.Alert, func(t *testing.T) {
				if r.For == "" {
					t.Error("no for: one bad scrape would page")
				}
				if s := r.Labels["severity"]; s != "critical" && s != "warning" {
					t.Errorf("severity %q, want critical or warning", s)
				}
				for _, a := range []string{"summary", "description", "runbook", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("no %s annotation", a)
					}
				}
				if m := runbookURL.FindStringSubmatch(r.Annotations["runbook_url"]); m == nil {
					t.Errorf("runbook_url %q, want README-operations.md#<section>", r.Annotations["runbook_url"])
				} else if !anchors[m[1]] {
					t.Errorf("runbook_url %q: README-operations.md has no heading with anchor #%s", r.Annotations["runbook_url"], m[1])
				}
				if !fires[r.Alert] {
					t.Errorf("%s has no case where it fires (an ALERTS{alertname=%q, alertstate=\"firing\"} sample)", alertRuleTests, r.Alert)
				}
				if !quiet[r.Alert] {
					t.Errorf("%s has no alert_rule_test where it must not fire", alertRuleTests)
				}
			})
		}
	}
	for _, want := range []string{"EnricherViewNotReady", "EnricherConsumerLagGrowing", "DeadLetterRateHigh", "RedisTopStale"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s (the issue asks for view not ready, lag growing, DLQ rate, freshness over 5 s)", want)
		}
	}
}

// markdownAnchors returns the anchors GitHub gives the headings of a
// Markdown file: lower case, punctuation dropped, spaces as hyphens.
func markdownAnchors(t *testing.T, name string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(repoPath(name))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var a strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127:
				a.WriteRune(r)
			}
		}
		out[a.String()] = true
	}
	return out
}

// TestMonitoringDashboard: the dashboard parses, has a panel for each
// thing the issue asks to see, reads only the provisioned data source, and
// every query parses as PromQL (promtool, given the queries as recording
// rules).
func TestMonitoringDashboard(t *testing.T) {
	d, panels := loadDashboard(t)
	dsUID, _ := provisionedDatasource(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want all three", d.UID, d.Title, d.SchemaVersion)
	}

	byTitle := map[string]dashboardPanel{}
	ids := map[int]bool{}
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		byTitle[p.Title] = p
		if p.Datasource == nil || p.Datasource.UID != dsUID {
			t.Errorf("panel %q: data source %+v, want uid %q (provisioned in %s)", p.Title, p.Datasource, dsUID, grafanaDSDir)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != nil && tg.Datasource.UID != dsUID {
				t.Errorf("panel %q query %s: data source uid %q, want %q", p.Title, tg.RefID, tg.Datasource.UID, dsUID)
			}
		}
	}

	for _, tc := range []struct {
		what    string
		title   string
		metrics []string
		has     []string // in a query or legend
	}{
		{"throughput in and out", "Throughput in / out", []string{"enricher_events_total"}, []string{"in:", "out:"}},
		{"consumer lag per partition", "Consumer lag per partition (engagement topics)", []string{"enricher_consumer_lag"}, []string{"{{partition}}"}},
		{"view lag per partition", "View lag per partition (content topic)", []string{"enricher_cdc_lag"}, []string{"{{partition}}"}},
		{"join hits, misses, held", "Join hits / misses / held", []string{"enricher_events_total", "enricher_held_events"}, []string{"hits", "misses", "held"}},
		{"latency p50 and p99", "Event latency p50 / p99", []string{"enricher_event_latency_seconds_bucket"}, []string{"histogram_quantile(0.5,", "histogram_quantile(0.99,"}},
		{"DLQ rate, every consumer", "DLQ rate", []string{"enricher_events_total", "enricher_cdc_records_total", "enricher_sink_redis_events_total", "enricher_sink_http_dlq_records_total"}, []string{`"dlq"`}},
		{"Redis freshness", "Redis top freshness p50 / p99", []string{"enricher_sink_redis_freshness_seconds_bucket"}, []string{"histogram_quantile(0.99,"}},
		{"HTTP sink retries", "HTTP sink retries by reason", []string{"enricher_sink_http_retries_total"}, nil},
		{"HTTP sink breaker state", "HTTP sink breaker state", []string{"enricher_sink_http_breaker_state"}, nil},
		{"firing alerts", "Firing alerts", []string{"ALERTS"}, nil},
	} {
		t.Run(tc.what, func(t *testing.T) {
			p, ok := byTitle[tc.title]
			if !ok {
				t.Fatalf("no panel %q", tc.title)
			}
			used := map[string]bool{}
			var text strings.Builder
			for _, tg := range p.Targets {
				sels, err := promqlSelectors(grafanaVariables.Replace(tg.Expr))
				if err != nil {
					t.Fatalf("query %s: %v", tg.RefID, err)
				}
				for _, s := range sels {
					used[s.name] = true
				}
				text.WriteString(tg.Expr + "\n" + tg.LegendFormat + "\n")
			}
			for _, m := range tc.metrics {
				if !used[m] {
					t.Errorf("reads %v, not %s", slices.Sorted(maps.Keys(used)), m)
				}
			}
			for _, s := range tc.has {
				if !strings.Contains(text.String(), s) {
					t.Errorf("no %q in its queries or legends", s)
				}
			}
		})
	}

	t.Run("layout", func(t *testing.T) {
		type cell struct{ x, y int }
		taken := map[cell]string{}
		for _, p := range panels {
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
				continue
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := taken[cell{x, y}]; ok {
						t.Errorf("panels %q and %q overlap at %d,%d", other, p.Title, x, y)
						return
					}
					taken[cell{x, y}] = p.Title
				}
			}
		}
	})

	t.Run("every query parses (promtool check rules)", func(t *testing.T) {
		var rules []map[string]string
		for _, p := range panels {
			for _, tg := range p.Targets {
				expr := grafanaVariables.Replace(tg.Expr)
				if strings.Contains(expr, "$") {
					t.Errorf("panel %q query %s: a variable this test does not know: %s", p.Title, tg.RefID, tg.Expr)
				}
				rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:panel%d:%s", p.ID, tg.RefID), "expr": expr})
			}
		}
		b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "dashboard-queries.yml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out := runPromtool(t, dir, "check", "rules", "dashboard-queries.yml")
		if want := fmt.Sprintf("%d rules found", len(rules)); !strings.Contains(out, want) {
			t.Errorf("promtool: %s; want %q", out, want)
		}
	})
}

// TestMonitoringComposeWiring: Grafana reads the provisioning and the
// dashboard from this repository, read-only, opens on that dashboard, lets
// anonymous users view only, and its data source is the prometheus service.
func TestMonitoringComposeWiring(t *testing.T) {
	cf := loadCompose(t)
	graf, prom := cf.Services["grafana"], cf.Services["prometheus"]
	for _, tc := range []struct {
		name  string
		check func(t *testing.T)
	}{
		{"both in profile monitoring", func(t *testing.T) {
			for name, s := range map[string]composeService{"grafana": graf, "prometheus": prom} {
				if !slices.Equal(s.Profiles, []string{"monitoring"}) {
					t.Errorf("%s: profiles %q, want [monitoring]", name, s.Profiles)
				}
			}
		}},
		{"configuration mounted read-only", func(t *testing.T) {
			for name, s := range map[string]composeService{"grafana": graf, "prometheus": prom} {
				for _, v := range s.Volumes {
					src, rest, _ := strings.Cut(v, ":")
					if strings.HasPrefix(src, "./") && !strings.HasSuffix(rest, ":ro") {
						t.Errorf("%s: %q is not read-only", name, v)
					}
				}
			}
		}},
		{"provisioning directories mounted", func(t *testing.T) {
			for _, dir := range []string{grafanaDSDir, grafanaDashProv} {
				target := "/etc/grafana/provisioning/" + filepath.Base(dir)
				if got := hostPath(t, graf, target); got != dir {
					t.Errorf("%s is %q on the host, want %s", target, got, dir)
				}
			}
		}},
		{"home dashboard is the provisioned one", func(t *testing.T) {
			home := graf.env()["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
			if got := hostPath(t, graf, home); got != dashboardFile {
				t.Errorf("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=%s is %q on the host, want %s", home, got, dashboardFile)
			}
			var prov struct {
				Providers []struct {
					Options struct{ Path string } `yaml:"options"`
				} `yaml:"providers"`
			}
			files := repoFiles(t, grafanaDashProv, "*.yml")
			if len(files) != 1 {
				t.Fatalf("want one provider file in %s, got %v", grafanaDashProv, files)
			}
			loadYAML(t, files[0], &prov)
			if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != filepath.Dir(home) {
				t.Errorf("dashboard providers %+v, want one reading %s", prov.Providers, filepath.Dir(home))
			}
		}},
		{"anonymous users only view", func(t *testing.T) {
			env := graf.env()
			if env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" && env["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" {
				t.Errorf("anonymous role %q, want Viewer", env["GF_AUTH_ANONYMOUS_ORG_ROLE"])
			}
		}},
		{"data source is the prometheus service", func(t *testing.T) {
			_, url := provisionedDatasource(t)
			if url != "http://prometheus:9090" {
				t.Errorf("data source URL %q, want http://prometheus:9090", url)
			}
			if !slices.ContainsFunc(prom.Ports, func(p string) bool { return strings.HasSuffix(p, ":9090") }) {
				t.Errorf("prometheus ports %q: 9090 not published", prom.Ports)
			}
			if _, ok := graf.DependsOn["prometheus"]; !ok {
				t.Error("grafana does not depend on prometheus")
			}
		}},
	} {
		t.Run(tc.name, tc.check)
	}
}

// hostPath maps a path inside a service's container to the repository path
// mounted there ("" when no bind mount of the repository covers it).
func hostPath(t *testing.T, s composeService, inContainer string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], "./") {
			continue
		}
		src, dst := strings.TrimPrefix(parts[0], "./"), parts[1]
		if rel, ok := strings.CutPrefix(inContainer, dst); ok && (rel == "" || strings.HasPrefix(rel, "/")) {
			return strings.TrimSuffix(src+rel, "/")
		}
	}
	return ""
}

// TestMonitoringMetricsExported runs `enricher run`, `enricher sink redis`
// and `enricher sink http` on kfake, a real Redis and an HTTP endpoint,
// pushes content, events, a record of each kind that must be dead-lettered
// and a few endpoint failures through, and scrapes the three /metrics: every
// metric the dashboard or the alert rules read must be there, with every
// label their matchers name.
func TestMonitoringMetricsExported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the enricher and both sinks")
	}
	wanted := map[string][]string{}            // metric -> where it is read
	labels := map[string]map[string][]string{} // metric -> label matched on -> where
	for where, expr := range queryExprs(t) {
		sels, err := promqlSelectors(expr)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		for _, s := range sels {
			if prometheusSeries[s.name] {
				continue
			}
			wanted[s.name] = append(wanted[s.name], where)
			if labels[s.name] == nil {
				labels[s.name] = map[string][]string{}
			}
			for _, l := range s.labels {
				if l != "job" && l != "instance" { // Prometheus' target labels
					labels[s.name][l] = append(labels[s.name][l], where)
				}
			}
		}
	}

	urls, procs := startMetricsStack(t)
	var missing []string // metric, or metric{label}
	var got map[string]map[string]bool
	complete := func() bool {
		got = map[string]map[string]bool{}
		for _, u := range urls {
			for name, ls := range exportedSeries(u) {
				if got[name] == nil {
					got[name] = map[string]bool{}
				}
				for l := range ls {
					got[name][l] = true
				}
			}
		}
		missing = missing[:0]
		for name := range wanted {
			ls, ok := got[name]
			if !ok {
				missing = append(missing, name)
				continue
			}
			for l := range labels[name] {
				if !ls[l] {
					missing = append(missing, name+"{"+l+"}")
				}
			}
		}
		return len(missing) == 0
	}
	if !poll(t, 45*time.Second, complete, procs...) {
		sort.Strings(missing)
		for _, m := range missing {
			name, label, _ := strings.Cut(m, "{")
			where := wanted[name]
			if label != "" {
				where = labels[name][strings.TrimSuffix(label, "}")]
			}
			sort.Strings(where)
			t.Errorf("%s is read by %s but none of %v exports it", m, strings.Join(slices.Compact(where), "; "), urls)
		}
		return
	}
	names := make([]string, 0, len(wanted))
	for n := range wanted {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("all %d metrics the dashboard and the rules read are exported: %s", len(names), strings.Join(names, " "))
}

// startMetricsStack starts the three services the prometheus service
// scrapes and drives them until each has something of every kind to count;
// it returns their /metrics URLs.
func startMetricsStack(t *testing.T) ([]string, []*service) {
	t.Helper()
	redis := testredis.New(t) // skips the test when redis-server is missing
	enricherBinary(t)         // build before anything is started
	kc := testkafka.New(t)
	const (
		contentTopic = "thmanyah.public.content"
		eventsTopic  = "thmanyah.public.engagement_events"
		outputTopic  = "processed_engagements"
	)
	kc.Topic(contentTopic, 2, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 2, nil)
	kc.Topic("engagement_events.backfill", 1, nil)
	kc.Topic(outputTopic, 2, nil)
	kc.Topic("enricher.dlq", 1, nil)
	brokers := strings.Join(kc.Addrs(), ",")

	// The content view: three rows, and a record it cannot decode.
	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var ids []uuid.UUID
	var recs []*kgo.Record
	for i := range 3 {
		id := uuid.New()
		ids = append(ids, id)
		typ, length := "podcast", int32(1200)
		row := dbztest.Content{ID: id, Slug: fmt.Sprintf("slug-%d", i), Title: fmt.Sprintf("title %d", i),
			ContentType: &typ, LengthSeconds: &length, PublishTS: now.Add(-time.Hour)}
		recs = append(recs, &kgo.Record{Topic: contentTopic, Partition: int32(i % 2), Key: w.Key(dbztest.FormPlain, id),
			Value: w.Change(dbztest.FormPlain, 'c', &row, dbztest.Source{LSN: int64(1000 + i), TsMs: now.Add(-time.Minute).UnixMilli()})})
	}
	recs = append(recs, &kgo.Record{Topic: contentTopic, Partition: 1, Key: w.Key(dbztest.FormPlain, uuid.New()), Value: []byte(`{"payload":`)})
	kc.Produce(recs...)

	enricherAddr := testproc.FreeAddr(t)
	enricher := startService(t, "enricher run", "run", "--brokers", brokers, "--data-dir", t.TempDir(),
		"--http-addr", enricherAddr, "--join-wait", "300ms", "--log-level", "warn")
	waitFor(t, 30*time.Second, "the enricher's /readyz", func() bool { return httpStatus("http://"+enricherAddr+"/readyz") == 200 }, enricher)

	// Events: joins that hit, one that misses after the hold, one the
	// enricher cannot decode.
	recs = recs[:0]
	event := func(id int, content uuid.UUID) []byte {
		b, _ := json.Marshal(map[string]any{"id": id, "content_id": content.String(), "user_id": uuid.NewString(),
			"event_type": "play", "event_ts": time.Now().UnixMilli(), "duration_ms": 12340, "device": "ios"})
		return b
	}
	for i, id := range ids {
		recs = append(recs, &kgo.Record{Topic: eventsTopic, Partition: int32(i % 2), Key: []byte(strconv.Itoa(i + 1)), Value: event(i+1, id)})
	}
	recs = append(recs,
		&kgo.Record{Topic: eventsTopic, Partition: 0, Key: []byte("10"), Value: event(10, uuid.New())},
		&kgo.Record{Topic: eventsTopic, Partition: 1, Key: []byte("11"), Value: []byte(`{"id":11,"event_ts":`)},
		// Not an enriched record: both sinks dead-letter it.
		&kgo.Record{Topic: outputTopic, Partition: 0, Key: []byte("12"), Value: []byte("not avro")},
	)
	kc.Produce(recs...)

	// The HTTP endpoint fails the first POSTs: retries, and the breaker
	// opens (after 2) and closes again.
	var posts atomic.Int64
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if posts.Add(1) <= 3 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(endpoint.Close)

	redisAddr, httpAddr := testproc.FreeAddr(t), testproc.FreeAddr(t)
	sinkRedis := startService(t, "sink redis", "sink", "redis", "--brokers", brokers, "--redis-url", redis.URL(),
		"--http-addr", redisAddr, "--log-level", "warn")
	sinkHTTP := startService(t, "sink http", "sink", "http", "--brokers", brokers, "--url", endpoint.URL,
		"--http-addr", httpAddr, "--breaker-failures", "2", "--breaker-cooldown", "100ms", "--linger", "10ms", "--log-level", "warn")
	return []string{"http://" + enricherAddr + "/metrics", "http://" + redisAddr + "/metrics", "http://" + httpAddr + "/metrics"},
		[]*service{enricher, sinkRedis, sinkHTTP}
}

func httpStatus(url string) int {
	cl := &http.Client{Timeout: time.Second}
	res, err := cl.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

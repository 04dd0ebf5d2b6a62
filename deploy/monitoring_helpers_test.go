package deploy

// Helpers of monitoring_test.go: promtool, the metric names a PromQL
// expression selects, the files of deploy/monitoring parsed, and the
// binary's services run as subprocesses.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/thmanyah/enricher/internal/promq"
	"github.com/thmanyah/enricher/internal/testproc"
)

const (
	monitoringDir    = "deploy/monitoring"
	prometheusConfig = monitoringDir + "/prometheus/prometheus.yml"
	alertRules       = monitoringDir + "/prometheus/alerts.yml"
	alertRuleTests   = monitoringDir + "/prometheus/alerts_test.yml"
	grafanaDSDir     = monitoringDir + "/grafana/provisioning/datasources"
	grafanaDashProv  = monitoringDir + "/grafana/provisioning/dashboards"
	dashboardFile    = monitoringDir + "/grafana/dashboards/enricher.json"
)

// --- promtool ----------------------------------------------------------------

// promtool returns Prometheus' own checker: $PROMTOOL (e.g. one built from
// the module proxy at the version of the pinned image), else the one on
// PATH (Debian's prometheus package). The test is skipped without one.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install --no-install-recommends prometheus, or set $PROMTOOL)")
	}
	return p
}

// runPromtool runs promtool in dir and fails the test with its output when
// it fails.
func runPromtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// --- PromQL: the series an expression selects ----------------------------------

// selector is a vector selector of a PromQL expression: a metric name and
// the label names its matchers use.
type selector struct {
	name   string
	labels []string
}

// promqlNonMetric are the identifiers of PromQL that name no metric when
// they are not followed by "(": keywords, binary and set operators,
// modifiers, and the aggregations, which may be followed by by/without.
var promqlNonMetric = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "start": true, "end": true,
	"sum": true, "avg": true, "count": true, "min": true, "max": true, "group": true, "stddev": true,
	"stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true,
	"limitk": true, "limit_ratio": true,
}

// promqlLabelLists are the keywords followed by a parenthesised list of
// label names.
var promqlLabelLists = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// promqlSelectors returns the vector selectors of expr. It is a lexer, not
// a parser (the parser is in github.com/prometheus/prometheus, too large a
// dependency for this): promtool checks that expr parses; this finds which
// metrics it reads, which is all the metric checks need.
func promqlSelectors(expr string) ([]selector, error) {
	toks, err := promqlTokens(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		switch {
		case tok == "[":
			// A range or subquery: durations only.
			for i < len(toks) && toks[i] != "]" {
				i++
			}
		case isIdent(tok) && promqlLabelLists[tok] && next == "(":
			for i < len(toks) && toks[i] != ")" {
				i++
			}
		case isIdent(tok) && (next == "(" || promqlNonMetric[tok]):
			// A function call, an aggregation or a keyword.
		case isIdent(tok):
			sel := selector{name: tok}
			if next == "{" {
				labels, name, end, err := promqlMatchers(toks, i+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", tok, err)
				}
				if name != "" {
					return nil, fmt.Errorf("%s: a second metric name in __name__", tok)
				}
				sel.labels, i = labels, end
			}
			out = append(out, sel)
		case tok == "{":
			labels, name, end, err := promqlMatchers(toks, i)
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, fmt.Errorf("a selector without a metric name (or with a __name__ regexp): %s", strings.Join(toks[i:end+1], ""))
			}
			out = append(out, selector{name: name, labels: labels})
			i = end
		}
	}
	return out, nil
}

// promqlMatchers reads the matchers from toks[open] ("{") to its "}": the
// label names, the metric name of a __name__="..." matcher, and the index
// of "}".
func promqlMatchers(toks []string, open int) (labels []string, name string, end int, err error) {
	for i := open + 1; i < len(toks); i++ {
		switch tok := toks[i]; {
		case tok == "}":
			return labels, name, i, nil
		case tok == ",":
		case isIdent(tok) && i+2 < len(toks) && isMatchOp(toks[i+1]) && isString(toks[i+2]):
			if tok == "__name__" {
				if toks[i+1] != "=" {
					return nil, "", 0, fmt.Errorf("a __name__ matcher other than =")
				}
				name = unquote(toks[i+2])
			} else {
				labels = append(labels, tok)
			}
			i += 2
		default:
			return nil, "", 0, fmt.Errorf("unexpected %q in a label matcher", tok)
		}
	}
	return nil, "", 0, fmt.Errorf("unclosed {")
}

// promqlTokens splits expr into identifiers, numbers and durations, string
// literals (with their quotes), and operators.
func promqlTokens(expr string) ([]string, error) {
	var toks []string
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#': // a comment, to the end of the line
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r == '"' || r == '\'' || r == '`':
			j := i + 1
			for j < len(rs) && rs[j] != r {
				if rs[j] == '\\' && r != '`' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string in %q", expr)
			}
			toks = append(toks, string(rs[i:j+1]))
			i = j + 1
		case r == '_' || r == ':' || unicode.IsLetter(r):
			j := i
			for j < len(rs) && (rs[j] == '_' || rs[j] == ':' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			toks = append(toks, string(rs[i:j]))
			i = j
		case unicode.IsDigit(r) || r == '.':
			// 0.99, 1e3, 5m, 1h30m, 0x1f.
			j := i
			for j < len(rs) && (unicode.IsDigit(rs[j]) || unicode.IsLetter(rs[j]) || rs[j] == '.' ||
				((rs[j] == '+' || rs[j] == '-') && (rs[j-1] == 'e' || rs[j-1] == 'E'))) {
				j++
			}
			toks = append(toks, string(rs[i:j]))
			i = j
		default:
			// Two-rune operators first.
			if i+1 < len(rs) {
				if two := string(rs[i : i+2]); two == "=~" || two == "!~" || two == "!=" || two == "==" || two == ">=" || two == "<=" {
					toks = append(toks, two)
					i += 2
					continue
				}
			}
			toks = append(toks, string(r))
			i++
		}
	}
	return toks, nil
}

func isIdent(tok string) bool {
	r := []rune(tok)
	return len(r) > 0 && (r[0] == '_' || r[0] == ':' || unicode.IsLetter(r[0]))
}

func isMatchOp(tok string) bool { return tok == "=" || tok == "!=" || tok == "=~" || tok == "!~" }

func isString(tok string) bool {
	return len(tok) >= 2 && strings.ContainsRune(`"'`+"`", rune(tok[0])) && tok[len(tok)-1] == tok[0]
}

func unquote(tok string) string { return tok[1 : len(tok)-1] }

// grafanaVariables are the built-in variables the dashboard's queries may
// use, with a value of the kind Grafana substitutes.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "20s", "${__rate_interval}", "20s",
	"$__interval", "5s", "${__interval}", "5s",
	"$__range", "30m", "${__range}", "30m",
)

// --- deploy/monitoring, parsed ------------------------------------------------

type promConfig struct {
	Global struct {
		ScrapeInterval string `yaml:"scrape_interval"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type dashboard struct {
	UID           string           `json:"uid"`
	Title         string           `json:"title"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	ID         int              `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource *datasourceRef   `json:"datasource"`
	GridPos    gridPos          `json:"gridPos"`
	Targets    []panelTarget    `json:"targets"`
	Panels     []dashboardPanel `json:"panels"` // a collapsed row's
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct{ X, Y, W, H int }

type panelTarget struct {
	RefID        string         `json:"refId"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
	Datasource   *datasourceRef `json:"datasource"`
}

// loadYAML reads a repository file into v.
func loadYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(repoPath(name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// repoFiles returns the repository paths of the files in dir matching
// pattern.
func repoFiles(t *testing.T, dir, pattern string) []string {
	t.Helper()
	entries, err := os.ReadDir(repoPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if ok, _ := filepath.Match(pattern, e.Name()); ok && !e.IsDir() {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out
}

// loadDashboard reads the dashboard, rows' panels flattened in.
func loadDashboard(t *testing.T) (dashboard, []dashboardPanel) {
	t.Helper()
	b, err := os.ReadFile(repoPath(dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var flat []dashboardPanel
	for _, p := range d.Panels {
		flat = append(flat, p)
		flat = append(flat, p.Panels...)
	}
	return d, flat
}

// provisionedDatasource returns the uid and URL of the one provisioned data
// source.
func provisionedDatasource(t *testing.T) (uid, url string) {
	t.Helper()
	files := repoFiles(t, grafanaDSDir, "*.yml")
	if len(files) != 1 {
		t.Fatalf("want one data source file in %s, got %v", grafanaDSDir, files)
	}
	var f struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	loadYAML(t, files[0], &f)
	if len(f.Datasources) != 1 || f.Datasources[0].Type != "prometheus" || f.Datasources[0].UID == "" {
		t.Fatalf("%s: want one prometheus data source with a uid, got %+v", grafanaDSDir, f.Datasources)
	}
	return f.Datasources[0].UID, f.Datasources[0].URL
}

// queryExprs returns every PromQL expression of the dashboard and of the
// alert rules, by where it is.
func queryExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	_, panels := loadDashboard(t)
	for _, p := range panels {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("dashboard panel %q query %s", p.Title, tg.RefID)] = grafanaVariables.Replace(tg.Expr)
		}
	}
	var rf ruleFile
	loadYAML(t, alertRules, &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert+r.Record] = r.Expr
		}
	}
	return out
}

// --- the binary's services as subprocesses --------------------------------------

// service is an enricher subcommand running as a subprocess, stopped with
// SIGTERM (then SIGKILL) when the test ends.
type service struct {
	name string
	cmd  *exec.Cmd
	out  *testproc.Buffer
	done chan struct{}
}

func startService(t *testing.T, name string, args ...string) *service {
	t.Helper()
	cmd := exec.Command(enricherBinary(t), args...)
	// Only what a process needs: the developer's own KAFKA_BROKERS or
	// LOG_LEVEL must not change what is tested.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	s := &service{name: name, cmd: cmd, out: &testproc.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *service) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// poll polls cond until it holds (true) or the deadline passes (false); it
// fails the test when one of procs exits first, with its output.
func poll(t *testing.T, deadline time.Duration, cond func() bool, procs ...*service) bool {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("%s exited:\n%s", p.name, testproc.Tail(p.out.String(), 20))
			}
		}
		if time.Now().After(end) {
			for _, p := range procs {
				t.Logf("--- %s:\n%s", p.name, testproc.Tail(p.out.String(), 20))
			}
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// waitFor is poll that fails the test at the deadline.
func waitFor(t *testing.T, deadline time.Duration, what string, cond func() bool, procs ...*service) {
	t.Helper()
	if !poll(t, deadline, cond, procs...) {
		t.Fatalf("timed out after %v waiting for %s", deadline, what)
	}
}

// exportedSeries scrapes url and returns each series name Prometheus would
// store (a histogram's _bucket, _sum and _count) with the label names its
// series carry; nil when the scrape fails.
func exportedSeries(url string) map[string]map[string]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	mfs, err := promq.Scrape(ctx, url)
	if err != nil {
		return nil
	}
	out := map[string]map[string]bool{}
	add := func(name string, labels map[string]bool) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for l := range labels {
			out[name][l] = true
		}
	}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]bool{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = true
			}
			switch {
			case m.GetHistogram() != nil:
				add(name+"_sum", labels)
				add(name+"_count", labels)
				labels["le"] = true
				add(name+"_bucket", labels)
			case m.GetSummary() != nil:
				add(name+"_sum", labels)
				add(name+"_count", labels)
				labels["quantile"] = true
				add(name, labels)
			default:
				add(name, labels)
			}
		}
	}
	return out
}

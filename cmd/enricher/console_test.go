package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/thmanyah/enricher/httpapi"
	"github.com/thmanyah/enricher/internal/dbztest"
	"github.com/thmanyah/enricher/internal/testkafka"
	"github.com/thmanyah/enricher/internal/testredis"
)

var updateScreenshot = flag.Bool("update", false, "rewrite docs/console.png from the console test")

// chromiumPath finds a Chromium or Chrome binary: $CHROMIUM, then $PATH.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is a headless Chromium tab on the console, stopped when the test ends.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
	// dialogs counts JavaScript dialogs opened: a hostile title that ran as
	// HTML would open one (alert).
	dialogs chan string
	// exceptions are the page's uncaught JavaScript exceptions.
	exceptions chan string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		t.Skip("skipping: no chromium binary (apt-get install -y --no-install-recommends chromium, or set $CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.NoSandbox, // as root Chromium refuses to start with its sandbox
		chromedp.WindowSize(1400, 1000), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base, dir: os.Getenv("ENRICHER_ARTIFACTS"), dialogs: make(chan string, 8), exceptions: make(chan string, 64)}
	if b.dir == "" {
		b.dir = t.TempDir()
	}
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.dialogs <- ev.Message
			go func() {
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		case *runtime.EventExceptionThrown:
			select {
			case b.exceptions <- describeException(ev.ExceptionDetails):
			default:
			}
		}
	}))
	b.ctx = ctx
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// UTC, so the as-of picker's local time is the test's UTC time. The
	// first call starts the browser: no timeout on it (it would end the browser).
	utc := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"})
		if err != nil {
			return err
		}
		// Records what the Content-Security-Policy blocks (an inline style
		// or script, a CDN): the console must work within it, and a blocked
		// resource fails no selector. Scripts added this way run outside
		// the page's CSP, before its own.
		_, err = cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder})
		return err
	})
	if err := chromedp.Do(ctx, utc, chromedp.Navigate(base+"/#/overview")); err != nil {
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	return b
}

const cspRecorder = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));`

// cspViolations returns what the page's Content-Security-Policy blocked.
func (b *browser) cspViolations() []string {
	b.t.Helper()
	return eval[[]string](b, `window.__cspViolations || ["the CSP recorder did not run"]`)
}

func describeException(d *runtime.ExceptionDetails) string {
	msg := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		msg += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg)
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage: %s", what, err, b.text())
	}
}

// text is the page's visible text, for failure messages.
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// eval returns what the expression gives.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage: %s", js, err, b.text())
	}
	return v
}

// until polls the expression until it is true, or fails with the page's text.
func (b *browser) until(deadline time.Duration, what, js string) {
	b.t.Helper()
	end := time.Now().Add(deadline)
	for {
		if eval[bool](b, js) {
			return
		}
		if time.Now().After(end) {
			b.t.Fatalf("waited %v for %s (%s)\npage: %s", deadline, what, js, b.text())
		}
		time.Sleep(100 * time.Millisecond) // a poll interval, not synchronisation
	}
}

func (b *browser) open(hash string) {
	b.t.Helper()
	eval[string](b, `location.hash = `+strconv.Quote(hash))
}

func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "console-"+name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return png
}

// TestConsole drives the console in a real headless Chromium against the
// service on kfake with content, engagement events, a malformed event (the
// service dead-letters it) and a Redis top list.
func TestConsole(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("skipping: no chromium binary (apt-get install -y --no-install-recommends chromium, or set $CHROMIUM)")
	}
	kc := testkafka.New(t)
	kc.Topic(contentTopic, 3, map[string]string{"cleanup.policy": "compact"})
	kc.Topic(eventsTopic, 3, nil)
	kc.Topic(backfillTopic, 1, nil)
	kc.Topic(outputTopic, 3, nil)
	rs := testredis.New(t)

	w, err := dbztest.New()
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	t2 := t1.Add(10 * time.Minute)
	lsn := int64(1000)
	put := func(id uuid.UUID, op byte, slug, title string, ts time.Time) *kgo.Record {
		lsn += 8
		c := &dbztest.Content{ID: id, Slug: slug, Title: title, PublishTS: t1}
		return &kgo.Record{Topic: contentTopic, Partition: partitionOf(id), Key: w.Key(dbztest.FormPlain, id),
			Value: w.Change(dbztest.FormPlain, op, c, dbztest.Source{LSN: lsn, TsMs: ts.UnixMilli(), TxID: lsn / 8})}
	}
	rowA, rowB, hostile := uuid.New(), uuid.New(), uuid.New()
	const hostileTitle = `<img src=x onerror=alert(1)>`
	recs := []*kgo.Record{
		put(rowA, 'c', "console-first", "Console first title", t1),
		put(rowB, 'c', "console-other", "Console other row", t1),
		put(hostile, 'c', "xss-row", hostileTitle, t1),
	}
	for i := range 40 {
		recs = append(recs, put(uuid.New(), 'c', fmt.Sprintf("bulk-%02d", i), fmt.Sprintf("Bulk row %d", i), t1))
	}
	recs = append(recs, put(rowA, 'u', "console-first", "Console second title", t2))
	kc.Produce(recs...)

	cfg := testConfig(kc.Addrs(), t.TempDir())
	cfg.ConsoleRedisURL = rs.URL()
	tm := startMain(t, cfg)
	tm.waitReady(30 * time.Second)

	nextEvent := int64(0)
	events := func(n int) {
		var rs []*kgo.Record
		for range n {
			nextEvent++
			rs = append(rs, &kgo.Record{Topic: eventsTopic, Partition: int32(nextEvent % 3), Key: []byte(strconv.FormatInt(nextEvent, 10)),
				Value: plainEvent(nextEvent, &rowA, time.Now(), i32(1500))})
		}
		kc.Produce(rs...)
	}
	events(5)
	// A malformed engagement event: the service dead-letters it.
	kc.Produce(&kgo.Record{Topic: eventsTopic, Partition: 1, Key: []byte("bad-1"), Value: []byte(`{not json: console-dlq-marker`)})
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.ZAdd(context.Background(), "engagement:top:10m", redis.Z{Member: rowA.String(), Score: 42.5},
		redis.Z{Member: hostile.String(), Score: 7}).Err(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	b := newBrowser(t, "http://"+tm.HTTPAddr())

	t.Run("overview: ready and lag per partition", func(t *testing.T) {
		b.t = t
		b.until(10*time.Second, "the ready state", `document.querySelector('#ov-ready[data-ready="true"]') !== null`)
		b.until(10*time.Second, "a lag row per content partition",
			`document.querySelectorAll('#ov-content-lag tr[data-topic="`+contentTopic+`"]').length === 3`)
		b.until(20*time.Second, "the engagement consumer's partitions",
			`document.querySelectorAll('#ov-engagement-lag tr[data-topic="`+eventsTopic+`"]').length === 3`)
		if got := eval[string](b, `document.getElementById('ready-badge').textContent`); got != "ready" {
			t.Errorf("ready badge: got %q, want ready", got)
		}
	})

	t.Run("overview: the charts move as events flow", func(t *testing.T) {
		b.t = t
		before := eval[string](b, `document.querySelector('#kpi-in b').textContent`)
		points := eval[int](b, `Number(document.getElementById('chart-rates').dataset.points || 0)`)
		events(50)
		b.until(20*time.Second, "the in counter to grow",
			`document.querySelector('#kpi-in b').textContent !== `+strconv.Quote(before))
		b.until(10*time.Second, "the rate chart to show traffic",
			`Number(document.getElementById('chart-rates').dataset.nonzero || 0) > 0 && `+
				`Number(document.getElementById('chart-rates').dataset.points) > `+strconv.Itoa(points))
		if n := eval[int](b, `document.querySelectorAll('#chart-rates canvas').length`); n == 0 {
			t.Errorf("rate chart: got no canvas, want uPlot's")
		}
		// The events just sent are in the latency window, which the line
		// names, next to the figures since start.
		b.until(10*time.Second, "the latency of the window", `document.querySelector('#kpi-p50 b').textContent.endsWith(' ms') && `+
			`/over the last [\dhms.]+; [1-9][\d,]* events in that time\. Since start: p50 [\d.,]+ ms/.test(document.getElementById('ov-latency').textContent)`)
		if *updateScreenshot { // the README's picture: a few seconds of traffic
			for range 20 {
				events(40)
				time.Sleep(time.Second) // paces the traffic, not synchronisation
			}
		}
		png := b.screenshot("overview")
		if *updateScreenshot {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "console.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("content: search", func(t *testing.T) {
		b.t = t
		b.open("#/content")
		b.until(5*time.Second, "the search box", `document.getElementById('content-q') !== null`)
		b.run("search", chromedp.SetValue(chromedp.ID("content-q"), "console"), chromedp.Click(chromedp.ID("content-go")))
		b.until(5*time.Second, "the search's rows", `location.hash.includes('q=console') && document.querySelector('#content-results table, #content-results .error') !== null`)
		got := eval[[]string](b, `[...document.querySelectorAll('#content-results tr[data-id]')].map(r => r.dataset.id)`)
		want := []string{rowA.String(), rowB.String()}
		if rowB.String() < rowA.String() {
			want = []string{rowB.String(), rowA.String()}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("rows for q=console: got %v, want %v in id order\npage: %s", got, want, b.text())
		}
		b.screenshot("content")
	})

	t.Run("content: history timeline and as-of", func(t *testing.T) {
		b.t = t
		b.open("#/content/" + rowA.String())
		b.until(5*time.Second, "the history timeline", `document.querySelectorAll('#timeline li').length > 0 || document.querySelector('#row-history .error') !== null`)
		titles := eval[[]string](b, `[...document.querySelectorAll('#timeline li .title')].map(e => e.textContent)`)
		if strings.Join(titles, "|") != "Console first title|Console second title" {
			t.Fatalf("timeline: got %q, want both versions oldest first\npage: %s", titles, b.text())
		}
		// Between the two versions: the picker holds local time, UTC here.
		// Chromium shortens a value (no zero seconds or trailing zeros): use all digits.
		asOf := t1.Add(5*time.Minute + 30123*time.Millisecond)
		b.run("pick a time", chromedp.SetValue(chromedp.ID("asof-input"), asOf.Format("2006-01-02T15:04:05.000")),
			chromedp.Click(chromedp.ID("asof-go")))
		b.until(5*time.Second, "the as-of answer", `document.querySelector('#asof-result dd[data-field="title"], #asof-result .error') !== null`)
		if got := eval[string](b, `document.querySelector('#asof-result dd[data-field="title"]')?.textContent ?? ''`); got != "Console first title" {
			t.Errorf("as of %s: got title %q, want the older version's\npage: %s", asOf, got, b.text())
		}
		b.screenshot("row")
	})

	t.Run("dlq: the malformed event", func(t *testing.T) {
		b.t = t
		// The page reads the DLQ once per visit: visit again until the record is there.
		shown := `[...document.querySelectorAll('#dlq-results tr[data-offset]')].some(r => r.textContent.includes('` + eventsTopic + `'))`
		for try := 0; ; try++ {
			b.open("#/dlq?visit=" + strconv.Itoa(try))
			b.until(10*time.Second, "the DLQ page's answer", `document.querySelector('#dlq-results table, #dlq-empty, #dlq-results .error') !== null`)
			if eval[bool](b, shown) {
				break
			}
			if try == 20 {
				t.Fatalf("the DLQ page never showed the malformed event\npage: %s", b.text())
			}
			time.Sleep(500 * time.Millisecond) // between visits, not synchronisation
		}
		eval[bool](b, `([...document.querySelectorAll('#dlq-results tr[data-offset]')]
			.find(r => r.textContent.includes('`+eventsTopic+`')).click(), true)`)
		b.until(5*time.Second, "the payload preview", `(document.getElementById('dlq-payload')?.textContent ?? '').includes('console-dlq-marker')`)
		b.screenshot("dlq")
	})

	t.Run("top content from redis", func(t *testing.T) {
		b.t = t
		b.open("#/top")
		b.until(10*time.Second, "the top list", `document.querySelector('#top-results table, #top-results .error') !== null`)
		got := eval[[]string](b, `[...document.querySelectorAll('#top-results td.title')].map(e => e.textContent)`)
		if strings.Join(got, "|") != "Console second title|"+hostileTitle {
			t.Errorf("top titles: got %q, want rowA's then the hostile one, as text\npage: %s", got, b.text())
		}
		b.screenshot("top")
	})

	t.Run("a hostile title renders as text", func(t *testing.T) {
		b.t = t
		b.open("#/content/" + hostile.String())
		b.until(5*time.Second, "the row", `document.querySelector('#row-current dd[data-field="title"]') !== null`)
		if got := eval[string](b, `document.querySelector('#row-current dd[data-field="title"]').textContent`); got != hostileTitle {
			t.Errorf("title: got %q, want %q as text", got, hostileTitle)
		}
		if n := eval[int](b, `document.querySelectorAll('main img').length`); n != 0 {
			t.Errorf("got %d img elements in the page, want none: the title was parsed as HTML", n)
		}
		select {
		case msg := <-b.dialogs:
			t.Errorf("a dialog opened (%q): the title ran as script", msg)
		default:
		}
	})
	b.t = t
	close(b.exceptions)
	for e := range b.exceptions {
		t.Errorf("uncaught exception in the page: %s", e)
	}
	for _, v := range b.cspViolations() {
		t.Errorf("Content-Security-Policy violation: %s", v)
	}
	t.Logf("browser part took %v; screenshots in %s", time.Since(start).Round(time.Millisecond), b.dir)
}

// TestConsoleWiring: --console-redis-url is checked when the service is
// built, and an Error-level entry the service logs reaches /debug/overview
// through the ring teed into its logger (Warn and below do not).
func TestConsoleWiring(t *testing.T) {
	kc := testkafka.New(t)
	cfg := testConfig(kc.Addrs(), t.TempDir())
	cfg.ConsoleRedisURL = "http://not-redis:6379"
	if _, err := NewMain(cfg, nil); err == nil || !strings.Contains(err.Error(), "console-redis-url") {
		t.Errorf("NewMain with an http:// Redis URL: got %v, want an error naming --console-redis-url", err)
	}

	cfg.ConsoleRedisURL = ""
	m, err := NewMain(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.log.Named("cdc").Warn("a warning is not an error")
	m.log.Named("cdc").Error("apply batch", zap.Error(errors.New("disk full")))
	srv := httptest.NewServer(m.server.Handler)
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL + "/debug/overview")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var o struct {
		Errors []httpapi.ErrorEntry `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	if len(o.Errors) != 1 || o.Errors[0].Message != "apply batch" || o.Errors[0].Logger != "cdc" || o.Errors[0].Fields["error"] != "disk full" {
		t.Errorf("errors: got %+v, want the one Error entry with its logger and error", o.Errors)
	}
}

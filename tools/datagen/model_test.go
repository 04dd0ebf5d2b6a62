package datagen

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"
)

var testBase = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// fingerprint runs a model through a fixed script (catalogue, events with
// changes every 100 events) and hashes what it produced.
func fingerprint(seed uint64) (catalogue, sequence [32]byte) {
	m := newModel(seed, testBase)
	h := sha256.New()
	for range 200 {
		fmt.Fprintf(h, "%+v\n", m.newContent())
	}
	copy(catalogue[:], h.Sum(nil))
	h.Reset()
	for i := range 5000 {
		if i%100 == 0 {
			fmt.Fprintf(h, "%+v\n", m.nextChange())
		}
		fmt.Fprintf(h, "%+v\n", m.nextEvent())
	}
	copy(sequence[:], h.Sum(nil))
	return catalogue, sequence
}

func TestDeterminism(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   uint64
		wantEq bool
	}{
		{"same seed", 7, 7, true},
		{"same seed zero", 0, 0, true},
		{"different seed", 7, 8, false},
		{"seed zero and one", 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, sa := fingerprint(tc.a)
			cb, sb := fingerprint(tc.b)
			if got := ca == cb; got != tc.wantEq {
				t.Errorf("catalogues equal: got %v, want %v", got, tc.wantEq)
			}
			if got := sa == sb; got != tc.wantEq {
				t.Errorf("event sequences equal: got %v, want %v", got, tc.wantEq)
			}
		})
	}
}

// The event sequence must not depend on how events are batched, nor on
// content the generator adopted in a different order.
func TestDeterminismAdoptOrder(t *testing.T) {
	src := newModel(1, testBase)
	var rows []row
	for range 50 {
		rows = append(rows, src.newContent())
	}
	rev := make([]row, len(rows))
	for i, r := range rows {
		rev[len(rows)-1-i] = r
	}
	a, b := newModel(3, testBase), newModel(3, testBase)
	a.adopt(rows)
	b.adopt(rev)
	for i := range 1000 {
		if ea, eb := a.nextEvent(), b.nextEvent(); fmt.Sprint(ea) != fmt.Sprint(eb) {
			t.Fatalf("event %d: got %+v and %+v from the same rows in another order", i, ea, eb)
		}
	}
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func hasArabic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Arabic, r) {
			return true
		}
	}
	return false
}

func TestContentDistributions(t *testing.T) {
	const n = 10000
	m := newModel(42, testBase)
	byType := map[string]int{}
	nullLen, arabic, english := 0, 0, 0
	slugs := map[string]bool{}
	for range n {
		c := m.newContent()
		if slugs[c.Slug] || !slugRE.MatchString(c.Slug) {
			t.Fatalf("slug %q repeated or not a slug", c.Slug)
		}
		slugs[c.Slug] = true
		if c.ID.Version() != 4 || c.ID.Variant() != uuid.RFC4122 {
			t.Fatalf("id %s is not a random UUID", c.ID)
		}
		if !c.Type.Valid {
			t.Fatalf("content %s without type", c.ID)
		}
		byType[c.Type.String]++
		if !c.Length.Valid {
			nullLen++
		} else if lr := lengthRange[c.Type.String]; float64(c.Length.Int32) < lr[0] || float64(c.Length.Int32) > lr[1] {
			t.Errorf("%s length %d s outside [%v, %v]", c.Type.String, c.Length.Int32, lr[0], lr[1])
		}
		if c.PublishTS.After(testBase) || c.PublishTS.Before(testBase.Add(-publishWindow)) {
			t.Errorf("publish_ts %v outside the window before %v", c.PublishTS, testBase)
		}
		if hasArabic(c.Title) {
			arabic++
		} else {
			english++
		}
	}
	for _, tc := range []struct {
		name      string
		got       int
		low, high float64
	}{
		{"podcast", byType[typePodcast], 0.47, 0.53},
		{"newsletter", byType[typeNewsletter], 0.22, 0.28},
		{"video", byType[typeVideo], 0.22, 0.28},
		{"null length", nullLen, 0.04, 0.06},
		{"title with Arabic", arabic, 0.70, 0.80},
		{"English title", english, 0.20, 0.30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f := float64(tc.got) / n; f < tc.low || f > tc.high {
				t.Errorf("fraction %.3f, want within [%.2f, %.2f]", f, tc.low, tc.high)
			}
		})
	}
}

func TestEventDistributions(t *testing.T) {
	const n = 50000
	m := newModel(42, testBase)
	for range 300 {
		m.newContent()
	}
	rows := map[uuid.UUID]row{}
	for _, it := range m.live {
		rows[it.row.ID] = it.row
	}
	byType, byDevice, userSeen := map[string]int{}, map[string]int{}, map[uuid.UUID]bool{}
	nullDur, nonClick, nullClickN, clicks := 0, 0, 0, 0
	for range n {
		e := m.nextEvent()
		c, ok := rows[e.ContentID]
		if !ok {
			t.Fatalf("event for unknown content %s", e.ContentID)
		}
		byType[e.Type]++
		byDevice[e.Device]++
		userSeen[e.UserID] = true
		if e.Type == "click" {
			clicks++
			if !e.Duration.Valid {
				nullClickN++
			} else if e.Duration.Int32 < 100 || e.Duration.Int32 > 5000 {
				t.Errorf("click duration %d ms, want 100–5000", e.Duration.Int32)
			}
		} else {
			nonClick++
			if !e.Duration.Valid {
				nullDur++
			}
		}
		if e.Duration.Valid && c.Length.Valid && e.Type != "click" {
			l := int64(c.Length.Int32) * 1000
			d := int64(e.Duration.Int32)
			if d < 0 || d > l {
				t.Errorf("%s duration %d ms outside [0, %d]", e.Type, d, l)
			}
			if e.Type == "finish" && d < l*85/100 {
				t.Errorf("finish duration %d ms below 85%% of %d", d, l)
			}
		}
		var p struct {
			AppVersion string `json:"app_version"`
			Network    string `json:"network"`
			PositionMs *int64 `json:"position_ms"`
		}
		if err := json.Unmarshal(e.Payload, &p); err != nil || p.AppVersion == "" || p.Network == "" || p.PositionMs == nil {
			t.Fatalf("payload %s: %v", e.Payload, err)
		}
		if c.Length.Valid && *p.PositionMs > int64(c.Length.Int32)*1000 {
			t.Errorf("position %d ms past the end of %d s", *p.PositionMs, c.Length.Int32)
		}
		if e.Lag < 0 || e.Lag > maxLag {
			t.Errorf("lag %v outside [0, %v]", e.Lag, maxLag)
		}
	}
	if len(userSeen) > users || len(userSeen) < users/2 {
		t.Errorf("got %d distinct users, want between %d and %d", len(userSeen), users/2, users)
	}
	for _, tc := range []struct {
		name      string
		got, of   int
		low, high float64
	}{
		{"play", byType["play"], n, 0.30, 0.42},
		{"pause", byType["pause"], n, 0.18, 0.28},
		{"finish", byType["finish"], n, 0.13, 0.19},
		{"click", byType["click"], n, 0.18, 0.30},
		{"ios", byDevice["ios"], n, 0.33, 0.43},
		{"android", byDevice["android"], n, 0.29, 0.39},
		{"web", byDevice["web"], n, 0.16, 0.24},
		{"tv", byDevice["tv"], n, 0.05, 0.11},
		{"null duration of play/pause/finish", nullDur, nonClick, 0.02, 0.04},
		{"null duration of click", nullClickN, clicks, 0.26, 0.34},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f := float64(tc.got) / float64(tc.of); f < tc.low || f > tc.high {
				t.Errorf("fraction %.3f, want within [%.2f, %.2f]", f, tc.low, tc.high)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	const size = 100
	m := newModel(9, testBase)
	live := map[uuid.UUID]row{}
	for range size {
		c := m.newContent()
		live[c.ID] = c
	}
	slugs := map[string]bool{}
	for _, c := range live {
		slugs[c.Slug] = true
	}
	counts := map[op]int{}
	for i := range 2000 {
		for _, c := range m.nextChange() {
			counts[c.Op]++
			switch c.Op {
			case opCreate:
				if slugs[c.Row.Slug] {
					t.Fatalf("replacement reuses slug %q", c.Row.Slug)
				}
				slugs[c.Row.Slug] = true
				live[c.Row.ID] = c.Row
			case opUpdate:
				old, ok := live[c.Row.ID]
				switch {
				case !ok:
					t.Fatalf("update of content %s that is not live", c.Row.ID)
				case old.Slug != c.Row.Slug || old.PublishTS != c.Row.PublishTS || old.Type != c.Row.Type:
					t.Errorf("update changed more than title and length: %+v -> %+v", old, c.Row)
				}
				live[c.Row.ID] = c.Row
			case opDelete:
				if _, ok := live[c.Row.ID]; !ok {
					t.Fatalf("delete of content %s that is not live", c.Row.ID)
				}
				delete(live, c.Row.ID)
			}
		}
		if len(live) != size || m.size() != size {
			t.Fatalf("after change %d: %d live rows (model %d), want %d", i, len(live), m.size(), size)
		}
		for range 5 {
			if e := m.nextEvent(); live[e.ContentID].ID != e.ContentID {
				t.Fatalf("event for content %s that is not live", e.ContentID)
			}
		}
	}
	upd := float64(counts[opUpdate]) / 2000
	if upd < 0.75 || upd > 0.85 || counts[opDelete] != counts[opCreate] {
		t.Errorf("got %v; want ~80%% updates and one create per delete", counts)
	}
}

func TestTitles(t *testing.T) {
	m := newModel(5, testBase)
	seen := map[string]bool{}
	for range 2000 {
		c := m.newContent()
		switch {
		case strings.HasPrefix(c.Title, "فنجان: "):
			seen["fnjan arabic"] = true
		case hasArabic(c.Title) && strings.ContainsAny(c.Title, "abcdefghijklmnopqrstuvwxyz"):
			seen["mixed"] = true
		case !hasArabic(c.Title) && strings.Contains(c.Title, " #"):
			seen["english with episode"] = true
		}
	}
	for _, want := range []string{"fnjan arabic", "mixed", "english with episode"} {
		if !seen[want] {
			t.Errorf("no %s title in 2000", want)
		}
	}
}

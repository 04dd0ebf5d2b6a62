package datagen

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// row is one content row.
type row struct {
	ID          uuid.UUID
	Slug, Title string
	Type        sql.NullString
	Length      sql.NullInt32 // seconds
	PublishTS   time.Time
}

// op is what a change does to a content row.
type op byte

const (
	opCreate op = 'c'
	opUpdate op = 'u'
	opDelete op = 'd'
)

type change struct {
	Op  op
	Row row // for opDelete only Row.ID matters
}

// event is one engagement event without the parts taken from the clock
// (its id in Kafka mode and its timestamp).
type event struct {
	ContentID uuid.UUID
	UserID    uuid.UUID
	Type      string
	Duration  sql.NullInt32 // milliseconds
	Device    string
	Payload   []byte        // JSON object
	Lag       time.Duration // event_ts = generation time - Lag
}

// Shape of the model; doc.go states the same figures.
const (
	users          = 5000
	publishWindow  = 180 * 24 * time.Hour
	nullLength     = 0.05
	nullDuration   = 0.03 // play, pause, finish
	nullClick      = 0.30
	updateShare    = 0.80 // of UpdateRate; the rest are deletes (each replaced)
	primaryDevice  = 0.85 // a user's events from their usual device
	maxLag         = 5 * time.Second
	meanLagSeconds = 0.3
)

var (
	typeWeights = []float64{0.50, 0.25, 0.25} // podcast, newsletter, video
	typeNames   = []string{typePodcast, typeNewsletter, typeVideo}
	// Length range in seconds and the median of its log-normal, per type.
	lengthRange = map[string][3]float64{
		typePodcast:    {20 * 60, 120 * 60, 55 * 60},
		typeVideo:      {2 * 60, 40 * 60, 9 * 60},
		typeNewsletter: {3 * 60, 15 * 60, 6 * 60},
	}
	eventTypes = []string{"play", "pause", "finish", "click"}
	eventMix   = map[string][]float64{ // play, pause, finish, click
		typePodcast:    {0.40, 0.27, 0.15, 0.18},
		typeVideo:      {0.40, 0.27, 0.15, 0.18},
		typeNewsletter: {0.25, 0.10, 0.20, 0.45}, // play = opened, finish = read to the end
		"":             {0.40, 0.27, 0.15, 0.18},
	}
	deviceWeights = []float64{0.38, 0.34, 0.20, 0.08} // ios, android, web, tv
)

type item struct {
	row    row
	weight float64 // popularity
	show   show
	topic  topic
	ep     int
}

type user struct {
	id     uuid.UUID
	device int
}

// model is the deterministic heart of the generator: a catalogue of live
// content, a pool of users, and three random streams (content, events,
// changes), so that the event sequence does not depend on when changes
// happen to be interleaved with it.
type model struct {
	crng, erng, urng *rand.Rand
	base             time.Time
	users            []user
	live             []item
	index            map[uuid.UUID]int
	cum              []float64 // prefix sums of weights; nil when stale
	slugs            map[string]bool
	episodes         map[string]int
}

// newModel returns an empty model. publish_ts values lie in the
// publishWindow before base.
func newModel(seed uint64, base time.Time) *model {
	m := &model{
		crng:     rand.New(rand.NewPCG(seed, 0x636f6e74656e74)), // "content"
		erng:     rand.New(rand.NewPCG(seed, 0x6576656e7473)),   // "events"
		urng:     rand.New(rand.NewPCG(seed, 0x757064617465)),   // "update"
		base:     base.UTC(),
		index:    map[uuid.UUID]int{},
		slugs:    map[string]bool{},
		episodes: map[string]int{},
	}
	ur := rand.New(rand.NewPCG(seed, 0x7573657273)) // "users"
	m.users = make([]user, users)
	for i := range m.users {
		m.users[i] = user{id: randUUID(ur), device: pick(ur, deviceWeights)}
	}
	return m
}

func randUUID(r *rand.Rand) uuid.UUID {
	var u uuid.UUID
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// pick returns an index drawn with the given weights (summing to ~1).
func pick(r *rand.Rand, weights []float64) int {
	x := r.Float64()
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func (m *model) size() int { return len(m.live) }

func (m *model) add(it item) {
	m.index[it.row.ID] = len(m.live)
	m.live = append(m.live, it)
	m.slugs[it.row.Slug] = true
	m.cum = nil
}

func (m *model) remove(i int) row {
	old := m.live[i].row
	last := len(m.live) - 1
	m.live[i] = m.live[last]
	m.index[m.live[i].row.ID] = i
	m.live = m.live[:last]
	delete(m.index, old.ID)
	m.cum = nil
	return old
}

// adopt makes rows that already exist (in Postgres) part of the catalogue.
func (m *model) adopt(rows []row) {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b row) int { return slices.Compare(a.ID[:], b.ID[:]) })
	for _, r := range rows {
		if _, dup := m.index[r.ID]; dup {
			continue
		}
		typ := r.Type.String
		if _, ok := shows[typ]; !ok {
			typ = typePodcast
		}
		sh := shows[typ][m.crng.IntN(len(shows[typ]))]
		m.add(item{row: r, weight: m.popularity(), show: sh, topic: topics[m.crng.IntN(len(topics))], ep: 1 + m.crng.IntN(400)})
	}
}

func (m *model) popularity() float64 { return math.Exp(1.2 * m.crng.NormFloat64()) }

// sampleLength draws a length in seconds for a content type.
func sampleLength(r *rand.Rand, typ string) int32 {
	lr, ok := lengthRange[typ]
	if !ok {
		lr = lengthRange[typePodcast]
	}
	s := lr[2] * math.Exp(0.45*r.NormFloat64())
	return int32(math.Round(min(max(s, lr[0]), lr[1])))
}

func (m *model) episode(sh show) int {
	ep, ok := m.episodes[sh.slug]
	if !ok {
		ep = m.crng.IntN(400)
	}
	ep++
	m.episodes[sh.slug] = ep
	return ep
}

func title(r *rand.Rand, sh show, ep int, tp topic) string {
	switch x := r.Float64(); {
	case x < 0.55:
		return sh.ar + ": " + tp.ar
	case x < 0.80:
		return sh.en + " #" + strconv.Itoa(ep) + ": " + tp.en
	case x < 0.90:
		return sh.ar + ": " + tp.en
	default:
		return tp.ar + " | " + sh.en + " " + strconv.Itoa(ep)
	}
}

// newContent creates a content row and makes it live.
func (m *model) newContent() row {
	r := m.crng
	typ := typeNames[pick(r, typeWeights)]
	sh := shows[typ][r.IntN(len(shows[typ]))]
	tp := topics[r.IntN(len(topics))]
	ep := m.episode(sh)
	slug := fmt.Sprintf("%s-%d-%s", sh.slug, ep, tp.slug)
	for m.slugs[slug] {
		ep = m.episode(sh)
		slug = fmt.Sprintf("%s-%d-%s", sh.slug, ep, tp.slug)
	}
	id := randUUID(r)
	for _, dup := m.index[id]; dup; _, dup = m.index[id] {
		id = randUUID(r)
	}
	c := row{ID: id, Slug: slug, Title: title(r, sh, ep, tp), Type: sql.NullString{String: typ, Valid: true}}
	if r.Float64() >= nullLength {
		c.Length = sql.NullInt32{Int32: sampleLength(r, typ), Valid: true}
	}
	c.PublishTS = m.base.Add(-time.Duration(r.Int64N(int64(publishWindow/time.Second))) * time.Second)
	m.add(item{row: c, weight: m.popularity(), show: sh, topic: tp, ep: ep})
	return c
}

// nextChange draws one content change: an update of the title or the
// length, or a delete followed by the create of its replacement.
func (m *model) nextChange() []change {
	r := m.urng
	if len(m.live) == 0 {
		return []change{{opCreate, m.newContent()}}
	}
	i := r.IntN(len(m.live))
	if r.Float64() >= updateShare {
		old := m.remove(i)
		return []change{{opDelete, old}, {opCreate, m.newContent()}}
	}
	it := &m.live[i]
	c := &it.row
	if r.IntN(2) == 0 || !c.Length.Valid {
		if !c.Length.Valid {
			c.Length = sql.NullInt32{Int32: sampleLength(r, c.Type.String), Valid: true}
		} else {
			lr, ok := lengthRange[c.Type.String]
			if !ok {
				lr = [3]float64{60, math.MaxInt32, 0}
			}
			s := float64(c.Length.Int32) * (0.85 + 0.3*r.Float64())
			c.Length.Int32 = int32(math.Round(min(max(s, lr[0]), lr[1])))
		}
	} else { // the same episode retitled: another language or form
		t := title(r, it.show, it.ep, it.topic)
		for try := 0; t == c.Title && try < 8; try++ {
			t = title(r, it.show, it.ep, it.topic)
		}
		if t == c.Title {
			t = it.show.en + " #" + strconv.Itoa(it.ep) + " (updated): " + it.topic.en
		}
		c.Title = t
	}
	return []change{{opUpdate, *c}}
}

// pickContent draws a live item by popularity.
func (m *model) pickContent() *item {
	if m.cum == nil {
		m.cum = make([]float64, len(m.live))
		s := 0.0
		for i, it := range m.live {
			s += it.weight
			m.cum[i] = s
		}
	}
	x := m.erng.Float64() * m.cum[len(m.cum)-1]
	return &m.live[min(sort.SearchFloat64s(m.cum, x), len(m.live)-1)]
}

// nextEvent draws one event for live content; the catalogue must not be empty.
func (m *model) nextEvent() event {
	r := m.erng
	it := m.pickContent()
	u := m.users[int(float64(len(m.users))*r.Float64()*r.Float64())] // heavy users first
	dev := u.device
	if r.Float64() >= primaryDevice {
		dev = pick(r, deviceWeights)
	}
	typ := it.row.Type.String
	mix, ok := eventMix[typ]
	if !ok {
		mix = eventMix[""]
	}
	ev := event{ContentID: it.row.ID, UserID: u.id, Type: eventTypes[pick(r, mix)], Device: devices[dev]}
	length := int64(0)
	if it.row.Length.Valid && it.row.Length.Int32 > 0 {
		length = int64(it.row.Length.Int32) * 1000
	} else {
		length = int64(sampleLength(r, typ)) * 1000 // what the client measured; the row does not say
	}
	start := int64(0)
	if r.Float64() >= 0.7 { // resumed rather than started from the beginning
		start = int64(0.9 * r.Float64() * float64(length))
	}
	var dur, pos int64
	switch ev.Type {
	case "play":
		dur, pos = int64((0.01+0.59*r.Float64())*float64(length-start)), start
	case "pause":
		dur = int64((0.02 + 0.78*r.Float64()) * float64(length-start))
		pos = start + dur
	case "finish":
		dur, pos = int64((0.85+0.15*r.Float64())*float64(length)), length
	default: // click
		dur = 100 + r.Int64N(4900)
	}
	nullP := nullDuration
	if ev.Type == "click" {
		nullP = nullClick
	}
	if r.Float64() >= nullP {
		ev.Duration = sql.NullInt32{Int32: int32(min(dur, math.MaxInt32)), Valid: true}
	}
	ev.Payload = payload(r, ev.Device, pos)
	ev.Lag = time.Duration(min(r.ExpFloat64()*meanLagSeconds*float64(time.Second), float64(maxLag)))
	return ev
}

// payload is the client's raw report: app version, network, position.
func payload(r *rand.Rand, device string, pos int64) []byte {
	vs := appVersions[device]
	v := vs[min(int(float64(len(vs))*r.Float64()*r.Float64()), len(vs)-1)] // newest most common
	var net string
	switch x := r.Float64(); device {
	case "ios", "android":
		net = either(x < 0.62, "wifi", "cellular")
	case "web":
		net = either(x < 0.70, "wifi", "ethernet")
	default:
		net = either(x < 0.55, "wifi", "ethernet")
	}
	b := make([]byte, 0, 80)
	b = append(b, `{"app_version":"`...)
	b = append(b, v...)
	b = append(b, `","network":"`...)
	b = append(b, net...)
	b = append(b, `","position_ms":`...)
	b = strconv.AppendInt(b, pos, 10)
	return append(b, '}')
}

func either(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

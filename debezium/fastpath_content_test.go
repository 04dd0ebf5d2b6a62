package debezium

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// Content's fast path must be invisible too: for every key and value,
// Content with it gives exactly what the encoding/json path gives, event for
// event and error text for error text.

// sameContentAsGeneral decodes with and without the fast path (value and
// key) and fails on any difference. It reports whether the fast path took
// the value.
func sameContentAsGeneral(t testing.TB, d *Decoder, key, value []byte) (taken bool) {
	t.Helper()
	ctx := context.Background()
	want, wantErr := d.content(ctx, key, value, false)
	got, gotErr := d.content(ctx, key, value, true)
	switch {
	case (wantErr == nil) != (gotErr == nil):
		t.Fatalf("key %q value %q\nfast path: %+v, %v\ngeneral:   %+v, %v", key, value, got, gotErr, want, wantErr)
	case wantErr != nil && wantErr.Error() != gotErr.Error():
		t.Fatalf("key %q value %q\nfast path error: %v\ngeneral error:   %v", key, value, gotErr, wantErr)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("key %q value %q\nfast path: %+v\ngeneral:   %+v", key, value, got, want)
	}
	if isNull(value) || isAvro(value) {
		return false
	}
	_, taken = fastContent(value, new(ContentEvent))
	return taken
}

const (
	seedID    = "c41a7e92-3b5d-4f60-8a1c-9d2e7b4f6a03"
	seedKey   = `{"id":"` + seedID + `"}`
	seedAfter = `{"id":"` + seedID + `","slug":"fnjan-413","title":"فنجان: \"الخط\" \u0627\\n","content_type":"podcast","length_seconds":4268,"publish_ts":"2025-03-10T09:20:00.000000Z"}`
)

// contentSeeds returns every key and value of the content topic's fixtures
// (Avro ones included: the fast path must leave them alone, and their keys
// may still be JSON), the heartbeat's (heartbeats reach Content), and
// hand-written records that each stress one rule.
func contentSeeds(t testing.TB) [][2][]byte {
	var out [][2][]byte
	for _, rec := range loadManifest(t) {
		if strings.Contains(rec.Topic, "engagement_events") {
			continue
		}
		for _, v := range variants(rec) {
			files := rec.Files[v]
			out = append(out, [2][]byte{readFixture(t, files["key"]), readFixture(t, files["value"])})
		}
	}
	key := []byte(seedKey)
	for _, v := range []string{
		`{"before":null,"after":` + seedAfter + `,"source":{"name":"thmanyah","db":"thmanyah","schema":"public","table":"content","snapshot":"true","ts_ms":1,"lsn":2,"txId":3,"xmin":null,"sequence":"[null,\"1\"]"},"transaction":null,"op":"r","ts_ms":4,"ts_us":5,"ts_ns":6}`,
		` {"schema":{"type":"struct","fields":[{"field":"op"}]},"payload":{"after":` + seedAfter + `,"op":"c"}} `,
		`{"after":{"id":"` + seedID + `","slug":"__debezium_unavailable_value","title":"__debezium_unavailable_value","content_type":"__debezium_unavailable_value","length_seconds":null,"publish_ts":"2025-03-10T12:20:00+03:00"},"op":"u"}`,
		`{"after":{"id":"` + seedID + `","slug":"","title":"","content_type":null,"length_seconds":null,"publish_ts":0},"op":"c"}`,
		`{"after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":1741598441208},"op":"c","source":null}`,
		`{"before":{"id":"` + seedID + `"},"after":null,"op":"d","source":{"table":"content"}}`,
		`{"before":null,"after":null,"op":"d","source":{"table":"content","lsn":9}}`,
		`{"op":"d"}`,
		`{"op":"t","source":{"table":"content"}}`,
		`{"op":"t","before":null,"after":null}`,
		`{"ts_ms":1741599060027}`,
		`{"ts_ms":null}`,
		`{}`,
		`{"op":"c","after":{"id":"` + seedID + `"}}`,
		`{"op":"c","after":{"id":null,"slug":"s","title":"t","publish_ts":0}}`,
		`{"op":"c","after":{"id":"` + strings.ToUpper(seedID) + `","slug":"s","title":"t","publish_ts":0}}`,
		`{"op":"c","after":{"id":"{` + seedID + `}","slug":"s","title":"t","publish_ts":0}}`,
		`{"op":"c","after":{"id":"\u0063` + seedID[1:] + `","slug":"s","title":"t","publish_ts":0}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s\ud83d\ude00\ud800x","title":"` + "\xff\xfe" + `","publish_ts":0}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":"2025-02-30T00:00:00Z"}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":"2025-03-10T09:20:00.1234567Z"}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"length_seconds":2147483648}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"length_seconds":1.0}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":1,"title":"t","publish_ts":0}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"Slug":"x"}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"slug":"x"}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"\u0073lug":"x"}}`,
		`{"op":"c","after":{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"x":[{"y":[1,2,{"z":null}]}]}}`,
		// foldsToField takes DEL for '_': a false alarm, which only costs speed.
		"{\"op\":\"c\",\"after\":{\"id\":\"" + seedID + "\",\"slug\":\"s\",\"title\":\"t\",\"publish_ts\":0,\"\x7f\x7fop\":1}}",
		`{"op":"c","after":` + seedAfter + `,"source":{"table":"engagement_events"}}`,
		`{"op":"c","after":` + seedAfter + `,"source":{"table":"content","txId":"1"}}`,
		`{"op":"x","after":` + seedAfter + `}`,
		`{"op":null,"after":` + seedAfter + `}`,
		`{"OP":"c","after":` + seedAfter + `}`,
		`{"op":"c","After":` + seedAfter + `}`,
		`{"op":"c","after":` + seedAfter + `,"after":` + seedAfter + `}`,
		`{"op":"c","after":` + seedAfter + `,"payload":{}}`,
		`{"op":"c","after":` + seedAfter + `,"schema":null}`,
		`{"payload":{"op":"c","after":` + seedAfter + `},"schema":{}}`,
		`{"schema":{},"payload":{"schema":{},"payload":{"op":"c","after":` + seedAfter + `}}}`,
		`{"schema":{},"payload":null}`,
		`{"op":"c","after":` + seedAfter + `}x`,
		`{"op":"c","after":` + seedAfter + `,}`,
		`{"op":"c","after":"x"}`,
		`{"op":"c","after":[]}`,
		`[{"op":"c"}]`,
		`"x"`,
		`nul`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":"2025-03-10T09:20:00Z","__deleted":"false","__op":"c","__source_ts_ms":1}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":"2025-03-10T09:20:00Z","__deleted":"true","__op":"d","__lsn":7,"__txId":8,"__table":"content"}`,
		`{"id":"` + seedID + `","slug":"","title":"","publish_ts":null,"__deleted":true}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"__deleted":"true","__op":"c"}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"__op":"t"}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"op":"u","__source_lsn":3,"__source_txId":4,"__source_table":"content"}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"__table":"other"}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"__deleted":"maybe"}`,
		`{"id":"` + seedID + `","slug":"s","title":"t","publish_ts":0,"__OP":"d"}`,
	} {
		out = append(out, [2][]byte{key, []byte(v)})
	}
	value := []byte(`{"op":"c","after":` + seedAfter + `}`)
	for _, k := range []string{
		seedKey,
		` {"id" : "` + seedID + `"} `,
		`{"schema":{"type":"struct"},"payload":` + seedKey + `}`,
		`{"id":"` + strings.ToUpper(seedID) + `","other":[1]}`,
		`{"id":"\u0063` + seedID[1:] + `"}`,
		`{"id":"urn:uuid:` + seedID + `"}`,
		`{"id":"5b1e3f9a-2c47-4d8e-9f61-0a7c3b2d4e15"}`,
		`{"id":null}`,
		`{"id":42}`,
		`{"id":"x"}`,
		`{}`,
		`{"ID":"` + seedID + `"}`,
		`{"id":"` + seedID + `","id":"` + seedID + `"}`,
		`{"schema":null,"id":"` + seedID + `"}`,
		`{"payload":` + seedKey + `}`,
		`{"id":"` + seedID + `"`,
		`{"id":"` + seedID + `"}x`,
		`"` + seedID + `"`,
		seedID,
		`null`,
		``,
	} {
		out = append(out, [2][]byte{[]byte(k), value}, [2][]byte{[]byte(k), nil})
	}
	out = append(out, [2][]byte{nil, value})
	return out
}

func TestContentFastPathAgrees(t *testing.T) {
	d := NewDecoder(fixtureSource(t))
	// Each value is mutated once, with its first key, and each key once, as
	// the key of a value the fast path takes and of a tombstone. Every
	// second (third) mutation is enough here, where each position sees some
	// of every kind; FuzzContentFastPath covers the rest.
	values, keys := map[string]bool{}, map[string]bool{}
	good := []byte(`{"op":"c","after":` + seedAfter + `}`)
	for _, seed := range contentSeeds(t) {
		key, value := seed[0], seed[1]
		if !values[string(value)] {
			values[string(value)] = true
			ms := mutations(value)
			for i := 0; i < len(ms); i += 2 {
				sameContentAsGeneral(t, d, key, ms[i])
			}
		}
		if !keys[string(key)] {
			keys[string(key)] = true
			ms := mutations(key)
			for i := 0; i < len(ms); i += 3 {
				sameContentAsGeneral(t, d, ms[i], good)
				sameContentAsGeneral(t, d, ms[i], nil)
			}
		}
	}
}

// TestContentFastPathGenerated checks records assembled at random from
// parts that each matter to some rule: every form, op and wrapper; NULL,
// TOAST and wrong-typed columns; escaped and non-ASCII text; odd keys.
func TestContentFastPathGenerated(t *testing.T) {
	d := NewDecoder(fixtureSource(t))
	rng := rand.New(rand.NewPCG(1, 2))
	n := 40_000
	if testing.Short() {
		n = 4_000
	}
	taken, changes := 0, 0
	for range n {
		key, value := genContentRecord(rng)
		if sameContentAsGeneral(t, d, key, value) {
			taken++
			if ev, err := d.Content(context.Background(), key, value); err == nil && ev.Kind == KindChange {
				changes++
			}
		}
	}
	t.Logf("%d records, %d taken by the fast path, %d of them changes decoded", n, taken, changes)
	// The generator means most records to be usual: if the fast path
	// refused them, this test would compare the general path with itself.
	if taken < n/3 || changes < n/5 {
		t.Errorf("the fast path took %d of %d records, %d changes: too few", taken, n, changes)
	}
}

// TestContentFastPathTaken guards the speed: the forms a content topic
// carries must not quietly fall back to encoding/json, nor their keys.
func TestContentFastPathTaken(t *testing.T) {
	for _, rec := range loadManifest(t) {
		if strings.Contains(rec.Topic, "engagement_events") {
			continue
		}
		for _, v := range variants(rec) {
			key, value := readFixture(t, rec.Files[v]["key"]), readFixture(t, rec.Files[v]["value"])
			if v == "avro" || value == nil {
				continue
			}
			if _, ok := fastContent(value, new(ContentEvent)); !ok {
				t.Errorf("%s.%s: the value takes the general path", rec.Name, v)
			}
			if rec.Name == "heartbeat" || rec.Op != nil && *rec.Op == "t" {
				continue // the key is not read
			}
			if p := payloadOf(key); p != nil {
				key = p
			}
			if _, ok := fastContentKey(key); !ok {
				t.Errorf("%s.%s: the key takes the general path", rec.Name, v)
			}
		}
	}
}

func FuzzContentFastPath(f *testing.F) {
	for _, seed := range contentSeeds(f) {
		f.Add(seed[0], seed[1])
	}
	d := NewDecoder(fixtureSource(f))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		sameContentAsGeneral(t, d, key, value)
		if got, want := validJSON(value), json.Valid(value); got != want {
			t.Fatalf("validJSON(%q) = %t, json.Valid says %t", value, got, want)
		}
		sameSkip(t, value)
	})
}

// ---- the generator ----

// pick returns one of choices; "" stands for the member's absence.
func pick(rng *rand.Rand, choices ...string) string { return choices[rng.IntN(len(choices))] }

// usually returns usual, and one of odd once in eight times.
func usually(rng *rand.Rand, usual string, odd ...string) string {
	if rng.IntN(8) != 0 {
		return usual
	}
	return pick(rng, odd...)
}

// genIDs are the row ids: the key always names the first.
var genIDs = []string{seedID, "5b1e3f9a-2c47-4d8e-9f61-0a7c3b2d4e15"}

// The gen functions below return a member's value as JSON text, "" when the
// member is to be left out. The usual values are favoured.

func genUUID(rng *rand.Rand, id string) string {
	if rng.IntN(10) != 0 {
		return `"` + id + `"`
	}
	return pick(rng, `"`+strings.ToUpper(id)+`"`, `"{`+id+`}"`, `"urn:uuid:`+id+`"`, `"\u0063`+id[1:]+`"`,
		`"`+strings.ReplaceAll(id, "-", "")+`"`, `"`+id[1:]+`"`, `null`, `42`, `""`, `"`+placeholder+`"`, ``)
}

func genText(rng *rand.Rand) string {
	if rng.IntN(8) != 0 {
		return pick(rng, `"fnjan-413-arabic-calligraphy"`, `"Episode 7"`, `"فنجان: رحلة الخط العربي"`, `"podcast"`, `""`)
	}
	return pick(rng, `null`, `"`+placeholder+`"`, `"tab\there \"q\" back\\slash \/ \b\f\n\r"`,
		`"\u0641\u0646\u062c\u0627\u0646 \ud83d\ude00"`, `"lone \ud800 surrogate \udc00"`, "\"bad \xff\xfe utf8 \xc3\"",
		"\"nul \\u0000 and del \x7f\"", `"__debezium_unavailable_valu"`, `12`, `true`, `{}`, `["a"]`, ``)
}

func genInt32(rng *rand.Rand) string {
	if rng.IntN(8) != 0 {
		return pick(rng, `4268`, `0`, `null`)
	}
	return pick(rng, `-2147483648`, `2147483647`, `2147483648`, `-0`, `1.0`, `1e3`, `"12"`, `99999999999999999999`, `false`, ``)
}

func genTime(rng *rand.Rand) string {
	if rng.IntN(8) != 0 {
		return pick(rng, `"2025-03-10T09:20:00.000000Z"`, `"2025-03-10T09:20:00Z"`, `1741598441208`)
	}
	return pick(rng, `"2025-03-10T12:20:00.5+03:00"`, `"2025-03-10T09:20:00.1234567Z"`, `"1970-01-01T00:00:00Z"`,
		`"2025-02-30T00:00:00Z"`, `"2025-03-10 09:20:00Z"`, `"2025-03-10T09:20:00"`, `"`+placeholder+`"`, `-1`,
		`0`, `1.5`, `null`, `""`, `"\u0032025-03-10T09:20:00Z"`, ``)
}

// genMembers joins members in random order, with random whitespace, and now
// and then an extra member: unknown, repeated or differing only in case.
func genMembers(rng *rand.Rand, members [][2]string) string {
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	if rng.IntN(8) == 0 && len(members) > 0 {
		m := members[rng.IntN(len(members))]
		switch rng.IntN(5) {
		case 0:
			members = append(members, m) // repeated
		case 1:
			members = append(members, [2]string{strings.ToUpper(m[0]), m[1]})
		case 2:
			members = append(members, [2]string{`\u00` + fmt.Sprintf("%x", m[0][0]) + m[0][1:], m[1]})
		case 3:
			members = append(members, [2]string{"xmin", `{"a":[1,"b",null,{"c":{}}]}`})
		case 4:
			// U+017F folds to "s" under encoding/json's matching.
			members = append(members, [2]string{pick(rng, "\u017flug", "\u017fource"), `"x"`})
		}
	}
	ws := func() string {
		if rng.IntN(10) == 0 {
			return pick(rng, " ", "\n\t", "\r ")
		}
		return ""
	}
	var b strings.Builder
	b.WriteString("{" + ws())
	first := true
	for _, m := range members {
		if m[1] == "" {
			continue
		}
		if !first {
			b.WriteString("," + ws())
		}
		first = false
		b.WriteString(`"` + m[0] + `"` + ws() + ":" + ws() + m[1] + ws())
	}
	b.WriteString("}")
	return b.String()
}

func genRow(rng *rand.Rand, id string, delete bool) [][2]string {
	if delete && rng.IntN(2) == 0 {
		// REPLICA IDENTITY DEFAULT: the key, and fallbacks for the rest.
		return [][2]string{{"id", genUUID(rng, id)}, {"slug", `""`}, {"title", `""`}, {"content_type", `null`},
			{"length_seconds", `null`}, {"publish_ts", `"1970-01-01T00:00:00Z"`}}
	}
	return [][2]string{{"id", genUUID(rng, id)}, {"slug", genText(rng)}, {"title", genText(rng)},
		{"content_type", genText(rng)}, {"length_seconds", genInt32(rng)}, {"publish_ts", genTime(rng)}}
}

func genSource(rng *rand.Rand) string {
	if rng.IntN(6) == 0 {
		return pick(rng, `null`, `"content"`, `[]`, `{}`, `{"table":"engagement_events"}`, `{"table":null,"lsn":"1"}`, ``)
	}
	return genMembers(rng, [][2]string{{"version", `"2.7.4.Final"`}, {"connector", `"postgresql"`},
		{"name", `"thmanyah"`}, {"ts_ms", `1741598441208`}, {"snapshot", pick(rng, `"false"`, `"true"`, `"first"`, `"last"`, `"last_in_data_collection"`, `null`)},
		{"db", `"thmanyah"`}, {"sequence", `"[null,\"62303392\"]"`}, {"ts_us", `1741598441208733`},
		{"schema", `"public"`}, {"table", `"content"`}, {"txId", usually(rng, `918447`, `null`, `"1"`)},
		{"lsn", usually(rng, `62303392`, `-1`, `9223372036854775807`, `9223372036854775808`)}, {"xmin", `null`}})
}

func genEnvelope(rng *rand.Rand, id string) string {
	op := pick(rng, "c", "r", "r", "u", "d", "t")
	before, after := `null`, `null`
	switch op {
	case "d":
		before = pick(rng, genMembers(rng, genRow(rng, id, true)), genMembers(rng, genRow(rng, id, true)), `null`, ``)
	case "t":
	default:
		after = genMembers(rng, genRow(rng, id, false))
		if rng.IntN(4) == 0 {
			before = genMembers(rng, genRow(rng, id, false))
		}
	}
	opv := `"` + op + `"`
	if rng.IntN(20) == 0 {
		opv = pick(rng, `null`, `"x"`, `"cc"`, `99`, `"\u0063"`, ``)
	}
	if rng.IntN(20) == 0 {
		before, after = after, before
	}
	return genMembers(rng, [][2]string{{"before", before}, {"after", after}, {"source", genSource(rng)},
		{"transaction", pick(rng, `null`, `{"id":"1","total_order":1,"data_collection_order":1}`)},
		{"op", opv}, {"ts_ms", usually(rng, `1741598441734`, `null`, `"1"`)}, {"ts_us", `1741598441734215`}})
}

func genFlat(rng *rand.Rand, id string) string {
	op := pick(rng, "c", "r", "u", "d")
	members := genRow(rng, id, op == "d")
	deleted := fmt.Sprintf(`"%t"`, op == "d")
	if rng.IntN(10) == 0 {
		deleted = pick(rng, `"true"`, `"false"`, `true`, `false`, `null`, `"yes"`, `1`, ``)
	}
	opv := `"` + op + `"`
	if rng.IntN(10) == 0 {
		opv = pick(rng, `"t"`, `null`, `"x"`, ``)
	}
	members = append(members, [2]string{"__deleted", deleted}, [2]string{"__op", opv},
		[2]string{"__source_ts_ms", usually(rng, `1741598441208`, `null`, `1.5`)})
	if rng.IntN(4) == 0 {
		members = append(members, [2]string{"__lsn", `62303392`}, [2]string{"__txId", `918447`},
			[2]string{"__table", usually(rng, `"content"`, `"other"`, `null`)})
	}
	if rng.IntN(8) == 0 {
		members = append(members, [2]string{"__source_lsn", `1`}, [2]string{"__source_txId", `2`},
			[2]string{"__source_table", `"content"`}, [2]string{"op", pick(rng, `"u"`, `"d"`)})
	}
	return genMembers(rng, members)
}

// genContentRecord returns a key and a value.
func genContentRecord(rng *rand.Rand) (key, value []byte) {
	id := genIDs[0]
	if rng.IntN(30) == 0 {
		id = genIDs[1] // the key will not match
	}
	var v string
	switch rng.IntN(10) {
	case 0, 1, 2, 3, 4:
		v = genEnvelope(rng, id)
	case 5, 6, 7:
		v = genFlat(rng, id)
	case 8:
		v = pick(rng, `{"ts_ms":1741599060027}`, `{"ts_ms":-1}`, `{"ts_ms":"1"}`, `{"ts_ms":1,"op":"t"}`, `{"ts_ms":1,"x":{}}`)
	default:
		v = pick(rng, `{}`, `[]`, `null`, `"x"`, `{"op":"c"}`, `{"op":"c","after":{}}`, `{"before":{},"op":"d"}`)
	}
	switch rng.IntN(6) {
	case 0:
		v = `{"schema":{"type":"struct","fields":[{"field":"x","optional":true}],"name":"a \"b\" {c}"},"payload":` + v + `}`
	case 1:
		if rng.IntN(10) == 0 {
			v = pick(rng, `{"payload":`+v+`,"schema":{}}`, `{"schema":{},"payload":`+v+`,"x":1}`,
				`{"schema":{},"payload":{"schema":{},"payload":`+v+`}}`, `{"schema":null,"payload":`+v+`}`)
		}
	}
	if rng.IntN(30) == 0 { // cut short, or followed by garbage
		if rng.IntN(2) == 0 {
			v = v[:rng.IntN(len(v)+1)]
		} else {
			v += pick(rng, "x", " ", "}", "\x00", `{}`)
		}
	}
	k := genIDs[0]
	switch rng.IntN(12) {
	case 0:
		return nil, []byte(v)
	case 1:
		return []byte(`{"schema":{"type":"struct"},"payload":{"id":"` + k + `"}}`), []byte(v)
	case 2:
		return []byte(`"` + k + `"`), []byte(v)
	case 3:
		return []byte(k), []byte(v)
	case 4:
		return []byte(pick(rng, `{"id":`+genUUID(rng, k)+`}`, `{"id":"`+k+`","Id":null}`, `{"schema":{},"id":"`+k+`"}`,
			`{"id":"`+k+`","x":{"id":1}}`, `{"id":"`+k+`"} x`, `[]`, `{"ID":"`+k+`"}`)), []byte(v)
	}
	return []byte(`{"id":"` + k + `"}`), []byte(v)
}

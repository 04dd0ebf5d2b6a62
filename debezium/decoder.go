package debezium

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/linkedin/goavro/v2"
)

// Decoder decodes content and engagement records. It is safe for concurrent
// use; its only state is the cache of compiled Avro schemas.
type Decoder struct {
	src    SchemaSource
	mu     sync.RWMutex
	codecs map[int]*goavro.Codec
}

// NewDecoder returns a Decoder that fetches Avro writer schemas from src.
// With a nil src every Avro-framed record is poison.
func NewDecoder(src SchemaSource) *Decoder {
	return &Decoder{src: src, codecs: make(map[int]*goavro.Codec)}
}

// isNull reports a Kafka null. A JSON null literal means the same and is
// accepted, since some tools write it instead.
func isNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func valueErr(table string, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	return &DecodeError{Reason: "decode " + table + " value", Err: err}
}

// unmarshalValue decodes a JSON value into doc, skipping a JsonConverter
// schema cheaply when it can (see payloadOf).
func unmarshalValue(value []byte, doc any) (unwrapped bool, err error) {
	if p := payloadOf(value); p != nil {
		value, unwrapped = p, true
	}
	if err := json.Unmarshal(value, doc); err != nil {
		return unwrapped, jsonError(err)
	}
	return unwrapped, nil
}

// Content decodes one record of the content topic.
func (d *Decoder) Content(ctx context.Context, key, value []byte) (ContentEvent, error) {
	return d.content(ctx, key, value, true)
}

// content is Content; fast false skips the fast path, for the value and the
// key, which the tests use as the reference.
func (d *Decoder) content(ctx context.Context, key, value []byte, fast bool) (ContentEvent, error) {
	if isNull(value) {
		k, ok, err := d.contentKey(ctx, key, fast)
		if err == nil && !ok {
			err = &DecodeError{Reason: "decode content tombstone: null value and null key"}
		}
		if err != nil {
			return ContentEvent{}, err
		}
		return ContentEvent{Kind: KindTombstone, Key: k}, nil
	}
	// Before doc is declared: doc escapes into encoding/json, so merely
	// declaring it costs a heap allocation.
	if fast && !isAvro(value) {
		var ev ContentEvent
		if hasID, ok := fastContent(value, &ev); ok {
			return d.contentKeyed(ctx, key, &ev, hasID, fast)
		}
	}
	var (
		doc       contentDoc
		unwrapped bool
		err       error
	)
	if isAvro(value) {
		native, err := d.avroNative(ctx, "content value", value)
		if err != nil {
			return ContentEvent{}, err
		}
		if err := avroContentDoc(native, &doc); err != nil {
			return ContentEvent{}, valueErr("content", err)
		}
	} else if unwrapped, err = unmarshalValue(value, &doc); err != nil {
		return ContentEvent{}, valueErr("content", err)
	}
	ev, hasID, err := doc.event(unwrapped)
	if err != nil {
		return ContentEvent{}, valueErr("content", err)
	}
	return d.contentKeyed(ctx, key, &ev, hasID, fast)
}

// contentKeyed completes a change decoded from the value with the Kafka key,
// which must agree with the row id the value names; hasID false means it
// names none (a delete without before image), so the key must. Both paths
// end here.
func (d *Decoder) contentKeyed(ctx context.Context, key []byte, ev *ContentEvent, hasID, fast bool) (ContentEvent, error) {
	if ev.Kind != KindChange {
		return *ev, nil // truncates and heartbeats have no key to check
	}
	k, ok, err := d.contentKey(ctx, key, fast)
	switch {
	case err != nil:
		return ContentEvent{}, err
	case ok && hasID && k != ev.Key:
		return ContentEvent{}, &DecodeError{Reason: fmt.Sprintf("decode content record: key %s does not match row id %s", k, ev.Key)}
	case ok:
		ev.Key = k
	case !hasID:
		return ContentEvent{}, &DecodeError{Reason: "decode content record: delete with neither before image nor key"}
	}
	if !hasID {
		ev.Row.ID = ev.Key
	}
	return *ev, nil
}

// Engagement decodes one record of an engagement topic: Debezium change
// events in every form and the contract's plain JSON event. The key is read
// only when the value does not name the event (tombstone, delete without
// before image): the plain event's producers key it freely.
func (d *Decoder) Engagement(ctx context.Context, key, value []byte) (EngagementEvent, error) {
	return d.engagement(ctx, key, value, true)
}

// engagement is Engagement; fast false skips the fast path, which the tests
// use as the reference.
func (d *Decoder) engagement(ctx context.Context, key, value []byte, fast bool) (EngagementEvent, error) {
	if isNull(value) {
		id, ok, err := d.engagementKey(ctx, key)
		if err == nil && !ok {
			err = &DecodeError{Reason: "decode engagement tombstone: null value and null key"}
		}
		if err != nil {
			return EngagementEvent{}, err
		}
		return EngagementEvent{Kind: KindTombstone, Event: Engagement{ID: id}}, nil
	}
	// Before doc is declared: doc escapes into encoding/json, so merely
	// declaring it costs a heap allocation.
	if fast && !isAvro(value) {
		var ev EngagementEvent
		if fastEngagement(value, &ev) {
			return ev, nil
		}
	}
	var (
		doc       engagementDoc
		unwrapped bool
		err       error
	)
	if isAvro(value) {
		native, err := d.avroNative(ctx, "engagement value", value)
		if err != nil {
			return EngagementEvent{}, err
		}
		if err := avroEngagementDoc(native, &doc); err != nil {
			return EngagementEvent{}, valueErr("engagement", err)
		}
	} else if unwrapped, err = unmarshalValue(value, &doc); err != nil {
		return EngagementEvent{}, valueErr("engagement", err)
	}
	ev, hasID, err := doc.event(unwrapped)
	if err != nil {
		return EngagementEvent{}, valueErr("engagement", err)
	}
	if ev.Kind == KindChange && !hasID {
		id, ok, err := d.engagementKey(ctx, key)
		if err == nil && !ok {
			err = &DecodeError{Reason: "decode engagement record: delete with neither before image nor key"}
		}
		if err != nil {
			return EngagementEvent{}, err
		}
		ev.Event.ID = id
	}
	return ev, nil
}

// keyDoc covers the key forms: {"id":…}, JsonConverter-wrapped or not.
type keyDoc[T interface{ valid() bool }] struct {
	Schema  seen       `json:"schema"`
	Payload *keyDoc[T] `json:"payload"`
	ID      T          `json:"id"`
}

// contentKey reads the row id from a content key: Avro or JSON record
// {"id":"<uuid>"}, a JSON string, or bare UUID text (StringConverter). fast
// false skips the fast path for the JSON record.
func (d *Decoder) contentKey(ctx context.Context, key []byte, fast bool) (uuid.UUID, bool, error) {
	const what = "content key"
	fail := func(err error) (uuid.UUID, bool, error) {
		return uuid.UUID{}, false, &DecodeError{Reason: "decode " + what, Err: err}
	}
	notUUID := func(s []byte) (uuid.UUID, bool, error) {
		return fail(fmt.Errorf("%s is not a uuid", quoteShort(s)))
	}
	if isNull(key) {
		return uuid.UUID{}, false, nil
	}
	switch {
	case isAvro(key):
		native, err := d.avroNative(ctx, what, key)
		if err != nil {
			return uuid.UUID{}, false, err
		}
		s, err := avroKeyField(native, func(v any, path string) (jText, error) { return avroText(v, path) })
		if err != nil {
			return fail(err)
		}
		u, err := uuid.Parse(s.v)
		if err != nil {
			return notUUID([]byte(s.v))
		}
		return u, true, nil
	case key[0] == '{':
		if p := payloadOf(key); p != nil {
			key = p
		}
		if fast {
			if id, ok := fastContentKey(key); ok {
				return id, true, nil
			}
		}
		var kd keyDoc[jKeyUUID]
		if err := json.Unmarshal(key, &kd); err != nil {
			return fail(jsonError(err))
		}
		id, err := kd.id()
		switch {
		case err != nil:
			return fail(err)
		case id.bad != nil && id.bad[0] == '"':
			return notUUID(unquote(id.bad))
		case id.bad != nil:
			return fail(fmt.Errorf(`field "id": want uuid string, got %s`, describe(id.bad)))
		}
		return id.v, true, nil
	case key[0] == '"':
		var s jText
		if err := json.Unmarshal(key, &s); err != nil {
			return fail(jsonError(err))
		}
		key = []byte(s.v)
	}
	u, err := uuid.ParseBytes(key)
	if err != nil {
		return notUUID(key)
	}
	return u, true, nil
}

func (k *keyDoc[T]) id() (T, error) {
	var zero T
	if k.Schema || k.Payload != nil {
		if k.Payload == nil {
			return zero, errors.New(`JsonConverter key without "payload"`)
		}
		k = k.Payload
	}
	if !k.ID.valid() {
		return zero, errors.New(`key has no "id"`)
	}
	return k.ID, nil
}

// engagementKey reads the event id from an engagement key: Avro or JSON
// record {"id":N}, or the id as a JSON number or decimal text.
func (d *Decoder) engagementKey(ctx context.Context, key []byte) (int64, bool, error) {
	const what = "engagement key"
	fail := func(err error) (int64, bool, error) {
		return 0, false, &DecodeError{Reason: "decode " + what, Err: err}
	}
	if isNull(key) {
		return 0, false, nil
	}
	switch {
	case isAvro(key):
		native, err := d.avroNative(ctx, what, key)
		if err != nil {
			return 0, false, err
		}
		n, err := avroKeyField(native, func(v any, path string) (jInt64, error) { return avroInt64(v, path) })
		if err != nil {
			return fail(err)
		}
		return n.v, true, nil
	case key[0] == '{':
		if p := payloadOf(key); p != nil {
			key = p
		}
		var kd keyDoc[jInt64]
		if err := json.Unmarshal(key, &kd); err != nil {
			return fail(jsonError(err))
		}
		id, err := kd.id()
		if err != nil {
			return fail(err)
		}
		return id.v, true, nil
	}
	raw := key
	if key[0] == '"' {
		var s jText
		if err := json.Unmarshal(key, &s); err != nil {
			return fail(jsonError(err))
		}
		raw = []byte(s.v)
	}
	n, ok := parseInt(raw)
	if !ok {
		return fail(fmt.Errorf("%s is not an event id", quoteShort(key)))
	}
	return n, true, nil
}

// Package datagen generates a media platform's content catalogue and a
// stream of engagement events, into Postgres or straight into Kafka.
//
// # Model
//
// Content is podcast (50%), newsletter (25%) or video (25%). Titles come
// from a few invented shows and topics, in Arabic ("فنجان: قصة القهوة
// السعودية", about 55%), English ("Fnjan #412: The story of Saudi coffee",
// 25%) or mixed. Slugs are ASCII, show-episode-topic, and unique. Lengths
// are log-normal and clipped per type: podcast 20–120 min, video 2–40 min,
// newsletter 3–15 min of reading; 5% are NULL. publish_ts lies in the 180
// days before the start of the current UTC day. Each row has a log-normal
// popularity that weights how often events pick it.
//
// Events come from a pool of 5000 users, a few heavy users making many of
// them; each user has a usual device (ios 38%, android 34%, web 20%,
// tv 8%) used for 85% of their events. The type mix is play 40%, pause 27%,
// finish 15%, click 18% for audio and video, and click 45%, play (opened)
// 25%, finish 20%, pause 10% for newsletters. duration_ms follows the
// content's length L: play 1–60% and pause 2–80% of what is left after a
// start position (0, or a resume point for 30% of events), finish 85–100%
// of L, click 0.1–5 s. So play, pause and finish never exceed L; when L is
// NULL a plausible length is drawn instead. duration_ms is NULL for 3% of
// play/pause/finish and 30% of clicks. raw_payload is
// {"app_version","network","position_ms"}. event_ts is the generation time
// minus a small exponential lag (mean 0.3 s, at most 5 s), as if the
// client reported late.
//
// Changes happen at UpdateRate: 80% update one row's title or length
// (slug and id stay), 20% delete one, each delete followed by the create of
// a replacement so the catalogue keeps its size. Events only ever refer to
// live rows: once a row is deleted no later event names it.
//
// # Determinism
//
// Three random streams derived from Seed drive the catalogue, the events
// and the changes, so the same seed gives the same catalogue (on the same
// UTC day, as publish_ts counts back from it) and the same event sequence,
// whatever the batch sizes. Only timestamps and, in Kafka mode, event ids
// and LSNs come from the clock. When changes interleave with events the
// timing decides where, so the event sequence of a run with UpdateRate > 0
// is reproducible only at model level.
//
// # Targets
//
// Postgres: the schema is created (idempotently, exactly the contract's
// DDL), existing content rows are adopted and the catalogue is topped up to
// Catalogue rows. Events go in as one COPY per tick, ids from BIGSERIAL;
// changes as one transaction per tick. Deleting content first
// deletes its events, as the contract's foreign key has no ON DELETE action;
// both take a sequential scan of engagement_events, which has no index on
// content_id.
//
// Kafka: content records are what Debezium 2.7 with JsonConverter
// (schemas.enable=false) writes to <TopicPrefix>.public.content under
// REPLICA IDENTITY DEFAULT: key {"id":"<uuid>"}, op c/u/d, a delete
// followed by a tombstone, source.ts_ms the write time, LSNs growing from
// the clock. The catalogue is written in full at every start (as creates).
// Events are the contract's plain JSON event on EventsTopic, keyed by the
// id as decimal text, ids counting up from unix-ms × 1000. Both topics are
// created when missing (broker defaults, the content topic compacted).
//
// # Pacing
//
// Every 10 ms the generator emits what the rates owe since the last tick,
// carrying fractions, as one write per kind, so a high rate means larger
// batches (up to 10,000 events), never more round trips. A slow target
// lengthens ticks and grows batches; a backlog beyond a second's worth or
// one batch is dropped, not carried, and logged as events_skipped. On this
// project's 2-core machines one generator reaches ~85k events/s into a
// local Postgres and ~280k/s into an in-process Kafka (kfake).
package datagen

-- Schema of the production-like stack (docker-compose.yml).
--
-- The postgres image runs every *.sql file of /docker-entrypoint-initdb.d in
-- name order, once, when its data volume is empty, connected to $POSTGRES_DB
-- as $POSTGRES_USER with ON_ERROR_STOP. To run them again, delete the volume
-- (see README-operations.md). cmd/enricher/compose_test.go runs them against
-- a temporary Postgres 15 the same way.

-- The contract's tables (shared CONTRACT.md), exactly. `enricher datagen`
-- runs the same DDL with IF NOT EXISTS, so it adopts these tables.
CREATE TABLE content (
  id UUID PRIMARY KEY,
  slug TEXT UNIQUE NOT NULL,
  title TEXT NOT NULL,
  content_type TEXT CHECK (content_type IN ('podcast','newsletter','video')),
  length_seconds INTEGER,
  publish_ts TIMESTAMPTZ NOT NULL
);

CREATE TABLE engagement_events (
  id BIGSERIAL PRIMARY KEY,
  content_id UUID REFERENCES content(id),
  user_id UUID,
  event_type TEXT CHECK (event_type IN ('play','pause','finish','click')),
  event_ts TIMESTAMPTZ NOT NULL,
  duration_ms INTEGER,
  device TEXT,
  raw_payload JSONB
);

-- Indexes the contract leaves out but the stack's writers need:
-- `enricher backfill` pages through an event_ts range, and deleting content
-- (datagen's takedowns) first deletes its events: without these both scan
-- the whole table.
CREATE INDEX engagement_events_event_ts_idx ON engagement_events (event_ts);
CREATE INDEX engagement_events_content_id_idx ON engagement_events (content_id);

-- REPLICA IDENTITY: DEFAULT (the primary key) for both tables, on purpose.
--
-- content: the enricher keys its view by id and treats every c/r/u as an
-- upsert of the full row, so it never needs the old row (`before`). A delete
-- carries the key, which is all it needs. One case needs care: an UPDATE that
-- leaves a TOASTed column (a title longer than ~2 kB) unchanged sends that
-- column as "__debezium_unavailable_value"; the enricher keeps the stored
-- value then (CONTRACT.md). FULL would send the whole old row with every
-- update and delete, roughly doubling the WAL written for content, to gain
-- nothing the enricher uses. Switch to FULL only for a consumer that needs
-- `before` (an audit trail); the enricher reads both.
--
-- engagement_events: append-only facts; deletes (takedowns) are ignored by
-- the enricher, so the key is plenty.
ALTER TABLE content REPLICA IDENTITY DEFAULT;
ALTER TABLE engagement_events REPLICA IDENTITY DEFAULT;

-- Debezium's heartbeat table. The connector runs heartbeat.action.query
-- (an upsert of its own row) every heartbeat.interval.ms. The table is in the
-- connector's table.include.list, and so in its filtered publication: each
-- heartbeat is then a real change on the slot, which lets the connector
-- confirm a recent LSN even while content and engagement_events are quiet,
-- so Postgres can recycle WAL that other databases or tables keep writing.
-- Its change events go to thmanyah.public.debezium_heartbeat (compacted,
-- one row per connector); nothing consumes them.
CREATE TABLE debezium_heartbeat (
  connector TEXT PRIMARY KEY,
  ts TIMESTAMPTZ NOT NULL
);

-- BigQuery table for the processed_engagements topic, written by the Kafka
-- Connect BigQuery sink (deploy/bigquery/connector.json, autoCreateTables=false).
--
-- One column per field of schemas/processed_engagement.avsc, same names, same
-- order (deploy/bigquery/ddl_test.go checks it): long and int -> INT64,
-- double -> FLOAT64, string -> STRING, timestamp-millis -> TIMESTAMP;
-- a ["null", T] union is NULLABLE, anything else NOT NULL (REQUIRED).
-- After them, event_key: the record key the connector merges on
-- (kafkaKeyFieldName=event_key, key = STRUCT(event_id) made by the ValueToKey
-- transform); see deploy/bigquery/README.md, "Deduplication by event id".
--
-- Then the view processed_engagements_dedup: one row per event_id whatever
-- the connector's mode, the read path that does not depend on the merge.
--
-- ${BQ_PROJECT} and ${BQ_DATASET} are placeholders:
--   envsubst '${BQ_PROJECT} ${BQ_DATASET}' < deploy/bigquery/processed_engagements.sql \
--     | bq query --use_legacy_sql=false
CREATE TABLE IF NOT EXISTS `${BQ_PROJECT}.${BQ_DATASET}.processed_engagements` (
  event_id           INT64     NOT NULL OPTIONS (description = 'engagement_events.id; the Kafka key as decimal text'),
  content_id         STRING             OPTIONS (description = 'canonical lowercase UUID; NULL when the event has none'),
  user_id            STRING             OPTIONS (description = 'canonical lowercase UUID'),
  event_type         STRING             OPTIONS (description = 'play, pause, finish or click'),
  event_ts           TIMESTAMP NOT NULL OPTIONS (description = 'engagement_events.event_ts, millisecond precision, UTC'),
  duration_ms        INT64              OPTIONS (description = 'engagement_events.duration_ms as received, negative values included'),
  device             STRING             OPTIONS (description = 'engagement_events.device'),
  content_type       STRING             OPTIONS (description = 'podcast, newsletter or video; NULL when the content is unknown'),
  length_seconds     INT64              OPTIONS (description = 'content.length_seconds; NULL when the content is unknown'),
  engagement_seconds FLOAT64            OPTIONS (description = 'duration_ms / 1000; NULL when duration_ms is NULL or negative'),
  engagement_pct     FLOAT64            OPTIONS (description = 'ROUND(engagement_seconds / length_seconds, 2), a fraction; NULL when unknown'),
  event_key          STRUCT<event_id INT64 NOT NULL> OPTIONS (description = 'merge key of the BigQuery connector (kafkaKeyFieldName): STRUCT(event_id); NULL on rows written before upsert was enabled')
)
PARTITION BY DATE(event_ts)
CLUSTER BY content_type, event_type
OPTIONS (
  description = 'Engagement events enriched with their content (topic processed_engagements). The connector MERGEs on event_key (upsertEnabled), so a repeated event_id updates its row instead of adding one; in plain-append mode a row may repeat after a connector retry. processed_engagements_dedup has one row per event_id in either mode.',
  -- FALSE: the connector's MERGE has no partition filter and would be refused.
  require_partition_filter = FALSE
);

-- One row per event_id. A repeat of an event is the same enriched record, so
-- which copy is kept does not matter; a merged row (event_key set) is preferred.
-- The window runs before any WHERE on the view, so a filter on event_ts does
-- not prune partitions here: for a time range over the raw table, put the
-- WHERE inside the query as in deploy/bigquery/README.md.
CREATE OR REPLACE VIEW `${BQ_PROJECT}.${BQ_DATASET}.processed_engagements_dedup`
OPTIONS (description = 'processed_engagements with one row per event_id, whatever the connector mode')
AS
SELECT * EXCEPT (event_key)
FROM `${BQ_PROJECT}.${BQ_DATASET}.processed_engagements`
WHERE TRUE -- older BigQuery releases refuse QUALIFY without WHERE, GROUP BY or HAVING
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY event_ts DESC, event_key IS NULL) = 1;

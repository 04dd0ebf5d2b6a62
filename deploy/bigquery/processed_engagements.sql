-- BigQuery table for the processed_engagements topic, written by the Kafka
-- Connect BigQuery sink (deploy/bigquery/connector.json, autoCreateTables=false).
--
-- One column per field of schemas/processed_engagement.avsc, same names, same
-- order (deploy/bigquery/ddl_test.go checks it): long and int -> INT64,
-- double -> FLOAT64, string -> STRING, timestamp-millis -> TIMESTAMP;
-- a ["null", T] union is NULLABLE, anything else NOT NULL (REQUIRED).
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
  engagement_pct     FLOAT64            OPTIONS (description = 'ROUND(engagement_seconds / length_seconds, 2), a fraction; NULL when unknown')
)
PARTITION BY DATE(event_ts)
CLUSTER BY content_type, event_type
OPTIONS (
  description = 'Engagement events enriched with their content (topic processed_engagements). At-least-once: a row may repeat after a connector retry; deduplicate on event_id.',
  require_partition_filter = FALSE
);

// Package bigquery holds the BigQuery DDL of the processed_engagements table
// and its dedup view (processed_engagements.sql). It has no code: its test
// keeps the DDL field for field in step with schemas/processed_engagement.avsc,
// and with the Kafka Connect BigQuery sink's settings in
// deploy/bigquery/connector.json, upsert by event id included.
//
// The compose profile bigquery is built from this directory too: the worker
// image (connect/Dockerfile) and the directory mounted as the worker's secrets
// (secrets/, whose key file git ignores). deploy/bigquery_test.go checks those,
// the connector body and `make register-bigquery`.
package bigquery

// Package deploy holds the deployment tests: offline checks of the
// production-like stack (docker-compose.yml, deploy/compose.scale-out.yml,
// deploy/compose.avro.yml, the Dockerfiles of the enricher, of
// deploy/connect-avro and of deploy/bigquery/connect, debezium-connectors/*.json,
// deploy/postgres/*.sql, deploy/monitoring (Prometheus rules, Grafana
// provisioning and dashboard) and deploy/scripts/*.sh) and of the Makefile
// targets that drive it. It has no code of its own; deploy/bigquery holds
// the BigQuery sink's files.
//
// No Docker engine runs on the development machines, so nothing here starts
// a container. What can be checked without one is checked against the
// enricher binary itself, built once per test process, whose hidden
// `enricher describe` prints its commands, flags and the variables they read
// as JSON; against a real Postgres 15 (internal/pgtemp); against promtool;
// and against a fake Kafka Connect, a fake docker and a fake Maven.
package deploy

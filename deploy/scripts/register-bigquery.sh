#!/usr/bin/env bash
# Register the BigQuery sink, deploy/bigquery/connector.json, on the
# connect-bigquery worker of the compose profile `bigquery` (make
# register-bigquery).
#
#   deploy/scripts/register-bigquery.sh
#
# It first checks here, without calling Kafka Connect, what the connector
# needs and what a worker would only report once records fail: BQ_PROJECT and
# BQ_DATASET, and the service-account key that compose mounts into the
# worker. Each missing thing stops it with one line on stderr that names it
# and the fix. Then deploy/scripts/register-connectors.sh PUTs the config
# (create or update) and waits until the connector and its tasks are RUNNING.
#
# The worker resolves ${env:BQ_PROJECT} and ${env:BQ_DATASET} from its own
# environment, which compose copied from the shell that created the
# container: this shell's values are checked here, and they must be the ones
# the worker was started with (make up PROFILES=bigquery recreates it when
# they changed).
#
# Environment:
#   BQ_PROJECT            GCP project that holds the dataset
#   BQ_DATASET            dataset that holds the table processed_engagements
#   BQ_SECRETS_DIR        directory mounted on the worker's
#                         /etc/kafka-connect/secrets, holding
#                         bigquery-keyfile.json (default deploy/bigquery/secrets)
#   CONNECT_BIGQUERY_URL  the worker's REST API (default
#                         http://127.0.0.1:${CONNECT_BIGQUERY_HOST_PORT:-8084})
#   CONNECT_WAIT, RUNNING_WAIT  as for register-connectors.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
config=$root/deploy/bigquery/connector.json
secrets=${BQ_SECRETS_DIR:-$root/deploy/bigquery/secrets}
key=${secrets%/}/bigquery-keyfile.json
url=${CONNECT_BIGQUERY_URL:-http://127.0.0.1:${CONNECT_BIGQUERY_HOST_PORT:-8084}}

fail() {
  echo "register-bigquery: $1" >&2
  exit 1
}

restart="then (re)start the worker with it: make up PROFILES=bigquery"

# Project IDs: 6-30 characters, lowercase letters, digits and hyphens,
# starting with a letter; older ones may carry a domain ("example.com:p").
project_re='^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$'
dataset_re='^[A-Za-z0-9_]+$'

if [ -z "${BQ_PROJECT:-}" ]; then
  fail "BQ_PROJECT is not set: export BQ_PROJECT=<gcp-project-id>, $restart"
fi
if ! [[ $BQ_PROJECT =~ $project_re ]]; then
  fail "BQ_PROJECT='$BQ_PROJECT' is not a GCP project ID (6-30 lowercase letters, digits, hyphens): export the ID, not the project's name, $restart"
fi
if [ -z "${BQ_DATASET:-}" ]; then
  fail "BQ_DATASET is not set: export BQ_DATASET=<dataset> (the dataset of deploy/bigquery/processed_engagements.sql), $restart"
fi
if ! [[ $BQ_DATASET =~ $dataset_re ]]; then
  fail "BQ_DATASET='$BQ_DATASET' is not a BigQuery dataset ID (letters, digits, underscores): export the dataset's ID, $restart"
fi

get_key="create a JSON key for the service account (Google Cloud console: IAM, Service accounts, Keys, Add key, JSON) and save it as $key"
if [ -d "$key" ]; then
  fail "$key is a directory, not the key file: remove it (rmdir) and $get_key"
fi
if [ ! -e "$key" ]; then
  fail "no BigQuery key file at $key: $get_key (or point BQ_SECRETS_DIR at the directory holding bigquery-keyfile.json)"
fi
if [ ! -f "$key" ] || [ ! -r "$key" ]; then
  fail "cannot read the BigQuery key file $key: make it a readable file (chmod 644; the worker reads it as uid 1000)"
fi
# A JSON object: first and last non-blank characters are braces. Shell only,
# so that this runs wherever make does, without jq or Python.
squeezed=$(tr -d ' \t\r\n' <"$key")
case $squeezed in
  "{"*"}") ;;
  *) fail "$key is not a JSON key file (it does not hold one JSON object): $get_key" ;;
esac
if ! grep -Eq '"type"[[:space:]]*:[[:space:]]*"service_account"' "$key"; then
  fail "$key is not a service-account key (no \"type\": \"service_account\"): $get_key"
fi
for field in private_key client_email; do
  if ! grep -q "\"$field\"" "$key"; then
    fail "$key has no \"$field\": it is not a complete service-account key; $get_key"
  fi
done

CONNECT_URL=$url exec bash "$root/deploy/scripts/register-connectors.sh" "$config"

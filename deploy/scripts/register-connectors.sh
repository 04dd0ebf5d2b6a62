#!/usr/bin/env bash
# Create or update Kafka Connect connectors from JSON files, idempotently.
#
#   deploy/scripts/register-connectors.sh [CONFIG.json ...]
#
# Each file is a flat connector config holding its "name". It is sent with
# PUT /connectors/<name>/config, which creates the connector (201) or
# replaces its config (200), so running this again is safe. Then it waits
# until the connector and its tasks are RUNNING and fails, printing the
# status (with the task's stack trace), when one is FAILED.
#
# Without arguments: every debezium-connectors/*.json except the *-avro.json
# variants. Environment:
#   CONNECT_URL     Kafka Connect REST API (default http://127.0.0.1:8083)
#   CONNECT_WAIT    seconds to wait for the REST API to answer (default 120)
#   RUNNING_WAIT    seconds to wait for RUNNING after registering (default 60)
set -euo pipefail

connect=${CONNECT_URL:-http://127.0.0.1:8083}
connect=${connect%/}
connect_wait=${CONNECT_WAIT:-120}
running_wait=${RUNNING_WAIT:-60}

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  root=$(cd "$(dirname "$0")/../.." && pwd)
  for f in "$root"/debezium-connectors/*.json; do
    case $f in *-avro.json) continue ;; esac
    files+=("$f")
  done
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "register: no connector configs found" >&2
  exit 1
fi

waited=0
until curl -fsS -o /dev/null "$connect/connectors" 2>/dev/null; do
  if [ "$waited" -ge "$connect_wait" ]; then
    echo "register: Kafka Connect at $connect did not answer within ${connect_wait}s (is the connect service up? make ps; make logs SERVICES=connect)" >&2
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# states prints the "state" values of a status document: the connector's
# first, then one per task.
states() {
  grep -o '"state"[[:space:]]*:[[:space:]]*"[A-Z_]*"' | sed 's/.*"\([A-Z_]*\)"$/\1/'
}

for f in "${files[@]}"; do
  name=$(sed -n 's/^[[:space:]]*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | head -n 1)
  if [ -z "$name" ]; then
    echo "register: $f has no \"name\"" >&2
    exit 1
  fi
  code=$(curl -sS -o "$body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary "@$f" "$connect/connectors/$name/config")
  case $code in
    201) echo "register: $name created from $f" ;;
    200) echo "register: $name updated from $f" ;;
    *)
      echo "register: PUT $connect/connectors/$name/config answered $code:" >&2
      cat "$body" >&2
      echo >&2
      exit 1
      ;;
  esac

  waited=0
  while :; do
    status=$(curl -sS "$connect/connectors/$name/status" 2>/dev/null || true)
    all=$(printf '%s' "$status" | states | tr '\n' ' ')
    case " $all " in
      *" FAILED "*)
        echo "register: $name FAILED:" >&2
        printf '%s\n' "$status" >&2
        echo "register: fix the cause (README-operations.md, Troubleshooting), then: curl -X POST '$connect/connectors/$name/restart?includeTasks=true&onlyFailed=true'" >&2
        exit 1
        ;;
    esac
    # Done when the connector and at least one task are all RUNNING.
    n=0
    other=0
    for s in $all; do
      n=$((n + 1))
      [ "$s" = RUNNING ] || other=$((other + 1))
    done
    if [ "$n" -ge 2 ] && [ "$other" -eq 0 ]; then
      echo "register: $name RUNNING ($all)"
      break
    fi
    if [ "$waited" -ge "$running_wait" ]; then
      echo "register: $name not RUNNING after ${running_wait}s: ${status:-no status}" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
done

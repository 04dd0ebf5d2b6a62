#!/usr/bin/env bash
# Wait until every container of the compose project is ready:
#   healthy              when it has a healthcheck,
#   running              when it has none,
#   exited with code 0   for one-off jobs (backfill).
# Fails at once on a container that is unhealthy or exited non-zero, and
# after UP_TIMEOUT seconds (default 300) otherwise, printing what it waited for.
#
#   COMPOSE="docker compose --profile sinks" deploy/scripts/wait-healthy.sh
set -euo pipefail

read -r -a compose <<<"${COMPOSE:-docker compose}"
timeout=${UP_TIMEOUT:-300}
waited=0

while :; do
  mapfile -t ids < <("${compose[@]}" ps -q)
  if [ ${#ids[@]} -eq 0 ]; then
    echo "wait: no containers; did '${compose[*]} up' fail?" >&2
    exit 1
  fi
  pending=()
  for id in "${ids[@]}"; do
    # A container removed meanwhile (compose recreating it) is looked at next round.
    if ! read -r name state health code < <(docker inspect -f \
      '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id" 2>/dev/null); then
      pending+=("$id(gone)")
      continue
    fi
    name=${name#/}
    case "$state/$health" in
      running/healthy | running/none) ;;
      exited/*)
        if [ "$code" != 0 ]; then
          echo "wait: $name exited with code $code; its last lines:" >&2
          docker logs --tail 30 "$id" >&2 || true
          exit 1
        fi
        ;;
      */unhealthy)
        echo "wait: $name is unhealthy; its last lines:" >&2
        docker logs --tail 30 "$id" >&2 || true
        exit 1
        ;;
      *) pending+=("$name($state/$health)") ;;
    esac
  done
  if [ ${#pending[@]} -eq 0 ]; then
    echo "wait: all ${#ids[@]} containers ready"
    exit 0
  fi
  if [ "$waited" -ge "$timeout" ]; then
    echo "wait: not ready after ${timeout}s: ${pending[*]}" >&2
    exit 1
  fi
  sleep 3
  waited=$((waited + 3))
done

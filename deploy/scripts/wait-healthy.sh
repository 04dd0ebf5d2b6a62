#!/usr/bin/env bash
# Wait until every container of the compose project is ready:
#   healthy              when it has a healthcheck,
#   running              when it has none,
#   exited with code 0   for one-off jobs (backfill).
# Fails at once on a container that is unhealthy or exited non-zero, and
# after UP_TIMEOUT seconds (default 300) otherwise, printing what it waited for.
#
#   COMPOSE="docker compose --profile sinks" deploy/scripts/wait-healthy.sh
#
# Runs on macOS's bash 3.2: no mapfile, no associative arrays, and empty
# arrays only expanded behind a length check (set -u rejects them there).
set -euo pipefail

read -r -a compose <<<"${COMPOSE:-docker compose}"
timeout=${UP_TIMEOUT:-300}
waited=0

while :; do
  # -a: Compose v2's `ps` lists running containers only, so without it a
  # service that crashed (or a job that finished) would simply vanish from
  # the list and never be reported. docker-compose 1.29 accepts -a too.
  if ! ids=$("${compose[@]}" ps -a -q); then
    echo "wait: '${compose[*]} ps -a -q' failed; is this the directory of docker-compose.yml?" >&2
    exit 1
  fi
  total=0
  pending=()
  for id in $ids; do
    # A container removed meanwhile (compose recreating it) is looked at next round.
    if ! line=$(docker inspect -f \
      '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}} {{index .Config.Labels "com.docker.compose.oneoff"}}' \
      "$id" 2>/dev/null); then
      pending+=("$id(gone)")
      total=$((total + 1))
      continue
    fi
    read -r name state health code oneoff <<<"$line"
    # `docker compose run` leaves its containers behind unless --rm: an old
    # failed run is no part of what `up` started, and must not fail it.
    if [ "${oneoff:-}" = True ]; then
      continue
    fi
    total=$((total + 1))
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
  if [ "$total" -eq 0 ]; then
    echo "wait: no containers; did '${compose[*]} up' fail?" >&2
    exit 1
  fi
  if [ ${#pending[@]} -eq 0 ]; then
    echo "wait: all $total containers ready"
    exit 0
  fi
  if [ "$waited" -ge "$timeout" ]; then
    echo "wait: not ready after ${timeout}s: ${pending[*]}" >&2
    exit 1
  fi
  sleep 3
  waited=$((waited + 3))
done

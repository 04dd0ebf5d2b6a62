#!/usr/bin/env bash
# Check that `make TARGET` can reach Docker before compose runs.
#
#   deploy/scripts/need-docker.sh TARGET [COMPOSE...]
#
# TARGET names the make target in the message; COMPOSE is the compose command
# the Makefile chose ("docker compose" or "docker-compose"). Exits 0, silent,
# when the docker command is on PATH, an engine answers `docker info`, and
# COMPOSE answers `version`. Otherwise prints ONE line on stderr saying what is
# missing and how to fix it, and exits 1: without an engine docker-compose 1.29
# would print a 100-line Python traceback instead.
#   DOCKER_INFO_TIMEOUT  seconds `docker info` may take (default 20)
set -euo pipefail

target=${1:-up}
if [ $# -gt 0 ]; then shift; fi
compose=("$@")

fail() {
  echo "make $target: $1, or run 'make demo' for the pipeline without Docker" >&2
  exit 1
}

limit=()
if command -v timeout >/dev/null 2>&1; then
  limit=(timeout "${DOCKER_INFO_TIMEOUT:-20}")
fi

if ! command -v docker >/dev/null 2>&1; then
  fail "no docker command on PATH: install Docker Engine (https://docs.docker.com/engine/install/) and start it"
fi
if ! ${limit[@]+"${limit[@]}"} docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; then
  fail "no Docker engine answers (docker info failed): install Docker Engine and start it"
fi
if [ ${#compose[@]} -gt 0 ] && ! ${limit[@]+"${limit[@]}"} "${compose[@]}" version >/dev/null 2>&1; then
  fail "no compose client ('${compose[*]} version' failed): install the Docker Compose plugin or docker-compose 1.29+"
fi

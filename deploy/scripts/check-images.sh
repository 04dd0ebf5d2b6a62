#!/usr/bin/env bash
# Check that every image the stack pulls exists in its registry: run it before
# the first `make up`, and after changing a tag.
#
#   deploy/scripts/check-images.sh          one line per image, then a summary
#   deploy/scripts/check-images.sh --list   the image references only, one a line
#
# The images: `image:` of every service in docker-compose.yml and
# deploy/compose.*.yml, whatever its profile (${VAR:-default} read as its
# default), and the FROM lines of every Dockerfile in the repository (global
# ARG defaults substituted). Images built here (a mapping with both build: and
# image:, whose image: only names the result) and build stages are skipped.
#
# Each is looked up with `docker manifest inspect`, which needs the docker CLI
# and access to the registries, not a Docker engine.
#   CHECK_IMAGES_TIMEOUT  seconds one lookup may take (default 30)
#   CHECK_IMAGES_ROOT     the repository to read (default: this script's)
# Exit status: 0 every image found; 1 one or more missing (or the check cannot
# run); 2 none missing, but some could not be looked up (network, registry).
#
# Runs on macOS's bash 3.2 and BWK awk: no associative arrays, no gawk-isms.
set -euo pipefail

list_only=false
case "${1:-}" in
  --list) list_only=true ;;
  "") ;;
  *)
    echo "check-images: unknown argument '$1'; usage: $0 [--list]" >&2
    exit 1
    ;;
esac

root=${CHECK_IMAGES_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

# images_in_compose FILE: "REF<TAB>FILE" for the image: of every service (and
# of every top-level x- extension, which services merge), unless its mapping
# also has build:. Variables read as their defaults, as with none set.
images_in_compose() {
  awk -v src="$1" '
    function defaults(s,   out, i, name) {
      out = ""
      while ((i = index(s, "${")) > 0) {
        out = out substr(s, 1, i - 1)
        s = substr(s, i + 2)
        i = index(s, "}")
        if (i == 0) return out "${" s
        name = substr(s, 1, i - 1)
        s = substr(s, i + 1)
        if (match(name, /:?-/)) out = out substr(name, RSTART + RLENGTH)
      }
      return out s
    }
    # flush(upto): the mappings indented deeper than upto have ended.
    function flush(upto,   i) {
      for (i = maxindent; i > upto; i--) {
        if (img[i] != "" && !build[i]) print img[i] "\t" src
        img[i] = ""; build[i] = 0
      }
      if (upto < maxindent) maxindent = upto
    }
    /^[ \t]*(#|$)/ { next }
    {
      match($0, /^ */)
      indent = RLENGTH
      flush(indent)
      if (indent > maxindent) maxindent = indent
      line = substr($0, indent + 1)
      if (line !~ /^[^ #:-][^:]*:([ \t]|$)/) next
      key = substr(line, 1, index(line, ":") - 1)
      while (depth > 0 && at[depth] >= indent) depth--
      depth++; at[depth] = indent; keys[depth] = key
      if (key == "build") build[indent] = 1
      if (key != "image") next
      if (!(depth == 3 && keys[1] == "services") && !(depth == 2 && keys[1] ~ /^x-/)) next
      v = line
      sub(/^image:[ \t]*/, "", v)
      sub(/[ \t]+#.*$/, "", v)
      sub(/[ \t]+$/, "", v)
      gsub(/^["\047]|["\047]$/, "", v)
      img[indent] = defaults(v)
    }
    END { flush(-1) }
  ' "$1"
}

# images_in_dockerfile FILE: "REF<TAB>FILE" for every FROM that pulls.
images_in_dockerfile() {
  awk -v src="$1" '
    # expand: ${NAME}, ${NAME:-default}, ${NAME-default} and $NAME from the
    # global ARGs (those before the first FROM), as docker build does.
    function expand(s,   out, name, rest, dflt, i) {
      out = ""
      while ((i = index(s, "$")) > 0) {
        out = out substr(s, 1, i - 1)
        s = substr(s, i + 1)
        if (substr(s, 1, 1) == "{") {
          i = index(s, "}")
          if (i == 0) { out = out "${" ; s = substr(s, 2); continue }
          name = substr(s, 2, i - 2)
          s = substr(s, i + 1)
          dflt = ""
          if (match(name, /:?-/)) {
            dflt = substr(name, RSTART + RLENGTH)
            name = substr(name, 1, RSTART - 1)
          }
          out = out (((name in arg) && arg[name] != "") ? arg[name] : dflt)
        } else if (match(s, /^[A-Za-z_][A-Za-z0-9_]*/)) {
          name = substr(s, 1, RLENGTH)
          s = substr(s, RLENGTH + 1)
          out = out ((name in arg) ? arg[name] : "")
        } else {
          out = out "$"
        }
      }
      return out s
    }
    { sub(/\r$/, "") }
    /^[ \t]*#/ { next }
    !seen_from && toupper($1) == "ARG" {
      for (k = 2; k <= NF; k++) {
        name = $k; value = ""
        if ((i = index(name, "=")) > 0) {
          value = substr(name, i + 1)
          name = substr(name, 1, i - 1)
          gsub(/^["\047]|["\047]$/, "", value)
        }
        arg[name] = value
      }
      next
    }
    toupper($1) == "FROM" {
      seen_from = 1
      k = 2
      while (k <= NF && substr($k, 1, 2) == "--") k++
      if (k > NF) next
      ref = expand($k)
      if (k + 2 <= NF && toupper($(k + 1)) == "AS") stage[tolower($(k + 2))] = 1
      if (tolower(ref) == "scratch" || (tolower(ref) in stage)) next
      print ref "\t" src
    }
  ' "$1"
}

collect() {
  local f
  for f in docker-compose.yml deploy/compose.*.yml deploy/compose.*.yaml; do
    [ -f "$f" ] && images_in_compose "$f"
  done
  find . \( -name .git -o -name node_modules -o -name testdata \) -prune -o -type f \
    \( -name Dockerfile -o -name '*.Dockerfile' -o -name 'Dockerfile.*' \) ! -name '*.dockerignore' -print |
    sed 's|^\./||' | LC_ALL=C sort |
    while IFS= read -r f; do images_in_dockerfile "$f"; done
}

# "REF<TAB>FILE, FILE" once per reference, sorted.
found=$(collect | LC_ALL=C sort -u | awk -F '\t' '
  $1 == prev { srcs = srcs ", " $2; next }
  { if (prev != "") print prev "\t" srcs; prev = $1; srcs = $2 }
  END { if (prev != "") print prev "\t" srcs }
')
if [ -z "$found" ]; then
  echo "check-images: no image found in $root (docker-compose.yml, deploy/compose.*.yml, Dockerfiles); run it from the repository" >&2
  exit 1
fi

if $list_only; then
  printf '%s\n' "$found" | cut -f 1
  exit 0
fi

if ! command -v docker >/dev/null 2>&1; then
  echo "check-images: no docker command on PATH: install the Docker CLI (https://docs.docker.com/engine/install/); it needs no engine, only access to the registries" >&2
  exit 1
fi

limit=${CHECK_IMAGES_TIMEOUT:-30}
# with_limit CMD...: CMD, killed after $limit seconds (exit 124 or 142).
# macOS has no timeout(1); perl's alarm survives the exec.
with_limit() {
  if command -v timeout >/dev/null 2>&1; then
    timeout "$limit" "$@"
  elif command -v perl >/dev/null 2>&1; then
    perl -e 'alarm shift; exec @ARGV or exit 127' "$limit" "$@"
  else
    "$@"
  fi
}

errfile=$(mktemp "${TMPDIR:-/tmp}/check-images.XXXXXX")
trap 'rm -f "$errfile"' EXIT

total=0 ok=0 missing=0 failed=0 missing_refs=""
while IFS="$(printf '\t')" read -r ref srcs; do
  total=$((total + 1))
  status=0
  # DOCKER_CLI_EXPERIMENTAL: docker before 20.10 hides `manifest` without it.
  DOCKER_CLI_EXPERIMENTAL=enabled with_limit docker manifest inspect "$ref" >/dev/null 2>"$errfile" </dev/null || status=$?
  why=$(tr '\n' ' ' <"$errfile" | sed 's/[[:space:]]*$//')
  lower=$(printf '%s' "$why" | tr '[:upper:]' '[:lower:]')
  if [ "$status" -eq 0 ]; then
    ok=$((ok + 1))
    echo "ok       $ref ($srcs)"
  elif [ "$status" -eq 124 ] || [ "$status" -eq 142 ]; then
    failed=$((failed + 1))
    echo "error    $ref ($srcs): no answer within ${limit}s"
  else
    case "$lower" in
      *"no such manifest"* | *"manifest unknown"* | *"not found"*)
        missing=$((missing + 1)) missing_refs="$missing_refs $ref"
        echo "missing  $ref ($srcs): ${why:-exit $status}"
        ;;
      *denied* | *unauthorized*)
        missing=$((missing + 1)) missing_refs="$missing_refs $ref"
        echo "missing  $ref ($srcs): no such repository, or a private one: ${why}"
        ;;
      *)
        failed=$((failed + 1))
        echo "error    $ref ($srcs): ${why:-docker manifest inspect exited $status}"
        ;;
    esac
  fi
done <<EOF
$found
EOF

if [ "$missing" -gt 0 ]; then
  echo "check-images: $missing of $total images missing:$missing_refs; fix the tag (or the registry) before make up" >&2
  exit 1
fi
if [ "$failed" -gt 0 ]; then
  echo "check-images: $ok of $total images found, $failed could not be looked up; check the network and the registry's status, then run it again" >&2
  exit 2
fi
echo "check-images: all $total images found"

#!/usr/bin/env bash
# Downloads Confluent's Avro converter and every jar it needs into one Kafka
# Connect plugin directory, each checked against the SHA-1 its repository
# publishes. The Dockerfile beside this script runs it at build time with its
# ARGs as the versions; deploy/connect_avro_test.go runs it against a fake
# repository.
#
#   DEST=/kafka/connect/debezium-connector-postgres \
#   CONFLUENT_REPO=https://packages.confluent.io/maven MAVEN_CENTRAL=https://repo1.maven.org/maven2 \
#   CONFLUENT_VERSION=7.7.1 AVRO_VERSION=1.11.3 ... install-jars.sh
#
# Nothing is written to DEST until every jar has arrived and matched its
# checksum, so a failed build never leaves half a converter behind.
set -euo pipefail

fail() {
  echo "install-jars: $*" >&2
  exit 1
}

for name in DEST CONFLUENT_REPO MAVEN_CENTRAL CONFLUENT_VERSION AVRO_VERSION COMMONS_COMPRESS_VERSION \
  GUAVA_VERSION FAILUREACCESS_VERSION JACKSON_VERSION SNAKEYAML_VERSION SWAGGER_ANNOTATIONS_VERSION \
  SLF4J_VERSION LOGREDACTOR_VERSION MINIMAL_JSON_VERSION RE2J_VERSION; do
  if [ -z "${!name:-}" ]; then
    fail "$name is not set: run this through deploy/connect-avro/Dockerfile, whose ARGs set it"
  fi
done
if [ ! -d "$DEST" ]; then
  fail "no directory $DEST: the base image no longer has the PostgreSQL connector there; fix FROM or DEST in deploy/connect-avro/Dockerfile"
fi

if command -v sha1sum >/dev/null 2>&1; then
  sha1_of() { sha1sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha1_of() { shasum -a 1 "$1" | cut -d' ' -f1; }
else
  fail "neither sha1sum nor shasum is installed: install coreutils"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One jar a line: repository, group path, artifact, version. The set is the
# one Debezium 2.7's Avro documentation lists; the versions are the ones
# Confluent's poms at the converter's release tag resolve to.
jars="
$CONFLUENT_REPO io/confluent kafka-connect-avro-converter $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent kafka-connect-avro-data $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent kafka-avro-serializer $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent kafka-schema-serializer $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent kafka-schema-converter $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent kafka-schema-registry-client $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent common-config $CONFLUENT_VERSION
$CONFLUENT_REPO io/confluent common-utils $CONFLUENT_VERSION
$MAVEN_CENTRAL org/apache/avro avro $AVRO_VERSION
$MAVEN_CENTRAL org/apache/commons commons-compress $COMMONS_COMPRESS_VERSION
$MAVEN_CENTRAL com/google/guava guava $GUAVA_VERSION
$MAVEN_CENTRAL com/google/guava failureaccess $FAILUREACCESS_VERSION
$MAVEN_CENTRAL com/fasterxml/jackson/core jackson-databind $JACKSON_VERSION
$MAVEN_CENTRAL com/fasterxml/jackson/core jackson-core $JACKSON_VERSION
$MAVEN_CENTRAL com/fasterxml/jackson/core jackson-annotations $JACKSON_VERSION
$MAVEN_CENTRAL com/fasterxml/jackson/dataformat jackson-dataformat-csv $JACKSON_VERSION
$MAVEN_CENTRAL org/yaml snakeyaml $SNAKEYAML_VERSION
$MAVEN_CENTRAL io/swagger/core/v3 swagger-annotations $SWAGGER_ANNOTATIONS_VERSION
$MAVEN_CENTRAL org/slf4j slf4j-api $SLF4J_VERSION
$MAVEN_CENTRAL io/confluent logredactor $LOGREDACTOR_VERSION
$MAVEN_CENTRAL io/confluent logredactor-metrics $LOGREDACTOR_VERSION
$MAVEN_CENTRAL com/eclipsesource/minimal-json minimal-json $MINIMAL_JSON_VERSION
$MAVEN_CENTRAL com/google/re2j re2j $RE2J_VERSION
"

count=0
while read -r repo group artifact version; do
  if [ -z "$repo" ]; then continue; fi
  jar="$artifact-$version.jar"
  url="$repo/$group/$artifact/$version/$jar"

  # Two versions of one library in one plugin directory would load in an
  # order nobody chose.
  for have in "$DEST"/*.jar; do
    [ -e "$have" ] || continue
    case "${have##*/}" in
      "$jar") ;;
      "$artifact"-[0-9]*) fail "$DEST already has ${have##*/}; this would add $jar beside it: align the version ARG with it" ;;
    esac
  done

  if ! err=$(curl -fsSL --retry 3 -o "$tmp/$jar" "$url" 2>&1); then
    fail "cannot download $url (${err//$'\n'/ }): check the version ARG and that the build can reach the repository"
  fi
  if ! want=$(curl -fsSL --retry 3 "$url.sha1" 2>"$tmp/curl.err"); then
    err=$(cat "$tmp/curl.err")
    fail "cannot download $url.sha1 (${err//$'\n'/ }): the repository publishes one for every jar; check the network"
  fi
  # A .sha1 file holds the hash, sometimes followed by the file name.
  want=$(printf '%s' "$want" | tr -d '\r' | cut -c1-40 | tr 'A-F' 'a-f')
  if ! [[ $want =~ ^[0-9a-f]{40}$ ]]; then
    fail "$url.sha1 holds no SHA-1: is $repo a Maven repository?"
  fi
  got=$(sha1_of "$tmp/$jar")
  if [ "$got" != "$want" ]; then
    fail "$jar has SHA-1 $got but $url.sha1 says $want: a corrupted or tampered download; build again, and if it repeats, do not use this mirror"
  fi
  count=$((count + 1))
done <<EOF
$jars
EOF

# The class the -avro connector config names must be in the image. A jar's
# entry names are stored uncompressed, so grep finds them without unzip.
converter="$tmp/kafka-connect-avro-converter-$CONFLUENT_VERSION.jar"
if ! grep -q -a 'io/confluent/connect/avro/AvroConverter.class' "$converter"; then
  fail "${converter##*/} has no io/confluent/connect/avro/AvroConverter.class: debezium-connectors/thmanyah-postgres-avro.json could not start"
fi

mv "$tmp"/*.jar "$DEST"/
echo "install-jars: $count jars in $DEST, each matching its repository's SHA-1"

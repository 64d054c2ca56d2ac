#!/usr/bin/env bash
# The real Kafka clients of the compatibility suite (test/kafka/compat/): kcat (librdkafka), from
# the distribution's packages when missing and this is root on a Debian-like machine; and the Java
# client program (test/kafka/compat/java/), built once with Maven for every kafka-clients version
# it is tested with. Without root or apt-get, kcat's tests say why and skip (and fail under CI=true
# as root, where this script must have installed it); without Java 17 or Maven the Java tests do
# the same.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! command -v kcat >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "kafka-clients: kcat missing and not installable here (needs root and apt-get): its compatibility tests will skip" >&2
  else
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends kcat >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends kcat >/dev/null 2>&1; } ||
      echo "kafka-clients: installing kcat failed: its compatibility tests will skip" >&2
  fi
fi
# The Java program: one Maven build, every kafka-clients version (pom.xml). Maven's repository is
# ~/.m2 unless MAVEN_REPO says otherwise (a fresh one measures a cold build).
if command -v mvn >/dev/null && command -v java >/dev/null; then
  started=$(date +%s)
  repo=()
  [ -n "${MAVEN_REPO:-}" ] && repo=("-Dmaven.repo.local=$MAVEN_REPO")
  if mvn -q -B "${repo[@]}" -f test/kafka/compat/java/pom.xml compile >&2; then
    echo "kafka-clients: the Java client program built in $(($(date +%s) - started)) s" >&2
  else
    echo "kafka-clients: building the Java client program failed" >&2
    exit 1
  fi
else
  echo "kafka-clients: java or mvn missing: the Java compatibility tests will skip" >&2
fi
exit 0

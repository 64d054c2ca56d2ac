#!/usr/bin/env bash
# CI: the test suite on the other Node.js versions the README promises. `npm test` has already run
# it on the machine's Node (20); this runs it again on each version below, a prebuilt binary from
# the npm registry's node-linux-<arch> package, pinned. The build and node_modules are reused:
# tsc's output does not depend on the Node that runs it, and the native dependency
# (@node-rs/crc32) is N-API, so it loads on any of these versions. The Node under test goes first
# on PATH, so whatever the tests start (`process.execPath`, `node`, `npm`, `npx`, the `weir`
# shebang) runs on it too.
# It leaves out test/sim/**: the Raft simulations there are pure deterministic computation (tens
# of seconds each, on no I/O or Node API that differs between versions), already run once by
# `npm test`; running them twice would take CI's two cores near its time limit. It leaves out
# test/kafka/compat/** too: real Kafka clients (kcat, the JVM) whose time is theirs, not Node's,
# against the same broker code that test/kafka/listener.test.ts runs on every version. And it
# leaves out the in-process three-broker clusters (test/{broker,client}/cluster-*, test/kafka/
# cluster): the replication, controller and group failover logic on top of the same Node APIs;
# they run under Node 20, and on every version the real-process cluster tests (test/faults/**,
# test/cli/cluster-*) still run brokers replicating over gRPC. Without them CI stays under its
# 20 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSIONS=(24.22.3) # Node 24, the active LTS

arch=$(node -p process.arch)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for version in "${VERSIONS[@]}"; do
  npm install --prefix "$tmp/$version" --no-save --no-package-lock --no-audit --no-fund --loglevel error \
    "node-linux-$arch@$version"
  bin="$tmp/$version/node_modules/node-linux-$arch/bin"
  if [ "$(PATH="$bin:$PATH" node --version)" != "v$version" ]; then
    echo "node-versions: $bin/node is not Node $version" >&2
    exit 1
  fi
  echo "== the test suite on Node v$version, without test/sim/**, test/kafka/compat/** and the in-process clusters"
  PATH="$bin:$PATH" node node_modules/vitest/vitest.mjs run --exclude 'test/sim/**' --exclude 'test/kafka/compat/**' \
    --exclude 'test/broker/cluster-*.test.ts' --exclude 'test/client/cluster-*.test.ts' \
    --exclude 'test/kafka/cluster.test.ts'
done

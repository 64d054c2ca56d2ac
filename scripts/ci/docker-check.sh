#!/usr/bin/env bash
# CI: the Dockerfile and docker-compose.yml for real. Builds the image, starts the three brokers of
# docker-compose.yml, waits until their published /v1/cluster agree on a controller and every
# container is healthy, kills the controller's container and checks the other two elect another,
# then removes the containers and their volumes (always, on any exit).
#
# No image registry need be reachable: the base image is made here with `docker import` from this
# machine's own node and npm, the libraries `ldd` lists for them, a shell and a few tools, and
# /etc/ssl/certs (so npm in the build stage trusts a TLS-intercepting proxy's CA, if the machine
# has one). It installs Debian's docker.io and docker-compose when they are missing and starts
# dockerd when it is not running (it leaves it running), which takes root and apt-get. Without
# them (or where dockerd cannot start) it skips, saying why on a line of its own, and exits 0;
# with WEIR_REQUIRE_DOCKER=1 it fails instead. Once Docker runs, any failure of the check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROJECT=weircheck
IMAGE=weir:local
HTTP_PORTS=(19094 19194 19294) # weir-1..3's published HTTP ports, as docker-compose.yml has them
BOOTSTRAP=127.0.0.1:19093,127.0.0.1:19193,127.0.0.1:19293 # and their gRPC ports
RECORDS=300
started=$SECONDS

say() { echo "docker-check [$((SECONDS - started)) s]: $*" >&2; }
cannot() {
  if [ "${WEIR_REQUIRE_DOCKER:-}" = 1 ]; then
    say "cannot run: $1"
    exit 1
  fi
  say "SKIPPED, the Dockerfile and docker-compose.yml were not checked: $1"
  exit 0
}

# --- Docker itself ----------------------------------------------------------------------------
need_install=()
command -v dockerd >/dev/null || need_install+=(docker.io)
command -v docker-compose >/dev/null || need_install+=(docker-compose)
if [ ${#need_install[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || cannot "${need_install[*]} missing, and installing them takes root"
  command -v apt-get >/dev/null || cannot "${need_install[*]} missing, and there is no apt-get to install them"
  say "installing ${need_install[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need_install[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need_install[@]}" >/dev/null; }
fi
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || cannot "dockerd is not reachable (not running, or no permission on its socket), and starting it takes root"
  say "starting dockerd (log: /var/log/weir-dockerd.log)"
  nohup dockerd >/var/log/weir-dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/weir-dockerd.log >&2; cannot "dockerd did not start within 30 s"; }
fi
# The classic builder: it needs no buildx plugin, and a BuildKit frontend could want a registry.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
say "docker $(docker version -f '{{.Server.Version}}'), $(docker-compose version --short)"

# --- The base image: this machine's node as a stand-in for node:20-bookworm-slim ---------------
root=$(mktemp -d)
compose() { docker-compose -p "$PROJECT" "$@"; }
finish() {
  status=$?
  if [ $status -ne 0 ] && [ -n "${up:-}" ]; then compose logs --no-color --tail 30 >&2 || true; fi
  if [ -n "${up:-}" ]; then compose down -v --remove-orphans >/dev/null 2>&1 || true; fi
  rm -rf "$root"
  [ $status -eq 0 ] && say "passed" || say "FAILED"
  exit $status
}
trap finish EXIT

node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
# Named after what goes in, so a later run reuses it and with it Docker's build cache; a new node,
# npm or CA bundle makes a new one.
# The libraries the native addons in node_modules link to go in too (lz4-napi needs librt, which
# node itself does not): the official image has the whole C library, this stand-in only what is
# listed. ldd skips an addon built for another platform.
addon_libs=$(find node_modules -name '*.node' -type f -print0 | xargs -0 -r -n1 ldd 2>/dev/null |
  grep -o '/[^ :]*' | sort -u || true)
inputs=$( (cat "$node_bin" "$npm_dir/package.json" /etc/ssl/certs/ca-certificates.crt; echo "$addon_libs") |
  sha256sum | cut -c1-12)
BASE_IMAGE=weir-node-base:$(node --version)-$inputs

make_base() {
  tools=("$node_bin" /bin/sh /usr/bin/env /bin/mkdir /bin/chown)
  # shellcheck disable=SC2086 # one path per word
  for f in "${tools[@]}" $( (ldd "${tools[@]}" | grep -o '/[^ :]*'; echo $addon_libs) | sort -u); do
    cp --parents -L "$f" "$root"
  done
  mkdir -p "$root/usr/bin" "$root/usr/lib/node_modules" "$root/tmp" "$root/root" "$root/home/node" "$root/etc/ssl"
  cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  # `#!/usr/bin/env node` scripts (npm, tsc) find node on PATH, wherever this machine keeps it.
  [ -e "$root/usr/bin/node" ] || ln -s "$node_bin" "$root/usr/bin/node"
  cp -rL /etc/ssl/certs "$root/etc/ssl/certs"
  chmod 1777 "$root/tmp"
  chown 1000:1000 "$root/home/node"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$BASE_IMAGE" >/dev/null
  say "base image $BASE_IMAGE made: node $(node --version), npm $(npm --version), $(du -sh "$root" | cut -f1)"
}
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then say "base image $BASE_IMAGE reused"; else make_base; fi

# --- The weir image and the cluster ------------------------------------------------------------
docker build -q -t "$IMAGE" --build-arg NODE_IMAGE="$BASE_IMAGE" \
  --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt . >/dev/null
say "image $IMAGE built"
[ "$(docker run --rm --entrypoint node "$IMAGE" -p 'process.getuid()')" != 0 ] || { say "the image runs as root"; exit 1; }

up=1
WEIR_IMAGE=$IMAGE compose up -d --no-build 2>&1 | grep -v '^Creating' >&2 || true
[ "$(compose ps -q | wc -l)" = 3 ] || { say "docker-compose did not start three containers"; exit 1; }

# The controller every reachable broker reports ("1 1 1"; -1 none yet, x unreachable).
controllers() {
  # The timer holds node up: it can otherwise run out of work with a fetch to a port that
  # docker-proxy accepted unsettled, and exit printing nothing.
  node -e '
    const hold = setTimeout(() => {}, 5000);
    const ask = (port) => fetch(`http://127.0.0.1:${port}/v1/cluster`, { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json()).then((b) => b.controllerId, () => "x");
    Promise.all(process.argv.slice(1).map(ask)).then((ids) => { clearTimeout(hold); console.log(ids.join(" ")); });
  ' "$@"
}
# Waits up to $1 seconds for the brokers on the HTTP ports after it to agree on a controller other
# than $EXCEPT; prints its id.
agreed() {
  local limit=$1 ids first
  shift
  local deadline=$((SECONDS + limit))
  while [ $SECONDS -lt $deadline ]; do
    read -r -a ids <<<"$(controllers "$@")"
    first=${ids[0]:-none}
    if [[ $first =~ ^[0-9]+$ ]] && [ "$first" != "${EXCEPT:-}" ]; then
      local same=1
      for id in "${ids[@]}"; do [ "$id" = "$first" ] || same=0; done
      [ $same = 1 ] && { echo "$first"; return 0; }
    fi
    sleep 0.5
  done
  say "no agreed controller within $limit s: ${ids[*]:-no answer}"
  return 1
}

first=$(agreed 90 "${HTTP_PORTS[@]}")
say "the three brokers agree: controller $first"
containers=$(compose ps -q)
deadline=$((SECONDS + 60))
while :; do
  # shellcheck disable=SC2086 # one id per word
  healthy=$(docker inspect -f '{{.State.Health.Status}}' $containers | grep -c '^healthy$' || true)
  [ "$healthy" = 3 ] && break
  [ $SECONDS -lt $deadline ] || { say "only $healthy of 3 containers healthy after 60 s"; exit 1; }
  sleep 1
done
say "all three containers healthy"

# A topic replicated on all three, written with acks=all (a majority holds each record when it is
# acknowledged) through the published ports, before one broker is killed.
weir() { node dist/client/cli/bin.js "$@"; }
[ -f dist/client/cli/bin.js ] || { say "dist/ is missing: run npm run build first"; exit 1; }
weir topic create checked --partitions 3 --replication-factor 3 --bootstrap "$BOOTSTRAP" >/dev/null
seq 1 "$RECORDS" | sed 's/^/record-/' | weir produce checked --acks all --bootstrap "$BOOTSTRAP"
say "$RECORDS records produced with acks=all to a topic of replication factor 3"

compose kill "weir-$first" 2>/dev/null
rest=()
for i in 1 2 3; do [ "$i" = "$first" ] || rest+=("${HTTP_PORTS[i - 1]}"); done
second=$(EXCEPT=$first agreed 60 "${rest[@]}")
say "weir-$first killed: the other two agree on controller $second"

# Everything acknowledged is read back from the two left, each record once.
read=$(weir consume checked --from-beginning --count "$RECORDS" --bootstrap "$BOOTSTRAP" | sort)
expected=$(seq 1 "$RECORDS" | sed 's/^/record-/' | sort)
if [ "$read" != "$expected" ]; then
  say "read back $(echo "$read" | grep -c . || true) records, not the $RECORDS acknowledged:"
  diff <(echo "$expected") <(echo "$read") | head -20 >&2
  exit 1
fi
say "all $RECORDS records read back from the two brokers left"

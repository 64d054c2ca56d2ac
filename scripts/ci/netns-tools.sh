#!/usr/bin/env bash
# The tools the network-partition fault tests use (test/faults: ip netns, nft, iptables), installed
# when missing and this is root on a Debian-like machine. Without them (or without root) those tests
# say why and skip; nothing else needs them.
set -uo pipefail
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v nft >/dev/null || missing+=(nftables)
command -v iptables >/dev/null || missing+=(iptables)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "netns-tools: ${missing[*]} missing and not installable here (needs root and apt-get): the network-partition fault tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } ||
  echo "netns-tools: installing ${missing[*]} failed: the network-partition fault tests will skip" >&2
exit 0

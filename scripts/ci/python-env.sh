#!/usr/bin/env bash
# CI: a Python with grpcio, grpcio-tools and protobuf at the pinned versions below, for
# scripts/ci/codegen.sh and the Python client test (test/contract/python-client.test.ts, which
# runs $WEIR_PYTHON). Prints that interpreter's path on stdout, the only thing it prints there:
#   export WEIR_PYTHON=$(bash scripts/ci/python-env.sh)
# Where it installs, in order:
#   - the active virtualenv ($VIRTUAL_ENV), if there is one;
#   - else a virtualenv of its own, made with `python3 -m venv` under $WEIR_VENV_DIR (default
#     ~/.cache/weir/python-grpc-<version>) and reused by later runs. A system Python (Debian's,
#     Ubuntu's) refuses `pip install` outside a virtualenv (PEP 668, "externally-managed-environment");
#   - else, where venv is missing (Debian without python3-venv), `pip install --user`, adding
#     --break-system-packages when that Python is marked EXTERNALLY-MANAGED: --user installs
#     never touch the system's packages.
# $PYTHON names the base interpreter (default python3). Fails on any error in installing.
set -euo pipefail

GRPCIO_VERSION=1.85.4
PROTOBUF_PY_VERSION=7.36.2

PYTHON=${PYTHON:-python3}
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
packages=("grpcio==${GRPCIO_VERSION}" "grpcio-tools==${GRPCIO_VERSION}" "protobuf==${PROTOBUF_PY_VERSION}")
pip_args=(install --quiet --no-warn-script-location)

log() { echo "python-env: $*" >&2; }

# pip's own output goes to stderr too: stdout carries only the interpreter's path.
install() {
  local python=$1
  shift
  log "installing grpcio ${GRPCIO_VERSION}, grpcio-tools ${GRPCIO_VERSION} for $python ($("$python" --version 2>&1))"
  "$python" -m pip "${pip_args[@]}" "$@" "${packages[@]}" >&2
  command -v "$python"
}

if [ -n "${VIRTUAL_ENV:-}" ]; then
  install "$VIRTUAL_ENV/bin/python"
  exit 0
fi

venv=${WEIR_VENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weir/python-grpc-${GRPCIO_VERSION}}
case $venv in /*) ;; *) venv=$PWD/$venv ;; esac
# A venv left broken (its base Python upgraded or removed, or half made) is made again.
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  if ! "$PYTHON" -m venv "$venv" >&2 || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    log "$PYTHON -m venv is unavailable; installing with pip --user"
    user_args=(--user)
    stdlib=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
    if [ -e "$stdlib/EXTERNALLY-MANAGED" ]; then user_args+=(--break-system-packages); fi
    install "$PYTHON" "${user_args[@]}"
    exit 0
  fi
fi
install "$venv/bin/python"

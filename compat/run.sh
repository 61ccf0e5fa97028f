#!/usr/bin/env bash
# Tessera compatibility suite: drives a tessera binary with the pinned, unmodified official
# Alibaba Cloud SDKs (Python: compat/python, Node: compat/node).
#
#   TESSERA_BIN=/path/to/tessera compat/run.sh
#
# Env:
#   TESSERA_BIN           (required) the built tessera binary
#   TESSERA_COMPAT_VENV   Python venv to create/reuse (default ~/.cache/tessera-compat/venv)
#   TESSERA_COMPAT_ONLY   "python" or "node" to run one half only (default: both)
#   PYTHON                interpreter used to create the venv (default: python3.11, else python3)
#   PYTEST_ARGS           extra arguments for pytest (e.g. "-k identity -x")
# Needs only python3 (>= 3.9, with venv or pip) and node >= 20 + npm; everything else is
# installed from PyPI / npm. Never contacts anything but 127.0.0.1 at test time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() { echo "compat/run.sh: $*" >&2; exit 2; }

[ -n "${TESSERA_BIN:-}" ] || die "TESSERA_BIN is not set (path to the built tessera binary)"
[ -f "$TESSERA_BIN" ] && [ -x "$TESSERA_BIN" ] || die "TESSERA_BIN=$TESSERA_BIN is not an executable file"
TESSERA_BIN="$(cd "$(dirname "$TESSERA_BIN")" && pwd)/$(basename "$TESSERA_BIN")"
export TESSERA_BIN
export ALIBABA_CLOUD_ECS_METADATA_DISABLED=true
export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
only="${TESSERA_COMPAT_ONLY:-}"
case "$only" in ""|python|node) ;; *) die "TESSERA_COMPAT_ONLY must be python or node";; esac

# ---------------------------------------------------------------------------- Python setup
setup_python() {
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then
    if command -v python3.11 >/dev/null 2>&1; then py=python3.11; else py=python3; fi
  fi
  command -v "$py" >/dev/null 2>&1 || die "no $py on PATH"
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
    || die "$py is older than 3.9"

  venv="${TESSERA_COMPAT_VENV:-$HOME/.cache/tessera-compat/venv}"
  # Reuse the venv only if its interpreter runs and has pip.
  if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "compat: creating venv at $venv" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! "$py" -m venv "$venv" >/dev/null 2>&1 || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
      # e.g. Debian without python3-venv/ensurepip: bootstrap virtualenv from PyPI instead.
      echo "compat: 'python -m venv' unavailable, using virtualenv" >&2
      rm -rf "$venv"
      local vtmp
      vtmp="$(mktemp -d)"
      "$py" -m pip install -q --target "$vtmp" virtualenv \
        || die "cannot create a venv: install python3-venv or pip"
      PYTHONPATH="$vtmp" "$py" -m virtualenv -q "$venv" || die "virtualenv failed"
      rm -rf "$vtmp"
    fi
  fi
  echo "compat: pip install -r compat/python/requirements.txt" >&2
  "$venv/bin/python" -m pip install -q -r "$here/python/requirements.txt"
}

# ---------------------------------------------------------------------------- Node setup
setup_node() {
  command -v node >/dev/null 2>&1 || die "node is not on PATH"
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
    || die "node >= 20 required (found $(node --version))"
  echo "compat: npm ci (compat/node)" >&2
  # --ignore-scripts: the only install script in the tree (@alicloud/openapi-core postinstall)
  # is a no-op on node >= 14 anyway.
  (cd "$here/node" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
}

[ "$only" = node ] || setup_python
[ "$only" = python ] || setup_node

# ---------------------------------------------------------------------------- run
py_rc=0
node_rc=0
if [ "$only" != node ]; then
  echo "compat: pytest (compat/python)" >&2
  # shellcheck disable=SC2086
  (cd "$here/python" && "$venv/bin/python" -m pytest -q ${PYTEST_ARGS:-}) || py_rc=$?
fi
if [ "$only" != python ]; then
  echo "compat: node --test (compat/node)" >&2
  (cd "$here/node" && node --test test/) || node_rc=$?
fi

echo "compat: python exit=$py_rc node exit=$node_rc" >&2
if [ "$py_rc" -ne 0 ] || [ "$node_rc" -ne 0 ]; then
  exit 1
fi

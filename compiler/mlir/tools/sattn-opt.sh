#!/bin/sh
# The sattn-opt launcher: `make setup` installs it as build/mlir/tools/sattn-opt/sattn-opt.
# It finds its checkout relative to itself (four directories up, through symlinks), so a moved
# or copied checkout runs its own sattn, with its own .venv's python; no path is written in.
self=$(readlink -f -- "$0" 2>/dev/null) || self=$0
root=$(cd -- "$(dirname -- "$self")/../../../.." 2>/dev/null && pwd -P) || {
  echo "sattn-opt: error: cannot find the checkout of $0" >&2
  exit 1
}
py="$root/.venv/bin/python"
if [ ! -x "$py" ]; then
  echo "sattn-opt: error: $py is missing; run \`make setup\` in $root" >&2
  exit 1
fi
# the checkout's own package first, whatever the venv's editable install points at
PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m sattn.tools.opt "$@"

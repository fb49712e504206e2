#!/usr/bin/env bash
# Distributed testing with torchrun: bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [...]
# Nodes and interpreter: tools/dist_launch.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash $0 CONFIG CHECKPOINT NUM_PROCS [test.py args]" >&2
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$HERE/dist_launch.sh" "$HERE/test.py" "$3" "$1" "$2" --launcher pytorch "${@:4}"

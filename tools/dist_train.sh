#!/usr/bin/env bash
# Distributed training with torchrun: bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args]
# Uses NCCL when CUDA is available, gloo otherwise; nodes and interpreter: tools/dist_launch.sh.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash $0 CONFIG NUM_PROCS [train.py args]" >&2
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$HERE/dist_launch.sh" "$HERE/train.py" "$2" "$1" --launcher pytorch "${@:3}"

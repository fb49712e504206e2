#!/usr/bin/env bash
# torchrun for this project's tools: bash tools/dist_launch.sh SCRIPT NUM_PROCS [SCRIPT args]
# (dist_train.sh and dist_test.sh call it). Several nodes: NNODES=2 NODE_RANK=0|1
# MASTER_ADDR=host PORT=29500 on every node. Interpreter: $PYTHON if set, else the project's
# venv (${CLIP4STR_VENV:-<repo>/.venv}/bin/python) when it exists, else python3.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash $0 SCRIPT NUM_PROCS [SCRIPT args]" >&2
  exit 2
fi
SCRIPT=$1
NPROC=$2
shift 2
for pair in "NUM_PROCS=$NPROC" "NNODES=${NNODES:-1}"; do
  if ! [[ ${pair#*=} =~ ^[1-9][0-9]*$ ]]; then
    echo "error: ${pair%%=*} must be a positive whole number, got '${pair#*=}'" >&2
    exit 1
  fi
done
# train.py and test.py take the config first: a missing one is refused here in one line, not
# by every process and then by the launcher's traceback.
if [[ $(basename "$SCRIPT") =~ ^(train|test)\.py$ && $# -gt 0 ]]; then
  if [ -d "$1" ]; then echo "error: config $1 is a folder, not a config file" >&2; exit 1; fi
  if [ ! -f "$1" ]; then echo "error: config not found: $1" >&2; exit 1; fi
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIP4STR_VENV:-$ROOT/.venv}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$VENV/bin/python" ]; then PYTHON="$VENV/bin/python"; else PYTHON=python3; fi
fi
exec "$PYTHON" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
  --nproc_per_node="$NPROC" "$SCRIPT" "$@"

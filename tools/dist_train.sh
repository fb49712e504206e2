#!/usr/bin/env bash
# Distributed training with torchrun: bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args]
# Several nodes: NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host PORT=29500 on every node.
# Uses NCCL when CUDA is available, gloo otherwise.
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --master_port="$PORT" --nproc_per_node="$NPROC" \
  "$HERE/train.py" "$CONFIG" --launcher pytorch "${@:3}"

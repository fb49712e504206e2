#!/usr/bin/env bash
# Training on a Slurm cluster, as MMOCR's slurm_train.sh:
#   [GPUS=16] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] \
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# srun and the interpreter: tools/slurm_launch.sh.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]" >&2
  exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$HERE/slurm_launch.sh" "$HERE/train.py" "$1" "$2" "$3" --work-dir "$4" --launcher slurm \
  "${@:5}"

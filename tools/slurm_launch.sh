#!/usr/bin/env bash
# One srun for this project's tools, as MMOCR's slurm scripts do (slurm_train.sh and
# slurm_test.sh call it): bash tools/slurm_launch.sh SCRIPT PARTITION JOB_NAME [SCRIPT args]
# Environment: GPUS (total tasks, 8), GPUS_PER_NODE (min(GPUS, 8)), CPUS_PER_TASK (5),
# SRUN_ARGS (extra srun options, split on spaces). One task per GPU. Interpreter: $PYTHON if set, else the project's venv
# (${CLIP4STR_VENV:-<repo>/.venv}/bin/python) when it exists, else python3.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash $0 SCRIPT PARTITION JOB_NAME [SCRIPT args]" >&2
  exit 2
fi
SCRIPT=$1
PARTITION=$2
JOB_NAME=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
for pair in "GPUS=$GPUS" "GPUS_PER_NODE=$GPUS_PER_NODE" "CPUS_PER_TASK=$CPUS_PER_TASK"; do
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
read -r -a EXTRA <<< "${SRUN_ARGS:-}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIP4STR_VENV:-$ROOT/.venv}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$VENV/bin/python" ]; then PYTHON="$VENV/bin/python"; else PYTHON=python3; fi
fi
exec srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 ${EXTRA[@]+"${EXTRA[@]}"} \
  "$PYTHON" -u "$SCRIPT" "$@"

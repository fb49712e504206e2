#!/usr/bin/env bash
# README command 1: install if needed, then the main job on the embedded synthetic default.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
START=$(date +%s)
bash "$ROOT/tools/install.sh"
cd "$ROOT"
"${CLIP4STR_VENV:-$ROOT/.venv}/bin/python" tools/main_job.py "$@"
echo "wall time including the install check: $(( ($(date +%s) - START) / 60 )) min $(( ($(date +%s) - START) % 60 )) s"
